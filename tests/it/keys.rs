//! SSH keys: the `/sshkeys` page and its fragments, `/USER.keys`, the keys API, with keys made
//! by the real `ssh-keygen` and fingerprints compared with what it prints.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use labgate::auth::User;
use rocket::http::{ContentType, Header, Status};
use rocket::local::blocking::LocalResponse;
use serde_json::Value;

use crate::common::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keys/");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}{name}")).expect("fixture")
}

/// A key pair made by `ssh-keygen`, with what `ssh-keygen -l -E sha256` says about it.
struct Made {
    /// Contents of the `.pub` file.
    public: String,
    /// `TYPE BASE64`, the first two fields of the `.pub` file.
    canonical: String,
    fingerprint: String,
    bits: u32,
    pub_path: PathBuf,
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run ssh-keygen");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Generates `dir/file` with `ssh-keygen ARGS` and reads its fingerprint the way a person would.
fn keygen(dir: &Path, file: &str, args: &[&str], comment: &str) -> Made {
    let path = dir.join(file);
    run(Command::new("ssh-keygen")
        .args(["-q", "-N", "", "-C", comment, "-f"])
        .arg(&path)
        .args(args));
    let pub_path = dir.join(format!("{file}.pub"));
    let public = std::fs::read_to_string(&pub_path).expect("pub file");
    let listing = run(Command::new("ssh-keygen")
        .args(["-l", "-E", "sha256", "-f"])
        .arg(&pub_path));
    let mut words = listing.split_whitespace();
    let bits = words.next().and_then(|b| b.parse().ok()).expect("bits");
    let fingerprint = words.next().expect("fingerprint").to_owned();
    assert!(fingerprint.starts_with("SHA256:"));
    let canonical = public
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    Made {
        public,
        canonical,
        fingerprint,
        bits,
        pub_path,
    }
}

fn ed25519(dir: &Path, file: &str, comment: &str) -> Made {
    keygen(dir, file, &["-t", "ed25519"], comment)
}

/// Text as the templates escape it.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;")
}

fn unesc(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

/// A server with member `alice` signed in.
fn alice_lab() -> Lab {
    let lab = Lab::new();
    let pw = lab.add_user("alice", false);
    lab.login("alice", &pw);
    lab
}

fn page(lab: &Lab) -> String {
    let resp = lab.client.get("/sshkeys").dispatch();
    assert_eq!(resp.status(), Status::Ok);
    resp.into_string().expect("body")
}

/// Posts the form without JavaScript; returns status, Location and body.
fn add(lab: &Lab, name: &str, key: &str) -> (Status, Option<String>, String) {
    let resp = lab.post_form("/sshkeys", &[("key", key), ("name", name)]);
    let location = resp.headers().get_one("Location").map(str::to_owned);
    (
        resp.status(),
        location,
        resp.into_string().unwrap_or_default(),
    )
}

/// Adds a key that must be accepted (plain form post).
fn add_ok(lab: &Lab, name: &str, key: &str) {
    let (status, location, body) = add(lab, name, key);
    assert_eq!(status, Status::SeeOther, "adding {name}: {body}");
    assert_eq!(location.as_deref(), Some("/sshkeys"));
}

/// The rows of the keys table: (id, html of the row).
fn rows(html: &str) -> Vec<(i64, String)> {
    html.split("<tr id=\"key-")
        .skip(1)
        .map(|rest| {
            let id = rest
                .split('"')
                .next()
                .and_then(|n| n.parse().ok())
                .expect("row id");
            let row = rest.split("</tr>").next().expect("row").to_owned();
            (id, row)
        })
        .collect()
}

/// The row showing the key named `name`.
fn row_named(html: &str, name: &str) -> (i64, String) {
    let cell = format!("class=\"key-name\">{}</td>", esc(name));
    rows(html)
        .into_iter()
        .find(|(_, row)| row.contains(&cell))
        .unwrap_or_else(|| panic!("no row for {name} in {html}"))
}

/// The message shown beside a field of the form.
/// The message under `field`, in the words the API uses: the page shows the message's
/// `backtick` spans as `<code>`, which reads back as the backticks here.
fn field_error(html: &str, field: &str) -> Option<String> {
    let start = format!("<p id=\"{field}-error\" class=\"field-error\">");
    let at = html.find(&start)? + start.len();
    let shown = html[at..].split("</p>").next()?;
    Some(unesc(&shown.replace("<code>", "`").replace("</code>", "`")))
}

fn toast_of(resp: &LocalResponse<'_>) -> String {
    let header = resp.headers().get_one("HX-Trigger").expect("HX-Trigger");
    let value: Value = serde_json::from_str(header).expect("JSON trigger");
    value["toast"]["message"]
        .as_str()
        .expect("toast message")
        .to_owned()
}

fn open_db(lab: &Lab) -> labgate::db::Db {
    labgate::db::Db::open(&lab.data().join("labgate.db")).expect("db")
}

fn count_keys(lab: &Lab) -> i64 {
    open_db(lab)
        .run_blocking(|c| Ok(c.query_row("SELECT COUNT(*) FROM ssh_keys", [], |r| r.get(0))?))
        .expect("count")
}

fn user(lab: &Lab, username: &str) -> User {
    let account = open_db(lab)
        .run_blocking(|c| labgate::auth::users::require(c, username))
        .expect("user");
    User {
        id: account.id,
        username: account.username,
        is_admin: account.is_admin,
    }
}

fn switch_to(lab: &Lab, username: &str) {
    lab.login(username, &format!("pw-{username}-0123456789"));
}

#[test]
fn every_accepted_type_is_listed_with_ssh_keygens_fingerprint() {
    let lab = alice_lab();
    let tmp = tempfile::tempdir().expect("tmp");
    let made = [
        (
            "ed25519",
            "ED25519 (256 bits)",
            ed25519(tmp.path(), "ed", "alice@laptop"),
        ),
        (
            "p256",
            "ECDSA P-256",
            keygen(tmp.path(), "p256", &["-t", "ecdsa", "-b", "256"], "a@b"),
        ),
        (
            "p384",
            "ECDSA P-384",
            keygen(tmp.path(), "p384", &["-t", "ecdsa", "-b", "384"], "a@b"),
        ),
        (
            "p521",
            "ECDSA P-521",
            keygen(tmp.path(), "p521", &["-t", "ecdsa", "-b", "521"], "a@b"),
        ),
        (
            "rsa 3072",
            "RSA (3072 bits)",
            keygen(tmp.path(), "rsa", &["-t", "rsa", "-b", "3072"], "a@b"),
        ),
    ];
    for (name, _, key) in &made {
        add_ok(&lab, name, &key.public);
    }
    let html = page(&lab);
    assert!(
        html.contains("SSH key rsa 3072 added."),
        "flash after the redirect"
    );
    let shown = rows(&html);
    assert_eq!(shown.len(), made.len());
    assert!(
        shown[0].1.contains("rsa 3072"),
        "the newest key is on top: {}",
        shown[0].1
    );
    for (name, label, key) in &made {
        let (_, row) = row_named(&html, name);
        assert!(
            row.contains(&format!(
                "<code class=\"fingerprint\">{}</code>",
                esc(&key.fingerprint)
            )),
            "{name}: ssh-keygen says {} but the row is {row}",
            key.fingerprint
        );
        assert!(row.contains(label), "{name}: {label} in {row}");
        assert!(
            label.contains(&key.bits.to_string()),
            "{label} {}",
            key.bits
        );
        assert!(row.contains("a@b") || row.contains("alice@laptop"));
        assert!(row.contains(">never<"), "never used yet: {row}");
    }
    // The stored, served line is exactly `type base64` from the .pub file.
    let served = lab.client.get("/alice.keys").dispatch();
    let served = served.into_string().expect("body");
    for (_, _, key) in &made {
        assert!(served.contains(&format!("{}\n", key.canonical)));
    }
}

#[test]
fn security_keys_and_rfc4716_blocks_are_accepted() {
    let lab = alice_lab();
    let listing = fixture("fingerprints.txt");
    let expected = |file: &str| -> String {
        let line = listing
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{file}: ")))
            .expect("listed");
        line.split(' ').nth(1).expect("fingerprint").to_owned()
    };
    add_ok(&lab, "yubikey ed", &fixture("sk-ed25519.pub"));
    add_ok(&lab, "yubikey ec", &fixture("sk-ecdsa.pub"));
    let tmp = tempfile::tempdir().expect("tmp");
    let key = ed25519(tmp.path(), "conv", "");
    let block = run(Command::new("ssh-keygen")
        .args(["-e", "-f"])
        .arg(&key.pub_path));
    assert!(block.starts_with("---- BEGIN SSH2 PUBLIC KEY ----"));
    add_ok(&lab, "converted", &block);
    let html = page(&lab);
    for (name, fp, label) in [
        ("yubikey ed", expected("sk-ed25519.pub"), "ED25519-SK"),
        ("yubikey ec", expected("sk-ecdsa.pub"), "ECDSA-SK P-256"),
        ("converted", key.fingerprint.clone(), "ED25519 (256 bits)"),
    ] {
        let (_, row) = row_named(&html, name);
        assert!(row.contains(&esc(&fp)), "{name}: {fp} in {row}");
        assert!(row.contains(label), "{name}: {label} in {row}");
    }
    let served = lab.client.get("/alice.keys").dispatch().into_string();
    assert!(served.expect("body").contains(&key.canonical));
}

/// Whether OpenSSH itself loads `line` as a public key (`ssh-keygen -l` reads it with
/// `sshkey_read`, as sshd reads authorized_keys).
fn openssh_loads(dir: &Path, line: &str) -> bool {
    let path = dir.join("probe.pub");
    std::fs::write(&path, format!("{line}\n")).expect("write probe");
    Command::new("ssh-keygen")
        .args(["-l", "-f"])
        .arg(&path)
        .output()
        .expect("run ssh-keygen")
        .status
        .success()
}

/// `blob` with its last length-prefixed field (an ECDSA key's SEC1 point) replaced by `point`.
fn with_last_field(blob: &[u8], point: &[u8]) -> Vec<u8> {
    let mut rest = blob;
    let mut out = Vec::new();
    while let Some((len, tail)) = rest.split_first_chunk::<4>() {
        let len = u32::from_be_bytes(*len) as usize;
        let field = &tail[..len];
        rest = &tail[len..];
        let field = if rest.is_empty() { point } else { field };
        out.extend_from_slice(&(field.len() as u32).to_be_bytes());
        out.extend_from_slice(field);
    }
    out
}

#[test]
fn keys_openssh_refuses_are_refused_on_the_page_and_by_the_api() {
    let lab = alice_lab();
    let token = token_for(&lab, "alice", "rw");
    let tmp = tempfile::tempdir().expect("tmp");
    // (what, line, words the message must hold), each made from a fresh ssh-keygen key.
    let mut hostile: Vec<(String, String, &str)> = Vec::new();
    let mut genuine = Vec::new();
    for bits in ["256", "384", "521"] {
        let made = keygen(
            tmp.path(),
            &format!("p{bits}"),
            &["-t", "ecdsa", "-b", bits],
            "lab",
        );
        let (label, data) = made.canonical.split_once(' ').expect("two fields");
        assert!(data.ends_with('='), "P-{bits} data is padded");
        hostile.push((
            format!("P-{bits} without its padding"),
            format!("{label} {} lab", data.trim_end_matches('=')),
            "cut short or altered",
        ));
        let mut blob = STANDARD.decode(data).expect("base64");
        if let Some(last) = blob.last_mut() {
            *last ^= 1;
        }
        hostile.push((
            format!("P-{bits} point moved off its curve"),
            format!("{label} {} lab", STANDARD.encode(&blob)),
            "not on the curve",
        ));
        genuine.push(made);
    }
    // A real P-256 point with a tiny x coordinate: on the curve, refused by OpenSSH.
    let small = (1u8..=255)
        .find_map(|x| {
            let mut compressed = [0u8; 33];
            compressed[0] = 0x02;
            compressed[32] = x;
            p256::PublicKey::from_sec1_bytes(&compressed).ok()
        })
        .expect("a small x on P-256");
    use p256::elliptic_curve::sec1::ToEncodedPoint as _;
    let (label, data) = genuine[0].canonical.split_once(' ').expect("two fields");
    let blob = STANDARD.decode(data).expect("base64");
    let blob = with_last_field(&blob, small.to_encoded_point(false).as_bytes());
    hostile.push((
        "P-256 point with a short coordinate".into(),
        format!("{label} {} lab", STANDARD.encode(blob)),
        "unsafe",
    ));

    for (what, line, says) in &hostile {
        assert!(!openssh_loads(tmp.path(), line), "OpenSSH loads {what}");
        let (status, _, body) = add(&lab, "x", line);
        assert_eq!(status, Status::UnprocessableEntity, "page: {what}");
        let shown = field_error(&body, "key").expect("message beside the key");
        assert!(shown.contains(says), "page: {what}: {shown}");
        let body = new_key("x", line);
        let (status, err) = api(&lab, "POST", "/api/sshkeys", &token, Some((&body, None)));
        assert_eq!(status, Status::UnprocessableEntity, "api: {what}");
        assert_eq!(
            err["error_message"].as_str(),
            Some(shown.as_str()),
            "{what}"
        );
    }
    assert_eq!(count_keys(&lab), 0);
    // The keys they were made from load in OpenSSH and here, with its fingerprints.
    for made in &genuine {
        assert!(openssh_loads(tmp.path(), made.public.trim()));
        let body = new_key(&format!("P-{}", made.bits), &made.public);
        let (status, key) = api(&lab, "POST", "/api/sshkeys", &token, Some((&body, None)));
        assert_eq!(status, Status::Created, "{}: {key}", made.canonical);
        assert_eq!(key["fingerprint"].as_str(), Some(made.fingerprint.as_str()));
    }
}

#[test]
fn every_refusal_says_exactly_what_is_wrong_and_keeps_the_text() {
    let lab = alice_lab();
    let ed = fixture("ed25519.pub");
    let ed_line = ed.trim();
    let ed_data = ed_line.split(' ').nth(1).expect("data");
    let p256 = fixture("ecdsa256.pub");
    let cases: Vec<(&str, String, &str, &str)> = vec![
        ("empty", String::new(), "key", "No key was entered"),
        ("blank", " \r\n\t ".into(), "key", "No key was entered"),
        (
            "private",
            fixture("id_ed25519"),
            "key",
            "This is a PRIVATE key",
        ),
        ("private pem", fixture("ecdsa256.pem"), "key", "PRIVATE key"),
        (
            "dsa",
            fixture("dsa.pub"),
            "key",
            "DSA (ssh-dss) keys are obsolete",
        ),
        ("rsa 1024", fixture("rsa1024.pub"), "key", "only 1024 bits"),
        ("certificate", fixture("cert.pub"), "key", "SSH certificate"),
        (
            "two keys",
            format!("{ed}{p256}"),
            "key",
            "more than one key",
        ),
        (
            "options",
            format!("no-pty {ed_line}"),
            "key",
            "authorized_keys options",
        ),
        (
            "command option",
            format!("command=\"rm -rf ~\" {ed_line}"),
            "key",
            "authorized_keys options",
        ),
        (
            "mismatch",
            format!("ssh-rsa {ed_data} x"),
            "key",
            "says it is",
        ),
        (
            "bad base64",
            "ssh-ed25519 AAAAC3Nz!!!aC1lZDI1NTE5 x".into(),
            "key",
            "not valid base64",
        ),
        (
            "truncated",
            format!("ssh-ed25519 {}", &ed_data[..32]),
            "key",
            "This is not a valid SSH public key",
        ),
        (
            "no data",
            "ssh-ed25519".into(),
            "key",
            "key data after the key type is missing",
        ),
        (
            "unknown type",
            format!("ssh-foo {ed_data}"),
            "key",
            "is not supported",
        ),
        (
            "too long",
            format!("ssh-ed25519 {}", "A".repeat(9000)),
            "key",
            "far longer than any SSH public key",
        ),
        (
            "nul",
            format!("{ed_line}\u{0}x"),
            "key",
            "invisible control characters",
        ),
        (
            "escape",
            format!("{ed_line} \u{1b}[31m"),
            "key",
            "invisible control characters",
        ),
    ];
    for (what, input, field, expected) in &cases {
        let (status, _, body) = add(&lab, "some name", input);
        assert_eq!(status, Status::UnprocessableEntity, "{what}");
        assert!(
            body.contains("<html"),
            "{what}: the whole page without htmx"
        );
        let message = field_error(&body, field)
            .unwrap_or_else(|| panic!("{what}: no message beside {field}: {body}"));
        assert!(
            message.contains(expected),
            "{what}: expected {expected:?}, got {message:?}"
        );
        assert_eq!(
            body.matches("class=\"field-error\"").count(),
            1,
            "{what}: one precise message"
        );
        assert!(
            body.contains("aria-invalid=\"true\""),
            "{what}: field marked"
        );
        assert!(body.contains(&format!("aria-describedby=\"{field}-error ")));
        let kept = input.trim().chars().take(40).collect::<String>();
        if what.starts_with("private") {
            assert!(
                body.contains("key-hint\" aria-invalid=\"true\" autofocus></textarea>"),
                "{what}: a private key is never sent back"
            );
            assert!(!body.contains("PRIVATE KEY-----"));
        } else {
            assert!(body.contains(&esc(&kept)), "{what}: the text is kept");
        }
        assert!(
            body.contains("value=\"some name\""),
            "{what}: the name is kept"
        );
    }
    assert_eq!(count_keys(&lab), 0, "nothing refused was stored");
}

#[test]
fn name_rules_are_enforced_with_messages_beside_the_name() {
    let lab = alice_lab();
    let tmp = tempfile::tempdir().expect("tmp");
    let with_comment = ed25519(tmp.path(), "a", "alice@laptop");
    let bare = ed25519(tmp.path(), "b", "");
    let long: String = "n".repeat(65);
    let cases: Vec<(&str, &str, &str)> = vec![
        (
            long.as_str(),
            &bare.public,
            "The name is 65 characters long",
        ),
        ("tab\there", &bare.public, "control characters"),
        ("line\nbreak", &bare.public, "control characters"),
        ("evil\u{202e}txt.exe", &bare.public, "control characters"),
        ("   ", &bare.public, "no comment to use as its name"),
    ];
    for (name, key, expected) in &cases {
        let (status, _, body) = add(&lab, name, key);
        assert_eq!(status, Status::UnprocessableEntity, "{name:?}");
        let message = field_error(&body, "name").unwrap_or_else(|| panic!("{name:?}: {body}"));
        assert!(message.contains(expected), "{name:?}: {message}");
        assert!(field_error(&body, "key").is_none());
    }
    // 64 characters after trimming are fine; an empty name takes the comment.
    add_ok(&lab, &format!("  {}  ", "é".repeat(64)), &bare.public);
    add_ok(&lab, "", &with_comment.public);
    let html = page(&lab);
    row_named(&html, &"é".repeat(64));
    row_named(&html, "alice@laptop");
    // Names are unique per user.
    let third = ed25519(tmp.path(), "c", "other");
    let (status, _, body) = add(&lab, " alice@laptop ", &third.public);
    assert_eq!(status, Status::UnprocessableEntity);
    assert_eq!(
        field_error(&body, "name").as_deref(),
        Some("You already have a key named alice@laptop; choose another name.")
    );
}

#[test]
fn a_second_line_cannot_be_smuggled_in() {
    let lab = alice_lab();
    let tmp = tempfile::tempdir().expect("tmp");
    let mine = ed25519(tmp.path(), "mine", "alice@laptop");
    let theirs = ed25519(tmp.path(), "theirs", "intruder");
    let attempts = [
        format!("{}\n{}", mine.public.trim(), theirs.public.trim()),
        format!("{}\r\n{}", mine.public.trim(), theirs.public.trim()),
        format!(
            "{}\rcommand=\"sh\" {}",
            mine.public.trim(),
            theirs.canonical
        ),
        format!(
            "{} comment\nno-pty,command=\"curl x|sh\" {}",
            mine.canonical, theirs.canonical
        ),
        format!("{}\n{}", mine.canonical, "extra words"),
    ];
    for attempt in &attempts {
        let (status, _, body) = add(&lab, "", attempt);
        assert_eq!(status, Status::UnprocessableEntity, "{attempt:?}");
        let message = field_error(&body, "key").expect("message");
        assert!(
            message.contains("more than one key") || message.contains("single line"),
            "{attempt:?}: {message}"
        );
    }
    assert_eq!(count_keys(&lab), 0);
    let served = lab.client.get("/alice.keys").dispatch();
    assert_eq!(served.status(), Status::Ok);
    assert_eq!(served.into_string().as_deref(), Some(""));
}

#[test]
fn duplicates_are_caught_on_the_same_and_on_another_account() {
    let lab = alice_lab();
    lab.add_user("bob", false);
    let tmp = tempfile::tempdir().expect("tmp");
    let key = ed25519(tmp.path(), "k", "shared@host");
    add_ok(&lab, "workbench", &key.public);
    // The same key again, with another comment, or converted: it is the fingerprint that counts.
    let recommented = format!("{} something else", key.canonical);
    let block = run(Command::new("ssh-keygen")
        .args(["-e", "-f"])
        .arg(&key.pub_path));
    for again in [key.public.clone(), recommented, block] {
        let (status, _, body) = add(&lab, "another name", &again);
        assert_eq!(status, Status::UnprocessableEntity);
        assert_eq!(
            field_error(&body, "key").as_deref(),
            Some("This key is already on your account as workbench.")
        );
    }
    switch_to(&lab, "bob");
    let (status, _, body) = add(&lab, "bobs", &key.public);
    assert_eq!(status, Status::UnprocessableEntity);
    assert_eq!(
        field_error(&body, "key").as_deref(),
        Some("This key is already registered to another account.")
    );
    assert!(!body.contains("alice"), "the other account is not named");
    assert!(!body.contains("workbench"), "nor the key's name there");
    assert_eq!(count_keys(&lab), 1);
}

#[test]
fn htmx_add_returns_a_fresh_form_the_list_out_of_band_and_a_toast() {
    let lab = alice_lab();
    let tmp = tempfile::tempdir().expect("tmp");
    let first = ed25519(tmp.path(), "first", "one@lab");
    let second = ed25519(tmp.path(), "second", "two@lab");

    let html = page(&lab);
    assert!(html.contains("No SSH keys yet."), "empty state");
    assert!(html.contains("upload new public key"));
    assert!(html.contains("<label for=\"key-text\">Key text</label>"));
    assert!(html.contains("ssh-keygen -t ed25519 -f demokey"));
    assert!(html.contains("<button type=\"submit\" class=\"primary\">submit</button>"));

    let resp = lab.post_htmx("/sshkeys", &[("key", &first.public), ("name", "")]);
    assert_eq!(resp.status(), Status::Ok);
    assert_eq!(toast_of(&resp), "SSH key one@lab added.");
    let body = resp.into_string().expect("body");
    assert!(!body.contains("<html"), "a fragment, not a page");
    assert!(body.trim_start().starts_with("<form id=\"key-form\""));
    assert!(
        body.contains("name=\"key\" class=\"key\" rows=\"4\" required"),
        "form"
    );
    assert!(
        body.contains("></textarea>"),
        "the fresh form is empty: {body}"
    );
    assert!(body.contains("<div id=\"keys-list\" hx-swap-oob=\"true\">"));
    assert!(
        !body.contains("No SSH keys yet."),
        "the empty state is replaced"
    );
    let shown = rows(&body);
    assert_eq!(shown.len(), 1);
    assert!(shown[0].1.contains(&esc(&first.fingerprint)));
    assert!(shown[0]
        .1
        .starts_with(&format!("{}\" class=\"new\"", shown[0].0)));

    let resp = lab.post_htmx("/sshkeys", &[("key", &second.public), ("name", "desk")]);
    assert_eq!(toast_of(&resp), "SSH key desk added.");
    let body = resp.into_string().expect("body");
    let shown = rows(&body);
    assert_eq!(shown.len(), 2);
    assert!(shown[0].1.contains("desk"), "the new row is on top");
    assert!(shown[0].1.contains("class=\"new\""));
    assert!(!shown[1].1.contains("class=\"new\""));

    // Refused with htmx: 422 and only the form, text kept, message tied to the field.
    let resp = lab.post_htmx("/sshkeys", &[("key", &second.public), ("name", "again")]);
    assert_eq!(resp.status(), Status::UnprocessableEntity);
    let body = resp.into_string().expect("body");
    assert!(body.trim_start().starts_with("<form id=\"key-form\""));
    assert!(!body.contains("<html") && !body.contains("keys-list"));
    assert_eq!(
        field_error(&body, "key").as_deref(),
        Some("This key is already on your account as desk.")
    );
    assert!(body.contains(&esc(second.public.trim())), "text kept");
    assert!(body.contains("value=\"again\""));
    assert!(body.contains("aria-invalid=\"true\" autofocus"));
}

#[test]
fn get_serves_the_page_or_the_list_fragment() {
    let lab = alice_lab();
    let resp = lab.get_htmx("/sshkeys");
    assert_eq!(resp.status(), Status::Ok);
    assert_eq!(
        resp.headers().get_one("Vary"),
        Some("HX-Request, HX-Boosted, HX-History-Restore-Request")
    );
    let body = resp.into_string().expect("body");
    assert!(!body.contains("<html"));
    assert!(body.trim_start().starts_with("<div id=\"keys-list\">"));
    assert!(body.contains("No SSH keys yet."));
    add_ok(&lab, "k", &fixture("ed25519.pub"));
    let body = lab.get_htmx("/sshkeys").into_string().expect("body");
    assert_eq!(rows(&body).len(), 1);
    assert!(body.contains("href=\"/alice.keys\""));
    assert!(!body.contains("key-form"));
    let html = page(&lab);
    assert!(html.contains("<html") && html.contains("key-form") && html.contains("keys-list"));
    assert!(html.contains("<th scope=\"col\">Fingerprint</th>"));
    assert!(html.contains("data-label=\"Last used\""));
}

#[test]
fn last_used_shows_when_and_on_which_robot() {
    let lab = alice_lab();
    add_ok(&lab, "used", &fixture("ed25519.pub"));
    add_ok(&lab, "unused", &fixture("ecdsa256.pub"));
    let at = labgate::db::now() - 120;
    open_db(&lab)
        .write_blocking(|tx| {
            Ok(tx.execute(
                "UPDATE ssh_keys SET last_used = ?1, last_used_on = 'ur5e-1' WHERE name = 'used'",
                [at],
            )?)
        })
        .expect("update");
    let html = page(&lab);
    let (_, row) = row_named(&html, "used");
    assert!(row.contains(">2 min ago</time> on ur5e-1"), "{row}");
    let (_, row) = row_named(&html, "unused");
    assert!(row.contains(">never</td>"), "{row}");
}

#[test]
fn delete_without_javascript_redirects_with_a_flash() {
    let lab = alice_lab();
    add_ok(&lab, "gone soon", &fixture("ed25519.pub"));
    let (id, row) = row_named(&page(&lab), "gone soon");
    // Without JavaScript the button opens a confirmation page (tests/it/console.rs), whose
    // own form posts here.
    assert!(row.contains(&format!(
        "<form method=\"get\" action=\"/sshkeys/{id}/delete\" hx-post=\"/sshkeys/{id}/delete\" \
         hx-target=\"closest tr\" hx-swap=\"outerHTML\" \
         hx-confirm=\"Delete the SSH key gone soon? It stops working at once, on running instances too. This cannot be undone.\">"
    )));
    let resp = lab.post_form(&format!("/sshkeys/{id}/delete"), &[]);
    assert_eq!(resp.status(), Status::SeeOther);
    assert_eq!(resp.headers().get_one("Location"), Some("/sshkeys"));
    let html = page(&lab);
    assert!(html.contains("SSH key gone soon deleted."));
    assert!(rows(&html).is_empty());
    assert!(html.contains("No SSH keys yet."));
    // Gone is gone: a second delete is 404.
    let resp = lab.post_form(&format!("/sshkeys/{id}/delete"), &[]);
    assert_eq!(resp.status(), Status::NotFound);
    // Both events are in the security log, with name and fingerprint.
    let account = lab.client.get("/account").dispatch().into_string().unwrap();
    let detail = format!(
        "gone soon ({})",
        esc("SHA256:h0N+jqrLuxTkBe2IdP21OVpTEGhBXGbPEXFrhXOb0BE")
    );
    assert!(account.contains("SSH key added</td>") && account.contains(&detail));
    assert!(account.contains("SSH key deleted</td>"));
    assert_eq!(account.matches(&detail).count(), 2, "{account}");
}

#[test]
fn delete_with_htmx_removes_the_row_then_brings_back_the_empty_state() {
    let lab = alice_lab();
    add_ok(&lab, "one", &fixture("ed25519.pub"));
    add_ok(&lab, "two", &fixture("ecdsa256.pub"));
    let html = page(&lab);
    let (one, _) = row_named(&html, "one");
    let (two, _) = row_named(&html, "two");

    let resp = lab.post_htmx(&format!("/sshkeys/{one}/delete"), &[]);
    assert_eq!(resp.status(), Status::Ok);
    assert_eq!(toast_of(&resp), "SSH key one deleted.");
    assert!(resp.headers().get_one("HX-Retarget").is_none());
    assert_eq!(
        resp.into_string().as_deref(),
        Some(""),
        "the row is swapped away"
    );

    let resp = lab.post_htmx(&format!("/sshkeys/{two}/delete"), &[]);
    assert_eq!(resp.status(), Status::Ok);
    assert_eq!(toast_of(&resp), "SSH key two deleted.");
    assert_eq!(resp.headers().get_one("HX-Retarget"), Some("#keys-list"));
    assert_eq!(resp.headers().get_one("HX-Reswap"), Some("outerHTML"));
    let body = resp.into_string().expect("body");
    assert!(body.trim_start().starts_with("<div id=\"keys-list\">"));
    assert!(body.contains("No SSH keys yet."));
    assert!(!body.contains("<html"));
    assert_eq!(count_keys(&lab), 0);

    // A delete without the CSRF token is refused and deletes nothing.
    add_ok(&lab, "kept", &fixture("ed25519.pub"));
    let (kept, _) = row_named(&page(&lab), "kept");
    let resp = lab
        .client
        .post(format!("/sshkeys/{kept}/delete"))
        .header(ContentType::Form)
        .header(Header::new("HX-Request", "true"))
        .dispatch();
    assert_eq!(resp.status(), Status::Forbidden);
    assert_eq!(count_keys(&lab), 1);
}

#[test]
fn two_users_see_and_touch_only_their_own_keys() {
    let lab = alice_lab();
    lab.add_user("bob", false);
    add_ok(&lab, "alice key", &fixture("ed25519.pub"));
    let (alice_id, _) = row_named(&page(&lab), "alice key");

    switch_to(&lab, "bob");
    add_ok(&lab, "bob key", &fixture("ecdsa384.pub"));
    let html = page(&lab);
    assert_eq!(rows(&html).len(), 1);
    assert!(!html.contains("alice key"));
    let resp = lab.post_form(&format!("/sshkeys/{alice_id}/delete"), &[]);
    assert_eq!(resp.status(), Status::NotFound);
    let resp = lab.post_htmx(&format!("/sshkeys/{alice_id}/delete"), &[]);
    assert_eq!(resp.status(), Status::NotFound);
    assert!(
        resp.headers().get_one("HX-Trigger").is_some(),
        "an error toast"
    );
    for junk in ["abc", "-1", "99999999999999999999999"] {
        let resp = lab.post_form(&format!("/sshkeys/{junk}/delete"), &[]);
        assert_eq!(resp.status(), Status::NotFound, "{junk}");
    }
    assert_eq!(count_keys(&lab), 2);

    switch_to(&lab, "alice");
    let html = page(&lab);
    assert_eq!(rows(&html).len(), 1);
    assert!(html.contains("alice key") && !html.contains("bob key"));
    // Names are per user: alice may use bob's name.
    add_ok(&lab, "bob key", &fixture("ecdsa521.pub"));
    let alice = labgate::keys::list_for(
        &labgate::db::connect(&lab.data().join("labgate.db")).expect("conn"),
        &user(&lab, "alice"),
    )
    .expect("list");
    assert_eq!(alice.len(), 2);
    assert_eq!(alice[0].name, "bob key");
    assert_eq!(alice[0].type_label, "ECDSA P-521");
}

#[test]
fn user_keys_file_serves_bare_lines_and_404s_otherwise() {
    let lab = alice_lab();
    lab.add_user("bob", false);
    lab.add_user("carol", false);
    add_ok(&lab, "first", &fixture("ed25519.pub"));
    add_ok(&lab, "second", &fixture("rsa2048.pub"));
    let resp = lab.client.get("/alice.keys").dispatch();
    assert_eq!(resp.status(), Status::Ok);
    assert_eq!(resp.content_type(), Some(ContentType::Plain));
    let text = resp.into_string().expect("body");
    let expected: String = ["ed25519.pub", "rsa2048.pub"]
        .iter()
        .map(|f| {
            let line = fixture(f);
            let mut words = line.split_whitespace();
            format!("{} {}\n", words.next().unwrap(), words.next().unwrap())
        })
        .collect();
    assert_eq!(text, expected, "type and base64 only, oldest first");
    assert!(!text.contains("alice@lab") && !text.contains("bob@lab"));

    // Anyone may read it, signed in or not.
    let (client, _dir) = lab.into_untracked();
    assert_eq!(
        client
            .get("/alice.keys")
            .dispatch()
            .into_string()
            .as_deref(),
        Some(expected.as_str())
    );
    let resp = client.get("/bob.keys").dispatch();
    assert_eq!(resp.status(), Status::Ok);
    assert_eq!(resp.into_string().as_deref(), Some(""), "no keys, no lines");
    for missing in [
        "/nobody.keys",
        "/Alice.keys",
        "/alice.key",
        "/alice",
        "/.keys",
        "/..keys",
        "/alice.keys.keys",
        "/%2e%2e.keys",
        "/alice%0a.keys",
    ] {
        let resp = client.get(missing).dispatch();
        assert_eq!(resp.status(), Status::NotFound, "{missing}");
    }
    // Other routes are untouched by the catch-all segment.
    assert_eq!(client.get("/login").dispatch().status(), Status::Ok);
    assert_eq!(client.get("/alive").dispatch().status(), Status::Ok);
    assert_eq!(
        client.get("/static/app.css").dispatch().status(),
        Status::Ok
    );
    assert_eq!(
        client
            .get("/sshkeys")
            .dispatch()
            .headers()
            .get_one("Location"),
        Some("/login?next=/sshkeys")
    );
}

#[test]
fn disabled_users_keys_are_not_served() {
    let lab = alice_lab();
    add_ok(&lab, "k", &fixture("ed25519.pub"));
    assert_eq!(
        lab.client.get("/alice.keys").dispatch().status(),
        Status::Ok
    );
    let alice = user(&lab, "alice");
    open_db(&lab)
        .write_blocking(|tx| labgate::auth::users::set_disabled(tx, alice.id, true))
        .expect("disable");
    assert_eq!(
        lab.client.get("/alice.keys").dispatch().status(),
        Status::NotFound
    );
}

#[test]
fn names_and_comments_are_shown_inert() {
    let lab = alice_lab();
    let evil = "<script>alert(1)</script> hx-get=\"/x\" hx-trigger=\"load\"";
    let tmp = tempfile::tempdir().expect("tmp");
    let key = ed25519(tmp.path(), "k", "x");
    let with_evil_comment = format!("{} {evil}", key.canonical);
    let resp = lab.post_htmx("/sshkeys", &[("key", &with_evil_comment), ("name", evil)]);
    assert_eq!(resp.status(), Status::Ok);
    let toast: Value =
        serde_json::from_str(resp.headers().get_one("HX-Trigger").expect("trigger")).unwrap();
    assert_eq!(
        toast["toast"]["message"],
        format!("SSH key {evil} added."),
        "the toast is JSON; app.js shows it as text"
    );
    let fragment = resp.into_string().expect("body");
    let second = fixture("ecdsa256.pub");
    let second = second.split(" dave").next().expect("key");
    add_ok(&lab, "", &format!("{second} {evil} 2"));
    let html = page(&lab);
    let refused = lab.post_htmx("/sshkeys", &[("key", evil), ("name", evil)]);
    let refused = refused.into_string().expect("body");
    for body in [&fragment, &html, &refused] {
        assert!(!body.contains("<script>alert"), "{body}");
        assert!(!body.contains("hx-get=\"/x\""), "{body}");
        assert!(!body.contains("hx-trigger=\"load\""));
        assert!(body.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"));
    }
    // In the page both the name (twice: cell and hx-confirm) and the comment are escaped.
    let (_, row) = row_named(&html, evil);
    assert!(row.contains(&format!(
        "<td data-label=\"Comment\" class=\"key-comment\">{}</td>",
        esc(evil)
    )));
    assert!(row.contains(&format!("hx-confirm=\"Delete the SSH key {}?", esc(evil))));
}

#[test]
fn choosing_a_key_for_an_instance_uses_list_for() {
    let lab = alice_lab();
    add_ok(&lab, "older", &fixture("ed25519.pub"));
    add_ok(&lab, "newer", &fixture("rsa3072.pub"));
    let conn = labgate::db::connect(&lab.data().join("labgate.db")).expect("conn");
    let alice = user(&lab, "alice");
    let keys = labgate::keys::list_for(&conn, &alice).expect("list");
    let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(names, ["newer", "older"]);
    let rsa = &keys[0];
    assert_eq!(rsa.algorithm, "ssh-rsa");
    assert_eq!(rsa.bits, 3072);
    assert_eq!(rsa.type_label, "RSA (3072 bits)");
    assert_eq!(rsa.comment, "carol@lab rsa3072");
    assert_eq!(
        rsa.fingerprint,
        "SHA256:kYoYOmtDKAFRoEIQrpR+J5znX3DyFkCIbgY/ydt0WYI"
    );
    assert!(rsa.public_key.starts_with("ssh-rsa AAAA") && !rsa.public_key.contains("carol"));
    assert_eq!(rsa.last_used, None);
    let (_, row) = row_named(&page(&lab), "newer");
    assert!(row.contains(&format!(
        "<td data-label=\"Added\">{}</td>",
        labgate::web::format_time(rsa.created)
    )));
    let one = labgate::keys::get_for(&conn, &alice, rsa.id).expect("get");
    assert_eq!(&one, rsa);
    let bob = User {
        id: alice.id + 1000,
        username: "bob".into(),
        is_admin: false,
    };
    assert!(labgate::keys::list_for(&conn, &bob)
        .expect("list")
        .is_empty());
    assert!(labgate::keys::get_for(&conn, &bob, rsa.id).is_err());
}

// ---- API ----

fn token_for(lab: &Lab, username: &str, scope: &str) -> String {
    let data = lab.data();
    let config = labgate::Config::new(&data);
    let key = labgate::tokens::jwt::SigningKey::load_or_create(&data.join("signing-key.pem"))
        .expect("signing key");
    let owner = user(lab, username);
    open_db(lab)
        .write_blocking(|tx| {
            labgate::tokens::issue(tx, &key, &config, &owner, 3600, scope, "keys test", None)
        })
        .expect("token")
        .1
}

/// Calls the API with a Bearer token; returns status and parsed JSON (Null when empty).
fn api(
    lab: &Lab,
    method: &str,
    uri: &str,
    token: &str,
    body: Option<(&str, Option<ContentType>)>,
) -> (Status, Value) {
    let auth = Header::new("Authorization", format!("Bearer {token}"));
    let mut req = match method {
        "GET" => lab.client.get(uri.to_owned()),
        "POST" => lab.client.post(uri.to_owned()),
        "DELETE" => lab.client.delete(uri.to_owned()),
        other => panic!("{other}"),
    }
    .header(auth);
    if let Some((text, content_type)) = body {
        if let Some(ct) = content_type {
            req = req.header(ct);
        }
        req = req.body(text);
    }
    let resp = req.dispatch();
    let status = resp.status();
    if status != Status::NoContent {
        assert_eq!(
            resp.content_type(),
            Some(ContentType::JSON),
            "{method} {uri}"
        );
    }
    let text = resp.into_string().unwrap_or_default();
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).expect("JSON body")
    };
    (status, value)
}

fn new_key(name: &str, key: &str) -> String {
    serde_json::json!({ "name": name, "key": key }).to_string()
}

#[test]
fn api_lists_adds_and_deletes_keys() {
    let lab = alice_lab();
    let token = token_for(&lab, "alice", "rw");
    let (status, list) = api(&lab, "GET", "/api/sshkeys", &token, None);
    assert_eq!(status, Status::Ok);
    assert_eq!(list, serde_json::json!([]));

    let tmp = tempfile::tempdir().expect("tmp");
    let made = keygen(
        tmp.path(),
        "p384",
        &["-t", "ecdsa", "-b", "384"],
        "ci@robot",
    );
    // Like the rerobots client: a JSON body without any Content-Type.
    let body = new_key("ci", &made.public);
    let (status, added) = api(&lab, "POST", "/api/sshkeys", &token, Some((&body, None)));
    assert_eq!(status, Status::Created, "{added}");
    let id = added["id"].as_i64().expect("id");
    let fields: Vec<&str> = {
        let mut f: Vec<&str> = added
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        f.sort_unstable();
        f
    };
    assert_eq!(
        fields,
        [
            "bits",
            "comment",
            "created",
            "fingerprint",
            "id",
            "last_used",
            "name",
            "type"
        ]
    );
    assert_eq!(added["name"], "ci");
    assert_eq!(added["type"], "ecdsa-sha2-nistp384");
    assert_eq!(added["bits"], 384);
    assert_eq!(added["fingerprint"], made.fingerprint.as_str());
    assert_eq!(added["comment"], "ci@robot");
    assert!(added["created"].as_i64().unwrap() > 1_600_000_000);
    assert_eq!(added["last_used"], Value::Null);

    // With a Content-Type too, and with the name left to the comment.
    let other = ed25519(tmp.path(), "ed", "from-comment");
    let body = serde_json::json!({ "key": other.public }).to_string();
    let (status, second) = api(
        &lab,
        "POST",
        "/api/sshkeys",
        &token,
        Some((&body, Some(ContentType::JSON))),
    );
    assert_eq!(status, Status::Created);
    assert_eq!(second["name"], "from-comment");

    let (_, list) = api(&lab, "GET", "/api/sshkeys", &token, None);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["from-comment", "ci"]);
    let (status, one) = api(&lab, "GET", &format!("/api/sshkeys/{id}"), &token, None);
    assert_eq!(status, Status::Ok);
    assert_eq!(one, added);
    // The page shows what the API added, and the security log has it.
    let html = page(&lab);
    assert!(row_named(&html, "ci").1.contains(&esc(&made.fingerprint)));

    let (status, gone) = api(&lab, "DELETE", &format!("/api/sshkeys/{id}"), &token, None);
    assert_eq!(status, Status::Ok);
    assert_eq!(gone, serde_json::json!({}));
    let (status, err) = api(&lab, "DELETE", &format!("/api/sshkeys/{id}"), &token, None);
    assert_eq!(status, Status::NotFound);
    assert!(err["error_message"].is_string());
    let (_, list) = api(&lab, "GET", "/api/sshkeys", &token, None);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let account = lab.client.get("/account").dispatch().into_string().unwrap();
    assert!(account.contains(&format!("ci ({})", esc(&made.fingerprint))));
    assert!(account.contains("SSH key deleted"));
}

#[test]
fn api_refusals_carry_the_pages_message() {
    let lab = alice_lab();
    lab.add_user("bob", false);
    let token = token_for(&lab, "alice", "rw");
    add_ok(&lab, "laptop", &fixture("ed25519.pub"));
    let ed = fixture("ed25519.pub");
    let tmp = tempfile::tempdir().expect("tmp");
    let bare = ed25519(tmp.path(), "bare", "");
    let long = "n".repeat(65);
    let cases = [
        ("x", fixture("dsa.pub")),
        ("x", fixture("id_ed25519")),
        ("x", fixture("rsa1024.pub")),
        ("x", format!("{ed}{}", fixture("ecdsa256.pub"))),
        ("x", String::new()),
        ("x", ed.clone()),
        ("laptop", fixture("ecdsa256.pub")),
        ("", bare.public.clone()),
        (long.as_str(), fixture("ecdsa256.pub")),
    ];
    for (name, key) in &cases {
        let (status, page_body) = {
            let (s, _, b) = add(&lab, name, key);
            (s, b)
        };
        assert_eq!(status, Status::UnprocessableEntity, "page {name} {key:?}");
        let shown = field_error(&page_body, "key")
            .or_else(|| field_error(&page_body, "name"))
            .expect("page message");
        let body = new_key(name, key);
        let (status, err) = api(&lab, "POST", "/api/sshkeys", &token, Some((&body, None)));
        assert_eq!(status, Status::UnprocessableEntity, "api {name} {key:?}");
        assert_eq!(err["error_message"].as_str(), Some(shown.as_str()));
    }
    // The other account's duplicate message, through the API too.
    let bob = token_for(&lab, "bob", "rw");
    let body = new_key("mine", &ed);
    let (status, err) = api(&lab, "POST", "/api/sshkeys", &bob, Some((&body, None)));
    assert_eq!(status, Status::UnprocessableEntity);
    assert_eq!(
        err["error_message"],
        "This key is already registered to another account."
    );
    // Bodies that are not the expected JSON.
    for junk in ["", "not json", "[1,2]", "{\"key\": 5}"] {
        let (status, err) = api(&lab, "POST", "/api/sshkeys", &token, Some((junk, None)));
        assert_eq!(status, Status::BadRequest, "{junk:?}");
        assert!(err["error_message"].as_str().unwrap().contains("JSON"));
    }
    // serde's own text would quote what was posted: only a fixed message and where it broke.
    for (junk, secret) in [
        ("\"my secret words\"", "my secret words"),
        ("{\"key\": 123456789}", "123456789"),
    ] {
        let (status, err) = api(&lab, "POST", "/api/sshkeys", &token, Some((junk, None)));
        assert_eq!(status, Status::BadRequest, "{junk:?}");
        let message = err["error_message"].as_str().unwrap_or_default();
        assert!(
            message.contains("JSON") && message.contains("line 1"),
            "{message}"
        );
        assert!(!message.contains(secret), "{message}");
    }
    // A private key anywhere in the body: the key page's message, nothing of the key echoed.
    let private = fixture("id_ed25519");
    let secret_line = private.lines().nth(2).unwrap_or("none").to_owned();
    for junk in [
        serde_json::to_string(&private).unwrap_or_default(),
        format!("{{\"name\": 5, \"key\": {}}}", serde_json::json!(private)),
        format!("PuTTY-User-Key-File-3: ssh-ed25519\n{secret_line}"),
    ] {
        let (status, err) = api(&lab, "POST", "/api/sshkeys", &token, Some((&junk, None)));
        assert_eq!(status, Status::UnprocessableEntity, "{junk:?}");
        let message = err["error_message"].as_str().unwrap_or_default();
        assert!(message.starts_with("This is a PRIVATE key"), "{message}");
        assert!(!message.contains(&secret_line), "{message}");
    }
    let huge = new_key("big", &"A".repeat(70 * 1024));
    let (status, err) = api(&lab, "POST", "/api/sshkeys", &token, Some((&huge, None)));
    assert_eq!(status, Status::PayloadTooLarge);
    assert!(err["error_message"].is_string());
    assert_eq!(count_keys(&lab), 1);
}

#[test]
fn api_guards_tokens_scopes_and_ownership() {
    let lab = alice_lab();
    lab.add_user("bob", false);
    let alice_rw = token_for(&lab, "alice", "rw");
    let alice_ro = token_for(&lab, "alice", "ro");
    let bob_rw = token_for(&lab, "bob", "rw");
    let body = new_key("a", &fixture("ed25519.pub"));
    let (_, added) = api(&lab, "POST", "/api/sshkeys", &alice_rw, Some((&body, None)));
    let id = added["id"].as_i64().expect("id");

    // Read-only tokens read, and may not change anything.
    let (status, list) = api(&lab, "GET", "/api/sshkeys", &alice_ro, None);
    assert_eq!(status, Status::Ok);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let other = new_key("b", &fixture("ecdsa256.pub"));
    let (status, err) = api(
        &lab,
        "POST",
        "/api/sshkeys",
        &alice_ro,
        Some((&other, None)),
    );
    assert_eq!(status, Status::Forbidden);
    assert!(err["error_message"].as_str().unwrap().contains("read-only"));
    let (status, _) = api(
        &lab,
        "DELETE",
        &format!("/api/sshkeys/{id}"),
        &alice_ro,
        None,
    );
    assert_eq!(status, Status::Forbidden);

    // Another user's id is 404, for reading and deleting.
    let (status, list) = api(&lab, "GET", "/api/sshkeys", &bob_rw, None);
    assert_eq!((status, list), (Status::Ok, serde_json::json!([])));
    for method in ["GET", "DELETE"] {
        let (status, err) = api(&lab, method, &format!("/api/sshkeys/{id}"), &bob_rw, None);
        assert_eq!(status, Status::NotFound, "{method}");
        assert!(err["error_message"].is_string());
    }
    let (status, _) = api(&lab, "DELETE", "/api/sshkeys/abc", &bob_rw, None);
    assert_eq!(status, Status::NotFound);

    // The session cookie alone opens nothing under /api; neither does a wrong token.
    for (method, uri) in [
        ("GET", "/api/sshkeys".to_owned()),
        ("POST", "/api/sshkeys".to_owned()),
        ("DELETE", format!("/api/sshkeys/{id}")),
    ] {
        let req = match method {
            "GET" => lab.client.get(uri.clone()),
            "POST" => lab.client.post(uri.clone()).body(other.clone()),
            _ => lab.client.delete(uri.clone()),
        };
        let resp = req.dispatch();
        assert_eq!(resp.status(), Status::Unauthorized, "{method} {uri}");
        assert_eq!(resp.headers().get_one("WWW-Authenticate"), Some("Bearer"));
        let err: Value = serde_json::from_str(&resp.into_string().unwrap()).unwrap();
        assert_eq!(err["error_message"], "wrong authorization token");
    }
    let (status, err) = api(&lab, "GET", "/api/sshkeys", "not.a.token", None);
    assert_eq!(status, Status::Unauthorized);
    assert_eq!(err["error_message"], "wrong authorization token");
    assert_eq!(count_keys(&lab), 1);
}

#[test]
fn the_page_shows_at_once_what_any_connection_changed() {
    // The page keeps a member's key list while the database is unchanged: every write, by this
    // server or by another connection (the command line, a robot's lookup), must show on the
    // very next load, page and fragment alike, and one member's list is never another's.
    let lab = Lab::new();
    let alice_pw = lab.add_user("alice", false);
    let bob_pw = lab.add_user("bob", false);
    let data = lab.data();
    let (client, _dir) = lab.into_untracked();
    let alice = session_for(&client, "alice", &alice_pw);
    let bob = session_for(&client, "bob", &bob_pw);
    let page_of = |session: &str| {
        let (status, html) = get_with(&client, "/sshkeys", session);
        assert_eq!(status, Status::Ok);
        html
    };
    assert!(rows(&page_of(&alice)).is_empty());
    assert!(rows(&page_of(&alice)).is_empty(), "again, from the cache");
    let id = crate::lab::save_key(&data, "alice", "from elsewhere", crate::lab::ED25519);
    let html = page_of(&alice);
    assert_eq!(rows(&html).len(), 1, "a key written by another connection");
    assert!(html.contains(">from elsewhere<"));
    // With alice's list just read (and nothing written since), bob's page is his own.
    assert!(
        rows(&page_of(&bob)).is_empty(),
        "bob sees none of alice's keys"
    );
    let fragment = client
        .get("/sshkeys")
        .cookie(rocket::http::Cookie::new("labgate_session", alice.clone()))
        .header(Header::new("HX-Request", "true"))
        .dispatch()
        .into_string()
        .unwrap_or_default();
    assert!(fragment.contains(">from elsewhere<") && !fragment.contains("<html"));

    let db = labgate::db::Db::open(&data.join("labgate.db")).expect("db");
    let write = |sql: &'static str| {
        db.write_blocking(|tx| Ok(tx.execute(sql, [id])?))
            .expect("write from another connection");
    };
    write("UPDATE ssh_keys SET last_used = strftime('%s', 'now'), last_used_on = 'arm-7' WHERE id = ?1");
    assert!(
        page_of(&alice).contains(" on arm-7"),
        "last used, stamped elsewhere"
    );
    write("DELETE FROM ssh_keys WHERE id = ?1");
    assert!(rows(&page_of(&alice)).is_empty(), "a key deleted elsewhere");
}

#[test]
fn the_api_list_shows_at_once_what_any_connection_changed() {
    // GET /api/sshkeys shares the page's key-list cache: a key added or deleted through the
    // API, on the page or by another connection must show in the very next answer, one
    // member's list is never another's, and a revoked token is refused at once.
    let lab = Lab::new();
    lab.add_user("alice", false);
    lab.add_user("bob", false);
    let data = lab.data();
    let alice = token_for(&lab, "alice", "rw");
    let bob = token_for(&lab, "bob", "rw");
    let names = |token: &str| -> Vec<String> {
        let (status, list) = api(&lab, "GET", "/api/sshkeys", token, None);
        assert_eq!(status, Status::Ok);
        list.as_array()
            .expect("a JSON list")
            .iter()
            .map(|k| k["name"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert!(names(&alice).is_empty());
    assert!(names(&alice).is_empty(), "again, from the cache");

    let id = crate::lab::save_key(&data, "alice", "from elsewhere", crate::lab::ED25519);
    assert_eq!(
        names(&alice),
        ["from elsewhere"],
        "written by another connection"
    );
    assert!(names(&bob).is_empty(), "bob sees none of alice's keys");
    assert_eq!(
        names(&alice),
        ["from elsewhere"],
        "alice's list is still hers"
    );

    let (status, _) = api(
        &lab,
        "POST",
        "/api/sshkeys",
        &alice,
        Some((&new_key("by api", crate::lab::ECDSA256), None)),
    );
    assert_eq!(status, Status::Created);
    assert_eq!(names(&alice), ["by api", "from elsewhere"]);

    let db = open_db(&lab);
    db.write_blocking(|tx| {
        Ok(tx.execute("UPDATE ssh_keys SET last_used = 1234 WHERE id = ?1", [id])?)
    })
    .expect("stamp from another connection");
    let (_, list) = api(&lab, "GET", "/api/sshkeys", &alice, None);
    assert_eq!(list[1]["last_used"], 1234, "last used, stamped elsewhere");

    let (status, _) = api(&lab, "DELETE", &format!("/api/sshkeys/{id}"), &alice, None);
    assert_eq!(status, Status::Ok);
    assert_eq!(names(&alice), ["by api"], "deleted by the API");
    db.write_blocking(|tx| Ok(tx.execute("DELETE FROM ssh_keys", [])?))
        .expect("delete from another connection");
    assert!(names(&alice).is_empty(), "deleted elsewhere");

    db.write_blocking(|tx| Ok(tx.execute("UPDATE tokens SET revoked = 1", [])?))
        .expect("revoke every token");
    let (status, _) = api(&lab, "GET", "/api/sshkeys", &alice, None);
    assert_eq!(status, Status::Unauthorized, "revoked: refused at once");
}
