//! Instances: one user's time-boxed booking of one robot, with the keys allowed to log in.
//!
//! A booking runs over `[starts, expires)`: it is upcoming before its start and active while
//! `status <> 'TERMINATED' AND starts <= now < expires`; robots ask with exactly that
//! condition, so a future booking starts on its own. Expired rows are ended by [`sweep_expired`] (every few seconds and
//! before each booking), and every read treats them as ended already.
//!
//! `private_key` holds a generated key pair's private half (OpenSSH format) until it is handed
//! out once: NULL means no pair was generated, the empty string that it was handed out (or
//! discarded when the instance ended).

mod book;
mod end;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::deployments::{self, Deployment};
use crate::auth::User;
use crate::db::now;
use crate::error::AppError;

pub use book::{
    attach_generated, book, candidates, check_duration, describe_seconds, matching, max_seconds,
    precheck, release_claim, BookError, Booking, KeyChoice,
};
pub(crate) use book::{insert_booking, is_constraint, resolve_keys};
pub use end::{
    change_end, end, end_on_disabled_robot, scrub_wal, sweep_expired, take_private_key, terminate,
};

/// Status of an instance that is up.
pub const READY: &str = "READY";
/// Status shown for a booking that has not started yet (what rerobots calls an instance that
/// is not ready yet).
pub const UPCOMING: &str = "INIT";
/// Status of an instance that has ended.
pub const TERMINATED: &str = "TERMINATED";
/// Settings key of the admin-set longest booking, in seconds.
pub const MAX_SECONDS_KEY: &str = "instance_max_seconds";
/// Longest booking when the admin has set none.
pub const DEFAULT_MAX_SECONDS: i64 = 86400;
/// Booking length when none is asked for.
pub const DEFAULT_SECONDS: i64 = 3600;
/// Shortest booking.
pub const MIN_SECONDS: i64 = 60;
/// What the rerobots client recognises as "every matching robot is taken".
pub const BUSY: &str = "All matching workspace deployments are busy. Try again later.";

/// Whether a generated private key can still be downloaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// No key pair was generated for this instance.
    None,
    /// Waiting for its one download.
    Available,
    /// Handed out already (or discarded when the instance ended).
    Delivered,
}

/// A key allowed on an instance.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceKey {
    pub fingerprint: String,
    /// Name of the saved key it came from, if any.
    pub name: Option<String>,
}

/// An instance as its owner sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Instance {
    pub id: String,
    pub deployment: Deployment,
    /// `READY`, `INIT` before its start, or `TERMINATED` once ended (an expired row reads as
    /// ended at once).
    pub status: String,
    /// Running now: its keys log in.
    pub active: bool,
    /// Booked, not started yet.
    pub upcoming: bool,
    /// Whether it was cancelled before it started.
    pub cancelled: bool,
    pub created: i64,
    pub starts: i64,
    pub expires: i64,
    pub ended: Option<i64>,
    pub key_state: KeyState,
    pub keys: Vec<InstanceKey>,
    pub ssh_command: String,
    /// Why an admin ended it, when one did.
    pub end_reason: Option<String>,
}

/// `SELECT` of the columns the row reader below expects, followed by the rest of a query.
macro_rules! select_instances {
    ($rest:literal) => {
        concat!(
            "SELECT id, deployment_id, status, created, expires, ended,
        CASE WHEN private_key IS NULL THEN 0 WHEN private_key = '' THEN 2 ELSE 1 END,
        end_reason, starts
    FROM instances ",
            $rest
        )
    };
}

struct Row {
    id: String,
    deployment_id: String,
    status: String,
    created: i64,
    expires: i64,
    ended: Option<i64>,
    key_state: i64,
    end_reason: Option<String>,
    starts: i64,
}

fn load(conn: &Connection, row: Row) -> Result<Instance, AppError> {
    let deployment = deployments::get(conn, &row.deployment_id)?;
    let t = now();
    let live = row.status != TERMINATED && row.expires > t;
    let upcoming = live && row.starts > t;
    let active = live && !upcoming;
    let cancelled = !live && row.ended.is_some_and(|e| e < row.starts);
    let (status, ended) = if upcoming {
        (UPCOMING.to_owned(), None)
    } else if active {
        (row.status, None)
    } else {
        (TERMINATED.to_owned(), row.ended.or(Some(row.expires)))
    };
    let key_state = match (row.key_state, live) {
        (0, _) => KeyState::None,
        (1, true) => KeyState::Available,
        _ => KeyState::Delivered,
    };
    let mut stmt = conn.prepare(
        "SELECT k.fingerprint, s.name FROM instance_keys k
         LEFT JOIN ssh_keys s ON s.id = k.ssh_key_id
         WHERE k.instance_id = ?1 ORDER BY s.name IS NULL, s.name, k.fingerprint",
    )?;
    let keys = stmt
        .query_map([&row.id], |r| {
            Ok(InstanceKey {
                fingerprint: r.get(0)?,
                name: r.get(1)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(Instance {
        id: row.id,
        ssh_command: deployment.ssh_command(),
        deployment,
        status,
        active,
        upcoming,
        cancelled,
        created: row.created,
        starts: row.starts,
        expires: row.expires,
        ended,
        key_state,
        keys,
        end_reason: row.end_reason,
    })
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        id: r.get(0)?,
        deployment_id: r.get(1)?,
        status: r.get(2)?,
        created: r.get(3)?,
        expires: r.get(4)?,
        ended: r.get(5)?,
        key_state: r.get(6)?,
        end_reason: r.get(7)?,
        starts: r.get(8)?,
    })
}

/// One of the user's instances; anyone else's or an unknown id is "instance not found".
pub fn get_for(conn: &Connection, user: &User, id: &str) -> Result<Instance, AppError> {
    let found = conn
        .query_row(
            select_instances!("WHERE id = ?1 AND user_id = ?2"),
            params![id, user.id],
            row,
        )
        .optional()?
        .ok_or_else(|| AppError::NotFound("instance not found".into()))?;
    load(conn, found)
}

/// The user's instances, newest first: the active ones, plus ended ones when asked.
pub fn list_for(
    conn: &Connection,
    user: &User,
    include_ended: bool,
) -> Result<Vec<Instance>, AppError> {
    let mut stmt = conn.prepare(select_instances!(
        "WHERE user_id = ?1
           AND (?2 OR (status <> 'TERMINATED' AND expires > ?3))
         ORDER BY starts DESC, created DESC, id"
    ))?;
    let rows = stmt
        .query_map(params![user.id, include_ended, now()], row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(|r| load(conn, r)).collect()
}

/// Any member's booking, for admins (who may cancel, shorten or extend it), with its owner.
pub fn get_any(conn: &Connection, id: &str) -> Result<(Instance, i64), AppError> {
    let owner: i64 = conn
        .query_row("SELECT user_id FROM instances WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?
        .ok_or_else(|| AppError::NotFound("instance not found".into()))?;
    let found = conn.query_row(select_instances!("WHERE id = ?1"), [id], row)?;
    Ok((load(conn, found)?, owner))
}

/// An instance running now, as admins' confirmations name it ("alice's instance on ur5e").
#[derive(Debug, Clone, Serialize)]
pub struct RunningNow {
    pub user_id: i64,
    pub username: String,
    pub deployment_id: String,
    pub kind: String,
}

/// Every instance running now, oldest first.
pub fn running_now(conn: &Connection) -> Result<Vec<RunningNow>, AppError> {
    let mut stmt = conn.prepare(
        "SELECT i.user_id, u.username, i.deployment_id, d.type
           FROM instances i JOIN users u ON u.id = i.user_id
           JOIN deployments d ON d.id = i.deployment_id
          WHERE i.status <> 'TERMINATED' AND i.starts <= ?1 AND i.expires > ?1
          ORDER BY i.starts, i.id",
    )?;
    let rows = stmt.query_map([now()], |r| {
        Ok(RunningNow {
            user_id: r.get(0)?,
            username: r.get(1)?,
            deployment_id: r.get(2)?,
            kind: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
