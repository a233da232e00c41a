//! The `labgate authorized-keys` helper, as the real binary against a real server.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::fixture::{self, Robot};
use super::{canonical, credential_file, expected_line, fingerprint, key_file};
use crate::common::*;

/// Runs `labgate authorized-keys` and returns (success, stdout, stderr, how long it took).
fn helper(
    url: &str,
    robot_id: &str,
    cred: &Path,
    extra: &[&str],
) -> (bool, String, String, Duration) {
    let started = Instant::now();
    let out = Command::new(labgate_bin())
        // Keep the tests' complaints out of the machine's syslog.
        .env("LABGATE_SYSLOG_SOCKET", "/nonexistent/labgate-test-log")
        .args([
            "authorized-keys",
            "--url",
            url,
            "--deployment",
            robot_id,
            "--credential-file",
        ])
        .arg(cred)
        .args(extra)
        .output()
        .expect("run the helper");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        started.elapsed(),
    )
}

/// A served lab with alice's instance on a ur5e; returns the server, robot, expiry, the
/// temp dir and alice's ed25519 saved-key id.
fn served_scene() -> (Served, Robot, i64, tempfile::TempDir, i64, labgate::db::Db) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let served = Served::start(&data);
    let db = fixture::db(&data);
    let (ok, _, err) = cli(&data, &["user", "add", "alice"], None);
    assert!(ok, "{err}");
    let alice = fixture::user_id(&db, "alice");
    let robot = fixture::add_robot(&db, "ur5e", "root");
    let ed = fixture::save_key(&db, alice, "laptop", &key_file("ed25519.pub"));
    let expires = labgate::db::now() + 7200;
    fixture::book(
        &db,
        &robot,
        alice,
        "READY",
        expires,
        &[
            (&canonical(&key_file("ed25519.pub")), Some(ed)),
            (&canonical(&key_file("rsa3072.pub")), None),
        ],
    );
    (served, robot, expires, dir, ed, db)
}

#[test]
fn helper_prints_the_lines_and_marks_the_key() {
    let (served, robot, expires, dir, ed, db) = served_scene();
    let cred = credential_file(dir.path(), &robot.credential, 0o600);
    let (ok, out, err, _) = helper(&served.url, &robot.id, &cred, &[]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.contains(&expected_line(&key_file("ed25519.pub"), expires)));
    assert!(out.contains(&expected_line(&key_file("rsa3072.pub"), expires)));
    assert!(!err.contains(&robot.credential));

    // As sshd calls it: %u %f. The fingerprint has + and / and must survive the query string.
    let fp = fingerprint(&key_file("ed25519.pub"));
    assert!(fp.contains('+'));
    let trailing_slash = format!("{}/", served.url);
    let (ok, out, err, _) = helper(&trailing_slash, &robot.id, &cred, &["root", &fp]);
    assert!(ok, "{err}");
    assert_eq!(out, expected_line(&key_file("ed25519.pub"), expires));
    assert_eq!(
        fixture::last_used(&db, ed).1.as_deref(),
        Some(format!("ur5e ({})", &robot.id[..8]).as_str())
    );
    // Another login user: nothing, and that is a success (no keys for them).
    let (ok, out, _, _) = helper(&served.url, &robot.id, &cred, &["admin", &fp]);
    assert!(ok);
    assert_eq!(out, "");
}

#[test]
fn helper_takes_data_and_exits_1_on_bad_arguments() {
    let (served, robot, expires, dir, _, _) = served_scene();
    let cred = credential_file(dir.path(), &robot.credential, 0o600);
    // `--data`, which every subcommand takes, is accepted and changes nothing.
    let (ok, out, err, _) = helper(
        &served.url,
        &robot.id,
        &cred,
        &["--data", "/nonexistent/labgate-data"],
    );
    assert!(ok, "{err}");
    assert!(!err.contains("unexpected argument"), "{err}");
    assert!(out.contains(&expected_line(&key_file("ed25519.pub"), expires)));

    // Usage errors fail closed with exit 1 (not clap's 2), nothing on stdout, the reason on
    // stderr.
    let run = |args: &[&str]| {
        Command::new(labgate_bin())
            .env("LABGATE_SYSLOG_SOCKET", "/nonexistent/labgate-test-log")
            .args(args)
            .output()
            .expect("run the helper")
    };
    let cred_arg = cred.to_string_lossy().into_owned();
    for args in [
        &["authorized-keys", "--bogus"][..],
        &["authorized-keys"][..],
        &[
            "authorized-keys",
            "--url",
            &served.url,
            "--deployment",
            &robot.id,
            "--credential-file",
            &cred_arg,
            "--timeout-ms",
            "0",
        ][..],
        &[
            "authorized-keys",
            "--url",
            &served.url,
            "--deployment",
            &robot.id,
            "--credential-file",
            &cred_arg,
            "root",
            "SHA256:x",
            "extra",
        ][..],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
    // Other subcommands keep clap's usual exit status, and help is still help.
    assert_eq!(run(&["user", "--bogus"]).status.code(), Some(2));
    let help = run(&["authorized-keys", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("--allow-http"));
}

fn assert_fails_closed(result: (bool, String, String, Duration), why: &str) -> String {
    let (ok, out, err, _) = result;
    assert!(!ok, "{why}: should fail");
    assert_eq!(out, "", "{why}: printed something");
    assert!(!err.is_empty(), "{why}: says nothing on stderr");
    err
}

#[test]
fn helper_fails_closed_on_wrong_credentials_and_bad_files() {
    let (served, robot, _, dir, _, _) = served_scene();
    let wrong = tempfile::tempdir().unwrap();
    let cred = credential_file(wrong.path(), "not-the-credential", 0o600);
    let err = assert_fails_closed(
        helper(&served.url, &robot.id, &cred, &[]),
        "wrong credential",
    );
    assert!(err.contains("401"), "{err}");

    let loose = credential_file(dir.path(), &robot.credential, 0o644);
    let err = assert_fails_closed(helper(&served.url, &robot.id, &loose, &[]), "0644 file");
    assert!(err.contains("chmod 600") && err.contains("644"), "{err}");
    assert!(
        !err.contains(&robot.credential),
        "never print the credential"
    );
    for mode in [0o640, 0o604, 0o660] {
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(mode)).unwrap();
        assert_fails_closed(
            helper(&served.url, &robot.id, &loose, &[]),
            "group/other bits",
        );
    }
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o400)).unwrap();
    let (ok, out, err, _) = helper(&served.url, &robot.id, &loose, &[]);
    assert!(ok && out.lines().count() == 2, "0400 is fine: {err}");

    let missing = dir.path().join("no-such-file");
    assert_fails_closed(
        helper(&served.url, &robot.id, &missing, &[]),
        "missing file",
    );
    let empty = tempfile::tempdir().unwrap();
    let blank = credential_file(empty.path(), "", 0o600);
    assert_fails_closed(helper(&served.url, &robot.id, &blank, &[]), "empty file");
    assert_fails_closed(
        helper(&served.url, &robot.id, dir.path(), &[]),
        "a directory",
    );
    // The right credential for another robot id.
    let good = credential_file(empty.path(), &robot.credential, 0o600);
    assert_fails_closed(
        helper(
            &served.url,
            "00000000-0000-4000-8000-000000000000",
            &good,
            &[],
        ),
        "unknown robot",
    );
    assert_fails_closed(
        helper(&served.url, "../../tokens", &good, &[]),
        "a path in the id",
    );
}

#[test]
fn helper_fails_closed_when_labgate_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let cred = credential_file(dir.path(), "whatever-credential", 0o600);
    let url = format!("http://127.0.0.1:{}", free_port());
    let err = assert_fails_closed(
        helper(&url, "3f2a9c1e-0000-4000-8000-000000000000", &cred, &[]),
        "server down",
    );
    assert!(err.contains("could not ask labgate"), "{err}");
}

#[test]
fn helper_refuses_plain_http_to_another_machine() {
    let dir = tempfile::tempdir().unwrap();
    let cred = credential_file(dir.path(), "whatever-credential", 0o600);
    let robot = "3f2a9c1e-0000-4000-8000-000000000000";
    // TEST-NET-1: nothing answers there, so only a refusal made before connecting is quick
    // and names the flag (a connection attempt would end in the 5 s timeout instead).
    let result = helper("http://192.0.2.1", robot, &cred, &["--timeout-ms", "5000"]);
    let took = result.3;
    let err = assert_fails_closed(result, "plain http to another machine");
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(
        err.contains("https://") && err.contains("--allow-http"),
        "{err}"
    );
    assert!(!err.contains("whatever-credential"), "{err}");
}

#[test]
fn helper_gives_up_after_its_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let cred = credential_file(dir.path(), "whatever-credential", 0o600);
    // Accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hold = std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(1) {
            held.push(stream);
            std::thread::sleep(Duration::from_secs(5));
        }
    });
    let result = helper(
        &url,
        "3f2a9c1e-0000-4000-8000-000000000000",
        &cred,
        &["--timeout-ms", "300"],
    );
    let took = result.3;
    assert_fails_closed(result, "silent server");
    assert!(took < Duration::from_millis(2500), "took {took:?}");
    drop(hold);
}

/// A one-shot HTTP server answering `response` verbatim to the first request.
fn canned(response: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(response.as_bytes());
        }
    });
    url
}

#[test]
fn helper_fails_closed_on_other_answers() {
    let dir = tempfile::tempdir().unwrap();
    let cred = credential_file(dir.path(), "whatever-credential", 0o600);
    let id = "3f2a9c1e-0000-4000-8000-000000000000";
    let key = "restrict,pty ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMT+V5xl2LnOBefTTE4y0Kf4NMC5P5kLXmIqCEM+GRBW\n";
    let cases: [(&'static str, &str); 5] = [
        (
            "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            "500",
        ),
        (
            "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n",
            "204",
        ),
        (
            "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            "redirect",
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 28\r\nConnection: close\r\n\r\nssh-ed25519 AAAA sneaky@key\n",
            "a line without restrict",
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 29\r\nConnection: close\r\n\r\nrestrict,pty a\nrestrict,pty b",
            "no final newline",
        ),
    ];
    for (response, why) in cases {
        let url = canned(response);
        assert_fails_closed(helper(&url, id, &cred, &[]), why);
    }
    // The control case: the same fake server with a proper answer is printed as is.
    let body: &'static str = Box::leak(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{key}",
            key.len()
        )
        .into_boxed_str(),
    );
    let (ok, out, err, _) = helper(&canned(body), id, &cred, &[]);
    assert!(ok, "{err}");
    assert_eq!(out, key);
}

#[test]
fn helper_tells_syslog_why_it_denied() {
    let (served, robot, _, dir, _, _) = served_scene();
    let socket_path = dir.path().join("log.sock");
    let log = std::os::unix::net::UnixDatagram::bind(&socket_path).expect("bind log socket");
    log.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let wrong = tempfile::tempdir().unwrap();
    let cred = credential_file(wrong.path(), "not-the-credential", 0o600);
    let out = Command::new(labgate_bin())
        .env("LABGATE_SYSLOG_SOCKET", &socket_path)
        .args([
            "authorized-keys",
            "--url",
            &served.url,
            "--deployment",
            &robot.id,
        ])
        .arg("--credential-file")
        .arg(&cred)
        .output()
        .expect("run the helper");
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let mut buf = [0u8; 2048];
    let n = log.recv(&mut buf).expect("a syslog message");
    let message = String::from_utf8_lossy(&buf[..n]);
    assert!(
        message.starts_with("<36>labgate-authorized-keys[") && message.contains("401"),
        "{message}"
    );
    assert!(message.ends_with("denying"), "{message}");
    assert!(!message.contains("not-the-credential"), "{message}");
}
