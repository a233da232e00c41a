//! Robots ("workspace deployments"): checking what an admin enters, and the queries behind
//! the admin page, the command line and the API.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::auth::{sha256_hex, users};
use crate::db::now;
use crate::error::AppError;
use crate::keys::parse::parse_public_key;

/// One robot, with what is known about its use right now.
#[derive(Debug, Clone, Serialize)]
pub struct Deployment {
    pub id: String,
    /// Workspace type, e.g. `ur5e` (`type` in the API).
    pub kind: String,
    pub description: String,
    pub region: String,
    pub ssh_host: String,
    pub ssh_port: i64,
    pub ssh_user: String,
    /// Host public keys as `type base64` lines.
    pub hostkeys: Vec<String>,
    /// `SHA256:...` fingerprints of the host keys, in the same order.
    pub fingerprints: Vec<String>,
    pub enabled: bool,
    pub created: i64,
    /// Whether a running booking holds it now (bookings that have not started do not count).
    pub busy: bool,
    /// How many instances it has ever had.
    pub icounter: i64,
    /// Deleted by an admin: kept only for the history of its bookings.
    pub deleted: bool,
    /// How many members wait in line for it (by id or by its type).
    pub waiting: i64,
}

impl Deployment {
    /// The command a member types to log in: `ssh -p PORT USER@HOST`.
    pub fn ssh_command(&self) -> String {
        format!(
            "ssh -p {} {}@{}",
            self.ssh_port, self.ssh_user, self.ssh_host
        )
    }
}

/// What an admin enters for a new robot, before checking.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NewDeployment {
    pub kind: String,
    pub host: String,
    pub port: String,
    pub user: String,
    pub region: String,
    pub description: String,
    /// Host public keys, one OpenSSH line each (the contents of `ssh_host_*_key.pub`).
    pub hostkeys: String,
}

/// A refused field and why.
#[derive(Debug, Clone, Serialize)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    fn new(field: &'static str, message: impl Into<String>) -> FieldError {
        FieldError {
            field,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A checked new robot, ready to insert.
#[derive(Debug, Clone)]
pub struct CheckedDeployment {
    pub kind: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub region: String,
    pub description: String,
    pub hostkeys: Vec<String>,
}

/// Checks a workspace type name: 1 to 64 of `a-z 0-9 _ . -`.
pub fn check_type(kind: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&kind.len())
        && kind
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err("the type must be 1 to 64 characters of a-z, 0-9, _, . and - (for example ur5e)".into())
    }
}

/// Checks an SSH host name or address. It ends up in a command line people copy, so only
/// the characters of host names and IP addresses are allowed, and no leading `-`.
fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("the SSH host is required (a host name or IP address)".into());
    }
    let ok = host.len() <= 253
        && !host.starts_with('-')
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{host:?} is not a host name or IP address (letters, digits, '.', '-', '_' and ':' only, no spaces)"
        ))
    }
}

fn check_user(user: &str) -> Result<(), String> {
    let ok = (1..=32).contains(&user.len())
        && !user.starts_with('-')
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if ok {
        Ok(())
    } else {
        Err("the login user must be 1 to 32 letters, digits, '.', '-' or '_'".into())
    }
}

fn check_text(field: &'static str, label: &str, value: &str, max: usize) -> Result<(), FieldError> {
    if value.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("the {label} must be at most {max} characters"),
        ));
    }
    if crate::text::has_forbidden(value) {
        return Err(FieldError::new(
            field,
            format!(
                "the {label} must be a single line of text without {}",
                crate::text::FORBIDDEN
            ),
        ));
    }
    Ok(())
}

/// Parses host public key lines (blank lines and `#` comments skipped) into `type base64`.
pub fn parse_hostkeys(text: &str) -> Result<Vec<String>, String> {
    let mut keys: Vec<String> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parsed = parse_public_key(line).map_err(|e| format!("host key line {}: {e}", n + 1))?;
        if !keys.contains(&parsed.canonical) {
            keys.push(parsed.canonical);
        }
    }
    if keys.len() > 16 {
        return Err("at most 16 host keys may be given".into());
    }
    Ok(keys)
}

impl NewDeployment {
    /// Checks every field; the error names the first field refused.
    pub fn check(&self) -> Result<CheckedDeployment, FieldError> {
        let kind = self.kind.trim();
        check_type(kind).map_err(|m| FieldError::new("type", m))?;
        let host = self.host.trim();
        check_host(host).map_err(|m| FieldError::new("host", m))?;
        let port = match self.port.trim() {
            "" => 22,
            p => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                FieldError::new("port", "the port must be a number from 1 to 65535")
            })?,
        };
        let user = match self.user.trim() {
            "" => "root",
            u => u,
        };
        check_user(user).map_err(|m| FieldError::new("user", m))?;
        let region = self.region.trim();
        check_text("region", "region", region, 64)?;
        let description = self.description.trim();
        check_text("description", "description", description, 200)?;
        let hostkeys =
            parse_hostkeys(&self.hostkeys).map_err(|m| FieldError::new("hostkeys", m))?;
        Ok(CheckedDeployment {
            kind: kind.to_owned(),
            host: host.to_owned(),
            port,
            user: user.to_owned(),
            region: region.to_owned(),
            description: description.to_owned(),
            hostkeys,
        })
    }
}

/// A fresh robot credential: 32 random bytes, base64url.
fn new_credential() -> String {
    users::generate_secret(32)
}

/// Adds a robot; returns its id and its credential (stored only as a hash). A robot with the
/// same type, host, port and login user as an existing one is refused with that one's id.
pub fn insert(conn: &Connection, d: &CheckedDeployment) -> Result<(String, String), AppError> {
    refuse_duplicate(conn, d, None)?;
    let id = uuid::Uuid::new_v4().to_string();
    let credential = new_credential();
    conn.execute(
        "INSERT INTO deployments (id, type, description, region, ssh_host, ssh_port, ssh_user,
                                  hostkeys, enabled, credential_hash, created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?9, ?10)",
        params![
            id,
            d.kind,
            d.description,
            d.region,
            d.host,
            d.port,
            d.user,
            d.hostkeys.join("\n"),
            sha256_hex(&credential),
            now()
        ],
    )?;
    Ok((id, credential))
}

/// `SELECT` of the columns the row reader below expects, followed by the rest of a query.
macro_rules! select_deployments {
    ($rest:literal) => {
        concat!(
            "SELECT d.id, d.type, d.description, d.region, d.ssh_host, d.ssh_port,
        d.ssh_user, d.hostkeys, d.enabled, d.created,
        EXISTS (SELECT 1 FROM instances i WHERE i.deployment_id = d.id
                AND i.status <> 'TERMINATED' AND i.starts <= ?1 AND i.expires > ?1),
        (SELECT COUNT(*) FROM instances i WHERE i.deployment_id = d.id),
        d.deleted IS NOT NULL,
        (SELECT COUNT(*) FROM reservations r WHERE r.status = 'WAITING' AND r.expires > ?1
                AND (r.target = d.id OR r.target = d.type))
    FROM deployments d ",
            $rest
        )
    };
}

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Deployment> {
    let hostkeys: String = r.get(7)?;
    let hostkeys: Vec<String> = hostkeys
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    let fingerprints = hostkeys
        .iter()
        .map(|k| {
            parse_public_key(k)
                .map(|p| p.fingerprint)
                .unwrap_or_else(|_| "(unreadable key)".into())
        })
        .collect();
    Ok(Deployment {
        id: r.get(0)?,
        kind: r.get(1)?,
        description: r.get(2)?,
        region: r.get(3)?,
        ssh_host: r.get(4)?,
        ssh_port: r.get(5)?,
        ssh_user: r.get(6)?,
        hostkeys,
        fingerprints,
        enabled: r.get(8)?,
        created: r.get(9)?,
        busy: r.get(10)?,
        icounter: r.get(11)?,
        deleted: r.get(12)?,
        waiting: r.get(13)?,
    })
}

/// Every robot, enabled or not (deleted ones aside), by type then age.
pub fn list(conn: &Connection) -> Result<Vec<Deployment>, AppError> {
    let mut stmt = conn.prepare(select_deployments!(
        "WHERE d.deleted IS NULL ORDER BY d.type, d.created, d.id"
    ))?;
    let rows = stmt.query_map([now()], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One robot by id, if it exists (deleted robots too: their bookings' history names them).
pub fn find(conn: &Connection, id: &str) -> Result<Option<Deployment>, AppError> {
    Ok(conn
        .query_row(
            select_deployments!("WHERE d.id = ?2"),
            params![now(), id],
            from_row,
        )
        .optional()?)
}

/// One robot by id, or "not found".
pub fn get(conn: &Connection, id: &str) -> Result<Deployment, AppError> {
    find(conn, id)?.ok_or_else(|| AppError::NotFound(format!("no robot with id {id}")))
}

/// Enables or disables a robot. A disabled robot takes no new instances, and disabling ends
/// the one running on it (the robot side refuses its key lookups from then on anyway, so the
/// booking could not be used).
pub fn set_enabled(conn: &Connection, id: &str, enabled: bool) -> Result<Deployment, AppError> {
    let changed = conn.execute(
        "UPDATE deployments SET enabled = ?2 WHERE id = ?1 AND deleted IS NULL",
        params![id, enabled],
    )?;
    if changed == 0 {
        return Err(AppError::NotFound(format!("no robot with id {id}")));
    }
    if enabled {
        // Members waiting in line may get it at once.
        super::bookings::reservations::serve(conn)?;
    } else {
        super::instances::end_on_disabled_robot(conn, id)?;
    }
    get(conn, id)
}

/// Replaces a robot's credential; the old one stops working at once. Returns the new one.
pub fn rotate_credential(conn: &Connection, id: &str) -> Result<String, AppError> {
    let credential = new_credential();
    let changed = conn.execute(
        "UPDATE deployments SET credential_hash = ?2 WHERE id = ?1 AND deleted IS NULL",
        params![id, sha256_hex(&credential)],
    )?;
    if changed == 0 {
        return Err(AppError::NotFound(format!("no robot with id {id}")));
    }
    Ok(credential)
}

/// Refuses a robot identical (type, host, port, login user) to another that is not deleted.
fn refuse_duplicate(
    conn: &Connection,
    d: &CheckedDeployment,
    except: Option<&str>,
) -> Result<(), AppError> {
    let twin: Option<String> = conn
        .query_row(
            "SELECT id FROM deployments WHERE type = ?1 AND ssh_host = ?2 AND ssh_port = ?3
               AND ssh_user = ?4 AND deleted IS NULL AND id IS NOT ?5",
            params![d.kind, d.host, d.port, d.user, except],
            |r| r.get(0),
        )
        .optional()?;
    match twin {
        Some(id) => Err(AppError::Conflict(format!(
            "this robot exists already: the {} robot {id} is {}@{}:{}; edit that one instead",
            d.kind, d.user, d.host, d.port
        ))),
        None => Ok(()),
    }
}

/// Replaces what an admin entered for a robot (its id, credential and history stay).
pub fn update(conn: &Connection, id: &str, d: &CheckedDeployment) -> Result<Deployment, AppError> {
    refuse_duplicate(conn, d, Some(id))?;
    let changed = conn.execute(
        "UPDATE deployments SET type = ?2, description = ?3, region = ?4, ssh_host = ?5,
                ssh_port = ?6, ssh_user = ?7, hostkeys = ?8
         WHERE id = ?1 AND deleted IS NULL",
        params![
            id,
            d.kind,
            d.description,
            d.region,
            d.host,
            d.port,
            d.user,
            d.hostkeys.join("\n")
        ],
    )?;
    if changed == 0 {
        return Err(AppError::NotFound(format!("no robot with id {id}")));
    }
    get(conn, id)
}

/// Deletes a robot: refused while a booking runs on it; otherwise it leaves every list, stops
/// taking bookings and key lookups, and stays in the database for its bookings' history.
pub fn delete(conn: &Connection, id: &str) -> Result<Deployment, AppError> {
    let robot = get(conn, id)?;
    if robot.deleted {
        return Err(AppError::NotFound(format!("no robot with id {id}")));
    }
    if robot.busy {
        return Err(AppError::Conflict(format!(
            "the {} robot {id} is booked right now; end that booking first (Admin → Bookings)",
            robot.kind
        )));
    }
    conn.execute(
        "UPDATE deployments SET deleted = ?2, enabled = 0, credential_hash = ?3 WHERE id = ?1",
        // The credential is replaced by the hash of a secret nobody holds.
        params![id, now(), sha256_hex(&new_credential())],
    )?;
    get(conn, id)
}

/// An existing robot's values as its edit form shows them.
impl From<&Deployment> for NewDeployment {
    fn from(d: &Deployment) -> NewDeployment {
        NewDeployment {
            kind: d.kind.clone(),
            host: d.ssh_host.clone(),
            port: d.ssh_port.to_string(),
            user: d.ssh_user.clone(),
            region: d.region.clone(),
            description: d.description.clone(),
            hostkeys: d.hostkeys.join("\n"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str = include_str!("../../tests/fixtures/keys/ed25519.pub");

    fn new(kind: &str, host: &str, port: &str) -> NewDeployment {
        NewDeployment {
            kind: kind.into(),
            host: host.into(),
            port: port.into(),
            ..Default::default()
        }
    }

    #[test]
    fn types_hosts_and_ports() {
        assert!(new("ur5e", "10.0.0.5", "").check().is_ok());
        assert_eq!(new("ur5e", "r1.lab", "2222").check().unwrap().port, 2222);
        assert_eq!(new("ur5e", "r1.lab", "").check().unwrap().user, "root");
        for (kind, field) in [
            ("", "type"),
            ("UR5", "type"),
            ("a b", "type"),
            (&"x".repeat(65), "type"),
        ] {
            assert_eq!(
                new(kind, "h", "").check().unwrap_err().field,
                field,
                "{kind:?}"
            );
        }
        for host in ["", "a b", "-oProxyCommand=x", "h;rm"] {
            assert_eq!(
                new("t", host, "").check().unwrap_err().field,
                "host",
                "{host:?}"
            );
        }
        for port in ["0", "65536", "x", "-1"] {
            assert_eq!(
                new("t", "h", port).check().unwrap_err().field,
                "port",
                "{port:?}"
            );
        }
    }

    #[test]
    fn host_keys_are_canonical_lines() {
        let text = format!("# host keys\n\n{}\n{}", ED.trim(), ED.trim());
        let keys = parse_hostkeys(&text).unwrap();
        assert_eq!(keys.len(), 1);
        assert!(keys[0].starts_with("ssh-ed25519 AAAA") && keys[0].split(' ').count() == 2);
        let err = parse_hostkeys("ssh-ed25519 AAAA!!!").unwrap_err();
        assert!(err.starts_with("host key line 1:"), "{err}");
    }
}
