//! Findings 3 and 4: what reaches the log. Values from a request cannot start a log line of
//! their own, and no secret (token, password, session, private key) is written by any channel
//! a confused client might use, even at `LABGATE_LOG=debug`.

use std::time::Duration;

use super::running::{status_of, Running};
use crate::common::{choose_own_password_at, cli, csrf_from, form, web_login};
use crate::robot::{key_file, urlencode};

/// The `labgate_session` cookie a sign-in answer sets.
fn session_of(resp: &ureq::Response) -> String {
    resp.all("Set-Cookie")
        .into_iter()
        .find_map(|c| c.strip_prefix("labgate_session="))
        .and_then(|c| c.split(';').next())
        .expect("session cookie")
        .to_owned()
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .redirects(0)
        .timeout(Duration::from_secs(30))
        .build()
}

#[test]
fn ids_in_admin_urls_cannot_forge_log_lines() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Running::start(&data, &[("LABGATE_LOG", "debug")]);
    let (ok, _, err) = cli(
        &data,
        &["user", "add", "root-admin", "--admin", "--password-stdin"],
        Some("an-admin-password-for-tests\n"),
    );
    assert!(ok, "{err}");
    let own = choose_own_password_at(&server.url, "root-admin", "an-admin-password-for-tests");
    let login = web_login(&server.url, "root-admin", &own);
    assert_eq!(login.status(), 303);
    let cookie = format!("labgate_session={}", session_of(&login));
    let page = agent()
        .get(&format!("{}/admin/deployments", server.url))
        .set("Cookie", &cookie)
        .call()
        .expect("admin page")
        .into_string()
        .unwrap();
    let csrf = csrf_from(&page).expect("csrf token");

    for forged in [
        "x%0aFORGED%20line%20one",
        "x%0d%0aFORGED%20line%20two",
        "x%E2%80%A8FORGED%20line%20three",
    ] {
        let status = status_of(
            agent()
                .post(&format!(
                    "{}/admin/deployments/{forged}/disable",
                    server.url
                ))
                .set("Cookie", &cookie)
                .set("Content-Type", "application/x-www-form-urlencoded")
                .send_string(&form(&[("csrf_token", &csrf)])),
        );
        assert_eq!(status, 404, "{forged}");
    }
    assert!(server.log_shows("FORGED line three"), "{}", server.log());
    let log = server.log();
    for line in log.lines() {
        assert!(
            !line.trim_start().starts_with("FORGED"),
            "forged line: {log}"
        );
        assert!(!line.contains('\u{2028}') && !line.contains('\r'), "{log}");
    }
    // Still there, readably escaped: the operator sees what was sent.
    assert!(
        log.contains("no robot with id x\\nFORGED line one"),
        "{log}"
    );
}

#[test]
fn no_secret_reaches_the_log_by_any_channel() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Running::start(&data, &[("LABGATE_LOG", "debug")]);
    let url = server.url.clone();
    let password = "Correct-Horse-Battery-4711";
    let (ok, _, err) = cli(
        &data,
        &["user", "add", "carol", "--password-stdin"],
        Some(&format!("{password}\n")),
    );
    assert!(ok, "{err}");
    let (ok, token, err) = cli(&data, &["token", "issue", "carol", "--scope", "rw"], None);
    assert!(ok, "{err}");
    let token = token.trim().to_owned();
    let private_key = key_file("id_ed25519");
    let wrong_password = "Wrong-Password-Tried-0815";

    // Passwords: the sign-in form (right and wrong), and a query string.
    // The password an admin set is replaced on the Account form first, as it must be.
    let own = choose_own_password_at(&url, "carol", password);
    let login = web_login(&url, "carol", &own);
    assert_eq!(login.status(), 303);
    let session = session_of(&login);
    assert_ne!(web_login(&url, "carol", wrong_password).status(), 303);
    let a = agent();
    status_of(
        a.get(&format!("{url}/login?password={wrong_password}"))
            .call(),
    );

    // The token: query string, Authorization header, cookie, form body.
    assert_eq!(
        status_of(
            a.get(&format!("{url}/api/sshkeys?access_token={token}"))
                .call()
        ),
        401
    );
    assert_eq!(
        status_of(
            a.get(&format!("{url}/api/sshkeys"))
                .set("Authorization", &format!("Bearer {token}"))
                .call()
        ),
        200
    );
    status_of(
        a.get(&format!("{url}/api/sshkeys"))
            .set("Cookie", &format!("access_token={token}"))
            .call(),
    );
    status_of(
        a.post(&format!("{url}/api/sshkeys"))
            .set("Content-Type", "application/x-www-form-urlencoded")
            .send_string(&form(&[("access_token", &token)])),
    );
    // A token in the path, where no route takes one.
    status_of(a.get(&format!("{url}/api/revoke/{token}")).call());

    // A private key: a page form (signed in), the API body, and a query string.
    let cookie = format!("labgate_session={session}");
    let page = a
        .get(&format!("{url}/sshkeys"))
        .set("Cookie", &cookie)
        .call()
        .expect("keys page")
        .into_string()
        .unwrap();
    let csrf = csrf_from(&page).expect("csrf token");
    let status = status_of(
        a.post(&format!("{url}/sshkeys"))
            .set("Cookie", &cookie)
            .set("Content-Type", "application/x-www-form-urlencoded")
            .send_string(&form(&[
                ("key", &private_key),
                ("name", "oops"),
                ("csrf_token", &csrf),
            ])),
    );
    assert_eq!(status, 422, "a private key is refused");
    status_of(
        a.post(&format!("{url}/api/sshkeys"))
            .set("Authorization", &format!("Bearer {token}"))
            .set("Content-Type", "application/json")
            .send_string(&serde_json::json!({ "key": private_key }).to_string()),
    );
    status_of(
        a.get(&format!("{url}/sshkeys?key={}", urlencode(&private_key)))
            .set("Cookie", &cookie)
            .call(),
    );

    assert!(
        server.log_shows("GET /api/revoke/[token] "),
        "{}",
        server.log()
    );
    let log = server.log();
    // The request lines are there (so the log was captured at debug), without their queries.
    assert!(log.contains("GET /api/sshkeys 401 "), "{log}");
    assert!(log.contains("POST /sshkeys 422 "), "{log}");
    let signature = token.rsplit('.').next().unwrap();
    let mut secrets = vec![
        password,
        &own,
        wrong_password,
        token.as_str(),
        signature,
        session.as_str(),
    ];
    let key_lines: Vec<&str> = private_key
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 16)
        .collect();
    assert!(!key_lines.is_empty());
    secrets.extend(key_lines);
    for secret in secrets {
        assert!(!log.contains(secret), "{secret:?} is in the log:\n{log}");
        assert!(
            !log.contains(&urlencode(secret)),
            "{secret:?} (encoded) in the log"
        );
    }
}
