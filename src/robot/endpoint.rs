//! `GET /api/deployment/{id}/authorized_keys`: the lines a robot's sshd may accept right now.
//!
//! Only the robot itself may ask, with the credential `labgate deployment add` printed for it.
//! A wrong, missing or other robot's credential, a member's API token, a disabled robot and an
//! unknown id all get the same 401, so the answer never tells whether a robot exists.

use std::io::Cursor;

use rocket::http::{ContentType, Header, Status};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::response::{self, Responder, Response};
use rocket::{get, routes, Route, State};
use rusqlite::{params, Connection, OptionalExtension};

use crate::auth::{constant_time_eq, sha256_hex};
use crate::db::{now, Db};
use crate::error::AppError;
use crate::keys::parse::parse_public_key;

/// Routes of this half of the module.
pub fn routes() -> Vec<Route> {
    routes![get_authorized_keys]
}

/// A saved key's `last used` is written at most this often.
pub const LAST_USED_EVERY: i64 = 60;

/// Statuses in which an instance lets nobody in, whatever its `expires` says.
const ENDED: [&str; 2] = ["TERMINATING", "TERMINATED"];

/// The Bearer value of the request, if any; checking it is the handler's job because the
/// credential belongs to the robot named in the path.
pub struct Credential(Option<String>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Credential {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        Outcome::Success(Credential(crate::tokens::bearer(req)))
    }
}

/// `text/plain` authorized_keys lines, never cached.
pub struct KeysText(pub String);

impl<'r> Responder<'r, 'static> for KeysText {
    fn respond_to(self, _req: &'r Request<'_>) -> response::Result<'static> {
        Response::build()
            .status(Status::Ok)
            .header(ContentType::Plain)
            .header(Header::new("Cache-Control", "no-store"))
            .sized_body(self.0.len(), Cursor::new(self.0))
            .ok()
    }
}

/// What the robot's row says about itself.
struct Robot {
    kind: String,
    ssh_user: String,
}

/// The booking that decides who gets in.
struct Instance {
    id: String,
    user_id: i64,
    expires: i64,
}

/// One key of the active instance, as stored.
struct InstanceKey {
    public_key: String,
    ssh_key_id: Option<i64>,
}

/// The keys of `id`'s active instance as authorized_keys lines: only the one with `fingerprint`
/// when given, none when `user` is given and is not the robot's login user.
#[get("/api/deployment/<id>/authorized_keys?<fingerprint>&<user>")]
async fn get_authorized_keys(
    id: String,
    fingerprint: Option<String>,
    user: Option<String>,
    credential: Credential,
    db: &State<Db>,
) -> Result<KeysText, AppError> {
    let secret = credential.0.ok_or(AppError::Unauthorized)?;
    db.run(move |conn| {
        let robot = authenticate(conn, &id, &secret)?;
        if user.is_some_and(|u| u != robot.ssh_user) {
            return Ok(KeysText(String::new()));
        }
        let t = now();
        let Some(instance) = active_instance(conn, &id, t)? else {
            return Ok(KeysText(String::new()));
        };
        let mut body = String::new();
        for key in instance_keys(conn, &instance.id)? {
            // Re-parsing keeps the promise that only `TYPE BASE64` is served, even if a row
            // were ever written with a comment, options or a second line.
            let parsed = match parse_public_key(&key.public_key) {
                Ok(parsed) => parsed,
                Err(e) => {
                    tracing::warn!(
                        "deployment {id:?}: skipped an instance key that is not valid: {e}"
                    );
                    continue;
                }
            };
            if fingerprint
                .as_deref()
                .is_some_and(|f| f != parsed.fingerprint)
            {
                continue;
            }
            body.push_str(&super::authorized_line(&parsed.canonical, instance.expires));
            if let (Some(_), Some(key_id)) = (&fingerprint, key.ssh_key_id) {
                let label = robot_label(&robot.kind, &id);
                mark_used(conn, key_id, instance.user_id, &label, t);
            }
        }
        Ok(KeysText(body))
    })
    .await
}

/// Checks `secret` against the robot's stored hash. Unknown robots are compared against a
/// stand-in hash so they take as long as known ones and answer the same 401.
fn authenticate(conn: &Connection, id: &str, secret: &str) -> Result<Robot, AppError> {
    let row = conn
        .query_row(
            "SELECT credential_hash, enabled, type, ssh_user FROM deployments WHERE id = ?1",
            [id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, bool>(1)?,
                    Robot {
                        kind: r.get(2)?,
                        ssh_user: r.get(3)?,
                    },
                ))
            },
        )
        .optional()?;
    let presented = sha256_hex(secret);
    let stand_in = "0".repeat(presented.len());
    let stored = row
        .as_ref()
        .map(|(h, _, _)| h.as_str())
        .unwrap_or(&stand_in);
    let matches = constant_time_eq(presented.as_bytes(), stored.as_bytes());
    match row {
        Some((_, true, robot)) if matches => Ok(robot),
        _ => {
            // The id comes from the URL, percent-decoded: escaped and cut short, it can
            // neither forge log lines nor flood the log.
            let shown: String = id.chars().take(64).collect();
            tracing::info!("refused a robot credential for deployment {shown:?}");
            Err(AppError::Unauthorized)
        }
    }
}

/// The robot's active instance, if it has one whose owner may still log in: a booking counts
/// only from its start to its end, so a future booking lets nobody in before its time. Both
/// ends are checked here rather than trusted to the periodic sweep, which may lag.
fn active_instance(conn: &Connection, id: &str, t: i64) -> Result<Option<Instance>, AppError> {
    Ok(conn
        .query_row(
            "SELECT i.id, i.user_id, i.expires FROM instances i JOIN users u ON u.id = i.user_id
             WHERE i.deployment_id = ?1 AND i.status NOT IN (?2, ?3) AND i.expires > ?4
               AND i.starts <= ?4 AND u.disabled = 0
             ORDER BY i.created DESC LIMIT 1",
            params![id, ENDED[0], ENDED[1], t],
            |r| {
                Ok(Instance {
                    id: r.get(0)?,
                    user_id: r.get(1)?,
                    expires: r.get(2)?,
                })
            },
        )
        .optional()?)
}

/// The keys chosen for an instance.
fn instance_keys(conn: &Connection, instance_id: &str) -> Result<Vec<InstanceKey>, AppError> {
    let mut stmt = conn.prepare(
        "SELECT public_key, ssh_key_id FROM instance_keys WHERE instance_id = ?1
         ORDER BY fingerprint",
    )?;
    let rows = stmt.query_map([instance_id], |r| {
        Ok(InstanceKey {
            public_key: r.get(0)?,
            ssh_key_id: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// How the SSH keys page names the robot a key was last used on: its type and the start of
/// its id, e.g. `ur5e (3f2a9c1e)`, as the lab's pages and the API show them. The description
/// is left out on purpose: it is free text of any length, the type and id are short and stable.
pub fn robot_label(kind: &str, id: &str) -> String {
    let short: String = id.chars().take(8).collect();
    format!("{kind} ({short})")
}

/// Records that sshd asked about a saved key on this robot, at most once a minute. Only
/// bookkeeping: a busy or failing database must not turn a login away, so errors are logged.
fn mark_used(conn: &Connection, key_id: i64, user_id: i64, label: &str, t: i64) {
    crate::tokens::guard::best_effort(conn, "an SSH key's last use", |conn| {
        conn.execute(
            "UPDATE ssh_keys SET last_used = ?3, last_used_on = ?4
             WHERE id = ?1 AND user_id = ?2
               AND (last_used IS NULL OR last_used <= ?3 - ?5 OR last_used_on IS NOT ?4)",
            params![key_id, user_id, t, label, LAST_USED_EVERY],
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_is_type_and_short_id() {
        assert_eq!(
            robot_label("ur5e", "3f2a9c1e-0000-4000-8000-000000000000"),
            "ur5e (3f2a9c1e)"
        );
        assert_eq!(robot_label("arm", "ab"), "arm (ab)");
    }
}
