//! Groups and access rules: the Admin → Groups page, the rules of a robot (its admin page, the
//! rerobots rule API and the command line), and what a member outside a rule no longer sees
//! or books anywhere.

use rocket::http::{Method, Status};
use serde_json::{json, Value};

use crate::common::*;
use crate::lab::{add_robot, api, db_of, event_kinds, lab_token, ED25519};

fn body(resp: rocket::local::blocking::LocalResponse<'_>) -> (Status, String) {
    let status = resp.status();
    (status, resp.into_string().unwrap_or_default())
}

/// Runs `labgate ARGS` on the lab's data directory; panics with stderr when it fails.
fn run(lab: &Lab, args: &[&str]) -> String {
    let (ok, out, err) = cli(&lab.data(), args, None);
    assert!(ok, "labgate {args:?}: {err}");
    out
}

/// Fails `labgate ARGS` and returns stderr.
fn refused(lab: &Lab, args: &[&str]) -> String {
    let (ok, out, err) = cli(&lab.data(), args, None);
    assert!(!ok, "labgate {args:?} should fail: {out}");
    err
}

#[test]
fn admins_make_groups_and_members_see_theirs_on_the_account_page() {
    let lab = Lab::new();
    let mia_pw = lab.add_user("mia", false);
    lab.login_admin();
    let (status, page) = body(lab.client.get("/admin/groups").dispatch());
    assert_eq!(status, Status::Ok);
    assert!(page.contains("No groups yet") && page.contains("<html"));
    let (status, frag) = body(lab.get_htmx("/admin/groups"));
    assert_eq!(status, Status::Ok);
    assert!(frag.contains("New group") && !frag.contains("<html"));

    let resp = lab.post_form("/admin/groups", &[("name", "vision")]);
    assert_eq!(resp.status(), Status::SeeOther);
    for (name, message) in [
        ("Vision Lab", "a group name is 1 to 64"),
        ("vision", "a group named vision exists already"),
        ("", "a group name is 1 to 64"),
    ] {
        let (status, page) = body(lab.post_form("/admin/groups", &[("name", name)]));
        assert_eq!(status, Status::UnprocessableEntity, "{name:?}");
        assert!(page.contains(message), "{name:?}: {page}");
    }
    let (status, frag) = body(lab.post_htmx("/admin/groups", &[("name", "course-101")]));
    assert_eq!(status, Status::Ok);
    assert!(frag.contains("course-101") && !frag.contains("<html"));

    let db = db_of(&lab.data());
    let vision = db
        .run_blocking(|c| labgate::lab::groups::require(c, "vision"))
        .unwrap();
    let resp = lab.post_form(
        &format!("/admin/groups/{vision}/members"),
        &[("username", "mia")],
    );
    assert_eq!(resp.status(), Status::SeeOther);
    let (status, page) = body(lab.post_form(
        &format!("/admin/groups/{vision}/members"),
        &[("username", "nobody")],
    ));
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(page.contains("no user named nobody"), "{page}");
    let resp = lab.post_htmx(
        &format!("/admin/groups/{vision}/members"),
        &[("username", "mia")],
    );
    assert_eq!(resp.status(), Status::Ok);
    let toast = resp
        .headers()
        .get_one("HX-Trigger")
        .unwrap_or_default()
        .to_owned();
    assert!(toast.contains("mia was in vision already"), "{toast}");
    let frag = resp.into_string().unwrap_or_default();
    assert!(frag.contains(&format!("id=\"group-{vision}-member-")) && !frag.contains("<html"));
    assert_eq!(
        lab.post_form("/admin/groups/9999/members", &[("username", "mia")])
            .status(),
        Status::NotFound
    );
    assert!(event_kinds(&db, "mia").contains(&"added to group".to_owned()));
    assert!(event_kinds(&db, "admin").contains(&"group created".to_owned()));

    // The member sees the group on the account page, and no admin page.
    lab.login("mia", &mia_pw);
    let (_, account) = body(lab.client.get("/account").dispatch());
    assert!(account.contains(">vision<"), "{account}");
    assert!(!account.contains("course-101"));
    for uri in ["/admin/groups", "/admin/bookings"] {
        assert_eq!(lab.client.get(uri).dispatch().status(), Status::NotFound);
    }
    assert_eq!(
        lab.post_form("/admin/groups", &[("name", "mine")]).status(),
        Status::NotFound
    );

    lab.login_admin();
    let mia = db
        .run_blocking(|c| labgate::auth::users::require(c, "mia"))
        .unwrap()
        .id;
    let resp = lab.post_form(&format!("/admin/groups/{vision}/members/{mia}/remove"), &[]);
    assert_eq!(resp.status(), Status::SeeOther);
    let resp = lab.post_form(&format!("/admin/groups/{vision}/members/{mia}/remove"), &[]);
    assert_eq!(resp.status(), Status::NotFound);
    lab.login("mia", &mia_pw);
    let (_, account) = body(lab.client.get("/account").dispatch());
    assert!(account.contains("You are in no group"));
}

/// A lab with robots r1 and r2 (ur5e) and r3 (misty); members mia, olga and gus (in group
/// vision); r1 open only to olga and r3 only to group vision, both set through the API.
struct RulesLab {
    lab: Lab,
    r1: String,
    r2: String,
    r3: String,
    admin: String,
}

fn rules_lab() -> RulesLab {
    let lab = Lab::new();
    for name in ["mia", "olga", "gus"] {
        lab.add_user(name, false);
    }
    let r1 = add_robot(&lab.data(), "ur5e", "r1.lab", 22);
    let r2 = add_robot(&lab.data(), "ur5e", "r2.lab", 22);
    let r3 = add_robot(&lab.data(), "misty", "r3.lab", 22);
    run(&lab, &["group", "add", "vision"]);
    run(&lab, &["group", "member", "add", "vision", "gus"]);
    let admin = lab_token(&lab, "admin", "rw");
    let t = Some(admin.as_str());
    let (status, made) = api(
        &lab,
        Method::Post,
        &format!("/api/deployment/{r1}/rule"),
        t,
        Some(r#"{"cap": "CAP_INSTANTIATE", "user": "olga"}"#),
    );
    assert_eq!(status, Status::Ok, "{made}");
    assert!(made["rule_id"].is_i64(), "{made}");
    let (status, made) = api(
        &lab,
        Method::Post,
        &format!("/api/deployment/{r3}/rule"),
        t,
        Some(r#"{"cap": "CAP_INSTANTIATE", "group": "vision"}"#),
    );
    assert_eq!(status, Status::Ok, "{made}");
    RulesLab {
        lab,
        r1,
        r2,
        r3,
        admin,
    }
}

fn ids(v: &Value) -> Vec<String> {
    let mut ids: Vec<String> = v["workspace_deployments"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|i| i.as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn a_member_outside_the_rules_sees_and_books_nothing_of_a_closed_robot() {
    let RulesLab {
        lab, r1, r2, r3, ..
    } = rules_lab();
    let mia = lab_token(&lab, "mia", "rw");
    let t = Some(mia.as_str());
    let (_, list) = api(&lab, Method::Get, "/api/deployments?info=t", t, None);
    assert_eq!(ids(&list), vec![r2.clone()]);
    assert!(list["info"].get(&r1).is_none());
    let (_, types) = api(&lab, Method::Get, "/api/workspaces", t, None);
    assert_eq!(types, json!({ "workspace_types": ["ur5e"] }));

    // A hidden robot answers exactly as an id that never existed.
    let unknown = "00000000-0000-0000-0000-000000000000";
    let (status, hidden) = api(&lab, Method::Get, &format!("/api/deployment/{r1}"), t, None);
    let (status2, never) = api(
        &lab,
        Method::Get,
        &format!("/api/deployment/{unknown}"),
        t,
        None,
    );
    assert_eq!((status, &hidden), (status2, &never));
    assert_eq!(status, Status::NotFound);
    let body = json!({"sshkey": ED25519.trim()}).to_string();
    let (status, hidden) = api(
        &lab,
        Method::Post,
        &format!("/api/new/{r1}"),
        t,
        Some(&body),
    );
    let (status2, never) = api(
        &lab,
        Method::Post,
        &format!("/api/new/{unknown}"),
        t,
        Some(&body),
    );
    assert_eq!(status, Status::NotFound);
    assert_eq!(status, status2);
    assert_eq!(
        hidden.to_string().replace(&r1, "X"),
        never.to_string().replace(unknown, "X")
    );
    let (status, json) = api(&lab, Method::Post, "/api/new/misty", t, Some(&body));
    assert_eq!(status, Status::NotFound, "{json}");
    for uri in [
        format!("/api/deployment/{r1}/rules"),
        format!("/api/deployment/{r3}/rules"),
    ] {
        let (status, _) = api(&lab, Method::Get, &uri, t, None);
        assert_eq!(status, Status::NotFound, "{uri}");
    }
    let (status, rules) = api(&lab, Method::Get, "/api/rules", t, None);
    assert_eq!(status, Status::Ok);
    assert_eq!(rules, json!({ "rules": [] }));
    // "Any free ur5e" finds r2, never r1.
    let (status, made) = api(&lab, Method::Post, "/api/new/ur5e", t, Some(&body));
    assert_eq!(status, Status::Ok, "{made}");
    let id = made["id"].as_str().unwrap();
    let (_, info) = api(&lab, Method::Get, &format!("/api/instance/{id}"), t, None);
    assert_eq!(info["deployment"], r2.as_str());
    let (status, json) = api(&lab, Method::Post, "/api/new/ur5e", t, Some(&body));
    assert_eq!(status, Status::ServiceUnavailable, "busy, not r1: {json}");

    // The page: neither closed robot is offered, and posting one is refused as unknown.
    let pw = "pw-mia-0123456789";
    lab.login("mia", pw);
    let (_, page) = body_of(lab.client.get("/instances").dispatch());
    assert!(!page.contains(&r1) && !page.contains(&r3) && !page.contains("misty"));
    let (status, page) =
        body_of(lab.post_form("/instances", &[("robot", &r1), ("pasted", ED25519.trim())]));
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(page.contains("is available here"), "{page}");
}

fn body_of(resp: rocket::local::blocking::LocalResponse<'_>) -> (Status, String) {
    body(resp)
}

#[test]
fn members_named_by_a_rule_or_its_group_book_and_read_its_rules() {
    let RulesLab {
        lab, r1, r2, r3, ..
    } = rules_lab();
    let olga = lab_token(&lab, "olga", "rw");
    let gus = lab_token(&lab, "gus", "rw");
    let (_, list) = api(&lab, Method::Get, "/api/deployments", Some(&olga), None);
    assert_eq!(ids(&list), sorted(vec![r1.clone(), r2.clone()]));
    let (_, list) = api(&lab, Method::Get, "/api/deployments", Some(&gus), None);
    assert_eq!(ids(&list), sorted(vec![r2.clone(), r3.clone()]));

    let (status, rules) = api(
        &lab,
        Method::Get,
        &format!("/api/deployment/{r1}/rules"),
        Some(&olga),
        None,
    );
    assert_eq!(status, Status::Ok);
    let rule = &rules["rules"][0];
    assert_eq!(
        (&rule["cap"], &rule["user"], rule.get("group")),
        (&json!("CAP_INSTANTIATE"), &json!("olga"), None)
    );
    assert!(rule["id"].is_i64());
    let (_, all) = api(&lab, Method::Get, "/api/rules", Some(&gus), None);
    let all = all["rules"].as_array().unwrap();
    assert_eq!(all.len(), 1, "gus reads only the rules of robots he sees");
    assert_eq!(
        (&all[0]["group"], &all[0]["wdeployment_id"]),
        (&json!("vision"), &json!(r3))
    );
    let (_, none) = api(
        &lab,
        Method::Get,
        "/api/rules?to_user=mia",
        Some(&olga),
        None,
    );
    assert_eq!(none, json!({ "rules": [] }));

    let body = json!({"sshkey": ED25519.trim()}).to_string();
    let (status, made) = api(
        &lab,
        Method::Post,
        &format!("/api/new/{r1}"),
        Some(&olga),
        Some(&body),
    );
    assert_eq!(status, Status::Ok, "{made}");
    let (status, made) = api(
        &lab,
        Method::Post,
        "/api/new/misty",
        Some(&gus),
        Some(&body),
    );
    assert_eq!(status, Status::Ok, "{made}");
}

#[test]
fn only_admins_change_rules_and_bad_requests_say_why() {
    let RulesLab {
        lab, r1, r2, admin, ..
    } = rules_lab();
    let mia = lab_token(&lab, "mia", "rw");
    let olga = lab_token(&lab, "olga", "rw");
    let admin_ro = lab_token(&lab, "admin", "ro");
    let rule = r#"{"cap": "CAP_INSTANTIATE", "user": "mia"}"#;
    let (status, json) = api(
        &lab,
        Method::Post,
        &format!("/api/deployment/{r2}/rule"),
        Some(&mia),
        Some(rule),
    );
    assert_eq!(status, Status::Forbidden);
    assert_eq!(
        json["error_message"],
        "only lab admins may change access rules"
    );
    let (status, _) = api(
        &lab,
        Method::Post,
        &format!("/api/deployment/{r1}/rule"),
        Some(&mia),
        Some(rule),
    );
    assert_eq!(
        status,
        Status::NotFound,
        "a robot mia cannot see is unknown to her"
    );
    let (status, _) = api(
        &lab,
        Method::Post,
        &format!("/api/deployment/{r1}/rule"),
        Some(&olga),
        Some(rule),
    );
    assert_eq!(
        status,
        Status::Forbidden,
        "olga sees r1 but may not change it"
    );
    let (status, _) = api(
        &lab,
        Method::Post,
        &format!("/api/deployment/{r2}/rule"),
        Some(&admin_ro),
        Some(rule),
    );
    assert_eq!(status, Status::Forbidden, "read-only token");

    let a = Some(admin.as_str());
    for (body, want, needle) in [
        ("{oops", Status::BadRequest, "JSON object"),
        (r#"{"user": "mia"}"#, Status::BadRequest, "cap is required"),
        (
            r#"{"cap": "CAP_NO_INSTANTIATE", "user": "mia"}"#,
            Status::UnprocessableEntity,
            "only CAP_INSTANTIATE",
        ),
        (
            r#"{"cap": "CAP_INSTANTIATE"}"#,
            Status::UnprocessableEntity,
            "names a user",
        ),
        (
            r#"{"cap": "CAP_INSTANTIATE", "user": "mia", "group": "vision"}"#,
            Status::UnprocessableEntity,
            "not both",
        ),
        (
            r#"{"cap": "CAP_INSTANTIATE", "user": "nobody"}"#,
            Status::UnprocessableEntity,
            "no user named nobody",
        ),
        (
            r#"{"cap": "CAP_INSTANTIATE", "group": "nope"}"#,
            Status::UnprocessableEntity,
            "no group named nope",
        ),
    ] {
        let (status, json) = api(
            &lab,
            Method::Post,
            &format!("/api/deployment/{r2}/rule"),
            a,
            Some(body),
        );
        assert_eq!(status, want, "{body}: {json}");
        assert!(
            json["error_message"]
                .as_str()
                .unwrap_or("")
                .contains(needle),
            "{body}: {json}"
        );
    }
    let (status, _) = api(
        &lab,
        Method::Post,
        "/api/deployment/nope/rule",
        a,
        Some(rule),
    );
    assert_eq!(status, Status::NotFound);
    let (_, rules) = api(
        &lab,
        Method::Get,
        &format!("/api/deployment/{r2}/rules"),
        a,
        None,
    );
    assert_eq!(rules, json!({ "rules": [] }), "nothing half-written");

    // The same rule twice is one rule; deleting needs an admin and the right robot.
    let (_, one) = api(
        &lab,
        Method::Post,
        &format!("/api/deployment/{r2}/rule"),
        a,
        Some(rule),
    );
    let (_, two) = api(
        &lab,
        Method::Post,
        &format!("/api/deployment/{r2}/rule"),
        a,
        Some(rule),
    );
    assert_eq!(one, two);
    let rid = one["rule_id"].as_i64().unwrap();
    let (status, _) = api(
        &lab,
        Method::Delete,
        &format!("/api/deployment/{r2}/rule/{rid}"),
        Some(&mia),
        None,
    );
    assert_eq!(status, Status::Forbidden);
    for uri in [
        format!("/api/deployment/{r1}/rule/{rid}"),
        format!("/api/deployment/{r2}/rule/x"),
        format!("/api/deployment/{r2}/rule/99999"),
    ] {
        let (status, json) = api(&lab, Method::Delete, &uri, a, None);
        assert_eq!(status, Status::NotFound, "{uri}: {json}");
    }
    let (status, _) = api(
        &lab,
        Method::Delete,
        &format!("/api/deployment/{r2}/rule/{rid}"),
        a,
        None,
    );
    assert_eq!(status, Status::Ok);
    let (_, rules) = api(
        &lab,
        Method::Get,
        &format!("/api/deployment/{r2}/rules"),
        a,
        None,
    );
    assert_eq!(rules, json!({ "rules": [] }));
    let kinds = event_kinds(&db_of(&lab.data()), "admin");
    assert!(kinds.contains(&"access rule added".to_owned()));
    assert!(kinds.contains(&"access rule removed".to_owned()));
}

#[test]
fn rules_on_a_robots_admin_page() {
    let RulesLab { lab, r1, r2, .. } = rules_lab();
    lab.login_admin();
    let (status, page) = body(
        lab.client
            .get(format!("/admin/deployments/{r2}"))
            .dispatch(),
    );
    assert_eq!(status, Status::Ok);
    assert!(page.contains("every member"), "{page}");
    let (_, page) = body(
        lab.client
            .get(format!("/admin/deployments/{r1}"))
            .dispatch(),
    );
    assert!(page.contains("user <strong>olga</strong>"), "{page}");

    let uri = format!("/admin/deployments/{r2}/rules");
    let (status, page) = body(lab.post_form(&uri, &[("who", "group"), ("name", "nope")]));
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(page.contains("no group named nope") && page.contains("value=\"nope\""));
    let (status, page) = body(lab.post_form(&uri, &[("who", "user"), ("name", "")]));
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(page.contains("name the user or group"));
    let (status, frag) = body(lab.post_htmx(&uri, &[("who", "group"), ("name", "vision")]));
    assert_eq!(status, Status::Ok);
    assert!(frag.contains("group <strong>vision</strong>") && !frag.contains("<html"));
    let mia = lab_token(&lab, "mia", "rw");
    let (_, list) = api(&lab, Method::Get, "/api/deployments", Some(&mia), None);
    assert_eq!(ids(&list), Vec::<String>::new(), "r2 is closed to mia now");

    let rule: i64 = db_of(&lab.data())
        .run_blocking(|c| Ok(c.query_row("SELECT MAX(id) FROM rules", [], |r| r.get(0))?))
        .unwrap();
    let resp = lab.post_form(&format!("/admin/deployments/{r2}/rules/{rule}/delete"), &[]);
    assert_eq!(resp.status(), Status::SeeOther);
    let (_, list) = api(&lab, Method::Get, "/api/deployments", Some(&mia), None);
    assert_eq!(ids(&list), vec![r2.clone()]);
    let resp = lab.post_form(&format!("/admin/deployments/{r2}/rules/{rule}/delete"), &[]);
    assert_eq!(resp.status(), Status::NotFound);

    // A group that is the only rule of a robot cannot be deleted (that would open the robot).
    let vision = db_of(&lab.data())
        .run_blocking(|c| labgate::lab::groups::require(c, "vision"))
        .unwrap();
    let (status, page) = body(lab.post_form(&format!("/admin/groups/{vision}/delete"), &[]));
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(page.contains("open that robot to everyone"), "{page}");
}

#[test]
fn group_and_rule_command_line() {
    let lab = Lab::new();
    lab.add_user("mia", false);
    let robot = add_robot(&lab.data(), "ur5e", "r1.lab", 22);
    run(&lab, &["group", "add", "vision"]);
    assert!(refused(&lab, &["group", "add", "vision"]).contains("exists already"));
    assert!(refused(&lab, &["group", "add", "Bad Name"]).contains("a group name is"));
    assert!(
        run(&lab, &["group", "member", "add", "vision", "mia"]).contains("mia is now in vision")
    );
    assert!(run(&lab, &["group", "member", "add", "vision", "mia"]).contains("already"));
    assert!(
        refused(&lab, &["group", "member", "add", "nope", "mia"]).contains("no group named nope")
    );
    assert!(
        refused(&lab, &["group", "member", "add", "vision", "nobody"])
            .contains("no user named nobody")
    );
    let list = run(&lab, &["group", "list"]);
    assert!(
        list.lines()
            .any(|l| l.starts_with("vision") && l.ends_with("mia")),
        "{list}"
    );

    assert!(run(&lab, &["deployment", "rules", &robot]).contains("every member may book"));
    let (ok, out, err) = cli(
        &lab.data(),
        &["deployment", "allow", &robot, "--group", "vision"],
        None,
    );
    assert!(ok, "{err}");
    assert!(
        out.starts_with("rule ") && out.contains("group vision may book"),
        "{out}"
    );
    assert!(err.contains("first rule"), "{err}");
    let rule_id = out
        .split_whitespace()
        .nth(1)
        .unwrap()
        .trim_end_matches(':')
        .to_owned();
    let rules = run(&lab, &["deployment", "rules", &robot]);
    assert!(
        rules.contains(&format!("{rule_id}  "))
            && rules.contains("CAP_INSTANTIATE")
            && rules.contains("group vision"),
        "{rules}"
    );
    refused(&lab, &["deployment", "allow", &robot]);
    refused(
        &lab,
        &[
            "deployment",
            "allow",
            &robot,
            "--user",
            "mia",
            "--group",
            "vision",
        ],
    );
    assert!(
        refused(&lab, &["deployment", "allow", &robot, "--user", "nobody"])
            .contains("no user named nobody")
    );
    assert!(
        refused(&lab, &["deployment", "allow", "nope", "--user", "mia"])
            .contains("no robot with id nope")
    );
    assert!(refused(&lab, &["deployment", "disallow", &robot, "999"]).contains("no rule 999"));
    let (ok, out, err) = cli(
        &lab.data(),
        &["deployment", "disallow", &robot, &rule_id],
        None,
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("group vision no longer named")
            && err.contains("every member may book it again")
    );
    assert!(
        run(&lab, &["group", "member", "remove", "vision", "mia"]).contains("no longer in vision")
    );
    assert!(
        refused(&lab, &["group", "member", "remove", "vision", "mia"])
            .contains("mia is not in vision")
    );
}
