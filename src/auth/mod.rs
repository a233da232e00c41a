//! Who is asking: sessions, the `User` and `Admin` request guards, CSRF protection and login
//! throttling. Accounts themselves live in [`users`]; the pages in [`routes`](mod@routes).

pub mod admin;
pub mod cache;
pub mod cli;
pub mod routes;
pub mod sessions;
pub mod throttle;
pub mod users;

use rocket::data::{Data, FromData, Limits};
use rocket::form::{Form, FromForm};
use rocket::http::{Cookie, RawStr, SameSite, Status};
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};
use rusqlite::{params, OptionalExtension};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::db::{now, Db};
use crate::error::{guard_error, AppError};

/// Routes of the account system: sign-in, `/account` and `/admin/users`.
pub fn routes() -> Vec<rocket::Route> {
    let mut all = routes::routes();
    all.extend(admin::routes());
    all.extend(sessions::routes());
    all
}

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "labgate_session";
/// How long a login lasts.
pub const SESSION_SECONDS: i64 = 7 * 86400;

/// A signed-in account, the proof that handlers touching a user's rows take.
#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub is_admin: bool,
}

/// The current browser session: the account plus what the session itself holds.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    /// SHA-256 (hex) of the cookie value; the row's key.
    pub id_hash: String,
    /// The token every state-changing request must echo.
    pub csrf: String,
    /// An admin set the account's password: until the member chooses their own, only the
    /// Account page, the password change and sign-out answer (see [`MUST_CHANGE_MESSAGE`]).
    pub must_change: bool,
}

/// What a member whose password an admin set is told on the way to the Account page.
pub const MUST_CHANGE_MESSAGE: &str =
    "An admin set your password: choose your own before going on.";

/// Whether a signed-in request may go ahead while the password must still be changed: the
/// Account page, the password change, sign-out and the sign-in page (which sends a signed-in
/// person on, and so to the Account page).
fn open_while_must_change(req: &Request<'_>) -> bool {
    matches!(
        req.uri().path().as_str(),
        "/account" | "/account/password" | "/logout" | "/login"
    )
}

/// Marks a request refused because the password must be changed first; the catcher then
/// sends it to the Account page.
pub struct MustChange(pub bool);

/// Whether this request was refused because its account must change its password first.
pub fn refused_for_password(req: &Request<'_>) -> bool {
    req.local_cache(|| MustChange(false)).0
}

/// Hex SHA-256 of a secret, as stored in place of it.
pub fn sha256_hex(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The client's address as text (for the security log and throttling).
pub struct ClientAddr(pub Option<String>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ClientAddr {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        Outcome::Success(ClientAddr(req.client_ip().map(|ip| ip.to_string())))
    }
}

/// The browser's `User-Agent`, cut to a sane length (shown in the Account page's session list).
pub struct UserAgent(pub Option<String>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for UserAgent {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        let agent = req
            .headers()
            .get_one("User-Agent")
            .map(|a| a.chars().filter(|c| !c.is_control()).take(300).collect());
        Outcome::Success(UserAgent(agent))
    }
}

/// Who is knocking: the client's address and browser, for sign-in and password changes,
/// which start a session and note both.
pub struct Visitor(pub ClientAddr, pub UserAgent);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Visitor {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        let addr = ClientAddr(req.client_ip().map(|ip| ip.to_string()));
        match req.guard::<UserAgent>().await {
            Outcome::Success(agent) => Outcome::Success(Visitor(addr, agent)),
            Outcome::Error((status, e)) => Outcome::Error((status, e)),
            Outcome::Forward(status) => Outcome::Forward(status),
        }
    }
}

/// Passes only same-origin requests (see [`same_origin`]); for posts without a session.
pub struct SameOrigin;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for SameOrigin {
    type Error = AppError;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        match req.rocket().state::<Config>() {
            Some(config) if same_origin(req, config) => Outcome::Success(SameOrigin),
            _ => guard_error(
                req,
                AppError::Forbidden("this request came from another site and was refused".into()),
            ),
        }
    }
}

async fn load_session(req: &Request<'_>) -> Result<Option<Session>, AppError> {
    let Some(cookie) = req.cookies().get(SESSION_COOKIE) else {
        return Ok(None);
    };
    let Some(db) = req.rocket().state::<Db>() else {
        return Err(AppError::internal("database not managed"));
    };
    let Some(cache) = req.rocket().state::<SessionCache>() else {
        return Err(AppError::internal("session cache not managed"));
    };
    let cache_key = cache::key_of(cookie.value());
    let (cached, seen) = cache.get(db, &cache_key, now());
    if cached.is_some() {
        return Ok(cached);
    }
    let id_hash = sha256_hex(cookie.value());
    let found = db
        .run(move |conn| {
            let found = conn
                .prepare_cached(
                    "SELECT u.id, u.username, u.is_admin, s.csrf, s.expires, s.last_seen, u.must_change
                 FROM sessions s
                 JOIN users u ON u.id = s.user_id
                 WHERE s.id_hash = ?1 AND s.expires > ?2 AND u.disabled = 0",
                )?
                .query_row(params![id_hash, now()], |r| {
                    let session = Session {
                        user: User {
                            id: r.get(0)?,
                            username: r.get(1)?,
                            is_admin: r.get(2)?,
                        },
                        id_hash: id_hash.clone(),
                        csrf: r.get(3)?,
                        must_change: r.get(6)?,
                    };
                    Ok((session, r.get::<_, i64>(4)?, r.get::<_, Option<i64>>(5)?))
                })
                .optional()?;
            // "Last seen" for the session list, at most once a minute. Bookkeeping that must
            // never fail a request: a busy database just leaves the older time in place.
            let t = now();
            if let Some((session, _, seen)) = &found {
                if seen.is_none_or(|s| s + 60 <= t) {
                    if let Err(e) = conn.execute(
                        "UPDATE sessions SET last_seen = ?2 WHERE id_hash = ?1",
                        params![session.id_hash, t],
                    ) {
                        tracing::debug!("noting a session's last use: {e}");
                    }
                }
            }
            Ok(found.map(|(session, expires, _)| (session, expires)))
        })
        .await?;
    Ok(found.map(|(session, expires)| {
        cache.put(seen, cache_key, session.clone(), expires);
        session
    }))
}

/// Sessions already looked up, while the database is unchanged (see [`cache::AuthCache`]).
pub type SessionCache = cache::AuthCache<Session>;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for &'r Session {
    type Error = AppError;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        // Looked up once per request; pages read it again to show who is signed in.
        let loaded = req
            .local_cache_async(async {
                match load_session(req).await {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::error!("loading a session: {e}");
                        None
                    }
                }
            })
            .await;
        match loaded {
            Some(s) if s.must_change && !open_while_must_change(req) => {
                req.local_cache(|| MustChange(true));
                // Answered by the catcher with a redirect to /account (see `MustChange`).
                Outcome::Error((
                    Status::Forbidden,
                    AppError::Forbidden(MUST_CHANGE_MESSAGE.into()),
                ))
            }
            Some(s) => Outcome::Success(s),
            None => Outcome::Error((Status::Unauthorized, AppError::Unauthorized)),
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for User {
    type Error = AppError;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        req.guard::<&Session>().await.map(|s| s.user.clone())
    }
}

/// An administrator. Anyone else is told the page does not exist.
#[derive(Debug, Clone)]
pub struct Admin(pub User);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Admin {
    type Error = AppError;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        match req.guard::<User>().await {
            Outcome::Success(u) if u.is_admin => Outcome::Success(Admin(u)),
            Outcome::Success(_) => guard_error(req, AppError::not_found()),
            Outcome::Error(e) => Outcome::Error(e),
            Outcome::Forward(s) => Outcome::Forward(s),
        }
    }
}

/// Whether a state-changing request comes from our own pages: `Sec-Fetch-Site` when the
/// browser sends it, else `Origin`; requests with neither (scripts, old browsers) rely on the
/// CSRF token alone.
pub fn same_origin(req: &Request<'_>, config: &Config) -> bool {
    if let Some(site) = req.headers().get_one("Sec-Fetch-Site") {
        return site == "same-origin" || site == "none";
    }
    match req.headers().get_one("Origin") {
        None => true,
        Some(origin) => {
            origin == config.public_origin()
                || req.host().is_some_and(|host| {
                    let host = host.to_string();
                    origin == format!("http://{host}") || origin == format!("https://{host}")
                })
        }
    }
}

/// A form posted by a signed-in user from our own pages: the session's CSRF token must come
/// with it (field `csrf_token` or header `X-CSRF-Token`) and the request must be same-origin.
pub struct CsrfForm<T>(pub T);

/// A form with no fields of its own (delete and revoke buttons).
#[derive(Debug, FromForm)]
pub struct NoFields {
    #[field(name = "csrf_token")]
    _csrf_token: Option<String>,
}

#[derive(FromForm)]
struct TokenOnly {
    csrf_token: Option<String>,
}

fn forbidden<'r, T>(req: &'r Request<'_>, message: &str) -> rocket::data::Outcome<'r, T, AppError> {
    guard_error(req, AppError::Forbidden(message.into()))
}

#[rocket::async_trait]
impl<'r, T: for<'a> FromForm<'a> + Send + 'static> FromData<'r> for CsrfForm<T> {
    type Error = AppError;

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> rocket::data::Outcome<'r, Self> {
        let session = match req.guard::<&Session>().await {
            Outcome::Success(s) => s,
            Outcome::Error(e) => return Outcome::Error(e),
            Outcome::Forward(_) => return forbidden(req, "sign in first"),
        };
        let Some(config) = req.rocket().state::<Config>() else {
            return Outcome::Error((Status::InternalServerError, AppError::internal("no config")));
        };
        if !same_origin(req, config) {
            return forbidden(req, "this request came from another site and was refused");
        }
        let limit = req.limits().get("form").unwrap_or(Limits::FORM);
        let body = match data.open(limit).into_string().await {
            Ok(s) if s.is_complete() => s.into_inner(),
            Ok(_) => {
                return guard_error(
                    req,
                    AppError::Invalid(format!(
                        "The form is larger than {limit}; nothing was saved. An SSH public key is \
                         one line of a few kilobytes at most."
                    )),
                )
            }
            Err(e) => {
                return Outcome::Error((Status::BadRequest, AppError::BadRequest(e.to_string())))
            }
        };
        let body = RawStr::new(&body);
        let header = req.headers().get_one("X-CSRF-Token").map(str::to_owned);
        let field = Form::<TokenOnly>::parse_encoded(body)
            .ok()
            .and_then(|t| t.csrf_token);
        let presented = header.or(field).unwrap_or_default();
        if !constant_time_eq(presented.as_bytes(), session.csrf.as_bytes()) {
            return forbidden(
                req,
                "the form has expired or did not come from this site; reload the page and try again",
            );
        }
        match Form::<T>::parse_encoded(body) {
            Ok(value) => Outcome::Success(CsrfForm(value)),
            Err(errors) => {
                let message = errors
                    .iter()
                    .next()
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "the form could not be read".into());
                guard_error(req, AppError::Invalid(message))
            }
        }
    }
}

/// Compares secrets without an early exit that would leak where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Starts a session for `user_id`: stores its hash, returns the cookie value.
pub fn create_session(
    conn: &rusqlite::Connection,
    user_id: i64,
    address: Option<&str>,
    user_agent: Option<&str>,
) -> Result<String, AppError> {
    let id = users::generate_secret(32);
    let csrf = users::generate_secret(32);
    let t = now();
    conn.execute(
        "INSERT INTO sessions (id_hash, user_id, csrf, created, expires, address, user_agent, last_seen)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?4)",
        params![
            sha256_hex(&id),
            user_id,
            csrf,
            t,
            t + SESSION_SECONDS,
            address,
            user_agent
        ],
    )?;
    conn.execute("DELETE FROM sessions WHERE expires <= ?1", [t])?;
    Ok(id)
}

/// The session cookie for `value`, with the attributes the design requires.
pub fn session_cookie(value: String, config: &Config) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(config.secure_cookies())
        .max_age(rocket::time::Duration::seconds(SESSION_SECONDS))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_compare() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn sha256_is_hex() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
