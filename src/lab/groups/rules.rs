//! Access rules (rerobots `CAP_INSTANTIATE`) and the one question every listing and booking
//! path asks: may this person book this robot?
//!
//! A robot without rules is open to every member. Once it has a rule, only the users it names
//! and the members of the groups it names may book it; everyone else is told it does not exist.
//! Admins may book every robot (they manage them all anyway).

use std::collections::HashSet;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use serde_json::{json, Value};

use super::super::deployments::Deployment;
use crate::auth::{users, User};
use crate::db::now;
use crate::error::AppError;

/// The one capability labgate's rules grant.
pub const CAP_INSTANTIATE: &str = "CAP_INSTANTIATE";

/// Whom a rule names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    User(String),
    Group(String),
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::User(name) => write!(f, "user {name}"),
            Subject::Group(name) => write!(f, "group {name}"),
        }
    }
}

/// One rule as stored, with the names it refers to.
#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    pub id: i64,
    pub deployment_id: String,
    pub user: Option<String>,
    pub group: Option<String>,
    pub created: i64,
}

impl Rule {
    /// The rule as the rerobots API writes it (`id`, `cap`, `user`; labgate's `group` instead of
    /// `user` for a group), with upstream's other fields for clients that read them.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "cap": CAP_INSTANTIATE,
            "capability": CAP_INSTANTIATE,
            "wdeployment_id": self.deployment_id,
            "date_created": super::super::api::api_time(self.created),
            "param": null,
        });
        if let Value::Object(map) = &mut v {
            match (&self.user, &self.group) {
                (Some(u), _) => map.insert("user".into(), json!(u)),
                (None, Some(g)) => map.insert("group".into(), json!(g)),
                (None, None) => None,
            };
        }
        v
    }

    /// "user mia" or "group vision".
    pub fn subject(&self) -> String {
        match (&self.user, &self.group) {
            (Some(u), _) => format!("user {u}"),
            (None, Some(g)) => format!("group {g}"),
            (None, None) => "nobody".into(),
        }
    }
}

/// `SELECT` of the columns [`from_row`] reads, then the rest of the query.
macro_rules! select_rules {
    ($rest:literal) => {
        concat!(
            "SELECT r.id, r.deployment_id, u.username, g.name, r.created FROM rules r
             LEFT JOIN users u ON u.id = r.user_id
             LEFT JOIN groups g ON g.id = r.group_id ",
            $rest
        )
    };
}

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Rule> {
    Ok(Rule {
        id: r.get(0)?,
        deployment_id: r.get(1)?,
        user: r.get(2)?,
        group: r.get(3)?,
        created: r.get(4)?,
    })
}

/// The rules of one robot, oldest first.
pub fn for_deployment(conn: &Connection, deployment_id: &str) -> Result<Vec<Rule>, AppError> {
    let mut stmt = conn.prepare(select_rules!("WHERE r.deployment_id = ?1 ORDER BY r.id"))?;
    let rows = stmt.query_map([deployment_id], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every rule on a robot that is not deleted, by robot then age.
pub fn all(conn: &Connection) -> Result<Vec<Rule>, AppError> {
    let mut stmt = conn.prepare(select_rules!(
        "JOIN deployments d ON d.id = r.deployment_id WHERE d.deleted IS NULL
         ORDER BY r.deployment_id, r.id"
    ))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Adds a rule letting `subject` book a robot; returns its id. The same rule twice gives the
/// existing one's id (so scripts may repeat themselves).
pub fn add(conn: &Connection, deployment_id: &str, subject: &Subject) -> Result<i64, AppError> {
    let (user_id, group_id): (Option<i64>, Option<i64>) = match subject {
        Subject::User(name) => {
            let account = users::find(conn, name)?
                .filter(|a| a.deleted.is_none())
                .ok_or_else(|| AppError::Invalid(format!("there is no user named {name}")))?;
            (Some(account.id), None)
        }
        Subject::Group(name) => {
            let id = super::find(conn, name)?.ok_or_else(|| {
                AppError::Invalid(format!(
                    "there is no group named {name}; create it first (Admin → Groups)"
                ))
            })?;
            (None, Some(id))
        }
    };
    let existing: Option<i64> = conn
        .query_row(
            "SELECT id FROM rules WHERE deployment_id = ?1
               AND user_id IS ?2 AND group_id IS ?3",
            params![deployment_id, user_id, group_id],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = existing {
        return Ok(id);
    }
    conn.execute(
        "INSERT INTO rules (deployment_id, user_id, group_id, created) VALUES (?1, ?2, ?3, ?4)",
        params![deployment_id, user_id, group_id, now()],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Removes one rule of a robot; returns it. A rule of another robot is "not found".
pub fn remove(conn: &Connection, deployment_id: &str, rule_id: i64) -> Result<Rule, AppError> {
    let rule = conn
        .query_row(
            select_rules!("WHERE r.id = ?1 AND r.deployment_id = ?2"),
            params![rule_id, deployment_id],
            from_row,
        )
        .optional()?
        .ok_or_else(|| AppError::NotFound(format!("no rule {rule_id} on this robot")))?;
    conn.execute("DELETE FROM rules WHERE id = ?1", [rule_id])?;
    Ok(rule)
}

/// The robots `user` may book, among all (deleted ones included), as a set of ids: those
/// without rules, and those whose rules name the user or one of their groups. The one SQL
/// statement behind every listing.
pub fn bookable(conn: &Connection, user: &User) -> Result<HashSet<String>, AppError> {
    let mut stmt = conn.prepare(
        "SELECT d.id FROM deployments d
         WHERE ?2
            OR NOT EXISTS (SELECT 1 FROM rules r WHERE r.deployment_id = d.id)
            OR EXISTS (SELECT 1 FROM rules r WHERE r.deployment_id = d.id
                       AND (r.user_id = ?1 OR r.group_id IN
                            (SELECT group_id FROM group_members WHERE user_id = ?1)))",
    )?;
    let rows = stmt.query_map(params![user.id, user.is_admin], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Whether `user` may book (and so see) the robot `deployment_id`.
pub fn may_book(conn: &Connection, user: &User, deployment_id: &str) -> Result<bool, AppError> {
    Ok(bookable(conn, user)?.contains(deployment_id))
}

/// Whether the rules let the account `user_id` book `deployment_id` (admins always may), for
/// callers holding only an id, such as a reservation waiting in line.
pub fn permits(conn: &Connection, user_id: i64, deployment_id: &str) -> Result<bool, AppError> {
    Ok(conn.query_row(
        "SELECT u.is_admin
            OR NOT EXISTS (SELECT 1 FROM rules r WHERE r.deployment_id = ?2)
            OR EXISTS (SELECT 1 FROM rules r WHERE r.deployment_id = ?2
                       AND (r.user_id = ?1 OR r.group_id IN
                            (SELECT group_id FROM group_members WHERE user_id = ?1)))
         FROM users u WHERE u.id = ?1",
        params![user_id, deployment_id],
        |r| r.get(0),
    )?)
}

/// Keeps the robots of `list` that `user` may book.
pub fn visible(
    conn: &Connection,
    user: &User,
    list: Vec<Deployment>,
) -> Result<Vec<Deployment>, AppError> {
    let ok = bookable(conn, user)?;
    Ok(list.into_iter().filter(|d| ok.contains(&d.id)).collect())
}
