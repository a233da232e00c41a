//! Bookings in time: the admin's limits on booking ahead, the one question "may this member
//! book this robot", the free and taken windows of a robot (the timeline), and members waiting
//! in line ([`reservations`]).
//!
//! A booking is an instance row running over `[starts, expires)`; one made "now" starts when it
//! is made. The database refuses two live bookings of one robot whose windows overlap (trigger
//! `instances_no_overlap_*` in `schema.sql`), so concurrent requests can never both win; the
//! checks here only choose a robot and word the refusals. Queries and rules live here; the
//! pages are in [`super::pages`] and [`super::admin`], the API in [`super::api_book`] and
//! [`api`].

pub mod admin;
pub mod api;
pub mod reservations;
pub mod timeline;

use rusqlite::{params, Connection};

use super::deployments::Deployment;
use crate::error::AppError;

/// Settings key: how far ahead a booking may start, in seconds.
pub const AHEAD_KEY: &str = "booking_ahead_seconds";
/// Settings key: how many bookings that have not started yet one member may hold.
pub const MAX_FUTURE_KEY: &str = "booking_max_future";
/// Settings key: how long a reservation waits in line before it lapses, in seconds.
pub const RESERVATION_KEY: &str = "reservation_max_seconds";

/// Booking ahead allowed when the admin has set nothing: two weeks.
pub const DEFAULT_AHEAD: i64 = 14 * 86400;
/// Bookings not yet started per member when the admin has set nothing.
pub const DEFAULT_MAX_FUTURE: i64 = 5;
/// How long a reservation waits when the admin has set nothing: one day.
pub const DEFAULT_RESERVATION: i64 = 86400;
/// A start this close to now (seconds) counts as "now": the form's minute precision and the
/// time the request takes must not turn "now" into "in the past".
pub const NOW_SLACK: i64 = 120;

/// Choices offered on the admin limits page, in seconds, with their labels.
pub const AHEAD_CHOICES: [(i64, &str); 5] = [
    (0, "no booking ahead"),
    (86400, "1 day"),
    (7 * 86400, "7 days"),
    (14 * 86400, "14 days"),
    (30 * 86400, "30 days"),
];
/// Most bookings not yet started per member, as offered on the admin limits page.
pub const MAX_FUTURE_CHOICES: [i64; 6] = [1, 2, 3, 5, 10, 20];
/// How long reservations wait, as offered on the admin limits page.
pub const RESERVATION_CHOICES: [(i64, &str); 4] = [
    (3600, "1 hour"),
    (4 * 3600, "4 hours"),
    (86400, "24 hours"),
    (7 * 86400, "7 days"),
];

fn int_setting(conn: &Connection, key: &str, default: i64) -> Result<i64, AppError> {
    Ok(crate::db::setting(conn, key)?
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|v| *v >= 0)
        .unwrap_or(default))
}

/// The admin's limits on bookings in time.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Limits {
    /// Latest start allowed, in seconds from now.
    pub ahead: i64,
    /// Most bookings not yet started per member.
    pub max_future: i64,
    /// How long a reservation waits, in seconds.
    pub reservation: i64,
}

impl Limits {
    /// The limits in force now.
    pub fn load(conn: &Connection) -> Result<Limits, AppError> {
        Ok(Limits {
            ahead: int_setting(conn, AHEAD_KEY, DEFAULT_AHEAD)?,
            max_future: int_setting(conn, MAX_FUTURE_KEY, DEFAULT_MAX_FUTURE)?,
            reservation: int_setting(conn, RESERVATION_KEY, DEFAULT_RESERVATION)?
                .max(super::instances::MIN_SECONDS),
        })
    }
}

/// Whether `user_id` may book `robot` now: it is enabled, not deleted, and the lab's access
/// rules let them. Every path that books or lists a robot for booking asks only this.
pub fn may_book(conn: &Connection, user_id: i64, robot: &Deployment) -> Result<bool, AppError> {
    Ok(robot.enabled && !robot.deleted && super::groups::rules::permits(conn, user_id, &robot.id)?)
}

/// Whether `robot` has no live booking overlapping `[from, until)`.
pub fn is_free(conn: &Connection, robot: &str, from: i64, until: i64) -> Result<bool, AppError> {
    let taken: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM instances WHERE deployment_id = ?1
            AND status <> 'TERMINATED' AND starts < ?3 AND ?2 < expires)",
        params![robot, from, until],
        |r| r.get(0),
    )?;
    Ok(!taken)
}

/// How many of the member's bookings have not started yet.
pub fn future_count(conn: &Connection, user_id: i64, now: i64) -> Result<i64, AppError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM instances WHERE user_id = ?1 AND status <> 'TERMINATED'
            AND starts > ?2",
        params![user_id, now],
        |r| r.get(0),
    )?)
}

/// Checks a requested start against the limits: not in the past, not further ahead than the
/// admin allows. Returns the start to store (a start within [`NOW_SLACK`] of now is now).
pub fn check_start(start: i64, now: i64, limits: &Limits) -> Result<i64, String> {
    if start < now - NOW_SLACK {
        return Err(
            "the start is in the past; choose a later time or leave it empty for now".into(),
        );
    }
    if start <= now + NOW_SLACK {
        return Ok(now);
    }
    if start > now + limits.ahead {
        return Err(if limits.ahead == 0 {
            "this lab does not take bookings ahead; leave the start empty to book now".into()
        } else {
            format!(
                "bookings may start at most {} ahead here; choose an earlier start",
                super::instances::describe_seconds(limits.ahead)
            )
        });
    }
    Ok(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        ahead: 7 * 86400,
        max_future: 3,
        reservation: 3600,
    };

    #[test]
    fn starts() {
        let now = 1_000_000;
        assert_eq!(check_start(now, now, &LIMITS), Ok(now));
        assert_eq!(check_start(now + 60, now, &LIMITS), Ok(now));
        assert_eq!(check_start(now - 60, now, &LIMITS), Ok(now));
        assert_eq!(check_start(now + 3600, now, &LIMITS), Ok(now + 3600));
        assert!(check_start(now - 3600, now, &LIMITS)
            .unwrap_err()
            .contains("past"));
        assert!(check_start(now + 8 * 86400, now, &LIMITS)
            .unwrap_err()
            .contains("at most 7 days ahead"));
        let none = Limits { ahead: 0, ..LIMITS };
        assert!(check_start(now + 3600, now, &none)
            .unwrap_err()
            .contains("does not take bookings ahead"));
    }
}
