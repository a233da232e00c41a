//! The command line and the real binary: user administration beside a running server,
//! restarts, backups and the data-directory lock.

use rocket::http::Status;

use crate::common::*;

#[test]
fn user_add_while_the_server_runs_then_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let served = Served::start(&data);
    let (ok, out, err) = cli(&data, &["user", "add", "frank"], None);
    assert!(ok, "user add failed: {err}");
    let password = out
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("generated password printed")
        .to_owned();
    let resp = web_login(&served.url, "frank", &password);
    assert_eq!(resp.status(), 303);
    assert!(resp
        .header("Set-Cookie")
        .unwrap_or("")
        .starts_with("labgate_session="));
    let (ok, out, _) = cli(&data, &["user", "list"], None);
    assert!(ok);
    assert!(out.contains("frank") && out.contains("admin"));
    let (ok, _, err) = cli(&data, &["user", "add", "frank"], None);
    assert!(!ok);
    assert!(err.contains("already taken"), "{err}");
}

#[test]
fn password_stdin_disable_and_enable() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (ok, out, err) = cli(
        &data,
        &["user", "add", "gina", "--admin", "--password-stdin"],
        Some("gina's long password\n"),
    );
    assert!(ok, "{err}");
    assert!(!out.contains("password:"), "a given password is not echoed");
    let (ok, _, err) = cli(
        &data,
        &["user", "add", "hank", "--password-stdin"],
        Some("short\n"),
    );
    assert!(!ok);
    assert!(err.contains("at least 10"), "{err}");
    let lab = Lab {
        client: client_for(dir.path()),
        dir,
    };
    lab.login("gina", "gina's long password");
    let (ok, _, _) = cli(&lab.data(), &["user", "disable", "gina"], None);
    assert!(ok);
    assert_eq!(
        lab.client.get("/account").dispatch().status(),
        Status::SeeOther,
        "session ended"
    );
    let (ok, _, _) = cli(&lab.data(), &["user", "enable", "gina"], None);
    assert!(ok);
    let (ok, out, _) = cli(&lab.data(), &["user", "passwd", "gina"], None);
    assert!(ok);
    let new = out
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .unwrap()
        .to_owned();
    lab.login("gina", &new);
}

#[test]
fn restart_keeps_users_and_the_signing_key() {
    let lab = Lab::new();
    let password = lab.add_user("ivan", false);
    let key_before = std::fs::read(lab.data().join("signing-key.pem")).unwrap();
    let jwks_before = lab
        .client
        .get("/.well-known/jwks.json")
        .dispatch()
        .into_string()
        .unwrap();
    let lab = lab.restart();
    assert_eq!(
        std::fs::read(lab.data().join("signing-key.pem")).unwrap(),
        key_before
    );
    let jwks_after = lab
        .client
        .get("/.well-known/jwks.json")
        .dispatch()
        .into_string()
        .unwrap();
    assert_eq!(jwks_before, jwks_after);
    assert!(jwks_after.contains("\"kty\":\"OKP\"") && jwks_after.contains("Ed25519"));
    lab.login("ivan", &password);
    assert!(
        lab.data().join("initial-admin-password").exists(),
        "no second admin was made"
    );
}

#[test]
fn backup_is_a_usable_database() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let served = Served::start(&data);
    let (ok, _, err) = cli(&data, &["user", "add", "judy"], None);
    assert!(ok, "{err}");
    let copy = dir.path().join("copy.db");
    let (ok, _, err) = cli(&data, &["backup", copy.to_str().unwrap()], None);
    assert!(ok, "backup failed: {err}");
    drop(served);
    let conn = rusqlite::Connection::open(&copy).unwrap();
    let mut names: Vec<String> = conn
        .prepare("SELECT username FROM users ORDER BY username")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    names.sort();
    assert_eq!(names, ["admin", "judy"]);
    let (ok, _, err) = cli(&data, &["backup", copy.to_str().unwrap()], None);
    assert!(!ok, "an existing file is never overwritten");
    assert!(err.contains("cannot create"), "{err}");
}

#[test]
fn second_serve_on_the_same_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let _served = Served::start(&data);
    let out = std::process::Command::new(labgate_bin())
        .args(["serve", "--port", &free_port().to_string(), "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already running"), "{err}");
    // In-process too.
    assert!(labgate::build(labgate::Config::new(&data)).is_err());
}

#[test]
fn serve_takes_its_env_and_logs_the_first_password_and_the_url_once() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let mut child = Command::new(labgate_bin())
        .arg("serve")
        .env("LABGATE_PORT", port.to_string())
        .env("LABGATE_DATA", &data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = Vec::new();
    let ready = format!("labgate is ready: open http://127.0.0.1:{port}");
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(30)) {
        let done = line.contains(&ready);
        log.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let log = log.join("\n");
    assert!(log.contains(&ready), "{log}");
    let password = std::fs::read_to_string(data.join("initial-admin-password")).unwrap();
    let shown = log.lines().filter(|l| l.contains(password.trim())).count();
    assert_eq!(shown, 1, "the first password is logged exactly once: {log}");
}
