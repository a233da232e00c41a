//! The Account page's list of active sessions (browser, address, started, last seen) and
//! ending one of them or every other one. The session guard itself is in the parent module.

use rocket::{post, routes, Route, State};
use rusqlite::{params, Connection};
use serde::Serialize;

use super::{users, ClientAddr, CsrfForm, NoFields, Session};
use crate::db::{now, Db};
use crate::error::AppError;
use crate::web::SeeOther;

/// Routes of this module.
pub fn routes() -> Vec<Route> {
    routes![post_end_session, post_end_others]
}

/// An active session as its owner sees it.
#[derive(Debug, Clone, Serialize)]
pub struct SessionRow {
    /// The row's number, which the page's "End" button names (never the secret's hash).
    pub n: i64,
    /// "Firefox on Linux", from the user agent.
    pub browser: String,
    pub address: Option<String>,
    pub created: i64,
    pub last_seen: Option<i64>,
    /// The session this page was loaded with.
    pub current: bool,
}

/// `user_id`'s active sessions, the current one (`current_hash`) first, then by last use.
pub fn list(
    conn: &Connection,
    user_id: i64,
    current_hash: &str,
) -> Result<Vec<SessionRow>, AppError> {
    let mut stmt = conn.prepare(
        "SELECT rowid, user_agent, address, created, last_seen, id_hash = ?3 FROM sessions
          WHERE user_id = ?1 AND expires > ?2
          ORDER BY id_hash = ?3 DESC, COALESCE(last_seen, created) DESC, rowid DESC",
    )?;
    let rows = stmt.query_map(params![user_id, now(), current_hash], |r| {
        Ok(SessionRow {
            n: r.get(0)?,
            browser: describe_agent(r.get::<_, Option<String>>(1)?.as_deref()),
            address: r.get(2)?,
            created: r.get(3)?,
            last_seen: r.get(4)?,
            current: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A user agent as a person names it: "Firefox on Linux", "Chrome on Android", "curl".
pub fn describe_agent(agent: Option<&str>) -> String {
    let Some(agent) = agent.filter(|a| !a.trim().is_empty()) else {
        return "Unknown browser".into();
    };
    let browser = if agent.contains("Firefox/") {
        "Firefox"
    } else if agent.contains("Edg/") {
        "Edge"
    } else if agent.contains("HeadlessChrome/") {
        "Headless Chrome"
    } else if agent.contains("Chrome/") || agent.contains("Chromium/") {
        "Chrome"
    } else if agent.contains("Safari/") {
        "Safari"
    } else if let Some(tool) = agent.split('/').next().filter(|t| !t.contains(' ')) {
        return tool.to_owned();
    } else {
        "Unknown browser"
    };
    let system = if agent.contains("Android") {
        Some("Android")
    } else if agent.contains("iPhone") || agent.contains("iPad") {
        Some("iOS")
    } else if agent.contains("Windows") {
        Some("Windows")
    } else if agent.contains("Mac OS X") || agent.contains("Macintosh") {
        Some("macOS")
    } else if agent.contains("Linux") || agent.contains("X11") {
        Some("Linux")
    } else {
        None
    };
    match system {
        Some(system) => format!("{browser} on {system}"),
        None => browser.to_owned(),
    }
}

/// Ends the account's session `n`, or with `None` every session, never the one asking; logs
/// it in the security log when anything ended and returns how many did.
async fn end_sessions(
    db: &Db,
    session: &Session,
    addr: ClientAddr,
    n: Option<i64>,
) -> Result<usize, AppError> {
    let (user_id, current) = (session.user.id, session.id_hash.clone());
    db.write(move |tx| {
        let ended = tx.execute(
            "DELETE FROM sessions WHERE user_id = ?1 AND id_hash <> ?2 AND (?3 IS NULL OR rowid = ?3)",
            params![user_id, current, n],
        )?;
        if ended > 0 {
            let (event, detail) = match n {
                Some(_) => ("session ended", "from the Account page".to_owned()),
                None => (
                    "sessions ended",
                    format!("every other session ({ended}) from the Account page"),
                ),
            };
            users::record_event(tx, user_id, event, &detail, addr.0.as_deref())?;
        }
        Ok(ended)
    })
    .await
}

/// Ends one of the signed-in account's other sessions (`n` from the list).
#[post("/account/sessions/<n>/end", data = "<_form>")]
async fn post_end_session(
    session: &Session,
    addr: ClientAddr,
    n: i64,
    _form: CsrfForm<NoFields>,
    db: &State<Db>,
) -> Result<SeeOther, AppError> {
    if end_sessions(db, session, addr, Some(n)).await? == 0 {
        return Err(AppError::NotFound(
            "no such session (it may have ended already)".into(),
        ));
    }
    Ok(SeeOther::with_flash(
        "/account#sessions",
        "That session has ended; it must sign in again.",
    ))
}

/// Ends every session of the account but this one.
#[post("/account/sessions/end-others", data = "<_form>")]
async fn post_end_others(
    session: &Session,
    addr: ClientAddr,
    _form: CsrfForm<NoFields>,
    db: &State<Db>,
) -> Result<SeeOther, AppError> {
    let message = match end_sessions(db, session, addr, None).await? {
        0 => "No other session was active.".to_owned(),
        1 => "The other session has ended.".to_owned(),
        n => format!("The {n} other sessions have ended."),
    };
    Ok(SeeOther::with_flash("/account#sessions", message))
}

#[cfg(test)]
mod tests {
    use super::describe_agent;

    #[test]
    fn agents_read_as_a_person_names_them() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(describe_agent(Some(firefox)), "Firefox on Linux");
        let chrome = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36";
        assert_eq!(describe_agent(Some(chrome)), "Chrome on Android");
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
        assert_eq!(describe_agent(Some(safari)), "Safari on iOS");
        assert_eq!(describe_agent(Some("curl/8.5.0")), "curl");
        assert_eq!(describe_agent(None), "Unknown browser");
    }
}
