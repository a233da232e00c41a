//! Labs upgrade in place: a data directory written by the first release (`tests/fixtures/v1/`,
//! made by `tests/fixtures/make-v1.sh` with that release's binary) opens with all its data, and
//! the migrations bring it to exactly the schema a fresh database gets.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rocket::http::{Method, Status};
use rusqlite::Connection;

use crate::common::{client_for, Lab};
use crate::lab::api;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/v1");

/// A server on a copy of the first release's data directory.
pub fn v1_lab() -> Lab {
    let dir = v1_copy();
    let client = client_for(dir.path());
    Lab { client, dir }
}

/// A copy of the first release's data directory, as `data/` in a new temporary directory.
pub fn v1_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("data dir");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).expect("mode");
    for file in ["labgate.db", "signing-key.pem"] {
        std::fs::copy(Path::new(FIXTURE).join(file), data.join(file)).expect("copy fixture");
        std::fs::set_permissions(data.join(file), std::fs::Permissions::from_mode(0o600))
            .expect("mode");
    }
    dir
}

/// A fixture file as text.
pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(Path::new(FIXTURE).join(name))
        .expect("fixture file")
        .trim()
        .to_owned()
}

/// The schema as SQLite records it, one normalised statement per object, sorted.
fn schema_of(path: &Path) -> Vec<String> {
    let conn = Connection::open(path).expect("open");
    let mut stmt = conn
        .prepare("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL")
        .expect("prepare");
    let mut rows: Vec<String> = stmt
        .query_map([], |r| {
            let (kind, name, sql): (String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
            // `ALTER TABLE .. ADD COLUMN` splices its text in as `\n, col ..)`: spacing
            // around punctuation is not part of the schema.
            let sql = sql
                .replace("IF NOT EXISTS ", "")
                .replace('(', " ( ")
                .replace(')', " ) ")
                .replace(',', " , ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            Ok(format!("{kind} {name}: {sql}"))
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    rows.sort();
    rows
}

fn user_version(path: &Path) -> i64 {
    let conn = Connection::open(path).expect("open");
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("user_version")
}

#[test]
fn the_fixture_is_a_first_release_database() {
    assert_eq!(user_version(&Path::new(FIXTURE).join("labgate.db")), 1);
}

#[test]
fn migrations_give_the_same_schema_as_a_fresh_database() {
    let old = v1_lab();
    let fresh = Lab::new();
    let (old_db, fresh_db) = (
        old.data().join("labgate.db"),
        fresh.data().join("labgate.db"),
    );
    assert_eq!(user_version(&old_db), labgate::db::SCHEMA_VERSION);
    assert_eq!(user_version(&fresh_db), labgate::db::SCHEMA_VERSION);
    assert_eq!(schema_of(&old_db), schema_of(&fresh_db));
}

#[test]
fn a_first_release_data_directory_opens_with_all_its_data() {
    let lab = v1_lab();
    let token = fixture("jwt.txt");
    let robot = fixture("robot-id");
    let ada_key = fixture("ada.pub");

    // The token made by the old release still works, and sees ada's key, robot and instance.
    let (status, keys) = api(&lab, Method::Get, "/api/sshkeys", Some(&token), None);
    assert_eq!(status, Status::Ok, "{keys}");
    let keys = keys.as_array().expect("key list");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["name"], "laptop");
    assert!(ada_key.starts_with("ssh-ed25519 "));

    let (status, tokens) = api(&lab, Method::Get, "/api/tokens", Some(&token), None);
    assert_eq!(status, Status::Ok);
    assert_eq!(tokens[0]["note"], "fixture");

    let (status, info) = api(
        &lab,
        Method::Get,
        &format!("/api/deployment/{robot}"),
        Some(&token),
        None,
    );
    assert_eq!(status, Status::Ok, "{info}");
    assert_eq!(info["type"], "ur5e");

    // The booking ran for an hour when the fixture was made: ended by now, but kept.
    let (status, instances) = api(
        &lab,
        Method::Get,
        "/api/instances?include_terminated=",
        Some(&token),
        None,
    );
    assert_eq!(status, Status::Ok);
    let ids = instances["workspace_instances"]
        .as_array()
        .expect("instances");
    assert_eq!(ids.len(), 1, "{instances}");
    let (status, instance) = api(
        &lab,
        Method::Get,
        &format!("/api/instance/{}", ids[0].as_str().expect("id")),
        Some(&token),
        None,
    );
    assert_eq!(status, Status::Ok);
    assert_eq!(instance["deployment"], robot.as_str());

    // ada signs in with the old password; the admin account is still there.
    // An account from before the must-change flag is not sent to choose a new password.
    lab.login("ada", "fixture-password-1");
    let resp = lab.client.get("/sshkeys").dispatch();
    assert_eq!(
        resp.status(),
        Status::Ok,
        "ada is not forced to change her password"
    );
    let page = resp.into_string().unwrap_or_default();
    assert!(page.contains("laptop"), "ada's key on her page");
    let db = Connection::open(lab.data().join("labgate.db")).expect("open");
    let admins: i64 = db
        .query_row(
            "SELECT count(*) FROM users WHERE username = 'admin' AND is_admin = 1",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(admins, 1);
}

/// The first release kept the public URL its tokens name; the upgraded server records that as
/// the issuer for good, even when its first start already runs under a new public URL.
#[test]
fn first_release_tokens_survive_a_new_public_url() {
    let dir = v1_copy();
    let mut config = labgate::Config::new(dir.path().join("data"));
    config.public_url = "https://labgate.example.org".into();
    let client =
        rocket::local::blocking::Client::untracked(labgate::build(config).expect("builds"))
            .expect("client");
    let lab = Lab { client, dir };
    let token = fixture("jwt.txt");
    let (status, tokens) = api(&lab, Method::Get, "/api/tokens", Some(&token), None);
    assert_eq!(status, Status::Ok, "{tokens}");
    let db = Connection::open(lab.data().join("labgate.db")).expect("open");
    let issuer: String = db
        .query_row(
            "SELECT value FROM settings WHERE key = 'token_issuer'",
            [],
            |r| r.get(0),
        )
        .expect("issuer recorded");
    assert_eq!(issuer, "http://127.0.0.1:8000");
}

/// Migration 2 (groups, rules, oversight columns) on the first release's data: no robot gains
/// a rule (so ada still sees and may book hers), no account or robot reads as deleted, and the
/// new tables take rows at once.
#[test]
fn migration_2_keeps_every_robot_open_and_nothing_deleted() {
    let lab = v1_lab();
    let token = fixture("jwt.txt");
    let robot = fixture("robot-id");
    let db = Connection::open(lab.data().join("labgate.db")).expect("open");
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).expect(sql) };
    assert_eq!(count("SELECT COUNT(*) FROM rules"), 0);
    assert_eq!(count("SELECT COUNT(*) FROM groups"), 0);
    assert_eq!(
        count("SELECT COUNT(*) FROM users WHERE deleted IS NOT NULL OR last_login IS NOT NULL"),
        0
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM deployments WHERE deleted IS NOT NULL"),
        0
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM instances WHERE end_reason IS NOT NULL"),
        0
    );
    let (status, list) = api(&lab, Method::Get, "/api/deployments", Some(&token), None);
    assert_eq!(status, Status::Ok);
    assert_eq!(list["workspace_deployments"][0], robot.as_str());
    let (status, rules) = api(&lab, Method::Get, "/api/rules", Some(&token), None);
    assert_eq!(
        (status, rules.to_string()),
        (Status::Ok, r#"{"rules":[]}"#.to_owned())
    );

    lab.login("ada", "fixture-password-1");
    let page = lab
        .client
        .get("/account")
        .dispatch()
        .into_string()
        .unwrap_or_default();
    assert!(page.contains("You are in no group"));
    assert_eq!(
        count("SELECT COUNT(*) FROM users WHERE username = 'ada' AND last_login IS NOT NULL"),
        1
    );
}

#[test]
fn first_release_instances_get_a_start_and_the_lab_takes_bookings_ahead() {
    let lab = v1_lab();
    let db = Connection::open(lab.data().join("labgate.db")).expect("open");
    // Every old instance starts when it was made.
    let (rows, mismatched): (i64, i64) = db
        .query_row(
            "SELECT COUNT(*), SUM(starts <> created) FROM instances",
            [],
            |r| Ok((r.get(0)?, r.get::<_, Option<i64>>(1)?.unwrap_or(0))),
        )
        .expect("count");
    assert!(rows >= 1);
    assert_eq!(mismatched, 0);
    let waiting: i64 = db
        .query_row("SELECT COUNT(*) FROM reservations", [], |r| r.get(0))
        .expect("reservations table");
    assert_eq!(waiting, 0);
    // ada's token books her robot a day ahead, and the overlap rule holds on the old data.
    let token = fixture("jwt.txt");
    let robot = fixture("robot-id");
    let start = labgate::db::now() + 86400;
    let body =
        serde_json::json!({ "sshkey": fixture("ada.pub"), "start": start, "expire_d": 3600 })
            .to_string();
    let (status, made) = api(
        &lab,
        Method::Post,
        &format!("/api/new/{robot}"),
        Some(&token),
        Some(&body),
    );
    assert_eq!(status, Status::Ok, "{made}");
    let (status, _) = api(
        &lab,
        Method::Post,
        &format!("/api/new/{robot}"),
        Some(&token),
        Some(&body),
    );
    assert_eq!(status, Status::ServiceUnavailable);
}
