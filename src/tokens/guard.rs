//! The Bearer-token request guard for `/api`: [`ApiUser`].
//!
//! The session cookie is never looked at here, nor a token in the query string: a script proves
//! who it is with `Authorization: Bearer <token>` only.

use std::time::Duration;

use rocket::http::Status;
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};
use rusqlite::{params, Connection, OptionalExtension};

use super::jwt::SigningKey;
use super::LAST_USED_EVERY;
use crate::auth::cache::{key_of, AuthCache};
use crate::auth::User;
use crate::config::Config;
use crate::db::{now, Db};
use crate::error::{guard_error, AppError};

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

/// How long a bookkeeping write waits for the database's write lock before giving up.
const BOOKKEEPING_WAIT: Duration = Duration::from_millis(200);

/// Runs a bookkeeping write, such as a `last used` stamp, that must never fail or hold up the
/// request it belongs to: it waits briefly for the write lock, and an error is logged (with
/// `what`, never a secret) instead of returned. Says whether the write was made.
pub fn best_effort(
    conn: &Connection,
    what: &str,
    write: impl FnOnce(&Connection) -> rusqlite::Result<usize>,
) -> bool {
    // The connection goes back to a pool afterwards, so its usual patience is restored.
    let usual: Option<i64> = conn.query_row("PRAGMA busy_timeout", [], |r| r.get(0)).ok();
    let _ = conn.busy_timeout(BOOKKEEPING_WAIT);
    let written = write(conn);
    if let Err(e) = &written {
        tracing::warn!("could not record {what}: {e}");
    }
    if let Some(ms) = usual.and_then(|ms| u64::try_from(ms).ok()) {
        let _ = conn.busy_timeout(Duration::from_millis(ms));
    }
    written.is_ok()
}

/// The token of an `Authorization: Bearer` header (scheme case-insensitive).
pub fn bearer(req: &Request<'_>) -> Option<String> {
    let value = req.headers().get_one("Authorization")?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// Tokens already verified, with their owner, while the database is unchanged (see
/// [`AuthCache`]): a token seen again skips the signature check and the database hop.
pub type TokenCache = AuthCache<ApiUser>;

async fn authenticate(req: &Request<'_>) -> Result<ApiUser, AppError> {
    let token = bearer(req).ok_or(AppError::Unauthorized)?;
    let (Some(key), Some(config), Some(db), Some(cache)) = (
        req.rocket().state::<SigningKey>(),
        req.rocket().state::<Config>(),
        req.rocket().state::<Db>(),
        req.rocket().state::<TokenCache>(),
    ) else {
        return Err(AppError::internal("token state not managed"));
    };
    let cache_key = key_of(&token);
    let (cached, seen) = cache.get(db, &cache_key, now());
    if let Some(user) = cached {
        return Ok(user);
    }
    let claims = key
        .verify(&token, config.token_issuer(), config.token_issuer(), now())
        .map_err(|e| {
            tracing::info!("refused a token: {e}");
            AppError::Unauthorized
        })?;
    let expires = claims.exp;
    let (user, last_used) = db
        .run(move |conn| {
            let t = now();
            let row = conn
                .prepare_cached(
                    "SELECT u.id, u.username, u.is_admin, k.scope, k.last_used FROM tokens k
                 JOIN users u ON u.id = k.user_id
                 WHERE k.id = ?1 AND k.revoked IS NULL AND k.expires > ?2 AND u.disabled = 0",
                )?
                .query_row(params![claims.jti, t], |r| {
                    let user = User {
                        id: r.get(0)?,
                        username: r.get(1)?,
                        is_admin: r.get(2)?,
                    };
                    Ok((user, r.get::<_, String>(3)?, r.get::<_, Option<i64>>(4)?))
                })
                .optional()?;
            let Some((user, scope, last_used)) = row else {
                return Err(AppError::Unauthorized);
            };
            if user.username != claims.sub || scope != claims.sc {
                return Err(AppError::Unauthorized);
            }
            let mut last_used = last_used.unwrap_or(i64::MIN);
            // When the stamp could not be written, `last_used` stays due and nothing is cached,
            // so the next request tries again.
            if t.saturating_sub(last_used) >= LAST_USED_EVERY
                && best_effort(conn, "a token's last use", |conn| {
                    conn.prepare_cached("UPDATE tokens SET last_used = ?2 WHERE id = ?1")?
                        .execute(params![claims.jti, t])
                })
            {
                last_used = t;
            }
            let user = ApiUser {
                user,
                token_id: claims.jti,
                scope,
            };
            Ok((user, last_used))
        })
        .await?;
    // Trusted from the cache until the token expires or its `last used` is due again, when
    // the next request takes the full path above and stamps it.
    let until = expires.min(last_used.saturating_add(LAST_USED_EVERY));
    cache.put(seen, cache_key, user.clone(), until);
    Ok(user)
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
