//! The API tokens' issuer: one identity per data directory, recorded in the `settings` table the
//! first time a server starts on it, that every token names as its issuer and audience and is
//! checked against. Changing the public URL later (say, setting `LABGATE_PUBLIC_URL` after a
//! first run without it) leaves every token working.
//!
//! A new data directory records the public URL it first starts with. A data directory from a
//! release before this identity existed records the public URL its server last started with,
//! which older releases kept under `public_url` and which their tokens name; failing that, the
//! public URL in force at that start.

use rusqlite::Connection;

use crate::db::{set_setting, setting};
use crate::error::AppError;

/// Settings key of the recorded issuer.
pub const ISSUER_KEY: &str = "token_issuer";
/// Settings key under which releases before the recorded issuer kept the public URL of their
/// last start (their tokens' issuer). Read once, when the issuer is first recorded.
pub const LEGACY_PUBLIC_URL_KEY: &str = "public_url";

/// The recorded issuer, if a server or `labgate token issue` ever recorded one here.
pub fn recorded(conn: &Connection) -> Result<Option<String>, AppError> {
    setting(conn, ISSUER_KEY)
}

/// The issuer of this data directory: the recorded one, or (recorded now) the legacy public URL
/// or else `public_url`. Run it inside a write transaction.
pub fn establish(conn: &Connection, public_url: &str) -> Result<String, AppError> {
    if let Some(issuer) = recorded(conn)? {
        return Ok(issuer);
    }
    let issuer = setting(conn, LEGACY_PUBLIC_URL_KEY)?.unwrap_or_else(|| public_url.to_owned());
    set_setting(conn, ISSUER_KEY, &issuer)?;
    Ok(issuer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings_db() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            .unwrap();
        conn
    }

    #[test]
    fn the_first_public_url_stays() {
        let conn = settings_db();
        assert_eq!(recorded(&conn).unwrap(), None);
        assert_eq!(
            establish(&conn, "http://0.0.0.0:8000").unwrap(),
            "http://0.0.0.0:8000"
        );
        assert_eq!(
            establish(&conn, "https://lab.example.org").unwrap(),
            "http://0.0.0.0:8000"
        );
        assert_eq!(
            recorded(&conn).unwrap().as_deref(),
            Some("http://0.0.0.0:8000")
        );
    }

    #[test]
    fn an_older_data_directory_keeps_the_url_its_tokens_name() {
        let conn = settings_db();
        set_setting(&conn, LEGACY_PUBLIC_URL_KEY, "http://127.0.0.1:8000").unwrap();
        assert_eq!(
            establish(&conn, "https://lab.example.org").unwrap(),
            "http://127.0.0.1:8000"
        );
        assert_eq!(
            recorded(&conn).unwrap().as_deref(),
            Some("http://127.0.0.1:8000")
        );
    }
}
