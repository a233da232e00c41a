//! `labgate token issue`, and tokens checked by code other than ours (PyJWT, via the JWKS).

use rocket::http::Status;

use super::*;

#[test]
fn token_issue_prints_a_token_that_shows_and_works() {
    let lab = Lab::new();
    let password = lab.add_user("alice", false);
    let (ok, out, err) = cli(
        &lab.data(),
        &[
            "token",
            "issue",
            "alice",
            "--duration",
            "3600",
            "--scope",
            "ro",
            "--note",
            "from the shell",
        ],
        None,
    );
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 1, "one line: {out:?}");
    // Not a terminal: exactly the token, so `labgate token issue NAME > jwt.txt` is a jwt.txt.
    assert!(!out.ends_with('\n'), "no trailing newline: {out:?}");
    let text = out.as_str();
    assert!(!text.contains(char::is_whitespace));
    assert!(err.contains("API token for alice (ro)"), "{err}");
    let claims = claims_of(text);
    assert_eq!((claims.sub.as_str(), claims.sc.as_str()), ("alice", "ro"));
    assert_eq!(claims.exp - claims.iat, 3600);
    assert_eq!(
        claims.iss, "http://127.0.0.1:8000",
        "the issuer the server recorded"
    );
    assert_eq!(api_status(&lab, text), Status::Ok);

    lab.login("alice", &password);
    let page = lab.client.get("/tokens").dispatch().into_string().unwrap();
    assert!(page.contains(&format!("id=\"token-{}\"", claims.jti)));
    assert!(page.contains("from the shell"));
    assert_eq!(
        jwt_txt(&lab, &claims.jti),
        text,
        "the page shows the same text"
    );
    let log = account_page(&lab);
    assert!(log.contains("API token made"));
    assert!(log.contains("by the command line, ro for 1 hour"));

    // Defaults: rw for 24 hours.
    let (ok, out, _) = cli(&lab.data(), &["token", "issue", "alice"], None);
    assert!(ok);
    let claims = claims_of(out.trim());
    assert_eq!((claims.exp - claims.iat, claims.sc.as_str()), (86400, "rw"));
}

#[test]
fn token_issue_refuses_unknown_and_disabled_users_and_bad_input() {
    let lab = Lab::new();
    lab.add_user("alice", false);
    let refusals: [(&[&str], &str); 5] = [
        (&["token", "issue", "nobody"], "no user named nobody"),
        (
            &["token", "issue", "alice", "--scope", "admin"],
            "scope must be",
        ),
        (
            &["token", "issue", "alice", "--duration", "5"],
            "at least 60 seconds",
        ),
        (
            &["token", "issue", "alice", "--duration", "soon"],
            "invalid value",
        ),
        (
            &["token", "issue", "alice", "--note", &"n".repeat(101)],
            "at most 100",
        ),
    ];
    for (args, message) in refusals {
        let (ok, out, err) = cli(&lab.data(), args, None);
        assert!(!ok && out.is_empty(), "{args:?}");
        assert!(err.contains(message), "{args:?}: {err}");
    }
    let (ok, _, err) = cli(&lab.data(), &["user", "disable", "alice"], None);
    assert!(ok, "{err}");
    let (ok, out, err) = cli(&lab.data(), &["token", "issue", "alice"], None);
    assert!(!ok && out.is_empty());
    assert!(err.contains("alice is disabled"), "{err}");
}

/// A token made by `labgate token issue` verifies against the published JWKS with PyJWT, an
/// implementation that shares nothing with our signing code.
#[test]
#[ignore = "needs python with PyJWT"]
fn pyjwt_verifies_a_token_against_the_jwks() {
    let python = std::env::var("LABGATE_TEST_PYTHON").expect("LABGATE_TEST_PYTHON");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let served = Served::start(&data);
    let (ok, _, err) = cli(&data, &["user", "add", "pyuser"], None);
    assert!(ok, "{err}");
    let (ok, out, err) = cli(&data, &["token", "issue", "pyuser", "--scope", "ro"], None);
    assert!(ok, "{err}");
    let token = out.trim();
    let script = r#"
import json, sys, urllib.request
import jwt
url, token = sys.argv[1], sys.argv[2]
jwks = json.load(urllib.request.urlopen(url + "/.well-known/jwks.json"))
kid = jwt.get_unverified_header(token)["kid"]
key = jwt.PyJWK([k for k in jwks["keys"] if k["kid"] == kid][0])
claims = jwt.decode(token, key, algorithms=["EdDSA"], audience=url, issuer=url)
try:
    jwt.decode(token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"), key,
               algorithms=["EdDSA"], audience=url, issuer=url)
    sys.exit("a damaged token verified")
except jwt.InvalidSignatureError:
    pass
print(json.dumps(claims))
"#;
    let output = std::process::Command::new(python)
        .args(["-c", script, &served.url, token])
        .output()
        .expect("run python");
    assert!(
        output.status.success(),
        "PyJWT refused: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let claims: Value = serde_json::from_slice(&output.stdout).expect("claims JSON");
    assert_eq!(claims["sub"], "pyuser");
    assert_eq!(claims["sc"], "ro");
    assert_eq!(claims["iss"], served.url.as_str());
    // And the server agrees.
    let status = ureq::get(&format!("{}/api/tokens", served.url))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .map(|r| r.status())
        .unwrap_or_else(|e| match e {
            ureq::Error::Status(code, _) => code,
            other => panic!("{other}"),
        });
    assert_eq!(status, 200);
}

/// The stock rerobots client (PyPI 0.11) revokes a token by its text and purges, against the
/// real server, with an `rw` token (an `ro` one may only read).
#[test]
#[ignore = "needs python with the rerobots client"]
fn rerobots_client_revokes_and_purges() {
    let python = std::env::var("LABGATE_TEST_PYTHON").expect("LABGATE_TEST_PYTHON");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let served = Served::start(&data);
    let (ok, _, err) = cli(&data, &["user", "add", "pyuser"], None);
    assert!(ok, "{err}");
    let issue = |scope: &str| {
        let (ok, out, err) = cli(&data, &["token", "issue", "pyuser", "--scope", scope], None);
        assert!(ok, "{err}");
        out.trim().to_owned()
    };
    let (first, second, caller) = (issue("rw"), issue("rw"), issue("rw"));
    let script = r#"
import sys
from rerobots.api import APIClient
base, first, second, caller = sys.argv[1:]
APIClient(api_token=caller, base_uri=base).revoke_token(token=first)
try:
    APIClient(api_token=first, base_uri=base).purge()
    sys.exit("a revoked token still works")
except Exception as e:
    assert "wrong authorization token" in str(e), e
APIClient(api_token=caller, base_uri=base).purge()
for token in (second, caller):
    try:
        APIClient(api_token=token, base_uri=base).purge()
        sys.exit("a purged token still works")
    except Exception as e:
        assert "wrong authorization token" in str(e), e
print("ok")
"#;
    let base = format!("{}/api", served.url);
    let output = std::process::Command::new(python)
        .args(["-c", script, &base, &first, &second, &caller])
        .output()
        .expect("run python");
    assert!(
        output.status.success(),
        "rerobots client: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "ok");
}
