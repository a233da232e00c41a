//! Crash safety: the real binary is killed with SIGKILL at random moments while a client adds
//! keys, makes and revokes tokens and books and ends instances over a real socket. After every
//! kill the database passes `PRAGMA integrity_check`, every write the client saw acknowledged
//! is there, and no revoked token or ended booking comes back.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rand_core::{OsRng, RngCore};
use serde_json::Value;

use crate::common::*;

/// What the client saw acknowledged (a 2xx, or the 303 of a form post).
#[derive(Default)]
struct Acked {
    /// Fingerprints of keys added.
    keys: BTreeSet<String>,
    /// Ids of tokens made.
    tokens: BTreeSet<String>,
    /// Texts of tokens revoked.
    revoked: Vec<String>,
    /// Ids of instances booked.
    booked: BTreeSet<String>,
    /// Ids of instances ended.
    ended: BTreeSet<String>,
}

/// A fresh Ed25519 public key line and its SHA-256 fingerprint.
fn fresh_key() -> (String, String) {
    use sha2::Digest as _;
    let key = ed25519_dalek::SigningKey::generate(&mut OsRng);
    let mut blob = Vec::new();
    for field in [&b"ssh-ed25519"[..], key.verifying_key().as_bytes()] {
        blob.extend_from_slice(&(field.len() as u32).to_be_bytes());
        blob.extend_from_slice(field);
    }
    let fingerprint =
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(sha2::Sha256::digest(&blob));
    (
        format!("ssh-ed25519 {}", STANDARD.encode(&blob)),
        format!("SHA256:{fingerprint}"),
    )
}

/// Status and body of a call; `None` when the server could not be reached or cut us off.
fn call(request: ureq::Request, body: Option<&str>) -> Option<(u16, String)> {
    let answer = match body {
        Some(text) => request.send_string(text),
        None => request.call(),
    };
    match answer {
        Ok(resp) | Err(ureq::Error::Status(_, resp)) => {
            let status = resp.status();
            Some((status, resp.into_string().ok()?))
        }
        Err(_) => None,
    }
}

/// The signed-in browser of one round: its session cookie and CSRF token.
struct Browser {
    agent: ureq::Agent,
    url: String,
    cookie: String,
    csrf: String,
}

impl Browser {
    fn sign_in(url: &str, password: &str) -> Option<Browser> {
        let resp = try_web_login(url, "alice", password, &[]).ok()?;
        let cookie = resp
            .all("Set-Cookie")
            .into_iter()
            .find_map(|c| c.strip_prefix("labgate_session="))?
            .split(';')
            .next()?
            .to_owned();
        let agent = ureq::AgentBuilder::new().redirects(0).build();
        let cookie = format!("labgate_session={cookie}");
        let (_, page) = call(
            agent.get(&format!("{url}/account")).set("Cookie", &cookie),
            None,
        )?;
        let csrf = csrf_from(&page)?;
        Some(Browser {
            agent,
            url: url.to_owned(),
            cookie,
            csrf,
        })
    }

    fn post(&self, path: &str, fields: &[(&str, &str)]) -> Option<ureq::Response> {
        let mut all = fields.to_vec();
        all.push(("csrf_token", &self.csrf));
        self.agent
            .post(&format!("{}{path}", self.url))
            .set("Cookie", &self.cookie)
            .send_form(&all)
            .ok()
    }

    /// Makes a token; its id and text.
    fn make_token(&self) -> Option<(String, String)> {
        let resp = self.post("/tokens", &[("duration", "86400"), ("note", "crash")])?;
        if resp.status() != 303 {
            return None;
        }
        let id = resp
            .header("Location")?
            .strip_prefix("/tokens/")?
            .to_owned();
        let (status, text) = call(
            self.agent
                .get(&format!("{}/tokens/{id}/jwt.txt", self.url))
                .set("Cookie", &self.cookie),
            None,
        )?;
        (status == 200).then_some((id, text))
    }

    fn revoke(&self, id: &str) -> bool {
        self.post(&format!("/tokens/{id}/revoke"), &[])
            .is_some_and(|r| r.status() == 303)
    }
}

/// One round of work until the server stops answering (or `stop` is set).
fn work(
    url: &str,
    password: &str,
    api_token: &str,
    robot: &str,
    acked: &mut Acked,
    stop: &AtomicBool,
) {
    let bearer = format!("Bearer {api_token}");
    let api = |method: &str, path: &str| {
        ureq::request(method, &format!("{url}{path}")).set("Authorization", &bearer)
    };
    // A booking made just before the last kill (acknowledged or not) still holds the robot.
    let Some((200, listed)) = call(api("GET", "/api/instances"), None) else {
        return;
    };
    let listed: Value = serde_json::from_str(&listed).expect("JSON");
    let active = listed["workspace_instances"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for id in active.iter().filter_map(Value::as_str) {
        match call(api("POST", &format!("/api/terminate/{id}")), None) {
            Some((200, _)) => {
                acked.ended.insert(id.to_owned());
            }
            Some((status, text)) => panic!("ending {id}: {status} {text}"),
            None => return,
        }
    }
    let Some(browser) = Browser::sign_in(url, password) else {
        return;
    };
    let (booking_key, _) = fresh_key();
    let mut n = 0u32;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let (line, fingerprint) = fresh_key();
        let body = serde_json::json!({ "name": format!("k{}", OsRng.next_u64()), "key": line });
        match call(api("POST", "/api/sshkeys"), Some(&body.to_string())) {
            Some((201, _)) => {
                acked.keys.insert(fingerprint);
            }
            Some((status, text)) => panic!("adding a key: {status} {text}"),
            None => return,
        }
        let Some((id, text)) = browser.make_token() else {
            return;
        };
        acked.tokens.insert(id.clone());
        if n.is_multiple_of(2) {
            if !browser.revoke(&id) {
                return;
            }
            acked.revoked.push(text);
        }
        let body = serde_json::json!({ "sshkey": booking_key }).to_string();
        let instance = match call(api("POST", &format!("/api/new/{robot}")), Some(&body)) {
            Some((200, text)) => {
                let answer: Value = serde_json::from_str(&text).expect("JSON");
                answer["id"].as_str().expect("instance id").to_owned()
            }
            Some((status, text)) => panic!("booking: {status} {text}"),
            None => return,
        };
        acked.booked.insert(instance.clone());
        match call(api("POST", &format!("/api/terminate/{instance}")), None) {
            Some((200, _)) => {
                acked.ended.insert(instance);
            }
            Some((status, text)) => panic!("ending: {status} {text}"),
            None => return,
        }
    }
}

/// Checks the data directory of a stopped server against what was acknowledged.
fn check_database(data: &Path, acked: &Acked) {
    let conn = rusqlite::Connection::open(data.join("labgate.db")).expect("db");
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity check");
    assert_eq!(integrity, "ok");
    let set = |sql: &str| -> BTreeSet<String> {
        let mut stmt = conn.prepare(sql).expect(sql);
        let rows = stmt.query_map([], |r| r.get(0)).expect(sql);
        rows.collect::<Result<_, _>>().expect(sql)
    };
    let keys = set("SELECT fingerprint FROM ssh_keys");
    assert!(
        acked.keys.is_subset(&keys),
        "an acknowledged key is missing"
    );
    let tokens = set("SELECT id FROM tokens");
    assert!(
        acked.tokens.is_subset(&tokens),
        "an acknowledged token is missing"
    );
    let booked = set("SELECT id FROM instances");
    assert!(
        acked.booked.is_subset(&booked),
        "an acknowledged booking is missing"
    );
    let ended = set("SELECT id FROM instances WHERE status = 'TERMINATED'");
    assert!(acked.ended.is_subset(&ended), "an ended booking came back");
}

#[test]
#[ignore = "slow: crash safety"]
fn acknowledged_writes_survive_kill_9_at_random_moments() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    let first = Served::start(&data);
    let set = "crash-test-password-0123";
    let (ok, _, err) = cli(
        &data,
        &["user", "add", "alice", "--password-stdin"],
        Some(set),
    );
    assert!(ok, "{err}");
    // A password an admin set is replaced on the Account form before any other page opens.
    let password = &choose_own_password_at(&first.url, "alice", set);
    let (ok, out, err) = cli(&data, &["token", "issue", "alice"], None);
    assert!(ok, "{err}");
    let api_token = out.trim().to_owned();
    let robot = cli_add_arm(&data);
    drop(first);

    let started = Instant::now();
    let mut acked = Acked::default();
    let mut rounds = 0;
    while rounds < 12 && started.elapsed() < Duration::from_secs(45) {
        rounds += 1;
        let mut served = Served::start(&data);
        let stop = Arc::new(AtomicBool::new(false));
        let worker = {
            let (url, password, token, robot) = (
                served.url.clone(),
                password.to_owned(),
                api_token.clone(),
                robot.clone(),
            );
            let stop = Arc::clone(&stop);
            let mut mine = std::mem::take(&mut acked);
            std::thread::spawn(move || {
                work(&url, &password, &token, &robot, &mut mine, &stop);
                mine
            })
        };
        let wait = 200 + u64::from(OsRng.next_u32() % 2300);
        std::thread::sleep(Duration::from_millis(wait));
        served.child.kill().expect("SIGKILL");
        let _ = served.child.wait();
        stop.store(true, Ordering::Relaxed);
        acked = worker.join().expect("worker");
        check_database(&data, &acked);
    }
    assert!(
        acked.keys.len() >= rounds && !acked.revoked.is_empty() && !acked.ended.is_empty(),
        "the client got work done: {} keys, {} revoked, {} ended in {rounds} rounds",
        acked.keys.len(),
        acked.revoked.len(),
        acked.ended.len()
    );

    // After a last restart: revoked tokens stay refused, ended bookings stay ended.
    let served = Served::start(&data);
    for text in &acked.revoked {
        let resp = ureq::get(&format!("{}/api/sshkeys", served.url))
            .set("Authorization", &format!("Bearer {text}"))
            .call();
        assert!(
            matches!(resp, Err(ureq::Error::Status(401, _))),
            "a revoked token works again"
        );
    }
    let resp = ureq::get(&format!("{}/api/instances", served.url))
        .set("Authorization", &format!("Bearer {api_token}"))
        .call()
        .expect("instances");
    let active = resp.into_string().expect("instances body");
    for id in &acked.ended {
        assert!(
            !active.contains(id.as_str()),
            "ended instance {id} is listed as active"
        );
    }
    drop(served);
    check_database(&data, &acked);
}
