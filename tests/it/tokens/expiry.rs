//! No leeway: labgate issues and checks its own tokens on one clock, so a token is refused from
//! the second its `exp` is reached and until its `nbf`; and a token that has left the table
//! (deleted, or shown as expired there) never works, even when the cache had it.

use rocket::http::Status;

use super::*;

fn refused(lab: &Lab, token: &str) -> bool {
    let resp = api_get(lab, "/api/sshkeys", &format!("Bearer {token}"));
    let status = resp.status();
    let body = resp.into_string().unwrap_or_default();
    status == Status::Unauthorized && body.contains("wrong authorization token")
}

/// Uses `token` twice, so that the second call is answered from the cache.
fn warm(lab: &Lab, token: &str) {
    for _ in 0..2 {
        assert!(!refused(lab, token));
    }
}

#[test]
fn a_token_one_second_past_its_expiry_is_refused() {
    let lab = lab_with_alice();
    let (_, valid) = make(&lab, &[]);
    warm(&lab, &valid);
    let key = server_key(&lab);
    let now = labgate::db::now();
    // The same token row, re-signed by the server's own key with an earlier expiry.
    let mut claims = claims_of(&valid);
    claims.exp = now - 1;
    assert!(refused(&lab, &key.sign(&claims)), "exp one second ago");
    claims.exp = now;
    assert!(refused(&lab, &key.sign(&claims)), "exp this very second");
}

#[test]
fn a_token_before_its_not_before_time_is_refused() {
    let lab = lab_with_alice();
    let (_, valid) = make(&lab, &[]);
    let key = server_key(&lab);
    let mut claims = claims_of(&valid);
    claims.nbf = labgate::db::now() + 30;
    assert!(refused(&lab, &key.sign(&claims)));
}

#[test]
fn a_cached_token_whose_row_is_deleted_fails_at_once() {
    let lab = lab_with_alice();
    let (id, text) = make(&lab, &[]);
    let (_, other) = make(&lab, &[]);
    warm(&lab, &text);
    warm(&lab, &other);
    let conn = rusqlite::Connection::open(lab.data().join("labgate.db")).expect("db");
    conn.execute("DELETE FROM tokens WHERE id = ?1", [&id])
        .expect("delete");
    assert!(refused(&lab, &text));
    assert!(!refused(&lab, &other), "the other token still works");
}

#[test]
fn a_token_the_table_shows_as_expired_is_refused() {
    let lab = lab_with_alice();
    let (id, text) = make(&lab, &[]);
    warm(&lab, &text);
    let conn = rusqlite::Connection::open(lab.data().join("labgate.db")).expect("db");
    conn.execute(
        "UPDATE tokens SET expires = ?2 WHERE id = ?1",
        rusqlite::params![id, labgate::db::now() - 1],
    )
    .expect("update");
    let page = lab
        .client
        .get("/tokens")
        .dispatch()
        .into_string()
        .unwrap_or_default();
    assert!(!page.contains(&id), "the token has left the table");
    assert!(refused(&lab, &text));
}
