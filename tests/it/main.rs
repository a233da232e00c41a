//! labgate's integration tests: one binary, each test on its own temporary data directory.

mod cli;
mod common;
mod foundation;
mod lab;
mod rerobots;
