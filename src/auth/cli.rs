//! `labgate user ...`: account administration from the shell, safe beside a running server.

use std::io::BufRead;

use clap::{Args, Subcommand};

use super::users;
use crate::config::DataDir;
use crate::error::AppError;

/// `labgate user` subcommands.
#[derive(Subcommand)]
pub enum UserCommand {
    /// Create an account; prints a generated password unless --password-stdin is given.
    Add {
        /// Username (lowercase letters, digits, '_' and '-').
        name: String,
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
        #[command(flatten)]
        password: PasswordSource,
        #[command(flatten)]
        data: DataDir,
    },
    /// Set an account's password; ends its sessions.
    Passwd {
        name: String,
        #[command(flatten)]
        password: PasswordSource,
        #[command(flatten)]
        data: DataDir,
    },
    /// List accounts.
    List {
        #[command(flatten)]
        data: DataDir,
    },
    /// Disable an account: its sessions and tokens stop working at once.
    Disable {
        name: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// Enable an account again.
    Enable {
        name: String,
        #[command(flatten)]
        data: DataDir,
    },
}

/// Where a new password comes from.
#[derive(Args)]
pub struct PasswordSource {
    /// Read the password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
}

impl PasswordSource {
    /// The password to set, and whether it was generated (and so must be printed).
    fn resolve(&self) -> Result<(String, bool), AppError> {
        if !self.password_stdin {
            return Ok((users::generate_password(), true));
        }
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        users::check_password(&password).map_err(AppError::Invalid)?;
        Ok((password, false))
    }
}

/// Runs one `labgate user` subcommand.
pub fn run(cmd: UserCommand) -> Result<(), AppError> {
    match cmd {
        UserCommand::Add {
            name,
            admin,
            password,
            data,
        } => {
            users::check_username(&name).map_err(AppError::Invalid)?;
            let db = data.open()?;
            let (password, generated) = password.resolve()?;
            let hash = users::hash_password(&password)?;
            db.write_blocking(|tx| {
                let id = users::create(tx, &name, &hash, admin)?;
                users::require_change(tx, id)?;
                users::record_event(tx, id, "account created", "by the command line", None)
            })?;
            println!("created user {name}{}", if admin { " (admin)" } else { "" });
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::Passwd {
            name,
            password,
            data,
        } => {
            let db = data.open()?;
            let (password, generated) = password.resolve()?;
            let hash = users::hash_password(&password)?;
            let config = crate::Config::new(&data.data);
            db.write_blocking(|tx| {
                let account = users::require(tx, &name)?;
                users::set_password(tx, account.id, &hash, true)?;
                users::record_event(
                    tx,
                    account.id,
                    "password changed",
                    "by the command line",
                    None,
                )?;
                super::routes::forget_initial_password(tx, &config, account.id)
            })?;
            println!("password of {name} changed; its sessions were ended");
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::List { data } => {
            let db = data.open()?;
            let list = db.run_blocking(|conn| users::list(conn))?;
            println!("{:<32} {:<6} {:<9} created", "username", "role", "state");
            for a in list {
                let role = if a.is_admin { "admin" } else { "member" };
                let state = match (a.deleted, a.disabled) {
                    (Some(_), _) => "deleted",
                    (None, true) => "disabled",
                    (None, false) => "active",
                };
                let created = crate::web::format_time(a.created);
                println!("{:<32} {role:<6} {state:<9} {created}", a.username);
            }
        }
        UserCommand::Disable { name, data } => set_disabled(&name, &data, true)?,
        UserCommand::Enable { name, data } => set_disabled(&name, &data, false)?,
    }
    Ok(())
}

fn set_disabled(name: &str, data: &DataDir, disabled: bool) -> Result<(), AppError> {
    let db = data.open()?;
    let kind = if disabled {
        "account disabled"
    } else {
        "account enabled"
    };
    db.write_blocking(|tx| {
        let account = users::require(tx, name)?;
        users::set_disabled(tx, account.id, disabled)?;
        users::record_event(tx, account.id, kind, "by the command line", None)
    })?;
    println!(
        "{name} is {}",
        if disabled { "disabled" } else { "enabled" }
    );
    Ok(())
}
