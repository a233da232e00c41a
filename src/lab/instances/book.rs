//! Booking a robot: the limits on a booking's length, the keys it may carry and the choice
//! of a free robot.

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::{sweep_expired, DEFAULT_MAX_SECONDS, MAX_SECONDS_KEY, MIN_SECONDS, READY};
use crate::auth::{users, User};
use crate::db::now;
use crate::error::AppError;
use crate::keys::parse::ParsedKey;
use crate::lab::deployments::{self, Deployment};

/// The longest booking allowed now.
pub fn max_seconds(conn: &Connection) -> Result<i64, AppError> {
    Ok(crate::db::setting(conn, MAX_SECONDS_KEY)?
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
    candidates(conn, user, &booking.target).map(|_| ())
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

/// The free, enabled robots that `target` names and `user` may book, or why there are none
/// (a robot the access rules keep from them is answered as unknown).
fn candidates(conn: &Connection, user: &User, target: &str) -> Result<Vec<Deployment>, BookError> {
    let all = crate::lab::groups::rules::visible(conn, user, deployments::list(conn)?)?;
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
    let robot = candidates(tx, user, &booking.target)?
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
