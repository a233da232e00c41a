//! The rerobots access-rule API: `GET /api/rules`, `GET /api/deployment/<id>/rules`,
//! `POST /api/deployment/<id>/rule` and `DELETE /api/deployment/<id>/rule/<rule_id>`, in the
//! shapes the stock client's `get_access_rules`, `create_access_rule` and `del_access_rule`
//! use. Every member reads the rules of the robots they can see; only admins change them.

use rocket::data::Data;
use rocket::serde::json::Json;
use rocket::{delete, get, post, routes, Route, State};
use rusqlite::Connection;
use serde_json::{json, Value};

use super::rules::{self, Rule, Subject, CAP_INSTANTIATE};
use crate::auth::{users, ClientAddr, User};
use crate::db::Db;
use crate::error::AppError;
use crate::lab::deployments::{self, Deployment};
use crate::tokens::ApiUser;
use crate::web::read_text_body;

/// Routes of this module.
pub fn routes() -> Vec<Route> {
    routes![get_rules, get_deployment_rules, post_rule, delete_rule]
}

/// Largest rule body read.
const BODY_LIMIT: u64 = 4 * 1024;

/// What a robot that does not exist, is deleted or is not open to the caller answers: the
/// same in all three cases, so rules never tell a member a hidden robot exists.
fn unknown_robot() -> AppError {
    AppError::NotFound("no workspace deployment found with given ID".into())
}

/// A robot the caller can see (exists, not deleted, and they may book it).
pub fn seen(conn: &Connection, user: &User, id: &str) -> Result<Deployment, AppError> {
    match deployments::find(conn, id)? {
        Some(d) if !d.deleted && rules::may_book(conn, user, id)? => Ok(d),
        _ => Err(unknown_robot()),
    }
}

fn rules_json(list: Vec<Rule>, to_user: Option<&str>) -> Json<Value> {
    let shown: Vec<Value> = list
        .iter()
        .filter(|r| to_user.is_none_or(|u| r.user.as_deref() == Some(u)))
        .map(Rule::to_json)
        .collect();
    Json(json!({ "rules": shown }))
}

fn to_user_param(to_user: Option<&str>) -> Option<&str> {
    to_user.map(str::trim).filter(|u| !u.is_empty())
}

#[get("/api/rules?<to_user>")]
async fn get_rules(
    api: ApiUser,
    to_user: Option<&str>,
    db: &State<Db>,
) -> Result<Json<Value>, AppError> {
    let user = api.user;
    let list = db
        .run(move |conn| {
            let ok = rules::bookable(conn, &user)?;
            Ok(rules::all(conn)?
                .into_iter()
                .filter(|r| ok.contains(&r.deployment_id))
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(rules_json(list, to_user_param(to_user)))
}

#[get("/api/deployment/<id>/rules?<to_user>")]
async fn get_deployment_rules(
    api: ApiUser,
    id: &str,
    to_user: Option<&str>,
    db: &State<Db>,
) -> Result<Json<Value>, AppError> {
    let (user, id) = (api.user, id.to_owned());
    let list = db
        .run(move |conn| {
            seen(conn, &user, &id)?;
            rules::for_deployment(conn, &id)
        })
        .await?;
    Ok(rules_json(list, to_user_param(to_user)))
}

/// Reads `{"cap": "CAP_INSTANTIATE", "user": NAME}` or `{"cap": ..., "group": NAME}`.
pub fn read_rule(body: &str) -> Result<Subject, AppError> {
    let bad = |m: &str| AppError::BadRequest(m.to_owned());
    let value: Value = serde_json::from_str(body)
        .map_err(|_| bad("the request body must be a JSON object like {\"cap\": \"CAP_INSTANTIATE\", \"user\": \"NAME\"}"))?;
    let Value::Object(map) = value else {
        return Err(bad("the request body must be a JSON object like {\"cap\": \"CAP_INSTANTIATE\", \"user\": \"NAME\"}"));
    };
    match map.get("cap") {
        Some(Value::String(c)) if c == CAP_INSTANTIATE => {}
        Some(Value::String(_)) => {
            return Err(AppError::Invalid(
                "this lab's rules grant only CAP_INSTANTIATE (a robot without rules is open to everyone)".into(),
            ))
        }
        _ => return Err(bad("cap is required: \"CAP_INSTANTIATE\"")),
    }
    let name = |key: &str| match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(bad(&format!("{key} must be a name"))),
    };
    match (name("user")?, name("group")?) {
        (Some(u), None) => Ok(Subject::User(u)),
        (None, Some(g)) => Ok(Subject::Group(g)),
        (Some(_), Some(_)) => Err(AppError::Invalid(
            "a rule names either a user or a group, not both".into(),
        )),
        (None, None) => Err(AppError::Invalid(
            "a rule names a user (\"user\": NAME) or a group (\"group\": NAME)".into(),
        )),
    }
}

/// Only admins change rules; a member gets 404 for a robot they cannot see, else 403.
fn require_admin(conn: &Connection, api_user: &User, id: &str) -> Result<Deployment, AppError> {
    let robot = seen(conn, api_user, id)?;
    if !api_user.is_admin {
        return Err(AppError::Forbidden(
            "only lab admins may change access rules".into(),
        ));
    }
    Ok(robot)
}

#[post("/api/deployment/<id>/rule", data = "<data>")]
async fn post_rule(
    api: ApiUser,
    id: &str,
    data: Data<'_>,
    addr: ClientAddr,
    db: &State<Db>,
) -> Result<Json<Value>, AppError> {
    api.require_write()?;
    let body = read_text_body(data, BODY_LIMIT).await?;
    let (user, id) = (api.user, id.to_owned());
    // Who may ask is decided before the body is judged, so members learn nothing from it.
    let subject = {
        let (user, id) = (user.clone(), id.clone());
        db.run(move |conn| require_admin(conn, &user, &id).map(|_| ()))
            .await?;
        read_rule(&body)?
    };
    let rule_id = db
        .write(move |tx| {
            let robot = require_admin(tx, &user, &id)?;
            let rule_id = rules::add(tx, &id, &subject)?;
            let detail = format!(
                "{subject} may book {} robot {id} (rule {rule_id})",
                robot.kind
            );
            users::record_event(tx, user.id, "access rule added", &detail, addr.0.as_deref())?;
            Ok(rule_id)
        })
        .await?;
    Ok(Json(json!({ "rule_id": rule_id })))
}

#[delete("/api/deployment/<id>/rule/<rule_id>")]
async fn delete_rule(
    api: ApiUser,
    id: &str,
    rule_id: &str,
    addr: ClientAddr,
    db: &State<Db>,
) -> Result<(), AppError> {
    api.require_write()?;
    let (user, id) = (api.user, id.to_owned());
    let rule_id = rule_id.trim().to_owned();
    db.write(move |tx| {
        let robot = require_admin(tx, &user, &id)?;
        let number = rule_id
            .parse::<i64>()
            .map_err(|_| AppError::NotFound(format!("no rule {rule_id} on this robot")))?;
        let rule = rules::remove(tx, &id, number)?;
        let detail = format!(
            "{} no longer named on {} robot {id} (rule {number})",
            rule.subject(),
            robot.kind
        );
        users::record_event(
            tx,
            user.id,
            "access rule removed",
            &detail,
            addr.0.as_deref(),
        )
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_bodies() {
        assert_eq!(
            read_rule(r#"{"cap": "CAP_INSTANTIATE", "user": "mia"}"#).ok(),
            Some(Subject::User("mia".into()))
        );
        assert_eq!(
            read_rule(r#"{"cap": "CAP_INSTANTIATE", "group": "vision"}"#).ok(),
            Some(Subject::Group("vision".into()))
        );
        for (body, status) in [
            ("", 400),
            ("[]", 400),
            (r#"{"user": "mia"}"#, 400),
            (r#"{"cap": "CAP_NO_INSTANTIATE", "user": "mia"}"#, 422),
            (r#"{"cap": "CAP_INSTANTIATE"}"#, 422),
            (
                r#"{"cap": "CAP_INSTANTIATE", "user": "a", "group": "b"}"#,
                422,
            ),
            (r#"{"cap": "CAP_INSTANTIATE", "user": 5}"#, 400),
        ] {
            let e = read_rule(body).expect_err(body);
            assert_eq!(e.status().code, status, "{body}: {e}");
        }
    }
}
