//! What the container image relies on, with the real binary where it matters: `labgate
//! healthcheck`, an `/alive` that never creates files, tokens that outlive a change of the public
//! URL, the log line for a guessed public URL, and data-directory errors that name the fix.
//! (`.ci/container-test` builds the image itself and runs these steps under podman.)

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rocket::http::{Header, Status};
use rocket::local::blocking::Client;

use crate::common::*;

/// `labgate ARGS` with the given environment (and no other LABGATE_ variable): (ok, out, err).
fn labgate(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new(labgate_bin());
    for name in LABGATE_ENV {
        cmd.env_remove(name);
    }
    let out = cmd
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run labgate");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `labgate serve` on `data` and `port` with `env`; returns it once `/alive` answers, and its
/// log lines up to "labgate is ready".
fn serve(data: &Path, port: u16, env: &[(&str, &str)]) -> (Served, Vec<String>) {
    let mut cmd = Command::new(labgate_bin());
    for name in LABGATE_ENV {
        cmd.env_remove(name);
    }
    let mut child = cmd
        .args(["serve", "--port", &port.to_string(), "--data"])
        .arg(data)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start labgate serve");
    let stdout = child.stdout.take().expect("stdout");
    let served = Served {
        child,
        port,
        url: format!("http://127.0.0.1:{port}"),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    // Reads the log for as long as the server writes it (a closed pipe would fail its writes).
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut log = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) {
        let ready = line.contains("labgate is ready");
        log.push(line);
        if ready {
            return (served, log);
        }
    }
    panic!("labgate serve did not come up: {log:?}");
}

fn api_status(url: &str, token: &str) -> u16 {
    match ureq::get(&format!("{url}/api/tokens"))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
    {
        Ok(resp) => resp.status(),
        Err(ureq::Error::Status(code, _)) => code,
        Err(e) => panic!("{url}: {e}"),
    }
}

fn issuer_of(token: &str) -> String {
    let payload = token.split('.').nth(1).expect("payload");
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("JSON");
    assert_eq!(claims["iss"], claims["aud"]);
    claims["iss"].as_str().expect("iss").to_owned()
}

/// Whether this process runs as root (which no file mode stops).
fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").expect("/proc/self").uid() == 0
}

#[test]
fn healthcheck_asks_alive_on_the_configured_address_and_port() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let served = Served::start(&data);
    let port = served.port.to_string();

    // As the image runs it: the server's own environment, listening on every address.
    let (ok, out, err) = labgate(
        &["healthcheck"],
        &[("LABGATE_ADDRESS", "0.0.0.0"), ("LABGATE_PORT", &port)],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!("http://127.0.0.1:{port}/alive answered 200")),
        "{out}"
    );
    let (ok, _, err) = labgate(&["healthcheck", "--port", &port], &[]);
    assert!(ok, "{err}");

    // Nobody on the port it was told: unhealthy, with the reason.
    let elsewhere = free_port().to_string();
    let (ok, _, err) = labgate(&["healthcheck"], &[("LABGATE_PORT", &elsewhere)]);
    assert!(!ok);
    assert!(err.starts_with("unhealthy: "), "{err}");

    // The database gone: /alive says 503 and creates nothing in its place.
    std::fs::rename(data.join("labgate.db"), dir.path().join("moved.db")).unwrap();
    let (ok, _, err) = labgate(&["healthcheck", "--port", &port], &[]);
    assert!(!ok);
    assert!(err.contains("answered 503"), "{err}");
    assert!(
        !data.join("labgate.db").exists(),
        "/alive made a new database"
    );
    std::fs::rename(dir.path().join("moved.db"), data.join("labgate.db")).unwrap();
    let (ok, _, err) = labgate(&["healthcheck", "--port", &port], &[]);
    assert!(ok, "{err}");
}

#[test]
fn healthcheck_gives_up_on_a_server_that_never_answers() {
    // Connections are accepted by the kernel and then nothing is ever said.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port().to_string();
    let (ok, _, err) = labgate(&["healthcheck", "--port", &port, "--timeout", "1"], &[]);
    assert!(!ok);
    assert!(err.starts_with("unhealthy: "), "{err}");
    drop(silent);
}

/// Names and modes of the files in `dir`.
fn snapshot(dir: &Path) -> Vec<(String, u32)> {
    let mut files: Vec<(String, u32)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let mode = e.metadata().unwrap().permissions().mode();
            (e.file_name().to_string_lossy().into_owned(), mode)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn alive_creates_nothing_when_the_database_is_missing_or_unreadable() {
    let lab = Lab::new();
    let data = lab.data();
    assert_eq!(lab.client.get("/alive").dispatch().status(), Status::Ok);

    std::fs::rename(data.join("labgate.db"), lab.dir.path().join("moved.db")).unwrap();
    let before = snapshot(&data);
    let resp = lab.client.get("/alive").dispatch();
    assert_eq!(resp.status(), Status::ServiceUnavailable);
    assert_eq!(resp.into_string().unwrap(), "database unavailable\n");
    assert_eq!(snapshot(&data), before, "/alive changed the data directory");
    assert!(!data.join("labgate.db").exists());

    // Something that cannot be read as a database where it was.
    std::fs::create_dir(data.join("labgate.db")).unwrap();
    let before = snapshot(&data);
    assert_eq!(
        lab.client.get("/alive").dispatch().status(),
        Status::ServiceUnavailable
    );
    assert_eq!(snapshot(&data), before);
    std::fs::remove_dir(data.join("labgate.db")).unwrap();

    // Back in place, healthy again: only the server's own connections ever wrote.
    std::fs::rename(lab.dir.path().join("moved.db"), data.join("labgate.db")).unwrap();
    assert_eq!(lab.client.get("/alive").dispatch().status(), Status::Ok);
}

#[test]
fn alive_answers_503_for_a_database_it_may_not_read() {
    if running_as_root() {
        // File modes do not stop root; the unit test in src/health.rs and the container test
        // (a server as uid 10001) cover this. A root-owned directory in place of the file:
        let lab = Lab::new();
        let data = lab.data();
        std::fs::rename(data.join("labgate.db"), lab.dir.path().join("moved.db")).unwrap();
        std::fs::create_dir(data.join("labgate.db")).unwrap();
        assert_eq!(
            lab.client.get("/alive").dispatch().status(),
            Status::ServiceUnavailable
        );
        return;
    }
    let lab = Lab::new();
    let db = lab.data().join("labgate.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o000)).unwrap();
    for side in ["labgate.db-wal", "labgate.db-shm"] {
        let _ = std::fs::set_permissions(
            lab.data().join(side),
            std::fs::Permissions::from_mode(0o000),
        );
    }
    assert_eq!(
        lab.client.get("/alive").dispatch().status(),
        Status::ServiceUnavailable
    );
    assert_eq!(
        std::fs::metadata(&db).unwrap().permissions().mode() & 0o777,
        0,
        "the mode was left alone"
    );
}

#[test]
fn a_token_outlives_a_change_of_the_public_url() {
    let lab = Lab::new();
    lab.add_user("alice", false);
    let (ok, before, err) = cli(&lab.data(), &["token", "issue", "alice"], None);
    assert!(ok, "{err}");
    let before = before.trim().to_owned();
    assert_eq!(issuer_of(&before), "http://127.0.0.1:8000");

    // Restarted under another public URL, as when LABGATE_PUBLIC_URL is set after a first run.
    let Lab { client, dir } = lab;
    drop(client);
    let mut config = labgate::Config::new(dir.path().join("data"));
    config.public_url = "https://labgate.example.org".into();
    let client = Client::untracked(labgate::build(config).expect("builds")).expect("client");
    let status = |token: &str| {
        client
            .get("/api/tokens")
            .header(Header::new("Authorization", format!("Bearer {token}")))
            .dispatch()
            .status()
    };
    assert_eq!(status(&before), Status::Ok, "the old token still works");

    // New tokens name the same issuer, from the command line and from the web console alike.
    let data = dir.path().join("data");
    let (ok, after, err) = cli(&data, &["token", "issue", "alice"], None);
    assert!(ok, "{err}");
    assert_eq!(issuer_of(after.trim()), "http://127.0.0.1:8000");
    assert_eq!(status(after.trim()), Status::Ok);

    // A token for the new URL as an issuer is not one of ours.
    let pem = std::fs::read_to_string(data.join("signing-key.pem")).unwrap();
    let key = labgate::tokens::jwt::SigningKey::from_pkcs8_pem(&pem).unwrap();
    let mut claims: labgate::tokens::jwt::Claims = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(before.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    claims.iss = "https://labgate.example.org".into();
    claims.aud = claims.iss.clone();
    assert_eq!(status(&key.sign(&claims)), Status::Unauthorized);
}

#[test]
fn a_real_server_keeps_its_tokens_across_public_urls_and_says_which_url_it_assumes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();

    // First start as a container does without LABGATE_PUBLIC_URL: on every address.
    let guess = format!("http://0.0.0.0:{port}");
    let (served, log) = serve(&data, port, &[("LABGATE_ADDRESS", "0.0.0.0")]);
    let log = log.join("\n");
    assert!(
        log.contains(&format!("no public URL set: assuming {guess}")),
        "{log}"
    );
    assert!(log.contains("Set LABGATE_PUBLIC_URL"), "{log}");
    let (ok, _, err) = cli(&data, &["user", "add", "ada"], None);
    assert!(ok, "{err}");
    let (ok, token, err) = labgate(
        &["token", "issue", "ada", "--data", data.to_str().unwrap()],
        &[],
    );
    assert!(ok, "{err}");
    let token = token.trim().to_owned();
    assert_eq!(issuer_of(&token), guess);
    assert_eq!(api_status(&served.url, &token), 200);
    drop(served);

    // The operator sets the public URL: no guess in the log, and the token still works.
    let (served, log) = serve(
        &data,
        port,
        &[("LABGATE_PUBLIC_URL", "https://labgate.example.org")],
    );
    let log = log.join("\n");
    assert!(!log.contains("no public URL set"), "{log}");
    assert!(
        log.contains(&format!("API tokens name {guess} as their issuer")),
        "{log}"
    );
    assert_eq!(api_status(&served.url, &token), 200);
}

#[test]
fn data_directory_errors_name_the_path_and_the_fix() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let port = free_port().to_string();
    let run = |args: &[&str]| {
        let mut cmd = Command::new(labgate_bin());
        for name in LABGATE_ENV {
            cmd.env_remove(name);
        }
        cmd.args(args).arg("--data").arg(&data);
        let (uid, gid) = if running_as_root() {
            // A directory owned by root, as a bind mount often is, and the image's user.
            std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
            cmd.uid(10001).gid(10001);
            (10001, 10001)
        } else {
            std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o500)).unwrap();
            let meta = std::fs::metadata("/proc/self").unwrap();
            (meta.uid(), meta.gid())
        };
        let out = cmd.output().expect("run labgate");
        assert!(
            !out.status.success(),
            "{args:?} ran on an unusable directory"
        );
        (String::from_utf8_lossy(&out.stderr).into_owned(), uid, gid)
    };
    for args in [&["serve", "--port", &port][..], &["user", "list"][..]] {
        let (err, uid, gid) = run(args);
        let shown = data.display().to_string();
        assert!(
            err.contains(&format!(
                "{shown} is not readable and writable by uid {uid}"
            )),
            "{err}"
        );
        assert!(
            err.contains(&format!("chown -R {uid}:{gid} {shown}")),
            "{err}"
        );
    }
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
}
