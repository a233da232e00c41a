//! labgate: the access console of an on-premises robot lab.
//!
//! [`build`] turns a [`Config`] into a ready Rocket; the binary in `main.rs` only parses the
//! command line. Tests build the same Rocket on a temporary data directory.

pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod health;
pub mod keys;
pub mod lab;
pub mod logging;
pub mod robot;
pub mod server;
pub mod text;
pub mod tokens;
pub mod web;
pub mod zone;

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use rocket::fairing::AdHoc;
use rocket::figment::Figment;
use rocket::http::Status;
use rocket::request::Request;
use rocket::response::{self, Responder};
use rocket::{catch, catchers, Build, Rocket};

pub use config::Config;
use db::Db;
use error::AppError;

/// Holds the data directory's lock for as long as the server lives.
pub struct DataLock(#[allow(dead_code)] File);

/// Creates the data directory (mode 0700) if needed and checks that labgate can use it; the
/// error names the path and the fix.
pub fn ensure_data_dir(dir: &Path) -> Result<(), AppError> {
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| config::data_dir_error(dir, dir, &e))?;
    }
    config::check_data_dir(dir)
}

/// Takes the data directory's exclusive lock, refusing when another server holds it.
pub fn lock_data_dir(dir: &Path) -> Result<DataLock, AppError> {
    let path = dir.join("labgate.lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| config::data_dir_error(dir, &path, &e))?;
    match file.try_lock() {
        Ok(()) => Ok(DataLock(file)),
        Err(fs::TryLockError::WouldBlock) => Err(AppError::Conflict(format!(
            "another labgate server is already running on {}; stop it first or use another --data directory",
            dir.display()
        ))),
        Err(fs::TryLockError::Error(e)) => Err(e.into()),
    }
}

/// Writes `contents` to a new file readable only by its owner.
pub fn write_private_file(path: &Path, contents: &str) -> Result<(), AppError> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.set_permissions(fs::Permissions::from_mode(0o600))?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

/// On an empty database, creates `admin` with a random password, written to
/// `<data>/initial-admin-password`. Returns the password when it did.
pub fn create_first_admin(db: &Db, config: &Config) -> Result<Option<String>, AppError> {
    // The argon2 hash costs tens of milliseconds and ~19 MiB: every later start skips it. The
    // write below checks again, in case the command line made a user in between.
    if db.run_blocking(|conn| auth::users::count(conn))? > 0 {
        return Ok(None);
    }
    let password = auth::users::generate_password();
    let hash = auth::users::hash_password(&password)?;
    let created = db.write_blocking(|tx| {
        if auth::users::count(tx)? > 0 {
            return Ok(false);
        }
        let id = auth::users::create(tx, "admin", &hash, true)?;
        auth::users::require_change(tx, id)?;
        db::set_setting(tx, auth::routes::INITIAL_ADMIN_KEY, &id.to_string())?;
        auth::users::record_event(tx, id, "account created", "first start", None)?;
        write_private_file(
            &auth::routes::initial_password_file(config),
            &format!("{password}\n"),
        )?;
        Ok(true)
    })?;
    Ok(created.then_some(password))
}

/// Builds the server for `config`: data directory, lock, database, signing key, first admin,
/// templates, routes. Fails (instead of serving something broken) on any of them.
pub fn build(config: Config) -> Result<Rocket<Build>, AppError> {
    ensure_data_dir(&config.data)?;
    let lock = lock_data_dir(&config.data)?;
    let db = Db::open(&config.db_path())?;
    let signing_key = tokens::jwt::SigningKey::load_or_create(&config.data.join("signing-key.pem"))
        .map_err(|e| AppError::internal(format!("signing key: {e}")))?;
    let static_files = web::StaticFiles::load();
    let templates = web::Templates::with_assets(&static_files)?;
    let mut config = config;
    let issuer = db.write_blocking(|tx| tokens::issuer::establish(tx, &config.public_url))?;
    config.token_issuer = Some(issuer);
    let first_admin = create_first_admin(&db, &config)?;
    let figment = Figment::from(rocket::Config::default())
        .merge(("address", config.address))
        .merge(("port", config.port))
        .merge(("cli_colors", false))
        // Rocket's own records are for its internals only: `labgate serve` installs labgate's
        // logger first (crate::logging), which keeps them to errors; this is the level of
        // Rocket's logger where none was installed (the in-process tests).
        .merge(("log_level", rocket::config::LogLevel::Critical))
        .merge(("ident", "labgate"))
        // The front server (crate::server) decides the client's address, from the peer and the
        // trusted proxies, and hands it over as the remote address.
        .merge(("ip_header", false));
    let url = config.public_url.clone();
    let config_for_log = config.clone();
    let password_file = auth::routes::initial_password_file(&config);
    let rocket = rocket::custom(figment)
        .manage(config)
        .manage(db)
        .manage(lock)
        .manage(signing_key)
        .manage(templates)
        .manage(static_files)
        .manage(auth::throttle::Throttle::default())
        .manage(tokens::TokenCache::default())
        .manage(auth::SessionCache::default())
        .manage(keys::KeyListCache::with_capacity(keys::KEY_LISTS_CACHED))
        .attach(web::Compression)
        .attach(web::SecurityHeaders)
        .attach(AdHoc::on_liftoff("announce", move |_| {
            Box::pin(async move { tracing::warn!("labgate is ready: open {url}") })
        }))
        .mount("/", health::routes())
        .mount("/", web::routes())
        .mount("/", auth::routes())
        .mount("/", keys::routes())
        .mount("/", tokens::routes())
        .mount("/", lab::routes())
        .mount("/", robot::routes())
        .register("/", catchers![page_catcher])
        .register("/api", catchers![api_catcher]);
    announce_urls(&config_for_log);
    // Logged once, after Rocket has set up logging; the one time a secret is shown in the log,
    // because an admin without the file would otherwise be locked out.
    if let Some(password) = first_admin {
        tracing::warn!(
            "created user 'admin' with password {password} (also in {}); change it after signing in",
            password_file.display()
        );
    }
    Ok(lab::attach(rocket))
}

/// Says which public URL the server assumes when it can only guess one, and which issuer its
/// tokens name when that is no longer the public URL.
fn announce_urls(config: &Config) {
    if config.public_url_is_a_guess() {
        tracing::warn!(
            "no public URL set: assuming {url}, which browsers and scripts elsewhere cannot \
             open. Set LABGATE_PUBLIC_URL (or --public-url) to the URL people use, e.g. \
             LABGATE_PUBLIC_URL=https://labgate.example.org; API tokens keep working when it \
             changes.",
            url = config.public_url
        );
    }
    if config.token_issuer() != config.public_url {
        tracing::info!(
            "API tokens name {} as their issuer (recorded at the first start on {}); the public \
             URL is now {}",
            config.token_issuer(),
            config.data.display(),
            config.public_url
        );
    }
}

/// Any status without a handler of its own, as an HTML page (or JSON under `/api`).
struct Caught(Status);

impl<'r> Responder<'r, 'static> for Caught {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        if self.0 == Status::Unauthorized {
            return web::to_login(req);
        }
        if auth::refused_for_password(req) {
            return web::to_account_first(req);
        }
        let message = match self.0.code {
            _ if error::guard_message(req).is_some() => {
                error::guard_message(req).unwrap_or_default()
            }
            403 => "You are not allowed to do that.",
            404 => "There is nothing here.",
            413 => "That request is too large.",
            422 => "The request could not be understood.",
            429 => "Too many requests; slow down.",
            c if c >= 500 => "Something went wrong on the server; it has been logged.",
            _ => "The request could not be handled.",
        };
        if web::is_htmx(req) {
            return rocket::Response::build()
                .status(self.0)
                .header(web::toast_header(message, "error"))
                .ok();
        }
        web::error_page(req, self.0, message)
    }
}

#[catch(default)]
async fn page_catcher(status: Status, req: &Request<'_>) -> Caught {
    // Looks the session up (once, cached) so an error page keeps a signed-in person's menu.
    let _ = req.guard::<&auth::Session>().await;
    Caught(status)
}

struct ApiCaught(Status);

impl<'r> Responder<'r, 'static> for ApiCaught {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let message = match self.0.code {
            401 => error::WRONG_TOKEN,
            _ if error::guard_message(req).is_some() => {
                error::guard_message(req).unwrap_or_default()
            }
            403 => "this token may not do that",
            404 => "not found",
            413 => "request too large",
            400 | 422 => "the request body could not be understood",
            c if c >= 500 => "internal server error",
            _ => "request refused",
        };
        error::json_error(self.0, message)
    }
}

#[catch(default)]
fn api_catcher(status: Status, _req: &Request<'_>) -> ApiCaught {
    ApiCaught(status)
}
