//! Admin → Groups (`/admin/groups`): make and delete groups, add and remove members. Admins
//! only; everyone else is told the page does not exist. The rules naming groups are set on a
//! robot's admin page ([`crate::lab::oversight`]).

use rocket::form::FromForm;
use rocket::http::Status;
use rocket::{get, post, routes, Route, State};
use serde::Serialize;

use super::Group;
use crate::auth::{users, Admin, ClientAddr, CsrfForm, NoFields};
use crate::db::Db;
use crate::error::AppError;
use crate::web::{Htmx, Reply, SeeOther, View};

/// Routes of this module.
pub fn routes() -> Vec<Route> {
    routes![
        get_groups,
        post_groups,
        post_member,
        post_member_remove,
        post_group_delete
    ]
}

/// A refusal shown on the page: on the "new group" form (`group` None) or on one group's card.
#[derive(Serialize)]
struct PageError {
    group: Option<i64>,
    message: String,
}

#[derive(Serialize)]
struct PageCtx {
    groups: Vec<Group>,
    /// Usernames offered when adding a member.
    usernames: Vec<String>,
    name: String,
    error: Option<PageError>,
}

async fn page(db: &Db, name: String, error: Option<PageError>) -> Result<View, AppError> {
    let (groups, usernames) = db
        .run(|conn| {
            let names = users::list(conn)?
                .into_iter()
                .filter(|a| a.deleted.is_none())
                .map(|a| a.username)
                .collect();
            Ok((super::list(conn)?, names))
        })
        .await?;
    Ok(View::new(
        "admin/groups.html",
        PageCtx {
            groups,
            usernames,
            name,
            error,
        },
    ))
}

/// The page again with what was refused, as 422.
async fn refused(
    db: &Db,
    hx: Htmx,
    name: String,
    group: Option<i64>,
    message: String,
) -> Result<Reply, AppError> {
    Ok(page(db, name, Some(PageError { group, message }))
        .await?
        .htmx_block(hx, "groups")
        .status(Status::UnprocessableEntity)
        .into())
}

/// After a change: the fragment with a toast for htmx, else back to the page with a flash.
async fn done(db: &Db, hx: Htmx, message: String) -> Result<Reply, AppError> {
    if hx.0 {
        return Ok(page(db, String::new(), None)
            .await?
            .block("groups")
            .toast(&message)
            .into());
    }
    Ok(SeeOther::with_flash("/admin/groups", message).into())
}

#[get("/admin/groups")]
async fn get_groups(_admin: Admin, hx: Htmx, db: &State<Db>) -> Result<View, AppError> {
    Ok(page(db, String::new(), None)
        .await?
        .htmx_block(hx, "groups"))
}

#[derive(FromForm)]
struct NameForm {
    #[field(default = String::new())]
    name: String,
}

#[post("/admin/groups", data = "<form>")]
async fn post_groups(
    admin: Admin,
    hx: Htmx,
    addr: ClientAddr,
    form: CsrfForm<NameForm>,
    db: &State<Db>,
) -> Result<Reply, AppError> {
    let name = form.0.name.trim().to_owned();
    if let Err(m) = super::check_name(&name) {
        return refused(db, hx, name, None, m).await;
    }
    let made = {
        let name = name.clone();
        db.write(move |tx| {
            super::create(tx, &name)?;
            users::record_event(tx, admin.0.id, "group created", &name, addr.0.as_deref())
        })
        .await
    };
    match made {
        Ok(()) => done(db, hx, format!("Group {name} created.")).await,
        Err(AppError::Conflict(m) | AppError::Invalid(m)) => refused(db, hx, name, None, m).await,
        Err(e) => Err(e),
    }
}

#[derive(FromForm)]
struct MemberForm {
    #[field(default = String::new())]
    username: String,
}

#[post("/admin/groups/<id>/members", data = "<form>")]
async fn post_member(
    admin: Admin,
    hx: Htmx,
    addr: ClientAddr,
    id: i64,
    form: CsrfForm<MemberForm>,
    db: &State<Db>,
) -> Result<Reply, AppError> {
    let username = form.0.username.trim().to_owned();
    if username.is_empty() {
        let m = "choose the user to add".to_owned();
        return refused(db, hx, String::new(), Some(id), m).await;
    }
    let who = username.clone();
    let made = db
        .write(move |tx| {
            let group = super::get(tx, id)?;
            let added = super::add_member(tx, id, &who)?;
            if added {
                let account = users::require(tx, &who)?;
                let detail = format!("to {}, by {}", group.name, admin.0.username);
                users::record_event(tx, account.id, "added to group", &detail, addr.0.as_deref())?;
            }
            Ok((group.name, added))
        })
        .await;
    match made {
        Ok((group, true)) => done(db, hx, format!("{username} is now in {group}.")).await,
        Ok((group, false)) => done(db, hx, format!("{username} was in {group} already.")).await,
        // An unknown group is a page that does not exist; an unknown user is a typo to show.
        Err(AppError::NotFound(m)) if m.starts_with("no user") => {
            refused(db, hx, String::new(), Some(id), m).await
        }
        Err(AppError::Invalid(m)) => refused(db, hx, String::new(), Some(id), m).await,
        Err(e) => Err(e),
    }
}

#[post("/admin/groups/<id>/members/<user_id>/remove", data = "<_form>")]
async fn post_member_remove(
    admin: Admin,
    hx: Htmx,
    addr: ClientAddr,
    id: i64,
    user_id: i64,
    _form: CsrfForm<NoFields>,
    db: &State<Db>,
) -> Result<Reply, AppError> {
    let (username, group) = db
        .write(move |tx| {
            let group = super::get(tx, id)?;
            let account = users::get(tx, user_id)?;
            if !super::remove_member(tx, id, user_id)? {
                return Err(AppError::NotFound(format!(
                    "{} is not in {}",
                    account.username, group.name
                )));
            }
            let detail = format!("from {}, by {}", group.name, admin.0.username);
            users::record_event(
                tx,
                user_id,
                "removed from group",
                &detail,
                addr.0.as_deref(),
            )?;
            Ok((account.username, group.name))
        })
        .await?;
    done(db, hx, format!("{username} is no longer in {group}.")).await
}

#[post("/admin/groups/<id>/delete", data = "<_form>")]
async fn post_group_delete(
    admin: Admin,
    hx: Htmx,
    addr: ClientAddr,
    id: i64,
    _form: CsrfForm<NoFields>,
    db: &State<Db>,
) -> Result<Reply, AppError> {
    let deleted = db
        .write(move |tx| {
            let name = super::delete(tx, id)?;
            users::record_event(tx, admin.0.id, "group deleted", &name, addr.0.as_deref())?;
            Ok(name)
        })
        .await;
    match deleted {
        Ok(name) => done(db, hx, format!("Group {name} deleted.")).await,
        Err(AppError::Conflict(m)) => refused(db, hx, String::new(), Some(id), m).await,
        Err(e) => Err(e),
    }
}
