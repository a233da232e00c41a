//! The Bearer guard against forged, altered, stale and malformed tokens: every one is a 401
//! with rerobots' message (never a 5xx), whatever was tried.

use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::Signer;
use rocket::http::{Header, Status};
use sha2::{Digest, Sha256};

use super::*;

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with any header and claims, signed by any raw Ed25519 key.
fn raw_token(key: &ed25519_dalek::SigningKey, header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let signature = key.sign(input.as_bytes());
    format!("{input}.{}", b64(signature.to_bytes()))
}

/// The server's key as a raw Ed25519 key, to sign headers our own code never would.
fn raw_server_key(lab: &Lab) -> ed25519_dalek::SigningKey {
    let pem = std::fs::read_to_string(lab.data().join("signing-key.pem")).unwrap();
    ed25519_dalek::SigningKey::from_pkcs8_pem(&pem).unwrap()
}

/// HMAC-SHA256 (RFC 2104), for the classic "HS256 keyed with the public key" forgery.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    block[..key.len().min(64)].copy_from_slice(&key[..key.len().min(64)]);
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

#[test]
fn forged_and_altered_tokens_are_refused() {
    let lab = lab_with_alice();
    let (_, valid) = make(&lab, &[("scope", "ro")]);
    assert_eq!(api_status(&lab, &valid), Status::Ok);
    let key = server_key(&lab);
    let raw = raw_server_key(&lab);
    let claims = claims_of(&valid);
    let claims_json = segment(&valid, 1);
    let header = segment(&valid, 0);
    let with = |f: &dyn Fn(&mut Claims)| {
        let mut c = claims.clone();
        f(&mut c);
        key.sign(&c)
    };
    let with_header = |alg: &str| {
        let mut h = header.clone();
        h["alg"] = alg.into();
        h
    };
    let [h, p, s]: [&str; 3] = valid.split('.').collect::<Vec<_>>().try_into().unwrap();
    let now = labgate::db::now();

    let mut tampered_claims = claims_json.clone();
    tampered_claims["sc"] = "rw".into();
    let hs256_input = format!("{}.{p}", b64(with_header("HS256").to_string()));
    let jwk_x = URL_SAFE_NO_PAD
        .decode(key.jwks()["keys"][0]["x"].as_str().unwrap())
        .unwrap();
    let other = SigningKey::generate();
    let other_raw = ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng);

    let cases: Vec<(&str, String)> = vec![
        ("not yet valid", with(&|c| c.nbf = now + 3600)),
        ("expired", with(&|c| c.exp = now - 120)),
        (
            "wrong issuer",
            with(&|c| c.iss = "http://evil.example".into()),
        ),
        (
            "wrong audience",
            with(&|c| c.aud = "http://evil.example".into()),
        ),
        ("another subject", with(&|c| c.sub = "admin".into())),
        ("scope raised", with(&|c| c.sc = "rw".into())),
        ("unknown token id", with(&|c| c.jti = "no-such-row".into())),
        (
            "alg none, no signature",
            format!("{}.{p}.", b64(with_header("none").to_string())),
        ),
        (
            "alg none, old signature",
            format!("{}.{p}.{s}", b64(with_header("none").to_string())),
        ),
        (
            "alg HS256 keyed with the public key",
            format!(
                "{hs256_input}.{}",
                b64(hmac_sha256(&jwk_x, hs256_input.as_bytes()))
            ),
        ),
        (
            "alg RS256, our valid signature",
            raw_token(&raw, &with_header("RS256"), &claims_json),
        ),
        (
            "alg Ed25519 spelled otherwise",
            raw_token(&raw, &with_header("ED25519"), &claims_json),
        ),
        (
            "tampered payload",
            format!("{h}.{}.{s}", b64(tampered_claims.to_string())),
        ),
        ("another key", other.sign(&claims)),
        (
            "another key under our kid",
            raw_token(&other_raw, &header, &claims_json),
        ),
        ("two segments", format!("{h}.{p}")),
        ("four segments", format!("{valid}.{s}")),
        ("padded base64", format!("{h}.{p}==.{s}")),
        ("padded signature", format!("{h}.{p}.{s}=")),
        (
            "standard base64 alphabet",
            valid.replace('-', "+").replace('_', "/") + "+",
        ),
        ("truncated signature", valid[..valid.len() - 2].to_owned()),
        ("garbage", "not-a-token".to_owned()),
        ("empty", String::new()),
    ];
    for (what, token) in cases {
        assert_wrong_token(
            api_get(&lab, "/api/tokens", &format!("Bearer {token}")),
            what,
        );
    }
    for auth in [
        "Bearer".to_owned(),
        format!("Basic {valid}"),
        format!("Token {valid}"),
        format!("Bearer{valid}"),
        valid.clone(),
    ] {
        assert_wrong_token(api_get(&lab, "/api/tokens", &auth), &auth);
    }
    assert_eq!(
        api_status(&lab, &valid),
        Status::Ok,
        "the real one still works"
    );
}

#[test]
fn huge_authorization_headers_are_refused_without_a_server_error() {
    let lab = lab_with_alice();
    let (_, valid) = make(&lab, &[]);
    let huge = format!("Bearer {}", "A".repeat(1 << 20));
    let resp = api_get(&lab, "/api/tokens", &huge);
    assert!(resp.status().code >= 400 && resp.status().code < 500);
    let resp = api_get(
        &lab,
        "/api/tokens",
        &format!("Bearer {valid}{}", "A".repeat(1 << 20)),
    );
    assert!(resp.status().code >= 400 && resp.status().code < 500);
    let resp = lab
        .client
        .get("/api/tokens")
        .header(Header::new("Authorization", format!("Bearer {valid}")))
        .header(Header::new("Authorization", format!("Bearer {valid}")))
        .dispatch();
    assert!(resp.status().code < 500, "two Authorization headers");
}

#[test]
fn huge_header_on_the_real_server() {
    // Through the real HTTP stack: whatever layer refuses a 1 MiB header, it is never a 5xx.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let served = Served::start(&data);
    let huge = format!("Bearer {}", "A".repeat(1 << 20));
    let answer = ureq::get(&format!("{}/api/tokens", served.url))
        .set("Authorization", &huge)
        .call();
    match answer {
        Ok(resp) => panic!("a 1 MiB header was accepted: {}", resp.status()),
        Err(ureq::Error::Status(code, _)) => assert!((400..500).contains(&code), "{code}"),
        // Closing the connection on an oversized request head is also a refusal.
        Err(ureq::Error::Transport(t)) => eprintln!("refused by closing: {t}"),
    }
    assert!(ureq::get(&format!("{}/alive", served.url)).call().is_ok());
}
