//! A real OpenSSH server asking a real labgate, through the helper, who may log in.
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
use crate::robot::{credential_file, fixture};

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
    fn start(dir: &Path, command: &str) -> Sshd {
        fs::create_dir_all("/run/sshd").expect("/run/sshd");
        let host_key = dir.join("host_ed25519");
        let (ok, out) = run(Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&host_key));
        assert!(ok, "host key: {out}");
        let port = free_port();
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

fn canonical(line: &str) -> String {
    labgate::keys::parse::parse_public_key(line)
        .expect("valid key")
        .canonical
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
    let db = fixture::db(&data);
    let (ok, _, err) = cli(&data, &["user", "add", "alice"], None);
    assert!(ok, "{err}");
    let alice = fixture::user_id(&db, "alice");
    let robot = fixture::add_robot(&db, "ur5e", LOGIN_USER);
    let (chosen, chosen_pub) = key_pair(dir.path(), "chosen");
    let (other, other_pub) = key_pair(dir.path(), "other");
    let chosen_id = fixture::save_key(&db, alice, "laptop", &chosen_pub);
    let other_id = fixture::save_key(&db, alice, "desktop", &other_pub);
    let booking = fixture::book(
        &db,
        &robot,
        alice,
        "READY",
        labgate::db::now() + 3600,
        &[(&canonical(&chosen_pub), Some(chosen_id))],
    );

    let installed = Installed::new(&robot.credential);
    let command = format!(
        "{} authorized-keys --url {} --deployment {} --credential-file {} %u %f",
        installed.bin.display(),
        served.url,
        robot.id,
        installed.credential().display()
    );
    let sshd = Sshd::start(dir.path(), &command);

    assert!(
        sshd.login(&chosen, LOGIN_USER),
        "the chosen key must log in: {}",
        sshd.log_text()
    );
    let (at, on) = fixture::last_used(&db, chosen_id);
    assert!(at.is_some(), "last used not written");
    assert_eq!(on, Some(format!("ur5e ({})", &robot.id[..8])));

    assert!(
        !sshd.login(&other, LOGIN_USER),
        "a key not chosen is refused"
    );
    assert_eq!(fixture::last_used(&db, other_id), (None, None));
    assert!(!sshd.login(&chosen, "root"), "only the robot's login user");

    fixture::terminate(&db, &booking);
    assert!(!sshd.login(&chosen, LOGIN_USER), "refused after terminate");

    // Booked again: in again (so the refusals above were the lab's decision, not a breakage).
    fixture::book(
        &db,
        &robot,
        alice,
        "READY",
        labgate::db::now() + 3600,
        &[(&canonical(&chosen_pub), Some(chosen_id))],
    );
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
