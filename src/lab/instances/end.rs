//! Ending instances (by their owner, by expiry, by a robot being disabled), cancelling,
//! shortening and extending bookings, and handing out a generated private key once. Whenever a
//! robot may have freed up, the line of reservations is served.

use rusqlite::{params, Connection, OptionalExtension};

use super::{get_any, get_for, Instance, KeyState};
use crate::auth::{users, User};
use crate::db::now;
use crate::error::AppError;
use crate::lab::bookings::reservations;

/// Marks an instance ended at `at` and discards a private key nobody fetched. Returns false
/// when it had ended already.
pub fn end(conn: &Connection, id: &str, at: i64) -> Result<bool, AppError> {
    let changed = conn.execute(
        "UPDATE instances SET status = 'TERMINATED', ended = ?2,
                private_key = CASE WHEN private_key IS NULL THEN NULL ELSE '' END
         WHERE id = ?1 AND status <> 'TERMINATED'",
        params![id, at],
    )?;
    Ok(changed > 0)
}

/// Ends the active instance of a robot being disabled, telling its owner why.
pub fn end_on_disabled_robot(conn: &Connection, deployment_id: &str) -> Result<(), AppError> {
    let active: Option<(String, i64, String)> = conn
        .query_row(
            "SELECT i.id, i.user_id, d.type FROM instances i
             JOIN deployments d ON d.id = i.deployment_id
             WHERE i.deployment_id = ?1 AND i.status <> 'TERMINATED' AND i.starts <= ?2
             ORDER BY i.starts DESC LIMIT 1",
            params![deployment_id, now()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    if let Some((id, user_id, kind)) = active {
        if end(conn, &id, now())? {
            // Shown on the member's own row, not only in the security log.
            conn.execute(
                "UPDATE instances SET end_reason = ?2 WHERE id = ?1",
                params![id, "the robot was taken out of service"],
            )?;
            let detail = format!(
                "{kind} robot {deployment_id}, instance {id}: the robot was disabled by an admin"
            );
            users::record_event(conn, user_id, "instance terminated", &detail, None)?;
        }
    }
    Ok(())
}

/// Ends every instance whose time is up, logging "instance expired" for each; returns how many.
pub fn sweep_expired(conn: &Connection) -> Result<usize, AppError> {
    let t = now();
    let mut stmt = conn.prepare(
        "SELECT i.id, i.user_id, d.type, d.id, i.expires FROM instances i
         JOIN deployments d ON d.id = i.deployment_id
         WHERE i.status <> 'TERMINATED' AND i.expires <= ?1",
    )?;
    let due = stmt
        .query_map([t], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for (id, user_id, kind, robot, expires) in &due {
        if end(conn, id, *expires)? {
            let detail = format!("{kind} robot {robot}, instance {id}");
            users::record_event(conn, *user_id, "instance expired", &detail, None)?;
        }
    }
    reservations::expire(conn, t)?;
    reservations::serve(conn)?;
    Ok(due.len())
}

/// Terminates one of the user's instances, or cancels it when it has not started yet (an admin
/// may do either to anyone's). Returns false when it had ended already.
pub fn terminate(
    conn: &Connection,
    user: &User,
    id: &str,
    address: Option<&str>,
) -> Result<bool, AppError> {
    let (instance, owner) = owned_or_admin(conn, user, id)?;
    if !instance.active && !instance.upcoming {
        // It may have expired without the sweep having written that down yet.
        sweep_expired(conn)?;
        return Ok(false);
    }
    end(conn, id, now())?;
    let detail = format!(
        "{} robot {}, instance {id}{}",
        instance.deployment.kind,
        instance.deployment.id,
        by_admin(user, owner)
    );
    let kind = if instance.upcoming {
        "booking cancelled"
    } else {
        "instance terminated"
    };
    users::record_event(conn, owner, kind, &detail, address)?;
    reservations::serve(conn)?;
    Ok(true)
}

/// The instance if it is the user's, or any instance for an admin; with its owner's id.
fn owned_or_admin(conn: &Connection, user: &User, id: &str) -> Result<(Instance, i64), AppError> {
    if user.is_admin {
        return get_any(conn, id);
    }
    Ok((get_for(conn, user, id)?, user.id))
}

fn by_admin(user: &User, owner: i64) -> String {
    if user.id == owner {
        String::new()
    } else {
        format!(", by admin {}", user.username)
    }
}

/// Moves a live booking's end by `by` seconds: earlier (shorten; never before now or its start
/// plus a minute) or later (extend; within the longest booking, and only while the robot is
/// free after it, which the overlap trigger decides). Returns the instance as it is now, or
/// why not.
pub fn change_end(
    conn: &Connection,
    user: &User,
    id: &str,
    by: i64,
    address: Option<&str>,
) -> Result<Result<Instance, String>, AppError> {
    let (instance, owner) = owned_or_admin(conn, user, id)?;
    if !instance.active && !instance.upcoming {
        return Ok(Err("that booking has ended already".into()));
    }
    let until = instance.expires + by;
    let t = now();
    let earliest = instance.starts.max(t) + super::MIN_SECONDS;
    if until < earliest {
        return Ok(Err(
            "a booking cannot end less than a minute from now or from its start; terminate or cancel it instead".into(),
        ));
    }
    let max = super::max_seconds(conn)?;
    if until - instance.starts > max {
        return Ok(Err(format!(
            "bookings may last at most {} here",
            super::describe_seconds(max)
        )));
    }
    if until == instance.expires {
        return Ok(Ok(instance));
    }
    let changed = conn.execute(
        "UPDATE instances SET expires = ?2 WHERE id = ?1 AND status <> 'TERMINATED'",
        params![id, until],
    );
    match changed {
        Err(e) if super::is_constraint(&e) => {
            return Ok(Err(
                "the robot is booked right after this booking, so it cannot be extended that far"
                    .into(),
            ))
        }
        other => other?,
    };
    let kind = if until < instance.expires {
        "booking shortened"
    } else {
        "booking extended"
    };
    let detail = format!(
        "{} robot {}, instance {id}: now until {}{}",
        instance.deployment.kind,
        instance.deployment.id,
        crate::web::format_time(until),
        by_admin(user, owner)
    );
    users::record_event(conn, owner, kind, &detail, address)?;
    if until < instance.expires {
        reservations::serve(conn)?;
    }
    Ok(Ok(get_any(conn, id)?.0))
}

/// Hands out a generated private key (OpenSSH format) exactly once. `Ok(None)` when there is
/// none or it went already; "not found" when the instance is not the user's.
pub fn take_private_key(
    conn: &Connection,
    user: &User,
    id: &str,
) -> Result<Option<String>, AppError> {
    let instance = get_for(conn, user, id)?;
    if !(instance.active || instance.upcoming) || instance.key_state != KeyState::Available {
        return Ok(None);
    }
    let key: Option<String> = conn.query_row(
        "SELECT private_key FROM instances WHERE id = ?1",
        [id],
        |r| r.get(0),
    )?;
    conn.execute("UPDATE instances SET private_key = '' WHERE id = ?1", [id])?;
    Ok(key.filter(|k| !k.is_empty()))
}

/// Best effort, outside any write transaction: copies the WAL into the database file and
/// empties it, so a private key just taken or discarded does not linger in the log. A failure
/// (a reader holding an old snapshot, say) is only logged and never fails the request.
pub async fn scrub_wal(db: &crate::db::Db) {
    let done = db
        .run(|conn| {
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            Ok(())
        })
        .await;
    if let Err(e) = done {
        tracing::warn!("WAL checkpoint after removing a private key: {e}");
    }
}
