//! What robots ask: the keys allowed in right now, and the `authorized-keys` helper sshd runs.

use std::process::ExitCode;

use clap::Args;
use rocket::{routes, Route};

/// Routes of this module.
pub fn routes() -> Vec<Route> {
    routes![]
}

/// Flags of `labgate authorized-keys`.
#[derive(Args)]
pub struct HelperArgs {
    /// labgate's URL.
    #[arg(long)]
    pub url: String,
}

/// Runs the helper; prints nothing and fails on any error.
pub fn run_helper(_args: HelperArgs) -> ExitCode {
    ExitCode::FAILURE
}
