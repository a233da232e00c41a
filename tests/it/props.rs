//! Property tests: the key parser and the token verifier never panic, whatever they are given;
//! every key the parser accepts round-trips to the same canonical line and fingerprint (checked
//! against ssh-key's own fingerprint); a valid token changed in any one place is refused.
//! Case counts are bounded so the whole module runs in seconds.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use labgate::keys::parse::{parse_public_key, ParsedKey};
use labgate::tokens::jwt::{Claims, SigningKey};
use proptest::prelude::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keys/");

const PUB_FILES: [&str; 11] = [
    "ed25519.pub",
    "rsa2048.pub",
    "rsa3072.pub",
    "rsa1024.pub",
    "dsa.pub",
    "ecdsa256.pub",
    "ecdsa384.pub",
    "ecdsa521.pub",
    "sk-ed25519.pub",
    "sk-ecdsa.pub",
    "cert.pub",
];

const TYPES: [&str; 8] = [
    "ssh-ed25519",
    "sk-ssh-ed25519@openssh.com",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-rsa",
    "ssh-dss",
];

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}{name}")).expect("fixture")
}

/// What every accepted key must satisfy: its canonical line parses to itself, and the
/// fingerprint is the one ssh-key computes independently from that line.
fn check_accepted(key: &ParsedKey) -> Result<(), TestCaseError> {
    let again = parse_public_key(&key.canonical)
        .map_err(|e| TestCaseError::fail(format!("canonical line refused: {e}")))?;
    prop_assert_eq!(&again.canonical, &key.canonical);
    prop_assert_eq!(&again.fingerprint, &key.fingerprint);
    prop_assert_eq!(&again.algorithm, &key.algorithm);
    prop_assert_eq!(again.bits, key.bits);
    let theirs = ssh_key::PublicKey::from_openssh(&key.canonical)
        .map_err(|e| TestCaseError::fail(format!("ssh-key refuses {}: {e}", key.canonical)))?;
    prop_assert_eq!(
        theirs.fingerprint(ssh_key::HashAlg::Sha256).to_string(),
        key.fingerprint.clone()
    );
    let prefix = format!("{} ", key.algorithm);
    prop_assert!(key.canonical.starts_with(&prefix));
    Ok(())
}

fn check(input: &str) -> Result<(), TestCaseError> {
    if let Ok(key) = parse_public_key(input) {
        check_accepted(&key)?;
    }
    Ok(())
}

/// A fixture's key line, changed by one edit: a byte replaced, inserted or removed.
fn mutated_line() -> impl Strategy<Value = Vec<u8>> {
    (
        0..PUB_FILES.len(),
        any::<prop::sample::Index>(),
        any::<u8>(),
        0..3u8,
    )
        .prop_map(|(file, at, byte, edit)| {
            let mut line = fixture(PUB_FILES[file]).into_bytes();
            let i = at.index(line.len());
            match edit {
                0 => line[i] = byte,
                1 => line.insert(i, byte),
                _ => {
                    line.remove(i);
                }
            }
            line
        })
}

/// A fixture's decoded key blob with one byte changed, re-encoded behind its own type.
fn mutated_blob() -> impl Strategy<Value = String> {
    (
        0..PUB_FILES.len(),
        any::<prop::sample::Index>(),
        any::<u8>(),
    )
        .prop_map(|(file, at, byte)| {
            let text = fixture(PUB_FILES[file]);
            let mut words = text.split_whitespace();
            let label = words.next().unwrap_or_default().to_owned();
            let mut blob = STANDARD
                .decode(words.next().unwrap_or_default())
                .unwrap_or_default();
            let i = at.index(blob.len());
            blob[i] = byte;
            format!("{label} {} x", STANDARD.encode(blob))
        })
}

/// A type label followed by arbitrary bytes as key data.
fn random_blob() -> impl Strategy<Value = String> {
    (0..TYPES.len(), prop::collection::vec(any::<u8>(), 0..700)).prop_map(|(t, tail)| {
        let name = TYPES[t].as_bytes();
        let mut blob = (name.len() as u32).to_be_bytes().to_vec();
        blob.extend_from_slice(name);
        blob.extend_from_slice(&tail);
        format!("{} {}", TYPES[t], STANDARD.encode(blob))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_key_parser_never_panics_on_any_text(input in any::<String>()) {
        check(&input)?;
    }

    #[test]
    fn the_key_parser_never_panics_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..9000)) {
        check(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn edited_key_lines_are_refused_or_round_trip(bytes in mutated_line()) {
        check(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn edited_key_blobs_are_refused_or_round_trip(line in mutated_blob()) {
        check(&line)?;
    }

    #[test]
    fn random_key_data_is_refused_or_round_trips(line in random_blob()) {
        check(&line)?;
    }
}

#[test]
fn every_fixture_that_is_accepted_round_trips() {
    let mut accepted = 0;
    for name in PUB_FILES {
        if let Ok(key) = parse_public_key(&fixture(name)) {
            check_accepted(&key).unwrap_or_else(|e| panic!("{name}: {e}"));
            accepted += 1;
        }
    }
    assert_eq!(accepted, 8, "every supported fixture is accepted");
}

const ISSUER: &str = "https://lab.example.org";

fn signed() -> (SigningKey, String) {
    let key = SigningKey::generate();
    let claims = Claims {
        iss: ISSUER.into(),
        aud: ISSUER.into(),
        sub: "alice".into(),
        iat: 1_800_000_000,
        nbf: 1_800_000_000,
        exp: 1_800_086_400,
        jti: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0".into(),
        sc: "rw".into(),
    };
    let token = key.sign(&claims);
    (key, token)
}

/// A time inside the token's window.
const NOW: i64 = 1_800_000_100;

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_token_verifier_never_panics_on_any_text(input in any::<String>(), now in any::<i64>()) {
        let (key, _) = signed();
        let _ = key.verify(&input, ISSUER, ISSUER, now);
    }

    #[test]
    fn the_token_verifier_never_panics_on_three_base64url_segments(
        parts in prop::collection::vec("[A-Za-z0-9_-]{0,120}", 3),
        now in any::<i64>(),
    ) {
        let (key, _) = signed();
        let _ = key.verify(&parts.join("."), ISSUER, ISSUER, now);
    }

    #[test]
    fn a_valid_token_changed_in_any_one_place_is_refused(
        at in any::<prop::sample::Index>(),
        replacement in any::<char>(),
        edit in 0..3u8,
    ) {
        let (key, token) = signed();
        prop_assert!(key.verify(&token, ISSUER, ISSUER, NOW).is_ok());
        let mut chars: Vec<char> = token.chars().collect();
        let i = at.index(chars.len());
        match edit {
            0 => {
                prop_assume!(chars[i] != replacement);
                chars[i] = replacement;
            }
            1 => chars.insert(i, replacement),
            _ => {
                chars.remove(i);
            }
        }
        let changed: String = chars.into_iter().collect();
        prop_assert!(key.verify(&changed, ISSUER, ISSUER, NOW).is_err(), "{} accepted", changed);
    }
}
