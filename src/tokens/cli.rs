//! `labgate token ...`: issuing tokens from the shell.

use clap::Subcommand;

use crate::config::DataDir;
use crate::error::AppError;

/// `labgate token` subcommands.
#[derive(Subcommand)]
pub enum TokenCommand {
    /// Issue a token for a user and print it.
    Issue {
        /// The user the token acts as.
        name: String,
        #[command(flatten)]
        data: DataDir,
    },
}

/// Runs one `labgate token` subcommand.
pub fn run(cmd: TokenCommand) -> Result<(), AppError> {
    match cmd {
        TokenCommand::Issue { .. } => Err(AppError::internal("token issue is not built yet")),
    }
}
