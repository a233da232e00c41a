//! The `/tokens` page: the table of active tokens, the "token" panel with the text and its
//! `jwt.txt` download, and the forms that make and revoke tokens.
//!
//! Every route works as a plain page (forms answer 303 with a flash message) and as an htmx
//! fragment: the page's blocks `tokens`, `panel` and `form` are the fragments, and
//! `tokens/_made.html` / `tokens/_revoked.html` answer the two mutations with out-of-band swaps.

use std::io::Cursor;

use rocket::form::FromForm;
use rocket::http::{ContentType, Header, Status};
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};
use rocket::response::{self, Responder, Response};
use rocket::{get, post, routes, Route};
use serde::Serialize;

use super::jwt::SigningKey;
use super::{
    describe_duration, draft, first_page_change, get_active, list_active_page, max_seconds, record,
    revoke, text_of, TokenInfo, Via, DEFAULT_DURATION, DURATIONS,
};
use crate::auth::{ClientAddr, CsrfForm, User};
use crate::config::Config;
use crate::db::Db;
use crate::error::AppError;
use crate::web::{Htmx, Reply, SeeOther, View};

/// Routes of the page.
pub fn routes() -> Vec<Route> {
    routes![get_tokens, get_token, get_jwt_txt, post_tokens, post_revoke]
}

/// The server state every route here needs: database, signing key, configuration.
struct Deps<'r> {
    db: &'r Db,
    key: &'r SigningKey,
    config: &'r Config,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Deps<'r> {
    type Error = AppError;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        let rocket = req.rocket();
        match (rocket.state(), rocket.state(), rocket.state()) {
            (Some(db), Some(key), Some(config)) => Outcome::Success(Deps { db, key, config }),
            _ => crate::error::guard_error(req, AppError::internal("token state not managed")),
        }
    }
}

/// A token opened in the "token" panel.
#[derive(Serialize)]
struct Shown {
    info: TokenInfo,
    text: String,
}

/// The "make API token" form: what was chosen and, after a refusal, why.
#[derive(Serialize)]
struct FormCtx {
    duration: i64,
    note: String,
    scope: String,
    error: Option<String>,
}

#[derive(Serialize)]
struct PageCtx {
    /// One page of the active tokens (see [`super::PAGE_SIZE`]).
    tokens: Vec<TokenInfo>,
    /// Whether older active tokens follow this page, and the page that shows them.
    older: bool,
    next_page: i64,
    /// Whether this page comes after others (newer tokens), and the page before.
    newer: bool,
    prev_page: i64,
    shown: Option<Shown>,
    form: FormCtx,
    durations: Vec<(i64, String)>,
    /// The longest lifetime allowed, in words, when a maximum applies.
    max: Option<String>,
    /// The public URL, for the example command under the token.
    api_url: String,
    /// Whether fragments mark themselves as out-of-band swaps (set by the fragment templates).
    oob: bool,
}

/// Everything the page shows, with `shown` (one of the user's active tokens) in the panel and
/// `form` in the control panel (`None`: a fresh form).
async fn page(
    state: &Deps<'_>,
    user: &User,
    shown: Option<String>,
    form: Option<FormCtx>,
) -> Result<PageCtx, AppError> {
    paged(state, user, shown, form, 0).await
}

/// [`page`] showing page `page_no` (from 0) of the tokens table.
async fn paged(
    state: &Deps<'_>,
    user: &User,
    shown: Option<String>,
    form: Option<FormCtx>,
    page_no: i64,
) -> Result<PageCtx, AppError> {
    let (key, config) = (state.key, state.config);
    let (u, c) = (user.clone(), config.clone());
    let ((tokens, older), info, max) = state
        .db
        .run(move |conn| {
            let info = shown.map(|id| get_active(conn, &u, &id)).transpose()?;
            Ok((
                list_active_page(conn, &u, page_no)?,
                info,
                max_seconds(conn, &c)?,
            ))
        })
        .await?;
    let newer = page_no > 0;
    let durations = duration_choices(max);
    let form = form.unwrap_or_else(|| FormCtx {
        duration: default_choice(&durations),
        note: String::new(),
        scope: "rw".into(),
        error: None,
    });
    let shown = info.map(|info| Shown {
        text: text_of(key, config, user, &info),
        info,
    });
    Ok(PageCtx {
        tokens,
        older,
        next_page: page_no + 1,
        newer,
        prev_page: (page_no - 1).max(0),
        shown,
        form,
        durations,
        max: max.map(describe_duration),
        api_url: config.public_url.clone(),
        oob: false,
    })
}

/// The page; `?page=N` (from 0) shows the Nth [`super::PAGE_SIZE`] tokens, newest first.
#[get("/tokens?<page>")]
async fn get_tokens(
    user: User,
    page: Option<&str>,
    hx: Htmx,
    state: Deps<'_>,
) -> Result<View, AppError> {
    let page_no = match page.map(str::parse::<i64>) {
        None => 0,
        Some(Ok(n)) if (0..=1_000_000).contains(&n) => n,
        Some(_) => {
            return Err(AppError::BadRequest(
                "the page number must be a whole number from 0".into(),
            ))
        }
    };
    let ctx = paged(&state, &user, None, None, page_no).await?;
    Ok(View::new("tokens/index.html", ctx).htmx_block(hx, "tokens"))
}

/// Opens the "token" panel: the whole page with it open, or for htmx the panel alone.
#[get("/tokens/<id>")]
async fn get_token(user: User, id: &str, hx: Htmx, state: Deps<'_>) -> Result<View, AppError> {
    let ctx = page(&state, &user, Some(id.to_owned()), None).await?;
    Ok(View::new("tokens/index.html", ctx).htmx_block(hx, "panel"))
}

/// A token's text as the `jwt.txt` download: no trailing newline (the rerobots tutorial reads
/// the file straight into an HTTP header), never cached.
pub struct JwtTxt(String);

impl<'r> Responder<'r, 'static> for JwtTxt {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        Response::build()
            .header(ContentType::Plain)
            .header(Header::new(
                "Content-Disposition",
                "attachment; filename=\"jwt.txt\"",
            ))
            .header(Header::new("Cache-Control", "no-store"))
            .sized_body(self.0.len(), Cursor::new(self.0))
            .ok()
    }
}

#[get("/tokens/<id>/jwt.txt")]
async fn get_jwt_txt(user: User, id: &str, state: Deps<'_>) -> Result<JwtTxt, AppError> {
    let (u, id) = (user.clone(), id.to_owned());
    let info = state.db.run(move |conn| get_active(conn, &u, &id)).await?;
    Ok(JwtTxt(text_of(state.key, state.config, &user, &info)))
}

/// The fields of the control panel; parsed by hand so that any bad value gets a clear 422.
#[derive(FromForm)]
struct MakeForm {
    #[field(default = String::new())]
    duration: String,
    #[field(default = String::new())]
    note: String,
    #[field(default = String::new())]
    scope: String,
}

/// The page of the tokens table the browser shows, read from htmx's `HX-Current-URL`
/// (`/tokens?page=N`); 0 when it says nothing else.
struct ShownPage(i64);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ShownPage {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        let page = req
            .headers()
            .get_one("HX-Current-URL")
            .and_then(|url| url.split_once('?'))
            .and_then(|(_, query)| query.split('&').find_map(|p| p.strip_prefix("page=")))
            .and_then(|n| n.parse::<i64>().ok())
            .unwrap_or(0);
        Outcome::Success(ShownPage(page))
    }
}

/// What the htmx answer to "make API token" sends: a fresh form, the new row (or, when the
/// table was empty or the browser shows a later page, the whole first page), the row it pushed
/// off the first page, and the panel with the new token.
#[derive(Serialize)]
struct MadeCtx {
    /// Only the new row goes in, at the top of the table on the page.
    row_only: bool,
    /// The token the new one pushed to the second page: its row leaves.
    dropped: Option<String>,
    #[serde(flatten)]
    page: PageCtx,
}

#[post("/tokens", data = "<form>")]
async fn post_tokens(
    addr: ClientAddr,
    user: User,
    form: CsrfForm<MakeForm>,
    hx: Htmx,
    shown_page: ShownPage,
    state: Deps<'_>,
) -> Result<Reply, AppError> {
    let MakeForm {
        duration,
        note,
        scope,
    } = form.0;
    let scope = match scope.trim() {
        "" => "rw".to_owned(),
        s => s.to_owned(),
    };
    let parsed = match duration.trim() {
        "" => Ok(DEFAULT_DURATION),
        d => d
            .parse::<i64>()
            .map_err(|_| "choose a duration from the list".to_owned()),
    };
    // For htmx, what the answer needs is read in the same transaction, so that making a token
    // costs one trip to the database either way.
    let answer_htmx = hx.0;
    let made = async {
        let seconds = parsed.clone().map_err(AppError::Invalid)?;
        let draft = draft(state.key, state.config, &user, seconds, &scope, &note)?;
        let (c, u, address) = (state.config.clone(), user.clone(), addr.0);
        state
            .db
            .write(move |tx| {
                record(tx, &c, &u, &draft, Via::Web(address.as_deref()))?;
                let placed = if answer_htmx {
                    Some((
                        max_seconds(tx, &c)?,
                        first_page_change(tx, &u, &draft.info.id)?,
                    ))
                } else {
                    None
                };
                Ok((draft, placed))
            })
            .await
    };
    let (draft, placed) = match made.await {
        Ok(made) => made,
        Err(AppError::Invalid(message)) => {
            let form = FormCtx {
                duration: parsed.unwrap_or(DEFAULT_DURATION),
                note,
                scope,
                error: Some(message),
            };
            let ctx = page(&state, &user, None, Some(form)).await?;
            return Ok(View::new("tokens/index.html", ctx)
                .htmx_block(hx, "form")
                .status(Status::UnprocessableEntity)
                .into());
        }
        Err(e) => return Err(e),
    };
    let Some((max, (alone, dropped))) = placed else {
        return Ok(SeeOther::with_flash(
            format!("/tokens/{}", draft.info.id),
            "API token made. Copy it or download jwt.txt below; it works until it expires or you revoke it.",
        )
        .into());
    };
    let ctx = if alone || shown_page.0 != 0 {
        // The table is not on the page (empty state), or it shows other tokens: the first page
        // replaces it, as the whole list is small or the browser asked for another one.
        MadeCtx {
            row_only: false,
            dropped: None,
            page: page(&state, &user, Some(draft.info.id), None).await?,
        }
    } else {
        let durations = duration_choices(max);
        MadeCtx {
            row_only: true,
            page: PageCtx {
                tokens: vec![draft.info.clone()],
                older: dropped.is_some(),
                next_page: 1,
                newer: false,
                prev_page: 0,
                shown: Some(Shown {
                    info: draft.info,
                    text: draft.text,
                }),
                form: FormCtx {
                    duration: default_choice(&durations),
                    note: String::new(),
                    scope: "rw".into(),
                    error: None,
                },
                durations,
                max: max.map(describe_duration),
                api_url: state.config.public_url.clone(),
                oob: false,
            },
            dropped,
        }
    };
    Ok(View::new("tokens/_made.html", ctx)
        .toast("API token made.")
        .into())
}

/// A revoke button's form: `panel` is the id of the token the panel shows (htmx sends it with
/// `hx-include`), so the answer can close the panel when it shows the revoked token.
#[derive(FromForm)]
struct RevokeForm {
    panel: Option<String>,
}

#[post("/tokens/<id>/revoke", data = "<form>")]
async fn post_revoke(
    addr: ClientAddr,
    user: User,
    id: &str,
    form: CsrfForm<RevokeForm>,
    hx: Htmx,
    state: Deps<'_>,
) -> Result<Reply, AppError> {
    let (u, id) = (user.clone(), id.to_owned());
    let info = state
        .db
        .write(move |tx| revoke(tx, &u, &id, Via::Web(addr.0.as_deref())))
        .await?;
    let message = format!("Revoked {}; it no longer works.", super::describe(&info));
    if !hx.0 {
        return Ok(SeeOther::with_flash("/tokens", message).into());
    }
    let close_panel = form.0.panel.as_deref() == Some(info.id.as_str());
    let ctx = page(&state, &user, None, None).await?;
    let last = ctx.tokens.is_empty();
    let view = View::new(
        "tokens/_revoked.html",
        RevokedCtx {
            close_panel,
            last,
            page: ctx,
        },
    )
    .toast(&message);
    // The row swaps itself away; when it was the last one, the whole list is replaced instead
    // so that the empty state shows.
    let view = if last {
        view.header(Header::new("HX-Retarget", "#tokens-list"))
            .header(Header::new("HX-Reswap", "outerHTML"))
    } else {
        view
    };
    Ok(view.into())
}

#[derive(Serialize)]
struct RevokedCtx {
    close_panel: bool,
    last: bool,
    #[serde(flatten)]
    page: PageCtx,
}

/// The lifetimes to offer when `max` applies: those of [`DURATIONS`] up to it, plus the
/// maximum itself when it falls between them (so something can always be chosen).
fn duration_choices(max: Option<i64>) -> Vec<(i64, String)> {
    let mut choices: Vec<(i64, String)> = DURATIONS
        .iter()
        .filter(|(s, _)| max.is_none_or(|m| *s <= m))
        .map(|(s, label)| (*s, (*label).to_owned()))
        .collect();
    if let Some(max) = max.filter(|m| !DURATIONS.iter().any(|(s, _)| s == m)) {
        if choices.last().is_none_or(|(s, _)| *s < max) {
            choices.push((max, format!("{} (the maximum)", describe_duration(max))));
        }
    }
    choices
}

/// The lifetime preselected among `choices`: 24 hours, or the longest offered when shorter.
fn default_choice(choices: &[(i64, String)]) -> i64 {
    if choices.iter().any(|(s, _)| *s == DEFAULT_DURATION) {
        DEFAULT_DURATION
    } else {
        choices.last().map_or(DEFAULT_DURATION, |(s, _)| *s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_follow_the_maximum() {
        let all = duration_choices(None);
        assert_eq!(all.len(), DURATIONS.len());
        assert_eq!(default_choice(&all), 86400);
        let week: Vec<i64> = duration_choices(Some(7 * 86400))
            .iter()
            .map(|c| c.0)
            .collect();
        assert_eq!(week, [3600, 86400, 7 * 86400]);
        let two_days = duration_choices(Some(2 * 86400));
        assert_eq!(two_days.last().map(|c| c.0), Some(2 * 86400));
        assert_eq!(
            two_days.last().map(|c| c.1.as_str()),
            Some("2 days (the maximum)")
        );
        let short = duration_choices(Some(1800));
        assert_eq!(short, [(1800, "30 min (the maximum)".to_owned())]);
        assert_eq!(default_choice(&short), 1800);
    }
}
