//! Reservations and the timeline in the JSON API: `GET /api/reservations`, `DELETE
//! /api/reservation/{id}` (rerobots shapes: `{"reservations": [{id, created, desc, ..}]}`), and
//! labgate's own `GET /api/deployment/{id}/timeline` (the robot's next seven days).

use rocket::serde::json::Json;
use rocket::{delete, get, routes, Route, State};
use serde_json::{json, Value};

use super::reservations::{self, Reservation};
use super::timeline;
use crate::auth::ClientAddr;
use crate::db::{now, Db};
use crate::error::AppError;
use crate::lab::api::api_time;
use crate::lab::instances;
use crate::tokens::ApiUser;
use crate::zone::LabZone;

/// Routes of this module.
pub fn routes() -> Vec<Route> {
    routes![get_reservations, delete_reservation, get_timeline]
}

fn reservation_json(r: &Reservation) -> Value {
    let mut v = json!({
        "id": r.id,
        "created": api_time(r.created),
        "desc": r.desc,
        "status": r.status,
        "expires": api_time(r.expires),
        "duration": r.seconds,
    });
    if let Value::Object(map) = &mut v {
        if r.position > 0 {
            map.insert("position".into(), json!(r.position));
        }
        if let Some(i) = &r.instance_id {
            map.insert("instance".into(), json!(i));
        }
    }
    v
}

/// The caller's reservations still waiting in line, oldest first.
#[get("/api/reservations")]
async fn get_reservations(api: ApiUser, db: &State<Db>) -> Result<Json<Value>, AppError> {
    let user = api.user;
    let mut list = db
        .run(move |conn| reservations::list_for(conn, &user, false))
        .await?;
    list.reverse();
    let shown: Vec<Value> = list.iter().map(reservation_json).collect();
    Ok(Json(json!({ "reservations": shown })))
}

/// Takes a reservation out of line; one that is no longer waiting answers 200 as well.
#[delete("/api/reservation/<id>")]
async fn delete_reservation(
    api: ApiUser,
    id: &str,
    addr: ClientAddr,
    db: &State<Db>,
) -> Result<Json<Value>, AppError> {
    api.require_write()?;
    let (user, id) = (api.user, id.to_owned());
    db.write(move |tx| reservations::cancel(tx, &user, &id, addr.0.as_deref()))
        .await?;
    Ok(Json(json!({ "success": true })))
}

/// labgate's timeline of one robot: its bookings and free windows over the next seven days.
/// Times are unix seconds and RFC 3339 (UTC); the lab's time zone is named for display.
#[get("/api/deployment/<id>/timeline")]
async fn get_timeline(api: ApiUser, id: &str, db: &State<Db>) -> Result<Json<Value>, AppError> {
    let (user, id) = (api.user, id.to_owned());
    let (line, zone) = db
        .run(move |conn| {
            let robot = instances::matching(conn, user.id, &id)?
                .into_iter()
                .find(|d| d.id == id)
                .ok_or_else(|| {
                    AppError::NotFound("no workspace deployment found with given ID".into())
                })?;
            let zone = LabZone::load(conn)?;
            Ok((
                timeline::for_robot(conn, &robot, &user, now(), &zone)?,
                zone,
            ))
        })
        .await?;
    let rfc = |ts: i64| {
        time::OffsetDateTime::from_unix_timestamp(ts)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default()
    };
    let bookings: Vec<Value> = line
        .slots
        .iter()
        .map(|s| {
            json!({
                "start": s.start, "end": s.end,
                "start_time": rfc(s.start), "end_time": rfc(s.end),
                "mine": s.mine, "running": s.running,
                "user": s.user, "instance": s.id,
            })
        })
        .collect();
    let free: Vec<Value> = line
        .free
        .iter()
        .map(|f| json!({ "start": f.start, "end": f.end, "start_time": rfc(f.start), "end_time": rfc(f.end) }))
        .collect();
    Ok(Json(json!({
        "deployment": line.deployment,
        "type": line.kind,
        "timezone": zone.name(),
        "from": line.from,
        "until": line.until,
        "bookings": bookings,
        "free": free,
    })))
}
