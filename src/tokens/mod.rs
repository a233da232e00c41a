//! API tokens: the signing key and JWTs ([`jwt`]), issuing, listing and revoking tokens (here),
//! the Bearer guard for `/api` ([`guard`]), the `/tokens` page ([`routes`](mod@routes)), the token API and
//! the published JWKS ([`api`]), and the admin's limits ([`limits`]).

pub mod api;
pub mod cli;
pub mod guard;
pub mod issuer;
pub mod jwt;
pub mod limits;
pub mod routes;

use rocket::Route;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::auth::{users, User};
use crate::config::Config;
use crate::db::now;
use crate::error::AppError;
pub use guard::{bearer, ApiUser, TokenCache};
use jwt::{Claims, SigningKey};

/// Routes of this module: the pages, the API, the JWKS and `/admin/limits`.
pub fn routes() -> Vec<Route> {
    let mut all = routes::routes();
    all.extend(api::routes());
    all.extend(limits::routes());
    all
}

/// Lifetimes offered on the tokens page, in seconds, with their labels.
pub const DURATIONS: [(i64, &str); 6] = [
    (3600, "1 hour"),
    (86400, "24 hours"),
    (7 * 86400, "7 days"),
    (30 * 86400, "30 days"),
    (90 * 86400, "90 days"),
    (365 * 86400, "1 year"),
];
/// The lifetime chosen when none is given.
pub const DEFAULT_DURATION: i64 = 86400;
/// Settings key of the admin-set longest lifetime.
pub const MAX_SECONDS_KEY: &str = "token_max_seconds";
/// `last used` is written at most this often per token.
pub const LAST_USED_EVERY: i64 = 60;

/// A token's row, never its text.
#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub id: String,
    pub note: String,
    pub scope: String,
    pub created: i64,
    pub expires: i64,
    pub last_used: Option<i64>,
}

/// The longest lifetime allowed now: the smaller of the operator's flag and the admin setting.
pub fn max_seconds(conn: &Connection, config: &Config) -> Result<Option<i64>, AppError> {
    let setting = crate::db::setting(conn, MAX_SECONDS_KEY)?.and_then(|v| v.parse::<i64>().ok());
    Ok(match (config.token_max_seconds, setting) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    })
}

/// Checks a requested lifetime and scope against the rules; the message says what is wrong.
pub fn check_request(duration: i64, scope: &str, max: Option<i64>) -> Result<(), String> {
    if scope != "rw" && scope != "ro" {
        return Err("scope must be \"rw\" (read and write) or \"ro\" (read only)".into());
    }
    if duration < 60 {
        return Err("a token must be valid for at least 60 seconds".into());
    }
    if let Some(max) = max.filter(|m| duration > *m) {
        return Err(format!(
            "tokens may be valid for at most {} here; choose a shorter duration",
            describe_duration(max)
        ));
    }
    if duration > 10 * 365 * 86400 {
        return Err("a token may be valid for at most 10 years".into());
    }
    Ok(())
}

/// The claims of a token row, as signed.
fn claims_for(config: &Config, username: &str, info: &TokenInfo) -> Claims {
    Claims {
        iss: config.token_issuer().to_owned(),
        aud: config.token_issuer().to_owned(),
        sub: username.to_owned(),
        iat: info.created,
        nbf: info.created,
        exp: info.expires,
        jti: info.id.clone(),
        sc: info.scope.clone(),
    }
}

/// Where a token was made or revoked, for the security log.
#[derive(Debug, Clone, Copy)]
pub enum Via<'a> {
    /// On the web console, from this client address.
    Web(Option<&'a str>),
    /// With a token on the JSON API, from this client address.
    Api(Option<&'a str>),
    /// With `labgate token ...` on the server itself.
    CommandLine,
}

impl<'a> Via<'a> {
    /// The address column of the security log.
    fn address(self) -> Option<&'a str> {
        match self {
            Via::Web(a) | Via::Api(a) => a,
            Via::CommandLine => None,
        }
    }

    /// Added to an event's detail when the web console is not where it happened.
    fn suffix(self) -> &'static str {
        match self {
            Via::Web(_) => "",
            Via::Api(_) => ", by the API",
            Via::CommandLine => ", by the command line",
        }
    }
}

/// Checks a note: at most 100 characters, one line with nothing invisible ([`crate::text`]).
/// Returns it trimmed.
pub fn check_note(note: &str) -> Result<&str, String> {
    let note = note.trim();
    if note.chars().count() > 100 {
        return Err("the note must be at most 100 characters".into());
    }
    if crate::text::has_forbidden(note) {
        return Err(format!(
            "the note must be one line of text without {}",
            crate::text::FORBIDDEN
        ));
    }
    Ok(note)
}

/// A token signed for `user` but not yet recorded: [`draft`] makes it without the database,
/// [`record`] stores it (so the signing key never has to enter a database closure).
#[derive(Debug, Clone)]
pub struct Draft {
    /// The row to store.
    pub info: TokenInfo,
    /// The token text.
    pub text: String,
}

/// Signs a new token for `user`, checking everything but the lifetime maximum (which lives in
/// the database; [`record`] checks it).
pub fn draft(
    key: &SigningKey,
    config: &Config,
    user: &User,
    duration: i64,
    scope: &str,
    note: &str,
) -> Result<Draft, AppError> {
    check_request(duration, scope, None).map_err(AppError::Invalid)?;
    let note = check_note(note).map_err(AppError::Invalid)?;
    let created = now();
    let info = TokenInfo {
        id: uuid::Uuid::new_v4().to_string(),
        note: note.to_owned(),
        scope: scope.to_owned(),
        created,
        expires: created + duration,
        last_used: None,
    };
    let text = key.sign(&claims_for(config, &user.username, &info));
    Ok(Draft { info, text })
}

/// Stores a [`draft`] once it passes the lifetime maximum, and records the event.
pub fn record(
    conn: &Connection,
    config: &Config,
    user: &User,
    draft: &Draft,
    via: Via<'_>,
) -> Result<(), AppError> {
    let info = &draft.info;
    let duration = info.expires - info.created;
    check_request(duration, &info.scope, max_seconds(conn, config)?).map_err(AppError::Invalid)?;
    conn.execute(
        "INSERT INTO tokens (id, user_id, note, scope, created, expires, sha256)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            info.id,
            user.id,
            info.note,
            info.scope,
            info.created,
            info.expires,
            jwt::token_sha256_hex(&draft.text)
        ],
    )?;
    let detail = format!(
        "{}{}, {} for {}",
        describe(info),
        via.suffix(),
        info.scope,
        describe_duration(duration)
    );
    users::record_event(conn, user.id, "API token made", &detail, via.address())
}

/// Makes a token for `user` as the web console does (the event carries `address`), records
/// it and the event, and returns its row and text. See [`draft`] and [`record`] to say
/// otherwise where it came from.
#[allow(clippy::too_many_arguments)]
pub fn issue(
    conn: &Connection,
    key: &SigningKey,
    config: &Config,
    user: &User,
    duration: i64,
    scope: &str,
    note: &str,
    address: Option<&str>,
) -> Result<(TokenInfo, String), AppError> {
    let draft = draft(key, config, user, duration, scope, note)?;
    record(conn, config, user, &draft, Via::Web(address))?;
    Ok((draft.info, draft.text))
}

/// "24 hours", "7 days": a lifetime in words.
pub fn describe_duration(seconds: i64) -> String {
    DURATIONS
        .iter()
        .find(|(s, _)| *s == seconds)
        .map(|(_, label)| (*label).to_owned())
        .unwrap_or_else(|| {
            let words = crate::web::describe_delta(seconds);
            words.trim_start_matches("in ").to_owned()
        })
}

/// The caller's active tokens (not revoked, not expired), newest first.
/// Rows of the `/tokens` table per page: the page and the htmx answer to "make API token"
/// render at most this many, however many tokens a script has made.
pub const PAGE_SIZE: i64 = 50;

/// One page of the user's active tokens, newest first, and whether older ones follow.
///
/// Ordered by insertion (`rowid`), which is creation order: SQLite then walks the
/// `tokens_user` index backwards and stops after one page, instead of sorting every token the
/// user has (a script can make thousands) on every page and every make-token answer.
pub fn list_active_page(
    conn: &Connection,
    user: &User,
    page: i64,
) -> Result<(Vec<TokenInfo>, bool), AppError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, note, scope, created, expires, last_used FROM tokens
         WHERE user_id = ?1 AND revoked IS NULL AND expires > ?2
         ORDER BY rowid DESC LIMIT ?3 OFFSET ?4",
    )?;
    let offset = page.max(0).saturating_mul(PAGE_SIZE);
    let rows = stmt.query_map(
        params![user.id, now(), PAGE_SIZE + 1, offset],
        token_from_row,
    )?;
    let mut tokens: Vec<TokenInfo> = rows.collect::<Result<_, _>>()?;
    let more = tokens.len() as i64 > PAGE_SIZE;
    tokens.truncate(PAGE_SIZE as usize);
    Ok((tokens, more))
}

/// How a token just made (`new_id`, the newest) changes the first page of the table: whether
/// it is the user's only active token (the page showed the empty state), and which token it
/// pushed from the first page to the second, if any. Two index walks of at most a page.
pub fn first_page_change(
    conn: &Connection,
    user: &User,
    new_id: &str,
) -> Result<(bool, Option<String>), AppError> {
    let t = now();
    let others: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM tokens
             WHERE user_id = ?1 AND revoked IS NULL AND expires > ?2 AND id <> ?3)",
        )?
        .query_row(params![user.id, t, new_id], |r| r.get(0))?;
    let dropped = conn
        .prepare_cached(
            "SELECT id FROM tokens WHERE user_id = ?1 AND revoked IS NULL AND expires > ?2
             ORDER BY rowid DESC LIMIT 1 OFFSET ?3",
        )?
        .query_row(params![user.id, t, PAGE_SIZE], |r| r.get(0))
        .optional()?;
    Ok((!others, dropped))
}

/// All of the user's active tokens, newest first.
pub fn list_active(conn: &Connection, user: &User) -> Result<Vec<TokenInfo>, AppError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, note, scope, created, expires, last_used FROM tokens
         WHERE user_id = ?1 AND revoked IS NULL AND expires > ?2
         ORDER BY created DESC, id",
    )?;
    let rows = stmt.query_map(params![user.id, now()], token_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn token_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenInfo> {
    Ok(TokenInfo {
        id: r.get(0)?,
        note: r.get(1)?,
        scope: r.get(2)?,
        created: r.get(3)?,
        expires: r.get(4)?,
        last_used: r.get(5)?,
    })
}

/// One of the caller's active tokens; anyone else's, revoked or expired is "not found".
pub fn get_active(conn: &Connection, user: &User, id: &str) -> Result<TokenInfo, AppError> {
    conn.query_row(
        "SELECT id, note, scope, created, expires, last_used FROM tokens
         WHERE id = ?1 AND user_id = ?2 AND revoked IS NULL AND expires > ?3",
        params![id, user.id, now()],
        token_from_row,
    )
    .optional()?
    .ok_or_else(|| AppError::NotFound("no such token".into()))
}

/// The text of an active token, re-signed from its stored claims (Ed25519 is deterministic).
pub fn text_of(key: &SigningKey, config: &Config, user: &User, info: &TokenInfo) -> String {
    key.sign(&claims_for(config, &user.username, info))
}

/// How the security log names a token: its note, or the start of its id.
pub fn describe(info: &TokenInfo) -> String {
    let short: String = info.id.chars().take(8).collect();
    if info.note.is_empty() {
        format!("token {short}")
    } else {
        format!("\u{201c}{}\u{201d} (token {short})", info.note)
    }
}

/// Revokes one of `user`'s active tokens; anyone else's, a revoked or an expired one is
/// "not found". Run it inside a write transaction.
pub fn revoke(
    conn: &Connection,
    user: &User,
    id: &str,
    via: Via<'_>,
) -> Result<TokenInfo, AppError> {
    let info = get_active(conn, user, id)?;
    conn.execute(
        "UPDATE tokens SET revoked = ?2 WHERE id = ?1 AND revoked IS NULL",
        params![info.id, now()],
    )?;
    let detail = format!("{}{}", describe(&info), via.suffix());
    users::record_event(conn, user.id, "API token revoked", &detail, via.address())?;
    Ok(info)
}

/// Revokes the active token of `user` whose text has this SHA-256 (hex, either case), as
/// rerobots' `POST /revoke/{sha256}` does. Anything else is "not found".
///
/// `current` pairs each active token's id with the hash of the text it has today (see
/// [`text_of`]); it is consulted when no stored hash matches, as happens for a token made
/// before an older release's public URL changed (since then the issuer is fixed: [`issuer`]).
pub fn revoke_by_sha256(
    conn: &Connection,
    user: &User,
    sha256: &str,
    current: &[(String, String)],
    via: Via<'_>,
) -> Result<TokenInfo, AppError> {
    let not_found = || AppError::NotFound("no such token".into());
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(not_found());
    }
    let sha256 = sha256.to_ascii_lowercase();
    let stored: Option<String> = conn
        .query_row(
            "SELECT id FROM tokens WHERE sha256 = ?1 AND user_id = ?2",
            params![sha256, user.id],
            |r| r.get(0),
        )
        .optional()?;
    let id = stored
        .or_else(|| {
            current
                .iter()
                .find(|(_, hash)| *hash == sha256)
                .map(|(id, _)| id.clone())
        })
        .ok_or_else(not_found)?;
    revoke(conn, user, &id, via)
}

/// Revokes every token of `user` and returns how many were still active.
pub fn purge(conn: &Connection, user: &User, via: Via<'_>) -> Result<usize, AppError> {
    let t = now();
    let active: i64 = conn.query_row(
        "SELECT COUNT(*) FROM tokens WHERE user_id = ?1 AND revoked IS NULL AND expires > ?2",
        params![user.id, t],
        |r| r.get(0),
    )?;
    conn.execute(
        "UPDATE tokens SET revoked = ?2 WHERE user_id = ?1 AND revoked IS NULL",
        params![user.id, t],
    )?;
    let noun = if active == 1 { "token" } else { "tokens" };
    let detail = format!("{active} active {noun} revoked{}", via.suffix());
    users::record_event(conn, user.id, "all tokens purged", &detail, via.address())?;
    Ok(usize::try_from(active).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_checked() {
        assert!(check_request(86400, "rw", None).is_ok());
        assert!(check_request(86400, "ro", Some(86400)).is_ok());
        assert!(check_request(86401, "rw", Some(86400))
            .unwrap_err()
            .contains("at most 24 hours"));
        assert!(check_request(86400, "admin", None).is_err());
        assert!(check_request(59, "rw", None).is_err());
        assert!(check_note(&"x".repeat(100)).is_ok());
        assert!(check_note(&"x".repeat(101)).is_err());
        assert!(check_note("a\u{7}b").is_err());
        assert_eq!(check_note("  spaced  "), Ok("spaced"));
    }
}
