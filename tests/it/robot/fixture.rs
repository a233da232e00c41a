//! Rows the lab would write, set up with plain SQL on the test's data directory.

use std::path::Path;

use labgate::db::{now, Db};
use labgate::keys::parse::parse_public_key;
use rusqlite::params;

/// A robot made as `labgate deployment add` makes one.
pub struct Robot {
    pub id: String,
    pub credential: String,
}

/// An instance and the keys chosen for it.
pub struct Booking {
    pub id: String,
}

/// The database of a data directory (the server may be running on it).
pub fn db(data: &Path) -> Db {
    std::fs::create_dir_all(data).expect("data dir");
    Db::open(&data.join("labgate.db")).expect("open db")
}

/// Adds a robot of `kind` whose login user is `ssh_user`.
pub fn add_robot(db: &Db, kind: &str, ssh_user: &str) -> Robot {
    let id = uuid::Uuid::new_v4().to_string();
    let credential = labgate::auth::users::generate_secret(32);
    let hash = labgate::auth::sha256_hex(&credential);
    db.write_blocking(|tx| {
        tx.execute(
            "INSERT INTO deployments (id, type, description, region, ssh_host, ssh_port,
             ssh_user, hostkeys, enabled, credential_hash, created)
             VALUES (?1, ?2, 'the arm by the window', 'lab', '127.0.0.1', 22, ?3, '', 1, ?4, ?5)",
            params![id, kind, ssh_user, hash, now()],
        )?;
        Ok(())
    })
    .expect("add robot");
    Robot { id, credential }
}

/// Turns a robot off (or on).
pub fn set_enabled(db: &Db, robot: &Robot, enabled: bool) {
    db.write_blocking(|tx| {
        tx.execute(
            "UPDATE deployments SET enabled = ?2 WHERE id = ?1",
            params![robot.id, enabled],
        )?;
        Ok(())
    })
    .expect("set enabled");
}

/// The id of an account.
pub fn user_id(db: &Db, name: &str) -> i64 {
    db.run_blocking(|c| {
        Ok(
            c.query_row("SELECT id FROM users WHERE username = ?1", [name], |r| {
                r.get(0)
            })?,
        )
    })
    .expect("user id")
}

/// Saves `line` as one of the user's keys under `name`, as the SSH keys page does.
pub fn save_key(db: &Db, user_id: i64, name: &str, line: &str) -> i64 {
    let key = parse_public_key(line).expect("valid key");
    db.write_blocking(|tx| {
        tx.execute(
            "INSERT INTO ssh_keys (user_id, name, algorithm, bits, fingerprint, public_key,
             comment, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                user_id,
                name,
                key.algorithm,
                key.bits,
                key.fingerprint,
                key.canonical,
                key.comment,
                now()
            ],
        )?;
        Ok(tx.last_insert_rowid())
    })
    .expect("save key")
}

/// Books `robot` for the user until `expires` with `status`, allowing `keys`: each a
/// stored public-key text and the saved key it came from, if any.
pub fn book(
    db: &Db,
    robot: &Robot,
    user_id: i64,
    status: &str,
    expires: i64,
    keys: &[(&str, Option<i64>)],
) -> Booking {
    let id = uuid::Uuid::new_v4().to_string();
    db.write_blocking(|tx| {
        tx.execute(
            "INSERT INTO instances (id, deployment_id, user_id, status, created, expires)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, robot.id, user_id, status, now(), expires],
        )?;
        for (n, (text, ssh_key_id)) in keys.iter().enumerate() {
            // The fingerprint column as the lab stores it; unparsable texts get a stand-in.
            let fingerprint = parse_public_key(text)
                .map(|k| k.fingerprint)
                .unwrap_or_else(|_| format!("SHA256:bogus{n}"));
            tx.execute(
                "INSERT INTO instance_keys (instance_id, public_key, fingerprint, ssh_key_id)
                 VALUES (?1, ?2, ?3, ?4)",
                params![id, text, fingerprint, ssh_key_id],
            )?;
        }
        Ok(())
    })
    .expect("book");
    Booking { id }
}

/// Ends an instance as terminating it does.
pub fn terminate(db: &Db, booking: &Booking) {
    db.write_blocking(|tx| {
        tx.execute(
            "UPDATE instances SET status = 'TERMINATED', ended = ?2 WHERE id = ?1",
            params![booking.id, now()],
        )?;
        Ok(())
    })
    .expect("terminate");
}

/// `(last_used, last_used_on)` of a saved key.
pub fn last_used(db: &Db, key_id: i64) -> (Option<i64>, Option<String>) {
    db.run_blocking(|c| {
        Ok(c.query_row(
            "SELECT last_used, last_used_on FROM ssh_keys WHERE id = ?1",
            [key_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    })
    .expect("last used")
}
