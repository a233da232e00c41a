//! `/admin/limits` and the token maximum: the admin's setting and the operator's variable,
//! the smaller winning, trimming the page's choices and enforced by the server.

use labgate::Config;
use rocket::http::Status;
use rocket::local::blocking::Client;

use super::*;

fn setting(lab: &Lab, key: &str) -> Option<String> {
    db(lab)
        .run_blocking(|conn| labgate::db::setting(conn, key))
        .unwrap()
}

#[test]
fn admin_sets_limits_members_cannot() {
    let lab = Lab::new();
    lab.login_admin();
    let resp = lab.client.get("/admin/limits").dispatch();
    assert_eq!(resp.status(), Status::Ok);
    let page = resp.into_string().unwrap();
    assert!(page.contains("Longest API token lifetime"));
    assert!(page.contains("<option value=\"none\" selected>no limit</option>"));
    assert!(
        page.contains("<option value=\"86400\" selected>24 hours</option>"),
        "booking default"
    );
    assert!(page.contains("aria-current=\"page\">Limits"));
    let fragment = lab.get_htmx("/admin/limits").into_string().unwrap();
    assert!(fragment
        .trim_start()
        .starts_with("<section class=\"card\" id=\"limits\""));

    let resp = lab.post_form(
        "/admin/limits",
        &[
            ("token_max_seconds", "604800"),
            ("instance_max_seconds", "14400"),
        ],
    );
    assert_eq!(resp.status(), Status::SeeOther);
    assert_eq!(
        setting(&lab, "token_max_seconds").as_deref(),
        Some("604800")
    );
    assert_eq!(
        setting(&lab, "instance_max_seconds").as_deref(),
        Some("14400")
    );
    let instance_max = db(&lab)
        .run_blocking(|conn| labgate::lab::instances::max_seconds(conn))
        .unwrap();
    assert_eq!(instance_max, 14400);
    let page = lab
        .client
        .get("/admin/limits")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(page.contains("Limits saved."));
    assert!(page.contains("<option value=\"604800\" selected>7 days</option>"));
    assert!(page.contains("<option value=\"14400\" selected>4 hours</option>"));
    assert!(account_page(&lab).contains("limits changed"));

    // htmx: the card again, with a toast; "no limit" removes the setting.
    let resp = lab.post_htmx(
        "/admin/limits",
        &[
            ("token_max_seconds", "none"),
            ("instance_max_seconds", "86400"),
        ],
    );
    assert_eq!(resp.status(), Status::Ok);
    assert!(resp
        .headers()
        .get_one("HX-Trigger")
        .unwrap()
        .contains("Limits saved."));
    let fragment = resp.into_string().unwrap();
    assert!(fragment
        .trim_start()
        .starts_with("<section class=\"card\" id=\"limits\""));
    assert_eq!(setting(&lab, "token_max_seconds"), None);

    for fields in [
        [
            ("token_max_seconds", "12345"),
            ("instance_max_seconds", "86400"),
        ],
        [("token_max_seconds", "none"), ("instance_max_seconds", "1")],
    ] {
        let resp = lab.post_form("/admin/limits", &fields);
        assert_eq!(resp.status(), Status::UnprocessableEntity, "{fields:?}");
        assert!(resp.into_string().unwrap().contains("from the list"));
        assert_eq!(
            lab.post_htmx("/admin/limits", &fields).status(),
            Status::UnprocessableEntity
        );
    }

    let password = lab.add_user("alice", false);
    lab.login("alice", &password);
    assert_eq!(
        lab.client.get("/admin/limits").dispatch().status(),
        Status::NotFound
    );
    let resp = lab.post_form(
        "/admin/limits",
        &[
            ("token_max_seconds", "3600"),
            ("instance_max_seconds", "3600"),
        ],
    );
    assert_eq!(resp.status(), Status::NotFound);
    assert_eq!(
        setting(&lab, "instance_max_seconds").as_deref(),
        Some("86400")
    );
}

#[test]
fn the_maximum_trims_the_choices_and_is_enforced() {
    let lab = Lab::new();
    lab.login_admin();
    let resp = lab.post_form(
        "/admin/limits",
        &[
            ("token_max_seconds", "604800"),
            ("instance_max_seconds", "86400"),
        ],
    );
    assert_eq!(resp.status(), Status::SeeOther);
    let password = lab.add_user("alice", false);
    lab.login("alice", &password);
    let page = lab.client.get("/tokens").dispatch().into_string().unwrap();
    assert!(page.contains("<option value=\"604800\">7 days</option>"));
    assert!(!page.contains("value=\"2592000\"") && !page.contains("value=\"31536000\""));
    assert!(page.contains("An admin limits tokens to 7 days here."));

    let resp = lab.post_form("/tokens", &[("duration", "2592000"), ("note", "too long")]);
    assert_eq!(resp.status(), Status::UnprocessableEntity);
    let page = resp.into_string().unwrap();
    assert!(page.contains("at most 7 days"));
    assert!(page.contains("value=\"too long\""));
    let resp = lab.post_htmx("/tokens", &[("duration", "2592000")]);
    assert_eq!(resp.status(), Status::UnprocessableEntity);
    let (_, text) = make(&lab, &[("duration", "604800")]);
    assert_eq!(api_status(&lab, &text), Status::Ok);

    // The command line obeys the same maximum.
    let (ok, out, err) = cli(
        &lab.data(),
        &["token", "issue", "alice", "--duration", "2592000"],
        None,
    );
    assert!(!ok && out.is_empty());
    assert!(err.contains("at most 7 days"), "{err}");
}

#[test]
fn the_operators_variable_and_the_setting_the_smaller_wins() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().join("data"));
    config.token_max_seconds = Some(2 * 86400);
    let client = Client::tracked(labgate::build(config).unwrap()).unwrap();
    let lab = Lab { client, dir };
    let password = lab.add_user("alice", false);
    lab.login("alice", &password);
    let page = lab.client.get("/tokens").dispatch().into_string().unwrap();
    let offered: Vec<&str> = page
        .split("<option value=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect();
    assert_eq!(offered, ["3600", "86400", "172800"]);
    assert!(page.contains("2 days (the maximum)"));
    let (_, text) = make(&lab, &[("duration", "172800")]);
    let claims = claims_of(&text);
    assert_eq!(claims.exp - claims.iat, 172800);
    let resp = lab.post_form("/tokens", &[("duration", "604800")]);
    assert_eq!(resp.status(), Status::UnprocessableEntity);

    // An admin setting below the variable wins.
    db(&lab)
        .write_blocking(|tx| labgate::db::set_setting(tx, "token_max_seconds", "3600"))
        .unwrap();
    let page = lab.client.get("/tokens").dispatch().into_string().unwrap();
    assert!(page.contains("<option value=\"3600\" selected>1 hour</option>"));
    assert!(!page.contains("value=\"86400\""));
    assert_eq!(
        lab.post_form("/tokens", &[("duration", "86400")]).status(),
        Status::UnprocessableEntity
    );
}
