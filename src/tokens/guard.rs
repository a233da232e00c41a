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
/// `what`, never a secret) instead of returned.
pub fn best_effort(
    conn: &Connection,
    what: &str,
    write: impl FnOnce(&Connection) -> rusqlite::Result<usize>,
) {
    // The connection goes back to a pool afterwards, so its usual patience is restored.
    let usual: Option<i64> = conn.query_row("PRAGMA busy_timeout", [], |r| r.get(0)).ok();
    let _ = conn.busy_timeout(BOOKKEEPING_WAIT);
    if let Err(e) = write(conn) {
        tracing::warn!("could not record {what}: {e}");
    }
    if let Some(ms) = usual.and_then(|ms| u64::try_from(ms).ok()) {
        let _ = conn.busy_timeout(Duration::from_millis(ms));
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
        .verify(&token, config.token_issuer(), config.token_issuer(), now())
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
            best_effort(conn, "a token's last use", |conn| {
                conn.execute(
                    "UPDATE tokens SET last_used = ?2 WHERE id = ?1",
                    params![claims.jti, t],
                )
            });
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
