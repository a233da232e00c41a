//! `GET /api/deployment/{id}/authorized_keys` through Rocket's local client.

use rocket::http::{ContentType, Header, Status};

use super::fixture::{self, Booking, Robot};
use super::{canonical, expected_line, fingerprint, key_file, urlencode};
use crate::common::*;

/// GET the robot's keys with `credential`; returns status, content type and body.
fn ask(
    lab: &Lab,
    robot_id: &str,
    query: &str,
    credential: Option<&str>,
) -> (Status, String, String) {
    let mut req = lab
        .client
        .get(format!("/api/deployment/{robot_id}/authorized_keys{query}"));
    if let Some(c) = credential {
        req = req.header(Header::new("Authorization", format!("Bearer {c}")));
    }
    let resp = req.dispatch();
    let status = resp.status();
    let ctype = resp
        .content_type()
        .map(|c| c.to_string())
        .unwrap_or_default();
    (status, ctype, resp.into_string().unwrap_or_default())
}

/// A lab with alice, a ur5e robot and alice's instance on it with her ed25519 and rsa keys.
struct Scene {
    lab: Lab,
    db: labgate::db::Db,
    robot: Robot,
    alice: i64,
    ed25519: i64,
    rsa: i64,
    booking: Booking,
    expires: i64,
    alice_password: String,
}

fn scene() -> Scene {
    let lab = Lab::new();
    let alice_password = lab.add_user("alice", false);
    let db = fixture::db(&lab.data());
    let robot = fixture::add_robot(&db, "ur5e", "root");
    let alice = fixture::user_id(&db, "alice");
    let ed25519 = fixture::save_key(&db, alice, "laptop", &key_file("ed25519.pub"));
    let rsa = fixture::save_key(&db, alice, "desktop", &key_file("rsa2048.pub"));
    let expires = labgate::db::now() + 3600 + 37;
    let booking = fixture::book(
        &db,
        &robot,
        alice,
        "READY",
        expires,
        &[
            (&canonical(&key_file("ed25519.pub")), Some(ed25519)),
            (&canonical(&key_file("rsa2048.pub")), Some(rsa)),
        ],
    );
    Scene {
        lab,
        db,
        robot,
        alice,
        ed25519,
        rsa,
        booking,
        expires,
        alice_password,
    }
}

#[test]
fn active_instance_keys_are_served_with_restrict_and_expiry() {
    let s = scene();
    let (status, ctype, body) = ask(&s.lab, &s.robot.id, "", Some(&s.robot.credential));
    assert_eq!(status, Status::Ok);
    assert!(ctype.starts_with("text/plain"), "{ctype}");
    let ed = expected_line(&key_file("ed25519.pub"), s.expires);
    let rsa = expected_line(&key_file("rsa2048.pub"), s.expires);
    let mut lines: Vec<&str> = body.split_inclusive('\n').collect();
    lines.sort();
    let mut want = vec![ed.as_str(), rsa.as_str()];
    want.sort();
    assert_eq!(lines, want, "{body}");
    // The expiry is the instance's end, in UTC minutes, never later than it.
    assert!(body.contains("expiry-time=\"20"));
    assert!(!body.contains("alice") && !body.contains("bob@lab") && !body.contains("laptop"));
    // Without a fingerprint nothing counts as used.
    assert_eq!(fixture::last_used(&s.db, s.ed25519), (None, None));
}

#[test]
fn no_cache_and_empty_when_nothing_is_booked() {
    let lab = Lab::new();
    let db = fixture::db(&lab.data());
    let robot = fixture::add_robot(&db, "ur5e", "root");
    let resp = lab
        .client
        .get(format!("/api/deployment/{}/authorized_keys", robot.id))
        .header(Header::new(
            "Authorization",
            format!("Bearer {}", robot.credential),
        ))
        .dispatch();
    assert_eq!(resp.status(), Status::Ok);
    assert_eq!(resp.headers().get_one("Cache-Control"), Some("no-store"));
    assert_eq!(resp.into_string().unwrap_or_default(), "");
}

fn assert_refused(lab: &Lab, robot_id: &str, credential: Option<&str>, why: &str) -> String {
    let resp = {
        let mut req = lab
            .client
            .get(format!("/api/deployment/{robot_id}/authorized_keys"));
        if let Some(c) = credential {
            req = req.header(Header::new("Authorization", format!("Bearer {c}")));
        }
        req.dispatch()
    };
    assert_eq!(resp.status(), Status::Unauthorized, "{why}");
    assert_eq!(resp.content_type(), Some(ContentType::JSON), "{why}");
    assert_eq!(
        resp.headers().get_one("WWW-Authenticate"),
        Some("Bearer"),
        "{why}"
    );
    let body = resp.into_string().unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON error");
    assert!(json["error_message"].is_string(), "{why}: {body}");
    assert!(!body.contains("ssh-"), "{why}: {body}");
    body
}

#[test]
fn only_the_robots_own_enabled_credential_is_accepted() {
    let s = scene();
    let other = fixture::add_robot(&s.db, "ur5e", "root");
    let wrong = assert_refused(&s.lab, &s.robot.id, Some("not-the-credential"), "wrong");
    assert_refused(&s.lab, &s.robot.id, None, "missing");
    assert_refused(&s.lab, &s.robot.id, Some(""), "empty");
    assert_refused(
        &s.lab,
        &s.robot.id,
        Some(&other.credential),
        "another robot's credential",
    );
    // The right credential with a doubled character, and its hash, are not the credential.
    assert_refused(
        &s.lab,
        &s.robot.id,
        Some(&format!("{}x", s.robot.credential)),
        "longer",
    );
    assert_refused(
        &s.lab,
        &s.robot.id,
        Some(&labgate::auth::sha256_hex(&s.robot.credential)),
        "the stored hash",
    );
    // An unknown robot answers exactly like a wrong credential.
    let unknown = assert_refused(
        &s.lab,
        "00000000-0000-4000-8000-000000000000",
        Some(&s.robot.credential),
        "unknown id",
    );
    assert_eq!(unknown, wrong);
    fixture::set_enabled(&s.db, &s.robot, false);
    let disabled = assert_refused(&s.lab, &s.robot.id, Some(&s.robot.credential), "disabled");
    assert_eq!(disabled, wrong);
    fixture::set_enabled(&s.db, &s.robot, true);
    let (status, _, body) = ask(&s.lab, &s.robot.id, "", Some(&s.robot.credential));
    assert_eq!(status, Status::Ok);
    assert_eq!(body.lines().count(), 2);
}

#[test]
fn a_members_api_token_is_refused() {
    let s = scene();
    let data = s.lab.data();
    let key = labgate::tokens::jwt::SigningKey::load_or_create(&data.join("signing-key.pem"))
        .expect("signing key");
    let config = labgate::Config::new(data.clone());
    let user = labgate::auth::User {
        id: s.alice,
        username: "alice".into(),
        is_admin: false,
    };
    let (_, token) = s
        .db
        .write_blocking(|tx| labgate::tokens::issue(tx, &key, &config, &user, 3600, "rw", "", None))
        .expect("issue");
    // The token is good for the member's API...
    key.verify(
        &token,
        &config.public_url,
        &config.public_url,
        labgate::db::now(),
    )
    .expect("a valid member token");
    // ...and no key to any robot.
    assert_refused(&s.lab, &s.robot.id, Some(&token), "member token");
    // Also with the session cookie of a signed-in admin.
    s.lab.login_admin();
    assert_refused(&s.lab, &s.robot.id, None, "admin session");
}

#[test]
fn ended_expired_and_disabled_owner_serve_nothing() {
    let s = scene();
    let cred = Some(s.robot.credential.as_str());
    fixture::terminate(&s.db, &s.booking);
    let (status, _, body) = ask(&s.lab, &s.robot.id, "", cred);
    assert_eq!((status, body.as_str()), (Status::Ok, ""), "terminated");

    // Still READY but past its end: the sweep has not run yet, the keys are gone anyway.
    let ed = canonical(&key_file("ed25519.pub"));
    let late = fixture::book(
        &s.db,
        &s.robot,
        s.alice,
        "READY",
        labgate::db::now() - 1,
        &[(&ed, Some(s.ed25519))],
    );
    let (status, _, body) = ask(&s.lab, &s.robot.id, "", cred);
    assert_eq!((status, body.as_str()), (Status::Ok, ""), "expired");
    fixture::terminate(&s.db, &late);

    let terminating = fixture::book(
        &s.db,
        &s.robot,
        s.alice,
        "TERMINATING",
        labgate::db::now() + 600,
        &[(&ed, Some(s.ed25519))],
    );
    let (_, _, body) = ask(&s.lab, &s.robot.id, "", cred);
    assert_eq!(body, "", "terminating");
    fixture::terminate(&s.db, &terminating);

    let fresh = fixture::book(
        &s.db,
        &s.robot,
        s.alice,
        "INIT",
        labgate::db::now() + 600,
        &[(&ed, Some(s.ed25519))],
    );
    let (_, _, body) = ask(&s.lab, &s.robot.id, "", cred);
    assert_eq!(body.lines().count(), 1, "a new booking serves again");
    let (ok, _, err) = cli(&s.lab.data(), &["user", "disable", "alice"], None);
    assert!(ok, "{err}");
    let (_, _, body) = ask(&s.lab, &s.robot.id, "", cred);
    assert_eq!(body, "", "owner disabled");
    let _ = fresh;
}

#[test]
fn fingerprint_picks_one_key_and_marks_it_used_on_the_robot() {
    let s = scene();
    let cred = Some(s.robot.credential.as_str());
    let fp = fingerprint(&key_file("ed25519.pub"));
    let query = format!("?fingerprint={}", urlencode(&fp));
    let before = labgate::db::now();
    let (status, _, body) = ask(&s.lab, &s.robot.id, &query, cred);
    assert_eq!(status, Status::Ok);
    assert_eq!(body, expected_line(&key_file("ed25519.pub"), s.expires));
    let (at, on) = fixture::last_used(&s.db, s.ed25519);
    assert!(at.is_some_and(|t| t >= before), "{at:?}");
    assert_eq!(
        on.as_deref(),
        Some(format!("ur5e ({})", &s.robot.id[..8]).as_str())
    );
    assert_eq!(
        fixture::last_used(&s.db, s.rsa),
        (None, None),
        "the other key"
    );

    // Alice sees where her key was last used, on the page and in its htmx fragment.
    s.lab.login("alice", &s.alice_password);
    let label = format!("on ur5e ({})", &s.robot.id[..8]);
    let page = s.lab.client.get("/sshkeys").dispatch();
    assert_eq!(page.status(), Status::Ok);
    assert!(page.into_string().unwrap_or_default().contains(&label));
    let fragment = s.lab.get_htmx("/sshkeys");
    assert_eq!(fragment.status(), Status::Ok);
    assert!(fragment.into_string().unwrap_or_default().contains(&label));

    // A key not in the instance, and a fingerprint that is no key at all: nothing.
    let other = format!(
        "?fingerprint={}",
        urlencode(&fingerprint(&key_file("ecdsa256.pub")))
    );
    assert_eq!(ask(&s.lab, &s.robot.id, &other, cred).2, "");
    assert_eq!(
        ask(&s.lab, &s.robot.id, "?fingerprint=SHA256%3Anope", cred).2,
        ""
    );
    // The unencoded form (a + read as a space) matches nothing rather than something else.
    let raw = format!("?fingerprint={fp}");
    let body = ask(&s.lab, &s.robot.id, &raw, cred).2;
    assert!(body.is_empty() || body == expected_line(&key_file("ed25519.pub"), s.expires));
}

#[test]
fn a_key_without_a_saved_key_is_served_and_marks_nothing() {
    let lab = Lab::new();
    lab.add_user("bob", false);
    let db = fixture::db(&lab.data());
    let robot = fixture::add_robot(&db, "ur5e", "root");
    let bob = fixture::user_id(&db, "bob");
    let pasted = key_file("ecdsa256.pub");
    let expires = labgate::db::now() + 900;
    fixture::book(
        &db,
        &robot,
        bob,
        "READY",
        expires,
        &[(&canonical(&pasted), None)],
    );
    let query = format!("?fingerprint={}", urlencode(&fingerprint(&pasted)));
    let (status, _, body) = ask(&lab, &robot.id, &query, Some(&robot.credential));
    assert_eq!(status, Status::Ok);
    assert_eq!(body, expected_line(&pasted, expires));
}

#[test]
fn the_login_user_must_be_the_robots() {
    let s = scene();
    let cred = Some(s.robot.credential.as_str());
    let (_, _, body) = ask(&s.lab, &s.robot.id, "?user=root", cred);
    assert_eq!(body.lines().count(), 2);
    let (status, _, body) = ask(&s.lab, &s.robot.id, "?user=admin", cred);
    assert_eq!((status, body.as_str()), (Status::Ok, ""));
    let fp = urlencode(&fingerprint(&key_file("ed25519.pub")));
    let (_, _, body) = ask(
        &s.lab,
        &s.robot.id,
        &format!("?user=postgres&fingerprint={fp}"),
        cred,
    );
    assert_eq!(body, "");
    assert_eq!(fixture::last_used(&s.db, s.ed25519), (None, None));
}

#[test]
fn names_comments_and_injected_lines_never_reach_the_robot() {
    let lab = Lab::new();
    lab.add_user("mallory", false);
    let db = fixture::db(&lab.data());
    let robot = fixture::add_robot(&db, "ur5e", "root");
    let mallory = fixture::user_id(&db, "mallory");
    let ed = key_file("ed25519.pub");
    let blob = canonical(&ed);
    // A saved key whose name and comment try to smuggle options and a second line.
    let evil_line = format!("{blob} x\" command=\"/bin/sh\"");
    let saved = fixture::save_key(&db, mallory, "pwn\nssh-rsa AAAA command=\"id\"", &evil_line);
    let rsa = canonical(&key_file("rsa2048.pub"));
    let expires = labgate::db::now() + 600;
    fixture::book(
        &db,
        &robot,
        mallory,
        "READY",
        expires,
        &[
            // The instance row itself carrying a comment (it should not, but it must not leak).
            (
                &format!("{blob} command=\"/bin/sh\" evil@comment"),
                Some(saved),
            ),
            // And one carrying a second line.
            (
                &format!("{rsa}\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAEVIL"),
                None,
            ),
        ],
    );
    let (status, _, body) = ask(&lab, &robot.id, "", Some(&robot.credential));
    assert_eq!(status, Status::Ok);
    assert_eq!(body, expected_line(&ed, expires), "only the clean key line");
    for bad in ["command", "/bin/sh", "evil", "pwn", "EVIL", "\r"] {
        assert!(!body.contains(bad), "{bad} leaked: {body}");
    }
}

#[test]
fn last_used_is_written_at_most_once_a_minute() {
    let s = scene();
    let cred = Some(s.robot.credential.as_str());
    let query = format!(
        "?fingerprint={}",
        urlencode(&fingerprint(&key_file("rsa2048.pub")))
    );
    let old = labgate::db::now() - 30;
    s.db.write_blocking(|tx| {
        tx.execute(
            "UPDATE ssh_keys SET last_used = ?2, last_used_on = ?3 WHERE id = ?1",
            rusqlite::params![s.rsa, old, format!("ur5e ({})", &s.robot.id[..8])],
        )?;
        Ok(())
    })
    .unwrap();
    ask(&s.lab, &s.robot.id, &query, cred);
    assert_eq!(
        fixture::last_used(&s.db, s.rsa).0,
        Some(old),
        "within the minute"
    );
    let older = labgate::db::now() - 61;
    s.db.write_blocking(|tx| {
        tx.execute(
            "UPDATE ssh_keys SET last_used = ?2 WHERE id = ?1",
            rusqlite::params![s.rsa, older],
        )?;
        Ok(())
    })
    .unwrap();
    ask(&s.lab, &s.robot.id, &query, cred);
    assert!(fixture::last_used(&s.db, s.rsa)
        .0
        .is_some_and(|t| t > older + 30));
}

#[test]
fn a_rotated_credential_replaces_the_old_one_at_once() {
    let s = scene();
    let (ok, out, err) = cli(
        &s.lab.data(),
        &["deployment", "rotate-credential", &s.robot.id],
        None,
    );
    assert!(ok, "rotate-credential: {err}");
    let fresh = out
        .lines()
        .find_map(|l| l.strip_prefix("credential: "))
        .expect("new credential printed")
        .trim()
        .to_owned();
    assert_refused(
        &s.lab,
        &s.robot.id,
        Some(&s.robot.credential),
        "old credential",
    );
    let (status, _, body) = ask(&s.lab, &s.robot.id, "", Some(&fresh));
    assert_eq!(status, Status::Ok);
    assert_eq!(body.lines().count(), 2);
}

#[test]
fn a_failing_or_busy_last_used_write_still_lets_the_key_in() {
    let s = scene();
    let cred = Some(s.robot.credential.as_str());
    let fp = fingerprint(&key_file("ed25519.pub"));
    let query = format!("?fingerprint={}", urlencode(&fp));
    let expected = expected_line(&key_file("ed25519.pub"), s.expires);

    // The stamp fails outright: the login is still allowed, and nothing is stamped.
    s.db.run_blocking(|c| {
        Ok(c.execute_batch(
            "CREATE TRIGGER refuse_stamp BEFORE UPDATE OF last_used ON ssh_keys
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
        )?)
    })
    .unwrap();
    let (status, _, body) = ask(&s.lab, &s.robot.id, &query, cred);
    assert_eq!(status, Status::Ok);
    assert_eq!(body, expected);
    assert_eq!(fixture::last_used(&s.db, s.ed25519), (None, None));
    s.db.run_blocking(|c| Ok(c.execute_batch("DROP TRIGGER refuse_stamp")?))
        .unwrap();

    // Another writer holds the database: the answer comes well within the helper's 2 s.
    let path = s.lab.data().join("labgate.db");
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = std::time::Instant::now();
    let (status, _, body) = ask(&s.lab, &s.robot.id, &query, cred);
    let took = started.elapsed();
    holder.execute_batch("ROLLBACK").unwrap();
    assert_eq!(status, Status::Ok);
    assert_eq!(body, expected);
    assert!(took < std::time::Duration::from_secs(1), "{took:?}");
    assert_eq!(fixture::last_used(&s.db, s.ed25519), (None, None));

    // Once the database is free again, the stamp is written as usual.
    let (status, _, _) = ask(&s.lab, &s.robot.id, &query, cred);
    assert_eq!(status, Status::Ok);
    assert!(fixture::last_used(&s.db, s.ed25519).0.is_some());
}

#[test]
fn a_robot_id_from_the_url_cannot_forge_log_lines() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let port = free_port();
    let mut child = std::process::Command::new(labgate_bin())
        .args(["serve", "--port", &port.to_string(), "--data"])
        .arg(dir.path().join("data"))
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(dir.path().join("stderr.log")).unwrap())
        .spawn()
        .expect("start labgate serve");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while ureq::get(&format!("{url}/alive")).call().is_err() {
        assert!(std::time::Instant::now() < deadline, "server did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let answer = ureq::get(&format!(
        "{url}/api/deployment/abc%0Aforged%20line%0D%1B%5B2J/authorized_keys"
    ))
    .set("Authorization", "Bearer wrong")
    .call();
    let _ = child.kill();
    let _ = child.wait();
    assert!(matches!(answer, Err(ureq::Error::Status(401, _))));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("refused a robot credential"), "{text}");
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("forged") || l.contains('\x1b')),
        "{text}"
    );
}
