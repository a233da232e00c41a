//! Accounts: usernames, password hashing, enabling and disabling, and the security log.
//! Plain functions over a connection, shared by the web console and the command line.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand_core::{OsRng, RngCore};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::db::now;
use crate::error::AppError;

/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 10;
/// Longest password accepted (hashing cost grows with it).
pub const MAX_PASSWORD: usize = 1024;

/// A row of `users`.
#[derive(Debug, Clone, Serialize)]
pub struct Account {
    pub id: i64,
    pub username: String,
    pub is_admin: bool,
    pub disabled: bool,
    pub created: i64,
    /// Last successful sign-in on the web console.
    pub last_login: Option<i64>,
    /// When an admin deleted the account (the row stays for history).
    pub deleted: Option<i64>,
}

/// An entry of the security log.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub detail: String,
    pub address: Option<String>,
}

fn argon2() -> Argon2<'static> {
    // m = 19456 KiB, t = 2, p = 1: the OWASP baseline for argon2id.
    let params = Params::new(19456, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes `password` with argon2id and a fresh salt (PHC string).
pub fn hash_password(password: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::internal(format!("hashing a password: {e}")))
}

/// Whether `password` matches the PHC string `hash`.
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// How many argon2 computations may run at once. Each takes 19 MiB and tens of milliseconds
/// of CPU by design, so a burst of sign-in attempts queues here instead of taking the memory
/// of hundreds of them at once. A process-wide limit, like the machine's memory it protects.
static PASSWORD_WORK: rocket::tokio::sync::Semaphore = rocket::tokio::sync::Semaphore::const_new(4);

/// Runs password work on the blocking pool, at most [`PASSWORD_WORK`] at a time.
async fn password_work<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    let _permit = PASSWORD_WORK
        .acquire()
        .await
        .map_err(|e| AppError::internal(format!("password work: {e}")))?;
    rocket::tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AppError::internal(format!("password work task: {e}")))
}

/// [`hash_password`] off the executor (see `password_work`).
pub async fn hash_password_off(password: String) -> Result<String, AppError> {
    password_work(move || hash_password(&password)).await?
}

/// [`verify_password`] off the executor (see `password_work`).
pub async fn verify_password_off(hash: String, password: String) -> Result<bool, AppError> {
    password_work(move || verify_password(&hash, &password)).await
}

/// A hash of a random password, so that checking an unknown username costs as much as a known one.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&generate_secret(16)).unwrap_or_default())
}

/// `bytes` random bytes, base64url without padding.
pub fn generate_secret(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A random password for a new account or a reset: 20 characters.
pub fn generate_password() -> String {
    generate_secret(15)
}

/// Checks a username: 1 to 32 of `a-z 0-9 _ -`, starting with a letter or digit.
pub fn check_username(name: &str) -> Result<(), String> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    let starts_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if name.is_empty() || name.len() > 32 || !ok_chars || !starts_ok {
        return Err(
            "a username is 1 to 32 lowercase letters, digits, '_' or '-', \
                    starting with a letter or digit"
                .into(),
        );
    }
    Ok(())
}

/// Checks a new password against the length rules.
pub fn check_password(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_PASSWORD {
        return Err(format!(
            "the password must be at least {MIN_PASSWORD} characters long"
        ));
    }
    if n > MAX_PASSWORD {
        return Err(format!(
            "the password must be at most {MAX_PASSWORD} characters long"
        ));
    }
    Ok(())
}

fn account_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        id: r.get(0)?,
        username: r.get(1)?,
        is_admin: r.get(2)?,
        disabled: r.get(3)?,
        created: r.get(4)?,
        last_login: r.get(5)?,
        deleted: r.get(6)?,
    })
}

/// `SELECT` of the columns [`account_from_row`] reads, then the rest of the query.
macro_rules! select_account {
    ($rest:literal) => {
        concat!(
            "SELECT id, username, is_admin, disabled, created, last_login, deleted FROM users ",
            $rest
        )
    };
}

/// Makes the account choose its own password at the next sign-in (its password was set by an
/// admin).
pub fn require_change(conn: &Connection, id: i64) -> Result<(), AppError> {
    conn.execute("UPDATE users SET must_change = 1 WHERE id = ?1", [id])?;
    Ok(())
}

/// Creates an account; a taken username is a conflict. Callers handing out a password set by
/// an admin follow with [`require_change`].
pub fn create(
    conn: &Connection,
    username: &str,
    password_hash: &str,
    is_admin: bool,
) -> Result<i64, AppError> {
    check_username(username).map_err(AppError::Invalid)?;
    let taken: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM users WHERE username = ?1)",
        [username],
        |r| r.get(0),
    )?;
    if taken {
        return Err(AppError::Conflict(format!(
            "the username {username} is already taken"
        )));
    }
    conn.execute(
        "INSERT INTO users (username, password_hash, is_admin, created) VALUES (?1, ?2, ?3, ?4)",
        params![username, password_hash, is_admin, now()],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Finds an account by name.
pub fn find(conn: &Connection, username: &str) -> Result<Option<Account>, AppError> {
    let sql = select_account!("WHERE username = ?1");
    Ok(conn
        .query_row(sql, [username], account_from_row)
        .optional()?)
}

/// Finds an account by id.
pub fn get(conn: &Connection, id: i64) -> Result<Account, AppError> {
    let sql = select_account!("WHERE id = ?1");
    conn.query_row(sql, [id], account_from_row)
        .optional()?
        .ok_or_else(|| AppError::NotFound("no such user".into()))
}

/// Finds an account by name, or says it does not exist.
pub fn require(conn: &Connection, username: &str) -> Result<Account, AppError> {
    find(conn, username)?.ok_or_else(|| AppError::NotFound(format!("no user named {username}")))
}

/// The stored password hash of an account.
pub fn password_hash(conn: &Connection, id: i64) -> Result<String, AppError> {
    Ok(
        conn.query_row("SELECT password_hash FROM users WHERE id = ?1", [id], |r| {
            r.get(0)
        })?,
    )
}

/// Every account, by name.
pub fn list(conn: &Connection) -> Result<Vec<Account>, AppError> {
    let mut stmt = conn.prepare(select_account!("ORDER BY username"))?;
    let rows = stmt.query_map([], account_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Number of accounts.
pub fn count(conn: &Connection) -> Result<i64, AppError> {
    Ok(conn.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?)
}

/// Replaces a password hash and ends every session of the account. `by_admin`: an admin set
/// it, so the member must choose their own at the next sign-in; a password the member chose
/// clears that.
pub fn set_password(
    conn: &Connection,
    id: i64,
    password_hash: &str,
    by_admin: bool,
) -> Result<(), AppError> {
    conn.execute(
        "UPDATE users SET password_hash = ?2, must_change = ?3 WHERE id = ?1",
        params![id, password_hash, by_admin],
    )?;
    conn.execute("DELETE FROM sessions WHERE user_id = ?1", [id])?;
    Ok(())
}

/// Disables or enables an account; disabling ends its sessions at once.
pub fn set_disabled(conn: &Connection, id: i64, disabled: bool) -> Result<(), AppError> {
    if !disabled && get(conn, id)?.deleted.is_some() {
        return Err(AppError::Invalid(
            "a deleted account cannot be enabled again; add a new account instead".into(),
        ));
    }
    let n = conn.execute(
        "UPDATE users SET disabled = ?2 WHERE id = ?1",
        params![id, disabled],
    )?;
    if n == 0 {
        return Err(AppError::NotFound("no such user".into()));
    }
    if disabled {
        conn.execute("DELETE FROM sessions WHERE user_id = ?1", [id])?;
    }
    Ok(())
}

/// Notes a successful sign-in (shown to admins as "last sign-in").
pub fn touch_login(conn: &Connection, id: i64) -> Result<(), AppError> {
    conn.execute(
        "UPDATE users SET last_login = ?2 WHERE id = ?1",
        params![id, now()],
    )?;
    Ok(())
}

/// Adds an entry to an account's security log.
pub fn record_event(
    conn: &Connection,
    user_id: i64,
    kind: &str,
    detail: &str,
    address: Option<&str>,
) -> Result<(), AppError> {
    conn.execute(
        "INSERT INTO events (user_id, at, kind, detail, address) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![user_id, now(), kind, detail, address],
    )?;
    Ok(())
}

/// The newest `limit` entries of an account's security log.
/// Whether a password its owner chose is hard enough to guess, as judged by zxcvbn (a score
/// of 3 of 4 at least, with the username counted as known); the refusal says why and what
/// would help.
pub fn check_strength(password: &str, username: &str) -> Result<(), String> {
    let estimate = zxcvbn::zxcvbn(password, &[username]);
    if estimate.score() >= zxcvbn::Score::Three {
        return Ok(());
    }
    let mut message = "this password is too easy to guess".to_owned();
    if let Some(feedback) = estimate.feedback() {
        if let Some(warning) = feedback.warning() {
            message.push_str(&format!(" ({})", warning.to_string().trim_end_matches('.')));
        }
        let tips: Vec<String> = feedback
            .suggestions()
            .iter()
            .map(|s| s.to_string())
            .collect();
        if !tips.is_empty() {
            message.push_str(": ");
            message.push_str(&tips.join(" "));
        } else {
            message.push('.');
        }
    } else {
        message.push_str("; add more words or characters.");
    }
    Err(message)
}

pub fn events(conn: &Connection, user_id: i64, limit: i64) -> Result<Vec<Event>, AppError> {
    let mut stmt = conn.prepare(
        "SELECT id, at, kind, detail, address FROM events WHERE user_id = ?1 ORDER BY id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![user_id, limit], event_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn event_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Event> {
    Ok(Event {
        id: r.get(0)?,
        at: r.get(1)?,
        kind: r.get(2)?,
        detail: r.get(3)?,
        address: r.get(4)?,
    })
}

/// One page of the account's log, newest first, from just before event `before` (from the
/// newest when `None`); and the id to ask with for the next, older page, if there is one.
pub fn events_page(
    conn: &Connection,
    user_id: i64,
    before: Option<i64>,
    size: i64,
) -> Result<(Vec<Event>, Option<i64>), AppError> {
    let mut stmt = conn.prepare(
        "SELECT id, at, kind, detail, address FROM events
          WHERE user_id = ?1 AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3",
    )?;
    let mut rows = stmt
        .query_map(params![user_id, before, size + 1], event_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    let older = if rows.len() as i64 > size {
        rows.truncate(size.max(0) as usize);
        rows.last().map(|e| e.id)
    } else {
        None
    };
    Ok((rows, older))
}

#[cfg(test)]
mod tests {
    #[test]
    fn strength_refuses_guessable_passwords_with_a_reason() {
        for weak in ["password1234", "mia-mia-mia-mia", "qwertyuiop12"] {
            let refusal = super::check_strength(weak, "mia").expect_err(weak);
            assert!(
                refusal.starts_with("this password is too easy to guess"),
                "{refusal}"
            );
        }
        for strong in ["a-brand-new-password-2", "correct horse battery staple 9"] {
            assert_eq!(super::check_strength(strong, "mia"), Ok(()), "{strong}");
        }
    }

    use super::*;

    #[test]
    fn password_round_trip() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password(&h, "correct horse battery"));
        assert!(!verify_password(&h, "correct horse battery!"));
        assert!(!verify_password("not a hash", "x"));
    }

    #[test]
    fn usernames() {
        assert!(check_username("alice").is_ok());
        assert!(check_username("lab-2_b").is_ok());
        for bad in ["", "Alice", "-x", "a.b", "a b", &"x".repeat(33), "ü"] {
            assert!(check_username(bad).is_err(), "{bad:?}");
        }
    }
}
