//! `labgate authorized-keys`: the program a robot's sshd runs as its `AuthorizedKeysCommand`.
//!
//! It asks labgate for the keys allowed in right now and prints them, or prints nothing and
//! exits non-zero: any error, a timeout, an insecure credential file, an answer other than 200
//! or a line that does not look like ours all deny the login. Plain `http://` is refused unless
//! it goes to this machine (loopback) or `--allow-http` says the network is trusted: anyone on
//! the path could otherwise add their own key lines. It starts no server, opens no
//! database and never prints the credential. Complaints go to stderr (seen when run by hand,
//! or under `sshd -e`) and to syslog, because a running sshd sends its commands' stderr nowhere.

use std::fs::File;
use std::io::{Read, Write};
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Args;

/// Largest credential file read, in bytes.
const MAX_CREDENTIAL: u64 = 4096;
/// Largest answer accepted, in bytes; far more than any instance's keys.
const MAX_BODY: u64 = 1024 * 1024;
/// Where syslog listens; `LABGATE_SYSLOG_SOCKET` overrides it (tests use their own socket;
/// sshd runs the helper with an empty environment, so on a robot it is always `/dev/log`).
const SYSLOG_SOCKET: &str = "/dev/log";
/// syslog priority: facility auth (4), severity warning (4), where sshd's own messages go.
const SYSLOG_PRIORITY: u8 = 4 * 8 + 4;

/// Flags of `labgate authorized-keys`.
#[derive(Args, Debug)]
pub struct HelperArgs {
    /// labgate's URL, e.g. `https://labgate.example.org`.
    #[arg(long)]
    pub url: String,
    /// Accepted and ignored, as by every subcommand: the helper opens no database.
    #[arg(long, hide = true)]
    pub data: Option<PathBuf>,
    /// Accept a plain http:// URL to another machine (on a trusted network only: anyone on the
    /// path could add keys). http:// to this machine (loopback) is always accepted.
    #[arg(long)]
    pub allow_http: bool,
    /// This robot's deployment id (printed by `labgate deployment add`).
    #[arg(long)]
    pub deployment: String,
    /// File holding this robot's credential; must not be readable or writable by group or others.
    #[arg(long)]
    pub credential_file: PathBuf,
    /// Give up (and deny) after this many milliseconds.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub timeout_ms: u64,
    /// The login user sshd asks about (%u); keys are served only for the robot's own user.
    pub user: Option<String>,
    /// Fingerprint of the key being tried (%f); only that key is printed.
    pub fingerprint: Option<String>,
}

/// Runs the helper: prints the allowed lines and succeeds, or prints nothing and fails.
pub fn run_helper(args: HelperArgs) -> ExitCode {
    let deadline = Duration::from_millis(args.timeout_ms);
    // The request runs on its own thread so that nothing (not even a name lookup, which
    // cannot be interrupted) holds sshd past the deadline: the process exits without it.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(fetch(&args, Instant::now() + deadline));
    });
    let outcome = rx
        .recv_timeout(deadline)
        .unwrap_or_else(|_| Err(format!("no answer within {} ms", deadline.as_millis())));
    let body = match outcome {
        Ok(body) => body,
        Err(message) => {
            complain(&format!("{message}; denying"));
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(body.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            complain(&format!("could not write the keys: {e}"));
            ExitCode::FAILURE
        }
    }
}

/// Tells stderr and, if it listens, syslog why the login is denied.
fn complain(message: &str) {
    eprintln!("labgate authorized-keys: {message}");
    to_syslog(message);
}

/// Sends one line to syslog, best effort: sshd throws its commands' stderr away, so this is
/// where an operator finds why logins are denied. Control characters are dropped.
pub fn to_syslog(message: &str) {
    let message: String = message.chars().filter(|c| !c.is_control()).collect();
    let socket = std::env::var_os("LABGATE_SYSLOG_SOCKET")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(SYSLOG_SOCKET));
    let line = format!(
        "<{SYSLOG_PRIORITY}>labgate-authorized-keys[{}]: {message}",
        std::process::id()
    );
    // Best effort and never blocking: a full or missing log must not hold up sshd.
    if let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() {
        let _ = sock.set_nonblocking(true);
        let _ = sock.send_to(line.as_bytes(), socket);
    }
}

/// Reads the credential, asks labgate, checks the answer; the whole body or an error.
fn fetch(args: &HelperArgs, deadline: Instant) -> Result<String, String> {
    let url = endpoint_url(&args.url, &args.deployment)?;
    let left = deadline.saturating_duration_since(Instant::now());
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(left)
        .timeout_read(left)
        .timeout_write(left)
        .timeout(left)
        .redirects(0)
        .user_agent(concat!(
            "labgate-authorized-keys/",
            env!("CARGO_PKG_VERSION")
        ))
        .build();
    let request = agent.get(&url);
    check_transport(&request, args.allow_http)?;
    let credential = read_credential(&args.credential_file)?;
    let mut request = request.set("Authorization", &format!("Bearer {credential}"));
    if let Some(user) = &args.user {
        request = request.query("user", user);
    }
    if let Some(fingerprint) = &args.fingerprint {
        request = request.query("fingerprint", fingerprint);
    }
    let response = match request.call() {
        Ok(response) => response,
        Err(ureq::Error::Status(code, _)) => {
            return Err(format!("labgate answered {code} for {url}"))
        }
        Err(ureq::Error::Transport(e)) => return Err(format!("could not ask labgate: {e}")),
    };
    if response.status() != 200 {
        return Err(format!("labgate answered {} for {url}", response.status()));
    }
    let mut body = Vec::new();
    response
        .into_reader()
        .take(MAX_BODY + 1)
        .read_to_end(&mut body)
        .map_err(|e| format!("could not read labgate's answer: {e}"))?;
    if body.len() as u64 > MAX_BODY {
        return Err("labgate's answer is too large".into());
    }
    if Instant::now() > deadline {
        return Err("labgate answered too late".into());
    }
    let body = String::from_utf8(body).map_err(|_| "labgate's answer is not UTF-8".to_owned())?;
    check_body(&body)?;
    Ok(body)
}

/// The endpoint for `deployment` under the base `url` (http or https, no query).
fn endpoint_url(url: &str, deployment: &str) -> Result<String, String> {
    let base = url.trim_end_matches('/');
    if !(base.starts_with("https://") || base.starts_with("http://")) {
        return Err("--url must start with https:// (or http://)".into());
    }
    if base.contains(['?', '#']) {
        return Err("--url must not have a query or fragment".into());
    }
    if deployment.is_empty()
        || !deployment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err("--deployment must be the robot's id (letters, digits and -)".into());
    }
    Ok(format!(
        "{base}/api/deployment/{deployment}/authorized_keys"
    ))
}

/// Refuses plain http to anything but this machine, unless `allow_http`. Decided on the URL
/// as the HTTP client itself parsed it, so the host checked is the host contacted.
fn check_transport(request: &ureq::Request, allow_http: bool) -> Result<(), String> {
    let url = request
        .request_url()
        .map_err(|e| format!("--url is not a usable URL: {e}"))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_http || is_loopback_host(url.host()) => Ok(()),
        "http" => Err(format!(
            "--url is plain http:// to {}, which is not this machine: anyone on the network \
             could add keys; use https://, or --allow-http on a trusted network",
            url.host()
        )),
        other => Err(format!("--url has the scheme {other}; use https://")),
    }
}

/// Whether `host` (as a URL spells it: IPv6 in brackets) is this machine: `localhost`,
/// 127.0.0.0/8 or ::1.
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Reads the credential, refusing a file anyone but its owner could read or change.
fn read_credential(path: &Path) -> Result<String, String> {
    let shown = path.display();
    let file = File::open(path).map_err(|e| format!("cannot open credential file {shown}: {e}"))?;
    // Checked on the open file, so the file read is the file checked.
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot inspect credential file {shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("credential file {shown} is not a regular file"));
    }
    check_mode(meta.permissions().mode())
        .map_err(|why| format!("credential file {shown} {why}; run: chmod 600 {shown}"))?;
    let mut text = String::new();
    file.take(MAX_CREDENTIAL + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read credential file {shown}: {e}"))?;
    if text.len() as u64 > MAX_CREDENTIAL {
        return Err(format!("credential file {shown} is too large"));
    }
    let credential = text.trim();
    if credential.is_empty() {
        return Err(format!("credential file {shown} is empty"));
    }
    if !credential.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "credential file {shown} must hold the credential alone on one line"
        ));
    }
    Ok(credential.to_owned())
}

/// Refuses permission bits that let group or others read or write (or run) the file.
pub fn check_mode(mode: u32) -> Result<(), String> {
    if mode & 0o077 == 0 {
        Ok(())
    } else {
        Err(format!(
            "is accessible by group or others (mode {:03o})",
            mode & 0o777
        ))
    }
}

/// Accepts only what the endpoint sends: whole lines that start with `restrict,` and hold no
/// control characters, the last one ended by a newline. An empty body is fine (nobody gets in).
pub fn check_body(body: &str) -> Result<(), String> {
    if body.is_empty() {
        return Ok(());
    }
    let Some(lines) = body.strip_suffix('\n') else {
        return Err("labgate's answer does not end with a newline".into());
    };
    for (n, line) in lines.split('\n').enumerate() {
        if !line.starts_with("restrict,") {
            return Err(format!(
                "line {} of labgate's answer is not a key line",
                n + 1
            ));
        }
        if line.chars().any(char::is_control) {
            return Err(format!(
                "line {} of labgate's answer has control characters",
                n + 1
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert!(check_mode(0o100600).is_ok());
        assert!(check_mode(0o100400).is_ok());
        assert!(check_mode(0o100700).is_ok());
        assert!(check_mode(0o100644).is_err());
        assert!(check_mode(0o100640).is_err());
        assert!(check_mode(0o100602).is_err());
        assert!(check_mode(0o100610).is_err());
        assert!(check_mode(0o100644).unwrap_err().contains("mode 644"));
    }

    #[test]
    fn bodies() {
        assert!(check_body("").is_ok());
        assert!(check_body("restrict,pty ssh-ed25519 AAAA\n").is_ok());
        assert!(check_body("restrict,pty a b\nrestrict,pty c d\n").is_ok());
        assert!(check_body("restrict,pty ssh-ed25519 AAAA").is_err());
        assert!(check_body("ssh-ed25519 AAAA\n").is_err());
        assert!(check_body("restrict,pty a\n\n").is_err());
        assert!(check_body("restrict,pty a\r\n").is_err());
        assert!(check_body("restrict,pty a\x1b[2J\n").is_err());
        assert!(check_body("restrict,pty a\nssh-rsa b\n").is_err());
        assert!(check_body("\n").is_err());
    }

    #[test]
    fn urls() {
        assert_eq!(
            endpoint_url("https://lab.example/", "3f2a-9c").unwrap(),
            "https://lab.example/api/deployment/3f2a-9c/authorized_keys"
        );
        assert!(endpoint_url("ftp://lab", "a").is_err());
        assert!(endpoint_url("https://lab?x=1", "a").is_err());
        assert!(endpoint_url("https://lab", "../tokens").is_err());
        assert!(endpoint_url("https://lab", "").is_err());
    }

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.9.8.7",
            "[::1]",
            "::1",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "192.0.2.1",
            "10.0.0.1",
            "[::2]",
            "localhost.evil.example",
            "lab",
            "",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn plain_http_only_to_this_machine_or_when_allowed() {
        let check = |url: &str, allow: bool| check_transport(&ureq::get(url), allow);
        assert!(check("https://lab.example/x", false).is_ok());
        for url in [
            "http://127.0.0.1:8000/x",
            "http://127.1/x",
            "http://localhost/x",
            "http://[::1]:8000/x",
        ] {
            assert!(check(url, false).is_ok(), "{url}");
        }
        for url in [
            "http://192.0.2.1/x",
            "http://lab.example/x",
            "http://127.0.0.1.evil.example/x",
            // The client's parser ends the host at the backslash: the host is evil.example.
            "http://evil.example\\@127.0.0.1/x",
            "http://127.0.0.1@evil.example/x",
        ] {
            let err = check(url, false).unwrap_err();
            assert!(err.contains("--allow-http"), "{url}: {err}");
            assert!(check(url, true).is_ok(), "{url} with --allow-http");
        }
    }
}
