//! The appliance: first start, sign-in, sessions, CSRF, throttling, headers, CLI, backup.

use std::os::unix::fs::PermissionsExt;

use rocket::http::{ContentType, Cookie, Header, Status};

use crate::common::*;

#[test]
fn first_start_writes_admin_password_0600_and_it_signs_in() {
    let lab = Lab::new();
    let file = lab.data().join("initial-admin-password");
    let mode = std::fs::metadata(&file)
        .expect("password file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let dir_mode = std::fs::metadata(lab.data())
        .expect("data dir")
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700);
    let key_mode = std::fs::metadata(lab.data().join("signing-key.pem"))
        .expect("key")
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o777, 0o600);
    lab.login_admin();
    let resp = lab.client.get("/account").dispatch();
    assert_eq!(resp.status(), Status::Ok);
    let body = resp.into_string().unwrap();
    assert!(
        body.contains("login succeeded"),
        "security log shows the login"
    );
}

#[test]
fn visitor_is_sent_to_login() {
    let lab = Lab::new();
    for page in [
        "/sshkeys",
        "/tokens",
        "/instances",
        "/account",
        "/admin/users",
    ] {
        let resp = lab.client.get(page).dispatch();
        assert_eq!(resp.status(), Status::SeeOther, "{page}");
        // The way back after signing in goes along (tests/it/console.rs checks it is used).
        let to = format!("/login?next={page}");
        assert_eq!(
            resp.headers().get_one("Location"),
            Some(to.as_str()),
            "{page}"
        );
    }
    let resp = lab.get_htmx("/sshkeys");
    assert_eq!(resp.headers().get_one("HX-Redirect"), Some("/login"));
    let root = lab.client.get("/").dispatch();
    assert_eq!(root.headers().get_one("Location"), Some("/sshkeys"));
}

#[test]
fn wrong_password_says_so_sets_no_session_and_is_logged() {
    let lab = Lab::new();
    let resp = lab.post_login("admin", "not-the-password", "10.0.0.9:4000");
    assert_eq!(resp.status(), Status::Unauthorized);
    assert!(resp.cookies().get("labgate_session").is_none());
    assert!(resp
        .into_string()
        .unwrap()
        .contains("Wrong username or password."));
    assert_eq!(
        lab.client.get("/account").dispatch().status(),
        Status::SeeOther
    );
    lab.login_admin();
    let body = lab.client.get("/account").dispatch().into_string().unwrap();
    assert!(body.contains("login failed"));
    assert!(
        body.contains("10.0.0.9"),
        "the failed attempt's address is shown"
    );
    // An unknown user gets the very same answer.
    let resp = lab.post_login("nobody", "whatever-password", "10.0.0.9:4000");
    assert_eq!(resp.status(), Status::Unauthorized);
    assert!(resp
        .into_string()
        .unwrap()
        .contains("Wrong username or password."));
}

#[test]
fn throttling_stops_the_attacker_not_the_user() {
    let lab = Lab::new();
    let password = lab.admin_password();
    let mut refused = false;
    for _ in 0..8 {
        let resp = lab.post_login("admin", "guess-guess-guess", "203.0.113.7:1234");
        if resp.status() == Status::TooManyRequests {
            refused = true;
            assert!(resp
                .into_string()
                .unwrap()
                .contains("Too many failed sign-ins"));
            break;
        }
    }
    assert!(refused, "repeated failures are throttled");
    // Even the right password is refused from the attacker's address for now...
    let resp = lab.post_login("admin", &password, "203.0.113.7:1234");
    assert_eq!(resp.status(), Status::TooManyRequests);
    // ...but the real user elsewhere signs in.
    let resp = lab.post_login("admin", &password, "198.51.100.20:999");
    assert_eq!(resp.status(), Status::SeeOther);
}

#[test]
fn posts_need_the_csrf_token_and_same_origin() {
    let lab = Lab::new();
    lab.login_admin();
    let no_token = lab
        .client
        .post("/admin/users")
        .header(ContentType::Form)
        .body(form(&[("username", "mallory")]))
        .dispatch();
    assert_eq!(no_token.status(), Status::Forbidden);
    assert!(no_token
        .into_string()
        .unwrap()
        .contains("did not come from this site"));
    let wrong = lab
        .client
        .post("/admin/users")
        .header(ContentType::Form)
        .header(Header::new("X-CSRF-Token", "forged"))
        .body(form(&[("username", "mallory")]))
        .dispatch();
    assert_eq!(wrong.status(), Status::Forbidden);
    let token = lab.csrf();
    let cross = lab
        .client
        .post("/admin/users")
        .header(ContentType::Form)
        .header(Header::new("Sec-Fetch-Site", "cross-site"))
        .body(form(&[("username", "mallory"), ("csrf_token", &token)]))
        .dispatch();
    assert_eq!(cross.status(), Status::Forbidden);
    let other_origin = lab
        .client
        .post("/admin/users")
        .header(ContentType::Form)
        .header(Header::new("Origin", "https://evil.example"))
        .body(form(&[("username", "mallory"), ("csrf_token", &token)]))
        .dispatch();
    assert_eq!(other_origin.status(), Status::Forbidden);
    let body = lab
        .client
        .get("/admin/users")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(
        !body.contains("mallory"),
        "nothing was created by refused posts"
    );
    let ok = lab.post_form("/admin/users", &[("username", "carol")]);
    assert_eq!(ok.status(), Status::Ok);
    assert!(ok.into_string().unwrap().contains("Password for carol"));
}

#[test]
fn logout_ends_the_session_for_good() {
    let (client, dir) = Lab::new().into_untracked();
    let session = session_for(&client, "admin", &lab_password(&dir));
    let (status, body) = get_with(&client, "/account", &session);
    assert_eq!(status, Status::Ok);
    let token = csrf_from(&body).unwrap();
    let resp = client
        .post("/logout")
        .cookie(Cookie::new("labgate_session", session.clone()))
        .header(ContentType::Form)
        .body(form(&[("csrf_token", &token)]))
        .dispatch();
    assert_eq!(resp.status(), Status::SeeOther);
    let (status, _) = get_with(&client, "/account", &session);
    assert_eq!(status, Status::SeeOther, "the old cookie no longer works");
}

fn lab_password(dir: &tempfile::TempDir) -> String {
    std::fs::read_to_string(dir.path().join("data/initial-admin-password"))
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
fn password_change_ends_other_sessions_and_removes_initial_file() {
    let (client, dir) = Lab::new().into_untracked();
    let old_password = lab_password(&dir);
    let mine = session_for(&client, "admin", &old_password);
    let other = session_for(&client, "admin", &old_password);
    let (_, body) = get_with(&client, "/account", &mine);
    let token = csrf_from(&body).unwrap();
    let new_password = "a much better password";
    let change = |current: &str, confirm: &str| {
        client
            .post("/account/password")
            .cookie(Cookie::new("labgate_session", mine.clone()))
            .header(ContentType::Form)
            .body(form(&[
                ("csrf_token", &token),
                ("current", current),
                ("new", new_password),
                ("confirm", confirm),
            ]))
            .dispatch()
            .status()
    };
    assert_eq!(change("wrong", new_password), Status::UnprocessableEntity);
    assert_eq!(change(&old_password, "typo"), Status::UnprocessableEntity);
    assert!(dir.path().join("data/initial-admin-password").exists());
    let resp = client
        .post("/account/password")
        .cookie(Cookie::new("labgate_session", mine.clone()))
        .header(ContentType::Form)
        .body(form(&[
            ("csrf_token", &token),
            ("current", &old_password),
            ("new", new_password),
            ("confirm", new_password),
        ]))
        .dispatch();
    assert_eq!(resp.status(), Status::SeeOther);
    let renewed = resp
        .cookies()
        .get("labgate_session")
        .expect("a fresh session for this browser")
        .value()
        .to_owned();
    assert_ne!(renewed, mine);
    assert!(!dir.path().join("data/initial-admin-password").exists());
    assert_eq!(
        get_with(&client, "/account", &mine).0,
        Status::SeeOther,
        "the old id of this session is dead too"
    );
    assert_eq!(
        get_with(&client, "/account", &renewed).0,
        Status::Ok,
        "this browser stays signed in"
    );
    assert_eq!(
        get_with(&client, "/account", &other).0,
        Status::SeeOther,
        "the other is gone"
    );
    session_for(&client, "admin", new_password);
}

#[test]
fn disabling_a_user_ends_their_sessions() {
    let lab = Lab::new();
    let password = lab.add_user("dana", false);
    // The admin first replaces the generated password, as the first sign-in requires.
    lab.login_admin();
    let admin_password = lab.admin_password();
    let (client, _dir) = lab.into_untracked();
    let admin = session_for(&client, "admin", &admin_password);
    let dana = session_for(&client, "dana", &password);
    assert_eq!(get_with(&client, "/account", &dana).0, Status::Ok);
    let (_, body) = get_with(&client, "/admin/users", &admin);
    let token = csrf_from(&body).unwrap();
    let id = find_user_id(&body, "dana").expect("dana's row");
    let resp = client
        .post(format!("/admin/users/{id}/disable"))
        .cookie(Cookie::new("labgate_session", admin.clone()))
        .header(ContentType::Form)
        .body(form(&[("csrf_token", &token)]))
        .dispatch();
    assert_eq!(resp.status(), Status::SeeOther);
    assert_eq!(get_with(&client, "/account", &dana).0, Status::SeeOther);
    let resp = login_response(&client, "dana", &password);
    assert_eq!(resp.status(), Status::Forbidden);
    assert!(resp.into_string().unwrap().contains("disabled"));
}

fn find_user_id(html: &str, name: &str) -> Option<String> {
    html.split("<tr id=\"user-").skip(1).find_map(|chunk| {
        let (id, rest) = chunk.split_once('"')?;
        rest.split("</tr>")
            .next()?
            .contains(&format!(">{name}</td>"))
            .then(|| id.to_owned())
    })
}

#[test]
fn members_get_404_on_admin_pages() {
    let lab = Lab::new();
    let password = lab.add_user("erin", false);
    lab.login("erin", &password);
    for page in ["/admin", "/admin/users"] {
        assert_eq!(
            lab.client.get(page).dispatch().status(),
            Status::NotFound,
            "{page}"
        );
    }
    let resp = lab.post_form("/admin/users", &[("username", "x")]);
    assert_eq!(resp.status(), Status::NotFound);
}

fn assert_security_headers(resp: &rocket::local::blocking::LocalResponse<'_>, what: &str) {
    let h = resp.headers();
    assert_eq!(
        h.get_one("Content-Security-Policy"),
        Some(labgate::web::CSP),
        "{what}"
    );
    assert_eq!(
        h.get_one("X-Content-Type-Options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(h.get_one("Referrer-Policy"), Some("same-origin"), "{what}");
}

#[test]
fn security_headers_everywhere() {
    let lab = Lab::new();
    let login = lab.client.get("/login").dispatch();
    assert_security_headers(&login, "page");
    assert_eq!(
        login.headers().get_one("Vary"),
        Some("HX-Request, HX-Boosted, HX-History-Restore-Request")
    );
    let missing = lab.client.get("/no/such/page").dispatch();
    assert_eq!(missing.status(), Status::NotFound);
    assert_security_headers(&missing, "404 page");
    let api_missing = lab.client.get("/api/nothing").dispatch();
    assert_security_headers(&api_missing, "api 404");
    assert_eq!(api_missing.content_type(), Some(ContentType::JSON));
    let static_file = lab.client.get("/static/htmx.min.js").dispatch();
    assert_eq!(static_file.status(), Status::Ok);
    assert_security_headers(&static_file, "static");
    lab.login_admin();
    let fragment = lab.get_htmx("/account");
    assert_security_headers(&fragment, "fragment");
    let alive = lab.client.get("/alive").dispatch();
    assert_security_headers(&alive, "alive");
}

#[test]
fn page_has_htmx_config_and_no_foreign_origins() {
    let lab = Lab::new();
    lab.login_admin();
    let body = lab.client.get("/account").dispatch().into_string().unwrap();
    for needle in [
        "\"allowEval\":false",
        "\"selfRequestsOnly\":true",
        "\"historyCacheSize\":0",
        "\"allowScriptTags\":false",
        "\"includeIndicatorStyles\":false",
        "\"code\":\"422\",\"swap\":true",
    ] {
        assert!(body.contains(needle), "htmx config has {needle}");
    }
    // Our own htmx, under its content-hashed name (`htmx.min.<hash>.js`).
    assert!(body.contains("src=\"/static/htmx.min."));
    assert!(
        !body.contains("http://") && !body.contains("https://"),
        "no other origin is referenced"
    );
    assert!(!body.contains("<script>"), "no inline script");
}

#[test]
fn alive_answers_from_the_database() {
    let lab = Lab::new();
    let resp = lab.client.get("/alive").dispatch();
    assert_eq!(resp.status(), Status::Ok);
    assert_eq!(resp.into_string().unwrap(), "ok\n");
}

#[test]
fn an_oversized_form_is_refused_with_a_message_and_nothing_saved() {
    let lab = Lab::new();
    lab.login_admin();
    let huge = format!("ssh-ed25519 {}", "A".repeat(40 * 1024));
    let resp = lab.post_form("/sshkeys", &[("key", &huge), ("name", "big")]);
    assert_eq!(resp.status(), Status::UnprocessableEntity);
    assert!(resp.into_string().unwrap().contains("nothing was saved"));
    let page = lab.client.get("/sshkeys").dispatch().into_string().unwrap();
    assert!(!page.contains(">big<"));
}

#[test]
fn only_enable_and_disable_switch_an_account() {
    let lab = Lab::new();
    lab.add_user("kim", false);
    lab.login_admin();
    let body = lab
        .client
        .get("/admin/users")
        .dispatch()
        .into_string()
        .unwrap();
    let id = find_user_id(&body, "kim").expect("kim's row");
    let resp = lab.post_form(&format!("/admin/users/{id}/explode"), &[]);
    assert_eq!(resp.status(), Status::NotFound);
    let resp = lab.post_form(&format!("/admin/users/{id}/disable"), &[]);
    assert_eq!(resp.status(), Status::SeeOther);
    let body = lab
        .client
        .get("/admin/users")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(body.contains("kim is disabled."));
}

#[test]
fn the_sign_in_form_needs_its_csrf_token() {
    let (client, dir) = Lab::new().into_untracked();
    let password = lab_password(&dir);
    let without = client
        .post("/login")
        .header(ContentType::Form)
        .body(form(&[("username", "admin"), ("password", &password)]))
        .dispatch();
    assert_eq!(without.status(), Status::Forbidden);
    assert!(without.cookies().get("labgate_session").is_none());
    assert!(without.into_string().unwrap().contains("had expired"));
    let forged = client
        .post("/login")
        .cookie(Cookie::new("labgate_login", "one"))
        .header(ContentType::Form)
        .body(form(&[
            ("username", "admin"),
            ("password", &password),
            ("csrf_token", "another"),
        ]))
        .dispatch();
    assert_eq!(forged.status(), Status::Forbidden);
    session_for(&client, "admin", &password);
}

#[test]
fn a_burst_of_parallel_guesses_is_throttled_like_a_slow_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let served = Served::start(&data);
    let guesses: Vec<_> = (0..24)
        .map(|i| {
            let url = served.url.clone();
            std::thread::spawn(move || web_login(&url, "admin", &format!("guess-{i}")).status())
        })
        .collect();
    let statuses: Vec<u16> = guesses.into_iter().map(|g| g.join().unwrap()).collect();
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(checked + refused, statuses.len(), "{statuses:?}");
    assert!(
        checked <= 5,
        "only the first few guesses are even checked: {statuses:?}"
    );
}

#[test]
fn guessing_the_current_password_is_throttled() {
    let lab = Lab::new();
    lab.login_admin();
    let mut statuses = Vec::new();
    for i in 0..8 {
        let resp = lab.post_form(
            "/account/password",
            &[
                ("current", &format!("wrong-{i}")),
                ("new", "a new long password"),
                ("confirm", "a new long password"),
            ],
        );
        statuses.push(resp.status());
    }
    assert_eq!(statuses[0], Status::UnprocessableEntity);
    assert_eq!(statuses[7], Status::TooManyRequests, "{statuses:?}");
}

#[test]
fn error_pages_keep_the_menu_of_a_signed_in_person() {
    let lab = Lab::new();
    let visitor = lab
        .client
        .get("/no/such/page")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(!visitor.contains("href=\"/sshkeys\""));
    lab.login_admin();
    let resp = lab.client.get("/no/such/page").dispatch();
    assert_eq!(resp.status(), Status::NotFound);
    let page = resp.into_string().unwrap();
    assert!(page.contains("There is nothing here."));
    assert!(page.contains("href=\"/sshkeys\"") && page.contains("Log out"));
}

#[test]
fn alive_says_503_when_the_database_is_unusable() {
    use std::io::{Seek, SeekFrom, Write};
    let lab = Lab::new();
    assert_eq!(lab.client.get("/alive").dispatch().status(), Status::Ok);
    // Wreck the file under the running server: its header no longer says SQLite.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(lab.data().join("labgate.db"))
        .unwrap();
    file.seek(SeekFrom::Start(0)).unwrap();
    file.write_all(&[0x5a; 4096]).unwrap();
    file.sync_all().unwrap();
    for wal in ["labgate.db-wal", "labgate.db-shm"] {
        let _ = std::fs::remove_file(lab.data().join(wal));
    }
    let resp = lab.client.get("/alive").dispatch();
    assert_eq!(resp.status(), Status::ServiceUnavailable);
    assert_eq!(resp.into_string().unwrap(), "database unavailable\n");
}

#[test]
fn cookies_are_secure_behind_https_and_strict_always() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = labgate::Config::new(dir.path().join("data"));
    config.public_url = "https://lab.example.org".into();
    let client =
        rocket::local::blocking::Client::untracked(labgate::build(config).unwrap()).unwrap();
    let password = lab_password(&dir);
    let resp = login_response(&client, "admin", &password);
    assert_eq!(resp.status(), Status::SeeOther);
    let session = resp
        .cookies()
        .get("labgate_session")
        .expect("session cookie")
        .clone();
    assert_eq!(session.secure(), Some(true));
    assert_eq!(session.http_only(), Some(true));
    assert_eq!(session.same_site(), Some(rocket::http::SameSite::Strict));
    assert_eq!(session.value().len(), 43, "256 random bits, base64url");
    let page = client.get("/login").dispatch();
    let login = page
        .cookies()
        .get("labgate_login")
        .expect("sign-in CSRF cookie")
        .clone();
    assert_eq!(
        (login.secure(), login.http_only()),
        (Some(true), Some(true))
    );
}

/// Signs out on an untracked client and returns the flash cookie the answer sets.
fn flash_after_logout(public_url: Option<&str>) -> Cookie<'static> {
    let dir = tempfile::tempdir().unwrap();
    let mut config = labgate::Config::new(dir.path().join("data"));
    if let Some(url) = public_url {
        config.public_url = url.into();
    }
    let client =
        rocket::local::blocking::Client::untracked(labgate::build(config).unwrap()).unwrap();
    let session = session_for(&client, "admin", &lab_password(&dir));
    let (_, account) = get_with(&client, "/account", &session);
    let csrf = csrf_from(&account).expect("csrf token");
    let resp = client
        .post("/logout")
        .cookie(Cookie::new("labgate_session", session))
        .header(ContentType::Form)
        .body(form(&[("csrf_token", &csrf)]))
        .dispatch();
    assert_eq!(resp.status(), Status::SeeOther);
    resp.cookies()
        .get("labgate_flash")
        .expect("flash cookie")
        .clone()
        .into_owned()
}

#[test]
fn the_flash_cookie_is_secure_behind_https_like_the_session() {
    let flash = flash_after_logout(Some("https://lab.example.org"));
    assert_eq!(flash.secure(), Some(true));
    assert_eq!(flash.http_only(), Some(true));
    assert_eq!(flash.same_site(), Some(rocket::http::SameSite::Strict));
    // Over plain http a Secure cookie would never come back, so it is left off there.
    let flash = flash_after_logout(None);
    assert_ne!(flash.secure(), Some(true));
}
