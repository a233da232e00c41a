//! The web layer shared by every page: embedded assets, templates, page-or-fragment replies,
//! toasts, flash messages and the security headers.

use std::borrow::Cow;
use std::io::Cursor;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use minijinja::{context, Environment, UndefinedBehavior, Value};
use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{ContentType, Cookie, Header, SameSite, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::{get, routes, Route};
use rust_embed::Embed;
use serde::Serialize;

use crate::auth::Session;
use crate::error::AppError;

/// Everything under `web/`: templates and static files, inside the binary.
#[derive(Embed)]
#[folder = "web/"]
struct Assets;

const FLASH_COOKIE: &str = "labgate_flash";

/// The template environment, loaded once at start so a broken template stops start-up.
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// Loads and compiles every embedded template.
    pub fn load() -> Result<Templates, AppError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.add_filter("datetime", datetime);
        env.add_filter("relative", relative);
        for path in Assets::iter() {
            let Some(name) = path.strip_prefix("templates/") else {
                continue;
            };
            let file = Assets::get(&path)
                .ok_or_else(|| AppError::internal(format!("embedded file {path} vanished")))?;
            let source = String::from_utf8(file.data.into_owned())
                .map_err(|_| AppError::internal(format!("template {name} is not UTF-8")))?;
            env.add_template_owned(name.to_owned(), source)?;
        }
        Ok(Templates { env })
    }

    /// Renders a whole template, or one named block of it.
    pub fn render(&self, name: &str, block: Option<&str>, ctx: Value) -> Result<String, AppError> {
        let tmpl = self.env.get_template(name)?;
        // `eval_to_state` sets up the blocks without rendering the whole page, which is all a
        // fragment needs; its replacement renders everything first.
        #[allow(deprecated)]
        Ok(match block {
            Some(block) => tmpl.eval_to_state(ctx)?.render_block(block)?,
            None => tmpl.render(ctx)?,
        })
    }
}

/// Formats unix seconds as `YYYY-MM-DD HH:MM UTC` (template filter; `none` reads "never").
fn datetime(ts: Option<i64>) -> String {
    ts.map(format_time).unwrap_or_else(|| "never".into())
}

/// Formats unix seconds as `YYYY-MM-DD HH:MM UTC`.
pub fn format_time(ts: i64) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| "?".into())
}

/// Describes unix seconds relative to now: "just now", "5 min ago", "in 23 h".
fn relative(ts: Option<i64>) -> String {
    match ts {
        Some(ts) => describe_delta(ts - crate::db::now()),
        None => "never".into(),
    }
}

/// Words for a time difference in seconds, positive meaning the future, rounded to the
/// nearest unit (a token made now for 24 hours reads "in 24 h", not "in 23 h").
pub fn describe_delta(delta: i64) -> String {
    let span = delta.unsigned_abs();
    if span < 60 {
        return if delta > 0 {
            "in under a minute".into()
        } else {
            "just now".into()
        };
    }
    let rounded = |unit: u64| (span + unit / 2) / unit;
    let amount = if rounded(60) < 60 {
        format!("{} min", rounded(60))
    } else if rounded(3600) < 48 {
        format!("{} h", rounded(3600))
    } else if rounded(86400) < 60 {
        format!("{} days", rounded(86400))
    } else if rounded(30 * 86400) < 24 {
        format!("{} months", rounded(30 * 86400))
    } else {
        format!("{} years", rounded(365 * 86400))
    };
    if delta > 0 {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

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

/// Sends a visitor to the login page: a 303, or `HX-Redirect` for htmx.
pub fn to_login(req: &Request<'_>) -> response::Result<'static> {
    if is_htmx(req) {
        return Response::build()
            .header(Header::new("HX-Redirect", "/login"))
            .ok();
    }
    Response::build()
        .status(Status::SeeOther)
        .header(Header::new("Location", "/login"))
        .ok()
}

/// A full error page.
pub fn error_page(req: &Request<'_>, status: Status, message: &str) -> response::Result<'static> {
    let view = View {
        template: "error.html",
        block: None,
        ctx: context! { status => status.code, reason => status.reason_lossy(), message },
        status,
        headers: Vec::new(),
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
}

impl View {
    /// The template `name` rendered whole, with `ctx` plus the common values.
    pub fn new(name: &'static str, ctx: impl Serialize) -> View {
        View {
            template: name,
            block: None,
            ctx: Value::from_serialize(&ctx),
            status: Status::Ok,
            headers: Vec::new(),
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

    /// Show a success toast (htmx only; full pages show the flash instead).
    pub fn toast(self, message: &str) -> View {
        self.header(toast_header(message, "ok"))
    }
}

impl<'r> Responder<'r, 'static> for View {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let Some(templates) = req.rocket().state::<Templates>() else {
            return Err(Status::InternalServerError);
        };
        let session = req.local_cache(|| None::<Session>).as_ref();
        let flash = take_flash(req);
        let me =
            session.map(|s| context! { username => s.user.username, is_admin => s.user.is_admin });
        let ctx = context! {
            me,
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
            let cookie = Cookie::build((FLASH_COOKIE, URL_SAFE_NO_PAD.encode(message)))
                .path("/")
                .http_only(true)
                .same_site(SameSite::Strict);
            req.cookies().add(cookie);
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

fn take_flash(req: &Request<'_>) -> Option<String> {
    let cookie = req.cookies().get(FLASH_COOKIE)?;
    let message = URL_SAFE_NO_PAD
        .decode(cookie.value())
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    req.cookies().remove(Cookie::build(FLASH_COOKIE).path("/"));
    message
}

/// An embedded static file.
pub struct Asset {
    content_type: ContentType,
    data: Cow<'static, [u8]>,
}

impl<'r> Responder<'r, 'static> for Asset {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        Response::build()
            .header(self.content_type)
            .header(Header::new("Cache-Control", "public, max-age=3600"))
            .sized_body(self.data.len(), Cursor::new(self.data))
            .ok()
    }
}

#[get("/static/<file..>")]
fn get_static(file: std::path::PathBuf) -> Option<Asset> {
    let name = file.to_str()?;
    let found = Assets::get(&format!("static/{name}"))?;
    let content_type = file
        .extension()
        .and_then(|e| e.to_str())
        .and_then(ContentType::from_extension)
        .unwrap_or(ContentType::Binary);
    Some(Asset {
        content_type,
        data: found.data,
    })
}

/// Routes of this module.
pub fn routes() -> Vec<Route> {
    routes![get_static]
}

/// Content-Security-Policy sent with every response.
pub const CSP: &str =
    "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; \
base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Adds the security headers to every response, errors and static files included.
pub struct SecurityHeaders;

#[rocket::async_trait]
impl Fairing for SecurityHeaders {
    fn info(&self) -> Info {
        Info {
            name: "security headers",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, _req: &'r Request<'_>, resp: &mut Response<'r>) {
        resp.set_raw_header("Content-Security-Policy", CSP);
        resp.set_raw_header("X-Content-Type-Options", "nosniff");
        resp.set_raw_header("Referrer-Policy", "same-origin");
        resp.set_raw_header("Cross-Origin-Opener-Policy", "same-origin");
        resp.set_raw_header("X-Frame-Options", "DENY");
        resp.set_raw_header("Vary", "HX-Request, HX-Boosted, HX-History-Restore-Request");
        if !resp.headers().contains("Cache-Control") {
            // Pages show keys, tokens and sessions: nothing dynamic is kept by caches.
            resp.set_raw_header("Cache-Control", "no-store");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_read_naturally() {
        assert_eq!(describe_delta(-10), "just now");
        assert_eq!(describe_delta(0), "just now");
        assert_eq!(describe_delta(30), "in under a minute");
        assert_eq!(describe_delta(-300), "5 min ago");
        assert_eq!(describe_delta(23 * 3600 + 59 * 60), "in 24 h");
        assert_eq!(describe_delta(3599), "in 1 h");
        assert_eq!(describe_delta(3540), "in 59 min");
        assert_eq!(describe_delta(365 * 86400), "in 12 months");
        assert_eq!(describe_delta(-3 * 365 * 86400), "3 years ago");
        assert_eq!(describe_delta(7 * 86400), "in 7 days");
    }

    #[test]
    fn toasts_survive_latin1_headers() {
        let header = toast_header("R\u{fc}ckw\u{e4}rts \u{201c}arm\u{201d} \u{1f916}", "ok");
        let value = header.value();
        assert!(value.is_ascii(), "{value}");
        let parsed: serde_json::Value = serde_json::from_str(value).unwrap();
        assert_eq!(
            parsed["toast"]["message"],
            "R\u{fc}ckw\u{e4}rts \u{201c}arm\u{201d} \u{1f916}"
        );
    }

    #[test]
    fn every_template_compiles() {
        Templates::load().expect("templates load");
    }
}
