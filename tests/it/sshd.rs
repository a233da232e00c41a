//! A real OpenSSH server asking a real labgate, through the helper, who may log in. Everything
//! goes the way people do it: `labgate deployment add`, keys saved and a robot booked by a
//! member on the pages and the API, the helper installed as the README says.
//!
//! Needs root (sshd, useradd, a root-owned directory for the helper) and openssh-server; run by
//! `.ci/run` with `--include-ignored`. Everything it makes is removed afterwards except the two
//! test accounts, which it reuses.

use std::fs;
use std::net::TcpStream;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use crate::robot::credential_file;

/// The account people log in to on the robot.
const LOGIN_USER: &str = "labgate-sshd-test";
/// The unprivileged account sshd runs the helper as.
const KEYS_USER: &str = "labgate-keys-test";
const SSHD: &str = "/usr/sbin/sshd";

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("run a command");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn user_exists(name: &str) -> bool {
    run(Command::new("id").arg("-u").arg(name)).0
}

/// Makes the two accounts if missing. With `UsePAM no`, sshd refuses an account whose password
/// field is locked (`!`, useradd's default), so the login user gets `*`: no password, not locked.
fn ensure_accounts() {
    if !user_exists(LOGIN_USER) {
        let (ok, out) = run(Command::new("useradd").args(["-m", "-s", "/bin/sh", LOGIN_USER]));
        assert!(ok, "useradd {LOGIN_USER}: {out}");
    }
    let (ok, out) = run(Command::new("usermod").args(["-p", "*", LOGIN_USER]));
    assert!(ok, "usermod: {out}");
    if !user_exists(KEYS_USER) {
        let (ok, out) = run(Command::new("useradd").args([
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            KEYS_USER,
        ]));
        assert!(ok, "useradd {KEYS_USER}: {out}");
    }
}

fn uid_of(name: &str) -> u32 {
    let (ok, out) = run(Command::new("id").arg("-u").arg(name));
    assert!(ok, "id -u {name}: {out}");
    out.trim().parse().expect("numeric uid")
}

/// The helper installed where sshd accepts a command: root-owned, 0755, in a directory chain
/// nobody else can write. Removed on drop.
struct Installed {
    dir: PathBuf,
    bin: PathBuf,
}

impl Installed {
    fn new(credential: &str) -> Installed {
        let parent = Path::new("/usr/local/libexec");
        if !parent.exists() {
            fs::create_dir_all(parent).expect("/usr/local/libexec");
            // Whatever the umask, sshd wants no group- or world-writable directory above.
            fs::set_permissions(parent, fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let dir = parent.join(format!(
            "labgate-test-{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        ));
        fs::create_dir(&dir).expect("install dir");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod dir");
        let installed = Installed {
            bin: dir.join("labgate"),
            dir,
        };
        fs::copy(labgate_bin(), &installed.bin).expect("copy the binary");
        fs::set_permissions(&installed.bin, fs::Permissions::from_mode(0o755)).expect("chmod");
        // The credential belongs to the helper's own account, mode 0600, as the README says.
        let cred = credential_file(&installed.dir, credential, 0o600);
        std::os::unix::fs::chown(&cred, Some(uid_of(KEYS_USER)), None).expect("chown");
        installed
    }

    fn credential(&self) -> PathBuf {
        self.dir.join("credential")
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// `sshd -D -e` on 127.0.0.1 with its own config and host key; killed on drop.
struct Sshd {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Sshd {
    fn start(dir: &Path, port: u16, command: &str) -> Sshd {
        fs::create_dir_all("/run/sshd").expect("/run/sshd");
        let host_key = dir.join("host_ed25519");
        let (ok, out) = run(Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&host_key));
        assert!(ok, "host key: {out}");
        let mut config = format!(
            "ListenAddress 127.0.0.1\n\
             HostKey {host_key}\n\
             PidFile none\n\
             UsePAM no\n\
             StrictModes no\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             PubkeyAuthentication yes\n\
             AuthorizedKeysFile none\n\
             AuthorizedKeysCommand {command}\n\
             AuthorizedKeysCommandUser {KEYS_USER}\n\
             LogLevel VERBOSE\n",
            host_key = host_key.display()
        );
        // OpenSSH 9.8 and later shut out an address after a few failed logins, and this test
        // fails logins on purpose; older versions do not know the option and refuse to start.
        if penalties_known() {
            config.push_str("PerSourcePenalties no\n");
        }
        let config_path = dir.join("sshd_config");
        fs::write(&config_path, config).expect("write sshd_config");
        let log = dir.join("sshd.log");
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(&config_path)
            .args(["-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).expect("sshd log"))
            .spawn()
            .expect("start sshd");
        let mut sshd = Sshd { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = sshd.child.try_wait() {
                panic!("sshd exited ({status}): {}", sshd.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "sshd did not listen: {}",
                sshd.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        sshd
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether `ssh -i key user@127.0.0.1 true` gets in.
    fn login(&self, key: &Path, user: &str) -> bool {
        let status = Command::new("ssh")
            .args(["-F", "/dev/null", "-i"])
            .arg(key)
            .args(["-p", &self.port.to_string()])
            .args([
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "ConnectTimeout=20",
                "-o",
                "LogLevel=ERROR",
            ])
            .arg(format!("{user}@127.0.0.1"))
            .arg("true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run ssh");
        status.success()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether this sshd knows `PerSourcePenalties` (OpenSSH 9.8+).
fn penalties_known() -> bool {
    let (_, out) = run(Command::new(SSHD).arg("-V"));
    let version = out
        .split("OpenSSH_")
        .nth(1)
        .and_then(|v| {
            let mut parts = v.split(|c: char| !c.is_ascii_digit());
            Some((
                parts.next()?.parse::<u32>().ok()?,
                parts.next()?.parse::<u32>().ok()?,
            ))
        })
        .unwrap_or((0, 0));
    version >= (9, 8)
}

/// A fresh key pair; returns the private key's path and the public line.
fn key_pair(dir: &Path, name: &str) -> (PathBuf, String) {
    let path = dir.join(name);
    let (ok, out) = run(Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            &format!("{name}@test"),
            "-f",
        ])
        .arg(&path));
    assert!(ok, "ssh-keygen: {out}");
    let public = fs::read_to_string(path.with_extension("pub")).expect("public key");
    (path, public.trim().to_owned())
}

/// The value after `prefix` on one of `out`'s lines.
fn printed(out: &str, prefix: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} in {out:?}"))
        .trim()
        .to_owned()
}

/// Talks to the served labgate as a member would: the JSON API with a token, and the pages with
/// a session cookie.
struct Member {
    agent: ureq::Agent,
    url: String,
    token: String,
    cookie: String,
}

impl Member {
    fn new(url: &str, data: &Path, name: &str, password: &str) -> Member {
        let (ok, token, err) = cli(data, &["token", "issue", name], None);
        assert!(ok, "token issue: {err}");
        let agent = ureq::AgentBuilder::new().redirects(0).build();
        // The printed password was set by an admin: the member replaces it first.
        let password = choose_own_password_at(url, name, password);
        let resp = web_login(url, name, &password);
        assert_eq!(resp.status(), 303, "login");
        let cookie = resp
            .header("Set-Cookie")
            .and_then(|c| c.split(';').next())
            .expect("session cookie")
            .to_owned();
        Member {
            agent,
            url: url.to_owned(),
            token: token.trim().to_owned(),
            cookie,
        }
    }

    /// An API call; returns status and body.
    fn api(&self, method: &str, path: &str, body: Option<serde_json::Value>) -> (u16, String) {
        let req = self
            .agent
            .request(method, &format!("{}/api{path}", self.url))
            .set("Authorization", &format!("Bearer {}", self.token));
        let result = match body {
            Some(b) => req
                .set("Content-Type", "application/json")
                .send_string(&b.to_string()),
            None => req.call(),
        };
        match result {
            Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
            Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
            Err(e) => panic!("{method} {path}: {e}"),
        }
    }

    fn json(&self, method: &str, path: &str, body: Option<serde_json::Value>) -> serde_json::Value {
        let (status, text) = self.api(method, path, body);
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {text}"
        );
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
    }

    /// A page as the signed-in member sees it.
    fn page(&self, path: &str) -> String {
        self.agent
            .get(&format!("{}{path}", self.url))
            .set("Cookie", &self.cookie)
            .call()
            .expect("page")
            .into_string()
            .expect("page text")
    }

    /// Posts a form of the page at `path` to `action`, with that page's CSRF token.
    fn post_form(&self, path: &str, action: &str, fields: &[(&str, &str)]) -> u16 {
        let csrf = csrf_from(&self.page(path)).expect("csrf token on the page");
        let mut all = fields.to_vec();
        all.push(("csrf_token", &csrf));
        match self
            .agent
            .post(&format!("{}{action}", self.url))
            .set("Cookie", &self.cookie)
            .set("Origin", &self.url)
            .send_form(&all)
        {
            Ok(r) => r.status(),
            Err(ureq::Error::Status(code, r)) => {
                panic!("{action}: {code} {}", r.into_string().unwrap_or_default())
            }
            Err(e) => panic!("{action}: {e}"),
        }
    }
}

#[test]
#[ignore = "needs root and openssh-server"]
fn sshd_lets_in_exactly_the_booked_key_while_the_instance_lasts() {
    let me = fs::metadata("/proc/self").expect("/proc/self").uid();
    assert_eq!(me, 0, "this test needs root (run it through .ci/run)");
    assert!(
        Path::new(SSHD).exists(),
        "{SSHD} missing: install openssh-server"
    );
    ensure_accounts();

    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let served = Served::start(&data);
    let port = free_port();

    // The lab admin registers the robot, as the README says.
    let (ok, out, err) = cli(
        &data,
        &[
            "deployment",
            "add",
            "--type",
            "ur5e",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--user",
            LOGIN_USER,
        ],
        None,
    );
    assert!(ok, "deployment add: {err}");
    let robot_id = printed(&out, "id: ");
    let credential = printed(&out, "credential: ");

    // Alice saves two keys and books the robot with one of them on the instances page.
    let (ok, out, err) = cli(&data, &["user", "add", "alice"], None);
    assert!(ok, "user add: {err}");
    let alice = Member::new(&served.url, &data, "alice", &printed(&out, "password: "));
    let (chosen, chosen_pub) = key_pair(dir.path(), "chosen");
    let (other, other_pub) = key_pair(dir.path(), "other");
    let saved = |name: &str, key: &str| {
        let body = serde_json::json!({ "name": name, "key": key });
        alice.json("POST", "/sshkeys", Some(body))["id"]
            .as_i64()
            .expect("key id")
    };
    let chosen_id = saved("laptop", &chosen_pub);
    let other_id = saved("desktop", &other_pub);
    let status = alice.post_form(
        "/instances",
        "/instances",
        &[
            ("robot", &robot_id),
            ("duration", "3600"),
            ("keys", &chosen_id.to_string()),
        ],
    );
    assert_eq!(status, 303, "booking on the page");
    let instances = alice.json("GET", "/instances", None);
    let instance = instances["workspace_instances"][0]
        .as_str()
        .expect("the booked instance")
        .to_owned();

    let installed = Installed::new(&credential);
    let command = format!(
        "{} authorized-keys --url {} --deployment {robot_id} --credential-file {} %u %f",
        installed.bin.display(),
        served.url,
        installed.credential().display()
    );
    let sshd = Sshd::start(dir.path(), port, &command);

    assert!(
        sshd.login(&chosen, LOGIN_USER),
        "the chosen key must log in: {}",
        sshd.log_text()
    );
    // The saved key now reads as last used on this robot, in the API and on the keys page.
    let keys = alice.json("GET", "/sshkeys", None);
    let last_used = |id: i64| {
        keys.as_array()
            .and_then(|a| a.iter().find(|k| k["id"].as_i64() == Some(id)))
            .map(|k| k["last_used"].clone())
            .expect("key listed")
    };
    assert!(last_used(chosen_id).is_i64(), "{keys}");
    assert!(last_used(other_id).is_null(), "{keys}");
    let label = format!("on ur5e ({})", &robot_id[..8]);
    assert!(
        alice.page("/sshkeys").contains(&label),
        "{label} on /sshkeys"
    );

    assert!(
        !sshd.login(&other, LOGIN_USER),
        "a key not chosen is refused"
    );
    assert!(!sshd.login(&chosen, "root"), "only the robot's login user");

    alice.json("POST", &format!("/terminate/{instance}"), None);
    assert!(!sshd.login(&chosen, LOGIN_USER), "refused after terminate");

    // Booked again through the rerobots API with the key pasted: in again, so the refusals
    // above were the lab's decision, not a breakage.
    let body = serde_json::json!({ "sshkey": chosen_pub, "expire_d": 600 });
    alice.json("POST", &format!("/new/{robot_id}"), Some(body));
    assert!(
        sshd.login(&chosen, LOGIN_USER),
        "in again: {}",
        sshd.log_text()
    );

    drop(served);
    assert!(
        !sshd.login(&chosen, LOGIN_USER),
        "labgate down: fail closed"
    );
    let log = sshd.log_text();
    assert!(
        log.contains("could not ask labgate") && log.contains("status 1"),
        "sshd should log the helper's failure: {log}"
    );
}

/// A booking made ahead lets nobody in before its start and its key in from the start, with
/// the real sshd asking the real server through the helper. The start is a little over two
/// minutes ahead (closer starts count as "now"), so this waits for the clock, not a shortcut.
#[test]
#[ignore = "needs root and openssh-server"]
fn sshd_refuses_a_future_booking_before_its_start_and_lets_it_in_at_the_start() {
    let me = fs::metadata("/proc/self").expect("/proc/self").uid();
    assert_eq!(me, 0, "this test needs root (run it through .ci/run)");
    assert!(
        Path::new(SSHD).exists(),
        "{SSHD} missing: install openssh-server"
    );
    ensure_accounts();

    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let served = Served::start(&data);
    let port = free_port();
    let (ok, out, err) = cli(
        &data,
        &[
            "deployment",
            "add",
            "--type",
            "ur5e",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--user",
            LOGIN_USER,
        ],
        None,
    );
    assert!(ok, "deployment add: {err}");
    let robot_id = printed(&out, "id: ");
    let credential = printed(&out, "credential: ");
    let (ok, out, err) = cli(&data, &["user", "add", "bea"], None);
    assert!(ok, "user add: {err}");
    let bea = Member::new(&served.url, &data, "bea", &printed(&out, "password: "));
    let (key, key_pub) = key_pair(dir.path(), "bea");

    let start = labgate::db::now() + labgate::lab::bookings::NOW_SLACK + 10;
    let body = serde_json::json!({ "sshkey": key_pub, "start": start, "expire_d": 600 });
    let made = bea.json("POST", &format!("/new/{robot_id}"), Some(body));
    let instance = made["id"].as_str().expect("booking id").to_owned();
    assert_eq!(
        bea.json("GET", &format!("/instance/{instance}"), None)["status"],
        "INIT"
    );

    let installed = Installed::new(&credential);
    let command = format!(
        "{} authorized-keys --url {} --deployment {robot_id} --credential-file {} %u %f",
        installed.bin.display(),
        served.url,
        installed.credential().display()
    );
    let sshd = Sshd::start(dir.path(), port, &command);
    assert!(
        !sshd.login(&key, LOGIN_USER),
        "refused before the start: {}",
        sshd.log_text()
    );
    while labgate::db::now() <= start {
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        sshd.login(&key, LOGIN_USER),
        "in at the start: {}",
        sshd.log_text()
    );
    assert_eq!(
        bea.json("GET", &format!("/instance/{instance}"), None)["status"],
        "READY"
    );
    drop(sshd);
    drop(served);
}
