//! `/admin/limits`: the longest API token lifetime and the longest instance booking.
//!
//! Both live in the `settings` table: [`super::MAX_SECONDS_KEY`] (`token_max_seconds`, absent
//! meaning no limit; `LABGATE_TOKEN_MAX_SECONDS` also applies and the smaller wins) and
//! [`INSTANCE_MAX_KEY`] (`instance_max_seconds`, absent meaning 24 hours), which the lab reads
//! with [`crate::lab::instances::max_seconds`].

use rocket::form::FromForm;
use rocket::http::Status;
use rocket::{get, post, routes, Route, State};
use rusqlite::Connection;
use serde::Serialize;

use super::{describe_duration, DURATIONS, MAX_SECONDS_KEY};
use crate::auth::{users, Admin, ClientAddr, CsrfForm};
use crate::config::Config;
use crate::db::Db;
use crate::error::AppError;
use crate::lab::instances;
use crate::web::{Htmx, Reply, SeeOther, View};

/// Routes of the limits page.
pub fn routes() -> Vec<Route> {
    routes![get_limits, post_limits]
}

/// Settings key of the longest instance booking, in seconds (owned by the lab).
pub use crate::lab::instances::MAX_SECONDS_KEY as INSTANCE_MAX_KEY;
/// Booking lengths the admin can choose from, in seconds, with their labels.
pub const INSTANCE_CHOICES: [(i64, &str); 5] = [
    (3600, "1 hour"),
    (4 * 3600, "4 hours"),
    (8 * 3600, "8 hours"),
    (86400, "24 hours"),
    (7 * 86400, "7 days"),
];

/// The admin-set token maximum alone (without the operator's environment variable).
fn token_setting(conn: &Connection) -> Result<Option<i64>, AppError> {
    Ok(crate::db::setting(conn, MAX_SECONDS_KEY)?.and_then(|v| v.parse::<i64>().ok()))
}

#[derive(Serialize)]
struct LimitsCtx {
    token_choices: Vec<(i64, &'static str)>,
    instance_choices: Vec<(i64, &'static str)>,
    /// The admin's token maximum; `None` for "no limit".
    token_max: Option<i64>,
    instance_max: i64,
    /// `LABGATE_TOKEN_MAX_SECONDS`, in words, when the operator set it.
    env_max: Option<String>,
    error: Option<String>,
    /// Bookings ahead, reservations and the lab's time zone (owned by the lab).
    bookings: crate::lab::bookings::admin::Settings,
}

/// The limits page; `bookings_error` is a refusal of the bookings form.
pub(crate) async fn limits_view(
    db: &Db,
    config: &Config,
    error: Option<String>,
    bookings_error: Option<String>,
) -> Result<View, AppError> {
    let (token_max, instance_max, mut bookings) = db
        .run(|conn| {
            Ok((
                token_setting(conn)?,
                instances::max_seconds(conn)?,
                crate::lab::bookings::admin::Settings::load(conn)?,
            ))
        })
        .await?;
    bookings.error = bookings_error;
    Ok(View::new(
        "admin/limits.html",
        LimitsCtx {
            token_choices: DURATIONS.to_vec(),
            instance_choices: INSTANCE_CHOICES.to_vec(),
            token_max,
            instance_max,
            env_max: config.token_max_seconds.map(describe_duration),
            error,
            bookings,
        },
    ))
}

#[get("/admin/limits")]
async fn get_limits(
    _admin: Admin,
    hx: Htmx,
    db: &State<Db>,
    config: &State<Config>,
) -> Result<View, AppError> {
    Ok(limits_view(db, config, None, None)
        .await?
        .htmx_block(hx, "limits"))
}

#[derive(FromForm)]
struct LimitsForm {
    #[field(default = String::new())]
    token_max_seconds: String,
    #[field(default = String::new())]
    instance_max_seconds: String,
}

/// `""` or `"none"` means no limit; otherwise one of [`DURATIONS`].
fn parse_token_max(value: &str) -> Result<Option<i64>, String> {
    match value.trim() {
        "" | "none" => Ok(None),
        v => v
            .parse::<i64>()
            .ok()
            .filter(|s| DURATIONS.iter().any(|(d, _)| d == s))
            .map(Some)
            .ok_or_else(|| "choose a token lifetime from the list".to_owned()),
    }
}

fn parse_instance_max(value: &str) -> Result<i64, String> {
    value
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|s| INSTANCE_CHOICES.iter().any(|(d, _)| d == s))
        .ok_or_else(|| "choose a booking length from the list".to_owned())
}

#[post("/admin/limits", data = "<form>")]
async fn post_limits(
    addr: ClientAddr,
    admin: Admin,
    form: CsrfForm<LimitsForm>,
    hx: Htmx,
    db: &State<Db>,
    config: &State<Config>,
) -> Result<Reply, AppError> {
    let parsed = parse_token_max(&form.0.token_max_seconds)
        .and_then(|t| Ok((t, parse_instance_max(&form.0.instance_max_seconds)?)));
    let (token_max, instance_max) = match parsed {
        Ok(values) => values,
        Err(message) => {
            return Ok(limits_view(db, config, Some(message), None)
                .await?
                .htmx_block(hx, "limits")
                .status(Status::UnprocessableEntity)
                .into())
        }
    };
    let detail = format!(
        "longest API token {}; longest booking {}",
        token_max.map_or_else(|| "without limit".to_owned(), describe_duration),
        describe_duration(instance_max)
    );
    db.write(move |tx| {
        match token_max {
            Some(s) => crate::db::set_setting(tx, MAX_SECONDS_KEY, &s.to_string())?,
            None => {
                tx.execute("DELETE FROM settings WHERE key = ?1", [MAX_SECONDS_KEY])?;
            }
        }
        crate::db::set_setting(tx, INSTANCE_MAX_KEY, &instance_max.to_string())?;
        users::record_event(tx, admin.0.id, "limits changed", &detail, addr.0.as_deref())
    })
    .await?;
    if hx.0 {
        return Ok(limits_view(db, config, None, None)
            .await?
            .block("limits")
            .toast("Limits saved.")
            .into());
    }
    Ok(SeeOther::with_flash("/admin/limits", "Limits saved.").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values() {
        assert_eq!(parse_token_max(""), Ok(None));
        assert_eq!(parse_token_max("none"), Ok(None));
        assert_eq!(parse_token_max("604800"), Ok(Some(604800)));
        assert!(parse_token_max("12345").is_err());
        assert!(parse_token_max("-1").is_err());
        assert_eq!(parse_instance_max("14400"), Ok(14400));
        assert!(parse_instance_max("").is_err());
        assert!(parse_instance_max("86401").is_err());
    }
}
