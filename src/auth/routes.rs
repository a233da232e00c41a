//! Pages of the account system: login and logout, and `/account`.

use rocket::form::{Form, FromForm};
use rocket::http::{CookieJar, Status};
use rocket::{get, post, routes, Route, State};
use serde::Serialize;

use super::throttle::{Throttle, Verdict};
use super::users;
use super::{
    create_session, session_cookie, CsrfForm, NoFields, SameOrigin, Session, User, Visitor,
};
use crate::config::Config;
use crate::db::Db;
use crate::error::AppError;
use crate::web::{Reply, SeeOther, View};

/// Routes of this module.
pub fn routes() -> Vec<Route> {
    routes![
        get_root,
        get_login,
        post_login,
        post_logout,
        get_account,
        post_password
    ]
}

#[get("/")]
fn get_root() -> SeeOther {
    SeeOther::to("/sshkeys")
}

/// `next` when it is a path on this site to return to after signing in: it starts with one
/// `/` (not `//` or `/\`, which browsers read as another host), holds no control characters
/// and is not the sign-in page itself. Anything else is dropped.
pub fn safe_next(next: Option<&str>) -> Option<String> {
    let next = next?;
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(|c| c.is_control() || c.is_whitespace())
        && next.len() <= 1024
        && !next.starts_with("/login")
        && !next.starts_with("/logout");
    local.then(|| next.to_owned())
}

#[get("/login?<next>")]
fn get_login(
    user: Option<User>,
    next: Option<&str>,
    cookies: &CookieJar<'_>,
    config: &State<Config>,
) -> Reply {
    let login_csrf = login_token(cookies, config);
    let next = safe_next(next);
    match user {
        Some(_) => SeeOther::to(next.unwrap_or_else(|| "/sshkeys".into())).into(),
        None => View::new(
            "login.html",
            LoginCtx {
                login_csrf,
                next: next.unwrap_or_default(),
                first_start: initial_password_file(config).exists(),
                ..LoginCtx::default()
            },
        )
        .into(),
    }
}

/// Cookie holding the sign-in form's CSRF token (there is no session yet to hold it).
const LOGIN_CSRF_COOKIE: &str = "labgate_login";

/// The sign-in form's CSRF token: the one this browser already has, or a new one.
fn login_token(cookies: &CookieJar<'_>, config: &Config) -> String {
    if let Some(c) = cookies.get(LOGIN_CSRF_COOKIE) {
        return c.value().to_owned();
    }
    let token = users::generate_secret(32);
    cookies.add(
        rocket::http::Cookie::build((LOGIN_CSRF_COOKIE, token.clone()))
            .path("/login")
            .http_only(true)
            .same_site(rocket::http::SameSite::Strict)
            .secure(config.secure_cookies()),
    );
    token
}

#[derive(Default, Serialize)]
struct LoginCtx {
    username: String,
    error: Option<String>,
    login_csrf: String,
    /// Where to go after signing in (a checked local path), or empty.
    next: String,
    /// Whether the first admin's generated password file still exists.
    first_start: bool,
}

#[derive(FromForm)]
struct LoginForm {
    #[field(default = String::new())]
    username: String,
    #[field(default = String::new())]
    password: String,
    #[field(default = String::new())]
    csrf_token: String,
    #[field(default = String::new())]
    next: String,
}

/// The file holding the first admin's generated password.
pub fn initial_password_file(config: &Config) -> std::path::PathBuf {
    config.data.join("initial-admin-password")
}

/// Settings key naming the account whose password is in the initial-password file.
pub const INITIAL_ADMIN_KEY: &str = "initial_admin_id";

/// Removes the initial-password file once that account's password has changed.
pub fn forget_initial_password(
    conn: &rusqlite::Connection,
    config: &Config,
    user_id: i64,
) -> Result<(), AppError> {
    if crate::db::setting(conn, INITIAL_ADMIN_KEY)?.as_deref() == Some(&user_id.to_string()) {
        match std::fs::remove_file(initial_password_file(config)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn login_refused(
    username: String,
    error: String,
    status: Status,
    login_csrf: String,
    next: &str,
    config: &Config,
) -> View {
    View::new(
        "login.html",
        LoginCtx {
            username,
            error: Some(error),
            login_csrf,
            next: safe_next(Some(next)).unwrap_or_default(),
            first_start: initial_password_file(config).exists(),
        },
    )
    .status(status)
}

#[post("/login", data = "<form>")]
async fn post_login(
    visitor: Visitor,
    _same_origin: SameOrigin,
    form: Form<LoginForm>,
    db: &State<Db>,
    config: &State<Config>,
    throttle: &State<Throttle>,
    cookies: &CookieJar<'_>,
) -> Result<Reply, AppError> {
    let Visitor(addr, agent) = visitor;
    let LoginForm {
        username,
        password,
        csrf_token,
        next,
    } = form.into_inner();
    let username = username.trim().to_owned();
    // Double submit: the form's token must match the cookie set with the form, which another
    // site can neither read nor send (SameSite=Strict).
    let expected = cookies.get(LOGIN_CSRF_COOKIE).map(|c| c.value().to_owned());
    let token = login_token(cookies, config);
    if !expected.is_some_and(|e| super::constant_time_eq(e.as_bytes(), csrf_token.as_bytes())) {
        let msg = "The sign-in form had expired. Please sign in again.".to_owned();
        return Ok(login_refused(username, msg, Status::Forbidden, token, &next, config).into());
    }
    let address = addr.0.unwrap_or_else(|| "unknown".into());
    match throttle.begin(&address, &username) {
        Verdict::Allow => {}
        Verdict::Slow(d) => rocket::tokio::time::sleep(d).await,
        Verdict::Refuse(d) => {
            let minutes = d.as_secs().div_ceil(60);
            let msg =
                format!("Too many failed sign-ins from your address. Try again in {minutes} min.");
            return Ok(
                login_refused(username, msg, Status::TooManyRequests, token, &next, config).into(),
            );
        }
    }
    let name = username.clone();
    let account = db.run(move |conn| {
        let Some(account) = users::find(conn, &name)? else {
            return Ok(None);
        };
        Ok(Some((users::password_hash(conn, account.id)?, account)))
    });
    let account = account.await?;
    let (hash, account) = match account {
        Some((hash, account)) => (hash, Some(account)),
        None => (users::decoy_hash().to_owned(), None),
    };
    let matches = users::verify_password_off(hash, password).await?;
    let account = match account {
        Some(account) if matches => account,
        known => {
            if let Some(account) = known {
                let addr = address.clone();
                db.write(move |tx| {
                    users::record_event(
                        tx,
                        account.id,
                        "login failed",
                        "wrong password",
                        Some(&addr),
                    )
                })
                .await?;
            }
            let msg = "Wrong username or password.".to_owned();
            return Ok(
                login_refused(username, msg, Status::Unauthorized, token, &next, config).into(),
            );
        }
    };
    if account.disabled {
        let msg = "This account is disabled. Ask a lab admin to enable it.".to_owned();
        return Ok(login_refused(username, msg, Status::Forbidden, token, &next, config).into());
    }
    throttle.succeeded(&address, &username);
    let old = cookies
        .get(super::SESSION_COOKIE)
        .map(|c| super::sha256_hex(c.value()));
    let session_id = db
        .write(move |tx| {
            if let Some(old) = old {
                tx.execute("DELETE FROM sessions WHERE id_hash = ?1", [old])?;
            }
            users::record_event(tx, account.id, "login succeeded", "", Some(&address))?;
            users::touch_login(tx, account.id)?;
            create_session(tx, account.id, Some(&address), agent.0.as_deref())
        })
        .await?;
    cookies.add(session_cookie(session_id, config));
    Ok(SeeOther::to(safe_next(Some(&next)).unwrap_or_else(|| "/sshkeys".into())).into())
}

#[post("/logout", data = "<_form>")]
async fn post_logout(
    session: &Session,
    _form: CsrfForm<NoFields>,
    db: &State<Db>,
    cookies: &CookieJar<'_>,
) -> Result<SeeOther, AppError> {
    let id_hash = session.id_hash.clone();
    db.write(move |tx| Ok(tx.execute("DELETE FROM sessions WHERE id_hash = ?1", [id_hash])?))
        .await?;
    cookies.remove(rocket::http::Cookie::build(super::SESSION_COOKIE).path("/"));
    Ok(SeeOther::with_flash("/login", "You are signed out."))
}

#[derive(Serialize)]
struct AccountCtx {
    events: Vec<users::Event>,
    /// The `before` of the next, older page of the log, if any.
    older: Option<i64>,
    /// Whether this page starts past the newest entries.
    paged: bool,
    /// Names of the groups the account belongs to.
    groups: Vec<String>,
    sessions: usize,
    /// The account's active sessions, this one first.
    active: Vec<super::sessions::SessionRow>,
    error: Option<String>,
}

/// Entries of the security log per page.
const LOG_PAGE: i64 = 25;

async fn account_view(session: &Session, db: &Db, error: Option<String>) -> Result<View, AppError> {
    account_page(session, db, error, None).await
}

async fn account_page(
    session: &Session,
    db: &Db,
    error: Option<String>,
    before: Option<i64>,
) -> Result<View, AppError> {
    let id = session.user.id;
    let current = session.id_hash.clone();
    let ((events, older), active, groups) = db
        .run(move |conn| {
            let active = super::sessions::list(conn, id, &current)?;
            let groups = crate::lab::groups::of_user(conn, id)?;
            Ok((
                users::events_page(conn, id, before, LOG_PAGE)?,
                active,
                groups,
            ))
        })
        .await?;
    let sessions = active.len();
    Ok(View::new(
        "account.html",
        AccountCtx {
            events,
            older,
            paged: before.is_some(),
            groups,
            sessions,
            active,
            error,
        },
    ))
}

#[get("/account?<before>")]
async fn get_account(
    session: &Session,
    before: Option<i64>,
    db: &State<Db>,
) -> Result<View, AppError> {
    account_page(session, db, None, before).await
}

#[derive(FromForm)]
struct PasswordForm {
    #[field(default = String::new())]
    current: String,
    #[field(default = String::new())]
    new: String,
    #[field(default = String::new())]
    confirm: String,
}

#[post("/account/password", data = "<form>")]
async fn post_password(
    visitor: Visitor,
    session: &Session,
    form: CsrfForm<PasswordForm>,
    db: &State<Db>,
    config: &State<Config>,
    throttle: &State<Throttle>,
    cookies: &CookieJar<'_>,
) -> Result<Reply, AppError> {
    let Visitor(addr, agent) = visitor;
    let PasswordForm {
        current,
        new,
        confirm,
    } = form.0;
    let user = session.user.clone();
    // Every refusal is noted in the account's log, with its reason and never the password.
    let refuse = |msg: String| async {
        let (id, reason, address) = (session.user.id, msg.clone(), addr.0.clone());
        db.write(move |tx| {
            users::record_event(
                tx,
                id,
                "password change refused",
                &reason,
                address.as_deref(),
            )
        })
        .await?;
        Ok::<Reply, AppError>(
            account_view(session, db, Some(msg))
                .await?
                .status(Status::UnprocessableEntity)
                .into(),
        )
    };
    if let Err(msg) = users::check_password(&new) {
        return refuse(msg).await;
    }
    if let Err(msg) = users::check_strength(&new, &user.username) {
        return refuse(msg).await;
    }
    // Compared only once the current password is proven, so the answer tells nothing about it.
    let unchanged = new == current;
    if new != confirm {
        return refuse("the new password and its confirmation differ".into()).await;
    }
    // Guessing the current password through a stolen session is throttled like sign-in.
    let address = addr.0.clone().unwrap_or_else(|| "unknown".into());
    let subject = format!("password change of {}", user.username);
    match throttle.begin(&address, &subject) {
        Verdict::Allow => {}
        Verdict::Slow(d) => rocket::tokio::time::sleep(d).await,
        Verdict::Refuse(d) => {
            let minutes = d.as_secs().div_ceil(60);
            let msg = format!("too many wrong current passwords; try again in {minutes} min");
            return Ok(account_view(session, db, Some(msg))
                .await?
                .status(Status::TooManyRequests)
                .into());
        }
    }
    let id = user.id;
    let hash = db.run(move |conn| users::password_hash(conn, id)).await?;
    if !users::verify_password_off(hash, current).await? {
        return refuse("the current password is wrong".into()).await;
    }
    throttle.succeeded(&address, &subject);
    if unchanged {
        return refuse(
            "the new password is the same as the current one; choose a different one".into(),
        )
        .await;
    }
    let new_hash = users::hash_password_off(new).await?;
    let address = addr.0;
    let settings = config.inner().clone();
    // Every session ends, this one included; this browser gets a fresh one so it stays signed
    // in while anything holding the old cookie does not.
    let session_id = db
        .write(move |tx| {
            users::set_password(tx, id, &new_hash, false)?;
            users::record_event(
                tx,
                id,
                "password changed",
                "every other session ended",
                address.as_deref(),
            )?;
            forget_initial_password(tx, &settings, id)?;
            create_session(tx, id, address.as_deref(), agent.0.as_deref())
        })
        .await?;
    cookies.add(session_cookie(session_id, config));
    Ok(SeeOther::with_flash(
        "/account",
        "Password changed. Every other session was signed out.",
    )
    .into())
}
