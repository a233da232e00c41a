//! `/admin/deployments`: the robots, for admins (everyone else is told it does not exist), with
//! each robot's timeline of the next seven days (who has it when, by name).

use rocket::form::FromForm;
use rocket::http::Status;
use rocket::{get, post, routes, Route, State};
use serde::Serialize;

use super::deployments::{self, Deployment, FieldError, NewDeployment};
use crate::auth::{users, Admin, ClientAddr, CsrfForm, NoFields};
use crate::config::Config;
use crate::db::Db;
use crate::error::AppError;
use crate::web::{Htmx, Reply, SeeOther, Switch, View};

/// Routes of this module.
pub fn routes() -> Vec<Route> {
    routes![get_deployments, post_deployments, post_switch, post_rotate]
}

/// A robot credential just made, shown once.
#[derive(Serialize)]
struct Shown {
    id: String,
    kind: String,
    credential: String,
    /// "added" or "rotated".
    what: &'static str,
    /// The two `sshd_config` lines for this robot, ready to paste.
    sshd_lines: String,
    /// Whether labgate's public URL is plain http (the helper then needs `--allow-http`).
    plain_http: bool,
}

impl Shown {
    fn new(
        id: String,
        kind: String,
        credential: String,
        what: &'static str,
        config: &Config,
    ) -> Shown {
        let url = &config.public_url;
        let sshd_lines = format!(
            "AuthorizedKeysCommand /usr/local/bin/labgate authorized-keys --url {url} --deployment {id} --credential-file /etc/labgate/credential %u %f\nAuthorizedKeysCommandUser labgate-keys"
        );
        Shown {
            id,
            kind,
            credential,
            what,
            sshd_lines,
            plain_http: url.starts_with("http://"),
        }
    }
}

#[derive(Serialize)]
struct PageCtx {
    deployments: Vec<Deployment>,
    form: NewDeployment,
    error: Option<FieldError>,
    shown: Option<Shown>,
    timelines: Vec<super::bookings::timeline::Timeline>,
    /// The lab's time zone (IANA name).
    zone: String,
    /// Who has an instance running on each busy robot, by robot id (for the confirmation
    /// that names what disabling it ends).
    holders: std::collections::BTreeMap<String, String>,
}

async fn page(
    db: &Db,
    admin: &crate::auth::User,
    form: Option<NewDeployment>,
    error: Option<FieldError>,
    shown: Option<Shown>,
) -> Result<View, AppError> {
    let viewer = admin.clone();
    let (deployments, timelines, zone, holders) = db
        .run(move |conn| {
            let all = deployments::list(conn)?;
            let zone = crate::zone::LabZone::load(conn)?;
            let t = crate::db::now();
            let mut lines = Vec::new();
            for d in &all {
                lines.push(super::bookings::timeline::for_robot(
                    conn, d, &viewer, t, &zone,
                )?);
            }
            let holders = super::instances::running_now(conn)?
                .into_iter()
                .map(|r| (r.deployment_id, r.username))
                .collect();
            Ok((all, lines, zone.name().to_owned(), holders))
        })
        .await?;
    let form = form.unwrap_or_else(|| NewDeployment {
        port: "22".into(),
        user: "root".into(),
        ..Default::default()
    });
    Ok(View::new(
        "admin/deployments.html",
        PageCtx {
            deployments,
            form,
            error,
            shown,
            timelines,
            zone,
            holders,
        },
    ))
}

#[get("/admin/deployments")]
async fn get_deployments(admin: Admin, hx: Htmx, db: &State<Db>) -> Result<View, AppError> {
    Ok(page(db, &admin.0, None, None, None)
        .await?
        .htmx_block(hx, "robots"))
}

/// The "add a robot" form as posted; a robot's edit form has the same fields.
#[derive(FromForm)]
pub(crate) struct DeploymentForm {
    #[field(name = "type", default = String::new())]
    pub(crate) kind: String,
    #[field(default = String::new())]
    pub(crate) host: String,
    #[field(default = String::new())]
    pub(crate) port: String,
    #[field(default = String::new())]
    pub(crate) user: String,
    #[field(default = String::new())]
    pub(crate) region: String,
    #[field(default = String::new())]
    pub(crate) description: String,
    #[field(default = String::new())]
    pub(crate) hostkeys: String,
}

#[post("/admin/deployments", data = "<form>")]
async fn post_deployments(
    admin: Admin,
    hx: Htmx,
    addr: ClientAddr,
    form: CsrfForm<DeploymentForm>,
    db: &State<Db>,
    config: &State<Config>,
) -> Result<View, AppError> {
    let me = admin.0.clone();
    let f = form.0;
    let new = NewDeployment {
        kind: f.kind,
        host: f.host,
        port: f.port,
        user: f.user,
        region: f.region,
        description: f.description,
        hostkeys: f.hostkeys,
    };
    let checked = match new.check() {
        Ok(c) => c,
        Err(e) => {
            return Ok(page(db, &me, Some(new), Some(e), None)
                .await?
                .htmx_block(hx, "robots")
                .status(Status::UnprocessableEntity))
        }
    };
    let kind = checked.kind.clone();
    let made = db
        .write(move |tx| {
            let (id, credential) = deployments::insert(tx, &checked)?;
            let detail = format!(
                "{} robot {id} at {}:{}",
                checked.kind, checked.host, checked.port
            );
            users::record_event(tx, admin.0.id, "robot added", &detail, addr.0.as_deref())?;
            Ok((id, credential))
        })
        .await;
    let (id, credential) = match made {
        Ok(made) => made,
        // The same robot twice: the message names the one that exists.
        Err(AppError::Conflict(message)) => {
            let error = FieldError {
                field: "host",
                message,
            };
            return Ok(page(db, &me, Some(new), Some(error), None)
                .await?
                .htmx_block(hx, "robots")
                .status(Status::UnprocessableEntity));
        }
        Err(e) => return Err(e),
    };
    let shown = Shown::new(id, kind, credential, "added", config);
    let view = page(db, &me, None, None, Some(shown))
        .await?
        .htmx_block(hx, "robots");
    Ok(view.toast("Robot added."))
}

async fn set_enabled(
    admin: Admin,
    hx: Htmx,
    addr: ClientAddr,
    id: &str,
    enabled: bool,
    db: &Db,
) -> Result<Reply, AppError> {
    let me = admin.0.clone();
    let id = id.to_owned();
    let robot = db
        .write(move |tx| {
            let robot = deployments::set_enabled(tx, &id, enabled)?;
            let kind = if enabled {
                "robot enabled"
            } else {
                "robot disabled"
            };
            let detail = format!("{} robot {id}", robot.kind);
            users::record_event(tx, admin.0.id, kind, &detail, addr.0.as_deref())?;
            Ok(robot)
        })
        .await?;
    let message = if enabled {
        format!("Robot {} ({}) is enabled.", robot.ssh_host, robot.kind)
    } else {
        format!(
            "Robot {} ({}) is disabled: it takes no new instances.",
            robot.ssh_host, robot.kind
        )
    };
    if hx.0 {
        return Ok(page(db, &me, None, None, None)
            .await?
            .block("robots")
            .toast(&message)
            .into());
    }
    Ok(SeeOther::with_flash("/admin/deployments", message).into())
}

// Ranked after the fixed `rotate-credential` route of the same shape.
#[post("/admin/deployments/<id>/<switch>", data = "<_form>", rank = 2)]
async fn post_switch(
    admin: Admin,
    hx: Htmx,
    addr: ClientAddr,
    id: &str,
    switch: Result<Switch, &str>,
    _form: CsrfForm<NoFields>,
    db: &State<Db>,
) -> Result<Reply, AppError> {
    // Any other word is a page that does not exist, not malformed input.
    let switch = switch.map_err(|_| AppError::not_found())?;
    set_enabled(admin, hx, addr, id, switch.on(), db).await
}

#[post("/admin/deployments/<id>/rotate-credential", data = "<_form>")]
async fn post_rotate(
    admin: Admin,
    hx: Htmx,
    addr: ClientAddr,
    id: &str,
    _form: CsrfForm<NoFields>,
    db: &State<Db>,
    config: &State<Config>,
) -> Result<View, AppError> {
    let me = admin.0.clone();
    let id = id.to_owned();
    let (robot, credential) = db
        .write(move |tx| {
            let credential = deployments::rotate_credential(tx, &id)?;
            let robot = deployments::get(tx, &id)?;
            let detail = format!("{} robot {id}", robot.kind);
            users::record_event(
                tx,
                admin.0.id,
                "robot credential rotated",
                &detail,
                addr.0.as_deref(),
            )?;
            Ok((robot, credential))
        })
        .await?;
    let shown = Shown::new(robot.id, robot.kind, credential, "rotated", config);
    let view = page(db, &me, None, None, Some(shown))
        .await?
        .htmx_block(hx, "robots");
    Ok(view.toast("New credential made; the old one no longer works."))
}
