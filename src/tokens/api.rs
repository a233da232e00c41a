//! The token API, as rerobots has it: `GET /api/tokens`, `POST /api/revoke/{sha256}`,
//! `POST /api/purge`; and the public key at `GET /.well-known/jwks.json`.
//!
//! Revoking and purging change state, so they need an `rw` token: DESIGN's contract is that
//! `ro` tokens may only read (403 otherwise). A leaked `ro` token is shut off from the tokens
//! page or with an `rw` token.

use rocket::serde::json::Json;
use rocket::{get, post, routes, Route, State};
use serde_json::Value;

use super::jwt::SigningKey;
use super::{list_active, purge, revoke_by_sha256, ApiUser, TokenInfo, Via};
use crate::auth::ClientAddr;
use crate::config::Config;
use crate::db::Db;
use crate::error::AppError;

/// Routes of the API.
pub fn routes() -> Vec<Route> {
    routes![get_api_tokens, post_api_revoke, post_api_purge, get_jwks]
}

/// The caller's active tokens: metadata only, never a token's text.
#[get("/api/tokens")]
async fn get_api_tokens(api: ApiUser, db: &State<Db>) -> Result<Json<Vec<TokenInfo>>, AppError> {
    let tokens = db.run(move |conn| list_active(conn, &api.user)).await?;
    Ok(Json(tokens))
}

/// Revokes one of the caller's tokens (the calling one too) by the SHA-256 of its text.
/// Any body, with or without a Content-Type, is ignored.
#[post("/api/revoke/<sha256>")]
async fn post_api_revoke(
    addr: ClientAddr,
    api: ApiUser,
    sha256: &str,
    db: &State<Db>,
    key: &State<SigningKey>,
    config: &State<Config>,
) -> Result<(), AppError> {
    api.require_write()?;
    // Worked out here, because the key cannot go into the database closure: the texts the
    // caller's tokens have today, for the rare token whose stored hash is from an older text.
    let sha256 = sha256.to_owned();
    let user = api.user.clone();
    let (key, config) = (key.inner(), config.inner());
    let u = user.clone();
    let active = db.run(move |conn| list_active(conn, &u)).await?;
    let current: Vec<(String, String)> = active
        .iter()
        .map(|t| {
            let text = super::text_of(key, config, &user, t);
            (t.id.clone(), super::jwt::token_sha256_hex(&text))
        })
        .collect();
    db.write(move |tx| revoke_by_sha256(tx, &user, &sha256, &current, Via::Api(addr.0.as_deref())))
        .await?;
    // rerobots answers revoke and purge with an empty 200.
    Ok(())
}

/// Revokes every token of the caller, the calling one included.
#[post("/api/purge")]
async fn post_api_purge(addr: ClientAddr, api: ApiUser, db: &State<Db>) -> Result<(), AppError> {
    api.require_write()?;
    db.write(move |tx| purge(tx, &api.user, Via::Api(addr.0.as_deref())))
        .await?;
    Ok(())
}

/// The public half of the signing key, so robots and services can verify tokens offline.
#[get("/.well-known/jwks.json")]
fn get_jwks(key: &State<SigningKey>) -> Json<Value> {
    Json(key.jwks())
}
