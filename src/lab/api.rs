//! The rerobots-compatible workspace API under `/api`: the same paths and JSON as
//! api.rerobots.net, so the stock `rerobots` Python client works against labgate. This half
//! reads (types, robots, instances); booking is in [`super::api_book`]. The client recognises
//! errors only by exact messages (see `REROBOTS.md`), so those are kept word for word.

use rocket::serde::json::Json;
use rocket::{get, routes, Route, State};
use serde_json::{json, Map, Value};

use super::deployments::{self, Deployment};
use super::groups::api::seen;
use super::groups::rules;
use super::instances::{self, Instance};
use crate::auth::User;
use crate::db::Db;
use crate::error::AppError;
use crate::tokens::ApiUser;

/// Routes of this module (the reading half; booking is in [`super::api_book`]).
pub fn routes() -> Vec<Route> {
    routes![
        get_workspaces,
        get_deployments,
        get_deployment,
        get_instances,
        get_instance
    ]
}

/// Unix seconds as the rerobots API writes times: `2026-11-28 22:40:00` (UTC).
pub fn api_time(ts: i64) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_default()
}

fn int_param(name: &str, value: Option<&str>) -> Result<Option<i64>, AppError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .map(Some)
            .map_err(|_| AppError::BadRequest(format!("{name} must be a whole number"))),
    }
}

/// One page of `items` and the number of pages. No `max_per_page` (or 0) means one page with
/// everything; a page past the end gives the last one.
fn paginate<T>(items: Vec<T>, page: Option<i64>, per: Option<i64>) -> (Vec<T>, i64) {
    let per = match per {
        Some(p) if p > 0 => p as usize,
        _ => return (items, 1),
    };
    let count = items.len().div_ceil(per).max(1);
    let page = (page.unwrap_or(1).max(1) as usize).min(count);
    let shown = items.into_iter().skip((page - 1) * per).take(per).collect();
    (shown, count as i64)
}

/// rerobots' use-queue length: 1 while it is in use, plus the members waiting for it.
fn queuelen(d: &Deployment) -> i64 {
    i64::from(d.busy) + d.waiting
}

fn deployment_info(d: &Deployment) -> Value {
    json!({
        "type": d.kind,
        "type_version": 1,
        "supported_addons": [],
        "desc": d.description,
        "region": d.region,
        "icounter": d.icounter,
        "created": api_time(d.created),
        "queuelen": queuelen(d),
    })
}

/// The enabled robots `user` may book (the access rules hide the others).
async fn enabled_deployments(db: &Db, user: User) -> Result<Vec<Deployment>, AppError> {
    let all = db
        .run(move |conn| rules::visible(conn, &user, deployments::list(conn)?))
        .await?;
    Ok(all.into_iter().filter(|d| d.enabled).collect())
}

#[get("/api/workspaces")]
async fn get_workspaces(api: ApiUser, db: &State<Db>) -> Result<Json<Value>, AppError> {
    let mut types: Vec<String> = enabled_deployments(db, api.user)
        .await?
        .into_iter()
        .map(|d| d.kind)
        .collect();
    types.sort();
    types.dedup();
    Ok(Json(json!({ "workspace_types": types })))
}

/// Whether a robot passes the `types` filter: names to include (any of them), `!name` to
/// exclude.
fn types_match(kind: &str, types: &str) -> bool {
    let wanted: Vec<&str> = types
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    let (excluded, included): (Vec<&str>, Vec<&str>) =
        wanted.iter().partition(|t| t.starts_with('!'));
    if excluded.iter().any(|t| &t[1..] == kind) {
        return false;
    }
    included.is_empty() || included.contains(&kind)
}

#[get("/api/deployments?<q>&<maxlen>&<types>&<page>&<max_per_page>")]
async fn get_deployments(
    api: ApiUser,
    q: Option<&str>,
    maxlen: Option<&str>,
    types: Option<&str>,
    page: Option<&str>,
    max_per_page: Option<&str>,
    db: &State<Db>,
) -> Result<Json<Value>, AppError> {
    let maxlen = match maxlen.map(str::trim) {
        None | Some("") | Some("u") => None,
        Some(v) => Some(v.parse::<i64>().map_err(|_| {
            AppError::BadRequest("maxlen must be a whole number or u (unbounded)".into())
        })?),
    };
    let page = int_param("page", page)?;
    let per = int_param("max_per_page", max_per_page)?;
    let q = q.map(|q| q.trim().to_lowercase()).filter(|q| !q.is_empty());
    let found: Vec<Deployment> = enabled_deployments(db, api.user)
        .await?
        .into_iter()
        .filter(|d| types.is_none_or(|t| types_match(&d.kind, t)))
        .filter(|d| maxlen.is_none_or(|m| queuelen(d) <= m))
        .filter(|d| {
            q.as_deref().is_none_or(|q| {
                [&d.id, &d.kind, &d.description, &d.region]
                    .iter()
                    .any(|field| field.to_lowercase().contains(q))
            })
        })
        .collect();
    let (shown, page_count) = paginate(found, page, per);
    let info: Map<String, Value> = shown
        .iter()
        .map(|d| (d.id.clone(), deployment_info(d)))
        .collect();
    let ids: Vec<&String> = shown.iter().map(|d| &d.id).collect();
    Ok(Json(json!({
        "workspace_deployments": ids,
        "page_count": page_count,
        "info": info,
    })))
}

#[get("/api/deployment/<id>")]
async fn get_deployment(api: ApiUser, id: &str, db: &State<Db>) -> Result<Json<Value>, AppError> {
    let (user, id) = (api.user, id.to_owned());
    // Unknown, deleted and hidden by the access rules all answer alike.
    let d = db.run(move |conn| seen(conn, &user, &id)).await?;
    let mut info = deployment_info(&d);
    if let Value::Object(map) = &mut info {
        map.insert("id".into(), json!(d.id));
        map.insert("online".into(), json!(d.enabled));
    }
    Ok(Json(info))
}

#[get("/api/instances?<include_terminated>&<page>&<max_per_page>")]
async fn get_instances(
    api: ApiUser,
    include_terminated: Option<&str>,
    page: Option<&str>,
    max_per_page: Option<&str>,
    db: &State<Db>,
) -> Result<Json<Value>, AppError> {
    // The client sends `include_terminated=` (empty) for true.
    let include = include_terminated.is_some_and(|v| {
        !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "false" | "0" | "no" | "off" | "f"
        )
    });
    let page = int_param("page", page)?;
    let per = int_param("max_per_page", max_per_page)?;
    let user = api.user;
    let list = db
        .run(move |conn| instances::list_for(conn, &user, include))
        .await?;
    let (shown, page_count) = paginate(list, page, per);
    let ids: Vec<&String> = shown.iter().map(|i| &i.id).collect();
    let robots: Vec<&String> = shown.iter().map(|i| &i.deployment.id).collect();
    Ok(Json(json!({
        "workspace_instances": ids,
        "workspace_deployments": robots,
        "page_count": page_count,
    })))
}

fn instance_json(i: &Instance) -> Value {
    let d = &i.deployment;
    let mut v = json!({
        "id": i.id,
        "deployment": d.id,
        "type": d.kind,
        "region": d.region,
        "starttime": api_time(i.starts),
        "expires": api_time(i.expires),
        "status": i.status,
        "rootuser": d.ssh_user,
        "fwd": { "ipv4": d.ssh_host, "port": d.ssh_port },
        "hostkeys": d.hostkeys,
    });
    if let (Some(ended), Value::Object(map)) = (i.ended, &mut v) {
        map.insert("endtime".into(), json!(api_time(ended)));
    }
    v
}

#[get("/api/instance/<id>")]
async fn get_instance(api: ApiUser, id: &str, db: &State<Db>) -> Result<Json<Value>, AppError> {
    let id = id.to_owned();
    let user = api.user;
    let instance = db
        .run(move |conn| instances::get_for(conn, &user, &id))
        .await?;
    Ok(Json(instance_json(&instance)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages() {
        let items: Vec<i32> = (1..=5).collect();
        assert_eq!(paginate(items.clone(), None, None), (items.clone(), 1));
        assert_eq!(paginate(items.clone(), Some(2), Some(2)), (vec![3, 4], 3));
        assert_eq!(paginate(items.clone(), Some(9), Some(2)), (vec![5], 3));
        assert_eq!(paginate(items.clone(), Some(0), Some(2)), (vec![1, 2], 3));
        assert_eq!(paginate(Vec::<i32>::new(), Some(1), Some(2)), (vec![], 1));
    }

    #[test]
    fn type_filters() {
        assert!(types_match("ur5e", "ur5e,misty"));
        assert!(!types_match("ur5e", "misty"));
        assert!(types_match("ur5e", "!user_provided"));
        assert!(!types_match("ur5e", "!ur5e"));
        assert!(types_match("ur5e", ""));
    }

    #[test]
    fn times_as_rerobots_writes_them() {
        assert_eq!(api_time(0), "1970-01-01 00:00:00");
    }
}
