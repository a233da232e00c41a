//! `/instances`: a member's bookings, the "new instance" form, terminating, and the one-time
//! download of a generated private key.

use std::io::Cursor;

use rocket::form::FromForm;
use rocket::http::{ContentType, Header, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::{get, post, routes, Route, State};
use serde::Serialize;

use super::deployments::{self, Deployment};
use super::groups::rules;
use super::instances::{self, BookError, Booking, Instance, KeyChoice};
use super::keypair;
use crate::auth::{ClientAddr, CsrfForm, NoFields, User};
use crate::db::Db;
use crate::error::AppError;
use crate::keys::parse::{parse_public_key, KeyError};
use crate::keys::{self, SshKey};
use crate::web::{Htmx, Reply, SeeOther, View};

/// Routes of this module.
pub fn routes() -> Vec<Route> {
    routes![
        get_instances,
        post_instances,
        post_terminate,
        get_key_pem,
        post_key_pem
    ]
}

/// Booking lengths offered, in seconds (trimmed by the admin's maximum).
const DURATIONS: [i64; 9] = [
    900,
    1800,
    3600,
    2 * 3600,
    4 * 3600,
    8 * 3600,
    86400,
    3 * 86400,
    7 * 86400,
];
/// Ended instances still listed on the page.
const RECENT_ENDED: usize = 10;

/// A workspace type offered as "any free robot of it".
#[derive(Debug, Serialize)]
struct TypeChoice {
    name: String,
    free: usize,
    total: usize,
}

/// What the form shows (the person's own values after a refusal).
#[derive(Debug, Clone, Serialize)]
struct FormValues {
    robot: String,
    duration: i64,
    keys: Vec<i64>,
    pasted: String,
    generate: bool,
}

/// A refusal shown next to a field of the form.
#[derive(Debug, Serialize)]
struct FormError {
    field: &'static str,
    message: String,
}

#[derive(Serialize)]
struct PageCtx {
    instances: Vec<Instance>,
    robots: Vec<Deployment>,
    types: Vec<TypeChoice>,
    keys: Vec<SshKey>,
    durations: Vec<(i64, String)>,
    form: FormValues,
    error: Option<FormError>,
    key_bits: usize,
}

fn durations(max: i64) -> Vec<(i64, String)> {
    let mut out: Vec<(i64, String)> = DURATIONS
        .iter()
        .filter(|d| **d <= max)
        .map(|d| (*d, instances::describe_seconds(*d)))
        .collect();
    if !DURATIONS.contains(&max) {
        out.push((max, instances::describe_seconds(max)));
    }
    out
}

async fn page(
    db: &Db,
    user: &User,
    form: Option<FormValues>,
    error: Option<FormError>,
) -> Result<View, AppError> {
    let user = user.clone();
    let ctx = db
        .run(move |conn| {
            let all = instances::list_for(conn, &user, true)?;
            let (active, ended): (Vec<Instance>, Vec<Instance>) =
                all.into_iter().partition(|i| i.active);
            let mut shown = active;
            shown.extend(ended.into_iter().take(RECENT_ENDED));
            let robots: Vec<Deployment> = rules::visible(conn, &user, deployments::list(conn)?)?
                .into_iter()
                .filter(|d| d.enabled)
                .collect();
            let mut types: Vec<TypeChoice> = Vec::new();
            for d in &robots {
                match types.iter_mut().find(|t| t.name == d.kind) {
                    Some(t) => {
                        t.total += 1;
                        t.free += usize::from(!d.busy);
                    }
                    None => types.push(TypeChoice {
                        name: d.kind.clone(),
                        free: usize::from(!d.busy),
                        total: 1,
                    }),
                }
            }
            let max = instances::max_seconds(conn)?;
            let form = form.unwrap_or(FormValues {
                robot: String::new(),
                duration: instances::DEFAULT_SECONDS.min(max),
                keys: Vec::new(),
                pasted: String::new(),
                generate: false,
            });
            Ok(PageCtx {
                instances: shown,
                robots,
                types,
                keys: keys::list_for(conn, &user)?,
                durations: durations(max),
                form,
                error,
                key_bits: keypair::RSA_BITS,
            })
        })
        .await?;
    Ok(View::new("instances/index.html", ctx))
}

#[get("/instances")]
async fn get_instances(user: User, hx: Htmx, db: &State<Db>) -> Result<View, AppError> {
    Ok(page(db, &user, None, None).await?.htmx_block(hx, "lab"))
}

/// The "new instance" form as posted.
#[derive(FromForm)]
struct NewInstanceForm {
    #[field(default = String::new())]
    robot: String,
    #[field(default = String::new())]
    duration: String,
    keys: Vec<String>,
    #[field(default = String::new())]
    pasted: String,
    #[field(default = false)]
    generate: bool,
}

/// Reads the form into a booking (without a generated key yet), or says what is wrong.
fn read_form(f: &NewInstanceForm, values: &mut FormValues) -> Result<Booking, FormError> {
    let refuse = |field, message: &str| FormError {
        field,
        message: message.to_owned(),
    };
    let mut keys = Vec::new();
    for k in &f.keys {
        let id = k
            .trim()
            .parse::<i64>()
            .map_err(|_| refuse("keys", "one of the chosen keys is not one of yours"))?;
        values.keys.push(id);
        keys.push(KeyChoice::Saved(id));
    }
    let seconds = match f.duration.trim() {
        "" => instances::DEFAULT_SECONDS,
        d => d
            .parse::<i64>()
            .map_err(|_| refuse("duration", "choose a duration from the list"))?,
    };
    values.duration = seconds;
    if values.robot.is_empty() {
        return Err(refuse("robot", "choose a robot or a type of robot"));
    }
    if !f.pasted.trim().is_empty() {
        let parsed = parse_public_key(&f.pasted).map_err(|e| {
            // A pasted private key is never sent back to the browser.
            if e == KeyError::PrivateKey {
                values.pasted.clear();
            }
            FormError {
                field: "pasted",
                message: e.to_string(),
            }
        })?;
        keys.push(KeyChoice::Given(parsed));
    }
    if keys.is_empty() && !f.generate {
        return Err(refuse(
            "keys",
            "choose at least one key that may log in: a saved key, a pasted public key or a new key pair",
        ));
    }
    Ok(Booking {
        target: values.robot.clone(),
        seconds,
        keys,
        private_key: None,
        via: "the web console",
    })
}

fn book_error(e: BookError) -> Result<FormError, AppError> {
    Ok(match e {
        BookError::Busy => FormError {
            field: "robot",
            message: "That robot is busy right now (all matching robots are); choose another or try again later.".into(),
        },
        BookError::NoMatch(m) => FormError {
            field: "robot",
            message: format!("{m}; choose one from the list"),
        },
        BookError::Invalid(m) => FormError {
            field: if m.contains("duration") || m.contains("last") {
                "duration"
            } else {
                "keys"
            },
            message: m,
        },
        BookError::App(e) => return Err(e),
    })
}

/// The page (or its fragment) again with the person's values and what was wrong, as 422.
async fn refused(
    db: &Db,
    user: &User,
    hx: Htmx,
    values: FormValues,
    error: FormError,
) -> Result<Reply, AppError> {
    Ok(page(db, user, Some(values), Some(error))
        .await?
        .htmx_block(hx, "lab")
        .status(Status::UnprocessableEntity)
        .into())
}

#[post("/instances", data = "<form>")]
async fn post_instances(
    user: User,
    hx: Htmx,
    addr: ClientAddr,
    form: CsrfForm<NewInstanceForm>,
    db: &State<Db>,
) -> Result<Reply, AppError> {
    let f = form.0;
    let mut values = FormValues {
        robot: f.robot.trim().to_owned(),
        duration: instances::DEFAULT_SECONDS,
        keys: Vec::new(),
        pasted: f.pasted.clone(),
        generate: f.generate,
    };
    let mut booking = match read_form(&f, &mut values) {
        Ok(b) => b,
        Err(e) => return refused(db, &user, hx, values, e).await,
    };
    if f.generate {
        // Generating takes a second; first make sure the booking would be accepted.
        let (who, check) = (user.clone(), booking.clone());
        if let Err(e) = db
            .run(move |conn| Ok(instances::precheck(conn, &who, &check)))
            .await?
        {
            return refused(db, &user, hx, values, book_error(e)?).await;
        }
        let comment = format!("labgate {}", user.username);
        let pair = rocket::tokio::task::spawn_blocking(move || keypair::generate_rsa(&comment))
            .await
            .map_err(|e| AppError::internal(e.to_string()))??;
        booking.keys.push(KeyChoice::Given(pair.public));
        booking.private_key = Some(pair.openssh);
    }
    let who = user.clone();
    let made = db
        .write(move |tx| Ok(instances::book(tx, &who, &booking, addr.0.as_deref())))
        .await?;
    let id = match made {
        Ok(id) => id,
        Err(e) => return refused(db, &user, hx, values, book_error(e)?).await,
    };
    let who = user.clone();
    let instance = db
        .run(move |conn| instances::get_for(conn, &who, &id))
        .await?;
    let message = format!(
        "Instance started on {} {} until {}.",
        instance.deployment.kind,
        instance.deployment.ssh_host,
        crate::web::format_time(instance.expires)
    );
    if hx.0 {
        return Ok(page(db, &user, None, None)
            .await?
            .block("lab")
            .toast(&message)
            .into());
    }
    Ok(SeeOther::with_flash("/instances", message).into())
}

#[post("/instances/<id>/terminate", data = "<_form>")]
async fn post_terminate(
    user: User,
    hx: Htmx,
    addr: ClientAddr,
    id: &str,
    _form: CsrfForm<NoFields>,
    db: &State<Db>,
) -> Result<Reply, AppError> {
    let who = user.clone();
    let id = id.to_owned();
    let ended = db
        .write(move |tx| instances::terminate(tx, &who, &id, addr.0.as_deref()))
        .await?;
    if ended {
        // Its generated private key, if any, was just discarded.
        instances::scrub_wal(db).await;
    }
    let message = if ended {
        "Instance terminated; its keys no longer log in."
    } else {
        "That instance had already ended."
    };
    if hx.0 {
        return Ok(page(db, &user, None, None)
            .await?
            .block("lab")
            .toast(message)
            .into());
    }
    Ok(SeeOther::with_flash("/instances", message).into())
}

/// A private key as a download that no cache keeps.
pub struct KeyFile(pub String);

impl<'r> Responder<'r, 'static> for KeyFile {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        Response::build()
            .header(ContentType::new("application", "x-pem-file"))
            .header(Header::new(
                "Content-Disposition",
                "attachment; filename=\"key.pem\"",
            ))
            .header(Header::new("Cache-Control", "no-store"))
            .sized_body(self.0.len(), Cursor::new(self.0))
            .ok()
    }
}

/// Why there is no key to download.
#[derive(Serialize)]
struct GoneCtx {
    instance: Instance,
}

/// The key's download page: a GET never hands the key out (link prefetchers and previews
/// would use it up), it offers the button that posts for it.
#[get("/instances/<id>/key.pem")]
async fn get_key_pem(user: User, id: &str, db: &State<Db>) -> Result<View, AppError> {
    let id = id.to_owned();
    let instance = db
        .run(move |conn| instances::get_for(conn, &user, &id))
        .await?;
    Ok(key_page(instance))
}

/// Why there is no key to download (410, or 404 when none was made), or the button for it.
fn key_page(instance: Instance) -> View {
    let status = match instance.key_state {
        instances::KeyState::None => Status::NotFound,
        instances::KeyState::Available if instance.active => Status::Ok,
        _ => Status::Gone,
    };
    View::new("instances/key_gone.html", GoneCtx { instance }).status(status)
}

/// Hands out the generated private key, once.
#[post("/instances/<id>/key.pem", data = "<_form>")]
async fn post_key_pem(
    user: User,
    id: &str,
    _form: CsrfForm<NoFields>,
    db: &State<Db>,
) -> Result<Result<KeyFile, View>, AppError> {
    let who = user.clone();
    let id = id.to_owned();
    let taken = db
        .write(move |tx| {
            let key = instances::take_private_key(tx, &who, &id)?;
            Ok(match key {
                Some(k) => Ok(k),
                None => Err(instances::get_for(tx, &who, &id)?),
            })
        })
        .await?;
    match taken {
        Ok(key) => {
            instances::scrub_wal(db).await;
            Ok(Ok(KeyFile(key)))
        }
        Err(instance) => Ok(Err(key_page(instance))),
    }
}
