//! The admin's oversight: Admin → Bookings (end any booking with a reason the member sees),
//! a user's page with delete, promote and demote, and a robot's page with edit and delete;
//! the duplicate-robot refusal, the credential card's sshd lines and the CLI's warnings.

use rocket::http::{Header, Method, Status};
use serde_json::json;

use crate::common::*;
use crate::lab::{
    add_robot, api, db_of, event_kinds, instance_row, lab_token, save_key, ECDSA256, ED25519,
};

fn body(resp: rocket::local::blocking::LocalResponse<'_>) -> (Status, String) {
    let status = resp.status();
    (status, resp.into_string().unwrap_or_default())
}

/// Books `robot` for the owner of `token` through the API with the ED25519 fixture key.
fn book(lab: &Lab, token: &str, robot: &str) -> String {
    let body = json!({"sshkey": ED25519.trim()}).to_string();
    let (status, made) = api(
        lab,
        Method::Post,
        &format!("/api/new/{robot}"),
        Some(token),
        Some(&body),
    );
    assert_eq!(status, Status::Ok, "{made}");
    made["id"].as_str().unwrap().to_owned()
}

fn user_id(lab: &Lab, name: &str) -> i64 {
    let name = name.to_owned();
    db_of(&lab.data())
        .run_blocking(move |c| labgate::auth::users::require(c, &name))
        .unwrap()
        .id
}

#[test]
fn admin_ends_a_booking_with_a_reason_the_member_sees() {
    let lab = Lab::new();
    let pw = lab.add_user("mia", false);
    let robot = add_robot(&lab.data(), "ur5e", "r1.lab", 22);
    let mia = lab_token(&lab, "mia", "rw");
    let id = book(&lab, &mia, &robot);

    lab.login_admin();
    let (status, page) = body(lab.client.get("/admin/bookings").dispatch());
    assert_eq!(status, Status::Ok);
    let row = page
        .split(&format!("id=\"booking-{id}\""))
        .nth(1)
        .and_then(|s| s.split("</tr>").next())
        .expect("mia's booking is listed");
    assert!(row.contains(">mia<") && row.contains("ur5e") && row.contains("r1.lab"));
    assert!(row.contains("SHA256:"), "the key: {row}");
    let (status, frag) = body(lab.get_htmx("/admin/bookings"));
    assert_eq!(status, Status::Ok);
    assert!(frag.contains(&id) && !frag.contains("<html"));

    // No reason, no end; the booking runs on.
    let uri = format!("/admin/bookings/{id}/end");
    for reason in ["", "  ", "two\nlines"] {
        let (status, page) = body(lab.post_form(&uri, &[("reason", reason)]));
        assert_eq!(status, Status::UnprocessableEntity, "{reason:?}");
        assert!(page.contains("id=\"end-error-"), "{page}");
    }
    assert_eq!(instance_row(&db_of(&lab.data()), &id).0, "READY");

    let reason = "the arm needs recalibrating";
    let (status, frag) = body(lab.post_htmx(&uri, &[("reason", reason)]));
    assert_eq!(status, Status::Ok);
    assert!(frag.contains("Nobody has a robot booked"), "{frag}");
    assert_eq!(instance_row(&db_of(&lab.data()), &id).0, "TERMINATED");
    let resp = lab.post_form(&uri, &[("reason", reason)]);
    assert_eq!(
        resp.status(),
        Status::SeeOther,
        "ending it again is harmless"
    );
    let resp = lab.post_form("/admin/bookings/nope/end", &[("reason", reason)]);
    assert_eq!(resp.status(), Status::NotFound);
    assert!(event_kinds(&db_of(&lab.data()), "admin").contains(&"booking ended".to_owned()));

    // The member: the row says why, and so does the security log; the API says it ended.
    lab.login("mia", &pw);
    let (_, page) = body(lab.client.get("/instances").dispatch());
    // As the browser reads it (and the copy button copies it): entities decoded.
    let page = page
        .replace("&#x2f;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&amp;", "&");
    assert!(
        page.contains(&format!("ended by an admin: {reason}")),
        "{page}"
    );
    let (_, account) = body(lab.client.get("/account").dispatch());
    assert!(
        account.contains(&format!("ended by admin admin: {reason}")),
        "{account}"
    );
    let (_, info) = api(
        &lab,
        Method::Get,
        &format!("/api/instance/{id}"),
        Some(&mia),
        None,
    );
    assert_eq!(info["status"], "TERMINATED");
    assert_eq!(
        lab.client.get("/admin/bookings").dispatch().status(),
        Status::NotFound
    );
    assert_eq!(
        lab.post_form(&uri, &[("reason", "mine")]).status(),
        Status::NotFound
    );
}

#[test]
fn bookings_come_a_page_at_a_time() {
    let lab = Lab::new();
    lab.add_user("mia", false);
    let mia = lab_token(&lab, "mia", "rw");
    let mut ids = Vec::new();
    for n in 0..26 {
        let robot = add_robot(&lab.data(), "ur5e", &format!("r{n}.lab"), 22);
        ids.push(book(&lab, &mia, &robot));
    }
    lab.login_admin();
    let (_, first) = body(lab.client.get("/admin/bookings").dispatch());
    let (_, second) = body(lab.client.get("/admin/bookings?page=2").dispatch());
    let (_, past) = body(lab.client.get("/admin/bookings?page=99").dispatch());
    let (_, junk) = body(lab.client.get("/admin/bookings?page=x").dispatch());
    let count = |page: &str| {
        ids.iter()
            .filter(|i| page.contains(&format!("booking-{i}\"")))
            .count()
    };
    assert_eq!((count(&first), count(&second)), (25, 1));
    assert!(first.contains("Page 1 of 2") && second.contains("Page 2 of 2"));
    assert_eq!(count(&past), 1, "a page past the end shows the last");
    assert_eq!(count(&junk), 25);
}

#[test]
fn deleting_a_user_ends_everything_of_theirs_and_keeps_the_history() {
    let lab = Lab::new();
    let pw = lab.add_user("mia", false);
    let robot = add_robot(&lab.data(), "ur5e", "r1.lab", 22);
    save_key(&lab.data(), "mia", "laptop", ED25519);
    let mia = lab_token(&lab, "mia", "rw");
    let id = book(&lab, &mia, &robot);
    let mia_id = user_id(&lab, "mia");
    // A browser session of mia's own (the test's client is about to be the admin's).
    db_of(&lab.data())
        .write_blocking(|tx| labgate::auth::create_session(tx, mia_id, None, None))
        .unwrap();
    let sessions = |lab: &Lab| -> i64 {
        db_of(&lab.data())
            .run_blocking(move |c| {
                Ok(c.query_row(
                    "SELECT COUNT(*) FROM sessions WHERE user_id = ?1",
                    [mia_id],
                    |r| r.get(0),
                )?)
            })
            .unwrap()
    };
    assert_eq!(sessions(&lab), 1);
    let (ok, _, err) = cli(&lab.data(), &["group", "add", "vision"], None);
    assert!(ok, "{err}");
    let (ok, _, err) = cli(
        &lab.data(),
        &["group", "member", "add", "vision", "mia"],
        None,
    );
    assert!(ok, "{err}");

    lab.login_admin();
    let (status, page) = body(lab.client.get(format!("/admin/users/{mia_id}")).dispatch());
    assert_eq!(status, Status::Ok);
    for shown in ["laptop", "vision", &id, "instance created", "last sign-in"] {
        assert!(page.contains(shown), "{shown}: {page}");
    }
    assert!(!page.contains(&mia), "never the token text");
    let resp = lab.post_form(&format!("/admin/users/{mia_id}/delete"), &[]);
    assert_eq!(resp.status(), Status::SeeOther);

    // Signed out, token dead, keys gone, booking ended with the reason; the rows stay.
    assert_eq!(sessions(&lab), 0);
    let (status, _) = api(&lab, Method::Get, "/api/instances", Some(&mia), None);
    assert_eq!(status, Status::Unauthorized);
    let db = db_of(&lab.data());
    let (status, ..) = instance_row(&db, &id);
    assert_eq!(status, "TERMINATED");
    let (keys, reason, groups): (i64, String, i64) = db
        .run_blocking(move |c| {
            Ok((
                c.query_row(
                    "SELECT COUNT(*) FROM ssh_keys WHERE user_id = ?1",
                    [mia_id],
                    |r| r.get(0),
                )?,
                c.query_row("SELECT end_reason FROM instances", [], |r| r.get(0))?,
                c.query_row("SELECT COUNT(*) FROM group_members", [], |r| r.get(0))?,
            ))
        })
        .unwrap();
    assert_eq!(
        (keys, reason.as_str(), groups),
        (0, "the account was deleted", 0)
    );
    let kinds = event_kinds(&db, "mia");
    assert!(
        kinds.contains(&"instance created".to_owned())
            && kinds.contains(&"account deleted".to_owned())
    );
    let (_, users) = body(lab.client.get("/admin/users").dispatch());
    assert!(users.contains("badge off\">deleted"), "{users}");
    let (status, page) = body(lab.client.get(format!("/admin/users/{mia_id}")).dispatch());
    assert_eq!(status, Status::Ok, "the history stays readable");
    assert!(page.contains("the account was deleted"));

    // Gone for good: no sign-in, no enabling, no second delete, the name stays taken.
    let resp = lab.post_form(&format!("/admin/users/{mia_id}/enable"), &[]);
    assert_eq!(resp.status(), Status::UnprocessableEntity);
    let (status, page) = body(lab.post_form(&format!("/admin/users/{mia_id}/delete"), &[]));
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(page.contains("deleted already"));
    let (ok, out, _) = cli(&lab.data(), &["user", "list"], None);
    assert!(
        ok && out
            .lines()
            .any(|l| l.starts_with("mia ") && l.contains("deleted")),
        "{out}"
    );
    let (ok, _, err) = cli(&lab.data(), &["user", "enable", "mia"], None);
    assert!(!ok && err.contains("cannot be enabled"), "{err}");
    let resp = lab.post_login("mia", &pw, "127.0.0.1:5001");
    assert_ne!(resp.status(), Status::SeeOther);
    let (ok, _, _) = cli(&lab.data(), &["user", "add", "mia"], None);
    assert!(!ok);

    // Never yourself.
    let admin_id = user_id(&lab, "admin");
    let (status, page) = body(lab.post_form(&format!("/admin/users/{admin_id}/delete"), &[]));
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(page.contains("your own account"));
    assert_eq!(
        lab.post_form("/admin/users/9999/delete", &[]).status(),
        Status::NotFound
    );
}

#[test]
fn promote_demote_and_last_sign_in() {
    let lab = Lab::new();
    let pw = lab.add_user("mia", false);
    let mia_id = user_id(&lab, "mia");
    lab.login_admin();
    let (_, users) = body(lab.client.get("/admin/users").dispatch());
    let row = |page: &str| {
        page.split(&format!("id=\"user-{mia_id}\""))
            .nth(1)
            .and_then(|s| s.split("</tr>").next())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(row(&users).contains("never"), "{users}");

    let resp = lab.post_form(&format!("/admin/users/{mia_id}/promote"), &[]);
    assert_eq!(resp.status(), Status::SeeOther);
    lab.login("mia", &pw);
    assert_eq!(
        lab.client.get("/admin/users").dispatch().status(),
        Status::Ok
    );
    // An admin cannot demote themselves (so there is always an admin left).
    let (status, page) = body(lab.post_form(&format!("/admin/users/{mia_id}/demote"), &[]));
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(page.contains("cannot demote yourself"));

    lab.login_admin();
    let (_, users) = body(lab.client.get("/admin/users").dispatch());
    assert!(
        !row(&users).contains("never"),
        "mia signed in: {}",
        row(&users)
    );
    let resp = lab.post_form(&format!("/admin/users/{mia_id}/demote"), &[]);
    assert_eq!(resp.status(), Status::SeeOther);
    let kinds = event_kinds(&db_of(&lab.data()), "mia");
    assert!(kinds.contains(&"made admin".to_owned()) && kinds.contains(&"made member".to_owned()));
    lab.login("mia", &pw);
    assert_eq!(
        lab.client.get("/admin/users").dispatch().status(),
        Status::NotFound
    );
    assert_eq!(
        lab.client
            .get(format!("/admin/users/{mia_id}"))
            .dispatch()
            .status(),
        Status::NotFound
    );
    assert_eq!(
        lab.post_form(&format!("/admin/users/{mia_id}/promote"), &[])
            .status(),
        Status::NotFound
    );
}

#[test]
fn robots_are_edited_deleted_and_never_added_twice() {
    let lab = Lab::new();
    lab.add_user("mia", false);
    let r1 = add_robot(&lab.data(), "ur5e", "r1.lab", 22);
    let r2 = add_robot(&lab.data(), "ur5e", "r2.lab", 22);
    lab.login_admin();
    let (status, page) = body(
        lab.client
            .get(format!("/admin/deployments/{r1}"))
            .dispatch(),
    );
    assert_eq!(status, Status::Ok);
    assert!(page.contains("value=\"r1.lab\""));
    assert_eq!(
        lab.client
            .get("/admin/deployments/nope")
            .dispatch()
            .status(),
        Status::NotFound
    );

    // The same robot twice: on the page and on the command line, naming the one that exists.
    let (status, page) = body(lab.post_form(
        "/admin/deployments",
        &[
            ("type", "ur5e"),
            ("host", "r1.lab"),
            ("port", "22"),
            ("user", "root"),
        ],
    ));
    assert_eq!(status, Status::UnprocessableEntity);
    // As the browser reads it (and the copy button copies it): entities decoded.
    let page = page
        .replace("&#x2f;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&amp;", "&");
    assert!(
        page.contains(&format!("this robot exists already: the ur5e robot {r1}")),
        "{page}"
    );
    let (ok, _, err) = cli(
        &lab.data(),
        &["deployment", "add", "--type", "ur5e", "--host", "r1.lab"],
        None,
    );
    assert!(!ok && err.contains(&r1), "{err}");

    // Edit: refused input keeps the values; a clash with another robot is refused too.
    let edit = format!("/admin/deployments/{r1}/edit");
    let fields = |host: &'static str, port: &'static str| {
        vec![
            ("type", "ur5e"),
            ("host", host),
            ("port", port),
            ("user", "lab"),
            ("region", "room 9"),
            ("description", "moved"),
            ("hostkeys", ECDSA256),
        ]
    };
    let (status, page) = body(lab.post_form(&edit, &fields("arm.lab", "0")));
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(page.contains("from 1 to 65535") && page.contains("value=\"arm.lab\""));
    let mut clash = fields("r2.lab", "22");
    clash[3] = ("user", "root");
    let (status, page) = body(lab.post_form(&edit, &clash));
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(page.contains(&r2), "{page}");
    let (status, frag) = body(lab.post_htmx(&edit, &fields("arm.lab", "2200")));
    assert_eq!(status, Status::Ok);
    assert!(frag.contains("value=\"arm.lab\"") && !frag.contains("<html"));
    let mia = lab_token(&lab, "mia", "rw");
    let (_, info) = api(
        &lab,
        Method::Get,
        &format!("/api/deployment/{r1}"),
        Some(&mia),
        None,
    );
    assert_eq!(
        (info["region"].as_str(), info["desc"].as_str()),
        (Some("room 9"), Some("moved"))
    );

    // Delete: refused while booked; then gone from every list, its booking history kept.
    let id = book(&lab, &mia, &r1);
    let delete = format!("/admin/deployments/{r1}/delete");
    let (status, page) = body(lab.post_form(&delete, &[]));
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(page.contains("is booked right now"), "{page}");
    let (status, _) = api(
        &lab,
        Method::Post,
        &format!("/api/terminate/{id}"),
        Some(&mia),
        None,
    );
    assert_eq!(status, Status::Ok);
    let resp = lab.post_form(&delete, &[]);
    assert_eq!(resp.status(), Status::SeeOther);
    let (_, robots) = body(lab.client.get("/admin/deployments").dispatch());
    assert!(!robots.contains(&r1) && robots.contains(&r2));
    let (_, list) = api(&lab, Method::Get, "/api/deployments", Some(&mia), None);
    assert_eq!(list["workspace_deployments"], json!([r2]));
    let (status, _) = api(
        &lab,
        Method::Get,
        &format!("/api/deployment/{r1}"),
        Some(&mia),
        None,
    );
    assert_eq!(status, Status::NotFound);
    let (status, info) = api(
        &lab,
        Method::Get,
        &format!("/api/instance/{id}"),
        Some(&mia),
        None,
    );
    assert_eq!(status, Status::Ok);
    assert_eq!(info["deployment"], r1.as_str());
    assert_eq!(lab.post_form(&delete, &[]).status(), Status::NotFound);
    let (status, _) = body(
        lab.client
            .get(format!("/admin/deployments/{r1}"))
            .dispatch(),
    );
    assert_eq!(status, Status::NotFound);
    let keys = lab
        .client
        .get(format!("/api/deployment/{r1}/authorized_keys"))
        .header(Header::new("Authorization", "Bearer anything"))
        .dispatch();
    assert_eq!(keys.status(), Status::Unauthorized);
    // Once deleted, the same robot may be added again.
    let (ok, _, err) = cli(
        &lab.data(),
        &[
            "deployment",
            "add",
            "--type",
            "ur5e",
            "--host",
            "arm.lab",
            "--port",
            "2200",
            "--user",
            "lab",
        ],
        None,
    );
    assert!(ok, "{err}");
    let kinds = event_kinds(&db_of(&lab.data()), "admin");
    assert!(
        kinds.contains(&"robot edited".to_owned()) && kinds.contains(&"robot deleted".to_owned())
    );
}

#[test]
fn the_credential_card_has_the_sshd_lines_and_the_cli_warns_without_host_keys() {
    let lab = Lab::new();
    lab.login_admin();
    let (status, page) = body(lab.post_form(
        "/admin/deployments",
        &[("type", "ur5e"), ("host", "arm.lab")],
    ));
    assert_eq!(status, Status::Ok);
    let id: String = db_of(&lab.data())
        .run_blocking(|c| Ok(c.query_row("SELECT id FROM deployments", [], |r| r.get(0))?))
        .unwrap();
    // As the browser reads it (and the copy button copies it): entities decoded.
    let page = page
        .replace("&#x2f;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&amp;", "&");
    assert!(
        page.contains(&format!(
            "AuthorizedKeysCommand /usr/local/bin/labgate authorized-keys --url http://127.0.0.1:8000 --deployment {id} --credential-file /etc/labgate/credential %u %f\nAuthorizedKeysCommandUser labgate-keys"
        )),
        "{page}"
    );
    assert!(page.contains("--allow-http"), "the plain-http warning");

    let (ok, out, err) = cli(
        &lab.data(),
        &[
            "deployment",
            "add",
            "--type",
            "misty",
            "--host",
            "misty.lab",
        ],
        None,
    );
    assert!(ok && out.starts_with("id: "), "{err}");
    assert!(
        err.contains("warning: no host keys") && err.contains("Instance"),
        "{err}"
    );
    let hostkeys = lab.dir.path().join("hk.pub");
    std::fs::write(&hostkeys, ECDSA256).unwrap();
    let (ok, _, err) = cli(
        &lab.data(),
        &[
            "deployment",
            "add",
            "--type",
            "misty",
            "--host",
            "m2.lab",
            "--hostkey-file",
            hostkeys.to_str().unwrap(),
        ],
        None,
    );
    assert!(ok && !err.contains("warning"), "{err}");
}
