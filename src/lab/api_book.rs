//! Booking through the workspace API: `POST /api/new/<robot or type>`, `POST
//! /api/terminate/<id>` and the one-time `GET /api/instance/<id>/sshkey`.
//!
//! The rerobots client sends `/new` bodies without a Content-Type, so the body is read as text
//! and parsed here; refusals carry `result_message`, which is what the client reads.
//!
//! `reserve: true` waits in line when every matching robot is busy and answers, as rerobots
//! does, `{"success": false, "id": <reservation id>}` (see [`super::bookings::reservations`]).
//! labgate also takes `start` (unix seconds or RFC 3339) to book a later window.

use std::io::Cursor;

use rocket::data::Data;
use rocket::http::{ContentType, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::serde::json::Json;
use rocket::{get, post, routes, Route, State};
use serde_json::{json, Value};

use super::bookings::reservations;
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
            AppError::Internal(d) | AppError::Unavailable(d) => {
                tracing::error!("api: {}", crate::logging::escape(d))
            }
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
            crate::logging::escape(req.uri().path().as_str()),
            self.status,
            crate::logging::escape(&self.message)
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

/// The `/new` body: `{sshkey?, expire_d?, reserve, vpn?, eurl?}`, plus labgate's `start`.
struct NewRequest {
    sshkey: Option<String>,
    seconds: i64,
    reserve: bool,
    starts: Option<i64>,
}

/// A `start` as unix seconds or an RFC 3339 time (`2026-12-02T14:00:00+01:00`).
fn read_start(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
        Value::String(s) => {
            time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339)
                .ok()
                .map(|t| t.unix_timestamp())
        }
        _ => None,
    }
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
    let reserve = match map.get("reserve") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad("reserve must be true or false")),
    };
    let starts = match map.get("start") {
        None | Some(Value::Null) => None,
        Some(v) => Some(read_start(v).ok_or_else(|| {
            bad("start must be unix seconds or an RFC 3339 time such as 2026-12-02T14:00:00Z")
        })?),
    };
    if reserve && starts.is_some() {
        return Err(Refusal::new(
            Status::UnprocessableEntity,
            "a booking with a start does not wait in line; leave out reserve or start",
        ));
    }
    if map.get("vpn").and_then(Value::as_bool) == Some(true) {
        return Err(Refusal::new(
            Status::UnprocessableEntity,
            "VPN access is not offered by this lab; connect with SSH",
        ));
    }
    Ok(NewRequest {
        sshkey,
        seconds,
        reserve,
        starts,
    })
}

fn book_refusal(e: BookError) -> Refusal {
    match e {
        BookError::Busy => Refusal::busy(),
        BookError::NoMatch(m) => Refusal::new(Status::NotFound, m),
        BookError::Invalid(m) => Refusal::new(Status::UnprocessableEntity, m),
        BookError::App(e) => e.into(),
    }
}

/// Makes an RSA key pair off the executor, within the bound on generations at once.
async fn generate_pair(username: &str) -> Result<keypair::KeyPair, AppError> {
    keypair::generate_rsa_off(format!("labgate {username}")).await
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
    let generate = request.sshkey.is_none();
    let mut booking = Booking {
        target: target.to_owned(),
        starts: request.starts,
        seconds: request.seconds,
        keys: Vec::new(),
        private_key: None,
        via: "the API",
        generate,
    };
    if let Some(text) = &request.sshkey {
        let parsed = parse_public_key(text)
            .map_err(|e| Refusal::new(Status::UnprocessableEntity, e.to_string()))?;
        booking.keys.push(KeyChoice::Given(parsed));
    }
    // The robot is claimed first; a key pair is made only for a booking that got one.
    let (user, claim) = (api.user.clone(), booking.clone());
    let address = addr.0.clone();
    let made = db
        .write(move |tx| Ok(instances::book(tx, &user, &claim, address.as_deref())))
        .await?;
    let id = match made {
        Ok(id) => id,
        Err(BookError::Busy) if request.reserve => {
            return reserve(db, &api, booking, addr).await;
        }
        Err(e) => return Err(book_refusal(e)),
    };
    let mut answer = json!({ "success": true, "id": id });
    if generate {
        let pem = match generate_pair(&api.user.username).await {
            Ok(pair) => {
                let pem = keypair::to_pkcs1_pem(&pair.openssh)?;
                let (user, id) = (api.user.clone(), id.clone());
                // Handed out in this answer: nothing is kept to download later.
                db.write(move |tx| instances::attach_generated(tx, &user, &id, &pair.public, ""))
                    .await?;
                pem
            }
            Err(e) => {
                let (user, id) = (api.user.clone(), id.clone());
                db.write(move |tx| instances::release_claim(tx, &user, &id))
                    .await?;
                return Err(e.into());
            }
        };
        if let Value::Object(map) = &mut answer {
            map.insert("sshkey".into(), json!(pem));
        }
    }
    Ok(Json(answer))
}

/// Every matching robot is busy and the caller asked to wait: a reservation, answered as
/// rerobots answers it. A generated pair's private key waits for the instance, to be fetched
/// once from `GET /api/instance/{id}/sshkey`.
async fn reserve(
    db: &Db,
    api: &ApiUser,
    booking: Booking,
    addr: ClientAddr,
) -> Result<Json<Value>, Refusal> {
    let (user, target, seconds) = (api.user.clone(), booking.target.clone(), booking.seconds);
    db.run(move |conn| Ok(reservations::precheck(conn, &user, &target, seconds)))
        .await?
        .map_err(book_refusal)?;
    let generated = if booking.generate {
        let pair = generate_pair(&api.user.username).await?;
        Some((pair.public, pair.openssh))
    } else {
        None
    };
    let request = reservations::Request {
        target: booking.target,
        seconds: booking.seconds,
        keys: booking.keys,
        generated,
        via: "the API",
    };
    let user = api.user.clone();
    let id = db
        .write(move |tx| Ok(reservations::create(tx, &user, &request, addr.0.as_deref())))
        .await?
        .map_err(book_refusal)?;
    Ok(Json(json!({ "success": false, "id": id })))
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
