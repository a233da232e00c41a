//! The token API: listing, revoking by SHA-256, purging; scopes; the cookie never counts.

use rocket::http::{ContentType, Header, Status};
use sha2::{Digest, Sha256};

use super::*;

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn list_shows_metadata_only_and_last_used() {
    let lab = lab_with_alice();
    let (id, text) = make(&lab, &[("note", "lab laptop"), ("scope", "ro")]);
    let page = lab.client.get("/tokens").dispatch().into_string().unwrap();
    assert!(page.contains("never"), "not used yet");

    let resp = api_get(&lab, "/api/tokens", &format!("Bearer {text}"));
    assert_eq!(resp.status(), Status::Ok);
    assert_eq!(resp.headers().get_one("Cache-Control"), Some("no-store"));
    let body = resp.into_string().unwrap();
    assert!(!body.contains(&text), "never the token text");
    let list: Value = serde_json::from_str(&body).unwrap();
    let item = list[0].as_object().unwrap();
    let mut keys: Vec<&str> = item.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["created", "expires", "id", "last_used", "note", "scope"]
    );
    assert_eq!(item["id"], id.as_str());
    assert_eq!(item["note"], "lab laptop");
    assert_eq!(item["scope"], "ro");
    assert!(item["last_used"].as_i64().unwrap() >= item["created"].as_i64().unwrap());

    let page = lab.client.get("/tokens").dispatch().into_string().unwrap();
    assert!(page.contains("just now"), "last used shows");

    // The scheme is case-insensitive; extra spaces are tolerated.
    for auth in [format!("bearer {text}"), format!("BEARER  {text}")] {
        assert_eq!(
            api_get(&lab, "/api/tokens", &auth).status(),
            Status::Ok,
            "{auth}"
        );
    }
}

#[test]
fn a_failing_or_busy_last_used_write_does_not_fail_the_call() {
    let lab = lab_with_alice();
    let (id, text) = make(&lab, &[]);
    let path = lab.data().join("labgate.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let last_used = |conn: &rusqlite::Connection| -> Option<i64> {
        conn.query_row("SELECT last_used FROM tokens WHERE id = ?1", [&id], |r| {
            r.get(0)
        })
        .unwrap()
    };

    // The stamp fails outright: the call still succeeds, and nothing is stamped.
    conn.execute_batch(
        "CREATE TRIGGER refuse_stamp BEFORE UPDATE OF last_used ON tokens
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
    )
    .unwrap();
    assert_eq!(api_status(&lab, &text), Status::Ok);
    assert_eq!(last_used(&conn), None);
    conn.execute_batch("DROP TRIGGER refuse_stamp").unwrap();

    // Another writer holds the database: the call answers at once, without the stamp.
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = std::time::Instant::now();
    assert_eq!(api_status(&lab, &text), Status::Ok);
    let took = started.elapsed();
    conn.execute_batch("ROLLBACK").unwrap();
    assert!(took < std::time::Duration::from_secs(1), "{took:?}");
    assert_eq!(last_used(&conn), None);

    assert_eq!(api_status(&lab, &text), Status::Ok);
    assert!(
        last_used(&conn).is_some(),
        "stamped once the database is free"
    );
}

#[test]
fn session_cookie_and_query_parameters_never_count() {
    let lab = lab_with_alice();
    let (_, text) = make(&lab, &[]);
    // The tracked client sends alice's session cookie with every request.
    assert_wrong_token(lab.client.get("/api/tokens").dispatch(), "cookie alone");
    assert_wrong_token(
        lab.client.post("/api/purge").dispatch(),
        "cookie alone, purge",
    );
    for uri in [
        format!("/api/tokens?access_token={text}"),
        format!("/api/tokens?token={text}"),
        format!("/api/tokens?jwt={text}"),
    ] {
        assert_wrong_token(lab.client.get(uri.clone()).dispatch(), &uri);
    }
    assert_eq!(
        api_status(&lab, &text),
        Status::Ok,
        "not purged by the cookie"
    );
}

#[test]
fn revoke_by_sha256_own_tokens_only() {
    let lab = Lab::new();
    let alice = lab.add_user("alice", false);
    let bob = lab.add_user("bob", false);
    lab.login("bob", &bob);
    let (_, bobs) = make(&lab, &[("note", "bob's")]);
    lab.login("alice", &alice);
    let (_, caller) = make(&lab, &[("note", "caller"), ("scope", "rw")]);
    let (other_id, other) = make(&lab, &[("note", "other")]);

    // Another user's token, malformed hashes and unknown ones: 404 JSON, nothing revoked.
    for sha in [
        sha256_hex(&bobs),
        "abc".into(),
        "g".repeat(64),
        "0".repeat(64),
    ] {
        let resp = api_post(&lab, &format!("/api/revoke/{sha}"), &caller);
        assert_eq!(resp.status(), Status::NotFound, "{sha}");
        let body: Value = resp.into_json().unwrap();
        assert!(body["error_message"].is_string());
    }
    assert_eq!(api_status(&lab, &bobs), Status::Ok);

    // The caller may revoke its other tokens (lowercase hex) ...
    let resp = api_post(
        &lab,
        &format!("/api/revoke/{}", sha256_hex(&other)),
        &caller,
    );
    assert_eq!(resp.status(), Status::Ok);
    assert_eq!(
        resp.into_string().unwrap_or_default(),
        "",
        "an empty 200, as rerobots answers"
    );
    assert_eq!(api_status(&lab, &other), Status::Unauthorized);
    let log = account_page(&lab);
    assert!(log.contains("API token revoked"));
    assert!(log.contains(&format!("(token {}), by the API", &other_id[..8])));
    // ... and itself (uppercase hex), with a body and no Content-Type, as rerobots sends.
    let resp = lab
        .client
        .post(format!(
            "/api/revoke/{}",
            sha256_hex(&caller).to_uppercase()
        ))
        .header(Header::new("Authorization", format!("Bearer {caller}")))
        .body("{}")
        .dispatch();
    assert_eq!(resp.status(), Status::Ok);
    assert_eq!(api_status(&lab, &caller), Status::Unauthorized);
    // A revoked token can revoke nothing more.
    let resp = api_post(
        &lab,
        &format!("/api/revoke/{}", sha256_hex(&caller)),
        &caller,
    );
    assert_eq!(resp.status(), Status::Unauthorized);
}

#[test]
fn purge_revokes_every_token_of_the_caller() {
    let lab = Lab::new();
    let alice = lab.add_user("alice", false);
    let bob = lab.add_user("bob", false);
    lab.login("bob", &bob);
    let (_, bobs) = make(&lab, &[]);
    lab.login("alice", &alice);
    let texts: Vec<String> = (0..3).map(|_| make(&lab, &[]).1).collect();
    let resp = lab
        .client
        .post("/api/purge")
        .header(ContentType::JSON)
        .header(Header::new("Authorization", format!("Bearer {}", texts[1])))
        .body("")
        .dispatch();
    assert_eq!(resp.status(), Status::Ok);
    assert_eq!(
        resp.into_string().unwrap_or_default(),
        "",
        "an empty 200, as rerobots answers"
    );
    for text in &texts {
        assert_eq!(api_status(&lab, text), Status::Unauthorized);
    }
    assert_eq!(
        api_status(&lab, &bobs),
        Status::Ok,
        "other users keep theirs"
    );
    let page = lab.client.get("/tokens").dispatch().into_string().unwrap();
    assert!(page.contains("You have no active API tokens."));
    let log = account_page(&lab);
    assert!(log.contains("all tokens purged"));
    assert!(log.contains("3 active tokens revoked, by the API"));
}

#[test]
fn read_only_tokens_only_read() {
    // DESIGN: `ro` tokens may only read. Adding an SSH key, revoking and purging are writes:
    // 403 JSON, and nothing changes.
    let lab = lab_with_alice();
    let (_, ro) = make(&lab, &[("scope", "ro")]);
    let (_, rw) = make(&lab, &[("scope", "rw")]);
    assert_eq!(api_status(&lab, &ro), Status::Ok);
    let key = std::fs::read_to_string("tests/fixtures/keys/ed25519.pub").unwrap();
    let body = serde_json::json!({ "name": "laptop", "key": key }).to_string();
    let add = |token: &str| {
        lab.client
            .post("/api/sshkeys")
            .header(Header::new("Authorization", format!("Bearer {token}")))
            .body(body.clone())
            .dispatch()
            .status()
    };
    assert_eq!(add(&ro), Status::Forbidden, "ro cannot write");
    assert_eq!(add(&rw), Status::Created, "rw can");
    for uri in [
        format!("/api/revoke/{}", sha256_hex(&rw)),
        format!("/api/revoke/{}", sha256_hex(&ro)),
        "/api/purge".to_owned(),
    ] {
        let resp = api_post(&lab, &uri, &ro);
        assert_eq!(resp.status(), Status::Forbidden, "{uri}");
        let body: Value = resp.into_json().unwrap();
        assert!(
            body["error_message"]
                .as_str()
                .is_some_and(|m| m.contains("read-only")),
            "{uri}: {body}"
        );
    }
    assert_eq!(api_status(&lab, &rw), Status::Ok, "rw still works");
    assert_eq!(api_status(&lab, &ro), Status::Ok, "ro still works");
    assert!(!account_page(&lab).contains("API token revoked"));
    // An rw token may take the ro one away.
    let resp = api_post(&lab, &format!("/api/revoke/{}", sha256_hex(&ro)), &rw);
    assert_eq!(resp.status(), Status::Ok);
    assert_eq!(api_status(&lab, &ro), Status::Unauthorized);
}

#[test]
fn disabled_users_tokens_fail() {
    let lab = lab_with_alice();
    let (_, text) = make(&lab, &[]);
    assert_eq!(api_status(&lab, &text), Status::Ok);
    let (ok, _, err) = cli(&lab.data(), &["user", "disable", "alice"], None);
    assert!(ok, "{err}");
    assert_wrong_token(
        api_get(&lab, "/api/tokens", &format!("Bearer {text}")),
        "disabled user",
    );
    assert_eq!(
        api_post(&lab, "/api/purge", &text).status(),
        Status::Unauthorized
    );
}

#[test]
fn jwks_publishes_the_signing_key() {
    let lab = Lab::new();
    let resp = lab.client.get("/.well-known/jwks.json").dispatch();
    assert_eq!(resp.status(), Status::Ok);
    assert_eq!(resp.content_type(), Some(ContentType::JSON));
    let jwks: Value = resp.into_json().unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["kid"], server_key(&lab).kid());
    assert!(key.get("d").is_none(), "never the private half");
}
