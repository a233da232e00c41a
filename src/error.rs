//! The one error type. It logs the detail and shows the person or script a short message:
//! JSON under `/api`, a toast for htmx requests, a full page otherwise.

use rocket::http::{ContentType, Header, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use std::io::Cursor;

use crate::logging::escape;
use crate::web;

/// What can go wrong while answering a request.
#[derive(Debug)]
pub enum AppError {
    /// 400: the request itself is unusable.
    BadRequest(String),
    /// 401: no valid login or token.
    Unauthorized,
    /// 403: known caller, not allowed.
    Forbidden(String),
    /// 404: no such thing, or not the caller's.
    NotFound(String),
    /// 409: clashes with what exists.
    Conflict(String),
    /// 413: the request body is over the route's limit.
    TooLarge(String),
    /// 422: input understood but refused.
    Invalid(String),
    /// 429: slow down.
    TooManyRequests(String),
    /// 503: a dependency (the database) is not answering.
    Unavailable(String),
    /// 500: a bug or an I/O failure; the detail is logged, never shown.
    Internal(String),
}

/// The message the rerobots client recognises for any token problem.
pub const WRONG_TOKEN: &str = "wrong authorization token";

impl AppError {
    /// An internal error with a detail for the log.
    pub fn internal(detail: impl Into<String>) -> AppError {
        AppError::Internal(detail.into())
    }

    /// "Not found" with the default wording.
    pub fn not_found() -> AppError {
        AppError::NotFound("not found".into())
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> Status {
        match self {
            AppError::BadRequest(_) => Status::BadRequest,
            AppError::Unauthorized => Status::Unauthorized,
            AppError::Forbidden(_) => Status::Forbidden,
            AppError::NotFound(_) => Status::NotFound,
            AppError::Conflict(_) => Status::Conflict,
            AppError::Invalid(_) => Status::UnprocessableEntity,
            AppError::TooManyRequests(_) => Status::TooManyRequests,
            AppError::TooLarge(_) => Status::PayloadTooLarge,
            AppError::Unavailable(_) => Status::ServiceUnavailable,
            AppError::Internal(_) => Status::InternalServerError,
        }
    }

    /// The message shown to people and scripts.
    pub fn public_message(&self) -> &str {
        match self {
            AppError::BadRequest(m)
            | AppError::Forbidden(m)
            | AppError::NotFound(m)
            | AppError::Conflict(m)
            | AppError::Invalid(m)
            | AppError::TooManyRequests(m)
            | AppError::TooLarge(m) => m,
            AppError::Unauthorized => WRONG_TOKEN,
            AppError::Unavailable(_) => "the service is unavailable; try again shortly",
            AppError::Internal(_) => "something went wrong on the server; it has been logged",
        }
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppError::Internal(d) | AppError::Unavailable(d) => f.write_str(d),
            other => f.write_str(other.public_message()),
        }
    }
}

impl std::error::Error for AppError {}

impl From<rusqlite::Error> for AppError {
    fn from(e: rusqlite::Error) -> AppError {
        match e {
            rusqlite::Error::QueryReturnedNoRows => AppError::not_found(),
            rusqlite::Error::SqliteFailure(ref f, _)
                if matches!(
                    f.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) =>
            {
                AppError::Unavailable(format!("database busy: {e}"))
            }
            other => AppError::Internal(format!("database: {other}")),
        }
    }
}

impl From<std::io::Error> for AppError {
    fn from(e: std::io::Error) -> AppError {
        AppError::Internal(format!("i/o: {e}"))
    }
}

impl From<minijinja::Error> for AppError {
    fn from(e: minijinja::Error) -> AppError {
        AppError::Internal(format!("template: {e:#}"))
    }
}

/// Whether a request path belongs to the JSON API.
pub fn is_api(req: &Request<'_>) -> bool {
    let path = req.uri().path();
    path == "/api" || path.starts_with("/api/")
}

impl<'r> Responder<'r, 'static> for AppError {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let status = self.status();
        // Paths and messages carry what the client sent (ids, names): escaped, so they can
        // never start a log line of their own.
        let path = escape(req.uri().path().as_str());
        match &self {
            AppError::Internal(d) | AppError::Unavailable(d) => {
                tracing::error!("{} {path}: {}", req.method(), escape(d))
            }
            other => tracing::info!(
                "{} {path}: {status}: {}",
                req.method(),
                escape(&other.to_string())
            ),
        }
        if is_api(req) {
            return json_error(status, self.public_message());
        }
        if status == Status::Unauthorized {
            return web::to_login(req);
        }
        if web::is_htmx(req) {
            return Response::build()
                .status(status)
                .header(web::toast_header(self.public_message(), "error"))
                .ok();
        }
        web::error_page(req, status, self.public_message())
    }
}

/// `{"error_message": ...}` with `status`; 401 also carries `WWW-Authenticate: Bearer`.
pub fn json_error(status: Status, message: &str) -> response::Result<'static> {
    let body = serde_json::json!({ "error_message": message }).to_string();
    let mut resp = Response::build();
    resp.status(status)
        .header(ContentType::JSON)
        .sized_body(body.len(), Cursor::new(body));
    if status == Status::Unauthorized {
        resp.header(Header::new("WWW-Authenticate", "Bearer"));
    }
    resp.ok()
}

/// The message of a request guard's failure, kept for the catcher (Rocket passes catchers only
/// the status).
struct GuardMessage(Option<String>);

/// Fails a guard with `err`, remembering its message for the catcher.
pub fn guard_error<S, F>(
    req: &Request<'_>,
    err: AppError,
) -> rocket::outcome::Outcome<S, (Status, AppError), F> {
    let status = err.status();
    let message = err.public_message().to_owned();
    req.local_cache(|| GuardMessage(Some(message)));
    rocket::outcome::Outcome::Error((status, err))
}

/// The message a failed guard left for the catcher, if any.
pub fn guard_message<'r>(req: &'r Request<'_>) -> Option<&'r str> {
    req.local_cache(|| GuardMessage(None)).0.as_deref()
}
