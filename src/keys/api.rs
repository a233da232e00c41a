//! The keys API under `/api/sshkeys`, for scripts holding an API token.

use rocket::data::Data;
use rocket::response::status::Created;
use rocket::serde::json::Json;
use rocket::{delete, get, post, routes, Route, State};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::parse::{contains_private_key, KeyError};
use super::routes::parse_id;
use super::{KeyListCache, SshKey};
use crate::auth::ClientAddr;
use crate::db::Db;
use crate::error::AppError;
use crate::tokens::ApiUser;
use crate::web::read_text_body;

/// Routes of the keys API.
pub fn routes() -> Vec<Route> {
    routes![api_list, api_get, api_add, api_delete]
}

/// Largest request body read: an 8 KiB key, JSON escaping and a name fit easily.
const BODY_LIMIT: u64 = 64 * 1024;

/// A key as the API shows it.
#[derive(Debug, Serialize)]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    /// The algorithm, e.g. `ssh-ed25519`.
    #[serde(rename = "type")]
    pub kind: String,
    pub bits: u32,
    pub fingerprint: String,
    pub comment: String,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds, or null.
    pub last_used: Option<i64>,
}

impl From<SshKey> for ApiKey {
    fn from(k: SshKey) -> ApiKey {
        ApiKey {
            id: k.id,
            name: k.name,
            kind: k.algorithm,
            bits: k.bits,
            fingerprint: k.fingerprint,
            comment: k.comment,
            created: k.created,
            last_used: k.last_used,
        }
    }
}

/// The body of `POST /api/sshkeys`.
#[derive(Debug, Deserialize)]
struct NewKey {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    key: Option<String>,
}

/// The caller's keys, newest first: from the same [`KeyListCache`] as the page while the
/// database is unchanged, so a repeated call makes no database hop at all.
#[get("/api/sshkeys")]
async fn api_list(
    api: ApiUser,
    db: &State<Db>,
    lists: &State<KeyListCache>,
) -> Result<Json<Vec<ApiKey>>, AppError> {
    let keys = super::cached_list_for(db, lists, &api.user).await?;
    Ok(Json(keys.into_iter().map(ApiKey::from).collect()))
}

/// One of the caller's keys.
#[get("/api/sshkeys/<id>")]
async fn api_get(api: ApiUser, id: &str, db: &State<Db>) -> Result<Json<ApiKey>, AppError> {
    let id = parse_id(id)?;
    let user = api.user;
    let key = db.run(move |conn| super::get_for(conn, &user, id)).await?;
    Ok(Json(key.into()))
}

/// Adds a key from `{"name": ..., "key": ...}`. The body is read as text whatever its
/// Content-Type, since the rerobots client sends none. Refusals are 422 with the very message
/// the page shows.
#[post("/api/sshkeys", data = "<body>")]
async fn api_add(
    api: ApiUser,
    addr: ClientAddr,
    body: Data<'_>,
    db: &State<Db>,
) -> Result<Created<Json<ApiKey>>, AppError> {
    api.require_write()?;
    let body = read_text_body(body, BODY_LIMIT).await?;
    // A private key in the body, wherever it sits, is refused without echoing any of it.
    if contains_private_key(&body) {
        return Err(AppError::Invalid(KeyError::PrivateKey.to_string()));
    }
    let new: NewKey = serde_json::from_str(&body).map_err(|e| {
        AppError::BadRequest(format!(
            "the body must be JSON like {{\"name\": \"laptop\", \"key\": \"ssh-ed25519 AAAA...\"}} ({})",
            json_problem(&e)
        ))
    })?;
    let name = new.name.unwrap_or_default();
    let key = new.key.unwrap_or_default();
    match super::add(db, &api.user, &name, &key, addr.0).await? {
        Ok(added) => {
            Ok(Created::new(format!("/api/sshkeys/{}", added.id)).body(Json(ApiKey::from(added))))
        }
        Err(refusal) => Err(AppError::Invalid(refusal.message)),
    }
}

/// Where and what kind of JSON problem `e` is, without serde's own text (which may quote the
/// posted values, a secret among them).
pub fn json_problem(e: &serde_json::Error) -> String {
    let kind = match e.classify() {
        serde_json::error::Category::Io => "unreadable input",
        serde_json::error::Category::Syntax => "not valid JSON",
        serde_json::error::Category::Data => "unexpected fields or values",
        serde_json::error::Category::Eof => "the JSON ends too early",
    };
    format!("{kind} at line {}, column {}", e.line(), e.column())
}

/// Deletes one of the caller's keys; anyone else's id is 404.
#[delete("/api/sshkeys/<id>")]
async fn api_delete(
    api: ApiUser,
    addr: ClientAddr,
    id: &str,
    db: &State<Db>,
) -> Result<Json<Value>, AppError> {
    api.require_write()?;
    let id = parse_id(id)?;
    let user = api.user;
    db.write(move |tx| super::delete(tx, &user, id, addr.0.as_deref()))
        .await?;
    Ok(Json(json!({})))
}
