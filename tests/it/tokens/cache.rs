//! The cache of verified tokens and sessions never outlives what it stands for: after a token
//! has been used (and so cached), revoking it on the page or by the API, purging, disabling its
//! user (on the admin page or with the command line, another process) and deleting a session
//! all take effect on the very next request.

use rocket::http::Status;
use sha2::{Digest, Sha256};

use super::*;

/// Uses `token` twice, so that the second call is answered from the cache.
fn warm(lab: &Lab, token: &str) {
    for _ in 0..2 {
        let resp = api_get(lab, "/api/sshkeys", &format!("Bearer {token}"));
        assert_eq!(resp.status(), Status::Ok);
    }
}

fn refused(lab: &Lab, token: &str) -> bool {
    let resp = api_get(lab, "/api/sshkeys", &format!("Bearer {token}"));
    let status = resp.status();
    let body = resp.into_string().unwrap_or_default();
    status == Status::Unauthorized && body.contains("wrong authorization token")
}

#[test]
fn a_cached_token_revoked_on_the_page_fails_at_once() {
    let lab = lab_with_alice();
    let (id, text) = make(&lab, &[]);
    let (_, other) = make(&lab, &[]);
    warm(&lab, &text);
    warm(&lab, &other);
    let resp = lab.post_form(&format!("/tokens/{id}/revoke"), &[]);
    assert_eq!(resp.status(), Status::SeeOther);
    assert!(refused(&lab, &text));
    assert!(!refused(&lab, &other), "the other token still works");
}

#[test]
fn a_cached_token_revoked_by_the_api_fails_at_once() {
    let lab = lab_with_alice();
    let (_, text) = make(&lab, &[]);
    let (_, caller) = make(&lab, &[]);
    warm(&lab, &text);
    let sha: String = Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let resp = api_post(&lab, &format!("/api/revoke/{sha}"), &caller);
    assert_eq!(resp.status(), Status::Ok);
    assert!(refused(&lab, &text));
}

#[test]
fn a_purge_ends_every_cached_token_at_once() {
    let lab = lab_with_alice();
    let (_, a) = make(&lab, &[]);
    let (_, b) = make(&lab, &[]);
    warm(&lab, &a);
    warm(&lab, &b);
    assert_eq!(api_post(&lab, "/api/purge", &a).status(), Status::Ok);
    assert!(refused(&lab, &a));
    assert!(refused(&lab, &b));
}

#[test]
fn disabling_the_user_on_the_admin_page_ends_cached_tokens_at_once() {
    let lab = Lab::new();
    lab.add_user("alice", false);
    let (ok, out, err) = cli(&lab.data(), &["token", "issue", "alice"], None);
    assert!(ok, "{err}");
    let text = out.trim().to_owned();
    warm(&lab, &text);
    lab.login_admin();
    let conn = rusqlite::Connection::open(lab.data().join("labgate.db")).unwrap();
    let id: i64 = conn
        .query_row("SELECT id FROM users WHERE username = 'alice'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let resp = lab.post_form(&format!("/admin/users/{id}/disable"), &[]);
    assert!(resp.status().code < 400, "{}", resp.status());
    assert!(refused(&lab, &text));
}

#[test]
fn disabling_the_user_from_another_process_ends_cached_tokens_and_sessions() {
    let lab = lab_with_alice();
    let (_, text) = make(&lab, &[]);
    warm(&lab, &text);
    for _ in 0..2 {
        assert_eq!(lab.client.get("/sshkeys").dispatch().status(), Status::Ok);
    }
    let (ok, _, err) = cli(&lab.data(), &["user", "disable", "alice"], None);
    assert!(ok, "{err}");
    assert!(refused(&lab, &text));
    assert_ne!(lab.client.get("/sshkeys").dispatch().status(), Status::Ok);
}

#[test]
fn a_cached_session_ends_when_its_row_goes() {
    let lab = lab_with_alice();
    for _ in 0..2 {
        assert_eq!(lab.client.get("/sshkeys").dispatch().status(), Status::Ok);
    }
    // What logging out and "sign out everywhere" do, from outside the server.
    let conn = rusqlite::Connection::open(lab.data().join("labgate.db")).unwrap();
    conn.execute("DELETE FROM sessions", []).unwrap();
    assert_ne!(lab.client.get("/sshkeys").dispatch().status(), Status::Ok);
}
