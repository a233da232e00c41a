//! Instances: one user's time-boxed booking of one robot, with the keys allowed to log in.
//!
//! An instance is active while `status <> 'TERMINATED' AND expires > now`; robots ask with
//! exactly that condition. Expired rows are ended by [`sweep_expired`] (every few seconds and
//! before each booking), and every read treats them as ended already.
//!
//! `private_key` holds a generated key pair's private half (OpenSSH format) until it is handed
//! out once: NULL means no pair was generated, the empty string that it was handed out (or
//! discarded when the instance ended).

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::deployments::{self, Deployment};
use crate::auth::{users, User};
use crate::db::now;
use crate::error::AppError;
use crate::keys::parse::ParsedKey;

/// Status of an instance that is up.
pub const READY: &str = "READY";
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

/// The longest booking allowed now.
pub fn max_seconds(conn: &Connection) -> Result<i64, AppError> {
    Ok(users::setting(conn, MAX_SECONDS_KEY)?
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|v| *v >= MIN_SECONDS)
        .unwrap_or(DEFAULT_MAX_SECONDS))
}

/// Checks a booking length against the limits.
pub fn check_duration(seconds: i64, max: i64) -> Result<(), String> {
    if seconds < MIN_SECONDS {
        return Err("an instance must last at least one minute".into());
    }
    if seconds > max {
        return Err(format!(
            "instances may last at most {} here; choose a shorter duration",
            describe_seconds(max)
        ));
    }
    Ok(())
}

/// "1 hour", "90 min", "3 days".
pub fn describe_seconds(s: i64) -> String {
    match s {
        s if s % 86400 == 0 => plural(s / 86400, "day"),
        s if s % 3600 == 0 => plural(s / 3600, "hour"),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

fn plural(n: i64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

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
    /// `READY`, or `TERMINATED` once ended (an expired row reads as ended at once).
    pub status: String,
    pub active: bool,
    pub created: i64,
    pub expires: i64,
    pub ended: Option<i64>,
    pub key_state: KeyState,
    pub keys: Vec<InstanceKey>,
    pub ssh_command: String,
}

/// A key chosen for a new instance.
#[derive(Debug, Clone)]
pub enum KeyChoice {
    /// One of the user's saved keys, by id.
    Saved(i64),
    /// A pasted or generated key.
    Given(ParsedKey),
}

/// A booking request, already checked for form.
#[derive(Debug, Clone)]
pub struct Booking {
    /// A robot's id, or a workspace type (any free robot of it).
    pub target: String,
    pub seconds: i64,
    pub keys: Vec<KeyChoice>,
    /// The private key to keep for one download (OpenSSH), or `Some("")` when it was handed
    /// out with the answer already.
    pub private_key: Option<String>,
    /// "the web console" or "the API", for the security log.
    pub via: &'static str,
}

/// Why a booking was refused.
#[derive(Debug)]
pub enum BookError {
    /// No robot or type of that name (or only disabled ones).
    NoMatch(String),
    /// Every matching robot is in use.
    Busy,
    /// The request itself is refused; the message says why.
    Invalid(String),
    /// Anything else.
    App(AppError),
}

impl From<AppError> for BookError {
    fn from(e: AppError) -> BookError {
        BookError::App(e)
    }
}

impl From<rusqlite::Error> for BookError {
    fn from(e: rusqlite::Error) -> BookError {
        BookError::App(e.into())
    }
}

/// Whether `booking` would be accepted now: its duration, its saved keys and a free matching
/// robot. Run before the slow key generation so a refused booking costs nothing; [`book`]
/// checks again inside its transaction and decides for real.
pub fn precheck(conn: &Connection, user: &User, booking: &Booking) -> Result<(), BookError> {
    check_duration(booking.seconds, max_seconds(conn)?).map_err(BookError::Invalid)?;
    for choice in &booking.keys {
        if let KeyChoice::Saved(id) = choice {
            saved_key(conn, user, *id)?;
        }
    }
    candidates(conn, &booking.target).map(|_| ())
}

/// One of the user's saved keys: (public key, fingerprint, id).
fn saved_key(
    conn: &Connection,
    user: &User,
    id: i64,
) -> Result<(String, String, Option<i64>), BookError> {
    conn.query_row(
        "SELECT public_key, fingerprint, id FROM ssh_keys WHERE id = ?1 AND user_id = ?2",
        params![id, user.id],
        |r| Ok((r.get(0)?, r.get(1)?, Some(r.get(2)?))),
    )
    .optional()?
    .ok_or_else(|| {
        BookError::Invalid(
            "one of the chosen keys is not on your account (any more); reload the page".into(),
        )
    })
}

/// The free, enabled robots that `target` names, or why there are none.
fn candidates(conn: &Connection, target: &str) -> Result<Vec<Deployment>, BookError> {
    let all = deployments::list(conn)?;
    let by_id: Vec<Deployment> = all.iter().filter(|d| d.id == target).cloned().collect();
    let matching = if by_id.is_empty() {
        all.into_iter().filter(|d| d.kind == target).collect()
    } else {
        by_id
    };
    let enabled: Vec<Deployment> = matching.into_iter().filter(|d| d.enabled).collect();
    if enabled.is_empty() {
        return Err(BookError::NoMatch(format!(
            "no robot or type {target:?} is available here"
        )));
    }
    let free: Vec<Deployment> = enabled.into_iter().filter(|d| !d.busy).collect();
    if free.is_empty() {
        return Err(BookError::Busy);
    }
    Ok(free)
}

fn is_constraint(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

/// Books a robot for `user` inside the caller's `BEGIN IMMEDIATE` transaction; returns the new
/// instance's id. The partial unique index backs the "one active instance per robot" check.
pub fn book(
    tx: &Transaction<'_>,
    user: &User,
    booking: &Booking,
    address: Option<&str>,
) -> Result<String, BookError> {
    sweep_expired(tx)?;
    check_duration(booking.seconds, max_seconds(tx)?).map_err(BookError::Invalid)?;
    let mut keys: Vec<(String, String, Option<i64>)> = Vec::new();
    for choice in &booking.keys {
        let key = match choice {
            KeyChoice::Saved(id) => saved_key(tx, user, *id)?,
            // A pasted key that is also saved on the account is linked to it, so its
            // "last used" shows and deleting it takes it off this instance.
            KeyChoice::Given(k) => {
                let saved: Option<i64> = tx
                    .query_row(
                        "SELECT id FROM ssh_keys WHERE fingerprint = ?1 AND user_id = ?2",
                        params![k.fingerprint, user.id],
                        |r| r.get(0),
                    )
                    .optional()?;
                (k.canonical.clone(), k.fingerprint.clone(), saved)
            }
        };
        if !keys.iter().any(|(_, f, _)| *f == key.1) {
            keys.push(key);
        }
    }
    if keys.is_empty() {
        return Err(BookError::Invalid(
            "choose at least one key that may log in: a saved key, a pasted public key or a new key pair".into(),
        ));
    }
    let robot = candidates(tx, &booking.target)?
        .into_iter()
        .next()
        .ok_or(BookError::Busy)?;
    let id = uuid::Uuid::new_v4().to_string();
    let t = now();
    let inserted = tx.execute(
        "INSERT INTO instances (id, deployment_id, user_id, status, created, expires, private_key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            id,
            robot.id,
            user.id,
            READY,
            t,
            t + booking.seconds,
            booking.private_key
        ],
    );
    match inserted {
        Err(e) if is_constraint(&e) => return Err(BookError::Busy),
        other => other?,
    };
    for (public_key, fingerprint, ssh_key_id) in &keys {
        tx.execute(
            "INSERT INTO instance_keys (instance_id, public_key, fingerprint, ssh_key_id)
             VALUES (?1, ?2, ?3, ?4)",
            params![id, public_key, fingerprint, ssh_key_id],
        )?;
    }
    let detail = format!(
        "{} robot {} for {} from {}, {} key{}",
        robot.kind,
        robot.id,
        describe_seconds(booking.seconds),
        booking.via,
        keys.len(),
        if keys.len() == 1 { "" } else { "s" }
    );
    users::record_event(tx, user.id, "instance created", &detail, address)?;
    Ok(id)
}

/// Marks an instance ended at `at` and discards a private key nobody fetched. Returns false
/// when it had ended already.
fn end(conn: &Connection, id: &str, at: i64) -> Result<bool, AppError> {
    let changed = conn.execute(
        "UPDATE instances SET status = 'TERMINATED', ended = ?2,
                private_key = CASE WHEN private_key IS NULL THEN NULL ELSE '' END
         WHERE id = ?1 AND status <> 'TERMINATED'",
        params![id, at],
    )?;
    Ok(changed > 0)
}

/// Ends the active instance of a robot being disabled, telling its owner why.
pub fn end_on_disabled_robot(conn: &Connection, deployment_id: &str) -> Result<(), AppError> {
    let active: Option<(String, i64, String)> = conn
        .query_row(
            "SELECT i.id, i.user_id, d.type FROM instances i
             JOIN deployments d ON d.id = i.deployment_id
             WHERE i.deployment_id = ?1 AND i.status <> 'TERMINATED'",
            [deployment_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    if let Some((id, user_id, kind)) = active {
        if end(conn, &id, now())? {
            let detail = format!(
                "{kind} robot {deployment_id}, instance {id}: the robot was disabled by an admin"
            );
            users::record_event(conn, user_id, "instance terminated", &detail, None)?;
        }
    }
    Ok(())
}

/// Ends every instance whose time is up, logging "instance expired" for each; returns how many.
pub fn sweep_expired(conn: &Connection) -> Result<usize, AppError> {
    let t = now();
    let mut stmt = conn.prepare(
        "SELECT i.id, i.user_id, d.type, d.id, i.expires FROM instances i
         JOIN deployments d ON d.id = i.deployment_id
         WHERE i.status <> 'TERMINATED' AND i.expires <= ?1",
    )?;
    let due = stmt
        .query_map([t], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for (id, user_id, kind, robot, expires) in &due {
        if end(conn, id, *expires)? {
            let detail = format!("{kind} robot {robot}, instance {id}");
            users::record_event(conn, *user_id, "instance expired", &detail, None)?;
        }
    }
    Ok(due.len())
}

/// Terminates one of the user's instances. Returns false when it had ended already.
pub fn terminate(
    conn: &Connection,
    user: &User,
    id: &str,
    address: Option<&str>,
) -> Result<bool, AppError> {
    let instance = get_for(conn, user, id)?;
    if !instance.active {
        // It may have expired without the sweep having written that down yet.
        sweep_expired(conn)?;
        return Ok(false);
    }
    end(conn, id, now())?;
    let detail = format!(
        "{} robot {}, instance {id}",
        instance.deployment.kind, instance.deployment.id
    );
    users::record_event(conn, user.id, "instance terminated", &detail, address)?;
    Ok(true)
}

/// Hands out a generated private key (OpenSSH format) exactly once. `Ok(None)` when there is
/// none or it went already; "not found" when the instance is not the user's.
pub fn take_private_key(
    conn: &Connection,
    user: &User,
    id: &str,
) -> Result<Option<String>, AppError> {
    let instance = get_for(conn, user, id)?;
    if !instance.active || instance.key_state != KeyState::Available {
        return Ok(None);
    }
    let key: Option<String> = conn.query_row(
        "SELECT private_key FROM instances WHERE id = ?1",
        [id],
        |r| r.get(0),
    )?;
    conn.execute("UPDATE instances SET private_key = '' WHERE id = ?1", [id])?;
    Ok(key.filter(|k| !k.is_empty()))
}

/// Best effort, outside any write transaction: copies the WAL into the database file and
/// empties it, so a private key just taken or discarded does not linger in the log. A failure
/// (a reader holding an old snapshot, say) is only logged and never fails the request.
pub async fn scrub_wal(db: &crate::db::Db) {
    let done = db
        .run(|conn| {
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            Ok(())
        })
        .await;
    if let Err(e) = done {
        tracing::warn!("WAL checkpoint after removing a private key: {e}");
    }
}

/// `SELECT` of the columns the row reader below expects, followed by the rest of a query.
macro_rules! select_instances {
    ($rest:literal) => {
        concat!(
            "SELECT id, deployment_id, status, created, expires, ended,
        CASE WHEN private_key IS NULL THEN 0 WHEN private_key = '' THEN 2 ELSE 1 END
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
}

fn load(conn: &Connection, row: Row) -> Result<Instance, AppError> {
    let deployment = deployments::get(conn, &row.deployment_id)?;
    let t = now();
    let active = row.status != TERMINATED && row.expires > t;
    let (status, ended) = if active {
        (row.status, None)
    } else {
        (TERMINATED.to_owned(), row.ended.or(Some(row.expires)))
    };
    let key_state = match (row.key_state, active) {
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
        created: row.created,
        expires: row.expires,
        ended,
        key_state,
        keys,
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
         ORDER BY created DESC, id"
    ))?;
    let rows = stmt
        .query_map(params![user.id, include_ended, now()], row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(|r| load(conn, r)).collect()
}
