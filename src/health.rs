//! Health: `GET /alive`, which answers whether the database can be read, and
//! `labgate healthcheck`, which asks it (the container image's HEALTHCHECK, so the image needs
//! no shell or curl).
//!
//! `/alive` never creates or changes a file: it opens the database read-only, without the right
//! to create it, and runs no pragma that writes. A missing, unreadable or damaged database is 503.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use rocket::http::Status;
use rocket::{get, routes, Route, State};
use rusqlite::{Connection, OpenFlags};

use crate::config::default_public_url;
use crate::db::Db;

/// Routes of this module: `/alive`.
pub fn routes() -> Vec<Route> {
    routes![get_alive]
}

/// 200 when the database answers, 503 when it does not. It opens a connection of its own, as a
/// restarted server would, so a damaged or missing file shows here even while pooled
/// connections still serve from what they had open.
#[get("/alive")]
async fn get_alive(db: &State<Db>) -> (Status, &'static str) {
    let path = db.path().to_owned();
    let checked = rocket::tokio::task::spawn_blocking(move || read_database(&path)).await;
    match checked {
        Ok(Ok(_)) => (Status::Ok, "ok\n"),
        Ok(Err(e)) => {
            tracing::error!("health check: {}: {e}", db.path().display());
            (Status::ServiceUnavailable, "database unavailable\n")
        }
        Err(e) => {
            tracing::error!("health check task: {e}");
            (Status::ServiceUnavailable, "database unavailable\n")
        }
    }
}

/// Reads the database at `path` without creating or changing any file; returns the number of
/// accounts.
pub fn read_database(path: &Path) -> rusqlite::Result<i64> {
    let conn = open_read_only(path)?;
    conn.busy_timeout(Duration::from_secs(2))?;
    conn.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))
}

/// Opens `path` read-only and never creates it. Even read-only, SQLite creates the `-wal` and
/// `-shm` files of a WAL database that no connection has open; without a `-shm` file there is
/// no connection and so nothing in a write-ahead log, so the file is opened `immutable` then,
/// which reads it as it is and creates nothing.
fn open_read_only(path: &Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if sidecar(path, "-shm").exists() {
        return Connection::open_with_flags(path, flags);
    }
    let Some(text) = path.to_str() else {
        return Err(rusqlite::Error::InvalidPath(path.to_owned()));
    };
    let uri = format!("file:{}?immutable=1", uri_escape(text));
    Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)
}

/// `path` with `suffix` added to its file name (`labgate.db-shm`).
fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Escapes the characters that end or change the path part of an SQLite `file:` URI.
fn uri_escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3f"),
            '#' => out.push_str("%23"),
            c => out.push(c),
        }
    }
    out
}

/// `labgate healthcheck`: the server's address and port, as `labgate serve` reads them.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Address the server listens on; 0.0.0.0 and :: mean this machine's loopback.
    #[arg(long, env = "LABGATE_ADDRESS", default_value = "127.0.0.1")]
    pub address: IpAddr,
    /// Port the server listens on.
    #[arg(long, env = "LABGATE_PORT", default_value_t = 8000)]
    pub port: u16,
    /// Seconds to wait for the whole answer.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=60))]
    pub timeout: u64,
}

/// Where the health check asks: `/alive` on the address, with an unspecified address (the
/// server listens everywhere) replaced by the loopback address of its family.
pub fn alive_url(address: IpAddr, port: u16) -> String {
    let address = match address {
        IpAddr::V4(a) if a.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(a) if a.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => other,
    };
    format!("{}/alive", default_public_url(address, port))
}

/// Asks `/alive` once: exit 0 when it answers 200, 1 for anything else (another status, no
/// answer within the timeout, nobody listening), with the reason on stderr.
pub fn run_check(args: CheckArgs) -> ExitCode {
    let url = alive_url(args.address, args.port);
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(args.timeout))
        .redirects(0)
        .build();
    match agent.get(&url).call() {
        Ok(resp) if resp.status() == 200 => {
            println!("healthy: {url} answered 200");
            ExitCode::SUCCESS
        }
        Ok(resp) => {
            eprintln!("unhealthy: {url} answered {}", resp.status());
            ExitCode::FAILURE
        }
        Err(ureq::Error::Status(code, _)) => {
            eprintln!("unhealthy: {url} answered {code}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("unhealthy: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_addresses_are_asked_on_loopback() {
        let at = |a: &str| alive_url(a.parse().unwrap(), 9000);
        assert_eq!(at("0.0.0.0"), "http://127.0.0.1:9000/alive");
        assert_eq!(at("::"), "http://[::1]:9000/alive");
        assert_eq!(at("10.1.2.3"), "http://10.1.2.3:9000/alive");
        assert_eq!(at("fe80::1"), "http://[fe80::1]:9000/alive");
    }

    fn files_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn reading_creates_no_file() {
        let dir = tempfile::tempdir().unwrap();
        // '?', '#' and '%' in the path must not end the URI's path.
        let sub = dir.path().join("odd ?#%25 name");
        std::fs::create_dir(&sub).unwrap();
        let path = sub.join("labgate.db");

        assert!(read_database(&path).is_err(), "a missing database");
        assert!(
            files_in(&sub).is_empty(),
            "nothing created: {:?}",
            files_in(&sub)
        );

        // A WAL database that no connection has open, as after the last one closed.
        let conn = crate::db::connect(&path).unwrap();
        conn.execute_batch("CREATE TABLE users (id INTEGER); INSERT INTO users VALUES (1), (2);")
            .unwrap();
        drop(conn);
        assert_eq!(files_in(&sub), ["labgate.db"]);
        assert_eq!(read_database(&path).unwrap(), 2);
        assert_eq!(files_in(&sub), ["labgate.db"], "no -wal or -shm made");

        // With a connection open (the running server's pool), the log is read too.
        let conn = crate::db::connect(&path).unwrap();
        conn.execute("INSERT INTO users VALUES (3)", []).unwrap();
        let before = files_in(&sub);
        assert_eq!(read_database(&path).unwrap(), 3);
        assert_eq!(files_in(&sub), before);
        drop(conn);

        std::fs::write(&path, b"not a database at all, not even close to one").unwrap();
        assert!(read_database(&path).is_err(), "a damaged database");
    }
}
