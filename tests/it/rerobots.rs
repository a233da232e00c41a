//! The rerobots-compatible workspace API: each call answered as the stock `rerobots` 0.11.0
//! client reads it, and (ignored unless the client is installed) the real client end to end.

use rocket::http::{Method, Status};
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::json;

use crate::common::*;
use crate::lab::{
    add_robot, api, db_of, event_kinds, instance_ids, instance_row, lab_token, save_key, token_for,
    ECDSA256, ED25519, ED25519_FP,
};

/// A lab with member `mia`, her rw token, and robots: two ur5e and one misty.
fn api_lab() -> (Lab, String, Vec<String>) {
    let lab = Lab::new();
    lab.add_user("mia", false);
    let token = lab_token(&lab, "mia", "rw");
    let robots = vec![
        add_robot(&lab.data(), "ur5e", "robot1.lab", 2222),
        add_robot(&lab.data(), "ur5e", "robot2.lab", 22),
        add_robot(&lab.data(), "misty", "misty.lab", 22),
    ];
    (lab, token, robots)
}

#[test]
fn types_and_deployments_with_filters_and_pages() {
    let (lab, t, robots) = api_lab();
    let t = Some(t.as_str());
    let (status, json) = api(&lab, Method::Get, "/api/workspaces", t, None);
    assert_eq!(status, Status::Ok);
    assert_eq!(json, json!({ "workspace_types": ["misty", "ur5e"] }));

    let (status, json) = api(&lab, Method::Get, "/api/deployments?info=t", t, None);
    assert_eq!(status, Status::Ok);
    let ids = json["workspace_deployments"].as_array().unwrap();
    assert_eq!(ids.len(), 3);
    for id in ids {
        let info = &json["info"][id.as_str().unwrap()];
        for field in [
            "type",
            "type_version",
            "supported_addons",
            "desc",
            "region",
            "icounter",
            "created",
            "queuelen",
        ] {
            assert!(!info[field].is_null(), "{field} in {info}");
        }
        assert_eq!(info["queuelen"], 0);
    }
    // Paging as the client asks for it; a page past the end gives the last.
    let (_, p2) = api(
        &lab,
        Method::Get,
        "/api/deployments?max_per_page=2&page=2&info=t",
        t,
        None,
    );
    assert_eq!(p2["page_count"], 2);
    assert_eq!(p2["workspace_deployments"].as_array().unwrap().len(), 1);
    assert_eq!(p2["info"].as_object().unwrap().len(), 1);
    let (_, p9) = api(
        &lab,
        Method::Get,
        "/api/deployments?max_per_page=2&page=9&info=t",
        t,
        None,
    );
    assert_eq!(p9["workspace_deployments"], p2["workspace_deployments"]);
    // types (with exclusions), q, maxlen.
    let (_, ur) = api(
        &lab,
        Method::Get,
        "/api/deployments?types=ur5e&info=t",
        t,
        None,
    );
    assert_eq!(ur["workspace_deployments"].as_array().unwrap().len(), 2);
    let (_, not_ur) = api(
        &lab,
        Method::Get,
        "/api/deployments?types=%21ur5e%2C%21user_provided&info=t",
        t,
        None,
    );
    assert_eq!(not_ur["workspace_deployments"], json!([robots[2]]));
    let (_, q) = api(&lab, Method::Get, "/api/deployments?q=MIS&info=t", t, None);
    assert_eq!(q["workspace_deployments"], json!([robots[2]]));
    let (status, _) = api(
        &lab,
        Method::Get,
        "/api/deployments?maxlen=x&info=t",
        t,
        None,
    );
    assert_eq!(status, Status::BadRequest);
    // Book one robot: it leaves `maxlen=0` and shows queuelen 1.
    let (status, _) = api(
        &lab,
        Method::Post,
        &format!("/api/new/{}", robots[2]),
        t,
        Some(&json!({"sshkey": ED25519.trim(), "reserve": false}).to_string()),
    );
    assert_eq!(status, Status::Ok);
    let (_, free) = api(
        &lab,
        Method::Get,
        "/api/deployments?maxlen=0&info=t",
        t,
        None,
    );
    assert_eq!(free["workspace_deployments"].as_array().unwrap().len(), 2);
    let (_, all) = api(
        &lab,
        Method::Get,
        "/api/deployments?maxlen=u&info=t",
        t,
        None,
    );
    assert_eq!(all["info"][&robots[2]]["queuelen"], 1);
    assert_eq!(all["info"][&robots[2]]["icounter"], 1);

    let (status, one) = api(
        &lab,
        Method::Get,
        &format!("/api/deployment/{}", robots[0]),
        t,
        None,
    );
    assert_eq!(status, Status::Ok);
    assert_eq!(
        (
            one["id"].as_str(),
            one["type"].as_str(),
            one["online"].as_bool()
        ),
        (Some(robots[0].as_str()), Some("ur5e"), Some(true))
    );
    assert_eq!(one["region"], "lab 1");
    let (status, missing) = api(&lab, Method::Get, "/api/deployment/nope", t, None);
    assert_eq!(status, Status::NotFound);
    assert!(missing["error_message"].is_string());
    // A disabled robot leaves the lists.
    db_of(&lab.data())
        .write_blocking(|tx| {
            labgate::lab::deployments::set_enabled(tx, &robots[0], false).map(|_| ())
        })
        .unwrap();
    let (_, json) = api(
        &lab,
        Method::Get,
        "/api/deployments?types=ur5e&info=t",
        t,
        None,
    );
    assert_eq!(json["workspace_deployments"], json!([robots[1]]));
}

#[test]
fn book_with_a_generated_key_then_terminate() {
    let (lab, token, robots) = api_lab();
    let t = Some(token.as_str());
    // The client's body: JSON without a Content-Type.
    let (status, made) = api(
        &lab,
        Method::Post,
        &format!("/api/new/{}", robots[0]),
        t,
        Some(r#"{"reserve": false}"#),
    );
    assert_eq!(status, Status::Ok, "{made}");
    assert_eq!(made["success"], true);
    let id = made["id"].as_str().unwrap().to_owned();
    let pem = made["sshkey"].as_str().expect("a generated private key");
    assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
    let key = rsa::RsaPrivateKey::from_pkcs1_pem(pem).expect("PKCS#1");
    assert_eq!(key.size() * 8, 3072);
    let db = db_of(&lab.data());
    assert_eq!(
        instance_row(&db, &id).3.as_deref(),
        Some(""),
        "the private key is not kept"
    );

    let (status, info) = api(&lab, Method::Get, &format!("/api/instance/{id}"), t, None);
    assert_eq!(status, Status::Ok);
    assert_eq!(info["id"], id.as_str());
    assert_eq!(info["deployment"], robots[0].as_str());
    assert_eq!(info["type"], "ur5e");
    assert_eq!(info["region"], "lab 1");
    assert_eq!(info["status"], "READY");
    assert_eq!(info["rootuser"], "root");
    assert_eq!(info["fwd"], json!({ "ipv4": "robot1.lab", "port": 2222 }));
    let hostkey = labgate::keys::parse::parse_public_key(ECDSA256)
        .unwrap()
        .canonical;
    assert_eq!(info["hostkeys"], json!([hostkey]));
    let starttime = info["starttime"].as_str().unwrap();
    assert_eq!(starttime.len(), "2026-11-28 22:40:00".len(), "{starttime}");
    assert!(info["expires"].is_string() && info.get("endtime").is_none());
    // Handed out with the answer, so there is nothing left to fetch.
    let (status, json) = api(
        &lab,
        Method::Get,
        &format!("/api/instance/{id}/sshkey"),
        t,
        None,
    );
    assert_eq!(status, Status::NotFound);
    assert_eq!(
        json,
        json!({ "error_message": "no secret SSH key available" })
    );

    let (_, list) = api(&lab, Method::Get, "/api/instances", t, None);
    assert_eq!(list["workspace_instances"], json!([id]));
    assert_eq!(list["workspace_deployments"], json!([robots[0]]));
    let (_, list) = api(
        &lab,
        Method::Get,
        "/api/instances?max_per_page=10&page=1",
        t,
        None,
    );
    assert_eq!(list["page_count"], 1);

    // Terminate: empty body, no Content-Type; twice is fine.
    let (status, _) = api(&lab, Method::Post, &format!("/api/terminate/{id}"), t, None);
    assert_eq!(status, Status::Ok);
    let (status, _) = api(&lab, Method::Post, &format!("/api/terminate/{id}"), t, None);
    assert_eq!(status, Status::Ok);
    let (_, info) = api(&lab, Method::Get, &format!("/api/instance/{id}"), t, None);
    assert_eq!(info["status"], "TERMINATED");
    assert!(info["endtime"].is_string());
    let (_, list) = api(&lab, Method::Get, "/api/instances", t, None);
    assert_eq!(list["workspace_instances"], json!([]));
    let (_, list) = api(
        &lab,
        Method::Get,
        "/api/instances?include_terminated=",
        t,
        None,
    );
    assert_eq!(list["workspace_instances"], json!([id]));
    let kinds = event_kinds(&db, "mia");
    assert!(
        kinds.contains(&"instance created".to_owned())
            && kinds.contains(&"instance terminated".to_owned())
    );

    let (status, json) = api(
        &lab,
        Method::Get,
        "/api/instance/00000000-0000-0000-0000-000000000000",
        t,
        None,
    );
    assert_eq!(status, Status::NotFound);
    assert_eq!(json, json!({ "error_message": "instance not found" }));
}

#[test]
fn book_with_a_given_key_by_type_and_refusals() {
    let (lab, token, robots) = api_lab();
    let t = Some(token.as_str());
    let body = json!({ "sshkey": ED25519.trim(), "expire_d": 600, "reserve": false }).to_string();
    let (status, made) = api(&lab, Method::Post, "/api/new/misty", t, Some(&body));
    assert_eq!(status, Status::Ok, "{made}");
    assert!(made.get("sshkey").is_none());
    let id = made["id"].as_str().unwrap().to_owned();
    let db = db_of(&lab.data());
    let (_, expires, _, private) = instance_row(&db, &id);
    assert!((expires - labgate::db::now() - 600).abs() < 10);
    assert_eq!(private, None);
    let fp: String = db
        .run_blocking(|c| {
            Ok(c.query_row("SELECT fingerprint FROM instance_keys", [], |r| r.get(0))?)
        })
        .unwrap();
    assert_eq!(fp, ED25519_FP);

    // Busy: the exact answer the client turns into BusyWorkspaceDeployment.
    for target in [robots[2].as_str(), "misty"] {
        let (status, json) = api(
            &lab,
            Method::Post,
            &format!("/api/new/{target}"),
            t,
            Some(&body),
        );
        assert_eq!(status, Status::ServiceUnavailable);
        assert_eq!(
            json,
            json!({ "result_message": "All matching workspace deployments are busy. Try again later." })
        );
    }
    let (status, json) = api(
        &lab,
        Method::Post,
        &format!("/api/new/{}", robots[2]),
        t,
        Some(r#"{"reserve": false}"#),
    );
    assert_eq!(
        status,
        Status::ServiceUnavailable,
        "busy before any key is generated: {json}"
    );

    let refused = [
        (
            json!({ "sshkey": "ssh-ed25519 AAAA!!", "reserve": false }).to_string(),
            Status::UnprocessableEntity,
            "base64",
        ),
        (
            json!({ "sshkey": ED25519.trim(), "expire_d": 10 * 86400 }).to_string(),
            Status::UnprocessableEntity,
            "at most 1 day",
        ),
        (
            json!({ "sshkey": ED25519.trim(), "vpn": true, "reserve": false }).to_string(),
            Status::UnprocessableEntity,
            "VPN",
        ),
        ("{not json".to_owned(), Status::BadRequest, "JSON object"),
        (
            json!({ "sshkey": 5 }).to_string(),
            Status::BadRequest,
            "sshkey",
        ),
    ];
    for (body, want, needle) in refused {
        let (status, json) = api(&lab, Method::Post, "/api/new/ur5e", t, Some(&body));
        assert_eq!(status, want, "{body}: {json}");
        assert!(
            json["result_message"]
                .as_str()
                .unwrap_or("")
                .contains(needle),
            "{body}: {json}"
        );
    }
    let (status, json) = api(&lab, Method::Post, "/api/new/nothing", t, Some(&body));
    assert_eq!(status, Status::NotFound);
    assert!(json["result_message"].as_str().unwrap().contains("nothing"));
    let (status, _) = api(
        &lab,
        Method::Post,
        "/api/new/ur5e",
        t,
        Some(&"x".repeat(70 * 1024)),
    );
    assert_eq!(status, Status::PayloadTooLarge);
    assert_eq!(instance_ids(&db, "mia").len(), 1);
}

#[test]
fn tokens_decide_who_may_do_what() {
    let (lab, token, robots) = api_lab();
    let ro = lab_token(&lab, "mia", "ro");
    for (uri, tok) in [
        ("/api/instances", None),
        ("/api/instances", Some("deadbeef")),
        ("/api/workspaces", None),
    ] {
        let (status, json) = api(&lab, Method::Get, uri, tok, None);
        assert_eq!(status, Status::Unauthorized, "{uri}");
        assert_eq!(
            json,
            json!({ "error_message": "wrong authorization token" })
        );
    }
    // The session cookie is not enough on /api.
    let pw = "pw-mia-0123456789";
    lab.login("mia", pw);
    let (status, _) = api(&lab, Method::Get, "/api/instances", None, None);
    assert_eq!(status, Status::Unauthorized);

    // Read-only tokens read, and change nothing.
    let (status, _) = api(
        &lab,
        Method::Get,
        "/api/deployments?info=t",
        Some(&ro),
        None,
    );
    assert_eq!(status, Status::Ok);
    let (status, json) = api(
        &lab,
        Method::Post,
        &format!("/api/new/{}", robots[0]),
        Some(&ro),
        Some(r#"{"reserve": false}"#),
    );
    assert_eq!(status, Status::Forbidden);
    assert!(json["result_message"]
        .as_str()
        .unwrap()
        .contains("read-only"));
    let (status, made) = api(
        &lab,
        Method::Post,
        &format!("/api/new/{}", robots[0]),
        Some(&token),
        Some(&json!({"sshkey": ED25519.trim()}).to_string()),
    );
    assert_eq!(status, Status::Ok);
    let id = made["id"].as_str().unwrap();
    let (status, _) = api(
        &lab,
        Method::Get,
        &format!("/api/instance/{id}"),
        Some(&ro),
        None,
    );
    assert_eq!(status, Status::Ok);
    for (method, uri) in [
        (Method::Post, format!("/api/terminate/{id}")),
        (Method::Get, format!("/api/instance/{id}/sshkey")),
    ] {
        let (status, _) = api(&lab, method, &uri, Some(&ro), None);
        assert_eq!(status, Status::Forbidden, "{uri}");
    }
    assert_eq!(instance_row(&db_of(&lab.data()), id).0, "READY");
}

#[test]
fn a_pair_generated_on_the_page_can_be_fetched_once_by_api() {
    let lab = Lab::new();
    let pw = lab.add_user("mia", false);
    lab.login("mia", &pw);
    let robot = add_robot(&lab.data(), "ur5e", "robot1.lab", 22);
    save_key(&lab.data(), "mia", "laptop", ED25519);
    let resp = lab.post_form("/instances", &[("robot", &robot), ("generate", "true")]);
    assert_eq!(resp.status(), Status::SeeOther);
    let id = instance_ids(&db_of(&lab.data()), "mia").remove(0);
    let token = lab_token(&lab, "mia", "rw");
    let (status, json) = api(
        &lab,
        Method::Get,
        &format!("/api/instance/{id}/sshkey"),
        Some(&token),
        None,
    );
    assert_eq!(status, Status::Ok);
    let pem = json["key"].as_str().unwrap();
    assert!(rsa::RsaPrivateKey::from_pkcs1_pem(pem).is_ok());
    let (status, json) = api(
        &lab,
        Method::Get,
        &format!("/api/instance/{id}/sshkey"),
        Some(&token),
        None,
    );
    assert_eq!(status, Status::NotFound);
    assert_eq!(json["error_message"], "no secret SSH key available");
    assert_eq!(
        lab.client
            .get(format!("/instances/{id}/key.pem"))
            .dispatch()
            .status(),
        Status::Gone
    );
    let page = lab
        .client
        .get("/instances")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(page.contains("Private key already downloaded"));
}

/// The stock rerobots 0.11.0 client against the real binary: `tests/rerobots/client_flow.py`.
#[test]
#[ignore = "needs the rerobots Python client"]
fn stock_rerobots_client_end_to_end() {
    let python = std::env::var("LABGATE_TEST_PYTHON")
        .expect("set LABGATE_TEST_PYTHON to a python with rerobots==0.11.0 (.ci/run does)");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for name in ["mia", "olga"] {
        let (ok, _, err) = cli(&data, &["user", "add", name], None);
        assert!(ok, "{err}");
    }
    let mut robots = Vec::new();
    for (kind, host) in [("ur5e", "robot1.lab"), ("misty", "misty.lab")] {
        let hostkeys = dir.path().join(format!("{kind}.pub"));
        std::fs::write(&hostkeys, ECDSA256).unwrap();
        let (ok, out, err) = cli(
            &data,
            &[
                "deployment",
                "add",
                "--type",
                kind,
                "--host",
                host,
                "--port",
                "2222",
                "--hostkey-file",
                hostkeys.to_str().unwrap(),
            ],
            None,
        );
        assert!(ok, "{err}");
        robots.push(
            out.lines()
                .next()
                .unwrap()
                .trim_start_matches("id: ")
                .to_owned(),
        );
    }
    let served = Served::start(&data);
    let url = served.url.clone();
    let token = token_for(&data, &url, "mia", "rw");
    let token2 = token_for(&data, &url, "mia", "rw");
    let ro = token_for(&data, &url, "mia", "ro");
    let other = token_for(&data, &url, "olga", "rw");
    // Olga holds the misty, so it is busy for Mia.
    let busy = ureq::post(&format!("{url}/api/new/{}", robots[1]))
        .set("Authorization", &format!("Bearer {other}"))
        .send_string(&json!({"sshkey": ED25519.trim(), "reserve": false}).to_string())
        .expect("olga books the misty");
    assert_eq!(busy.status(), 200);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/rerobots/client_flow.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .env("LABGATE_URL", format!("{url}/api"))
        .env("LABGATE_TOKEN", &token)
        .env("LABGATE_TOKEN2", &token2)
        .env("LABGATE_TOKEN_RO", &ro)
        .env("LABGATE_WD", &robots[0])
        .env("LABGATE_BUSY_WD", &robots[1])
        .env("LABGATE_PUBKEY", ED25519.trim())
        .env_remove("REROBOTS_API_TOKEN")
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "client_flow.py failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("ALL OK"), "{stdout}");
    drop(served);
}

/// Access rules through the stock client (`get_access_rules`, `create_access_rule`,
/// `del_access_rule`) and its CLI's `wdinfo` through `contrib/rerobots-labgate`:
/// `tests/rerobots/rules_flow.py`.
#[test]
#[ignore = "needs the rerobots Python client"]
fn stock_client_access_rules() {
    let python = std::env::var("LABGATE_TEST_PYTHON")
        .expect("set LABGATE_TEST_PYTHON to a python with rerobots==0.11.0 (.ci/run does)");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |args: &[&str]| {
        let (ok, out, err) = cli(&data, args, None);
        assert!(ok, "labgate {args:?}: {err}");
        out
    };
    run(&["user", "add", "boss", "--admin"]);
    for name in ["mia", "olga", "gus"] {
        run(&["user", "add", name]);
    }
    run(&["group", "add", "vision"]);
    run(&["group", "member", "add", "vision", "gus"]);
    let hostkeys = dir.path().join("hostkey.pub");
    std::fs::write(&hostkeys, ECDSA256).unwrap();
    let mut robots = Vec::new();
    for (kind, host) in [("ur5e", "robot1.lab"), ("misty", "misty.lab")] {
        let out = run(&[
            "deployment",
            "add",
            "--type",
            kind,
            "--host",
            host,
            "--hostkey-file",
            hostkeys.to_str().unwrap(),
        ]);
        robots.push(
            out.lines()
                .next()
                .unwrap()
                .trim_start_matches("id: ")
                .to_owned(),
        );
    }
    run(&["deployment", "allow", &robots[1], "--group", "vision"]);
    let served = Served::start(&data);
    let url = served.url.clone();
    let admin = token_for(&data, &url, "boss", "rw");
    let jwt = dir.path().join("jwt.txt");
    std::fs::write(&jwt, &admin).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/rerobots/rules_flow.py");
    let wrapper = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/rerobots-labgate");
    let out = std::process::Command::new(python)
        .arg(script)
        .env("LABGATE_URL", format!("{url}/api"))
        .env("LABGATE_ADMIN_TOKEN", &admin)
        .env("LABGATE_MEMBER_TOKEN", token_for(&data, &url, "mia", "rw"))
        .env("LABGATE_INSIDE_TOKEN", token_for(&data, &url, "olga", "rw"))
        .env("LABGATE_GROUP_TOKEN", token_for(&data, &url, "gus", "rw"))
        .env("LABGATE_WD", &robots[0])
        .env("LABGATE_GROUP_WD", &robots[1])
        .env("LABGATE_PUBKEY", ED25519.trim())
        .env("LABGATE_WRAPPER", wrapper)
        .env("LABGATE_ADMIN_JWT", &jwt)
        .env_remove("REROBOTS_API_TOKEN")
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "rules_flow.py failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("ALL OK"), "{stdout}");
    drop(served);
}

/// Waiting in line with the stock rerobots 0.11.0 client against the real binary:
/// `tests/rerobots/reservation_flow.py`.
#[test]
#[ignore = "needs the rerobots Python client"]
fn stock_client_reservations() {
    let python = std::env::var("LABGATE_TEST_PYTHON")
        .expect("set LABGATE_TEST_PYTHON to a python with rerobots==0.11.0 (.ci/run does)");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for name in ["mia", "olga"] {
        let (ok, _, err) = cli(&data, &["user", "add", name], None);
        assert!(ok, "{err}");
    }
    let served = Served::start(&data);
    let url = served.url.clone();
    let robot = add_robot(&data, "ur5e", "robot1.lab", 22);
    let token = token_for(&data, &url, "mia", "rw");
    let other = token_for(&data, &url, "olga", "rw");
    let held = ureq::post(&format!("{url}/api/new/{robot}"))
        .set("Authorization", &format!("Bearer {other}"))
        .send_string(&json!({"sshkey": ECDSA256.trim(), "reserve": false}).to_string())
        .expect("olga books the ur5e")
        .into_string()
        .expect("body");
    let held: serde_json::Value = serde_json::from_str(&held).expect("JSON");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/rerobots/reservation_flow.py"
    );
    let out = std::process::Command::new(python)
        .arg(script)
        .env("LABGATE_URL", format!("{url}/api"))
        .env("LABGATE_TOKEN", &token)
        .env("LABGATE_OTHER_TOKEN", &other)
        .env("LABGATE_HELD", held["id"].as_str().expect("instance id"))
        .env("LABGATE_PUBKEY", ED25519.trim())
        .env_remove("REROBOTS_API_TOKEN")
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "reservation_flow.py failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("ALL OK"), "{stdout}");
    let kinds = event_kinds(&db_of(&data), "mia");
    assert!(kinds.contains(&"reservation made".to_owned()), "{kinds:?}");
    drop(served);
}
