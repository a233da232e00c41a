//! The SQLite database: opening with the right pragmas, the schema, and running work off the
//! async executor.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{
    params, Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior,
};

use crate::error::AppError;

/// `schema.sql` is the whole current schema, applied to an empty database. Every change after the
/// first release is also a numbered migration in `migrations/` (`NNNN_what.sql`, bringing the
/// database to version NNNN), applied in order to a database whose `PRAGMA user_version` is older,
/// inside the same transaction as the version bump: a lab upgrades in place, and a failed upgrade
/// leaves the old database untouched. A test checks that both paths give the same schema.
const SCHEMA: &str = include_str!("../schema.sql");
/// Migrations after version 1: `(version it brings the database to, SQL)`, in order.
const MIGRATIONS: &[(i64, &str)] = &[
    (2, include_str!("../migrations/0002_groups.sql")),
    (3, include_str!("../migrations/0003_bookings.sql")),
    (4, include_str!("../migrations/0004_console.sql")),
];
/// Version written to `PRAGMA user_version` once every migration is applied.
pub const SCHEMA_VERSION: i64 = match MIGRATIONS.last() {
    Some((version, _)) => *version,
    None => 1,
};
/// Idle connections kept for reuse.
const POOL_SIZE: usize = 8;

/// Handle to the database; cheap to clone.
///
/// Reads run on pooled connections. Every [`Db::write`] of the server goes through one writer
/// connection behind a fair (first come, first served) lock, so colliding writers queue in the
/// process instead of sleeping in SQLite's busy handler and retrying; the busy handler is left
/// for other processes (the command line) and for bookkeeping writes made from readers.
#[derive(Clone)]
pub struct Db {
    path: PathBuf,
    idle: Arc<Mutex<Vec<Connection>>>,
    writer: Arc<rocket::tokio::sync::Mutex<Option<Connection>>>,
    watch: Arc<Mutex<Option<Connection>>>,
}

/// Opens one connection with labgate's pragmas, creating the database file if needed.
pub fn connect(path: &Path) -> rusqlite::Result<Connection> {
    configure(Connection::open(path)?)
}

/// Opens one more connection to a database that must already exist. Once the server runs,
/// nothing may create an empty database where the real one went missing: the request (or
/// the background sweep) fails and `/alive` says so instead.
fn reconnect(path: &Path) -> rusqlite::Result<Connection> {
    configure(open_existing(path)?)
}

/// A bare connection to a database file that must already exist (never created here).
fn open_existing(path: &Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::default().difference(OpenFlags::SQLITE_OPEN_CREATE);
    Connection::open_with_flags(path, flags)
}

fn configure(conn: Connection) -> rusqlite::Result<Connection> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA secure_delete = ON;",
    )?;
    Ok(conn)
}

impl Db {
    /// Opens (creating if needed) the database at `path` and brings the schema up to date.
    pub fn open(path: &Path) -> Result<Db, AppError> {
        let mut conn = connect(path)?;
        // Password hashes and key material live here: owner only, whatever the umask.
        std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(AppError::internal(format!(
                "database schema version {version} is newer than this labgate ({SCHEMA_VERSION})"
            )));
        }
        migrate(&tx, version)?;
        tx.commit()?;
        Ok(Db {
            path: path.to_owned(),
            idle: Arc::new(Mutex::new(vec![conn])),
            writer: Arc::new(rocket::tokio::sync::Mutex::new(None)),
            watch: Arc::new(Mutex::new(None)),
        })
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn take(&self) -> Result<Connection, AppError> {
        let reused = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        match reused {
            Some(conn) => Ok(conn),
            None => Ok(reconnect(&self.path)?),
        }
    }

    fn give_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < POOL_SIZE {
                idle.push(conn);
            }
        }
    }

    /// Runs `f` with a connection, synchronously. For the CLI and for code already off the executor.
    pub fn run_blocking<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        let mut conn = self.take()?;
        let out = f(&mut conn);
        // A connection left inside a transaction by an early return must not be reused.
        if conn.is_autocommit() {
            self.give_back(conn);
        }
        out
    }

    /// Runs `f` with a connection on the blocking pool, so request handlers never stall the executor.
    pub async fn run<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, AppError> + Send + 'static,
    {
        let db = self.clone();
        rocket::tokio::task::spawn_blocking(move || db.run_blocking(f))
            .await
            .map_err(|e| AppError::internal(format!("database task failed: {e}")))?
    }

    /// Runs `f` inside `BEGIN IMMEDIATE` on the process's one writer connection, on the blocking
    /// pool; commits when it returns `Ok`. Writers wait for the connection in arrival order
    /// without holding a thread while they wait.
    pub async fn write<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, AppError> + Send + 'static,
    {
        let mut writer = self.writer.clone().lock_owned().await;
        let path = self.path.clone();
        rocket::tokio::task::spawn_blocking(move || {
            let conn = match writer.as_mut() {
                Some(conn) => conn,
                None => writer.insert(reconnect(&path)?),
            };
            let out = write_tx(conn, f);
            // Rolled back on error, so the connection is back in autocommit; if not, it is
            // dropped and the next writer opens a fresh one.
            if !conn.is_autocommit() {
                *writer = None;
            }
            out
        })
        .await
        .map_err(|e| AppError::internal(format!("database task failed: {e}")))?
    }

    /// SQLite's `PRAGMA data_version` as seen from a connection of its own: it changes whenever
    /// any other connection, in this process or another, commits a change. Caches of what the
    /// database said compare it to know they are still true. Read without leaving the caller's
    /// thread (it consults the WAL index in shared memory, no disk read); `None` when it cannot
    /// be read, which callers must take as "changed".
    pub fn data_version(&self) -> Option<i64> {
        let mut watch = self.watch.lock().ok()?;
        if watch.is_none() {
            let conn = open_existing(&self.path).ok()?;
            conn.busy_timeout(Duration::from_millis(50)).ok()?;
            *watch = Some(conn);
        }
        let conn = watch.as_ref()?;
        let version = conn
            .prepare_cached("PRAGMA data_version")
            .and_then(|mut stmt| stmt.query_row([], |r| r.get(0)));
        match version {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::warn!("reading the database's data version: {e}");
                *watch = None;
                None
            }
        }
    }

    /// [`Db::write`] for synchronous callers (the command line and start-up, outside the
    /// server's request handling): a pooled connection and SQLite's busy handler.
    pub fn write_blocking<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        self.run_blocking(move |conn| write_tx(conn, f))
    }
}

/// Brings a database at `version` (0: empty) up to [`SCHEMA_VERSION`] inside `tx`.
fn migrate(tx: &Transaction<'_>, version: i64) -> Result<(), AppError> {
    if version == 0 {
        tx.execute_batch(SCHEMA)?;
    } else {
        for (to, sql) in MIGRATIONS {
            if *to > version {
                tx.execute_batch(sql)?;
            }
        }
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    Ok(())
}

fn write_tx<T>(
    conn: &mut Connection,
    f: impl FnOnce(&Transaction<'_>) -> Result<T, AppError>,
) -> Result<T, AppError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let out = f(&tx)?;
    tx.commit()?;
    Ok(out)
}

/// Reads a server-wide setting.
pub fn setting(conn: &Connection, key: &str) -> Result<Option<String>, AppError> {
    Ok(conn
        .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?)
}

/// Writes a server-wide setting.
pub fn set_setting(conn: &Connection, key: &str, value: &str) -> Result<(), AppError> {
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

/// Current time in unix seconds.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Writes a consistent copy of the database to `file` with SQLite's online backup, which
/// works while the server is writing. The copy is readable only by its owner.
pub fn backup(db: &Db, file: &Path) -> Result<(), AppError> {
    use std::os::unix::fs::OpenOptionsExt;
    // Created first, with mode 0600 and never over an existing file.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        .map_err(|e| AppError::Conflict(format!("cannot create {}: {e}", file.display())))?;
    let copied = db.run_blocking(|conn| {
        let mut dst = Connection::open(file)?;
        let backup = rusqlite::backup::Backup::new(conn, &mut dst)?;
        backup.run_to_completion(256, Duration::from_millis(5), None)?;
        Ok(())
    });
    if copied.is_err() {
        let _ = std::fs::remove_file(file);
    }
    copied
}
