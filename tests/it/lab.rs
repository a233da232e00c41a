//! Robots and instances in the browser: the admin robots page, booking with saved, pasted and
//! generated keys, the one-time key download, busy robots, expiry, isolation, and the
//! `labgate deployment` command line.

use std::path::Path;
use std::time::{Duration, Instant};

use labgate::db::Db;
use rocket::http::{Header, Method, Status};
use serde_json::Value;

use crate::common::*;

pub const ED25519: &str = include_str!("../fixtures/keys/ed25519.pub");
pub const ED25519_FP: &str = "SHA256:h0N+jqrLuxTkBe2IdP21OVpTEGhBXGbPEXFrhXOb0BE";
pub const RSA2048: &str = include_str!("../fixtures/keys/rsa2048.pub");
pub const ECDSA256: &str = include_str!("../fixtures/keys/ecdsa256.pub");
pub const ECDSA256_FP: &str = "SHA256:K4YlaEauGI78bIgY3EFvTjJ+L9NDotTHG0IoTPaeq3I";
const PRIVATE: &str = include_str!("../fixtures/keys/id_ed25519");

/// The database of a data directory (shared with the running server, as the CLI does).
pub fn db_of(data: &Path) -> Db {
    Db::open(&data.join("labgate.db")).expect("db")
}

/// Adds a robot through the library; its host key is the ECDSA fixture. Returns its id.
pub fn add_robot(data: &Path, kind: &str, host: &str, port: u16) -> String {
    let new = labgate::lab::deployments::NewDeployment {
        kind: kind.into(),
        host: host.into(),
        port: port.to_string(),
        user: "root".into(),
        region: "lab 1".into(),
        description: format!("{kind} by the window"),
        hostkeys: ECDSA256.into(),
    };
    let checked = new.check().expect("valid robot");
    db_of(data)
        .write_blocking(|tx| labgate::lab::deployments::insert(tx, &checked))
        .expect("insert robot")
        .0
}

/// Saves an SSH key on `username`'s account with plain SQL (the keys page is another
/// module's); returns its id.
pub fn save_key(data: &Path, username: &str, name: &str, text: &str) -> i64 {
    let k = labgate::keys::parse::parse_public_key(text).expect("fixture key");
    db_of(data)
        .write_blocking(|tx| {
            let user = labgate::auth::users::require(tx, username)?;
            tx.execute(
                "INSERT INTO ssh_keys (user_id, name, algorithm, bits, fingerprint, public_key, comment, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0)",
                rusqlite::params![user.id, name, k.algorithm, k.bits, k.fingerprint, k.canonical, k.comment],
            )?;
            Ok(tx.last_insert_rowid())
        })
        .expect("save key")
}

/// Issues an API token for `username` with the server's own signing key.
pub fn token_for(data: &Path, public_url: &str, username: &str, scope: &str) -> String {
    let pem = std::fs::read_to_string(data.join("signing-key.pem")).expect("signing key");
    let key = labgate::tokens::jwt::SigningKey::from_pkcs8_pem(&pem).expect("key parses");
    let mut config = labgate::Config::new(data);
    config.public_url = public_url.to_owned();
    db_of(data)
        .write_blocking(|tx| {
            let account = labgate::auth::users::require(tx, username)?;
            let user = labgate::auth::User {
                id: account.id,
                username: account.username,
                is_admin: account.is_admin,
            };
            labgate::tokens::issue(tx, &key, &config, &user, 86400, scope, "", None)
        })
        .expect("issue token")
        .1
}

/// A token for a [`Lab`] (whose public URL is the default one).
pub fn lab_token(lab: &Lab, username: &str, scope: &str) -> String {
    token_for(&lab.data(), "http://127.0.0.1:8000", username, scope)
}

/// Calls the API as the rerobots client does: Bearer token, bodies without a Content-Type.
pub fn api(
    lab: &Lab,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (Status, Value) {
    let mut req = lab.client.req(method, uri.to_owned());
    if let Some(t) = token {
        req = req.header(Header::new("Authorization", format!("Bearer {t}")));
    }
    if let Some(b) = body {
        req = req.body(b);
    }
    let resp = req.dispatch();
    let status = resp.status();
    let text = resp.into_string().unwrap_or_default();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

/// One column of the instances table, for the checks below.
pub fn instance_row(db: &Db, id: &str) -> (String, i64, Option<i64>, Option<String>) {
    let id = id.to_owned();
    db.run_blocking(move |conn| {
        Ok(conn.query_row(
            "SELECT status, expires, ended, private_key FROM instances WHERE id = ?1",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?)
    })
    .expect("instance row")
}

/// The ids of `username`'s instances, newest first.
pub fn instance_ids(db: &Db, username: &str) -> Vec<String> {
    let username = username.to_owned();
    db.run_blocking(move |conn| {
        let mut stmt = conn.prepare(
            "SELECT i.id FROM instances i JOIN users u ON u.id = i.user_id
             WHERE u.username = ?1 ORDER BY i.created DESC, i.rowid DESC",
        )?;
        let ids = stmt
            .query_map([&username], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(ids)
    })
    .expect("instance ids")
}

/// The kinds of `username`'s security-log entries, newest first.
pub fn event_kinds(db: &Db, username: &str) -> Vec<String> {
    let username = username.to_owned();
    db.run_blocking(move |conn| {
        let user = labgate::auth::users::require(conn, &username)?;
        Ok(labgate::auth::users::events(conn, user.id, 100)?
            .into_iter()
            .map(|e| e.kind)
            .collect())
    })
    .expect("events")
}

/// A lab with member `mia` signed in and one ur5e robot; returns the robot's id.
fn lab_with_member() -> (Lab, String) {
    let lab = Lab::new();
    let pw = lab.add_user("mia", false);
    lab.login("mia", &pw);
    let robot = add_robot(&lab.data(), "ur5e", "robot1.lab", 2222);
    (lab, robot)
}

fn body(resp: rocket::local::blocking::LocalResponse<'_>) -> (Status, String) {
    let status = resp.status();
    (status, resp.into_string().unwrap_or_default())
}

#[test]
fn admin_adds_a_robot_on_the_page_and_members_never_see_it() {
    let lab = Lab::new();
    lab.login_admin();
    let (status, page) = body(lab.client.get("/admin/deployments").dispatch());
    assert_eq!(status, Status::Ok);
    assert!(page.contains("Add a robot") && page.contains("<html"));
    let (status, frag) = body(lab.get_htmx("/admin/deployments"));
    assert_eq!(status, Status::Ok);
    assert!(frag.contains("Add a robot") && !frag.contains("<html"));

    // Refused input keeps the values and names the problem.
    let (status, page) = body(lab.post_form(
        "/admin/deployments",
        &[
            ("type", "UR 5"),
            ("host", "arm.lab"),
            ("port", "22"),
            ("description", "keep me"),
        ],
    ));
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(page.contains("1 to 64 characters of a-z"), "{page}");
    assert!(page.contains("value=\"keep me\"") && page.contains("value=\"UR 5\""));
    let (status, frag) = body(lab.post_htmx(
        "/admin/deployments",
        &[("type", "ur5e"), ("host", "arm.lab"), ("port", "99999")],
    ));
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(frag.contains("from 1 to 65535") && !frag.contains("<html"));
    let (status, page) = body(lab.post_form(
        "/admin/deployments",
        &[
            ("type", "ur5e"),
            ("host", "arm.lab"),
            ("hostkeys", "ssh-ed25519 AAAA!!"),
        ],
    ));
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(page.contains("host key line 1:"), "{page}");

    let resp = lab.post_form(
        "/admin/deployments",
        &[
            ("type", "ur5e"),
            ("host", "arm.lab"),
            ("port", "2200"),
            ("user", "lab"),
            ("region", "room 4"),
            ("hostkeys", ECDSA256),
        ],
    );
    let (status, page) = body(resp);
    assert_eq!(status, Status::Ok);
    let credential = page
        .split("id=\"robot-credential\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("credential shown once")
        .to_owned();
    let db = db_of(&lab.data());
    let (id, hash): (String, String) = db
        .run_blocking(|c| {
            Ok(
                c.query_row("SELECT id, credential_hash FROM deployments", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?,
            )
        })
        .unwrap();
    assert_eq!(hash, labgate::auth::sha256_hex(&credential));
    assert!(page.contains(&id) && page.contains(ECDSA256_FP) && page.contains("lab@arm.lab:2200"));
    let (_, again) = body(lab.client.get("/admin/deployments").dispatch());
    assert!(
        !again.contains(&credential),
        "the credential is shown only once"
    );
    assert!(event_kinds(&db, "admin").contains(&"robot added".to_owned()));

    // Members are told the page does not exist.
    let pw = lab.add_user("max", false);
    lab.login("max", &pw);
    assert_eq!(
        lab.client.get("/admin/deployments").dispatch().status(),
        Status::NotFound
    );
    assert_eq!(
        lab.get_htmx("/admin/deployments").status(),
        Status::NotFound
    );
    let resp = lab.post_form("/admin/deployments", &[("type", "x"), ("host", "h")]);
    assert_eq!(resp.status(), Status::NotFound);
    let resp = lab.post_form(&format!("/admin/deployments/{id}/disable"), &[]);
    assert_eq!(resp.status(), Status::NotFound);
}

#[test]
fn admin_disables_enables_and_rotates() {
    let lab = Lab::new();
    lab.login_admin();
    let id = add_robot(&lab.data(), "misty", "misty.lab", 22);
    let db = db_of(&lab.data());
    let hash = |db: &Db| -> String {
        db.run_blocking(|c| {
            Ok(c.query_row("SELECT credential_hash FROM deployments", [], |r| r.get(0))?)
        })
        .unwrap()
    };
    let before = hash(&db);

    let resp = lab.post_form(&format!("/admin/deployments/{id}/disable"), &[]);
    assert_eq!(resp.status(), Status::SeeOther);
    let (_, page) = body(lab.client.get("/admin/deployments").dispatch());
    assert!(
        page.contains("is disabled: it takes no new instances"),
        "flash shown"
    );
    assert!(page.contains("badge off\">disabled"));

    // A disabled robot takes no new instances, on the page or by API.
    let key = save_key(&lab.data(), "admin", "laptop", ED25519);
    let (status, page) =
        body(lab.post_form("/instances", &[("robot", &id), ("keys", &key.to_string())]));
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(page.contains("is available here"), "{page}");
    let token = lab_token(&lab, "admin", "rw");
    let (status, json) = api(
        &lab,
        Method::Post,
        &format!("/api/new/{id}"),
        Some(&token),
        Some(r#"{"reserve": false}"#),
    );
    assert_eq!(status, Status::NotFound, "{json}");

    let (status, frag) = body(lab.post_htmx(&format!("/admin/deployments/{id}/enable"), &[]));
    assert_eq!(status, Status::Ok);
    assert!(frag.contains("badge on\">enabled") && !frag.contains("<html"));

    let (status, frag) =
        body(lab.post_htmx(&format!("/admin/deployments/{id}/rotate-credential"), &[]));
    assert_eq!(status, Status::Ok);
    let credential = frag
        .split("id=\"robot-credential\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("new credential shown")
        .to_owned();
    let after = hash(&db);
    assert_ne!(before, after);
    assert_eq!(after, labgate::auth::sha256_hex(&credential));
    let (status, page) =
        body(lab.post_form(&format!("/admin/deployments/{id}/rotate-credential"), &[]));
    assert_eq!(status, Status::Ok);
    assert!(page.contains("robot-credential") && page.contains("<html"));
    assert_eq!(
        lab.post_form("/admin/deployments/nope/enable", &[])
            .status(),
        Status::NotFound
    );
}

#[test]
fn member_books_with_a_saved_key_and_sees_the_ssh_line() {
    let (lab, robot) = lab_with_member();
    // Saved on the SSH keys page, as a member would.
    let resp = lab.post_form("/sshkeys", &[("key", ED25519), ("name", "laptop")]);
    assert!(resp.status().class().is_success() || resp.status() == Status::SeeOther);
    let key: i64 = db_of(&lab.data())
        .run_blocking(|c| {
            Ok(
                c.query_row("SELECT id FROM ssh_keys WHERE name = 'laptop'", [], |r| {
                    r.get(0)
                })?,
            )
        })
        .expect("key saved on the SSH keys page");
    let (status, page) = body(lab.client.get("/instances").dispatch());
    assert_eq!(status, Status::Ok);
    assert!(
        page.contains("No instances yet")
            && page.contains("laptop")
            && page.contains("any ur5e (1 of 1 free)")
    );
    let (status, frag) = body(lab.get_htmx("/instances"));
    assert_eq!(status, Status::Ok);
    assert!(frag.contains("New instance") && !frag.contains("<html"));

    let resp = lab.post_form(
        "/instances",
        &[
            ("robot", &robot),
            ("duration", "3600"),
            ("keys", &key.to_string()),
        ],
    );
    assert_eq!(resp.status(), Status::SeeOther);
    let (_, page) = body(lab.client.get("/instances").dispatch());
    assert!(
        page.contains("Instance started on ur5e robot1.lab"),
        "flash"
    );
    assert!(page.contains("ssh -p 2222 root@robot1.lab"), "{page}");
    assert!(page.contains("data-copy=\"#ssh-"));
    assert!(page.contains(ECDSA256_FP), "host key fingerprint shown");
    assert!(page.contains("hx-confirm="), "terminate asks first");
    assert!(page.contains("(busy)") && page.contains("any ur5e (0 of 1 free)"));

    let db = db_of(&lab.data());
    let ids = instance_ids(&db, "mia");
    assert_eq!(ids.len(), 1);
    let (status, expires, ended, private) = instance_row(&db, &ids[0]);
    assert_eq!(status, "READY");
    assert!((expires - labgate::db::now() - 3600).abs() < 10);
    assert_eq!((ended, private), (None, None));
    let keys: Vec<(String, String, Option<i64>)> = db
        .run_blocking(|c| {
            let mut s =
                c.prepare("SELECT public_key, fingerprint, ssh_key_id FROM instance_keys")?;
            let rows = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].1, ED25519_FP);
    assert_eq!(keys[0].2, Some(key));
    assert!(keys[0].0.starts_with("ssh-ed25519 AAAA") && keys[0].0.split(' ').count() == 2);
    assert!(event_kinds(&db, "mia").contains(&"instance created".to_owned()));
    let (_, account) = body(lab.client.get("/account").dispatch());
    assert!(account.contains("instance created"));
}

#[test]
fn pasted_keys_and_refused_bookings_keep_the_form() {
    let (lab, robot) = lab_with_member();
    // No key at all.
    let (status, page) =
        body(lab.post_form("/instances", &[("robot", &robot), ("duration", "1800")]));
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(page.contains("choose at least one key"), "{page}");
    assert!(page.contains("value=\"1800\" selected"), "duration kept");
    // A private key pasted: the key page's own message, and the secret never sent back (page
    // and fragment alike).
    let message = labgate::keys::parse::parse_public_key(PRIVATE)
        .unwrap_err()
        .to_string();
    let secret_line = PRIVATE.lines().nth(2).unwrap_or("none");
    for hx in [true, false] {
        let fields = [("robot", robot.as_str()), ("pasted", PRIVATE)];
        let resp = if hx {
            lab.post_htmx("/instances", &fields)
        } else {
            lab.post_form("/instances", &fields)
        };
        let (status, text) = body(resp);
        assert_eq!(status, Status::UnprocessableEntity);
        assert!(text.contains(&message), "the key page's message: {text}");
        assert_eq!(text.contains("<html"), !hx);
        assert!(
            !text.contains("OPENSSH PRIVATE KEY") && !text.contains(secret_line),
            "the pasted private key is not shown again: {text}"
        );
    }
    // Too long, unknown robot, nonsense duration.
    let (status, page) = body(lab.post_form(
        "/instances",
        &[
            ("robot", &robot),
            ("pasted", ED25519),
            ("duration", &(8 * 86400).to_string()),
        ],
    ));
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(page.contains("at most 1 day"), "{page}");
    let (status, page) =
        body(lab.post_form("/instances", &[("robot", "nope"), ("pasted", ED25519)]));
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(page.contains("no robot or type"), "{page}");
    let (status, _) = body(lab.post_form(
        "/instances",
        &[("robot", &robot), ("pasted", ED25519), ("duration", "soon")],
    ));
    assert_eq!(status, Status::UnprocessableEntity);
    let (status, page) = body(lab.post_form("/instances", &[("robot", &robot), ("keys", "12345")]));
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(page.contains("not on your account"), "{page}");
    assert!(instance_ids(&db_of(&lab.data()), "mia").is_empty());

    // The admin's limit: 2 hours at most, offered in the list.
    db_of(&lab.data())
        .write_blocking(|tx| labgate::db::set_setting(tx, "instance_max_seconds", "7200"))
        .unwrap();
    let (_, page) = body(lab.client.get("/instances").dispatch());
    assert!(page.contains("value=\"7200\"") && !page.contains("value=\"14400\""));

    // A good pasted key, booked by type, with htmx: the fragment and a toast.
    let resp = lab.post_htmx(
        "/instances",
        &[("robot", "ur5e"), ("pasted", RSA2048), ("duration", "7200")],
    );
    assert_eq!(resp.status(), Status::Ok);
    let toast = resp
        .headers()
        .get_one("HX-Trigger")
        .unwrap_or("")
        .to_owned();
    let (_, frag) = body(resp);
    assert!(toast.contains("Instance started"), "{toast}");
    assert!(frag.contains("ssh -p 2222 root@robot1.lab") && !frag.contains("<html"));
    let db = db_of(&lab.data());
    let ids = instance_ids(&db, "mia");
    assert_eq!(ids.len(), 1);
    let fp: String = db
        .run_blocking(|c| {
            Ok(c.query_row("SELECT fingerprint FROM instance_keys", [], |r| r.get(0))?)
        })
        .unwrap();
    assert_eq!(fp, "SHA256:Nlwli+xEMJjJwtlIiF1pGcX/Sb13JZCUY777SSC0Mr8");
}

#[test]
fn generated_key_pair_downloads_exactly_once_from_the_page() {
    let (lab, robot) = lab_with_member();
    let (_, page) = body(lab.client.get("/instances").dispatch());
    assert!(
        page.contains("Generate a new key pair") && page.contains("only once"),
        "warned before"
    );
    let resp = lab.post_form("/instances", &[("robot", &robot), ("generate", "true")]);
    assert_eq!(resp.status(), Status::SeeOther);
    let db = db_of(&lab.data());
    let id = instance_ids(&db, "mia").remove(0);
    let (_, page) = body(lab.client.get("/instances").dispatch());
    let download = format!("/instances/{id}/key.pem");
    assert!(
        page.contains(&format!("<form method=\"post\" action=\"{download}\""))
            && page.contains("download private key (once)")
            && page.contains("only once")
    );

    // Opening the address (as a link prefetcher would) does not hand the key out: it shows the
    // button, again and again.
    for _ in 0..2 {
        let (status, shown) = body(lab.client.get(download.clone()).dispatch());
        assert_eq!(status, Status::Ok);
        assert!(shown.contains("download private key (once)") && shown.contains("csrf_token"));
        assert!(!shown.contains("PRIVATE KEY-----"));
    }
    assert!(instance_row(&db, &id)
        .3
        .is_some_and(|k| k.contains("PRIVATE KEY-----")));
    // Posting without the CSRF token takes nothing either.
    let resp = lab.client.post(download.clone()).dispatch();
    assert!(resp.status().code >= 400, "{}", resp.status());
    assert!(instance_row(&db, &id).3.is_some_and(|k| !k.is_empty()));

    // Someone else cannot take it.
    let other = lab.add_user("olga", false);
    lab.login("olga", &other);
    assert_eq!(lab.post_form(&download, &[]).status(), Status::NotFound);
    assert_eq!(
        lab.client.get(download.clone()).dispatch().status(),
        Status::NotFound
    );
    let pw = "pw-mia-0123456789";
    lab.login("mia", pw);

    let wal = lab.data().join("labgate.db-wal");
    assert!(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) > 0);
    let resp = lab.post_form(&download, &[]);
    assert_eq!(resp.status(), Status::Ok);
    // The taken key does not linger in the write-ahead log (checkpointed and truncated).
    assert_eq!(
        std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0),
        0,
        "WAL emptied after the key was taken"
    );
    assert_eq!(resp.headers().get_one("Cache-Control"), Some("no-store"));
    assert_eq!(
        resp.headers().get_one("Content-Disposition"),
        Some("attachment; filename=\"key.pem\"")
    );
    let pem = resp.into_string().unwrap();
    assert!(pem.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"));
    // The private key belongs to the public key the instance allows.
    let private = ssh_key::PrivateKey::from_openssh(&pem).expect("OpenSSH private key");
    let fp = private
        .public_key()
        .fingerprint(ssh_key::HashAlg::Sha256)
        .to_string();
    let allowed: String = db
        .run_blocking(|c| {
            Ok(c.query_row("SELECT fingerprint FROM instance_keys", [], |r| r.get(0))?)
        })
        .unwrap();
    assert_eq!(fp, allowed);
    assert_eq!(private.algorithm(), ssh_key::Algorithm::Rsa { hash: None });

    // A second attempt (from a page left open) lands back on the Instances page, which says
    // why; with htmx the same route answers the page's fragment and a toast.
    let resp = lab.post_form(&download, &[]);
    assert_eq!(resp.status(), Status::SeeOther);
    assert_eq!(resp.headers().get_one("Location"), Some("/instances"));
    let (status, shown) = body(lab.client.get("/instances").dispatch());
    assert_eq!(status, Status::Ok);
    assert!(
        shown.contains("was already downloaded; labgate keeps no copy")
            && !shown.contains("PRIVATE KEY-----"),
        "{shown}"
    );
    let resp = lab.post_htmx(&download, &[]);
    assert_eq!(resp.status(), Status::Ok);
    let toast = resp
        .headers()
        .get_one("HX-Trigger")
        .unwrap_or("")
        .to_owned();
    let (_, frag) = body(resp);
    assert!(toast.contains("already downloaded"), "{toast}");
    assert!(
        frag.contains("Private key already downloaded")
            && !frag.contains("<html")
            && !frag.contains("PRIVATE KEY-----")
    );
    let (status, gone) = body(lab.client.get(download.clone()).dispatch());
    assert_eq!(status, Status::Gone);
    assert!(gone.contains("already downloaded") && !gone.contains("(once)"));
    let (_, page) = body(lab.client.get("/instances").dispatch());
    assert!(page.contains("Private key already downloaded"));
    assert!(!page.contains(&format!("/instances/{id}/key.pem")));
    assert_eq!(
        instance_row(&db, &id).3.as_deref(),
        Some(""),
        "nothing kept"
    );
}

#[test]
fn a_busy_robot_is_refused_and_a_type_finds_a_free_one() {
    let (lab, robot) = lab_with_member();
    let second = add_robot(&lab.data(), "ur5e", "robot2.lab", 22);
    let key = save_key(&lab.data(), "mia", "laptop", ED25519);
    let key = key.to_string();
    assert_eq!(
        lab.post_form("/instances", &[("robot", &robot), ("keys", &key)])
            .status(),
        Status::SeeOther
    );
    let (status, page) = body(lab.post_form("/instances", &[("robot", &robot), ("keys", &key)]));
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(page.contains("is busy right now"), "{page}");
    let (status, frag) = body(lab.post_htmx("/instances", &[("robot", &robot), ("keys", &key)]));
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(frag.contains("is busy right now") && !frag.contains("<html"));
    // By type, the free one is taken; then the type is busy too.
    assert_eq!(
        lab.post_form("/instances", &[("robot", "ur5e"), ("keys", &key)])
            .status(),
        Status::SeeOther
    );
    let db = db_of(&lab.data());
    let robots: Vec<String> = db
        .run_blocking(|c| {
            let mut s = c.prepare("SELECT deployment_id FROM instances ORDER BY created, rowid")?;
            let rows = s.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .unwrap();
    assert_eq!(robots, vec![robot.clone(), second]);
    let (status, page) = body(lab.post_form("/instances", &[("robot", "ur5e"), ("keys", &key)]));
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(page.contains("is busy right now"));
    // The database itself refuses a second active instance on one robot.
    let dup = db.write_blocking(|tx| {
        tx.execute(
            "INSERT INTO instances (id, deployment_id, user_id, status, created, expires)
             VALUES ('x', ?1, 1, 'READY', 0, 9999999999)",
            [&robot],
        )?;
        Ok(())
    });
    assert!(dup.is_err());
}

#[test]
fn terminate_on_the_page_and_as_a_fragment() {
    let (lab, robot) = lab_with_member();
    let key = save_key(&lab.data(), "mia", "laptop", ED25519).to_string();
    assert_eq!(
        lab.post_form("/instances", &[("robot", &robot), ("keys", &key)])
            .status(),
        Status::SeeOther
    );
    let db = db_of(&lab.data());
    let first = instance_ids(&db, "mia").remove(0);
    let resp = lab.post_form(&format!("/instances/{first}/terminate"), &[]);
    assert_eq!(resp.status(), Status::SeeOther);
    let (_, page) = body(lab.client.get("/instances").dispatch());
    assert!(page.contains("Instance terminated"), "flash");
    assert!(page.contains("TERMINATED") && !page.contains("ssh -p 2222"));
    let (status, ended, _) = {
        let r = instance_row(&db, &first);
        (r.0, r.2, r.3)
    };
    assert_eq!(status, "TERMINATED");
    assert!(ended.is_some());
    assert!(event_kinds(&db, "mia").contains(&"instance terminated".to_owned()));

    // The robot is free again; terminate the next one with htmx.
    assert_eq!(
        lab.post_form("/instances", &[("robot", &robot), ("keys", &key)])
            .status(),
        Status::SeeOther
    );
    let second = instance_ids(&db, "mia").remove(0);
    let resp = lab.post_htmx(&format!("/instances/{second}/terminate"), &[]);
    assert_eq!(resp.status(), Status::Ok);
    assert!(resp
        .headers()
        .get_one("HX-Trigger")
        .unwrap_or("")
        .contains("Instance terminated"));
    let frag = resp.into_string().unwrap();
    assert!(!frag.contains("<html") && frag.contains(&format!("instance-{second}")));
    // Twice is harmless; a stranger's id is not found; no CSRF token is refused.
    assert_eq!(
        lab.post_form(&format!("/instances/{second}/terminate"), &[])
            .status(),
        Status::SeeOther
    );
    let (_, page) = body(lab.client.get("/instances").dispatch());
    assert!(page.contains("That instance had already ended."));
    assert_eq!(
        lab.post_form("/instances/nope/terminate", &[]).status(),
        Status::NotFound
    );
    let resp = lab
        .client
        .post(format!("/instances/{second}/terminate"))
        .header(rocket::http::ContentType::Form)
        .dispatch();
    assert_eq!(resp.status(), Status::Forbidden);
}

#[test]
fn expired_instances_end_on_read_and_in_the_sweep() {
    let (lab, robot) = lab_with_member();
    let key = save_key(&lab.data(), "mia", "laptop", ED25519).to_string();
    assert_eq!(
        lab.post_form("/instances", &[("robot", &robot), ("keys", &key)])
            .status(),
        Status::SeeOther
    );
    let db = db_of(&lab.data());
    let id = instance_ids(&db, "mia").remove(0);
    let past = labgate::db::now() - 30;
    let set_past = |id: &str| {
        let id = id.to_owned();
        db.write_blocking(move |tx| {
            tx.execute(
                "UPDATE instances SET expires = ?2 WHERE id = ?1",
                rusqlite::params![id, past],
            )?;
            Ok(())
        })
        .unwrap()
    };
    set_past(&id);
    // Read path: ended at once, though nothing has written that down yet.
    assert_eq!(instance_row(&db, &id).0, "READY");
    let (_, page) = body(lab.client.get("/instances").dispatch());
    assert!(page.contains("TERMINATED") && !page.contains("ssh -p 2222"));
    assert!(page.contains("any ur5e (1 of 1 free)"), "robot free again");
    let token = lab_token(&lab, "mia", "rw");
    let (status, json) = api(
        &lab,
        Method::Get,
        &format!("/api/instance/{id}"),
        Some(&token),
        None,
    );
    assert_eq!(status, Status::Ok);
    assert_eq!(json["status"], "TERMINATED");
    assert!(json["endtime"].is_string());
    let (_, json) = api(&lab, Method::Get, "/api/instances", Some(&token), None);
    assert_eq!(json["workspace_instances"], serde_json::json!([]));

    // The sweep writes it down, with the event, and the robot can be booked again.
    let n = db
        .write_blocking(|tx| labgate::lab::instances::sweep_expired(tx))
        .unwrap();
    assert_eq!(n, 1);
    let (status, _, ended, _) = instance_row(&db, &id);
    assert_eq!((status.as_str(), ended), ("TERMINATED", Some(past)));
    assert!(event_kinds(&db, "mia").contains(&"instance expired".to_owned()));
    assert_eq!(
        db.write_blocking(|tx| labgate::lab::instances::sweep_expired(tx))
            .unwrap(),
        0
    );

    // A booking ends what expired before it looks (the unique index would refuse otherwise).
    assert_eq!(
        lab.post_form("/instances", &[("robot", &robot), ("keys", &key)])
            .status(),
        Status::SeeOther
    );
    let next = instance_ids(&db, "mia").remove(0);
    set_past(&next);
    assert_eq!(
        lab.post_form("/instances", &[("robot", &robot), ("keys", &key)])
            .status(),
        Status::SeeOther
    );
    assert_eq!(instance_row(&db, &next).0, "TERMINATED");
}

#[test]
fn the_server_ends_expired_instances_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (ok, _, err) = cli(&data, &["user", "add", "mia"], None);
    assert!(ok, "{err}");
    let robot = add_robot(&data, "ur5e", "robot1.lab", 22);
    let db = db_of(&data);
    let id = db
        .write_blocking(|tx| {
            tx.execute(
                "INSERT INTO instances (id, deployment_id, user_id, status, created, expires)
                 VALUES ('old', ?1, (SELECT id FROM users WHERE username = 'mia'), 'READY', 1, 2)",
                [&robot],
            )?;
            Ok("old".to_owned())
        })
        .unwrap();
    let _served = Served::start(&data);
    let deadline = Instant::now() + Duration::from_secs(20);
    while instance_row(&db, &id).0 != "TERMINATED" {
        assert!(
            Instant::now() < deadline,
            "the periodic sweep did not end the instance"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(instance_row(&db, &id).2, Some(2));
    assert!(event_kinds(&db, "mia").contains(&"instance expired".to_owned()));
}

#[test]
fn members_see_only_their_own_instances() {
    let (lab, robot) = lab_with_member();
    assert_eq!(
        lab.post_form("/instances", &[("robot", &robot), ("generate", "true")])
            .status(),
        Status::SeeOther
    );
    let db = db_of(&lab.data());
    let id = instance_ids(&db, "mia").remove(0);
    let pw = lab.add_user("olga", false);
    lab.login("olga", &pw);
    let (_, page) = body(lab.client.get("/instances").dispatch());
    assert!(!page.contains(&id) && page.contains("No instances yet"));
    assert!(
        page.contains("(busy)"),
        "others see the robot is taken, not by whom"
    );
    assert_eq!(
        lab.post_form(&format!("/instances/{id}/terminate"), &[])
            .status(),
        Status::NotFound
    );
    assert_eq!(instance_row(&db, &id).0, "READY");
    let token = lab_token(&lab, "olga", "rw");
    for (method, uri) in [
        (Method::Get, format!("/api/instance/{id}")),
        (Method::Get, format!("/api/instance/{id}/sshkey")),
        (Method::Post, format!("/api/terminate/{id}")),
    ] {
        let (status, json) = api(&lab, method, &uri, Some(&token), None);
        assert_eq!(status, Status::NotFound, "{uri}");
        assert!(
            json.to_string().contains("instance not found"),
            "{uri}: {json}"
        );
    }
    let (_, json) = api(
        &lab,
        Method::Get,
        "/api/instances?include_terminated=",
        Some(&token),
        None,
    );
    assert_eq!(json["workspace_instances"], serde_json::json!([]));
    assert_eq!(instance_row(&db, &id).0, "READY");
}

#[test]
fn visitors_are_sent_to_login() {
    let lab = Lab::new();
    for uri in ["/instances", "/instances/x/key.pem", "/admin/deployments"] {
        let resp = lab.client.get(uri).dispatch();
        assert_eq!(resp.status(), Status::SeeOther, "{uri}");
        // The page goes along as the way back after signing in.
        let to = format!("/login?next={uri}");
        assert_eq!(resp.headers().get_one("Location"), Some(to.as_str()));
    }
}

#[test]
fn deployment_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let hostkeys = dir.path().join("hostkeys.pub");
    std::fs::write(&hostkeys, format!("{ECDSA256}{ED25519}")).unwrap();
    let (ok, out, err) = cli(
        &data,
        &[
            "deployment",
            "add",
            "--type",
            "ur5e",
            "--host",
            "10.0.0.7",
            "--port",
            "2222",
            "--region",
            "room 4",
            "--description",
            "left arm",
            "--hostkey-file",
            hostkeys.to_str().unwrap(),
        ],
        None,
    );
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let id = lines[0].strip_prefix("id: ").expect("id line");
    let credential = lines[1]
        .strip_prefix("credential: ")
        .expect("credential line");
    assert!(uuid::Uuid::parse_str(id).is_ok());
    assert!(credential.len() >= 43);
    let db = db_of(&data);
    let robot = db
        .run_blocking(|c| labgate::lab::deployments::get(c, id))
        .unwrap();
    assert_eq!(
        (
            robot.ssh_port,
            robot.ssh_user.as_str(),
            robot.hostkeys.len()
        ),
        (2222, "root", 2)
    );
    let hash: String = db
        .run_blocking(|c| {
            Ok(c.query_row("SELECT credential_hash FROM deployments", [], |r| r.get(0))?)
        })
        .unwrap();
    assert_eq!(hash, labgate::auth::sha256_hex(credential));

    for (args, needle) in [
        (vec!["--type", "UR5", "--host", "h"], "--type"),
        (vec!["--type", "ur5e", "--host", "a b"], "--host"),
        (
            vec!["--type", "ur5e", "--host", "h", "--port", "70000"],
            "--port",
        ),
        (
            vec![
                "--type",
                "ur5e",
                "--host",
                "h",
                "--hostkey-file",
                "/nonexistent",
            ],
            "cannot read",
        ),
    ] {
        let mut all = vec!["deployment", "add"];
        all.extend(args);
        let (ok, out, err) = cli(&data, &all, None);
        assert!(!ok && out.is_empty(), "{all:?}");
        assert!(err.contains(needle), "{all:?}: {err}");
    }
    std::fs::write(&hostkeys, "ssh-dss AAAAB3NzaC1kc3MAAACBAP\n").unwrap();
    let (ok, _, err) = cli(
        &data,
        &[
            "deployment",
            "add",
            "--type",
            "t",
            "--host",
            "h",
            "--hostkey-file",
            hostkeys.to_str().unwrap(),
        ],
        None,
    );
    assert!(!ok && err.contains("host key line 1"), "{err}");

    let (ok, out, _) = cli(&data, &["deployment", "list"], None);
    assert!(
        ok && out.contains(id) && out.contains("enabled") && out.contains("root@10.0.0.7:2222")
    );
    let (ok, out, _) = cli(&data, &["deployment", "disable", id], None);
    assert!(ok && out.contains("disabled"));
    let (_, out, _) = cli(&data, &["deployment", "list"], None);
    assert!(out.contains("disabled"));
    let (ok, _, _) = cli(&data, &["deployment", "enable", id], None);
    assert!(ok);
    let (ok, _, err) = cli(&data, &["deployment", "enable", "nope"], None);
    assert!(!ok && err.contains("no robot"), "{err}");
    let (ok, out, _) = cli(&data, &["deployment", "rotate-credential", id], None);
    assert!(ok);
    let fresh = out
        .trim()
        .strip_prefix("credential: ")
        .expect("credential line");
    assert_ne!(fresh, credential);
    let hash: String = db
        .run_blocking(|c| {
            Ok(c.query_row("SELECT credential_hash FROM deployments", [], |r| r.get(0))?)
        })
        .unwrap();
    assert_eq!(hash, labgate::auth::sha256_hex(fresh));
}

#[test]
fn disabling_a_robot_ends_its_instance_and_deleting_a_key_takes_it_off() {
    let (lab, robot) = lab_with_member();
    let key = save_key(&lab.data(), "mia", "laptop", ED25519);
    let resp = lab.post_form(
        "/instances",
        &[
            ("robot", &robot),
            ("duration", "3600"),
            ("keys", &key.to_string()),
        ],
    );
    assert_eq!(resp.status(), Status::SeeOther);
    let db = db_of(&lab.data());
    let id = instance_ids(&db, "mia").remove(0);
    let allowed = |db: &Db| -> i64 {
        db.run_blocking(
            |c| Ok(c.query_row("SELECT COUNT(*) FROM instance_keys", [], |r| r.get(0))?),
        )
        .unwrap()
    };
    assert_eq!(allowed(&db), 1);
    // The member deletes the saved key: it no longer opens the running instance.
    let resp = lab.post_form(&format!("/sshkeys/{key}/delete"), &[]);
    assert_eq!(resp.status(), Status::SeeOther);
    assert_eq!(allowed(&db), 0);
    // An admin disables the robot: the booking ends and its owner is told why.
    let (ok, _, err) = cli(&lab.data(), &["deployment", "disable", &robot], None);
    assert!(ok, "{err}");
    let (status, _, ended, _) = instance_row(&db, &id);
    assert_eq!(status, "TERMINATED");
    assert!(ended.is_some());
    let (_, account) = body(lab.client.get("/account").dispatch());
    assert!(account.contains("the robot was disabled by an admin"));
}

#[test]
fn a_key_given_to_the_api_that_is_saved_is_linked_to_the_saved_key() {
    let (lab, robot) = lab_with_member();
    let key = save_key(&lab.data(), "mia", "laptop", ED25519);
    let token = lab_token(&lab, "mia", "rw");
    let body = serde_json::json!({ "sshkey": ED25519.trim(), "reserve": false }).to_string();
    let (status, answer) = api(
        &lab,
        Method::Post,
        &format!("/api/new/{robot}"),
        Some(&token),
        Some(&body),
    );
    assert_eq!(status, Status::Ok, "{answer}");
    assert!(
        answer.get("sshkey").is_none(),
        "no pair generated when a key is given"
    );
    let linked: Option<i64> = db_of(&lab.data())
        .run_blocking(
            |c| Ok(c.query_row("SELECT ssh_key_id FROM instance_keys", [], |r| r.get(0))?),
        )
        .unwrap();
    assert_eq!(linked, Some(key));
}

/// A booking that asks for a new key pair is checked in full before the RSA generation: a bad
/// duration, a key that is not the member's or a busy robot is refused, on the page and through
/// the API, and nothing is stored. (That no pair was generated is not observable from outside;
/// no timing is asserted.)
#[test]
fn refused_bookings_generate_no_key_pair() {
    let (lab, robot) = lab_with_member();
    let token = lab_token(&lab, "mia", "rw");
    let db = db_of(&lab.data());
    let (status, page) = body(lab.post_form(
        "/instances",
        &[
            ("robot", robot.as_str()),
            ("generate", "true"),
            ("duration", &(8 * 86400).to_string()),
        ],
    ));
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(page.contains("at most 1 day"), "{page}");
    let (status, page) = body(lab.post_form(
        "/instances",
        &[
            ("robot", robot.as_str()),
            ("generate", "true"),
            ("keys", "424242"),
        ],
    ));
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(page.contains("not on your account"), "{page}");
    let (status, answer) = api(
        &lab,
        Method::Post,
        &format!("/api/new/{robot}"),
        Some(&token),
        Some(r#"{"expire_d": 9999999, "reserve": false}"#),
    );
    assert_eq!(status, Status::UnprocessableEntity, "{answer}");
    assert!(answer["result_message"]
        .as_str()
        .unwrap_or("")
        .contains("at most"));
    assert!(
        instance_ids(&db, "mia").is_empty(),
        "nothing booked, no key kept"
    );

    // Busy: the robot is taken with a pasted key, then a generated pair is refused at once.
    assert_eq!(
        lab.post_form(
            "/instances",
            &[("robot", robot.as_str()), ("pasted", ED25519)]
        )
        .status(),
        Status::SeeOther
    );
    let (status, page) = body(lab.post_form(
        "/instances",
        &[("robot", robot.as_str()), ("generate", "true")],
    ));
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(page.contains("is busy right now"), "{page}");
    let (status, _) = api(
        &lab,
        Method::Post,
        &format!("/api/new/{robot}"),
        Some(&token),
        Some(r#"{"reserve": false}"#),
    );
    assert_eq!(status, Status::ServiceUnavailable);
    let ids = instance_ids(&db, "mia");
    assert_eq!(ids.len(), 1);
    assert_eq!(instance_row(&db, &ids[0]).3, None, "no private key stored");
}

/// Deleting a saved key also takes it off running instances that got the same key pasted before
/// it was saved (linked by fingerprint, not by the saved key's id), and only the member's own.
#[test]
fn deleting_a_key_takes_it_off_instances_it_was_pasted_into() {
    let (lab, robot) = lab_with_member();
    let other = add_robot(&lab.data(), "ur5e", "robot2.lab", 22);
    let db = db_of(&lab.data());
    // Someone else runs an instance with the same public key.
    let noa = lab.add_user("noa", false);
    lab.login("noa", &noa);
    assert_eq!(
        lab.post_form(
            "/instances",
            &[("robot", other.as_str()), ("pasted", ED25519)]
        )
        .status(),
        Status::SeeOther
    );
    let mia = lab.add_user("mia2", false);
    lab.login("mia2", &mia);
    assert_eq!(
        lab.post_form(
            "/instances",
            &[("robot", robot.as_str()), ("pasted", ED25519)]
        )
        .status(),
        Status::SeeOther
    );
    let key = save_key(&lab.data(), "mia2", "laptop", ED25519);
    let count = |db: &Db, user: &str| -> i64 {
        let user = user.to_owned();
        db.run_blocking(move |c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FROM instance_keys k JOIN instances i ON i.id = k.instance_id
                 JOIN users u ON u.id = i.user_id WHERE u.username = ?1",
                [&user],
                |r| r.get(0),
            )?)
        })
        .unwrap()
    };
    assert_eq!((count(&db, "mia2"), count(&db, "noa")), (1, 1));
    let resp = lab.post_form(&format!("/sshkeys/{key}/delete"), &[]);
    assert_eq!(resp.status(), Status::SeeOther);
    assert_eq!(count(&db, "mia2"), 0, "the pasted copy no longer logs in");
    assert_eq!(
        count(&db, "noa"),
        1,
        "another member's instance is untouched"
    );
}

#[test]
fn toasts_ride_only_on_htmx_answers() {
    let lab = Lab::new();
    lab.login_admin();
    let plain = lab.post_form(
        "/admin/deployments",
        &[("type", "ur5e"), ("host", "r1.lab")],
    );
    assert_eq!(plain.status(), Status::Ok);
    assert_eq!(
        plain.headers().get_one("HX-Trigger"),
        None,
        "a full page shows no toast"
    );
    let htmx = lab.post_htmx(
        "/admin/deployments",
        &[("type", "ur5e"), ("host", "r2.lab")],
    );
    assert_eq!(htmx.status(), Status::Ok);
    let trigger = htmx
        .headers()
        .get_one("HX-Trigger")
        .unwrap_or_default()
        .to_owned();
    assert!(trigger.contains("Robot added."), "{trigger}");
}
