//! Admins and bookings: the "Bookings and time" part of `/admin/limits` (how far ahead members
//! may book, how many future bookings each may hold, how long a reservation waits, the lab's
//! time zone; the limits page itself is [`crate::tokens::limits`]), and ending or cancelling
//! any member's booking from Admin → Robots.

use rocket::form::FromForm;
use rocket::http::Status;
use rocket::{post, routes, Route, State};
use rusqlite::Connection;
use serde::Serialize;

use super::{
    Limits, AHEAD_CHOICES, AHEAD_KEY, MAX_FUTURE_CHOICES, MAX_FUTURE_KEY, RESERVATION_CHOICES,
    RESERVATION_KEY,
};
use crate::auth::{users, Admin, ClientAddr, CsrfForm};
use crate::config::Config;
use crate::db::{set_setting, Db};
use crate::error::AppError;
use crate::lab::instances::describe_seconds;
use crate::web::{Htmx, Reply, SeeOther};
use crate::zone::{LabZone, ZONE_KEY};

/// Routes of this module.
pub fn routes() -> Vec<Route> {
    routes![post_booking_limits]
}

/// What the limits page shows of these settings.
#[derive(Debug, Serialize)]
pub struct Settings {
    pub limits: Limits,
    pub zone: String,
    pub ahead_choices: Vec<(i64, &'static str)>,
    pub max_future_choices: Vec<i64>,
    pub reservation_choices: Vec<(i64, &'static str)>,
    /// A refusal of the bookings form, if any.
    pub error: Option<String>,
}

impl Settings {
    /// The settings in force.
    pub fn load(conn: &Connection) -> Result<Settings, AppError> {
        Ok(Settings {
            limits: Limits::load(conn)?,
            zone: LabZone::load(conn)?.name().to_owned(),
            ahead_choices: AHEAD_CHOICES.to_vec(),
            max_future_choices: MAX_FUTURE_CHOICES.to_vec(),
            reservation_choices: RESERVATION_CHOICES.to_vec(),
            error: None,
        })
    }
}

#[derive(FromForm)]
struct BookingLimitsForm {
    #[field(default = String::new())]
    ahead_seconds: String,
    #[field(default = String::new())]
    max_future: String,
    #[field(default = String::new())]
    reservation_seconds: String,
    #[field(default = String::new())]
    timezone: String,
}

fn pick(value: &str, allowed: &[i64], what: &str) -> Result<i64, String> {
    value
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|v| allowed.contains(v))
        .ok_or_else(|| format!("choose {what} from the list"))
}

/// Checks the posted values: `(ahead, max_future, reservation, zone)`.
fn read(f: &BookingLimitsForm) -> Result<(i64, i64, i64, LabZone), String> {
    let aheads: Vec<i64> = AHEAD_CHOICES.iter().map(|c| c.0).collect();
    let waits: Vec<i64> = RESERVATION_CHOICES.iter().map(|c| c.0).collect();
    Ok((
        pick(&f.ahead_seconds, &aheads, "how far ahead members may book")?,
        pick(
            &f.max_future,
            &MAX_FUTURE_CHOICES,
            "a number of future bookings",
        )?,
        pick(
            &f.reservation_seconds,
            &waits,
            "how long a reservation waits",
        )?,
        LabZone::named(&f.timezone)?,
    ))
}

#[post("/admin/limits/bookings", data = "<form>")]
async fn post_booking_limits(
    addr: ClientAddr,
    admin: Admin,
    form: CsrfForm<BookingLimitsForm>,
    hx: Htmx,
    db: &State<Db>,
    config: &State<Config>,
) -> Result<Reply, AppError> {
    let (ahead, max_future, wait, zone) = match read(&form.0) {
        Ok(values) => values,
        Err(message) => {
            return Ok(
                crate::tokens::limits::limits_view(db, config, None, Some(message))
                    .await?
                    .htmx_block(hx, "booking_limits")
                    .status(Status::UnprocessableEntity)
                    .into(),
            )
        }
    };
    let detail = format!(
        "bookings up to {} ahead, {max_future} future booking(s) per member, reservations wait {}, time zone {}",
        describe_seconds(ahead.max(1)),
        describe_seconds(wait),
        zone.name()
    );
    let name = zone.name().to_owned();
    db.write(move |tx| {
        set_setting(tx, AHEAD_KEY, &ahead.to_string())?;
        set_setting(tx, MAX_FUTURE_KEY, &max_future.to_string())?;
        set_setting(tx, RESERVATION_KEY, &wait.to_string())?;
        set_setting(tx, ZONE_KEY, &name)?;
        users::record_event(tx, admin.0.id, "limits changed", &detail, addr.0.as_deref())
    })
    .await?;
    if hx.0 {
        return Ok(crate::tokens::limits::limits_view(db, config, None, None)
            .await?
            .block("booking_limits")
            .toast("Booking settings saved.")
            .into());
    }
    Ok(SeeOther::with_flash("/admin/limits", "Booking settings saved.").into())
}
