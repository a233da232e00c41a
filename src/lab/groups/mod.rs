//! Groups of members and the access rules that name users and groups on robots.
//!
//! This file holds the group queries; [`rules`] the rules and the one visibility check every
//! listing and booking path asks ([`rules::may_book`], [`rules::bookable`]); [`api`] the rerobots
//! rule routes; [`pages`] the Admin → Groups page and the rule forms of a robot's admin page;
//! [`cli`] `labgate group ...` and `labgate deployment allow|disallow|rules`.

pub mod api;
pub mod cli;
pub mod pages;
pub mod rules;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::auth::users;
use crate::db::now;
use crate::error::AppError;

/// A group with its members' names.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub id: i64,
    pub name: String,
    pub created: i64,
    /// `(user id, username)`, by name.
    pub members: Vec<(i64, String)>,
    /// How many robots have a rule naming this group.
    pub robots: i64,
}

/// Checks a group name: 1 to 64 of `a-z 0-9 _ . -`, starting with a letter or digit.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err("a group name is 1 to 64 lowercase letters, digits, '_', '.' or '-', starting with a letter or digit (for example vision-lab)".into())
    }
}

/// Creates a group; a taken name is a conflict.
pub fn create(conn: &Connection, name: &str) -> Result<i64, AppError> {
    check_name(name).map_err(AppError::Invalid)?;
    if find(conn, name)?.is_some() {
        return Err(AppError::Conflict(format!(
            "a group named {name} exists already"
        )));
    }
    conn.execute(
        "INSERT INTO groups (name, created) VALUES (?1, ?2)",
        params![name, now()],
    )?;
    Ok(conn.last_insert_rowid())
}

/// A group's id by name.
pub fn find(conn: &Connection, name: &str) -> Result<Option<i64>, AppError> {
    Ok(conn
        .query_row("SELECT id FROM groups WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?)
}

/// A group's id by name, or "no group named ...".
pub fn require(conn: &Connection, name: &str) -> Result<i64, AppError> {
    find(conn, name)?.ok_or_else(|| AppError::NotFound(format!("no group named {name}")))
}

/// One group by id.
pub fn get(conn: &Connection, id: i64) -> Result<Group, AppError> {
    list(conn)?
        .into_iter()
        .find(|g| g.id == id)
        .ok_or_else(|| AppError::NotFound("no such group".into()))
}

/// Every group with its members, by name.
pub fn list(conn: &Connection) -> Result<Vec<Group>, AppError> {
    let mut stmt = conn.prepare(
        "SELECT g.id, g.name, g.created,
                (SELECT COUNT(DISTINCT r.deployment_id) FROM rules r
                 JOIN deployments d ON d.id = r.deployment_id
                 WHERE r.group_id = g.id AND d.deleted IS NULL)
         FROM groups g ORDER BY g.name",
    )?;
    let mut groups = stmt
        .query_map([], |r| {
            Ok(Group {
                id: r.get(0)?,
                name: r.get(1)?,
                created: r.get(2)?,
                members: Vec::new(),
                robots: r.get(3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut stmt = conn.prepare(
        "SELECT m.group_id, u.id, u.username FROM group_members m
         JOIN users u ON u.id = m.user_id ORDER BY u.username",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?)))?;
    for row in rows {
        let (group_id, user_id, username) = row?;
        if let Some(g) = groups.iter_mut().find(|g| g.id == group_id) {
            g.members.push((user_id, username));
        }
    }
    Ok(groups)
}

/// Names of the groups a user belongs to, by name.
pub fn of_user(conn: &Connection, user_id: i64) -> Result<Vec<String>, AppError> {
    let mut stmt = conn.prepare(
        "SELECT g.name FROM group_members m JOIN groups g ON g.id = m.group_id
         WHERE m.user_id = ?1 ORDER BY g.name",
    )?;
    let rows = stmt.query_map([user_id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Adds a member (by username) to a group; `false` when they were in it already.
pub fn add_member(conn: &Connection, group_id: i64, username: &str) -> Result<bool, AppError> {
    let account = users::require(conn, username)?;
    if account.deleted.is_some() {
        return Err(AppError::Invalid(format!(
            "the account {username} has been deleted"
        )));
    }
    let added = conn.execute(
        "INSERT OR IGNORE INTO group_members (group_id, user_id, added) VALUES (?1, ?2, ?3)",
        params![group_id, account.id, now()],
    )?;
    Ok(added > 0)
}

/// Takes a member out of a group; `false` when they were not in it.
pub fn remove_member(conn: &Connection, group_id: i64, user_id: i64) -> Result<bool, AppError> {
    let removed = conn.execute(
        "DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2",
        params![group_id, user_id],
    )?;
    Ok(removed > 0)
}

/// Deletes a group, its memberships and the rules naming it. A robot whose only rules named
/// this group is then open to everyone again, so that is refused: the admin removes those
/// rules (or adds others) first.
pub fn delete(conn: &Connection, id: i64) -> Result<String, AppError> {
    let group = get(conn, id)?;
    let orphaned: Option<String> = conn
        .query_row(
            "SELECT r.deployment_id FROM rules r JOIN deployments d ON d.id = r.deployment_id
             WHERE r.group_id = ?1 AND d.deleted IS NULL
               AND NOT EXISTS (SELECT 1 FROM rules o WHERE o.deployment_id = r.deployment_id
                               AND o.id <> r.id)
             LIMIT 1",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(robot) = orphaned {
        return Err(AppError::Conflict(format!(
            "the group {} is the only rule on robot {robot}; deleting it would open that robot to everyone. Remove that rule first",
            group.name
        )));
    }
    conn.execute("DELETE FROM groups WHERE id = ?1", [id])?;
    Ok(group.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names() {
        for ok in ["vision", "course-101", "a.b_c", "x"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Vision", "-x", ".x", "a b", &"x".repeat(65), "ü"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
