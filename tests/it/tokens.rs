//! API tokens: the `/tokens` page and its fragments, `jwt.txt`, revocation, the Bearer guard
//! against forged and stale tokens, the token API, `labgate token issue`, `/admin/limits`.

mod api;
mod cache;
mod cli;
mod expiry;
mod forged;
mod limits;
mod pages;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use labgate::tokens::jwt::{Claims, SigningKey};
use rocket::http::{Header, Status};
use rocket::local::blocking::LocalResponse;
use serde_json::Value;

use crate::common::*;

/// A lab with member `alice` signed in on the tracked client.
fn lab_with_alice() -> Lab {
    let lab = Lab::new();
    let password = lab.add_user("alice", false);
    lab.login("alice", &password);
    lab
}

/// Makes a token on the page (no JavaScript) and returns its id and text.
fn make(lab: &Lab, fields: &[(&str, &str)]) -> (String, String) {
    let resp = lab.post_form("/tokens", fields);
    assert_eq!(
        resp.status(),
        Status::SeeOther,
        "make a token with {fields:?}"
    );
    let location = resp
        .headers()
        .get_one("Location")
        .expect("Location")
        .to_owned();
    let id = location
        .strip_prefix("/tokens/")
        .expect("303 to the token's panel")
        .to_owned();
    let text = jwt_txt(lab, &id);
    (id, text)
}

/// The body of `/tokens/{id}/jwt.txt`, checked to be a download that is never cached.
fn jwt_txt(lab: &Lab, id: &str) -> String {
    let resp = lab.client.get(format!("/tokens/{id}/jwt.txt")).dispatch();
    assert_eq!(resp.status(), Status::Ok, "jwt.txt of {id}");
    let h = resp.headers();
    assert!(h
        .get_one("Content-Type")
        .is_some_and(|t| t.starts_with("text/plain")));
    assert_eq!(
        h.get_one("Content-Disposition"),
        Some("attachment; filename=\"jwt.txt\"")
    );
    assert_eq!(h.get_one("Cache-Control"), Some("no-store"));
    resp.into_string().expect("body")
}

/// The token text shown in the "token" panel of a page or fragment.
fn panel_text(html: &str) -> Option<String> {
    let start = html.find("id=\"token-text\"")?;
    let open = start + html[start..].find('>')? + 1;
    let close = open + html[open..].find("</textarea>")?;
    Some(html[open..close].to_owned())
}

/// The decoded JSON of a token's `n`th segment (0 header, 1 claims).
fn segment(token: &str, n: usize) -> Value {
    let part = token.split('.').nth(n).expect("segment");
    let bytes = URL_SAFE_NO_PAD.decode(part).expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON")
}

/// GET an `/api` route with `Authorization: {auth}`.
fn api_get<'a>(lab: &'a Lab, uri: &str, auth: &str) -> LocalResponse<'a> {
    lab.client
        .get(uri.to_owned())
        .header(Header::new("Authorization", auth.to_owned()))
        .dispatch()
}

/// POST to an `/api` route with a Bearer token and no body or Content-Type, as rerobots does.
fn api_post<'a>(lab: &'a Lab, uri: &str, token: &str) -> LocalResponse<'a> {
    lab.client
        .post(uri.to_owned())
        .header(Header::new("Authorization", format!("Bearer {token}")))
        .dispatch()
}

/// Status of `GET /api/tokens` with this token.
fn api_status(lab: &Lab, token: &str) -> Status {
    api_get(lab, "/api/tokens", &format!("Bearer {token}")).status()
}

/// Asserts the answer rerobots expects for any token problem.
fn assert_wrong_token(resp: LocalResponse<'_>, what: &str) {
    assert_eq!(resp.status(), Status::Unauthorized, "{what}");
    assert_eq!(
        resp.headers().get_one("WWW-Authenticate"),
        Some("Bearer"),
        "{what}"
    );
    let body: Value = serde_json::from_str(&resp.into_string().unwrap_or_default())
        .unwrap_or_else(|_| panic!("{what}: JSON body"));
    assert_eq!(body["error_message"], "wrong authorization token", "{what}");
}

/// The server's own signing key, read from the data directory.
fn server_key(lab: &Lab) -> SigningKey {
    let pem = std::fs::read_to_string(lab.data().join("signing-key.pem")).expect("key file");
    SigningKey::from_pkcs8_pem(&pem).expect("key")
}

/// The claims of a token, as signed.
fn claims_of(token: &str) -> Claims {
    serde_json::from_value(segment(token, 1)).expect("claims")
}

/// The database of a lab, opened beside its server.
fn db(lab: &Lab) -> labgate::db::Db {
    labgate::db::Db::open(&lab.data().join("labgate.db")).expect("db")
}

/// The security log as shown on `/account`.
fn account_page(lab: &Lab) -> String {
    lab.client
        .get("/account")
        .dispatch()
        .into_string()
        .expect("account page")
}
