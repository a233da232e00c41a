//! Admin → Bookings (`/admin/bookings`): every active booking with its member, robot, times
//! and keys, a page at a time; an admin ends any of them with a reason, which the member
//! sees on their own instance row and in their security log.

use rocket::form::FromForm;
use rocket::http::Status;
use rocket::{get, post, routes, Route, State};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::check_reason;
use crate::auth::{users, Admin, ClientAddr, CsrfForm};
use crate::db::{now, Db};
use crate::error::AppError;
use crate::lab::instances;
use crate::web::{Htmx, Reply, SeeOther, View};

/// Routes of this module.
pub fn routes() -> Vec<Route> {
    routes![get_bookings, post_end]
}

/// Bookings per page.
pub const PER_PAGE: i64 = 25;

/// An active booking as the admin sees it.
#[derive(Debug, Clone, Serialize)]
pub struct ActiveBooking {
    pub id: String,
    pub user_id: i64,
    pub username: String,
    pub robot_id: String,
    pub kind: String,
    pub host: String,
    pub created: i64,
    pub expires: i64,
    /// Saved keys by name, other keys by fingerprint.
    pub keys: Vec<String>,
}

/// One page (from 1) of the active bookings, newest first, and the number of pages.
pub fn active(conn: &Connection, page: i64) -> Result<(Vec<ActiveBooking>, i64), AppError> {
    let t = now();
    let total: i64 = conn.query_row(
        "SELECT COUNT(*) FROM instances WHERE status <> 'TERMINATED' AND expires > ?1",
        [t],
        |r| r.get(0),
    )?;
    let pages = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
    let page = page.clamp(1, pages);
    let mut stmt = conn.prepare(
        "SELECT i.id, u.id, u.username, d.id, d.type, d.ssh_host, i.created, i.expires
         FROM instances i JOIN users u ON u.id = i.user_id
         JOIN deployments d ON d.id = i.deployment_id
         WHERE i.status <> 'TERMINATED' AND i.expires > ?1
         ORDER BY i.created DESC, i.id LIMIT ?2 OFFSET ?3",
    )?;
    let mut list = stmt
        .query_map(params![t, PER_PAGE, (page - 1) * PER_PAGE], |r| {
            Ok(ActiveBooking {
                id: r.get(0)?,
                user_id: r.get(1)?,
                username: r.get(2)?,
                robot_id: r.get(3)?,
                kind: r.get(4)?,
                host: r.get(5)?,
                created: r.get(6)?,
                expires: r.get(7)?,
                keys: Vec::new(),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut keys = conn.prepare(
        "SELECT COALESCE(s.name, k.fingerprint) FROM instance_keys k
         LEFT JOIN ssh_keys s ON s.id = k.ssh_key_id
         WHERE k.instance_id = ?1 ORDER BY s.name IS NULL, s.name, k.fingerprint",
    )?;
    for b in &mut list {
        b.keys = keys
            .query_map([&b.id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
    }
    Ok((list, pages))
}

/// Ends any member's active booking with `reason`, in the caller's write transaction: the
/// member's row shows the reason and their security log says who ended it and why. `false`
/// when it had ended already; "not found" for an unknown id.
pub fn end_with_reason(
    conn: &Connection,
    id: &str,
    reason: &str,
    admin: &str,
) -> Result<bool, AppError> {
    let row: Option<(i64, String, String, String, i64, i64)> = conn
        .query_row(
            "SELECT i.user_id, d.type, d.id, i.status, i.expires, i.starts FROM instances i
             JOIN deployments d ON d.id = i.deployment_id WHERE i.id = ?1",
            [id],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )
        .optional()?;
    let Some((user_id, kind, robot, status, expires, starts)) = row else {
        return Err(AppError::NotFound("no such booking".into()));
    };
    if status == instances::TERMINATED || expires <= now() {
        return Ok(false);
    }
    conn.execute(
        "UPDATE instances SET end_reason = ?2 WHERE id = ?1",
        params![id, reason],
    )?;
    if !instances::end(conn, id, now())? {
        return Ok(false);
    }
    let detail = format!("{kind} robot {robot}, instance {id}: ended by admin {admin}: {reason}");
    // A booking that had not started is cancelled rather than ended.
    let event = if starts > now() {
        "booking cancelled"
    } else {
        "instance terminated"
    };
    users::record_event(conn, user_id, event, &detail, None)?;
    // The robot is free now: whoever waits in line for it gets it.
    crate::lab::bookings::reservations::serve(conn)?;
    Ok(true)
}

#[derive(Serialize)]
struct PageCtx {
    bookings: Vec<ActiveBooking>,
    page: i64,
    pages: i64,
    /// `(booking id, message)` of a refused end.
    error: Option<(String, String)>,
}

async fn page(db: &Db, page: i64, error: Option<(String, String)>) -> Result<View, AppError> {
    let (bookings, pages) = db.run(move |conn| active(conn, page)).await?;
    let page = page.clamp(1, pages);
    Ok(View::new(
        "admin/bookings.html",
        PageCtx {
            bookings,
            page,
            pages,
            error,
        },
    ))
}

#[get("/admin/bookings?<page>")]
async fn get_bookings(
    _admin: Admin,
    hx: Htmx,
    page: Option<&str>,
    db: &State<Db>,
) -> Result<View, AppError> {
    // Anything but a page number shows the first page.
    let number = page.and_then(|p| p.trim().parse::<i64>().ok()).unwrap_or(1);
    Ok(self::page(db, number, None)
        .await?
        .htmx_block(hx, "bookings"))
}

#[derive(FromForm)]
struct EndForm {
    #[field(default = String::new())]
    reason: String,
    #[field(default = 1)]
    page: i64,
}

#[post("/admin/bookings/<id>/end", data = "<form>")]
async fn post_end(
    admin: Admin,
    hx: Htmx,
    addr: ClientAddr,
    id: &str,
    form: CsrfForm<EndForm>,
    db: &State<Db>,
) -> Result<Reply, AppError> {
    let EndForm { reason, page } = form.0;
    let reason = match check_reason(&reason) {
        Ok(r) => r.to_owned(),
        Err(m) => {
            return Ok(self::page(db, page, Some((id.to_owned(), m)))
                .await?
                .htmx_block(hx, "bookings")
                .status(Status::UnprocessableEntity)
                .into())
        }
    };
    let id = id.to_owned();
    let ended = {
        let id = id.clone();
        db.write(move |tx| {
            let ended = end_with_reason(tx, &id, &reason, &admin.0.username)?;
            if ended {
                let detail = format!("instance {id}: {reason}");
                users::record_event(tx, admin.0.id, "booking ended", &detail, addr.0.as_deref())?;
            }
            Ok(ended)
        })
        .await?
    };
    if ended {
        // Its generated private key, if any, was just discarded.
        instances::scrub_wal(db).await;
    }
    let message = if ended {
        "Booking ended; its keys no longer log in, and the member sees why."
    } else {
        "That booking had already ended."
    };
    if hx.0 {
        return Ok(self::page(db, page, None)
            .await?
            .block("bookings")
            .toast(message)
            .into());
    }
    Ok(SeeOther::with_flash(format!("/admin/bookings?page={page}"), message).into())
}
