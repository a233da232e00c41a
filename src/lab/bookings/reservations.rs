//! Waiting in line (rerobots "reservations"): when every robot a member asks for is busy, the
//! request waits with the keys chosen for it, and the oldest waiting request becomes an
//! instance as soon as a matching robot is free for its whole length ([`serve`], run whenever
//! a robot may have freed up and by the periodic sweep). A member waits at most once per robot
//! or type (unique index `reservations_one_waiting`), and a reservation lapses after the
//! admin-set time.
//!
//! A generated key pair's private half waits in the reservation row and moves to the instance,
//! to be downloaded once as for any instance; a cancelled or lapsed reservation forgets it.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::Limits;
use crate::auth::{users, User};
use crate::db::now;
use crate::error::AppError;
use crate::keys::parse::ParsedKey;
use crate::lab::deployments::Deployment;
use crate::lab::instances::{
    candidates, check_duration, describe_seconds, insert_booking, is_constraint, matching,
    max_seconds, resolve_keys, BookError, KeyChoice,
};

/// Status of a reservation still in line.
pub const WAITING: &str = "WAITING";

/// A reservation as its owner sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Reservation {
    pub id: String,
    /// The robot id or type asked for.
    pub target: String,
    /// `type ur5e` or `deployment <id>`, as rerobots describes a reservation.
    pub desc: String,
    pub seconds: i64,
    /// `WAITING`, `FULFILLED`, `CANCELLED` or `EXPIRED`.
    pub status: String,
    pub created: i64,
    pub expires: i64,
    pub ended: Option<i64>,
    /// The instance it became, once fulfilled.
    pub instance_id: Option<String>,
    /// Its place in line among reservations that could take the same robots (1 = next).
    pub position: i64,
}

/// What a member asks to wait for.
#[derive(Debug, Clone)]
pub struct Request {
    pub target: String,
    pub seconds: i64,
    pub keys: Vec<KeyChoice>,
    /// A generated pair: its public half, and its private half kept for one download.
    pub generated: Option<(ParsedKey, String)>,
    /// "the web console" or "the API", for the security log.
    pub via: &'static str,
}

fn describe(conn: &Connection, target: &str) -> Result<String, AppError> {
    let is_robot: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM deployments WHERE id = ?1)",
        [target],
        |r| r.get(0),
    )?;
    Ok(if is_robot {
        format!("deployment {target}")
    } else {
        format!("type {target}")
    })
}

fn already_waiting(conn: &Connection, user: &User, target: &str) -> Result<bool, AppError> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM reservations WHERE user_id = ?1 AND target = ?2
            AND status = 'WAITING')",
        params![user.id, target],
        |r| r.get(0),
    )?)
}

fn waiting_message(target: &str) -> String {
    format!("you are already waiting in line for {target}; cancel that reservation first")
}

/// Whether a reservation for `target` would be accepted: the target names robots the member
/// may book, the length is allowed, and the member is not already waiting for it. Run before a
/// key pair is generated for it.
pub fn precheck(
    conn: &Connection,
    user: &User,
    target: &str,
    seconds: i64,
) -> Result<(), BookError> {
    check_duration(seconds, max_seconds(conn)?).map_err(BookError::Invalid)?;
    if matching(conn, user.id, target)?.is_empty() {
        return Err(BookError::NoMatch(format!(
            "no robot or type {target:?} is available here"
        )));
    }
    if already_waiting(conn, user, target)? {
        return Err(BookError::Invalid(waiting_message(target)));
    }
    Ok(())
}

/// Puts `user` in line for `request.target`; returns the reservation's id. Serves the line at
/// once, so a robot that freed up meanwhile is taken straight away.
pub fn create(
    tx: &Transaction<'_>,
    user: &User,
    request: &Request,
    address: Option<&str>,
) -> Result<String, BookError> {
    precheck(tx, user, &request.target, request.seconds)?;
    let mut keys = resolve_keys(tx, user, &request.keys)?;
    if let Some((public, _)) = &request.generated {
        keys.push((public.canonical.clone(), public.fingerprint.clone(), None));
    }
    if keys.is_empty() {
        return Err(BookError::Invalid(
            "choose at least one key that may log in: a saved key, a pasted public key or a new key pair".into(),
        ));
    }
    let limits = Limits::load(tx)?;
    let id = uuid::Uuid::new_v4().to_string();
    let t = now();
    let inserted = tx.execute(
        "INSERT INTO reservations (id, user_id, target, seconds, status, created, expires,
                                   private_key, via)
         VALUES (?1, ?2, ?3, ?4, 'WAITING', ?5, ?6, ?7, ?8)",
        params![
            id,
            user.id,
            request.target,
            request.seconds,
            t,
            t + limits.reservation,
            request
                .generated
                .as_ref()
                .map(|(_, private)| private.as_str()),
            request.via
        ],
    );
    match inserted {
        Err(e) if is_constraint(&e) => {
            return Err(BookError::Invalid(waiting_message(&request.target)))
        }
        other => other?,
    };
    for (public_key, fingerprint, ssh_key_id) in &keys {
        tx.execute(
            "INSERT OR IGNORE INTO reservation_keys (reservation_id, public_key, fingerprint,
                                                     ssh_key_id)
             VALUES (?1, ?2, ?3, ?4)",
            params![id, public_key, fingerprint, ssh_key_id],
        )?;
    }
    let detail = format!(
        "{} for {}, from {}, until {} at the latest",
        describe(tx, &request.target)?,
        describe_seconds(request.seconds),
        request.via,
        crate::web::format_time(t + limits.reservation)
    );
    users::record_event(tx, user.id, "reservation made", &detail, address)?;
    serve(tx)?;
    Ok(id)
}

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Reservation, i64)> {
    Ok((
        Reservation {
            id: r.get(0)?,
            target: r.get(1)?,
            desc: String::new(),
            seconds: r.get(2)?,
            status: r.get(3)?,
            created: r.get(4)?,
            expires: r.get(5)?,
            ended: r.get(6)?,
            instance_id: r.get(7)?,
            position: 0,
        },
        r.get(8)?,
    ))
}

/// The user's reservations, newest first: those waiting, plus ended ones when asked.
pub fn list_for(
    conn: &Connection,
    user: &User,
    include_ended: bool,
) -> Result<Vec<Reservation>, AppError> {
    let mut stmt = conn.prepare(
        "SELECT id, target, seconds, status, created, expires, ended, instance_id, user_id
         FROM reservations WHERE user_id = ?1 AND (?2 OR (status = 'WAITING' AND expires > ?3))
         ORDER BY created DESC, id",
    )?;
    let rows = stmt
        .query_map(params![user.id, include_ended, now()], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::new();
    for (mut r, _) in rows {
        r.desc = describe(conn, &r.target)?;
        if r.status == WAITING {
            r.position = position(conn, &r)?;
        }
        out.push(r);
    }
    Ok(out)
}

/// How many waiting reservations, this one included, were made before or with it for the same
/// target.
fn position(conn: &Connection, r: &Reservation) -> Result<i64, AppError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM reservations WHERE status = 'WAITING' AND target = ?1
            AND (created < ?2 OR (created = ?2 AND id <= ?3))",
        params![r.target, r.created, r.id],
        |row| row.get(0),
    )?)
}

/// How many members wait for `robot` (for it by id, or for its type).
pub fn waiting_for(conn: &Connection, robot: &Deployment) -> Result<i64, AppError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM reservations WHERE status = 'WAITING' AND expires > ?3
            AND (target = ?1 OR target = ?2)",
        params![robot.id, robot.kind, now()],
        |r| r.get(0),
    )?)
}

/// Takes one of the user's reservations out of line. Not found when it is not theirs; false
/// when it was no longer waiting.
pub fn cancel(
    conn: &Connection,
    user: &User,
    id: &str,
    address: Option<&str>,
) -> Result<bool, AppError> {
    let found: Option<(String, String)> = conn
        .query_row(
            "SELECT target, status FROM reservations WHERE id = ?1 AND user_id = ?2",
            params![id, user.id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((target, status)) = found else {
        return Err(AppError::NotFound("reservation not found".into()));
    };
    if status != WAITING {
        return Ok(false);
    }
    close(conn, id, "CANCELLED", now())?;
    let detail = format!("{}, reservation {id}", describe(conn, &target)?);
    users::record_event(conn, user.id, "reservation cancelled", &detail, address)?;
    Ok(true)
}

/// Ends a reservation without an instance, forgetting any private key it held.
fn close(conn: &Connection, id: &str, status: &str, at: i64) -> Result<(), AppError> {
    conn.execute(
        "UPDATE reservations SET status = ?2, ended = ?3,
                private_key = CASE WHEN private_key IS NULL THEN NULL ELSE '' END
         WHERE id = ?1 AND status = 'WAITING'",
        params![id, status, at],
    )?;
    Ok(())
}

/// Lapses reservations that waited past their time, telling their owners.
pub fn expire(conn: &Connection, t: i64) -> Result<usize, AppError> {
    let mut stmt = conn.prepare(
        "SELECT id, user_id, target, expires FROM reservations
         WHERE status = 'WAITING' AND expires <= ?1",
    )?;
    let due = stmt
        .query_map([t], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for (id, user_id, target, expires) in &due {
        close(conn, id, "EXPIRED", *expires)?;
        let detail = format!("{}, reservation {id}", describe(conn, target)?);
        users::record_event(conn, *user_id, "reservation expired", &detail, None)?;
    }
    Ok(due.len())
}

/// Serves the line, oldest first: each waiting reservation whose member may book a matching
/// robot that is free for the reservation's whole length now becomes an instance with the keys
/// chosen for it. Returns how many did.
pub fn serve(conn: &Connection) -> Result<usize, AppError> {
    let t = now();
    let mut stmt = conn.prepare(
        "SELECT r.id, r.user_id, r.target, r.seconds, u.username, u.is_admin
         FROM reservations r JOIN users u ON u.id = r.user_id
         WHERE r.status = 'WAITING' AND r.expires > ?1 AND u.disabled = 0
         ORDER BY r.created, r.id",
    )?;
    let line = stmt
        .query_map([t], |r| {
            Ok((
                r.get::<_, String>(0)?,
                User {
                    id: r.get(1)?,
                    username: r.get(4)?,
                    is_admin: r.get(5)?,
                },
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut served = 0;
    for (id, user, target, seconds) in line {
        let robot = match candidates(conn, &user, &target, t, t + seconds) {
            Ok(free) => free.into_iter().next(),
            Err(BookError::App(e)) => return Err(e),
            Err(_) => None,
        };
        let Some(robot) = robot else { continue };
        let keys = reservation_keys(conn, &id)?;
        let private: Option<String> = conn.query_row(
            "SELECT private_key FROM reservations WHERE id = ?1",
            [&id],
            |r| r.get(0),
        )?;
        let instance = match insert_booking(
            conn,
            user.id,
            &robot.id,
            t,
            t + seconds,
            private.as_deref(),
            &keys,
        ) {
            Ok(instance) => instance,
            Err(BookError::App(e)) => return Err(e),
            Err(_) => continue,
        };
        conn.execute(
            "UPDATE reservations SET status = 'FULFILLED', ended = ?2, instance_id = ?3,
                    private_key = CASE WHEN private_key IS NULL THEN NULL ELSE '' END
             WHERE id = ?1",
            params![id, t, instance],
        )?;
        let detail = format!(
            "{} robot {} for {}, instance {instance}: your reservation {id} came up",
            robot.kind,
            robot.id,
            describe_seconds(seconds)
        );
        users::record_event(conn, user.id, "instance created", &detail, None)?;
        served += 1;
    }
    Ok(served)
}

fn reservation_keys(
    conn: &Connection,
    id: &str,
) -> Result<Vec<(String, String, Option<i64>)>, AppError> {
    let mut stmt = conn.prepare(
        "SELECT public_key, fingerprint, ssh_key_id FROM reservation_keys
         WHERE reservation_id = ?1 ORDER BY fingerprint",
    )?;
    let rows = stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
