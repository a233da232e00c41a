//! `labgate authorized-keys`: the program a robot's sshd runs as its `AuthorizedKeysCommand`.

use std::process::ExitCode;

use clap::Args;

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
