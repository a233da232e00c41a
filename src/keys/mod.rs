//! SSH public keys: validation ([`parse`]), the stored keys and their queries (here), the
//! `/sshkeys` page and `/USER.keys` ([`routes`](mod@routes)) and the keys API ([`api`]).

pub mod api;
pub mod parse;
pub mod routes;

use rocket::Route;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::auth::{users, User};
use crate::db::{now, Db};
use crate::error::AppError;
use crate::text;
use parse::ParsedKey;

/// Routes of this module: the page, `/USER.keys` and the API.
pub fn routes() -> Vec<Route> {
    let mut all = routes::routes();
    all.extend(api::routes());
    all
}

/// Longest key name, in characters.
pub const MAX_NAME: usize = 64;

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

/// Key lists already read, per user, while the database is unchanged (the same rule as for
/// sessions and tokens: see [`crate::auth::cache`]), so showing the `/sshkeys` page again needs
/// no trip to the database. Any commit, by this server or the command line, empties it.
pub type KeyListCache = crate::auth::cache::AuthCache<Vec<SshKey>>;

/// Users whose key lists [`KeyListCache`] keeps at most (a list can be a few hundred KiB).
pub const KEY_LISTS_CACHED: usize = 1_000;

/// How long a cached key list is trusted at most, even while the database is unchanged.
const KEY_LIST_SECONDS: i64 = 60;

/// [`list_for`], from `cache` while the database has not changed since it was read.
pub async fn cached_list_for(
    db: &Db,
    cache: &KeyListCache,
    user: &User,
) -> Result<Vec<SshKey>, AppError> {
    let key = crate::auth::cache::key_of(&format!("ssh keys of user {}", user.id));
    let t = now();
    let (found, seen) = cache.get(db, &key, t);
    if let Some(keys) = found {
        return Ok(keys);
    }
    let u = user.clone();
    let keys = db.run(move |conn| list_for(conn, &u)).await?;
    cache.put(seen, key, keys.clone(), t + KEY_LIST_SECONDS);
    Ok(keys)
}

/// The user's keys, newest first.
pub fn list_for(conn: &Connection, user: &User) -> Result<Vec<SshKey>, AppError> {
    let mut stmt = conn.prepare_cached(select_keys!(
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

/// The form field a refusal is about, so the page can put the message beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    /// The key text.
    Key,
    /// The name.
    Name,
}

/// Why a key was not added: one precise message, tied to one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub field: Field,
    pub message: String,
    /// The pasted text was a private key: it is not sent back to be shown again.
    pub secret: bool,
}

impl Refusal {
    fn key(message: impl Into<String>) -> Refusal {
        Refusal {
            field: Field::Key,
            message: message.into(),
            secret: false,
        }
    }

    fn name(message: impl Into<String>) -> Refusal {
        Refusal {
            field: Field::Name,
            message: message.into(),
            secret: false,
        }
    }
}

/// Settles the name of a new key: the trimmed `typed` name, or when that is empty the key's
/// comment (tidied and cut to [`MAX_NAME`] characters).
pub fn choose_name(typed: &str, comment: &str) -> Result<String, Refusal> {
    let typed = typed.trim();
    if typed.is_empty() {
        let from_comment: String = comment
            .split(|c: char| c.is_whitespace() || text::is_forbidden(c))
            .filter(|word| !word.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(MAX_NAME)
            .collect();
        let from_comment = from_comment.trim_end();
        if from_comment.is_empty() {
            return Err(Refusal::name(
                "This key has no comment to use as its name; enter a name for it, \
                 such as \"laptop\" or \"lab workstation\".",
            ));
        }
        return Ok(from_comment.to_owned());
    }
    if text::has_forbidden(typed) {
        return Err(Refusal::name(format!(
            "The name contains {}; use ordinary letters, digits, spaces and punctuation.",
            text::FORBIDDEN
        )));
    }
    let n = typed.chars().count();
    if n > MAX_NAME {
        return Err(Refusal::name(format!(
            "The name is {n} characters long; use at most {MAX_NAME}."
        )));
    }
    Ok(typed.to_owned())
}

/// Validates a submission without touching the database: the parsed key and its final name.
pub fn prepare(typed_name: &str, key_text: &str) -> Result<(ParsedKey, String), Refusal> {
    if looks_like_fingerprint(key_text) {
        return Err(Refusal::key(
            "This is a key's fingerprint, not the key itself: paste the .pub file, not its \
             fingerprint (the one line starting with its type, such as ssh-ed25519).",
        ));
    }
    let parsed = parse::parse_public_key(key_text).map_err(|e| Refusal {
        secret: e == parse::KeyError::PrivateKey,
        ..Refusal::key(e.to_string())
    })?;
    let name = choose_name(typed_name, &parsed.comment)?;
    Ok((parsed, name))
}

/// Whether `text` is a key fingerprint as `ssh-keygen -l` prints it (`SHA256:` + 43 base64
/// characters, or `MD5:` + hex pairs), possibly with the bit count and comment around it.
fn looks_like_fingerprint(text: &str) -> bool {
    text.split_whitespace().any(|word| {
        let sha = word.strip_prefix("SHA256:").is_some_and(|rest| {
            rest.trim_end_matches('=').len() == 43
                && rest
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
        });
        let md5 = word
            .strip_prefix("MD5:")
            .unwrap_or(word)
            .split(':')
            .filter(|pair| pair.len() == 2 && pair.chars().all(|c| c.is_ascii_hexdigit()))
            .count()
            == 16;
        sha || md5
    }) && !text.contains("AAAA")
}

/// What already stands in the way of saving `fingerprint` as `name` for `user`, if anything.
fn conflict(
    conn: &Connection,
    user: &User,
    fingerprint: &str,
    name: &str,
) -> Result<Option<Refusal>, AppError> {
    let holder: Option<(i64, String)> = conn
        .query_row(
            "SELECT user_id, name FROM ssh_keys WHERE fingerprint = ?1",
            [fingerprint],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((owner, existing)) = holder {
        // Whose key it is stays private: another account is only "another account".
        return Ok(Some(Refusal::key(if owner == user.id {
            format!("This key is already on your account as {existing}.")
        } else {
            "This key is already registered to another account.".to_owned()
        })));
    }
    let taken = conn
        .query_row(
            "SELECT 1 FROM ssh_keys WHERE user_id = ?1 AND name = ?2",
            params![user.id, name],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    Ok(taken.then(|| {
        Refusal::name(format!(
            "You already have a key named {name}; choose another name."
        ))
    }))
}

/// Saves a validated key for `user` and records the event. Call inside `BEGIN IMMEDIATE`
/// ([`Db::write`]) so the duplicate checks and the insert see the same database. The outer
/// error is a failure; the inner one a refusal to show the person.
pub fn insert(
    tx: &Connection,
    user: &User,
    parsed: &ParsedKey,
    name: &str,
    address: Option<&str>,
) -> Result<Result<SshKey, Refusal>, AppError> {
    if let Some(refusal) = conflict(tx, user, &parsed.fingerprint, name)? {
        return Ok(Err(refusal));
    }
    insert_row(tx, user, parsed, name, address)
}

fn insert_row(
    tx: &Connection,
    user: &User,
    parsed: &ParsedKey,
    name: &str,
    address: Option<&str>,
) -> Result<Result<SshKey, Refusal>, AppError> {
    let created = now();
    let inserted = tx.execute(
        "INSERT INTO ssh_keys (user_id, name, algorithm, bits, fingerprint, public_key, comment,
                               created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            user.id,
            name,
            parsed.algorithm,
            parsed.bits,
            parsed.fingerprint,
            parsed.canonical,
            parsed.comment,
            created
        ],
    );
    if let Err(rusqlite::Error::SqliteFailure(f, _)) = &inserted {
        // The UNIQUE indexes are the last line of defence; what they caught is told like the
        // checks above would have told it.
        if f.code == rusqlite::ErrorCode::ConstraintViolation {
            if let Some(refusal) = conflict(tx, user, &parsed.fingerprint, name)? {
                return Ok(Err(refusal));
            }
        }
    }
    inserted?;
    let id = tx.last_insert_rowid();
    users::record_event(
        tx,
        user.id,
        "SSH key added",
        &format!("{name} ({})", parsed.fingerprint),
        address,
    )?;
    Ok(Ok(SshKey {
        id,
        name: name.to_owned(),
        algorithm: parsed.algorithm.clone(),
        bits: parsed.bits,
        fingerprint: parsed.fingerprint.clone(),
        public_key: parsed.canonical.clone(),
        comment: parsed.comment.clone(),
        created,
        last_used: None,
        last_used_on: None,
        type_label: parsed.type_label(),
    }))
}

/// Validates and saves a pasted key: the one path shared by the page and the API.
pub async fn add(
    db: &Db,
    user: &User,
    typed_name: &str,
    key_text: &str,
    address: Option<String>,
) -> Result<Result<SshKey, Refusal>, AppError> {
    let (parsed, name) = match prepare(typed_name, key_text) {
        Ok(prepared) => prepared,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let user = user.clone();
    db.write(move |tx| insert(tx, &user, &parsed, &name, address.as_deref()))
        .await
}

/// Deletes one of `user`'s keys and records the event; returns it and how many keys remain.
/// Anyone else's id is "not found".
pub fn delete(
    tx: &Connection,
    user: &User,
    id: i64,
    address: Option<&str>,
) -> Result<(SshKey, i64), AppError> {
    let key = get_for(tx, user, id)?;
    // A deleted key must stop letting anyone in at once, also on instances already running,
    // and also where the same key was pasted before it was saved (linked by fingerprint only).
    tx.execute(
        "DELETE FROM instance_keys WHERE ssh_key_id = ?1 AND instance_id IN
             (SELECT id FROM instances WHERE status <> 'TERMINATED')",
        [id],
    )?;
    tx.execute(
        "DELETE FROM instance_keys WHERE fingerprint = ?1 AND instance_id IN
             (SELECT id FROM instances WHERE user_id = ?2 AND status <> 'TERMINATED')",
        params![key.fingerprint, user.id],
    )?;
    tx.execute(
        "DELETE FROM ssh_keys WHERE id = ?1 AND user_id = ?2",
        params![id, user.id],
    )?;
    users::record_event(
        tx,
        user.id,
        "SSH key deleted",
        &format!("{} ({})", key.name, key.fingerprint),
        address,
    )?;
    let remaining = tx.query_row(
        "SELECT COUNT(*) FROM ssh_keys WHERE user_id = ?1",
        [user.id],
        |r| r.get(0),
    )?;
    Ok((key, remaining))
}

/// The `TYPE BASE64` lines of an active user's keys, oldest first, each ending in a newline;
/// `None` when there is no such active user.
pub fn public_lines(conn: &Connection, username: &str) -> Result<Option<String>, AppError> {
    let user_id: Option<i64> = conn
        .query_row(
            "SELECT id FROM users WHERE username = ?1 AND disabled = 0",
            [username],
            |r| r.get(0),
        )
        .optional()?;
    let Some(user_id) = user_id else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT public_key FROM ssh_keys WHERE user_id = ?1 ORDER BY created, id",
    )?;
    let lines = stmt.query_map([user_id], |r| r.get::<_, String>(0))?;
    let mut out = String::new();
    for line in lines {
        out.push_str(&line?);
        out.push('\n');
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519: &str = include_str!("../../tests/fixtures/keys/ed25519.pub");
    const P256: &str = include_str!("../../tests/fixtures/keys/ecdsa256.pub");

    #[test]
    fn fingerprints_are_told_apart_from_keys() {
        for fp in [
            "SHA256:h0N+jqrLuxTkBe2IdP21OVpTEGhBXGbPEXFrhXOb0BE",
            "256 SHA256:h0N+jqrLuxTkBe2IdP21OVpTEGhBXGbPEXFrhXOb0BE alice@lab (ED25519)",
            "MD5:0f:1e:2d:3c:4b:5a:69:78:87:96:a5:b4:c3:d2:e1:f0",
        ] {
            assert!(looks_like_fingerprint(fp), "{fp}");
            let refusal = prepare("", fp).expect_err(fp);
            assert!(refusal.message.contains("not its fingerprint"), "{fp}");
        }
        assert!(!looks_like_fingerprint(ED25519));
        assert!(!looks_like_fingerprint("SHA256:short"));
    }

    fn db_with_users() -> (Connection, User, User) {
        let conn = Connection::open_in_memory().expect("memory db");
        conn.execute_batch(include_str!("../../schema.sql"))
            .expect("schema");
        let make = |name: &str| {
            let id = users::create(&conn, name, "x", false).expect("user");
            User {
                id,
                username: name.into(),
                is_admin: false,
            }
        };
        let alice = make("alice");
        let bob = make("bob");
        (conn, alice, bob)
    }

    #[test]
    fn names_are_trimmed_checked_or_taken_from_the_comment() {
        assert_eq!(choose_name("  laptop ", "c"), Ok("laptop".into()));
        assert_eq!(choose_name("", "alice@lab"), Ok("alice@lab".into()));
        assert_eq!(
            choose_name(" ", "a\tb   c\u{202e}d"),
            Ok("a b c d".into()),
            "a comment is tidied into a name"
        );
        let long_comment = "c".repeat(100);
        assert_eq!(choose_name("", &long_comment), Ok("c".repeat(MAX_NAME)));
        assert_eq!(
            choose_name(&"é".repeat(MAX_NAME), ""),
            Ok("é".repeat(MAX_NAME))
        );
        for (typed, comment, field) in [
            ("", "", Field::Name),
            ("", " \t ", Field::Name),
            ("a\u{7}b", "", Field::Name),
            ("a\u{200f}b", "", Field::Name),
            (&*"x".repeat(MAX_NAME + 1), "", Field::Name),
        ] {
            let refusal = choose_name(typed, comment).expect_err(typed);
            assert_eq!(refusal.field, field);
            assert!(!refusal.secret);
        }
    }

    #[test]
    fn a_pasted_private_key_is_marked_secret() {
        let private = include_str!("../../tests/fixtures/keys/id_ed25519");
        let refusal = prepare("n", private).expect_err("private key");
        assert_eq!(refusal.field, Field::Key);
        assert!(refusal.secret);
        assert!(!prepare("n", "ssh-dss AAAA").expect_err("dsa").secret);
    }

    #[test]
    fn duplicates_are_refused_before_and_by_the_unique_indexes() {
        let (conn, alice, bob) = db_with_users();
        let (ed, _) = prepare("laptop", ED25519).expect("valid");
        let (p256, _) = prepare("desk", P256).expect("valid");
        let saved = insert(&conn, &alice, &ed, "laptop", None)
            .expect("no failure")
            .expect("accepted");
        assert_eq!(list_for(&conn, &alice).expect("list"), vec![saved.clone()]);
        let mine = Refusal::key("This key is already on your account as laptop.");
        let theirs = Refusal::key("This key is already registered to another account.");
        let name = Refusal::name("You already have a key named laptop; choose another name.");
        assert_eq!(
            insert(&conn, &alice, &ed, "other", None).unwrap(),
            Err(mine.clone())
        );
        assert_eq!(
            insert(&conn, &bob, &ed, "other", None).unwrap(),
            Err(theirs.clone())
        );
        assert_eq!(
            insert(&conn, &alice, &p256, "laptop", None).unwrap(),
            Err(name.clone())
        );
        // Straight at the insert, past the checks: the constraint errors read the same.
        assert_eq!(
            insert_row(&conn, &alice, &ed, "other", None).unwrap(),
            Err(mine)
        );
        assert_eq!(
            insert_row(&conn, &bob, &ed, "other", None).unwrap(),
            Err(theirs)
        );
        assert_eq!(
            insert_row(&conn, &alice, &p256, "laptop", None).unwrap(),
            Err(name)
        );
        assert_eq!(list_for(&conn, &alice).expect("list").len(), 1);
        assert!(list_for(&conn, &bob).expect("list").is_empty());
    }

    #[test]
    fn delete_counts_what_remains_and_ignores_other_users() {
        let (conn, alice, bob) = db_with_users();
        let (ed, _) = prepare("", ED25519).expect("valid");
        let (p256, _) = prepare("", P256).expect("valid");
        let a = insert(&conn, &alice, &ed, "a", None).unwrap().unwrap();
        let b = insert(&conn, &alice, &p256, "b", None).unwrap().unwrap();
        assert!(matches!(
            delete(&conn, &bob, a.id, None),
            Err(AppError::NotFound(_))
        ));
        assert_eq!(delete(&conn, &alice, a.id, None).expect("delete"), (a, 1));
        assert_eq!(delete(&conn, &alice, b.id, None).expect("delete").1, 0);
        let events = users::events(&conn, alice.id, 10).expect("events");
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds.iter().filter(|k| **k == "SSH key deleted").count(), 2);
        assert_eq!(kinds.iter().filter(|k| **k == "SSH key added").count(), 2);
    }

    #[test]
    fn served_lines_are_bare_and_only_for_active_users() {
        let (conn, alice, _) = db_with_users();
        assert_eq!(public_lines(&conn, "alice").unwrap(), Some(String::new()));
        let (ed, _) = prepare("", ED25519).expect("valid");
        insert(&conn, &alice, &ed, "a", None).unwrap().unwrap();
        let line = format!("{}\n", ed.canonical);
        assert_eq!(public_lines(&conn, "alice").unwrap(), Some(line));
        assert_eq!(public_lines(&conn, "nobody").unwrap(), None);
        users::set_disabled(&conn, alice.id, true).expect("disable");
        assert_eq!(public_lines(&conn, "alice").unwrap(), None);
    }

    #[test]
    fn stored_labels_match_the_parser() {
        for text in [ED25519, P256] {
            let parsed = parse::parse_public_key(text).expect("valid");
            assert_eq!(
                type_label(&parsed.algorithm, parsed.bits),
                parsed.type_label()
            );
        }
        assert_eq!(type_label("ssh-rsa", 4096), "RSA (4096 bits)");
    }
}
