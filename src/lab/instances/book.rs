//! Booking a robot, now or for a later window: the limits on a booking's length, the keys it
//! may carry and the choice of a robot free for the whole window.
//!
//! A booking that needs a generated key pair claims its robot first (the row is written with
//! no keys) and gets the pair afterwards with [`attach_generated`]: a refused booking never
//! costs a key generation, and a burst of requests for one robot costs at most one.

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::{sweep_expired, DEFAULT_MAX_SECONDS, MAX_SECONDS_KEY, MIN_SECONDS, READY};
use crate::auth::{users, User};
use crate::db::now;
use crate::error::AppError;
use crate::keys::parse::ParsedKey;
use crate::lab::bookings::{self, Limits};
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
    /// When it starts (unix seconds); `None` for now.
    pub starts: Option<i64>,
    pub seconds: i64,
    pub keys: Vec<KeyChoice>,
    /// The private key to keep for one download (OpenSSH), or `Some("")` when it was handed
    /// out with the answer already.
    pub private_key: Option<String>,
    /// "the web console" or "the API", for the security log.
    pub via: &'static str,
    /// A key pair is generated after the robot is claimed ([`attach_generated`]), so the
    /// booking may carry no key yet.
    pub generate: bool,
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

/// Whether `booking` would be accepted now: its duration, start, saved keys and a matching
/// robot free for its window. [`book`] checks again inside its transaction and decides for real.
pub fn precheck(conn: &Connection, user: &User, booking: &Booking) -> Result<(), BookError> {
    check_duration(booking.seconds, max_seconds(conn)?).map_err(BookError::Invalid)?;
    let starts = check_window(conn, user, booking)?;
    for choice in &booking.keys {
        if let KeyChoice::Saved(id) = choice {
            saved_key(conn, user, *id)?;
        }
    }
    candidates(
        conn,
        user,
        &booking.target,
        starts,
        starts + booking.seconds,
    )
    .map(|_| ())
}

/// The start to store for `booking`, checked against the admin's limits on booking ahead and
/// on how many future bookings one member holds.
fn check_window(conn: &Connection, user: &User, booking: &Booking) -> Result<i64, BookError> {
    let t = now();
    let Some(start) = booking.starts else {
        return Ok(t);
    };
    let limits = Limits::load(conn)?;
    let start = bookings::check_start(start, t, &limits).map_err(BookError::Invalid)?;
    if start > t && bookings::future_count(conn, user.id, t)? >= limits.max_future {
        return Err(BookError::Invalid(format!(
            "you hold {} booking{} that have not started yet, the most allowed here; cancel one first",
            limits.max_future,
            if limits.max_future == 1 { "" } else { "s" }
        )));
    }
    Ok(start)
}

/// One of the user's saved keys: (public key, fingerprint, id).
pub(crate) fn saved_key(
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

/// The keys a booking or reservation carries: (public key, fingerprint, saved key id), each
/// once. A pasted key that is also saved on the account is linked to it, so its "last used"
/// shows and deleting it takes it off the booking.
pub(crate) fn resolve_keys(
    conn: &Connection,
    user: &User,
    choices: &[KeyChoice],
) -> Result<Vec<(String, String, Option<i64>)>, BookError> {
    let mut keys: Vec<(String, String, Option<i64>)> = Vec::new();
    for choice in choices {
        let key = match choice {
            KeyChoice::Saved(id) => saved_key(conn, user, *id)?,
            KeyChoice::Given(k) => {
                let saved: Option<i64> = conn
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
    Ok(keys)
}

/// The robots that `target` names (an id, else a type) which `user` may book and which are
/// free over `[from, until)`, or why there are none.
pub fn candidates(
    conn: &Connection,
    user: &User,
    target: &str,
    from: i64,
    until: i64,
) -> Result<Vec<Deployment>, BookError> {
    let matching = matching(conn, user.id, target)?;
    if matching.is_empty() {
        return Err(BookError::NoMatch(format!(
            "no robot or type {target:?} is available here"
        )));
    }
    let mut free = Vec::new();
    for d in matching {
        if bookings::is_free(conn, &d.id, from, until)? {
            free.push(d);
        }
    }
    if free.is_empty() {
        return Err(BookError::Busy);
    }
    Ok(free)
}

/// The enabled robots `target` names (a robot id, else a type) that `user_id` may book.
pub fn matching(
    conn: &Connection,
    user_id: i64,
    target: &str,
) -> Result<Vec<Deployment>, AppError> {
    let all = deployments::list(conn)?;
    let by_id: Vec<Deployment> = all.iter().filter(|d| d.id == target).cloned().collect();
    let named = if by_id.is_empty() {
        all.into_iter().filter(|d| d.kind == target).collect()
    } else {
        by_id
    };
    let mut out = Vec::new();
    for d in named {
        if bookings::may_book(conn, user_id, &d)? {
            out.push(d);
        }
    }
    Ok(out)
}

/// Whether an error is a refused constraint (the overlap trigger, a unique index).
pub(crate) fn is_constraint(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

/// Writes one booking row and its keys; the overlap trigger has the last word, and a lost
/// race reads as "busy".
pub(crate) fn insert_booking(
    tx: &Connection,
    user_id: i64,
    robot: &str,
    starts: i64,
    expires: i64,
    private_key: Option<&str>,
    keys: &[(String, String, Option<i64>)],
) -> Result<String, BookError> {
    let id = uuid::Uuid::new_v4().to_string();
    let inserted = tx.execute(
        "INSERT INTO instances (id, deployment_id, user_id, status, created, starts, expires,
                                private_key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            id,
            robot,
            user_id,
            READY,
            now(),
            starts,
            expires,
            private_key
        ],
    );
    match inserted {
        Err(e) if is_constraint(&e) => return Err(BookError::Busy),
        other => other?,
    };
    for (public_key, fingerprint, ssh_key_id) in keys {
        tx.execute(
            "INSERT INTO instance_keys (instance_id, public_key, fingerprint, ssh_key_id)
             VALUES (?1, ?2, ?3, ?4)",
            params![id, public_key, fingerprint, ssh_key_id],
        )?;
    }
    Ok(id)
}

/// Books a robot for `user` inside the caller's `BEGIN IMMEDIATE` transaction; returns the new
/// instance's id. The overlap trigger backs the "robot free for the window" check.
pub fn book(
    tx: &Transaction<'_>,
    user: &User,
    booking: &Booking,
    address: Option<&str>,
) -> Result<String, BookError> {
    sweep_expired(tx)?;
    check_duration(booking.seconds, max_seconds(tx)?).map_err(BookError::Invalid)?;
    let starts = check_window(tx, user, booking)?;
    let keys = resolve_keys(tx, user, &booking.keys)?;
    if keys.is_empty() && !booking.generate {
        return Err(BookError::Invalid(
            "choose at least one key that may log in: a saved key, a pasted public key or a new key pair".into(),
        ));
    }
    let expires = starts + booking.seconds;
    let robot = candidates(tx, user, &booking.target, starts, expires)?
        .into_iter()
        .next()
        .ok_or(BookError::Busy)?;
    let id = insert_booking(
        tx,
        user.id,
        &robot.id,
        starts,
        expires,
        booking.private_key.as_deref(),
        &keys,
    )?;
    let key_count = keys.len() + usize::from(booking.generate);
    let later = starts > now();
    let when = if later {
        format!(" from {}", crate::web::format_time(starts))
    } else {
        String::new()
    };
    let detail = format!(
        "{} robot {}{when} for {} from {}, {} key{}",
        robot.kind,
        robot.id,
        describe_seconds(booking.seconds),
        booking.via,
        key_count,
        if key_count == 1 { "" } else { "s" }
    );
    let kind = if later {
        "booking made"
    } else {
        "instance created"
    };
    users::record_event(tx, user.id, kind, &detail, address)?;
    Ok(id)
}

/// Gives a claimed booking its generated key pair: the public half may log in, the private
/// half (`private_key`, or `""` when it was handed out with the answer) waits for its one
/// download. Not found when the booking is not the user's or has ended meanwhile.
pub fn attach_generated(
    tx: &Transaction<'_>,
    user: &User,
    id: &str,
    public: &ParsedKey,
    private_key: &str,
) -> Result<(), AppError> {
    let changed = tx.execute(
        "UPDATE instances SET private_key = ?3
         WHERE id = ?1 AND user_id = ?2 AND status <> 'TERMINATED'",
        params![id, user.id, private_key],
    )?;
    if changed == 0 {
        return Err(AppError::NotFound("instance not found".into()));
    }
    tx.execute(
        "INSERT OR IGNORE INTO instance_keys (instance_id, public_key, fingerprint, ssh_key_id)
         VALUES (?1, ?2, ?3, NULL)",
        params![id, public.canonical, public.fingerprint],
    )?;
    Ok(())
}

/// Gives up a claim whose key pair could not be made: the booking ends at once.
pub fn release_claim(tx: &Transaction<'_>, user: &User, id: &str) -> Result<(), AppError> {
    tx.execute(
        "UPDATE instances SET status = 'TERMINATED', ended = ?3
         WHERE id = ?1 AND user_id = ?2 AND status <> 'TERMINATED'",
        params![id, user.id, now()],
    )?;
    users::record_event(
        tx,
        user.id,
        "instance terminated",
        &format!("instance {id}: its key pair could not be made"),
        None,
    )?;
    Ok(())
}
