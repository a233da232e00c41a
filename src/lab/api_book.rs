//! Booking through the workspace API: `POST /api/new/<robot or type>`, `POST
//! /api/terminate/<id>` and the one-time `GET /api/instance/<id>/sshkey`.
//!
//! The rerobots client sends `/new` bodies without a Content-Type, so the body is read as text
//! and parsed here; refusals carry `result_message`, which is what the client reads.

use std::io::Cursor;

use rocket::data::Data;
use rocket::http::{ContentType, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::serde::json::Json;
use rocket::{get, post, routes, Route, State};
use serde_json::{json, Value};

use super::instances::{self, BookError, Booking, KeyChoice};
use super::keypair;
use crate::auth::ClientAddr;
use crate::db::Db;
use crate::error::AppError;
use crate::keys::parse::{contains_private_key, parse_public_key, KeyError};
use crate::tokens::ApiUser;
use crate::web::read_text_body;

/// Routes of this module.
pub fn routes() -> Vec<Route> {
    routes![get_instance_sshkey, post_new, post_terminate]
}

/// Largest `/new` body read.
const BODY_LIMIT: u64 = 64 * 1024;

/// A refusal the client reads from `result_message` (`/new`, `/terminate`); `error_message`
/// carries the same text for everyone else. The busy answer is exactly what upstream sends.
pub struct Refusal {
    status: Status,
    message: String,
}

impl Refusal {
    fn new(status: Status, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            message: message.into(),
        }
    }

    fn busy() -> Refusal {
        Refusal::new(Status::ServiceUnavailable, instances::BUSY)
    }
}

impl From<AppError> for Refusal {
    fn from(e: AppError) -> Refusal {
        match &e {
            AppError::Internal(d) | AppError::Unavailable(d) => tracing::error!("api: {d}"),
            _ => {}
        }
        Refusal::new(e.status(), e.public_message())
    }
}

impl<'r> Responder<'r, 'static> for Refusal {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        tracing::info!(
            "{} {}: {}: {}",
            req.method(),
            req.uri().path(),
            self.status,
            self.message
        );
        let body = if self.message == instances::BUSY {
            json!({ "result_message": self.message })
        } else {
            json!({ "result_message": self.message, "error_message": self.message })
        }
        .to_string();
        Response::build()
            .status(self.status)
            .header(ContentType::JSON)
            .sized_body(body.len(), Cursor::new(body))
            .ok()
    }
}

#[get("/api/instance/<id>/sshkey")]
async fn get_instance_sshkey(
    api: ApiUser,
    id: &str,
    db: &State<Db>,
) -> Result<Json<Value>, AppError> {
    // Handing out the key uses it up, so a read-only token may not.
    api.require_write()?;
    let id = id.to_owned();
    let user = api.user;
    let key = db
        .write(move |tx| instances::take_private_key(tx, &user, &id))
        .await?
        .ok_or_else(|| AppError::NotFound("no secret SSH key available".into()))?;
    instances::scrub_wal(db).await;
    Ok(Json(json!({ "key": keypair::to_pkcs1_pem(&key)? })))
}

/// The `/new` body: `{sshkey?, expire_d?, reserve, vpn?, eurl?}`.
struct NewRequest {
    sshkey: Option<String>,
    seconds: i64,
}

fn read_new(body: &str) -> Result<NewRequest, Refusal> {
    let bad = |m: &str| Refusal::new(Status::BadRequest, m);
    // A private key anywhere in the body is refused as the key pages do, echoing none of it
    // (serde's own error texts are never passed on either: they may quote the body).
    if contains_private_key(body) {
        return Err(Refusal::new(
            Status::UnprocessableEntity,
            KeyError::PrivateKey.to_string(),
        ));
    }
    let value: Value = if body.trim().is_empty() {
        json!({})
    } else {
        serde_json::from_str(body).map_err(|_| bad("the request body must be a JSON object"))?
    };
    let Value::Object(map) = value else {
        return Err(bad("the request body must be a JSON object"));
    };
    let sshkey = match map.get("sshkey") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(bad("sshkey must be a public key as a string")),
    };
    let seconds = match map.get("expire_d") {
        None | Some(Value::Null) => instances::DEFAULT_SECONDS,
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .ok_or_else(|| bad("expire_d must be a number of seconds"))?,
    };
    if map.get("vpn").and_then(Value::as_bool) == Some(true) {
        return Err(Refusal::new(
            Status::UnprocessableEntity,
            "VPN access is not offered by this lab; connect with SSH",
        ));
    }
    Ok(NewRequest { sshkey, seconds })
}

fn book_refusal(e: BookError) -> Refusal {
    match e {
        BookError::Busy => Refusal::busy(),
        BookError::NoMatch(m) => Refusal::new(Status::NotFound, m),
        BookError::Invalid(m) => Refusal::new(Status::UnprocessableEntity, m),
        BookError::App(e) => e.into(),
    }
}

#[post("/api/new/<target>", data = "<data>")]
async fn post_new(
    api: ApiUser,
    target: &str,
    data: Data<'_>,
    addr: ClientAddr,
    db: &State<Db>,
) -> Result<Json<Value>, Refusal> {
    api.require_write()?;
    let body = read_text_body(data, BODY_LIMIT).await?;
    let request = read_new(&body)?;
    let mut booking = Booking {
        target: target.to_owned(),
        seconds: request.seconds,
        keys: Vec::new(),
        private_key: None,
        via: "the API",
    };
    let mut private_pem = None;
    match &request.sshkey {
        Some(text) => {
            let parsed = parse_public_key(text)
                .map_err(|e| Refusal::new(Status::UnprocessableEntity, e.to_string()))?;
            booking.keys.push(KeyChoice::Given(parsed));
        }
        None => {
            // Generating takes a second; first make sure the booking would be accepted.
            let (who, check) = (api.user.clone(), booking.clone());
            db.run(move |conn| Ok(instances::precheck(conn, &who, &check)))
                .await?
                .map_err(book_refusal)?;
            let comment = format!("labgate {}", api.user.username);
            let pair = rocket::tokio::task::spawn_blocking(move || keypair::generate_rsa(&comment))
                .await
                .map_err(|e| AppError::internal(e.to_string()))??;
            private_pem = Some(keypair::to_pkcs1_pem(&pair.openssh)?);
            booking.keys.push(KeyChoice::Given(pair.public));
            // Handed out in this answer: nothing is kept to download later.
            booking.private_key = Some(String::new());
        }
    }
    let user = api.user;
    let id = db
        .write(move |tx| Ok(instances::book(tx, &user, &booking, addr.0.as_deref())))
        .await?
        .map_err(book_refusal)?;
    let mut answer = json!({ "success": true, "id": id });
    if let (Some(pem), Value::Object(map)) = (private_pem, &mut answer) {
        map.insert("sshkey".into(), json!(pem));
    }
    Ok(Json(answer))
}

#[post("/api/terminate/<id>")]
async fn post_terminate(
    api: ApiUser,
    id: &str,
    addr: ClientAddr,
    db: &State<Db>,
) -> Result<Json<Value>, Refusal> {
    api.require_write()?;
    let id = id.to_owned();
    let user = api.user;
    let ended = db
        .write(move |tx| instances::terminate(tx, &user, &id, addr.0.as_deref()))
        .await?;
    if ended {
        // Its generated private key, if any, was just discarded.
        instances::scrub_wal(db).await;
    }
    Ok(Json(json!({ "success": true })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_bodies() {
        assert_eq!(read_new("").ok().map(|r| r.seconds), Some(3600));
        let r = read_new(r#"{"sshkey": "ssh-ed25519 AAAA", "expire_d": 120, "reserve": false}"#)
            .ok()
            .unwrap();
        assert_eq!(
            (r.sshkey.as_deref(), r.seconds),
            (Some("ssh-ed25519 AAAA"), 120)
        );
        assert!(read_new("[1]").is_err());
        assert!(read_new("{").is_err());
        assert!(read_new(r#"{"vpn": true, "reserve": false}"#).is_err());
        let private = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n";
        for body in [
            serde_json::json!({ "sshkey": 5, "note": private }).to_string(),
            serde_json::json!(private).to_string(),
        ] {
            let refusal = read_new(&body).err().expect("refused");
            assert_eq!(refusal.status, Status::UnprocessableEntity);
            assert_eq!(refusal.message, KeyError::PrivateKey.to_string());
        }
        let refusal = read_new(r#"{"expire_d": "123456789"}"#)
            .err()
            .expect("refused");
        assert!(!refusal.message.contains("123456789"));
    }
}
