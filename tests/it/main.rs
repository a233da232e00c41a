//! labgate's integration tests: one binary, each test on its own temporary data directory.

mod assets;
mod bookings;
mod browser;
mod burst;
mod cli;
mod common;
mod console;
mod container;
mod crash;
mod foundation;
mod groups;
mod hardening;
mod keys;
mod lab;
mod oversight;
mod props;
mod rerobots;
mod robot;
mod sshd;
mod text;
mod tokens;
mod upgrade;
