//! Finding 5: `LABGATE_IP_HEADER` is believed only from `LABGATE_TRUSTED_PROXIES`; any other
//! peer is throttled by its own address, whatever the header says.

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::running::Running;
use crate::common::{cli, free_port, labgate_bin, web_login_with};

/// One sign-in with a wrong password, claiming to come from `claimed`; the answer's status.
fn wrong_login(url: &str, claimed: &str) -> u16 {
    web_login_with(url, "dave", "not his password", &[("X-Real-IP", claimed)]).status()
}

/// Six wrong sign-ins for one account, each claiming another address.
fn six_claims(url: &str) -> Vec<u16> {
    (1..=6)
        .map(|i| wrong_login(url, &format!("203.0.113.{i}")))
        .collect()
}

fn server_with(proxies: Option<&str>) -> (Running, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut env = vec![("LABGATE_IP_HEADER", "X-Real-IP")];
    if let Some(proxies) = proxies {
        env.push(("LABGATE_TRUSTED_PROXIES", proxies));
    }
    let server = Running::start(&data, &env);
    let (ok, _, err) = cli(
        &data,
        &["user", "add", "dave", "--password-stdin"],
        Some("daves-real-password-1234\n"),
    );
    assert!(ok, "{err}");
    (server, dir)
}

#[test]
fn a_peer_that_is_not_a_trusted_proxy_cannot_choose_its_address() {
    // This test's peer is 127.0.0.1, outside the one trusted network.
    let (server, _dir) = server_with(Some("10.0.0.0/8, fd00::/8"));
    let statuses = six_claims(&server.url);
    assert_eq!(&statuses[..5], &[401; 5], "{statuses:?}");
    assert_eq!(
        statuses[5], 429,
        "throttled by its own address: {statuses:?}"
    );
}

#[test]
fn a_trusted_proxy_names_the_client() {
    // The default trusts this machine, as a reverse proxy on it would be.
    let (server, _dir) = server_with(None);
    let statuses = six_claims(&server.url);
    assert_eq!(
        statuses,
        vec![401; 6],
        "six different clients: {statuses:?}"
    );
}

#[test]
fn a_bad_trusted_proxy_list_stops_the_start_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["10.0.0.0/33", "lab.example.org", "fd00::/200"] {
        let mut child = std::process::Command::new(labgate_bin())
            .args(["serve", "--port", &free_port().to_string(), "--data"])
            .arg(dir.path().join("data"))
            .env("LABGATE_TRUSTED_PROXIES", bad)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run labgate");
        // A server that ignores the list would start and keep running: stopped, it fails.
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("labgate serve started with LABGATE_TRUSTED_PROXIES={bad}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(!status.success());
        let mut err = String::new();
        child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut err)
            .unwrap();
        assert!(
            err.contains("LABGATE_TRUSTED_PROXIES") && err.contains(bad),
            "{err}"
        );
    }
}
