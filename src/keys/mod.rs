//! SSH public keys: validation ([`parse`]), the stored keys and their queries (here), the
//! `/sshkeys` page and `/USER.keys` ([`routes`]) and the keys API ([`api`]).

pub mod parse;

use rocket::{get, routes, Route};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::auth::User;
use crate::error::AppError;
use crate::web::View;
use parse::ParsedKey;

/// Routes of this module.
pub fn routes() -> Vec<Route> {
    routes![get_keys]
}

#[get("/sshkeys")]
fn get_keys(_user: User) -> View {
    View::new("sshkeys/index.html", ())
}

/// A public key saved on a user's account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SshKey {
    pub id: i64,
    /// The owner's name for it, unique per user.
    pub name: String,
    /// Key type as OpenSSH names it, e.g. `ssh-ed25519`.
    pub algorithm: String,
    /// Key size in bits.
    pub bits: u32,
    /// `SHA256:...`, as `ssh-keygen -l -E sha256` prints it.
    pub fingerprint: String,
    /// The canonical `TYPE BASE64` line, without comment: what robots are given.
    pub public_key: String,
    /// The comment pasted with the key; shown, never served.
    pub comment: String,
    /// When it was added (unix seconds).
    pub created: i64,
    /// When a robot last let this key in (unix seconds), written by the robot side.
    pub last_used: Option<i64>,
    /// Which robot that was.
    pub last_used_on: Option<String>,
    /// Type and size for people, e.g. `ED25519 (256 bits)` or `RSA (3072 bits)`.
    pub type_label: String,
}

/// The human label for a stored algorithm and size, worded as [`ParsedKey::type_label`] does.
pub fn type_label(algorithm: &str, bits: u32) -> String {
    ParsedKey {
        algorithm: algorithm.to_owned(),
        bits,
        fingerprint: String::new(),
        canonical: String::new(),
        comment: String::new(),
    }
    .type_label()
}

// A compile-time SELECT prefix, so no query is ever assembled at run time.
macro_rules! select_keys {
    ($rest:literal) => {
        concat!(
            "SELECT id, name, algorithm, bits, fingerprint, public_key, comment, created, \
             last_used, last_used_on FROM ssh_keys ",
            $rest
        )
    };
}

fn key_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SshKey> {
    let algorithm: String = r.get(2)?;
    let bits: u32 = r.get(3)?;
    Ok(SshKey {
        id: r.get(0)?,
        name: r.get(1)?,
        type_label: type_label(&algorithm, bits),
        algorithm,
        bits,
        fingerprint: r.get(4)?,
        public_key: r.get(5)?,
        comment: r.get(6)?,
        created: r.get(7)?,
        last_used: r.get(8)?,
        last_used_on: r.get(9)?,
    })
}

/// The user's keys, newest first.
pub fn list_for(conn: &Connection, user: &User) -> Result<Vec<SshKey>, AppError> {
    let mut stmt = conn.prepare(select_keys!(
        "WHERE user_id = ?1 ORDER BY created DESC, id DESC"
    ))?;
    let rows = stmt.query_map([user.id], key_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One of the user's keys; anyone else's id is "not found".
pub fn get_for(conn: &Connection, user: &User, id: i64) -> Result<SshKey, AppError> {
    conn.query_row(
        select_keys!("WHERE id = ?1 AND user_id = ?2"),
        params![id, user.id],
        key_from_row,
    )
    .optional()?
    .ok_or_else(|| AppError::NotFound("no such SSH key".into()))
}
