//! A robot's next days: who has it when, and the free windows between. The Instances page and
//! Admin → Robots draw it as HTML/CSS bars (`instances/_timeline.html`), and
//! `GET /api/deployment/{id}/timeline` serves it as JSON.

use rusqlite::{params, Connection};
use serde::Serialize;

use crate::auth::User;
use crate::error::AppError;
use crate::lab::deployments::Deployment;

/// How far ahead the timeline looks: seven days.
pub const SPAN: i64 = 7 * 86400;
/// Free windows shorter than this are not offered.
pub const MIN_FREE: i64 = 60;

/// One booking on the timeline, as the viewer may see it.
#[derive(Debug, Clone, Serialize)]
pub struct Slot {
    /// The instance id: only for the viewer's own bookings, or for an admin.
    pub id: Option<String>,
    pub start: i64,
    pub end: i64,
    /// Whether it is the viewer's.
    pub mine: bool,
    /// Who holds it: only for the viewer's own bookings, or for an admin; others read "booked".
    pub user: Option<String>,
    /// Whether it is running now.
    pub running: bool,
    /// First and past-the-end hour columns of the bar on the page (1 to [`COLUMNS`] + 1).
    pub col_start: i64,
    pub col_end: i64,
}

/// A window in which the robot is free.
#[derive(Debug, Clone, Serialize)]
pub struct Free {
    pub start: i64,
    pub end: i64,
    pub col_start: i64,
    pub col_end: i64,
}

/// A day boundary on the timeline (midnight in the lab's time zone).
#[derive(Debug, Clone, Serialize)]
pub struct Tick {
    pub at: i64,
    /// The hour column it falls in, and where its label may reach (a day on, at most).
    pub col: i64,
    pub col_end: i64,
    /// e.g. `Wed 02`.
    pub label: String,
}

/// One robot's timeline from `from` for [`SPAN`].
#[derive(Debug, Clone, Serialize)]
pub struct Timeline {
    pub deployment: String,
    pub kind: String,
    pub host: String,
    pub from: i64,
    pub until: i64,
    pub slots: Vec<Slot>,
    pub free: Vec<Free>,
    pub ticks: Vec<Tick>,
}

/// The page draws the span as a CSS grid of one column per hour (`.tl-s{n}` / `.tl-e{n}` in
/// `app.css`), so the bars need no inline style, which the CSP forbids.
pub const COLUMNS: i64 = SPAN / 3600;

/// The hour columns `[start, end)` covers: at least one.
fn columns(start: i64, end: i64, from: i64) -> (i64, i64) {
    let first = ((start - from).max(0) / 3600 + 1).min(COLUMNS);
    let last = ((end - from + 3599) / 3600 + 1).clamp(first + 1, COLUMNS + 1);
    (first, last)
}

/// The timeline of `robot` as `viewer` may see it, from `from` for [`SPAN`], with day ticks in
/// the lab's time zone `zone`.
pub fn for_robot(
    conn: &Connection,
    robot: &Deployment,
    viewer: &User,
    from: i64,
    zone: &crate::zone::LabZone,
) -> Result<Timeline, AppError> {
    let until = from + SPAN;
    let mut stmt = conn.prepare(
        "SELECT i.id, i.starts, i.expires, i.user_id, u.username FROM instances i
         JOIN users u ON u.id = i.user_id
         WHERE i.deployment_id = ?1 AND i.status <> 'TERMINATED'
           AND i.starts < ?3 AND i.expires > ?2
         ORDER BY i.starts",
    )?;
    let rows = stmt
        .query_map(params![robot.id, from, until], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut slots = Vec::new();
    let mut free = Vec::new();
    let mut cursor = from;
    for (id, start, end, owner, username) in rows {
        let mine = owner == viewer.id;
        let shown = mine || viewer.is_admin;
        if start - cursor >= MIN_FREE {
            let (col_start, col_end) = columns(cursor, start, from);
            free.push(Free {
                start: cursor,
                end: start,
                col_start,
                col_end,
            });
        }
        cursor = cursor.max(end);
        let (col_start, col_end) = columns(start, end, from);
        slots.push(Slot {
            id: shown.then_some(id),
            start,
            end,
            mine,
            user: shown.then_some(username),
            running: start <= from,
            col_start,
            col_end,
        });
    }
    if until - cursor >= MIN_FREE {
        let (col_start, col_end) = columns(cursor, until, from);
        free.push(Free {
            start: cursor,
            end: until,
            col_start,
            col_end,
        });
    }
    let ticks = zone
        .midnights(from, until)
        .into_iter()
        .map(|(at, label)| Tick {
            at,
            col: columns(at, at, from).0,
            col_end: (columns(at, at, from).0 + 24).min(COLUMNS + 1),
            label,
        })
        .collect();
    Ok(Timeline {
        deployment: robot.id.clone(),
        kind: robot.kind.clone(),
        host: robot.ssh_host.clone(),
        from,
        until,
        slots,
        free,
        ticks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hour_columns() {
        assert_eq!(columns(0, 3600, 0), (1, 2));
        assert_eq!(columns(0, 60, 0), (1, 2));
        assert_eq!(columns(1800, 9000, 0), (1, 4));
        assert_eq!(columns(-500, 3600, 0), (1, 2));
        assert_eq!(columns(SPAN - 60, SPAN + 9999, 0), (COLUMNS, COLUMNS + 1));
    }
}
