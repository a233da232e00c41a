//! API tokens: the signing key and JWTs ([`jwt`]), issuing and checking tokens, the Bearer
//! guard for `/api`, the `/tokens` page, the token API and the published JWKS.

pub mod cli;
pub mod jwt;

use rocket::http::Status;
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};
use rocket::serde::json::Json;
use rocket::{get, routes, Route, State};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::auth::{users, User};
use crate::config::Config;
use crate::db::{now, Db};
use crate::error::{guard_error, AppError};
use crate::web::View;
use jwt::{Claims, SigningKey};

/// Routes of this module.
pub fn routes() -> Vec<Route> {
    routes![get_tokens, get_jwks]
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
    let setting = users::setting(conn, MAX_SECONDS_KEY)?.and_then(|v| v.parse::<i64>().ok());
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
            crate::web::describe_delta(max).trim_start_matches("in ")
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
        iss: config.public_url.clone(),
        aud: config.public_url.clone(),
        sub: username.to_owned(),
        iat: info.created,
        nbf: info.created,
        exp: info.expires,
        jti: info.id.clone(),
        sc: info.scope.clone(),
    }
}

/// Makes a token for `user`, records it and the event, and returns its row and text.
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
    check_request(duration, scope, max_seconds(conn, config)?).map_err(AppError::Invalid)?;
    let note = note.trim();
    if note.chars().count() > 100 {
        return Err(AppError::Invalid(
            "the note must be at most 100 characters".into(),
        ));
    }
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
            jwt::token_sha256_hex(&text)
        ],
    )?;
    let detail = format!("{} for {}", scope, describe_duration(duration));
    let detail = if info.note.is_empty() {
        detail
    } else {
        format!("{detail}: {}", info.note)
    };
    users::record_event(conn, user.id, "API token made", &detail, address)?;
    Ok((info, text))
}

/// "24 hours", "7 days": a lifetime in words.
pub fn describe_duration(seconds: i64) -> String {
    DURATIONS
        .iter()
        .find(|(s, _)| *s == seconds)
        .map(|(_, label)| (*label).to_owned())
        .unwrap_or_else(|| format!("{seconds} s"))
}

/// The caller's active tokens (not revoked, not expired), newest first.
pub fn list_active(conn: &Connection, user: &User) -> Result<Vec<TokenInfo>, AppError> {
    let mut stmt = conn.prepare(
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

/// The caller of an `/api` route, proven by a Bearer token (never by the session cookie).
#[derive(Debug, Clone)]
pub struct ApiUser {
    pub user: User,
    /// The token's id (`jti`).
    pub token_id: String,
    /// `"rw"` or `"ro"`.
    pub scope: String,
}

impl ApiUser {
    /// Refuses read-only tokens on routes that change something.
    pub fn require_write(&self) -> Result<(), AppError> {
        if self.scope == "rw" {
            Ok(())
        } else {
            Err(AppError::Forbidden(
                "this token is read-only (scope ro)".into(),
            ))
        }
    }
}

/// The token of an `Authorization: Bearer` header (scheme case-insensitive).
pub fn bearer(req: &Request<'_>) -> Option<String> {
    let value = req.headers().get_one("Authorization")?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

async fn authenticate(req: &Request<'_>) -> Result<ApiUser, AppError> {
    let token = bearer(req).ok_or(AppError::Unauthorized)?;
    let (Some(key), Some(config), Some(db)) = (
        req.rocket().state::<SigningKey>(),
        req.rocket().state::<Config>(),
        req.rocket().state::<Db>(),
    ) else {
        return Err(AppError::internal("token state not managed"));
    };
    let claims = key
        .verify(&token, &config.public_url, &config.public_url, now())
        .map_err(|e| {
            tracing::info!("refused a token: {e}");
            AppError::Unauthorized
        })?;
    db.run(move |conn| {
        let t = now();
        let row = conn
            .query_row(
                "SELECT u.id, u.username, u.is_admin, k.scope, k.last_used FROM tokens k
                 JOIN users u ON u.id = k.user_id
                 WHERE k.id = ?1 AND k.revoked IS NULL AND u.disabled = 0",
                [&claims.jti],
                |r| {
                    let user = User {
                        id: r.get(0)?,
                        username: r.get(1)?,
                        is_admin: r.get(2)?,
                    };
                    Ok((user, r.get::<_, String>(3)?, r.get::<_, Option<i64>>(4)?))
                },
            )
            .optional()?;
        let Some((user, scope, last_used)) = row else {
            return Err(AppError::Unauthorized);
        };
        if user.username != claims.sub || scope != claims.sc {
            return Err(AppError::Unauthorized);
        }
        if last_used.is_none_or(|at| t - at >= LAST_USED_EVERY) {
            conn.execute(
                "UPDATE tokens SET last_used = ?2 WHERE id = ?1",
                params![claims.jti, t],
            )?;
        }
        Ok(ApiUser {
            user,
            token_id: claims.jti,
            scope,
        })
    })
    .await
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ApiUser {
    type Error = AppError;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        match authenticate(req).await {
            Ok(user) => Outcome::Success(user),
            Err(AppError::Unauthorized) => {
                Outcome::Error((Status::Unauthorized, AppError::Unauthorized))
            }
            Err(e) => guard_error(req, e),
        }
    }
}

#[get("/tokens")]
fn get_tokens(_user: User) -> View {
    View::new("tokens/index.html", ())
}

/// The public half of the signing key, so robots and services can verify tokens offline.
#[get("/.well-known/jwks.json")]
fn get_jwks(key: &State<SigningKey>) -> Json<serde_json::Value> {
    Json(key.jwks())
}
