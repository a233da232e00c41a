//! `labgate token ...`: issuing tokens from the shell, beside a running server.

use std::io::IsTerminal;

use clap::Subcommand;

use super::jwt::SigningKey;
use super::{draft, issuer, record, Via, DEFAULT_DURATION};
use crate::auth::{users, User};
use crate::config::{default_public_url, Config, DataDir};
use crate::error::AppError;

/// `labgate token` subcommands.
#[derive(Subcommand)]
pub enum TokenCommand {
    /// Issue a token for a user and print it (only the token, on one line).
    Issue {
        /// The user the token acts as.
        name: String,
        /// Lifetime in seconds (at least 60; the admin's maximum applies).
        #[arg(long, default_value_t = DEFAULT_DURATION)]
        duration: i64,
        /// `rw` (read and write) or `ro` (read only).
        #[arg(long, default_value = "rw")]
        scope: String,
        /// A note to recognise the token by (at most 100 characters).
        #[arg(long, default_value = "")]
        note: String,
        /// The server's public URL. Tokens name the issuer recorded at the server's first
        /// start; this is recorded as the issuer only when no server ever started here.
        #[arg(long, env = "LABGATE_PUBLIC_URL")]
        public_url: Option<String>,
        /// Longest token lifetime, in seconds, as the server is told with the same variable.
        #[arg(long, env = "LABGATE_TOKEN_MAX_SECONDS")]
        token_max_seconds: Option<i64>,
        #[command(flatten)]
        data: DataDir,
    },
}

/// Runs one `labgate token` subcommand.
pub fn run(cmd: TokenCommand) -> Result<(), AppError> {
    match cmd {
        TokenCommand::Issue {
            name,
            duration,
            scope,
            note,
            public_url,
            token_max_seconds,
            data,
        } => {
            let db = data.open()?;
            let key = SigningKey::load_or_create(&data.data.join("signing-key.pem"))
                .map_err(|e| AppError::internal(format!("signing key: {e}")))?;
            let (info, text, issuer) = db.write_blocking(|tx| {
                let account = users::require(tx, &name)?;
                if account.disabled {
                    return Err(AppError::Invalid(format!(
                        "the account {name} is disabled; enable it first (labgate user enable {name})"
                    )));
                }
                let mut config = Config::new(&data.data);
                config.token_max_seconds = token_max_seconds;
                let url = match public_url {
                    Some(url) => url.trim_end_matches('/').to_owned(),
                    None => default_public_url(config.address, config.port),
                };
                config.token_issuer = Some(issuer::establish(tx, &url)?);
                let user = User {
                    id: account.id,
                    username: account.username,
                    is_admin: account.is_admin,
                };
                let made = draft(&key, &config, &user, duration, &scope, &note)?;
                record(tx, &config, &user, &made, Via::CommandLine)?;
                Ok((made.info, made.text, config.token_issuer().to_owned()))
            })?;
            eprintln!(
                "API token for {name} ({}), valid until {}, for {issuer}",
                info.scope,
                crate::web::format_time(info.expires)
            );
            // A terminal gets a newline; a file or pipe gets exactly the token, like jwt.txt.
            if std::io::stdout().is_terminal() {
                println!("{text}");
            } else {
                print!("{text}");
            }
        }
    }
    Ok(())
}
