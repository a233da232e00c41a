//! Ed25519 token-signing key and compact JWTs (`alg` EdDSA) for labgate's API tokens.
//!
//! Every token has the header `{"alg":"EdDSA","typ":"JWT","kid":KID}`, where KID is the
//! RFC 7638 thumbprint of the signing key's public half. [`SigningKey::verify`] checks the
//! token's shape, algorithm, key id, signature, issuer, audience, time window and claim values;
//! revocation and user checks are left to the caller, which has the database.

mod keyfile;

use std::fmt::{self, Write as _};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::Signer as _;
use rand_core::OsRng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// Longest token text [`SigningKey::verify`] looks at; longer ones are refused before decoding.
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The server's Ed25519 token-signing key.
pub struct SigningKey {
    key: ed25519_dalek::SigningKey,
    kid: String,
    header_b64: String,
}

/// The claims of a labgate API token; serialized in field order, so signing is reproducible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer: the console's public URL.
    pub iss: String,
    /// Audience: the console's public URL.
    pub aud: String,
    /// Subject: the username.
    pub sub: String,
    /// Issued at, unix seconds.
    pub iat: i64,
    /// Not valid before, unix seconds.
    pub nbf: i64,
    /// Expiry, unix seconds.
    pub exp: i64,
    /// Token id: the token's row id.
    pub jti: String,
    /// Scope: `"rw"` or `"ro"`.
    pub sc: String,
}

/// Why a key could not be loaded or a token was refused.
///
/// The variants are for logs; clients should only ever be told "wrong authorization token".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtError {
    /// Too long, not three non-empty unpadded base64url segments, or a header that is not a
    /// JSON object with well-typed fields (or that has `crit`).
    Malformed,
    /// `alg` is missing or is anything but `EdDSA`.
    Algorithm,
    /// `kid` is missing or is not this key's.
    KeyId,
    /// The signature is not this key's signature over the token.
    Signature,
    /// `iss` is not the expected issuer.
    Issuer,
    /// `aud` neither is nor contains the expected audience.
    Audience,
    /// `exp` has been reached (there is no leeway).
    Expired,
    /// `nbf` is still ahead (there is no leeway).
    NotYetValid,
    /// The payload is not a JSON object with the expected claims, or `sub`/`jti` is empty, or
    /// `sc` is neither `rw` nor `ro`.
    Claims,
    /// The private key could not be decoded (bad PEM or PKCS#8).
    Key(String),
    /// Reading or writing the key file failed.
    Io(String),
}

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed => f.write_str("malformed token"),
            Self::Algorithm => f.write_str("token algorithm not allowed"),
            Self::KeyId => f.write_str("token key id unknown"),
            Self::Signature => f.write_str("bad token signature"),
            Self::Issuer => f.write_str("wrong token issuer"),
            Self::Audience => f.write_str("wrong token audience"),
            Self::Expired => f.write_str("token expired"),
            Self::NotYetValid => f.write_str("token not yet valid"),
            Self::Claims => f.write_str("bad token claims"),
            Self::Key(why) => write!(f, "bad signing key: {why}"),
            Self::Io(why) => write!(f, "signing key file: {why}"),
        }
    }
}

impl std::error::Error for JwtError {}

/// The header fields verification looks at; all others (`jwk`, `jku`, `x5u`, `x5c`, ...) are
/// ignored on purpose, as the only key ever trusted is our own.
#[derive(Deserialize)]
struct ReceivedHeader {
    alg: Option<String>,
    kid: Option<String>,
    crit: Option<serde::de::IgnoredAny>,
}

/// [`Claims`] as received: `aud` may be a string or an array of strings (RFC 7519 4.1.3).
#[derive(Deserialize)]
struct ReceivedClaims {
    iss: String,
    aud: Audience,
    sub: String,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
    sc: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl SigningKey {
    /// Generates a fresh key from the operating system's random source.
    pub fn generate() -> Self {
        Self::from_dalek(ed25519_dalek::SigningKey::generate(&mut OsRng))
    }

    /// The key id: the RFC 7638 JWK thumbprint (SHA-256, base64url) of the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK Set, for publishing at a JWKS endpoint.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({
            "keys": [{
                "kty": "OKP",
                "crv": "Ed25519",
                "x": URL_SAFE_NO_PAD.encode(self.key.verifying_key().as_bytes()),
                "kid": self.kid,
                "use": "sig",
                "alg": "EdDSA",
            }]
        })
    }

    /// Signs `claims` into a compact JWT.
    ///
    /// Ed25519 is deterministic and the serialization is stable, so signing the same claims
    /// again gives the same text. The claims are not checked here; [`verify`](Self::verify) is
    /// where a bad `sc` or empty `jti` is refused.
    pub fn sign(&self, claims: &Claims) -> String {
        // Strings and integers always serialize.
        let payload = serde_json::to_vec(claims).expect("claims serialize to JSON");
        let mut token = format!("{}.{}", self.header_b64, URL_SAFE_NO_PAD.encode(payload));
        let signature = self.key.sign(token.as_bytes());
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature.to_bytes()));
        token
    }

    /// Verifies `token` against this key, `issuer`, `audience` and the time `now` (unix seconds).
    ///
    /// A token is accepted when `nbf <= now < exp`, with no leeway: labgate issues and checks
    /// its own tokens on one clock, so a token ends at the second its table row says it does.
    /// The returned claims carry `aud = audience` even when the token had an audience array.
    pub fn verify(
        &self,
        token: &str,
        issuer: &str,
        audience: &str,
        now: i64,
    ) -> Result<Claims, JwtError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(JwtError::Malformed);
        }
        let mut segments = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) else {
            return Err(JwtError::Malformed);
        };
        if ![header_b64, payload_b64, signature_b64]
            .iter()
            .all(|s| is_base64url(s))
        {
            return Err(JwtError::Malformed);
        }

        let header: ReceivedHeader = decode_json_object(header_b64).ok_or(JwtError::Malformed)?;
        if header.alg.as_deref() != Some("EdDSA") {
            return Err(JwtError::Algorithm);
        }
        // We implement no extensions, so RFC 7515 4.1.11 requires refusing any `crit`.
        if header.crit.is_some() {
            return Err(JwtError::Malformed);
        }
        if header.kid.as_deref() != Some(self.kid.as_str()) {
            return Err(JwtError::KeyId);
        }

        // The base64 engine refuses non-zero trailing bits, so each signature has exactly one
        // spelling and a revoked token's hash cannot be dodged by re-encoding it.
        let signature_bytes = URL_SAFE_NO_PAD
            .decode(signature_b64)
            .map_err(|_| JwtError::Malformed)?;
        let signature_bytes: [u8; 64] = signature_bytes
            .try_into()
            .map_err(|_| JwtError::Signature)?;
        let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
        self.key
            .verifying_key()
            .verify_strict(
                signing_input.as_bytes(),
                &ed25519_dalek::Signature::from_bytes(&signature_bytes),
            )
            .map_err(|_| JwtError::Signature)?;

        let claims: ReceivedClaims = decode_json_object(payload_b64).ok_or(JwtError::Claims)?;
        if claims.iss != issuer {
            return Err(JwtError::Issuer);
        }
        let audience_ok = match &claims.aud {
            Audience::One(aud) => aud == audience,
            Audience::Many(auds) => auds.iter().any(|aud| aud == audience),
        };
        if !audience_ok {
            return Err(JwtError::Audience);
        }
        if now >= claims.exp {
            return Err(JwtError::Expired);
        }
        if now < claims.nbf {
            return Err(JwtError::NotYetValid);
        }
        if claims.sub.is_empty() || claims.jti.is_empty() || !matches!(&*claims.sc, "rw" | "ro") {
            return Err(JwtError::Claims);
        }
        Ok(Claims {
            iss: claims.iss,
            aud: audience.to_owned(),
            sub: claims.sub,
            iat: claims.iat,
            nbf: claims.nbf,
            exp: claims.exp,
            jti: claims.jti,
            sc: claims.sc,
        })
    }

    fn from_dalek(key: ed25519_dalek::SigningKey) -> Self {
        let kid = thumbprint(&URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()));
        // `kid` is base64url, so it needs no JSON escaping; formatting fixes the field order.
        let header = format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}"}}"#);
        let header_b64 = URL_SAFE_NO_PAD.encode(header);
        Self {
            key,
            kid,
            header_b64,
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret half.
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Hex SHA-256 of the token text (what rerobots' `/revoke/{sha256}` sends).
pub fn token_sha256_hex(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

/// RFC 7638 thumbprint of the Ed25519 public key whose base64url encoding is `x`.
fn thumbprint(x: &str) -> String {
    // Required members only, in lexicographic order, no whitespace; `x` needs no escaping.
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

fn is_base64url(segment: &str) -> bool {
    !segment.is_empty()
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Decodes a base64url segment holding a JSON object into `T`.
fn decode_json_object<T: DeserializeOwned>(segment: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(segment).ok()?;
    // serde's derived structs also accept JSON arrays (fields by position); a JOSE header or
    // claims set must be an object.
    let first = bytes.iter().find(|b| !b" \t\r\n".contains(b))?;
    if *first != b'{' {
        return None;
    }
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::PathBuf;

    use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
    use ed25519_dalek::pkcs8::EncodePrivateKey as _;
    use rand_core::RngCore as _;

    use super::*;

    const URL: &str = "https://lab.example.org";
    const NOW: i64 = 1_700_000_000;

    fn claims() -> Claims {
        Claims {
            iss: URL.into(),
            aud: URL.into(),
            sub: "alice".into(),
            iat: NOW,
            nbf: NOW,
            exp: NOW + 3600,
            jti: "42".into(),
            sc: "rw".into(),
        }
    }

    fn b64(bytes: impl AsRef<[u8]>) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn header_json(kid: &str) -> String {
        format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}"}}"#)
    }

    fn payload_json(claims: &Claims) -> String {
        serde_json::to_string(claims).unwrap()
    }

    /// A token over arbitrary header and payload text, signed by `key` as EdDSA.
    fn raw_token(key: &SigningKey, header: &str, payload: &[u8]) -> String {
        let input = format!("{}.{}", b64(header), b64(payload));
        let signature = key.key.sign(input.as_bytes());
        format!("{input}.{}", b64(signature.to_bytes()))
    }

    fn verify(key: &SigningKey, token: &str, now: i64) -> Result<Claims, JwtError> {
        key.verify(token, URL, URL, now)
    }

    fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
        let mut block = [0u8; 64];
        block[..key.len()].copy_from_slice(key);
        let inner = Sha256::new()
            .chain_update(block.map(|b| b ^ 0x36))
            .chain_update(message)
            .finalize();
        Sha256::new()
            .chain_update(block.map(|b| b ^ 0x5c))
            .chain_update(inner)
            .finalize()
            .to_vec()
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "labgate-jwt-{name}-{}-{:016x}",
            std::process::id(),
            OsRng.next_u64()
        ));
        fs::create_dir(&dir).unwrap();
        dir
    }

    #[test]
    fn round_trip() {
        let key = SigningKey::generate();
        let token = key.sign(&claims());
        assert_eq!(verify(&key, &token, NOW), Ok(claims()));
        let header = URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap();
        assert_eq!(String::from_utf8(header).unwrap(), header_json(key.kid()));
    }

    #[test]
    fn resigning_reproduces_the_token() {
        let key = SigningKey::generate();
        let token = key.sign(&claims());
        let verified = verify(&key, &token, NOW).unwrap();
        assert_eq!(key.sign(&verified), token);
        assert_eq!(key.sign(&claims()), token);
        assert_ne!(SigningKey::generate().sign(&claims()), token);
    }

    #[test]
    fn expiry_boundary_without_leeway() {
        let key = SigningKey::generate();
        let c = claims();
        let token = key.sign(&c);
        for now in [c.nbf, c.exp - 60, c.exp - 1] {
            assert!(
                verify(&key, &token, now).is_ok(),
                "now = exp - {}",
                c.exp - now
            );
        }
        for now in [c.exp, c.exp + 1, c.exp + 59, i64::MAX] {
            assert_eq!(verify(&key, &token, now), Err(JwtError::Expired));
        }
    }

    #[test]
    fn not_before_boundary_without_leeway() {
        let key = SigningKey::generate();
        let c = Claims {
            nbf: NOW + 1000,
            ..claims()
        };
        let token = key.sign(&c);
        assert!(verify(&key, &token, c.nbf).is_ok());
        assert_eq!(verify(&key, &token, c.nbf - 1), Err(JwtError::NotYetValid));
        assert_eq!(verify(&key, &token, c.nbf - 60), Err(JwtError::NotYetValid));
        assert_eq!(verify(&key, &token, NOW), Err(JwtError::NotYetValid));
        assert_eq!(verify(&key, &token, i64::MIN), Err(JwtError::NotYetValid));
    }

    #[test]
    fn extreme_times_do_not_overflow() {
        let key = SigningKey::generate();
        let c = Claims {
            nbf: i64::MIN,
            exp: i64::MAX,
            iat: i64::MIN,
            ..claims()
        };
        let token = key.sign(&c);
        assert!(verify(&key, &token, i64::MIN).is_ok());
        assert!(verify(&key, &token, i64::MAX - 60).is_ok());
        assert_eq!(verify(&key, &token, i64::MAX), Err(JwtError::Expired));
        let c = Claims {
            nbf: i64::MAX,
            exp: i64::MIN,
            ..claims()
        };
        assert_eq!(
            verify(&key, &key.sign(&c), i64::MAX),
            Err(JwtError::Expired)
        );
    }

    #[test]
    fn wrong_issuer_or_audience() {
        let key = SigningKey::generate();
        let token = key.sign(&claims());
        let other = "https://other.example.org";
        assert_eq!(key.verify(&token, other, URL, NOW), Err(JwtError::Issuer));
        assert_eq!(key.verify(&token, URL, other, NOW), Err(JwtError::Audience));
        let token = key.sign(&Claims {
            aud: other.into(),
            ..claims()
        });
        assert_eq!(verify(&key, &token, NOW), Err(JwtError::Audience));
    }

    #[test]
    fn audience_array() {
        let key = SigningKey::generate();
        let payload = payload_json(&claims()).replace(
            &format!(r#""aud":"{URL}""#),
            &format!(r#""aud":["https://x.example","{URL}"]"#),
        );
        let token = raw_token(&key, &header_json(key.kid()), payload.as_bytes());
        assert_eq!(verify(&key, &token, NOW), Ok(claims()));
        for aud in [r#"["https://x.example"]"#, "[]", "7", "null", r#"[7]"#] {
            let payload = payload_json(&claims())
                .replace(&format!(r#""aud":"{URL}""#), &format!(r#""aud":{aud}"#));
            let token = raw_token(&key, &header_json(key.kid()), payload.as_bytes());
            assert!(verify(&key, &token, NOW).is_err(), "aud {aud}");
        }
    }

    #[test]
    fn algorithm_none_is_refused() {
        let key = SigningKey::generate();
        let header = format!(r#"{{"alg":"none","typ":"JWT","kid":"{}"}}"#, key.kid());
        let unsigned = format!("{}.{}", b64(&header), b64(payload_json(&claims())));
        assert_eq!(
            verify(&key, &format!("{unsigned}."), NOW),
            Err(JwtError::Malformed)
        );
        assert_eq!(
            verify(&key, &format!("{unsigned}.AAAA"), NOW),
            Err(JwtError::Algorithm)
        );
        // Validly signed with our key, but still not EdDSA as the header names it.
        for alg in [
            r#""none""#,
            r#""eddsa""#,
            r#""Ed25519""#,
            r#""EdDSA ""#,
            "null",
        ] {
            let header = format!(r#"{{"alg":{alg},"kid":"{}"}}"#, key.kid());
            let token = raw_token(&key, &header, payload_json(&claims()).as_bytes());
            assert_eq!(
                verify(&key, &token, NOW),
                Err(JwtError::Algorithm),
                "alg {alg}"
            );
        }
        let header = format!(r#"{{"typ":"JWT","kid":"{}"}}"#, key.kid());
        let token = raw_token(&key, &header, payload_json(&claims()).as_bytes());
        assert_eq!(verify(&key, &token, NOW), Err(JwtError::Algorithm));
    }

    #[test]
    fn hs256_keyed_with_our_public_key_is_refused() {
        let key = SigningKey::generate();
        let header = format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{}"}}"#, key.kid());
        let input = format!("{}.{}", b64(&header), b64(payload_json(&claims())));
        let public = key.key.verifying_key().to_bytes();
        for secret in [&public[..], key.kid().as_bytes()] {
            let token = format!("{input}.{}", b64(hmac_sha256(secret, input.as_bytes())));
            assert_eq!(verify(&key, &token, NOW), Err(JwtError::Algorithm));
        }
    }

    #[test]
    fn rs256_is_refused() {
        let key = SigningKey::generate();
        let header = format!(r#"{{"alg":"RS256","typ":"JWT","kid":"{}"}}"#, key.kid());
        let input = format!("{}.{}", b64(&header), b64(payload_json(&claims())));
        let token = format!("{input}.{}", b64([0x5a; 256]));
        assert_eq!(verify(&key, &token, NOW), Err(JwtError::Algorithm));
    }

    #[test]
    fn key_id_missing_or_foreign() {
        let key = SigningKey::generate();
        let payload = payload_json(&claims());
        let other = SigningKey::generate();
        for header in [
            r#"{"alg":"EdDSA","typ":"JWT"}"#.to_owned(),
            r#"{"alg":"EdDSA","kid":null}"#.to_owned(),
            r#"{"alg":"EdDSA","kid":""}"#.to_owned(),
            header_json(other.kid()),
            header_json(&key.kid().to_lowercase()),
        ] {
            let token = raw_token(&key, &header, payload.as_bytes());
            assert_eq!(verify(&key, &token, NOW), Err(JwtError::KeyId), "{header}");
        }
        let header = r#"{"alg":"EdDSA","kid":7}"#;
        let token = raw_token(&key, header, payload.as_bytes());
        assert_eq!(verify(&key, &token, NOW), Err(JwtError::Malformed));
    }

    #[test]
    fn embedded_keys_in_the_header_are_ignored() {
        let key = SigningKey::generate();
        let attacker = SigningKey::generate();
        let jwk = attacker.jwks()["keys"][0].to_string();
        let extras = format!(
            r#""jwk":{jwk},"jku":"https://evil.example/jwks","x5u":"https://evil.example/c","x5c":["AAAA"]"#
        );
        let payload = payload_json(&claims());
        let header = format!(r#"{{"alg":"EdDSA","kid":"{}",{extras}}}"#, attacker.kid());
        let token = raw_token(&attacker, &header, payload.as_bytes());
        assert_eq!(verify(&key, &token, NOW), Err(JwtError::KeyId));
        let header = format!(r#"{{"alg":"EdDSA","kid":"{}",{extras}}}"#, key.kid());
        let token = raw_token(&attacker, &header, payload.as_bytes());
        assert_eq!(verify(&key, &token, NOW), Err(JwtError::Signature));
        // The same fields in a header we signed ourselves change nothing.
        let token = raw_token(&key, &header, payload.as_bytes());
        assert_eq!(verify(&key, &token, NOW), Ok(claims()));
    }

    #[test]
    fn tampering_breaks_the_signature() {
        let key = SigningKey::generate();
        let token = key.sign(&claims());
        let parts: Vec<&str> = token.split('.').collect();
        let admin = b64(payload_json(&Claims {
            sub: "root".into(),
            ..claims()
        }));
        let forged = format!("{}.{admin}.{}", parts[0], parts[2]);
        assert_eq!(verify(&key, &forged, NOW), Err(JwtError::Signature));
        let header = b64(format!(r#"{{"alg":"EdDSA","kid":"{}","x":1}}"#, key.kid()));
        let forged = format!("{header}.{}.{}", parts[1], parts[2]);
        assert_eq!(verify(&key, &forged, NOW), Err(JwtError::Signature));
        let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        signature[10] ^= 1;
        let forged = format!("{}.{}.{}", parts[0], parts[1], b64(&signature));
        assert_eq!(verify(&key, &forged, NOW), Err(JwtError::Signature));
        let forged = format!("{}.{}.{}", parts[0], parts[1], b64(&signature[..63]));
        assert_eq!(verify(&key, &forged, NOW), Err(JwtError::Signature));
    }

    #[test]
    fn signature_by_another_key_is_refused() {
        let key = SigningKey::generate();
        let other = SigningKey::generate();
        let token = raw_token(
            &other,
            &header_json(key.kid()),
            payload_json(&claims()).as_bytes(),
        );
        assert_eq!(verify(&key, &token, NOW), Err(JwtError::Signature));
    }

    #[test]
    fn segment_count_must_be_three() {
        let key = SigningKey::generate();
        let token = key.sign(&claims());
        let parts: Vec<&str> = token.split('.').collect();
        for bad in [
            String::new(),
            ".".into(),
            "..".into(),
            "...".into(),
            parts[0].into(),
            format!("{}.{}", parts[0], parts[1]),
            format!("{token}.{}", parts[2]),
            format!("{token}."),
            format!(".{token}"),
            format!("{}..{}", parts[0], parts[2]),
        ] {
            assert_eq!(verify(&key, &bad, NOW), Err(JwtError::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn only_unpadded_base64url_is_accepted() {
        let key = SigningKey::generate();
        let token = key.sign(&claims());
        let parts: Vec<&str> = token.split('.').collect();
        for i in 0..3 {
            for junk in ["=", "==", "+", "/", " ", "\n", "%", "é", "\0"] {
                let mut bad = parts.clone();
                let segment = format!("{}{junk}", parts[i]);
                bad[i] = &segment;
                assert_eq!(verify(&key, &bad.join("."), NOW), Err(JwtError::Malformed));
            }
        }
        // Standard-alphabet spelling of the same bytes.
        let std_token = token.replace('-', "+").replace('_', "/");
        if std_token != token {
            assert_eq!(verify(&key, &std_token, NOW), Err(JwtError::Malformed));
        }
        assert_eq!(
            verify(&key, &format!(" {token}"), NOW),
            Err(JwtError::Malformed)
        );
    }

    #[test]
    fn signature_has_a_single_spelling() {
        // 64 bytes take 86 characters whose last one carries 2 unused bits; setting them must
        // not yield a second valid spelling (it would dodge revocation by hash).
        let key = SigningKey::generate();
        let token = key.sign(&claims());
        let last = token.chars().last().unwrap();
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let index = alphabet.iter().position(|&c| c as char == last).unwrap();
        assert_eq!(index & 3, 0);
        for bits in 1..4 {
            let mut respelled = token[..token.len() - 1].to_owned();
            respelled.push(alphabet[index | bits] as char);
            assert_eq!(verify(&key, &respelled, NOW), Err(JwtError::Malformed));
        }
    }

    #[test]
    fn length_cap() {
        let key = SigningKey::generate();
        let huge = format!("{}.e30.AAAA", "A".repeat(1 << 20));
        assert_eq!(verify(&key, &huge, NOW), Err(JwtError::Malformed));
        assert_eq!(
            verify(&key, &"\u{ffff}".repeat(1 << 20), NOW),
            Err(JwtError::Malformed)
        );
        // Validly signed tokens on either side of the 8 KiB cap.
        let (mut below, mut above) = (None, None);
        for pad in 5_000.. {
            let header = format!(
                r#"{{"alg":"EdDSA","kid":"{}","p":"{}"}}"#,
                key.kid(),
                "x".repeat(pad)
            );
            let token = raw_token(&key, &header, payload_json(&claims()).as_bytes());
            if token.len() <= MAX_TOKEN_LEN {
                below = Some(token);
            } else {
                above = Some(token);
                break;
            }
        }
        let (below, above) = (below.unwrap(), above.unwrap());
        assert!(below.len() > MAX_TOKEN_LEN - 3 && above.len() <= MAX_TOKEN_LEN + 3);
        assert_eq!(verify(&key, &below, NOW), Ok(claims()));
        assert_eq!(verify(&key, &above, NOW), Err(JwtError::Malformed));
    }

    #[test]
    fn hostile_headers_are_refused() {
        let key = SigningKey::generate();
        let payload = payload_json(&claims());
        let kid = key.kid();
        for header in [
            "".to_owned(),
            "not json".into(),
            "null".into(),
            format!(r#"["EdDSA","{kid}"]"#),
            format!(r#"{{"alg":"EdDSA","kid":"{kid}""#),
            format!(r#"{{"alg":"EdDSA","alg":"EdDSA","kid":"{kid}"}}"#),
            format!(r#"{{"alg":"EdDSA","kid":"{kid}","crit":["exp"]}}"#),
            format!(r#"{{"alg":["EdDSA"],"kid":"{kid}"}}"#),
        ] {
            let token = raw_token(&key, &header, payload.as_bytes());
            let result = verify(&key, &token, NOW);
            assert!(
                matches!(result, Err(JwtError::Malformed | JwtError::Algorithm)),
                "{header}: {result:?}"
            );
        }
        let mut bytes = header_json(kid).into_bytes();
        bytes.insert(10, 0xff);
        let input = format!("{}.{}", b64(&bytes), b64(&payload));
        let token = format!("{input}.{}", b64(key.key.sign(input.as_bytes()).to_bytes()));
        assert_eq!(verify(&key, &token, NOW), Err(JwtError::Malformed));
    }

    #[test]
    fn hostile_payloads_are_refused() {
        let key = SigningKey::generate();
        let good = payload_json(&claims());
        let mut cases: Vec<Vec<u8>> = [
            "",
            "null",
            "[]",
            "{}",
            "not json",
            r#"["https://lab.example.org","https://lab.example.org","alice",1,1,2,"42","rw"]"#,
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        let exp = format!(r#""exp":{}"#, NOW + 3600);
        for replacement in [
            r#""exp":"1800000000""#,
            r#""exp":1.8e9"#,
            r#""exp":1e30"#,
            r#""exp":99999999999999999999"#,
            r#""exp":-99999999999999999999"#,
            r#""exp":null"#,
            r#""exp":true"#,
            r#""exp":[1]"#,
        ] {
            cases.push(good.replace(&exp, replacement).into_bytes());
        }
        for (from, to) in [
            (r#""iat":"#, r#""iat":true,"x":"#),
            (r#""jti":"42""#, r#""jti":42"#),
            (r#""jti":"42""#, r#""jti":"""#),
            (r#""sub":"alice""#, r#""sub":"""#),
            (r#""sc":"rw""#, r#""sc":"admin""#),
            (r#""sc":"rw""#, r#""sc":"RW""#),
            (r#","sc":"rw""#, ""),
            (r#""sub":"alice""#, r#""sub":"alice","sub":"root""#),
        ] {
            assert!(good.contains(from));
            cases.push(good.replacen(from, to, 1).into_bytes());
        }
        let mut not_utf8 = good.clone().into_bytes();
        not_utf8.insert(20, 0xff);
        cases.push(not_utf8);
        let deep = format!(
            r#"{},"x":{}{}}}"#,
            &good[..good.len() - 1],
            "[".repeat(3000),
            "]".repeat(3000)
        );
        cases.push(deep.into_bytes());
        for payload in cases {
            let token = raw_token(&key, &header_json(key.kid()), &payload);
            let result = verify(&key, &token, NOW);
            let shown = String::from_utf8_lossy(&payload);
            assert!(
                matches!(result, Err(JwtError::Claims | JwtError::Malformed)),
                "{shown}: {result:?}"
            );
        }
        // ro is the other allowed scope, and unknown claims are ignored.
        let payload = good.replace(r#""sc":"rw""#, r#""sc":"ro","extra":{"a":[1]}"#);
        let token = raw_token(&key, &header_json(key.kid()), payload.as_bytes());
        assert_eq!(
            verify(&key, &token, NOW),
            Ok(Claims {
                sc: "ro".into(),
                ..claims()
            })
        );
    }

    #[test]
    fn pem_round_trip() {
        let key = SigningKey::generate();
        let pem = key.to_pkcs8_pem();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert!(pem.trim_end().ends_with("-----END PRIVATE KEY-----"));
        for text in [
            pem.clone(),
            pem.replace('\n', "\r\n"),
            format!("\n{pem}\n\n"),
        ] {
            let again = SigningKey::from_pkcs8_pem(&text).unwrap();
            assert_eq!(again.kid(), key.kid());
            assert_eq!(again.sign(&claims()), key.sign(&claims()));
        }
        for bad in [
            "",
            "garbage",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        ] {
            assert!(
                matches!(SigningKey::from_pkcs8_pem(bad), Err(JwtError::Key(_))),
                "{bad}"
            );
        }
        let public = pem.replace("PRIVATE", "PUBLIC");
        assert!(matches!(
            SigningKey::from_pkcs8_pem(&public),
            Err(JwtError::Key(_))
        ));
    }

    #[test]
    fn pem_is_pkcs8_v1_and_both_versions_load() {
        let key = SigningKey::generate();
        let pem = key.to_pkcs8_pem();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        // SEQUENCE of 46 bytes, INTEGER version 0: OneAsymmetricKey v1, no public key.
        assert_eq!(der.len(), 48);
        assert_eq!(der[..5], [0x30, 0x2e, 0x02, 0x01, 0x00]);
        // What ed25519-dalek writes by default (v2, with the public key) still loads.
        let v2 = key.key.to_pkcs8_pem(LineEnding::LF).unwrap();
        assert_ne!(v2.as_str(), pem);
        assert_eq!(SigningKey::from_pkcs8_pem(&v2).unwrap().kid(), key.kid());
        // Made by `openssl genpkey -algorithm ed25519`; kid computed independently.
        let openssl = "-----BEGIN PRIVATE KEY-----\n\
            MC4CAQAwBQYDK2VwBCIEIHGt+OFVBpw5v7kS1fsUOLXeas5vFWDMmOsDw7bBq4ub\n\
            -----END PRIVATE KEY-----\n";
        let loaded = SigningKey::from_pkcs8_pem(openssl).unwrap();
        assert_eq!(loaded.kid(), "NSvy1KQska-soOTxmg8_MMaDoQwec6fLqylvdJB4U2E");
        assert_eq!(loaded.to_pkcs8_pem(), openssl);
    }

    #[test]
    fn load_or_create_writes_a_private_file_once() {
        let dir = temp_dir("create");
        let path = dir.join("token-key.pem");
        let created = SigningKey::load_or_create(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(fs::read_to_string(&path).unwrap(), created.to_pkcs8_pem());
        let loaded = SigningKey::load_or_create(&path).unwrap();
        assert_eq!(loaded.kid(), created.kid());
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["token-key.pem"], "temporary files left behind");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn load_or_create_never_replaces_a_file() {
        let dir = temp_dir("bad");
        let path = dir.join("key.pem");
        fs::write(&path, "not a key").unwrap();
        assert!(matches!(
            SigningKey::load_or_create(&path),
            Err(JwtError::Key(_))
        ));
        assert_eq!(fs::read_to_string(&path).unwrap(), "not a key");
        let missing_dir = dir.join("nope").join("key.pem");
        assert!(matches!(
            SigningKey::load_or_create(&missing_dir),
            Err(JwtError::Io(_))
        ));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn concurrent_creators_agree_on_one_key() {
        let dir = temp_dir("race");
        let path = dir.join("key.pem");
        let kids: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| SigningKey::load_or_create(&path).unwrap().kid().to_owned())
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let on_disk = SigningKey::load_or_create(&path).unwrap();
        assert!(kids.iter().all(|kid| kid == on_disk.kid()), "{kids:?}");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn jwks_publishes_the_key() {
        let key = SigningKey::generate();
        let jwks = key.jwks();
        let jwk = &jwks["keys"][0];
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
        assert_eq!(jwk["kid"], key.kid());
        assert_eq!(jwk["kty"], "OKP");
        assert_eq!(jwk["crv"], "Ed25519");
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk["alg"], "EdDSA");
        let x = jwk["x"].as_str().unwrap();
        assert_eq!(
            URL_SAFE_NO_PAD.decode(x).unwrap(),
            key.key.verifying_key().to_bytes()
        );
        assert_eq!(thumbprint(x), key.kid());
    }

    #[test]
    fn rfc8037_vectors() {
        // RFC 8037 appendices A.1-A.4.
        let x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
        assert_eq!(thumbprint(x), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
        let d = URL_SAFE_NO_PAD
            .decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
            .unwrap();
        let key = SigningKey::from_dalek(ed25519_dalek::SigningKey::from_bytes(
            &d.try_into().unwrap(),
        ));
        assert_eq!(key.jwks()["keys"][0]["x"], x);
        assert_eq!(key.kid(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
        let jws = raw_token(&key, r#"{"alg":"EdDSA"}"#, b"Example of Ed25519 signing");
        assert_eq!(
            jws,
            "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.\
             hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
        );
        // Validly signed, but it names no key id.
        assert_eq!(verify(&key, &jws, NOW), Err(JwtError::KeyId));
    }

    #[test]
    fn token_hash_is_hex_sha256() {
        assert_eq!(
            token_sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let token = SigningKey::generate().sign(&claims());
        let hash = token_sha256_hex(&token);
        assert_eq!(hash.len(), 64);
        assert!(hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    }

    #[test]
    fn errors_display_and_debug_hides_the_secret() {
        let error: Box<dyn std::error::Error> = Box::new(JwtError::Expired);
        assert_eq!(error.to_string(), "token expired");
        assert!(JwtError::Key("x".into()).to_string().contains('x'));
        let key = SigningKey::generate();
        let debug = format!("{key:?}");
        assert!(debug.contains(key.kid()));
        assert!(!debug.contains(&b64(key.key.to_bytes())));
    }
}
