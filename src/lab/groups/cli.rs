//! `labgate group ...` and the rule subcommands of `labgate deployment` (`allow`, `disallow`,
//! `rules`), safe beside a running server.

use clap::Subcommand;

use super::rules::{self, Subject};
use crate::auth::users;
use crate::config::DataDir;
use crate::error::AppError;
use crate::lab::deployments;

/// `labgate group` subcommands.
#[derive(Subcommand)]
pub enum GroupCommand {
    /// Create a group.
    Add {
        /// Group name (lowercase letters, digits, '_', '.' and '-').
        name: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// List groups and their members.
    List {
        #[command(flatten)]
        data: DataDir,
    },
    /// Add or remove members.
    #[command(subcommand)]
    Member(MemberCommand),
}

/// `labgate group member` subcommands.
#[derive(Subcommand)]
pub enum MemberCommand {
    /// Put a user in a group.
    Add {
        group: String,
        user: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// Take a user out of a group.
    Remove {
        group: String,
        user: String,
        #[command(flatten)]
        data: DataDir,
    },
}

/// Runs one `labgate group` subcommand.
pub fn run(cmd: GroupCommand) -> Result<(), AppError> {
    match cmd {
        GroupCommand::Add { name, data } => {
            super::check_name(&name).map_err(AppError::Invalid)?;
            let db = data.open()?;
            db.write_blocking(|tx| super::create(tx, &name))?;
            println!("created group {name}");
        }
        GroupCommand::List { data } => {
            let db = data.open()?;
            let groups = db.run_blocking(|conn| super::list(conn))?;
            println!("{:<32} {:<7} members", "group", "robots");
            for g in groups {
                let members: Vec<&str> = g.members.iter().map(|(_, n)| n.as_str()).collect();
                println!("{:<32} {:<7} {}", g.name, g.robots, members.join(" "));
            }
        }
        GroupCommand::Member(MemberCommand::Add { group, user, data }) => {
            let db = data.open()?;
            let added = db.write_blocking(|tx| {
                let id = super::require(tx, &group)?;
                let added = super::add_member(tx, id, &user)?;
                if added {
                    let account = users::require(tx, &user)?;
                    let detail = format!("to {group}, by the command line");
                    users::record_event(tx, account.id, "added to group", &detail, None)?;
                }
                Ok(added)
            })?;
            if added {
                println!("{user} is now in {group}");
            } else {
                println!("{user} was in {group} already");
            }
        }
        GroupCommand::Member(MemberCommand::Remove { group, user, data }) => {
            let db = data.open()?;
            db.write_blocking(|tx| {
                let id = super::require(tx, &group)?;
                let account = users::require(tx, &user)?;
                if !super::remove_member(tx, id, account.id)? {
                    return Err(AppError::NotFound(format!("{user} is not in {group}")));
                }
                let detail = format!("from {group}, by the command line");
                users::record_event(tx, account.id, "removed from group", &detail, None)
            })?;
            println!("{user} is no longer in {group}");
        }
    }
    Ok(())
}

/// `labgate deployment allow ID --user NAME | --group NAME`.
pub fn allow(
    id: &str,
    user: Option<String>,
    group: Option<String>,
    data: &DataDir,
) -> Result<(), AppError> {
    let subject = match (user, group) {
        (Some(u), None) => Subject::User(u),
        (None, Some(g)) => Subject::Group(g),
        _ => {
            return Err(AppError::Invalid(
                "give exactly one of --user NAME and --group NAME".into(),
            ))
        }
    };
    let db = data.open()?;
    let (rule_id, first) = db.write_blocking(|tx| {
        live_robot(tx, id)?;
        let first = rules::for_deployment(tx, id)?.is_empty();
        Ok((rules::add(tx, id, &subject)?, first))
    })?;
    println!("rule {rule_id}: {subject} may book robot {id}");
    if first {
        eprintln!("note: this is the robot's first rule, so from now on only the users and groups its rules name may book it");
    }
    Ok(())
}

/// `labgate deployment disallow ID RULE_ID`.
pub fn disallow(id: &str, rule_id: i64, data: &DataDir) -> Result<(), AppError> {
    let db = data.open()?;
    let (rule, left) = db.write_blocking(|tx| {
        live_robot(tx, id)?;
        let rule = rules::remove(tx, id, rule_id)?;
        Ok((rule, rules::for_deployment(tx, id)?.len()))
    })?;
    println!("rule {rule_id} removed: {} no longer named", rule.subject());
    if left == 0 {
        eprintln!("note: robot {id} has no rules left, so every member may book it again");
    }
    Ok(())
}

/// `labgate deployment rules ID`.
pub fn print_rules(id: &str, data: &DataDir) -> Result<(), AppError> {
    let db = data.open()?;
    let list = db.run_blocking(|conn| {
        live_robot(conn, id)?;
        rules::for_deployment(conn, id)
    })?;
    if list.is_empty() {
        println!("no rules: every member may book robot {id}");
        return Ok(());
    }
    println!("{:<8} {:<16} who", "rule", "cap");
    for r in list {
        println!("{:<8} {:<16} {}", r.id, rules::CAP_INSTANTIATE, r.subject());
    }
    Ok(())
}

fn live_robot(conn: &rusqlite::Connection, id: &str) -> Result<(), AppError> {
    match deployments::find(conn, id)? {
        Some(d) if !d.deleted => Ok(()),
        _ => Err(AppError::NotFound(format!("no robot with id {id}"))),
    }
}
