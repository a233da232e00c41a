//! The web layer shared by every page: embedded assets, templates and their filters, static
//! files and the security headers. Replies (page or fragment, redirects, toasts) are in `view`.

use minijinja::{Environment, UndefinedBehavior, Value};
use rocket::fairing::{Fairing, Info, Kind};
use rocket::request::Request;
use rocket::response::Response;
use rocket::{routes, Route};
use rust_embed::Embed;

use crate::error::AppError;

mod assets;
mod confirm;
mod view;
pub use assets::{Compression, StaticFiles};
pub use view::*;

/// Everything under `web/`: templates and static files, inside the binary.
#[derive(Embed)]
#[folder = "web/"]
struct Assets;

/// The template environment, loaded once at start so a broken template stops start-up.
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// Loads and compiles every embedded template, with static files named by their own
    /// [`StaticFiles`].
    pub fn load() -> Result<Templates, AppError> {
        Templates::with_assets(&StaticFiles::load())
    }

    /// Loads and compiles every embedded template; `asset("app.css")` in a template gives the
    /// content-hashed URL of that static file in `files`.
    pub fn with_assets(files: &StaticFiles) -> Result<Templates, AppError> {
        let mut env = Environment::new();
        let files = files.clone();
        // The URL is built from our own file names only, never from user data, so it is
        // marked safe (escaping would turn its slashes into `&#x2f;`).
        env.add_function("asset", move |name: &str| {
            Value::from_safe_string(files.url(name))
        });
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.add_filter("datetime", datetime);
        env.add_filter("relative", relative);
        env.add_filter("labtime", labtime);
        env.add_filter("code_spans", code_spans);
        env.add_filter("when", when);
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
        Ok(match block {
            Some(block) => {
                // A block can only be rendered from the state of a run of its template; the
                // run's own output goes nowhere (what minijinja 2's `eval_to_state` did).
                let mut run = tmpl.render_captured_to(ctx, std::io::sink())?;
                run.with_state_mut(|state| state.render_block(block))?
            }
            None => tmpl.render(ctx)?,
        })
    }
}

/// Unix seconds as a `<time>` whose text is UTC (`YYYY-MM-DD HH:MM UTC`) and whose
/// `datetime` lets the page's script show it in the reader's own time zone (template filter).
fn when(ts: Option<i64>) -> Value {
    match ts.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok()) {
        Some(at) => {
            let iso = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                at.year(),
                u8::from(at.month()),
                at.day(),
                at.hour(),
                at.minute(),
                at.second()
            );
            let shown = minijinja::HtmlEscape(&datetime(ts)).to_string();
            Value::from_safe_string(format!(
                "<time datetime=\"{iso}\" data-local>{shown}</time>"
            ))
        }
        None => Value::from("never"),
    }
}

/// A message with `backtick` spans (how our refusals name commands) shown with those spans
/// as `<code>`, the rest escaped: the reader sees code, never Markdown (template filter).
fn code_spans(message: &str) -> Value {
    let mut out = String::with_capacity(message.len() + 16);
    for (i, part) in message.split('`').enumerate() {
        let escaped = minijinja::HtmlEscape(part).to_string();
        // Odd parts sit between a pair of backticks; an unpaired last one stays text.
        if i % 2 == 1 && message.split('`').count() % 2 == 1 {
            out.push_str("<code>");
            out.push_str(&escaped);
            out.push_str("</code>");
        } else if i % 2 == 1 {
            out.push('`');
            out.push_str(&escaped);
        } else {
            out.push_str(&escaped);
        }
    }
    Value::from_safe_string(out)
}

/// Formats unix seconds as `YYYY-MM-DD HH:MM UTC` (template filter; `none` reads "never").
fn datetime(ts: Option<i64>) -> String {
    ts.map(format_time).unwrap_or_else(|| "never".into())
}

/// `{{ ts|labtime(zone) }}`: unix seconds in the lab's time zone (an IANA name), e.g.
/// `2026-12-02 14:00 CET`; UTC when the name is unknown.
fn labtime(ts: Option<i64>, zone: Option<String>) -> String {
    let zone = zone
        .and_then(|z| crate::zone::LabZone::named(&z).ok())
        .unwrap_or_else(crate::zone::LabZone::utc);
    ts.map(|t| zone.format(t)).unwrap_or_else(|| "never".into())
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
/// A request body read as text up to `limit` bytes, whatever its Content-Type (the rerobots
/// client sends none): 400 when it cannot be read, 413 when it is longer.
pub async fn read_text_body(data: rocket::Data<'_>, limit: u64) -> Result<String, AppError> {
    use rocket::data::ToByteUnit;
    let body = data
        .open(limit.bytes())
        .into_string()
        .await
        .map_err(|_| AppError::BadRequest("the request body could not be read".into()))?;
    if !body.is_complete() {
        return Err(AppError::TooLarge(format!(
            "the request body is larger than {} KiB",
            limit / 1024
        )));
    }
    Ok(body.into_inner())
}

/// Routes of this module.
pub fn routes() -> Vec<Route> {
    let mut all = routes![assets::get_static];
    all.extend(confirm::routes());
    all
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
        // Compression (attached before this fairing) may have said it varies by encoding.
        let by_encoding = resp
            .headers()
            .get("Vary")
            .any(|v| v.contains("Accept-Encoding"));
        resp.set_raw_header(
            "Vary",
            if by_encoding {
                "HX-Request, HX-Boosted, HX-History-Restore-Request, Accept-Encoding"
            } else {
                "HX-Request, HX-Boosted, HX-History-Restore-Request"
            },
        );
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
    fn backtick_spans_become_code_and_the_rest_is_escaped() {
        assert_eq!(
            code_spans("run `ssh-keygen -t ed25519` <now>").to_string(),
            "run <code>ssh-keygen -t ed25519</code> &lt;now&gt;"
        );
        assert_eq!(code_spans("a `b").to_string(), "a `b");
        assert_eq!(code_spans("`<i>`").to_string(), "<code>&lt;i&gt;</code>");
    }

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
