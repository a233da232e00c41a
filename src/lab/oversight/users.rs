//! Admin → Users, one account at a time: `/admin/users/<id>` shows its groups, keys, token
//! metadata (never token text), bookings and security log; `delete`, `promote` and `demote`
//! change it. Deleting keeps the account's row and history: its keys go, its tokens are
//! revoked, its sessions and bookings end, and it can never sign in again.

use rocket::http::Status;
use rocket::{get, post, routes, Route, State};
use rusqlite::{params, Connection};
use serde::Serialize;

use crate::auth::users::{self, Account, Event};
use crate::auth::{Admin, ClientAddr, CsrfForm, NoFields, User};
use crate::db::{now, Db};
use crate::error::AppError;
use crate::keys::{self, SshKey};
use crate::lab::groups;
use crate::lab::instances::{self, Instance};
use crate::tokens::{self, TokenInfo};
use crate::web::{SeeOther, View};

/// Routes of this module.
pub fn routes() -> Vec<Route> {
    routes![get_user, post_delete, post_promote, post_demote]
}

/// Bookings shown on a user's page.
const BOOKINGS_SHOWN: usize = 50;

/// The reason an account's bookings carry when it is deleted.
pub const DELETED_REASON: &str = "the account was deleted";

#[derive(Serialize)]
struct PageCtx {
    account: Account,
    groups: Vec<String>,
    keys: Vec<SshKey>,
    tokens: Vec<TokenInfo>,
    bookings: Vec<Instance>,
    events: Vec<Event>,
    error: Option<String>,
}

async fn page(db: &Db, id: i64, error: Option<String>) -> Result<View, AppError> {
    let ctx = db
        .run(move |conn| {
            let account = users::get(conn, id)?;
            let user = User {
                id,
                username: account.username.clone(),
                is_admin: account.is_admin,
            };
            let mut bookings = instances::list_for(conn, &user, true)?;
            bookings.truncate(BOOKINGS_SHOWN);
            Ok(PageCtx {
                groups: groups::of_user(conn, id)?,
                keys: keys::list_for(conn, &user)?,
                tokens: tokens::list_active(conn, &user)?,
                bookings,
                events: users::events(conn, id, 100)?,
                account,
                error,
            })
        })
        .await?;
    Ok(View::new("admin/user.html", ctx))
}

#[get("/admin/users/<id>")]
async fn get_user(_admin: Admin, id: i64, db: &State<Db>) -> Result<View, AppError> {
    page(db, id, None).await
}

/// Admins who can sign in now.
fn active_admins(conn: &Connection) -> Result<i64, AppError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM users WHERE is_admin = 1 AND disabled = 0 AND deleted IS NULL",
        [],
        |r| r.get(0),
    )?)
}

/// Refuses taking the last working admin away.
fn keep_an_admin(conn: &Connection, account: &Account, what: &str) -> Result<(), AppError> {
    if account.is_admin && !account.disabled && active_admins(conn)? <= 1 {
        return Err(AppError::Invalid(format!(
            "{} is the last admin who can sign in; promote someone else before you {what} this account",
            account.username
        )));
    }
    Ok(())
}

/// Deletes an account inside the caller's write transaction (see the module doc).
pub fn delete_account(
    conn: &Connection,
    id: i64,
    admin: &User,
    address: Option<&str>,
) -> Result<String, AppError> {
    let account = users::get(conn, id)?;
    if account.deleted.is_some() {
        return Err(AppError::Invalid(format!(
            "{} was deleted already",
            account.username
        )));
    }
    if id == admin.id {
        return Err(AppError::Invalid(
            "you cannot delete your own account; ask another admin".into(),
        ));
    }
    keep_an_admin(conn, &account, "delete")?;
    let t = now();
    let mut stmt = conn.prepare(
        "SELECT id FROM instances WHERE user_id = ?1 AND status <> 'TERMINATED' AND expires > ?2",
    )?;
    let running: Vec<String> = stmt
        .query_map(params![id, t], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for instance in &running {
        conn.execute(
            "UPDATE instances SET end_reason = ?2 WHERE id = ?1",
            params![instance, DELETED_REASON],
        )?;
        instances::end(conn, instance, t)?;
    }
    conn.execute(
        "UPDATE tokens SET revoked = ?2 WHERE user_id = ?1 AND revoked IS NULL",
        params![id, t],
    )?;
    conn.execute("DELETE FROM ssh_keys WHERE user_id = ?1", [id])?;
    conn.execute("DELETE FROM sessions WHERE user_id = ?1", [id])?;
    conn.execute("DELETE FROM group_members WHERE user_id = ?1", [id])?;
    // Rules naming the account stay, so a robot it alone could book stays closed to others.
    conn.execute(
        "UPDATE users SET disabled = 1, is_admin = 0, deleted = ?2 WHERE id = ?1",
        params![id, t],
    )?;
    let detail = format!(
        "by {}; {} booking(s) ended, keys removed, tokens revoked",
        admin.username,
        running.len()
    );
    users::record_event(conn, id, "account deleted", &detail, address)?;
    Ok(account.username)
}

#[post("/admin/users/<id>/delete", data = "<_form>")]
async fn post_delete(
    admin: Admin,
    addr: ClientAddr,
    id: i64,
    _form: CsrfForm<NoFields>,
    db: &State<Db>,
) -> Result<Result<SeeOther, View>, AppError> {
    let done = db
        .write(move |tx| delete_account(tx, id, &admin.0, addr.0.as_deref()))
        .await;
    match done {
        Ok(name) => {
            // Their generated private keys, if any, were just discarded.
            instances::scrub_wal(db).await;
            Ok(Ok(SeeOther::with_flash(
                "/admin/users",
                format!("{name} is deleted: signed out, keys removed, tokens revoked, bookings ended. Their history stays."),
            )))
        }
        Err(AppError::Invalid(m)) => Ok(Err(page(db, id, Some(m))
            .await?
            .status(Status::UnprocessableEntity))),
        Err(e) => Err(e),
    }
}

async fn set_admin(
    admin: Admin,
    addr: ClientAddr,
    id: i64,
    make_admin: bool,
    db: &Db,
) -> Result<Result<SeeOther, View>, AppError> {
    let done = db
        .write(move |tx| {
            let account = users::get(tx, id)?;
            if account.deleted.is_some() {
                return Err(AppError::Invalid(format!(
                    "{} has been deleted",
                    account.username
                )));
            }
            if account.is_admin == make_admin {
                return Ok((account.username, false));
            }
            if !make_admin {
                if id == admin.0.id {
                    return Err(AppError::Invalid(
                        "you cannot demote yourself; ask another admin".into(),
                    ));
                }
                keep_an_admin(tx, &account, "demote")?;
            }
            tx.execute(
                "UPDATE users SET is_admin = ?2 WHERE id = ?1",
                params![id, make_admin],
            )?;
            let (kind, detail) = if make_admin {
                ("made admin", format!("by {}", admin.0.username))
            } else {
                (
                    "made member",
                    format!("admin role taken away by {}", admin.0.username),
                )
            };
            users::record_event(tx, id, kind, &detail, addr.0.as_deref())?;
            Ok((account.username, true))
        })
        .await;
    match done {
        Ok((name, changed)) => {
            let role = if make_admin { "an admin" } else { "a member" };
            let message = if changed {
                format!("{name} is now {role}.")
            } else {
                format!("{name} was {role} already.")
            };
            Ok(Ok(SeeOther::with_flash(
                format!("/admin/users/{id}"),
                message,
            )))
        }
        Err(AppError::Invalid(m)) => Ok(Err(page(db, id, Some(m))
            .await?
            .status(Status::UnprocessableEntity))),
        Err(e) => Err(e),
    }
}

#[post("/admin/users/<id>/promote", data = "<_form>")]
async fn post_promote(
    admin: Admin,
    addr: ClientAddr,
    id: i64,
    _form: CsrfForm<NoFields>,
    db: &State<Db>,
) -> Result<Result<SeeOther, View>, AppError> {
    set_admin(admin, addr, id, true, db).await
}

#[post("/admin/users/<id>/demote", data = "<_form>")]
async fn post_demote(
    admin: Admin,
    addr: ClientAddr,
    id: i64,
    _form: CsrfForm<NoFields>,
    db: &State<Db>,
) -> Result<Result<SeeOther, View>, AppError> {
    set_admin(admin, addr, id, false, db).await
}
