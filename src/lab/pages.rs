//! `/instances`: a member's bookings (running and ahead), the "new instance" form (now or for a
//! later window, or waiting in line when every robot is busy), terminating, cancelling,
//! shortening and extending, the member's reservations, each robot's timeline, and the
//! one-time download of a generated private key.

use std::io::Cursor;

use rocket::form::FromForm;
use rocket::http::{ContentType, Header, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::{get, post, routes, Route, State};
use serde::Serialize;

use super::bookings::reservations::{self, Reservation};
use super::bookings::timeline::{self, Timeline};
use super::deployments::{self, Deployment};
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
        post_key_pem,
        post_change,
        post_cancel_reservation
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
    /// The start as typed (lab time zone); empty for now.
    start: String,
    /// Wait in line when every matching robot is busy.
    reserve: bool,
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
    ended: EndedPager,
    robots: Vec<Deployment>,
    types: Vec<TypeChoice>,
    keys: Vec<SshKey>,
    durations: Vec<(i64, String)>,
    form: FormValues,
    error: Option<FormError>,
    key_bits: usize,
    reservations: Vec<Reservation>,
    timelines: Vec<Timeline>,
    /// The lab's time zone (IANA name).
    zone: String,
    /// Earliest and latest start the form offers (`datetime-local` values).
    start_min: String,
    start_max: String,
    /// Whether bookings ahead are allowed at all.
    ahead: bool,
    /// How much a running or future booking can be extended or shortened by.
    changes: Vec<(i64, String)>,
}

/// Amounts offered for extending or shortening a booking, in seconds.
const CHANGES: [i64; 4] = [900, 1800, 3600, 2 * 3600];

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

/// Which ended instances the page lists: a page of them (newest first), or none.
#[derive(Debug, Clone, Copy, Default)]
struct EndedView {
    /// Ended instances to skip (the pages before this one).
    skip: usize,
    hidden: bool,
}

/// How the ended instances were listed, for the page's own links.
#[derive(Serialize)]
struct EndedPager {
    hidden: bool,
    /// Ended instances in all.
    total: usize,
    /// `skip` of the older page, if any.
    older: Option<usize>,
    /// `skip` of the newer page, when this is not the first.
    newer: Option<usize>,
}

async fn page(
    db: &Db,
    user: &User,
    form: Option<FormValues>,
    error: Option<FormError>,
) -> Result<View, AppError> {
    page_with(db, user, form, error, EndedView::default()).await
}

async fn page_with(
    db: &Db,
    user: &User,
    form: Option<FormValues>,
    error: Option<FormError>,
    view: EndedView,
) -> Result<View, AppError> {
    let user = user.clone();
    let ctx = db
        .run(move |conn| {
            let all = instances::list_for(conn, &user, true)?;
            let (active, ended): (Vec<Instance>, Vec<Instance>) =
                all.into_iter().partition(|i| i.active || i.upcoming);
            let total = ended.len();
            let mut shown = active;
            if !view.hidden {
                shown.extend(ended.into_iter().skip(view.skip).take(RECENT_ENDED));
            }
            let ended_pager = EndedPager {
                hidden: view.hidden,
                total,
                older: (!view.hidden && view.skip + RECENT_ENDED < total)
                    .then_some(view.skip + RECENT_ENDED),
                newer: (!view.hidden && view.skip > 0)
                    .then_some(view.skip.saturating_sub(RECENT_ENDED)),
            };
            let mut robots: Vec<Deployment> = Vec::new();
            for d in deployments::list(conn)? {
                if super::bookings::may_book(conn, user.id, &d)? {
                    robots.push(d);
                }
            }
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
                start: String::new(),
                reserve: false,
            });
            let zone = crate::zone::LabZone::load(conn)?;
            let limits = super::bookings::Limits::load(conn)?;
            let t = crate::db::now();
            let mut timelines = Vec::new();
            for d in &robots {
                timelines.push(timeline::for_robot(conn, d, &user, t, &zone)?);
            }
            Ok(PageCtx {
                instances: shown,
                ended: ended_pager,
                robots,
                types,
                keys: keys::list_for(conn, &user)?,
                durations: durations(max),
                form,
                error,
                key_bits: keypair::RSA_BITS,
                reservations: reservations::list_for(conn, &user, false)?,
                timelines,
                zone: zone.name().to_owned(),
                start_min: zone.input_value(t),
                start_max: zone.input_value(t + limits.ahead),
                ahead: limits.ahead > 0,
                changes: CHANGES
                    .iter()
                    .map(|c| (*c, instances::describe_seconds(*c)))
                    .collect(),
            })
        })
        .await?;
    Ok(View::new("instances/index.html", ctx))
}

/// `?ended=hide` leaves ended instances out; `?older=N` lists them from the N+1st newest.
#[get("/instances?<ended>&<older>")]
async fn get_instances(
    user: User,
    hx: Htmx,
    ended: Option<&str>,
    older: Option<usize>,
    db: &State<Db>,
) -> Result<View, AppError> {
    let view = EndedView {
        skip: older.unwrap_or(0),
        hidden: ended == Some("hide"),
    };
    Ok(page_with(db, &user, None, None, view)
        .await?
        .htmx_block(hx, "lab"))
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
    #[field(default = String::new())]
    start: String,
    #[field(default = false)]
    reserve: bool,
}

/// Reads the form into a booking (without a generated key yet), or says what is wrong. The
/// start is read in the lab's time zone `zone`.
fn read_form(
    f: &NewInstanceForm,
    values: &mut FormValues,
    zone: &crate::zone::LabZone,
) -> Result<Booking, FormError> {
    let refuse = |field, message: &str| FormError {
        field,
        message: message.to_owned(),
    };
    let mut keys = Vec::new();
    // The wait-in-line form offers "a new key pair" among the saved keys.
    let generate = f.generate || f.keys.iter().any(|k| k.trim() == "new");
    for k in f.keys.iter().filter(|k| k.trim() != "new") {
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
    let starts = match f.start.trim() {
        "" => None,
        text => Some(zone.parse_local(text).map_err(|m| FormError {
            field: "start",
            message: m,
        })?),
    };
    if starts.is_some() && f.reserve {
        return Err(refuse(
            "start",
            "a booking with a start does not wait in line; clear the start or untick \"wait in line\"",
        ));
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
    if keys.is_empty() && !generate {
        return Err(refuse(
            "keys",
            "choose at least one key that may log in: a saved key, a pasted public key or a new key pair",
        ));
    }
    Ok(Booking {
        target: values.robot.clone(),
        starts,
        seconds,
        keys,
        private_key: None,
        via: "the web console",
        generate,
    })
}

fn book_error(e: BookError) -> Result<FormError, AppError> {
    Ok(match e {
        BookError::Busy => FormError {
            field: "robot",
            message: "That robot is busy right now or in the time you asked for (all matching robots are); see its free windows under \"Next 7 days\", choose another, or wait in line.".into(),
        },
        BookError::NoMatch(m) => FormError {
            field: "robot",
            message: format!("{m}; choose one from the list"),
        },
        BookError::Invalid(m) => FormError {
            field: if m.contains("duration") || m.contains("last") {
                "duration"
            } else if m.contains("start") || m.contains("ahead") || m.contains("booking") {
                "start"
            } else if m.contains("waiting in line") {
                "robot"
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
        start: f.start.trim().to_owned(),
        reserve: f.reserve,
    };
    let zone = db.run(|conn| crate::zone::LabZone::load(conn)).await?;
    let booking = match read_form(&f, &mut values, &zone) {
        Ok(b) => b,
        Err(e) => return refused(db, &user, hx, values, e).await,
    };
    // The robot is claimed first; a key pair is made only for a booking that got one.
    let (who, claim) = (user.clone(), booking.clone());
    let address = addr.0.clone();
    let made = db
        .write(move |tx| Ok(instances::book(tx, &who, &claim, address.as_deref())))
        .await?;
    let id = match made {
        Ok(id) => id,
        Err(BookError::Busy) if f.reserve => {
            return wait_in_line(db, &user, hx, addr, values, booking).await;
        }
        Err(e) => return refused(db, &user, hx, values, book_error(e)?).await,
    };
    if booking.generate {
        let pair = keypair::generate_rsa_off(format!("labgate {}", user.username)).await;
        let (who, claimed) = (user.clone(), id.clone());
        match pair {
            Ok(pair) => {
                db.write(move |tx| {
                    instances::attach_generated(tx, &who, &claimed, &pair.public, &pair.openssh)
                })
                .await?
            }
            Err(e) => {
                db.write(move |tx| instances::release_claim(tx, &who, &claimed))
                    .await?;
                return Err(e);
            }
        }
    }
    let who = user.clone();
    let instance = db
        .run(move |conn| instances::get_for(conn, &who, &id))
        .await?;
    let message = if instance.upcoming {
        format!(
            "Booked {} {} from {} until {}.",
            instance.deployment.kind,
            instance.deployment.ssh_host,
            zone.format(instance.starts),
            zone.format(instance.expires)
        )
    } else {
        format!(
            "Instance started on {} {} until {}.",
            instance.deployment.kind,
            instance.deployment.ssh_host,
            crate::web::format_time(instance.expires)
        )
    };
    if hx.0 {
        return Ok(page(db, &user, None, None)
            .await?
            .block("lab")
            .toast(&message)
            .into());
    }
    Ok(SeeOther::with_flash("/instances", message).into())
}

/// Every matching robot is busy and the member asked to wait: a reservation with the keys
/// chosen (a generated pair's private key waits for the instance).
async fn wait_in_line(
    db: &Db,
    user: &User,
    hx: Htmx,
    addr: ClientAddr,
    values: FormValues,
    booking: Booking,
) -> Result<Reply, AppError> {
    let (who, target, seconds) = (user.clone(), booking.target.clone(), booking.seconds);
    let checked = db
        .run(move |conn| Ok(reservations::precheck(conn, &who, &target, seconds)))
        .await?;
    if let Err(e) = checked {
        return refused(db, user, hx, values, book_error(e)?).await;
    }
    let generated = if booking.generate {
        let pair = keypair::generate_rsa_off(format!("labgate {}", user.username)).await?;
        Some((pair.public, pair.openssh))
    } else {
        None
    };
    let request = reservations::Request {
        target: booking.target,
        seconds: booking.seconds,
        keys: booking.keys,
        generated,
        via: "the web console",
    };
    let who = user.clone();
    let made = db
        .write(move |tx| Ok(reservations::create(tx, &who, &request, addr.0.as_deref())))
        .await?;
    if let Err(e) = made {
        return refused(db, user, hx, values, book_error(e)?).await;
    }
    let message = "Every matching robot is busy: you are waiting in line, and the robot becomes yours as soon as it is free.";
    if hx.0 {
        return Ok(page(db, user, None, None)
            .await?
            .block("lab")
            .toast(message)
            .into());
    }
    Ok(SeeOther::with_flash("/instances", message).into())
}

/// The "extend" / "shorten" buttons of a booking.
#[derive(FromForm)]
struct ChangeForm {
    /// `extend` or `shorten`.
    #[field(default = String::new())]
    change: String,
    /// By how much, in seconds.
    #[field(default = String::new())]
    by: String,
}

/// Extends or shortens one of the member's bookings (an admin's: anyone's).
#[post("/instances/<id>/change", data = "<form>")]
async fn post_change(
    user: User,
    hx: Htmx,
    addr: ClientAddr,
    id: &str,
    form: CsrfForm<ChangeForm>,
    db: &State<Db>,
) -> Result<Reply, AppError> {
    let f = form.0;
    let sign = match f.change.as_str() {
        "extend" => 1,
        "shorten" => -1,
        _ => return Err(AppError::BadRequest("choose extend or shorten".into())),
    };
    let by =
        f.by.trim()
            .parse::<i64>()
            .ok()
            .filter(|b| CHANGES.contains(b))
            .ok_or_else(|| AppError::BadRequest("choose an amount of time from the list".into()))?;
    let (who, id) = (user.clone(), id.to_owned());
    let changed = db
        .write(move |tx| instances::change_end(tx, &who, &id, sign * by, addr.0.as_deref()))
        .await?;
    let message = match &changed {
        Ok(i) => format!(
            "The booking on {} now ends {}.",
            i.deployment.kind,
            crate::web::format_time(i.expires)
        ),
        Err(why) => format!("Not changed: {why}."),
    };
    let status = if changed.is_ok() {
        Status::Ok
    } else {
        Status::UnprocessableEntity
    };
    if hx.0 {
        return Ok(page(db, &user, None, None)
            .await?
            .block("lab")
            .status(status)
            .toast(&message)
            .into());
    }
    Ok(SeeOther::with_flash("/instances", message).into())
}

/// Takes one of the member's reservations out of line.
#[post("/reservations/<id>/cancel", data = "<_form>")]
async fn post_cancel_reservation(
    user: User,
    hx: Htmx,
    addr: ClientAddr,
    id: &str,
    _form: CsrfForm<NoFields>,
    db: &State<Db>,
) -> Result<Reply, AppError> {
    let (who, id) = (user.clone(), id.to_owned());
    let cancelled = db
        .write(move |tx| reservations::cancel(tx, &who, &id, addr.0.as_deref()))
        .await?;
    let message = if cancelled {
        "You left the line; the reservation is cancelled."
    } else {
        "That reservation was no longer waiting."
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
    let (ended, upcoming) = db
        .write(move |tx| {
            let upcoming = instances::get_for(tx, &who, &id).is_ok_and(|i| i.upcoming);
            Ok((
                instances::terminate(tx, &who, &id, addr.0.as_deref())?,
                upcoming,
            ))
        })
        .await?;
    if ended {
        // Its generated private key, if any, was just discarded.
        instances::scrub_wal(db).await;
    }
    let message = if ended && upcoming {
        "Booking cancelled."
    } else if ended {
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

/// Hands out the generated private key, once. A second attempt (a page left open since)
/// goes back to the Instances page, which says why there is nothing to download.
#[post("/instances/<id>/key.pem", data = "<_form>")]
async fn post_key_pem(
    user: User,
    hx: Htmx,
    id: &str,
    _form: CsrfForm<NoFields>,
    db: &State<Db>,
) -> Result<Result<KeyFile, Reply>, AppError> {
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
    let instance = match taken {
        Ok(key) => {
            instances::scrub_wal(db).await;
            return Ok(Ok(KeyFile(key)));
        }
        Err(instance) => instance,
    };
    let message = match instance.key_state {
        instances::KeyState::None => {
            "No key pair was generated for this instance: it uses keys you already have."
        }
        _ if !instance.active && !instance.upcoming => {
            "That instance has ended; its generated private key was discarded."
        }
        _ => {
            "The private key of that instance was already downloaded; labgate keeps no copy. \
             If you have lost it, terminate the instance and start a new one with a new key pair."
        }
    };
    if hx.0 {
        let view = page(db, &user, None, None)
            .await?
            .block("lab")
            .toast_warning(message);
        return Ok(Err(view.into()));
    }
    Ok(Err(SeeOther::with_flash("/instances", message).into()))
}
