//! Shared test scaffolding: a real server (Rocket's local client, or the real binary on a
//! socket) over a real SQLite file in a temporary directory.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use labgate::Config;
use rocket::http::{ContentType, Header, Status};
use rocket::local::blocking::{Client, LocalResponse};

/// A server on a temporary data directory, driven through Rocket's local client.
pub struct Lab {
    pub client: Client,
    pub dir: tempfile::TempDir,
}

impl Lab {
    /// A fresh server on an empty data directory.
    pub fn new() -> Lab {
        let dir = tempfile::tempdir().expect("temp dir");
        let client = client_for(dir.path());
        Lab { client, dir }
    }

    /// The data directory.
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The first admin's password: the generated one while it stands, else the one
    /// [`Lab::login_admin`] chose in its place.
    pub fn admin_password(&self) -> String {
        let initial = self.data().join("initial-admin-password");
        let file = if initial.exists() {
            initial
        } else {
            self.dir.path().join("admin-own-password")
        };
        std::fs::read_to_string(file)
            .expect("initial password file")
            .trim()
            .to_owned()
    }

    /// Stops this server and starts another on the same data directory.
    pub fn restart(self) -> Lab {
        let Lab { client, dir } = self;
        drop(client);
        let client = client_for(dir.path());
        Lab { client, dir }
    }

    /// Stops this server and starts one whose client keeps no cookies.
    pub fn into_untracked(self) -> (Client, tempfile::TempDir) {
        let Lab { client, dir } = self;
        drop(client);
        (untracked_client(dir.path()), dir)
    }

    /// Signs in as the first admin; the client keeps the cookie. The first time, the admin
    /// replaces the generated password through the Account form, as a person must before
    /// using any other page; [`Lab::admin_password`] then gives the new one.
    pub fn login_admin(&self) {
        let password = self.admin_password();
        self.login("admin", &password);
        if self.must_change() {
            let own = self.choose_own_password(&password);
            std::fs::write(self.dir.path().join("admin-own-password"), own)
                .expect("keep the admin's own password");
        }
    }

    /// Whether the signed-in account is sent to choose its own password first.
    pub fn must_change(&self) -> bool {
        let resp = self.client.get("/sshkeys").dispatch();
        let to_account = resp.status() == Status::SeeOther
            && resp.headers().get_one("Location") == Some("/account");
        // The flash it left is shown (and so used up) by this page.
        self.client.get("/account").dispatch();
        to_account
    }

    /// Replaces the signed-in account's password (set by an admin) through the Account form,
    /// as its member must at the first sign-in; returns the new password.
    pub fn choose_own_password(&self, current: &str) -> String {
        let own = format!("{current}-my-own");
        let resp = self.post_form(
            "/account/password",
            &[("current", current), ("new", &own), ("confirm", &own)],
        );
        assert_eq!(resp.status(), Status::SeeOther, "password change");
        assert_eq!(resp.headers().get_one("Location"), Some("/account"));
        // Shows (and so uses up) the "Password changed" flash.
        self.client.get("/account").dispatch();
        own
    }

    /// Signs in; panics when that fails.
    pub fn login(&self, username: &str, password: &str) {
        let resp = self.post_login(username, password, "127.0.0.1:5000");
        assert_eq!(resp.status(), Status::SeeOther, "login as {username}");
    }

    /// Posts the login form from `remote`, as a browser does after loading it.
    pub fn post_login(&self, username: &str, password: &str, remote: &str) -> LocalResponse<'_> {
        // Loading the form gives the browser its sign-in CSRF cookie.
        self.client.get("/login").dispatch();
        let token = self
            .client
            .cookies()
            .get("labgate_login")
            .expect("sign-in CSRF cookie")
            .value()
            .to_owned();
        self.client
            .post("/login")
            .remote(remote.parse().expect("socket address"))
            .header(ContentType::Form)
            .body(form(&[
                ("username", username),
                ("password", password),
                ("csrf_token", &token),
            ]))
            .dispatch()
    }

    /// Creates a member with the library calls the command line makes and returns the
    /// password. Unlike `labgate user add` it leaves the account as if its member had already
    /// chosen this password (`users::create` alone sets no must-change flag), so tests can sign
    /// in and use pages at once; tests/it/console.rs covers the forced change itself.
    pub fn add_user(&self, name: &str, admin: bool) -> String {
        let password = format!("pw-{name}-0123456789");
        let db = labgate::db::Db::open(&self.data().join("labgate.db")).expect("db");
        let hash = labgate::auth::users::hash_password(&password).expect("hash");
        db.write_blocking(|tx| labgate::auth::users::create(tx, name, &hash, admin))
            .expect("create user");
        password
    }

    /// The CSRF token of the signed-in session, read from a page as a browser would.
    pub fn csrf(&self) -> String {
        let body = self
            .client
            .get("/account")
            .dispatch()
            .into_string()
            .expect("body");
        csrf_from(&body).expect("csrf token on /account")
    }

    /// Posts a form with the session's CSRF token added.
    pub fn post_form(&self, uri: &str, fields: &[(&str, &str)]) -> LocalResponse<'_> {
        let token = self.csrf();
        let mut all = fields.to_vec();
        all.push(("csrf_token", &token));
        self.client
            .post(uri.to_owned())
            .header(ContentType::Form)
            .body(form(&all))
            .dispatch()
    }

    /// Like [`Lab::post_form`], as htmx sends it (header token, `HX-Request`).
    pub fn post_htmx(&self, uri: &str, fields: &[(&str, &str)]) -> LocalResponse<'_> {
        let token = self.csrf();
        self.client
            .post(uri.to_owned())
            .header(ContentType::Form)
            .header(Header::new("HX-Request", "true"))
            .header(Header::new("X-CSRF-Token", token))
            .body(form(fields))
            .dispatch()
    }

    /// GET as htmx does.
    pub fn get_htmx(&self, uri: &str) -> LocalResponse<'_> {
        self.client
            .get(uri.to_owned())
            .header(Header::new("HX-Request", "true"))
            .dispatch()
    }
}

/// A Rocket local client for a data directory under `root`; it keeps cookies like a browser.
pub fn client_for(root: &Path) -> Client {
    let config = Config::new(root.join("data"));
    let rocket = labgate::build(config).expect("server builds");
    Client::tracked(rocket).expect("valid rocket")
}

/// A client that keeps no cookies, for tests juggling several sessions by hand.
pub fn untracked_client(root: &Path) -> Client {
    let config = Config::new(root.join("data"));
    let rocket = labgate::build(config).expect("server builds");
    Client::untracked(rocket).expect("valid rocket")
}

/// Posts the sign-in form on an untracked client as a browser would after loading it.
pub fn login_response<'c>(client: &'c Client, username: &str, password: &str) -> LocalResponse<'c> {
    let page = client.get("/login").dispatch();
    let token = page
        .cookies()
        .get("labgate_login")
        .expect("sign-in CSRF cookie")
        .value()
        .to_owned();
    client
        .post("/login")
        .cookie(rocket::http::Cookie::new("labgate_login", token.clone()))
        .header(ContentType::Form)
        .body(form(&[
            ("username", username),
            ("password", password),
            ("csrf_token", &token),
        ]))
        .dispatch()
}

/// Signs in on an untracked client and returns the session cookie's value.
pub fn session_for(client: &Client, username: &str, password: &str) -> String {
    let resp = login_response(client, username, password);
    assert_eq!(resp.status(), Status::SeeOther, "login as {username}");
    resp.cookies()
        .get("labgate_session")
        .expect("session cookie")
        .value()
        .to_owned()
}

/// GET `uri` with a session cookie on an untracked client; returns status and body.
pub fn get_with(client: &Client, uri: &str, session: &str) -> (Status, String) {
    let resp = client
        .get(uri.to_owned())
        .cookie(rocket::http::Cookie::new(
            "labgate_session",
            session.to_owned(),
        ))
        .dispatch();
    let status = resp.status();
    (status, resp.into_string().unwrap_or_default())
}

/// URL-encodes form fields.
pub fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value of the first hidden `csrf_token` field in a page.
pub fn csrf_from(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf_token\" value=\"")? + "name=\"csrf_token\" value=\"".len();
    Some(html[at..].split('"').next()?.to_owned())
}

/// A port nobody listens on right now.
/// Every setting `labgate serve` reads from the environment: tests that spawn the binary
/// remove them all, so a developer's own shell cannot change what a test sees.
pub const LABGATE_ENV: [&str; 8] = [
    "LABGATE_ADDRESS",
    "LABGATE_PORT",
    "LABGATE_PUBLIC_URL",
    "LABGATE_DATA",
    "LABGATE_TOKEN_MAX_SECONDS",
    "LABGATE_IP_HEADER",
    "LABGATE_TRUSTED_PROXIES",
    "LABGATE_LOG",
];

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The labgate binary built for these tests.
pub fn labgate_bin() -> &'static str {
    env!("CARGO_BIN_EXE_labgate")
}

/// Runs `labgate ARGS` with `--data DIR` and returns (status, stdout, stderr).
pub fn cli(data: &Path, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    use std::io::Write;
    let mut child = Command::new(labgate_bin())
        .args(args)
        .arg("--data")
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run labgate");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("wait");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Adds a `ur5e` robot at `arm.lab` with `labgate deployment add` and returns its id.
pub fn cli_add_arm(data: &Path) -> String {
    let (ok, out, err) = cli(
        data,
        &["deployment", "add", "--type", "ur5e", "--host", "arm.lab"],
        None,
    );
    assert!(ok, "{err}");
    out.lines()
        .find_map(|l| l.strip_prefix("id: "))
        .expect("robot id")
        .to_owned()
}

/// The real binary serving on a free loopback port; killed on drop.
pub struct Served {
    pub child: Child,
    pub port: u16,
    pub url: String,
}

impl Served {
    /// Starts `labgate serve` on `data` and waits until `/alive` answers.
    pub fn start(data: &Path) -> Served {
        let port = free_port();
        let child = Command::new(labgate_bin())
            .args(["serve", "--port", &port.to_string(), "--data"])
            .arg(data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start labgate serve");
        let url = format!("http://127.0.0.1:{port}");
        let served = Served { child, port, url };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if ureq::get(&format!("{}/alive", served.url)).call().is_ok() {
                return served;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("labgate serve did not come up on port {port}");
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Signs in to a real server over HTTP as a browser would (load the form, post it with its
/// CSRF cookie) and returns the answer to the post; redirects are not followed.
pub fn web_login(url: &str, username: &str, password: &str) -> ureq::Response {
    web_login_with(url, username, password, &[])
}

/// [`web_login`] with `headers` added to the post (a proxy's address header, say).
pub fn web_login_with(
    url: &str,
    username: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> ureq::Response {
    try_web_login(url, username, password, headers).unwrap_or_else(|e| panic!("{e}"))
}

/// [`web_login_with`] for a server that may be gone (killed on purpose): a transport error is
/// returned, not a panic.
pub fn try_web_login(
    url: &str,
    username: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> Result<ureq::Response, String> {
    let agent = ureq::AgentBuilder::new()
        .redirects(0)
        .timeout(Duration::from_secs(30))
        .build();
    let page = agent
        .get(&format!("{url}/login"))
        .call()
        .map_err(|e| format!("login page: {e}"))?;
    let token = page
        .all("Set-Cookie")
        .into_iter()
        .find_map(|c| c.strip_prefix("labgate_login="))
        .and_then(|c| c.split(';').next())
        .ok_or("no sign-in CSRF cookie")?
        .to_owned();
    let mut post = agent
        .post(&format!("{url}/login"))
        .set("Cookie", &format!("labgate_login={token}"));
    for (name, value) in headers {
        post = post.set(name, value);
    }
    let answer = post.send_form(&[
        ("username", username),
        ("password", password),
        ("csrf_token", &token),
    ]);
    match answer {
        Ok(resp) | Err(ureq::Error::Status(_, resp)) => Ok(resp),
        Err(e) => Err(format!("login answer: {e}")),
    }
}

/// Signs in at the server at `url` and replaces the password (set by an admin) through the
/// Account form, as a person must at the first sign-in; returns the new password.
pub fn choose_own_password_at(url: &str, user: &str, current: &str) -> String {
    let own = format!("{current}-my-own");
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let cookie_of = |resp: &ureq::Response, name: &str| {
        resp.all("set-cookie")
            .into_iter()
            .find_map(|c| c.strip_prefix(&format!("{name}=")))
            .and_then(|c| c.split(';').next())
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("cookie {name}"))
    };
    let page = agent
        .get(&format!("{url}/login"))
        .call()
        .expect("GET /login");
    let login = cookie_of(&page, "labgate_login");
    let signed_in = agent
        .post(&format!("{url}/login"))
        .set("Cookie", &format!("labgate_login={login}"))
        .send_form(&[
            ("username", user),
            ("password", current),
            ("csrf_token", &login),
        ])
        .expect("POST /login");
    assert_eq!(signed_in.status(), 303, "sign in as {user}");
    let session = format!(
        "labgate_session={}",
        cookie_of(&signed_in, "labgate_session")
    );
    let account = agent
        .get(&format!("{url}/account"))
        .set("Cookie", &session)
        .call()
        .expect("GET /account")
        .into_string()
        .expect("account page");
    let csrf = csrf_from(&account).expect("csrf token on /account");
    let changed = agent
        .post(&format!("{url}/account/password"))
        .set("Cookie", &session)
        .send_form(&[
            ("current", current),
            ("new", &own),
            ("confirm", &own),
            ("csrf_token", &csrf),
        ])
        .expect("POST /account/password");
    assert_eq!(changed.status(), 303, "password change of {user}");
    own
}
