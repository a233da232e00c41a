//! `labgate deployment ...`: robots from the shell.

use clap::Subcommand;

use crate::config::DataDir;
use crate::error::AppError;

/// `labgate deployment` subcommands.
#[derive(Subcommand)]
pub enum DeploymentCommand {
    /// List robots.
    List {
        #[command(flatten)]
        data: DataDir,
    },
}

/// Runs one `labgate deployment` subcommand.
pub fn run(cmd: DeploymentCommand) -> Result<(), AppError> {
    match cmd {
        DeploymentCommand::List { .. } => Err(AppError::internal("deployments are not built yet")),
    }
}
