//! `labgate deployment ...`: robots from the shell.

use std::path::PathBuf;

use clap::Subcommand;

use super::deployments::{self, NewDeployment};
use crate::config::DataDir;
use crate::error::AppError;

/// `labgate deployment` subcommands.
#[derive(Subcommand)]
pub enum DeploymentCommand {
    /// Add a robot; prints its id and its credential (shown only now).
    Add {
        /// Workspace type, e.g. ur5e (1-64 of a-z 0-9 _ . -).
        #[arg(long = "type")]
        kind: String,
        /// Host name or address members SSH to.
        #[arg(long)]
        host: String,
        /// SSH port.
        #[arg(long, default_value_t = 22)]
        port: u32,
        /// Login user on the robot.
        #[arg(long, default_value = "root")]
        user: String,
        /// Region or room, shown to members.
        #[arg(long, default_value = "")]
        region: String,
        /// Free-text description.
        #[arg(long, default_value = "")]
        description: String,
        /// File with the robot's SSH host public keys (OpenSSH lines, e.g. ssh_host_ed25519_key.pub).
        #[arg(long)]
        hostkey_file: Option<PathBuf>,
        #[command(flatten)]
        data: DataDir,
    },
    /// List robots.
    List {
        #[command(flatten)]
        data: DataDir,
    },
    /// Stop a robot taking new instances; its key lookups are refused until it is enabled.
    Disable {
        /// The robot's id.
        id: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// Let a robot take instances again.
    Enable {
        /// The robot's id.
        id: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// Make a new credential for a robot; the old one stops working at once.
    RotateCredential {
        /// The robot's id.
        id: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// Let a user or the members of a group book a robot. Once a robot has a rule, only those
    /// its rules name may book it (and others do not see it).
    Allow {
        /// The robot's id.
        id: String,
        /// A user who may book it.
        #[arg(long, conflicts_with = "group", required_unless_present = "group")]
        user: Option<String>,
        /// A group whose members may book it.
        #[arg(long)]
        group: Option<String>,
        #[command(flatten)]
        data: DataDir,
    },
    /// Remove one of a robot's rules (see `deployment rules ID`).
    Disallow {
        /// The robot's id.
        id: String,
        /// The rule's number.
        rule_id: i64,
        #[command(flatten)]
        data: DataDir,
    },
    /// List a robot's access rules.
    Rules {
        /// The robot's id.
        id: String,
        #[command(flatten)]
        data: DataDir,
    },
}

/// Runs one `labgate deployment` subcommand.
pub fn run(cmd: DeploymentCommand) -> Result<(), AppError> {
    match cmd {
        DeploymentCommand::Add {
            kind,
            host,
            port,
            user,
            region,
            description,
            hostkey_file,
            data,
        } => {
            let hostkeys = match hostkey_file {
                Some(path) => std::fs::read_to_string(&path).map_err(|e| {
                    AppError::Invalid(format!("cannot read {}: {e}", path.display()))
                })?,
                None => String::new(),
            };
            let new = NewDeployment {
                kind,
                host,
                port: port.to_string(),
                user,
                region,
                description,
                hostkeys,
            };
            let checked = new
                .check()
                .map_err(|e| AppError::Invalid(format!("--{}: {e}", flag_of(e.field))))?;
            let db = data.open()?;
            let (id, credential) = db.write_blocking(|tx| deployments::insert(tx, &checked))?;
            println!("id: {id}");
            println!("credential: {credential}");
            if checked.hostkeys.is_empty() {
                eprintln!(
                    "warning: no host keys given (--hostkey-file): members cannot check the robot's \
                     identity, and the SSH helpers of rerobots' Instance need them; add them with \
                     Admin → Robots → edit"
                );
            }
        }
        DeploymentCommand::List { data } => {
            let db = data.open()?;
            let list = db.run_blocking(|conn| deployments::list(conn))?;
            println!(
                "{:<36} {:<16} {:<8} {:<5} {:<28} host keys",
                "id", "type", "state", "busy", "ssh"
            );
            for d in list {
                let state = if d.enabled { "enabled" } else { "disabled" };
                let busy = if d.busy { "yes" } else { "no" };
                let ssh = format!("{}@{}:{}", d.ssh_user, d.ssh_host, d.ssh_port);
                println!(
                    "{:<36} {:<16} {state:<8} {busy:<5} {ssh:<28} {}",
                    d.id,
                    d.kind,
                    d.hostkeys.len()
                );
            }
        }
        DeploymentCommand::Disable { id, data } => set_enabled(&id, &data, false)?,
        DeploymentCommand::Enable { id, data } => set_enabled(&id, &data, true)?,
        DeploymentCommand::RotateCredential { id, data } => {
            let db = data.open()?;
            let credential = db.write_blocking(|tx| deployments::rotate_credential(tx, &id))?;
            println!("credential: {credential}");
        }
        DeploymentCommand::Allow {
            id,
            user,
            group,
            data,
        } => super::groups::cli::allow(&id, user, group, &data)?,
        DeploymentCommand::Disallow { id, rule_id, data } => {
            super::groups::cli::disallow(&id, rule_id, &data)?
        }
        DeploymentCommand::Rules { id, data } => super::groups::cli::print_rules(&id, &data)?,
    }
    Ok(())
}

fn flag_of(field: &str) -> &str {
    match field {
        "hostkeys" => "hostkey-file",
        other => other,
    }
}

fn set_enabled(id: &str, data: &DataDir, enabled: bool) -> Result<(), AppError> {
    let db = data.open()?;
    let robot = db.write_blocking(|tx| deployments::set_enabled(tx, id, enabled))?;
    let word = if enabled { "enabled" } else { "disabled" };
    println!("robot {} ({}) is {word}", robot.id, robot.kind);
    Ok(())
}
