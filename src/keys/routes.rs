//! The `/sshkeys` page (list, add, delete; page or htmx fragment) and `GET /USER.keys`.

use rocket::form::FromForm;
use rocket::http::{ContentType, Header, Status};
use rocket::{get, post, routes, Responder, Route, State};
use serde::Serialize;

use super::{Field, KeyListCache, SshKey};
use crate::auth::{users, ClientAddr, CsrfForm, NoFields, User};
use crate::db::Db;
use crate::error::AppError;
use crate::web::{toast_header, Htmx, SeeOther, View};

/// Routes of the page and of `/USER.keys`.
pub fn routes() -> Vec<Route> {
    routes![get_keys, post_keys, post_delete, get_user_keys]
}

const PAGE: &str = "sshkeys/index.html";

/// What the form shows: the submitted values, and the refusal beside its field.
#[derive(Debug, Default, Serialize)]
struct FormCtx {
    key: String,
    name: String,
    error: Option<String>,
    field: Option<Field>,
}

#[derive(Serialize)]
struct PageCtx {
    keys: Vec<SshKey>,
    form: FormCtx,
    /// The list is sent out of band (beside the fresh form after an add).
    oob: bool,
    /// The key just added, highlighted in the list.
    new_id: Option<i64>,
}

async fn page_ctx(db: &Db, user: &User, form: FormCtx) -> Result<PageCtx, AppError> {
    let user = user.clone();
    let keys = db.run(move |conn| super::list_for(conn, &user)).await?;
    Ok(PageCtx {
        keys,
        form,
        oob: false,
        new_id: None,
    })
}

/// The page; for htmx, the list alone (to refresh it in place). The list comes from the
/// [`KeyListCache`] while the database is unchanged.
#[get("/sshkeys")]
async fn get_keys(
    user: User,
    hx: Htmx,
    db: &State<Db>,
    lists: &State<KeyListCache>,
) -> Result<View, AppError> {
    let ctx = PageCtx {
        keys: super::cached_list_for(db, lists, &user).await?,
        form: FormCtx::default(),
        oob: false,
        new_id: None,
    };
    Ok(View::new(PAGE, ctx).htmx_block(hx, "list"))
}

#[derive(FromForm)]
struct KeyForm {
    #[field(default = String::new())]
    key: String,
    #[field(default = String::new())]
    name: String,
}

/// Either a page or fragment, a redirect, or (after an htmx delete) an empty answer.
#[derive(Responder)]
enum Answer {
    View(View),
    SeeOther(SeeOther),
    Empty(Empty),
}

/// An empty 200 that still shows a toast: htmx swaps the deleted row away with it.
#[derive(Responder)]
#[response(status = 200, content_type = "html")]
struct Empty {
    body: &'static str,
    toast: Header<'static>,
}

/// Adds a key. Plain form: 303 back to the page with a flash. htmx: the fresh form, the list
/// out of band with the new row on top, and a toast. Refused: 422 with the form as it was sent
/// and the message beside the field at fault (the whole page without htmx).
#[post("/sshkeys", data = "<form>")]
async fn post_keys(
    user: User,
    hx: Htmx,
    addr: ClientAddr,
    form: CsrfForm<KeyForm>,
    db: &State<Db>,
) -> Result<Answer, AppError> {
    let KeyForm { key, name } = form.0;
    match super::add(db, &user, &name, &key, addr.0).await? {
        Ok(added) => {
            let message = format!("SSH key {} added.", added.name);
            if !hx.0 {
                return Ok(Answer::SeeOther(SeeOther::with_flash("/sshkeys", message)));
            }
            let mut ctx = page_ctx(db, &user, FormCtx::default()).await?;
            ctx.oob = true;
            ctx.new_id = Some(added.id);
            Ok(Answer::View(
                View::new("sshkeys/_added.html", ctx).toast(&message),
            ))
        }
        Err(refusal) => {
            let form = FormCtx {
                key: if refusal.secret { String::new() } else { key },
                name,
                error: Some(refusal.message),
                field: Some(refusal.field),
            };
            let ctx = page_ctx(db, &user, form).await?;
            Ok(Answer::View(
                View::new(PAGE, ctx)
                    .htmx_block(hx, "form")
                    .status(Status::UnprocessableEntity),
            ))
        }
    }
}

/// A key id from the path; anything that is not one is simply not found.
pub(super) fn parse_id(id: &str) -> Result<i64, AppError> {
    id.parse::<i64>()
        .map_err(|_| AppError::NotFound("no such SSH key".into()))
}

/// Deletes a key (the page asks for confirmation first). htmx: an empty answer replaces the
/// row, or the empty state replaces the list when it was the last key.
#[post("/sshkeys/<id>/delete", data = "<_form>")]
async fn post_delete(
    user: User,
    hx: Htmx,
    addr: ClientAddr,
    id: &str,
    _form: CsrfForm<NoFields>,
    db: &State<Db>,
) -> Result<Answer, AppError> {
    let id = parse_id(id)?;
    let owner = user.clone();
    let (key, remaining) = db
        .write(move |tx| super::delete(tx, &owner, id, addr.0.as_deref()))
        .await?;
    let message = format!("SSH key {} deleted.", key.name);
    if !hx.0 {
        return Ok(Answer::SeeOther(SeeOther::with_flash("/sshkeys", message)));
    }
    if remaining == 0 {
        let ctx = page_ctx(db, &user, FormCtx::default()).await?;
        return Ok(Answer::View(
            View::new(PAGE, ctx)
                .block("list")
                .header(Header::new("HX-Retarget", "#keys-list"))
                .header(Header::new("HX-Reswap", "outerHTML"))
                .toast(&message),
        ));
    }
    Ok(Answer::Empty(Empty {
        body: "",
        toast: toast_header(&message, "ok"),
    }))
}

/// `GET /USER.keys`: an active user's public keys as `TYPE BASE64` lines, like GitHub's.
/// Ranked last so that it never shadows another route; any other single segment, an unknown
/// or a disabled user get the ordinary 404.
#[get("/<file>", rank = 100)]
async fn get_user_keys(
    file: &str,
    db: &State<Db>,
) -> Result<Option<(ContentType, String)>, AppError> {
    let Some(username) = file.strip_suffix(".keys") else {
        return Ok(None);
    };
    if users::check_username(username).is_err() {
        return Ok(None);
    }
    let username = username.to_owned();
    let lines = db
        .run(move |conn| super::public_lines(conn, &username))
        .await?;
    Ok(lines.map(|lines| (ContentType::Plain, lines)))
}
