//! labgate's integration tests: one binary, each test on its own temporary data directory.

mod assets;
mod browser;
mod cli;
mod common;
mod foundation;
mod keys;
mod lab;
mod rerobots;
mod robot;
mod sshd;
mod tokens;
mod upgrade;
