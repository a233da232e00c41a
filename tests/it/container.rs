//! What the container image relies on, with the real binary where it matters: `labgate
//! healthcheck`, an `/alive` that never creates files, tokens that outlive a change of the public
//! URL, the log line for a guessed public URL, and data-directory errors that name the fix.
//! (`.ci/container-test` builds the image itself and runs these steps under podman.)

use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use rocket::http::Status;

use crate::common::*;

const LABGATE_ENV: [&str; 4] = [
    "LABGATE_ADDRESS",
    "LABGATE_PORT",
    "LABGATE_PUBLIC_URL",
    "LABGATE_DATA",
];

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
