//! `/admin/users`: administrators list, add, disable and enable accounts and reset passwords.

use std::collections::BTreeMap;

use rocket::form::FromForm;
use rocket::http::Status;
use rocket::{get, post, routes, Route, State};
use serde::Serialize;

use super::routes::forget_initial_password;
use super::users::{self, Account};
use super::{Admin, ClientAddr, CsrfForm, NoFields};
use crate::config::Config;
use crate::db::Db;
use crate::error::AppError;
use crate::web::{SeeOther, Switch, View};

/// Routes of this module.
pub fn routes() -> Vec<Route> {
    routes![
        get_admin,
        get_users,
        post_users,
        post_user_switch,
        post_user_reset
    ]
}

#[get("/admin")]
fn get_admin(_admin: Admin) -> SeeOther {
    SeeOther::to("/admin/users")
}

#[derive(Serialize)]
struct UsersCtx {
    users: Vec<Account>,
    error: Option<String>,
    username: String,
    /// A password just generated, shown once.
    created: Option<(String, String)>,
    /// Robot types each member has an instance running on, by username (for confirmations
    /// that name what disabling them ends).
    running: BTreeMap<String, String>,
}

async fn users_view(
    db: &Db,
    ctx_error: Option<String>,
    username: String,
    created: Option<(String, String)>,
) -> Result<View, AppError> {
    let (users, now) = db
        .run(|conn| {
            Ok((
                users::list(conn)?,
                crate::lab::instances::running_now(conn)?,
            ))
        })
        .await?;
    let mut running: BTreeMap<String, String> = BTreeMap::new();
    for r in now {
        running
            .entry(r.username)
            .and_modify(|kinds| {
                kinds.push_str(" and ");
                kinds.push_str(&r.kind);
            })
            .or_insert(r.kind);
    }
    Ok(View::new(
        "admin/users.html",
        UsersCtx {
            users,
            error: ctx_error,
            username,
            created,
            running,
        },
    ))
}

#[get("/admin/users")]
async fn get_users(_admin: Admin, db: &State<Db>) -> Result<View, AppError> {
    users_view(db, None, String::new(), None).await
}

#[derive(FromForm)]
struct NewUserForm {
    #[field(default = String::new())]
    username: String,
    #[field(default = false)]
    is_admin: bool,
}

#[post("/admin/users", data = "<form>")]
async fn post_users(
    addr: ClientAddr,
    admin: Admin,
    form: CsrfForm<NewUserForm>,
    db: &State<Db>,
) -> Result<View, AppError> {
    let NewUserForm { username, is_admin } = form.0;
    let username = username.trim().to_owned();
    if let Err(msg) = users::check_username(&username) {
        return Ok(users_view(db, Some(msg), username, None)
            .await?
            .status(Status::UnprocessableEntity));
    }
    let password = users::generate_password();
    let hash = users::hash_password_off(password.clone()).await?;
    let name = username.clone();
    let address = addr.0;
    let made = db
        .write(move |tx| {
            let id = users::create(tx, &name, &hash, is_admin)?;
            users::require_change(tx, id)?;
            users::record_event(
                tx,
                id,
                "account created",
                &format!("by {}", admin.0.username),
                address.as_deref(),
            )?;
            Ok(id)
        })
        .await;
    match made {
        Ok(_) => users_view(db, None, String::new(), Some((username, password))).await,
        Err(AppError::Conflict(msg) | AppError::Invalid(msg)) => {
            Ok(users_view(db, Some(msg), username, None)
                .await?
                .status(Status::UnprocessableEntity))
        }
        Err(e) => Err(e),
    }
}

async fn set_disabled(
    admin: Admin,
    id: i64,
    disabled: bool,
    db: &Db,
    address: Option<String>,
) -> Result<SeeOther, AppError> {
    if admin.0.id == id && disabled {
        return Err(AppError::Invalid(
            "you cannot disable your own account".into(),
        ));
    }
    let name = db
        .write(move |tx| {
            let account = users::get(tx, id)?;
            users::set_disabled(tx, id, disabled)?;
            let kind = if disabled {
                "account disabled"
            } else {
                "account enabled"
            };
            users::record_event(
                tx,
                id,
                kind,
                &format!("by {}", admin.0.username),
                address.as_deref(),
            )?;
            Ok(account.username)
        })
        .await?;
    let word = if disabled { "disabled" } else { "enabled" };
    Ok(SeeOther::with_flash(
        "/admin/users",
        format!("{name} is {word}."),
    ))
}

// Ranked after the fixed `reset-password` route of the same shape.
#[post("/admin/users/<id>/<switch>", data = "<_form>", rank = 2)]
async fn post_user_switch(
    addr: ClientAddr,
    admin: Admin,
    id: i64,
    switch: Result<Switch, &str>,
    _form: CsrfForm<NoFields>,
    db: &State<Db>,
) -> Result<SeeOther, AppError> {
    // Any other word is a page that does not exist, not malformed input.
    let switch = switch.map_err(|_| AppError::not_found())?;
    set_disabled(admin, id, !switch.on(), db, addr.0).await
}

#[post("/admin/users/<id>/reset-password", data = "<_form>")]
async fn post_user_reset(
    addr: ClientAddr,
    admin: Admin,
    id: i64,
    _form: CsrfForm<NoFields>,
    db: &State<Db>,
    config: &State<Config>,
) -> Result<View, AppError> {
    let password = users::generate_password();
    let hash = users::hash_password_off(password.clone()).await?;
    let address = addr.0;
    let config = config.inner().clone();
    let name = db
        .write(move |tx| {
            let account = users::get(tx, id)?;
            users::set_password(tx, id, &hash, true)?;
            users::record_event(
                tx,
                id,
                "password reset",
                &format!("by {}", admin.0.username),
                address.as_deref(),
            )?;
            forget_initial_password(tx, &config, id)?;
            Ok(account.username)
        })
        .await?;
    users_view(db, None, String::new(), Some((name, password))).await
}
