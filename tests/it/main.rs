//! labgate's integration tests: one binary, each test on its own temporary data directory.

mod assets;
mod bookings;
mod browser;
mod cli;
mod common;
mod console;
mod container;
mod foundation;
mod groups;
mod keys;
mod lab;
mod oversight;
mod rerobots;
mod robot;
mod sshd;
mod tokens;
mod upgrade;
