//! Replies of the console: a page or an htmx fragment from one template, redirects with a
//! flash message, toasts, and the request guards that decide between them.

use std::io::Cursor;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use minijinja::{context, Value};
use rocket::http::{ContentType, Cookie, Header, SameSite, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use serde::Serialize;

use super::Templates;
use crate::auth::Session;

const FLASH_COOKIE: &str = "labgate_flash";

/// Whether htmx sent the request for a fragment (not a boosted navigation or history restore).
pub fn is_htmx(req: &Request<'_>) -> bool {
    let h = |name| req.headers().get_one(name) == Some("true");
    h("HX-Request") && !h("HX-Boosted") && !h("HX-History-Restore-Request")
}

/// Request guard: whether htmx asked for a fragment (see [`is_htmx`]).
#[derive(Debug, Clone, Copy)]
pub struct Htmx(pub bool);

#[rocket::async_trait]
impl<'r> rocket::request::FromRequest<'r> for Htmx {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> rocket::request::Outcome<Self, Self::Error> {
        rocket::outcome::Outcome::Success(Htmx(is_htmx(req)))
    }
}

/// `enable` or `disable` as the last path segment: one route switches a thing on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    Enable,
    Disable,
}

impl Switch {
    /// Whether the thing ends up on.
    pub fn on(self) -> bool {
        self == Switch::Enable
    }
}

impl<'a> rocket::request::FromParam<'a> for Switch {
    type Error = &'a str;

    fn from_param(param: &'a str) -> Result<Switch, &'a str> {
        match param {
            "enable" => Ok(Switch::Enable),
            "disable" => Ok(Switch::Disable),
            other => Err(other),
        }
    }
}

/// An `HX-Trigger` header that makes the page show a toast.
pub fn toast_header(message: &str, level: &str) -> Header<'static> {
    let value = serde_json::json!({ "toast": { "message": message, "level": level } });
    Header::new("HX-Trigger", ascii_json(&value.to_string()))
}

/// JSON with every non-ASCII character written as `\uXXXX`: browsers read header bytes as
/// Latin-1, so UTF-8 in a header (a note with "ü", curly quotes) would reach the page garbled.
fn ascii_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// Sends a visitor to the login page: a 303, or `HX-Redirect` for htmx. The page they were on
/// (for htmx the page that sent the request) goes along as `next`, a local path only, so
/// signing in brings them back; when their session cookie was there but no longer valid, the
/// sign-in page says that their session ended.
pub fn to_login(req: &Request<'_>) -> response::Result<'static> {
    let here = if is_htmx(req) {
        req.headers()
            .get_one("HX-Current-URL")
            .and_then(|url| url.split_once("://"))
            .and_then(|(_, rest)| rest.find('/').map(|at| rest[at..].to_owned()))
    } else if req.method() == rocket::http::Method::Get {
        Some(req.uri().to_string())
    } else {
        None
    };
    let mut to = "/login".to_owned();
    if let Some(next) = crate::auth::routes::safe_next(here.as_deref()).filter(|n| n != "/") {
        to.push_str("?next=");
        to.push_str(&percent_encode(&next));
    }
    if req.cookies().get(crate::auth::SESSION_COOKIE).is_some() {
        let message = "Your session ended; sign in again.";
        let cookie = Cookie::build((FLASH_COOKIE, URL_SAFE_NO_PAD.encode(message)))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Strict);
        req.cookies().add(cookie);
        req.cookies()
            .remove(Cookie::build(crate::auth::SESSION_COOKIE).path("/"));
    }
    if is_htmx(req) {
        return Response::build()
            .header(Header::new("HX-Redirect", to))
            .ok();
    }
    Response::build()
        .status(Status::SeeOther)
        .header(Header::new("Location", to))
        .ok()
}

/// Sends a member whose password an admin set to the Account page to choose their own: a 303
/// with the reason as a flash, or `HX-Redirect` for htmx.
pub fn to_account_first(req: &Request<'_>) -> response::Result<'static> {
    if is_htmx(req) {
        // htmx follows `HX-Redirect`, not a 303 it would fetch itself.
        set_flash(req, crate::auth::MUST_CHANGE_MESSAGE.into());
        return Response::build()
            .header(Header::new("HX-Redirect", "/account"))
            .ok();
    }
    SeeOther::with_flash("/account", crate::auth::MUST_CHANGE_MESSAGE).respond_to(req)
}

/// Percent-encodes everything but unreserved characters and `/`, for a query value.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A full error page.
pub fn error_page(req: &Request<'_>, status: Status, message: &str) -> response::Result<'static> {
    let view = View {
        template: "error.html",
        block: None,
        ctx: context! { status => status.code, reason => status.reason_lossy(), message },
        status,
        headers: Vec::new(),
        toast: None,
    };
    view.respond_to(req)
}

/// A rendered template: the whole page, or for htmx one block of it.
pub struct View {
    template: &'static str,
    block: Option<&'static str>,
    ctx: Value,
    status: Status,
    headers: Vec<Header<'static>>,
    toast: Option<(String, &'static str)>,
}

impl View {
    /// The template `name` rendered whole, with `ctx` plus the common values.
    pub fn new(name: &'static str, ctx: impl Serialize) -> View {
        View {
            template: name,
            block: None,
            ctx: Value::from(minijinja::value::Serde(ctx)),
            status: Status::Ok,
            headers: Vec::new(),
            toast: None,
        }
    }

    /// For an htmx request, render only `block` (the page serves as its own fragment).
    pub fn htmx_block(mut self, hx: Htmx, block: &'static str) -> View {
        if hx.0 {
            self.block = Some(block);
        }
        self
    }

    /// Always render only `block`.
    pub fn block(mut self, block: &'static str) -> View {
        self.block = Some(block);
        self
    }

    /// Answer with `status` (422 for refused input, for instance).
    pub fn status(mut self, status: Status) -> View {
        self.status = status;
        self
    }

    /// Add a response header (an `HX-Trigger`, say).
    pub fn header(mut self, header: Header<'static>) -> View {
        self.headers.push(header);
        self
    }

    /// Show a success toast. Only htmx answers carry it; a full page shows the flash instead,
    /// so handlers need not tell the two apart.
    pub fn toast(mut self, message: &str) -> View {
        self.toast = Some((message.to_owned(), "ok"));
        self
    }

    /// Like [`View::toast`], for an answer that explains why nothing happened.
    pub fn toast_warning(mut self, message: &str) -> View {
        self.toast = Some((message.to_owned(), "error"));
        self
    }
}

impl<'r> Responder<'r, 'static> for View {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let Some(templates) = req.rocket().state::<Templates>() else {
            return Err(Status::InternalServerError);
        };
        let session = req.local_cache(|| None::<Session>).as_ref();
        let flash = take_flash(req);
        let me = session.map(
            |s| context! { username => s.user.username.as_str(), is_admin => s.user.is_admin },
        );
        // Admins are reminded on every page until the generated first password is changed.
        let initial_password = session.is_some_and(|s| s.user.is_admin)
            && req
                .rocket()
                .state::<crate::config::Config>()
                .is_some_and(|c| crate::auth::routes::initial_password_file(c).exists());
        let ctx = context! {
            me,
            initial_password,
            csrf_token => session.map(|s| s.csrf.clone()),
            flash,
            path => req.uri().path().as_str(),
            ..self.ctx
        };
        let body = match templates.render(self.template, self.block, ctx) {
            Ok(body) => body,
            Err(e) => {
                tracing::error!("rendering {}: {e}", self.template);
                return Err(Status::InternalServerError);
            }
        };
        let mut resp = Response::build();
        resp.status(self.status)
            .header(ContentType::HTML)
            .sized_body(body.len(), Cursor::new(body));
        for h in self.headers {
            resp.header_adjoin(h);
        }
        if let Some((message, level)) = self.toast.filter(|_| is_htmx(req)) {
            resp.header_adjoin(toast_header(&message, level));
        }
        resp.ok()
    }
}

/// A 303 to `to`, remembering `flash` for the page it lands on (the no-JavaScript path).
pub struct SeeOther {
    to: String,
    flash: Option<String>,
}

impl SeeOther {
    /// Redirect to `to`.
    pub fn to(to: impl Into<String>) -> SeeOther {
        SeeOther {
            to: to.into(),
            flash: None,
        }
    }

    /// Redirect to `to` and show `message` there.
    pub fn with_flash(to: impl Into<String>, message: impl Into<String>) -> SeeOther {
        SeeOther {
            to: to.into(),
            flash: Some(message.into()),
        }
    }
}

impl<'r> Responder<'r, 'static> for SeeOther {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        if let Some(message) = self.flash {
            set_flash(req, message);
        }
        Response::build()
            .status(Status::SeeOther)
            .header(Header::new("Location", self.to))
            .ok()
    }
}

/// Either a rendered view (htmx, or a page with a message) or a redirect (plain form posts).
pub enum Reply {
    /// Render this.
    View(View),
    /// Redirect there.
    SeeOther(SeeOther),
}

impl<'r> Responder<'r, 'static> for Reply {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        match self {
            Reply::View(v) => v.respond_to(req),
            Reply::SeeOther(s) => s.respond_to(req),
        }
    }
}

impl From<View> for Reply {
    fn from(v: View) -> Reply {
        Reply::View(v)
    }
}

impl From<SeeOther> for Reply {
    fn from(s: SeeOther) -> Reply {
        Reply::SeeOther(s)
    }
}

/// Remembers `message` for the next page shown to this browser.
fn set_flash(req: &Request<'_>, message: String) {
    // Secure under an https public URL, like the session cookie it travels beside.
    let secure = req
        .rocket()
        .state::<crate::Config>()
        .is_some_and(crate::Config::secure_cookies);
    let cookie = Cookie::build((FLASH_COOKIE, URL_SAFE_NO_PAD.encode(message)))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure);
    req.cookies().add(cookie);
}

fn take_flash(req: &Request<'_>) -> Option<String> {
    let cookie = req.cookies().get(FLASH_COOKIE)?;
    let message = URL_SAFE_NO_PAD
        .decode(cookie.value())
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    req.cookies().remove(Cookie::build(FLASH_COOKIE).path("/"));
    message
}
