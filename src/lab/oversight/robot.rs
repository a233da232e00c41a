//! A robot's admin page, `/admin/deployments/<id>`: edit what was entered for it (host, port,
//! login user, host keys, type, description, region), its access rules (who may book it), and
//! delete it (refused while a booking runs; its bookings' history stays).

use rocket::form::FromForm;
use rocket::http::Status;
use rocket::{get, post, routes, Route, State};
use serde::Serialize;

use crate::auth::{users, Admin, ClientAddr, CsrfForm, NoFields};
use crate::db::Db;
use crate::error::AppError;
use crate::lab::admin::DeploymentForm;
use crate::lab::deployments::{self, Deployment, FieldError, NewDeployment};
use crate::lab::groups::{self, rules};
use crate::web::{Htmx, Reply, SeeOther, View};

/// Routes of this module.
pub fn routes() -> Vec<Route> {
    routes![
        get_robot,
        post_edit,
        post_delete,
        post_rule,
        post_rule_delete
    ]
}

#[derive(Serialize)]
struct PageCtx {
    robot: Deployment,
    form: NewDeployment,
    error: Option<FieldError>,
    rules: Vec<rules::Rule>,
    rule_error: Option<String>,
    /// `user` or `group`, and the name typed, after a refused rule.
    rule_form: (String, String),
    usernames: Vec<String>,
    groups: Vec<String>,
    delete_error: Option<String>,
}

/// What the page shows besides the robot itself.
#[derive(Default)]
struct Extra {
    form: Option<NewDeployment>,
    error: Option<FieldError>,
    rule_error: Option<String>,
    rule_form: Option<(String, String)>,
    delete_error: Option<String>,
}

async fn page(db: &Db, id: &str, extra: Extra) -> Result<View, AppError> {
    let id = id.to_owned();
    let (robot, rules, usernames, groups) = db
        .run(move |conn| {
            let robot = live(conn, &id)?;
            let names = users::list(conn)?
                .into_iter()
                .filter(|a| a.deleted.is_none())
                .map(|a| a.username)
                .collect();
            let groups = groups::list(conn)?.into_iter().map(|g| g.name).collect();
            Ok((robot, rules::for_deployment(conn, &id)?, names, groups))
        })
        .await?;
    let form = extra.form.unwrap_or_else(|| NewDeployment::from(&robot));
    Ok(View::new(
        "admin/robot.html",
        PageCtx {
            robot,
            form,
            error: extra.error,
            rules,
            rule_error: extra.rule_error,
            rule_form: extra
                .rule_form
                .unwrap_or_else(|| ("user".into(), String::new())),
            usernames,
            groups,
            delete_error: extra.delete_error,
        },
    ))
}

/// A robot that is not deleted, or "not found".
fn live(conn: &rusqlite::Connection, id: &str) -> Result<Deployment, AppError> {
    match deployments::find(conn, id)? {
        Some(d) if !d.deleted => Ok(d),
        _ => Err(AppError::NotFound("there is no robot with that id".into())),
    }
}

/// The page after a change: the fragment with a toast for htmx, else a redirect with a flash.
async fn done(db: &Db, hx: Htmx, id: &str, message: String) -> Result<Reply, AppError> {
    if hx.0 {
        return Ok(page(db, id, Extra::default())
            .await?
            .block("robot")
            .toast(&message)
            .into());
    }
    Ok(SeeOther::with_flash(format!("/admin/deployments/{id}"), message).into())
}

async fn refused(db: &Db, hx: Htmx, id: &str, extra: Extra) -> Result<Reply, AppError> {
    Ok(page(db, id, extra)
        .await?
        .htmx_block(hx, "robot")
        .status(Status::UnprocessableEntity)
        .into())
}

#[get("/admin/deployments/<id>")]
async fn get_robot(_admin: Admin, hx: Htmx, id: &str, db: &State<Db>) -> Result<View, AppError> {
    Ok(page(db, id, Extra::default())
        .await?
        .htmx_block(hx, "robot"))
}

#[post("/admin/deployments/<id>/edit", data = "<form>")]
async fn post_edit(
    admin: Admin,
    hx: Htmx,
    addr: ClientAddr,
    id: &str,
    form: CsrfForm<DeploymentForm>,
    db: &State<Db>,
) -> Result<Reply, AppError> {
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
            let extra = Extra {
                form: Some(new),
                error: Some(e),
                ..Default::default()
            };
            return refused(db, hx, id, extra).await;
        }
    };
    let robot_id = id.to_owned();
    let saved = db
        .write(move |tx| {
            live(tx, &robot_id)?;
            let robot = deployments::update(tx, &robot_id, &checked)?;
            let detail = format!(
                "{} robot {robot_id} now at {}@{}:{}",
                robot.kind, robot.ssh_user, robot.ssh_host, robot.ssh_port
            );
            users::record_event(tx, admin.0.id, "robot edited", &detail, addr.0.as_deref())?;
            Ok(robot)
        })
        .await;
    match saved {
        Ok(robot) => {
            done(
                db,
                hx,
                id,
                format!("Robot {} ({}) saved.", robot.ssh_host, robot.kind),
            )
            .await
        }
        Err(AppError::Conflict(message)) => {
            let extra = Extra {
                form: Some(new),
                error: Some(FieldError {
                    field: "host",
                    message,
                }),
                ..Default::default()
            };
            refused(db, hx, id, extra).await
        }
        Err(e) => Err(e),
    }
}

#[post("/admin/deployments/<id>/delete", data = "<_form>")]
async fn post_delete(
    admin: Admin,
    hx: Htmx,
    addr: ClientAddr,
    id: &str,
    _form: CsrfForm<NoFields>,
    db: &State<Db>,
) -> Result<Reply, AppError> {
    let robot_id = id.to_owned();
    let deleted = db
        .write(move |tx| {
            live(tx, &robot_id)?;
            let robot = deployments::delete(tx, &robot_id)?;
            let detail = format!(
                "{} robot {robot_id} at {}:{}",
                robot.kind, robot.ssh_host, robot.ssh_port
            );
            users::record_event(tx, admin.0.id, "robot deleted", &detail, addr.0.as_deref())?;
            Ok(robot)
        })
        .await;
    match deleted {
        Ok(robot) => {
            let message = format!(
                "Robot {} ({}) deleted; its bookings stay in the members' history.",
                robot.ssh_host, robot.kind
            );
            // The page it was on is gone (the delete form is a plain post, not htmx).
            Ok(SeeOther::with_flash("/admin/deployments", message).into())
        }
        Err(AppError::Conflict(m)) => {
            let extra = Extra {
                delete_error: Some(m),
                ..Default::default()
            };
            refused(db, hx, id, extra).await
        }
        Err(e) => Err(e),
    }
}

#[derive(FromForm)]
struct RuleForm {
    /// `user` or `group`.
    #[field(default = String::from("user"))]
    who: String,
    #[field(default = String::new())]
    name: String,
}

#[post("/admin/deployments/<id>/rules", data = "<form>")]
async fn post_rule(
    admin: Admin,
    hx: Htmx,
    addr: ClientAddr,
    id: &str,
    form: CsrfForm<RuleForm>,
    db: &State<Db>,
) -> Result<Reply, AppError> {
    let RuleForm { who, name } = form.0;
    let name = name.trim().to_owned();
    let subject = match (who.as_str(), name.is_empty()) {
        (_, true) => Err("name the user or group that may book this robot".to_owned()),
        ("user", false) => Ok(rules::Subject::User(name.clone())),
        ("group", false) => Ok(rules::Subject::Group(name.clone())),
        _ => Err("choose whether the rule names a user or a group".to_owned()),
    };
    let subject = match subject {
        Ok(s) => s,
        Err(m) => {
            let extra = Extra {
                rule_error: Some(m),
                rule_form: Some((who, name)),
                ..Default::default()
            };
            return refused(db, hx, id, extra).await;
        }
    };
    let robot_id = id.to_owned();
    let label = subject.to_string();
    let added = db
        .write(move |tx| {
            let robot = live(tx, &robot_id)?;
            let rule_id = rules::add(tx, &robot_id, &subject)?;
            let detail = format!(
                "{subject} may book {} robot {robot_id} (rule {rule_id})",
                robot.kind
            );
            users::record_event(
                tx,
                admin.0.id,
                "access rule added",
                &detail,
                addr.0.as_deref(),
            )?;
            Ok(rule_id)
        })
        .await;
    match added {
        Ok(_) => done(db, hx, id, format!("The {label} may book this robot.")).await,
        Err(AppError::Invalid(m)) => {
            let extra = Extra {
                rule_error: Some(m),
                rule_form: Some((who, name)),
                ..Default::default()
            };
            refused(db, hx, id, extra).await
        }
        Err(e) => Err(e),
    }
}

#[post("/admin/deployments/<id>/rules/<rule_id>/delete", data = "<_form>")]
async fn post_rule_delete(
    admin: Admin,
    hx: Htmx,
    addr: ClientAddr,
    id: &str,
    rule_id: i64,
    _form: CsrfForm<NoFields>,
    db: &State<Db>,
) -> Result<Reply, AppError> {
    let robot_id = id.to_owned();
    let (rule, left) = db
        .write(move |tx| {
            let robot = live(tx, &robot_id)?;
            let rule = rules::remove(tx, &robot_id, rule_id)?;
            let detail = format!(
                "{} no longer named on {} robot {robot_id} (rule {rule_id})",
                rule.subject(),
                robot.kind
            );
            users::record_event(
                tx,
                admin.0.id,
                "access rule removed",
                &detail,
                addr.0.as_deref(),
            )?;
            Ok((rule, rules::for_deployment(tx, &robot_id)?.len()))
        })
        .await?;
    let message = if left == 0 {
        format!(
            "Rule for {} removed; with no rules left, every member may book this robot.",
            rule.subject()
        )
    } else {
        format!("Rule for {} removed.", rule.subject())
    };
    done(db, hx, id, message).await
}
