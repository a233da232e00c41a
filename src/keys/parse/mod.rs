//! Parsing and validation of the SSH public keys that lab members upload.
//!
//! Exactly one key is accepted, either as an OpenSSH line (`TYPE BASE64 [COMMENT]`)
//! or as an RFC 4716 block (`---- BEGIN SSH2 PUBLIC KEY ----`). Everything the
//! console must never store is refused with a [`KeyError`] that tells the lab
//! member what went wrong: private keys, several keys at once, authorized_keys
//! options, certificates, DSA keys and RSA keys outside 2048..=16384 bits.
//!
//! The rule is OpenSSH's: what `sshkey_read` (and so sshd) would load is accepted, minus weak
//! keys; anything it would refuse (base64 without its `=` padding or with stray bits, ECDSA
//! points off their curve) is refused here too, so no stored key can fail on a robot.

mod blob;
mod rfc4716;

use std::borrow::Cow;
use std::fmt;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

use blob::{blob_type, validate_blob};
use rfc4716::parse_rfc4716;

/// Largest input accepted, in bytes, measured before trimming.
pub const MAX_INPUT: usize = 8 * 1024;

const MIN_RSA_BITS: u32 = 2048;
const MAX_RSA_BITS: u32 = 16384;

const ED25519: &str = "ssh-ed25519";
const SK_ED25519: &str = "sk-ssh-ed25519@openssh.com";
const ECDSA_P256: &str = "ecdsa-sha2-nistp256";
const ECDSA_P384: &str = "ecdsa-sha2-nistp384";
const ECDSA_P521: &str = "ecdsa-sha2-nistp521";
const SK_ECDSA_P256: &str = "sk-ecdsa-sha2-nistp256@openssh.com";
const RSA: &str = "ssh-rsa";
const DSA: &str = "ssh-dss";
const CERT_SUFFIX: &str = "-cert-v01@openssh.com";

const ACCEPTED: [&str; 7] = [
    ED25519,
    SK_ED25519,
    ECDSA_P256,
    ECDSA_P384,
    ECDSA_P521,
    SK_ECDSA_P256,
    RSA,
];

const PRIVATE_MARKERS: [&str; 9] = [
    "BEGIN OPENSSH PRIVATE KEY",
    "BEGIN RSA PRIVATE KEY",
    "BEGIN EC PRIVATE KEY",
    "BEGIN DSA PRIVATE KEY",
    "BEGIN PRIVATE KEY",
    "BEGIN ENCRYPTED PRIVATE KEY",
    "BEGIN SSH2 ENCRYPTED PRIVATE KEY",
    "PuTTY-User-Key-File",
    // Base64 of "openssh-key-v1": an OpenSSH private key pasted without its armour lines.
    "b3BlbnNzaC1rZXktdjE",
];

// Flag-style authorized_keys options; the `name=value` ones are recognised by their `=`.
const OPTION_FLAGS: [&str; 14] = [
    "agent-forwarding",
    "cert-authority",
    "no-agent-forwarding",
    "no-port-forwarding",
    "no-pty",
    "no-touch-required",
    "no-user-rc",
    "no-x11-forwarding",
    "port-forwarding",
    "pty",
    "restrict",
    "user-rc",
    "verify-required",
    "x11-forwarding",
];

const RFC4716_BEGIN: &str = "---- BEGIN SSH2 PUBLIC KEY ----";
const RFC4716_END: &str = "---- END SSH2 PUBLIC KEY ----";

// Used only to tell "padding missing" from "not base64 at all" once the strict decode failed.
const PADDING_OPTIONAL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A validated public key, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedKey {
    /// Key type as OpenSSH names it, e.g. `ssh-ed25519` or `sk-ecdsa-sha2-nistp256@openssh.com`.
    pub algorithm: String,
    /// Key size: 256 for Ed25519, the curve size for ECDSA, the modulus size for RSA.
    pub bits: u32,
    /// `SHA256:...` fingerprint, exactly as `ssh-keygen -l -E sha256` prints it.
    pub fingerprint: String,
    /// `TYPE BASE64` without comment: the form that is stored and served.
    pub canonical: String,
    /// Free-text comment from the key line or the RFC 4716 `Comment` header; may be empty.
    pub comment: String,
}

impl ParsedKey {
    /// Short human label such as `ED25519 (256 bits)`, `RSA (3072 bits)` or `ECDSA-SK P-256`.
    pub fn type_label(&self) -> String {
        match self.algorithm.as_str() {
            ED25519 => "ED25519 (256 bits)".to_owned(),
            SK_ED25519 => "ED25519-SK".to_owned(),
            SK_ECDSA_P256 => "ECDSA-SK P-256".to_owned(),
            RSA => format!("RSA ({} bits)", self.bits),
            ECDSA_P256 | ECDSA_P384 | ECDSA_P521 => format!("ECDSA P-{}", self.bits),
            other => other.to_owned(),
        }
    }
}

/// Why a pasted key was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// Nothing but whitespace was submitted.
    Empty,
    /// The input is longer than [`MAX_INPUT`] bytes.
    TooLong,
    /// The input contains NUL or another control character besides tab, CR and LF.
    ControlCharacter,
    /// The input is (or contains) a private key.
    PrivateKey,
    /// More than one key was pasted.
    SeveralKeys,
    /// The key line starts with authorized_keys options.
    Options,
    /// The key is an OpenSSH certificate.
    Certificate,
    /// The key is a DSA (`ssh-dss`) key.
    Dsa,
    /// RSA key with fewer than 2048 bits; carries the modulus size.
    RsaTooSmall(u32),
    /// RSA key with more than 16384 bits; carries the modulus size.
    RsaTooLarge(u32),
    /// Key type that is not accepted; carries the type name, or "" when it does not look like
    /// one (then it is not repeated).
    UnsupportedType(String),
    /// The type in front of the key differs from the type inside the key data.
    TypeMismatch {
        /// Type written in front of the key data.
        label: String,
        /// Type found inside the decoded key data, or "" when it does not look like one.
        blob: String,
    },
    /// The key data is not valid base64.
    BadBase64,
    /// The key data is base64 but lacks the `=` padding at its end, which OpenSSH requires.
    Unpadded,
    /// The key is damaged or badly laid out; carries a short lower-case explanation.
    Malformed(String),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text: Cow<'static, str> = match self {
            Self::Empty => "No key was entered; paste the contents of your public key file, \
                for example ~/.ssh/id_ed25519.pub."
                .into(),
            Self::TooLong => "This is far longer than any SSH public key (the limit is 8 KiB); \
                paste only the single line from your .pub file."
                .into(),
            Self::ControlCharacter => "The key contains invisible control characters, which \
                usually means it came from a binary file or a word processor; copy it again from \
                your .pub file as plain text."
                .into(),
            Self::PrivateKey => "This is a PRIVATE key, which must never be pasted into any \
                website or shared with anyone: paste the matching public key (the file ending in \
                .pub) instead, and if this private key has been shared or pasted anywhere else, \
                consider it compromised and create a new key pair."
                .into(),
            Self::SeveralKeys => "This contains more than one key; add your keys one at a time, \
                each as the single line from its .pub file."
                .into(),
            Self::Options => "The key line starts with authorized_keys options (such as \
                command=\"...\" or no-pty); remove them and paste only the key itself, which \
                begins with its type, such as ssh-ed25519."
                .into(),
            Self::Certificate => "This is an SSH certificate, not a plain public key; paste the \
                plain public key instead (for example id_ed25519.pub rather than \
                id_ed25519-cert.pub)."
                .into(),
            Self::Dsa => "DSA (ssh-dss) keys are obsolete and no longer accepted; create a new \
                key with `ssh-keygen -t ed25519` and paste its .pub file."
                .into(),
            Self::RsaTooSmall(bits) => format!(
                "This RSA key has only {bits} bits, which is too weak (at least {MIN_RSA_BITS} \
                are required); create a new key with `ssh-keygen -t ed25519` and paste its .pub \
                file."
            )
            .into(),
            Self::RsaTooLarge(bits) => format!(
                "This RSA key has {bits} bits, more than the {MAX_RSA_BITS} we accept; use an \
                Ed25519 key (`ssh-keygen -t ed25519`) or an RSA key of 3072 or 4096 bits instead."
            )
            .into(),
            Self::UnsupportedType(kind) => format!(
                "{} is not supported; paste an Ed25519, ECDSA, security-key (-sk) or RSA (2048 \
                bits or more) public key, whose line starts with a type such as ssh-ed25519.",
                if kind.is_empty() {
                    "This is an unknown key type, which".to_owned()
                } else {
                    format!("The key type {kind:?}")
                }
            )
            .into(),
            Self::TypeMismatch { label, blob } => format!(
                "The key line says it is {label:?} but its data holds {}, so it was edited or \
                mixed up while copying; copy the line from your .pub file again without \
                changing it.",
                if blob.is_empty() {
                    "an unknown key type".to_owned()
                } else {
                    format!("a {blob:?} key")
                }
            )
            .into(),
            Self::BadBase64 => "The key data (the long run of letters after the key type) is not \
                valid base64, so it was probably cut short or altered while copying; copy the \
                whole line from your .pub file again."
                .into(),
            Self::Unpadded => "The key data (the long run of letters after the key type) ends \
                without the = sign(s) that belong at its end, so the line was cut short or \
                altered while copying, and SSH servers would refuse it; copy the whole line from \
                your .pub file again."
                .into(),
            Self::Malformed(reason) => format!(
                "This is not a valid SSH public key ({reason}); copy the whole line from your \
                .pub file again."
            )
            .into(),
        };
        f.write_str(&text)
    }
}

impl std::error::Error for KeyError {}

/// Whether `text` holds a private key anywhere (PEM or OpenSSH armour, a PuTTY key file, or an
/// OpenSSH private key without its armour lines), so callers can refuse it without echoing it.
pub fn contains_private_key(text: &str) -> bool {
    PRIVATE_MARKERS.iter().any(|marker| text.contains(marker))
}

/// Parses and validates one pasted SSH public key according to the labgate key policy.
pub fn parse_public_key(input: &str) -> Result<ParsedKey, KeyError> {
    if input.len() > MAX_INPUT {
        return Err(KeyError::TooLong);
    }
    // A byte-order mark is left in front by some Windows editors.
    let text = input.trim().trim_start_matches('\u{feff}').trim_start();
    if text.is_empty() {
        return Err(KeyError::Empty);
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(KeyError::ControlCharacter);
    }
    if contains_private_key(text) {
        return Err(KeyError::PrivateKey);
    }
    if text.lines().next().map(str::trim) == Some(RFC4716_BEGIN) {
        return parse_rfc4716(text);
    }
    parse_line(text)
}

/// Parses the OpenSSH one-line form `TYPE BASE64 [COMMENT]`.
fn parse_line(text: &str) -> Result<ParsedKey, KeyError> {
    // ssh-key's own parser would fold a second line into the comment, which could smuggle
    // another key or options into authorized_keys, so line breaks are refused up front.
    if let Some((_, rest)) = text.split_once(['\r', '\n']) {
        return Err(extra_lines_error(rest));
    }
    let (label, rest) = split_token(text);
    let (data, comment) = split_token(rest);
    let known = is_known_type(label);
    if !known && (looks_like_options(label) || tokens(rest).any(is_known_type)) {
        return Err(KeyError::Options);
    }
    if label.ends_with(CERT_SUFFIX) {
        return Err(KeyError::Certificate);
    }
    if label == DSA {
        return Err(KeyError::Dsa);
    }
    if !known {
        return Err(KeyError::UnsupportedType(type_name(label)));
    }
    if data.is_empty() {
        return Err(malformed("the key data after the key type is missing"));
    }
    let blob = decode_key_data(data)?;
    let blob_type = blob_type(&blob)?;
    if blob_type != label {
        return Err(KeyError::TypeMismatch {
            label: label.to_owned(),
            blob: type_name(&blob_type),
        });
    }
    validate_blob(&blob, comment.trim())
}

/// Decodes key data as OpenSSH does: standard base64 with its `=` padding and no stray bits in
/// the last character, so each key has exactly one spelling.
fn decode_key_data(data: &str) -> Result<Vec<u8>, KeyError> {
    STANDARD.decode(data).map_err(|_| {
        if !data.ends_with('=') && PADDING_OPTIONAL.decode(data).is_ok() {
            KeyError::Unpadded
        } else {
            KeyError::BadBase64
        }
    })
}

/// Chooses the error for a paste that continues past its first line.
fn extra_lines_error(rest: &str) -> KeyError {
    if rest.split(['\r', '\n']).any(looks_like_key) {
        KeyError::SeveralKeys
    } else {
        malformed("a key must be on a single line, but this one spans several lines")
    }
}

/// Whether a line looks like the start of another key, in any of the accepted layouts.
fn looks_like_key(line: &str) -> bool {
    let line = line.trim();
    line.starts_with("---- BEGIN SSH2")
        || looks_like_options(split_token(line).0)
        || tokens(line).any(|token| is_known_type(token) || token.starts_with("AAAA"))
}

/// Whether a word is a key type name this module recognises (accepted or explicitly refused).
fn is_known_type(word: &str) -> bool {
    ACCEPTED.contains(&word) || word == DSA || word.ends_with(CERT_SUFFIX)
}

/// Whether the first word of a line is authorized_keys options rather than a key type.
fn looks_like_options(word: &str) -> bool {
    word.split(',').any(|option| {
        option.contains('=') || OPTION_FLAGS.iter().any(|f| f.eq_ignore_ascii_case(option))
    })
}

/// Splits off the first space/tab-separated word; returns it and the remainder.
fn split_token(text: &str) -> (&str, &str) {
    let text = text.trim_start_matches([' ', '\t']);
    text.split_once([' ', '\t']).unwrap_or((text, ""))
}

fn tokens(text: &str) -> impl Iterator<Item = &str> {
    text.split([' ', '\t']).filter(|token| !token.is_empty())
}

/// Bounds user-controlled text that is echoed back in an error message.
/// `text` when it looks like a key type label (`[a-z0-9@._-]{1,40}`), else empty: anything
/// else may be part of a secret pasted by mistake and is never repeated in a message.
fn type_name(text: &str) -> String {
    let label_like = (1..=40).contains(&text.len())
        && text
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'@' | b'.' | b'_' | b'-'));
    if label_like {
        text.to_owned()
    } else {
        String::new()
    }
}

fn malformed(reason: &str) -> KeyError {
    KeyError::Malformed(reason.to_owned())
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use ssh_key::PublicKey;

    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keys/");

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{FIXTURES}{name}")).expect("fixture is readable")
    }

    /// (bits, fingerprint, kind) for a fixture, from ssh-keygen's own output in fingerprints.txt.
    fn keygen_says(name: &str) -> (u32, String, String) {
        let listing = fixture("fingerprints.txt");
        let line = listing
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name}: ")))
            .expect("fixture is listed in fingerprints.txt");
        let mut words = line.split(' ');
        let bits = words.next().and_then(|b| b.parse().ok()).expect("bits");
        let fingerprint = words.next().expect("fingerprint").to_owned();
        let kind = line.rsplit(' ').next().expect("kind").to_owned();
        (bits, fingerprint, kind)
    }

    fn ssh_string(bytes: &[u8]) -> Vec<u8> {
        let len = u32::try_from(bytes.len()).expect("short field");
        [&len.to_be_bytes()[..], bytes].concat()
    }

    /// Splits a blob into its length-prefixed fields.
    fn fields(mut blob: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some((len, rest)) = blob.split_first_chunk::<4>() {
            let len = u32::from_be_bytes(*len) as usize;
            out.push(rest[..len].to_vec());
            blob = &rest[len..];
        }
        out
    }

    fn blob_of(line: &str) -> Vec<u8> {
        STANDARD
            .decode(line.split(' ').nth(1).expect("base64 field"))
            .expect("base64")
    }

    fn line_of(label: &str, blob: &[u8]) -> String {
        format!("{label} {} test", STANDARD.encode(blob))
    }

    fn rsa_line(exponent: &[u8], modulus: &[u8]) -> String {
        let blob = [
            ssh_string(b"ssh-rsa"),
            ssh_string(exponent),
            ssh_string(modulus),
        ]
        .concat();
        line_of("ssh-rsa", &blob)
    }

    /// Modulus mpint of exactly `bits` bits (odd, with the leading zero byte mpint needs).
    fn modulus(bits: usize) -> Vec<u8> {
        let mut bytes = vec![0xa5; bits.div_ceil(8)];
        bytes[0] = 0xff >> ((8 - bits % 8) % 8);
        bytes[0] |= 1 << ((bits - 1) % 8);
        if bytes[0] & 0x80 != 0 {
            bytes.insert(0, 0);
        }
        bytes
    }

    fn refuse(input: &str) -> KeyError {
        parse_public_key(input).expect_err("input must be refused")
    }

    #[test]
    fn accepts_every_supported_type_with_ssh_keygen_fingerprints() {
        let cases = [
            ("ed25519.pub", ED25519, "ED25519 (256 bits)", "ED25519"),
            ("rsa2048.pub", RSA, "RSA (2048 bits)", "RSA"),
            ("rsa3072.pub", RSA, "RSA (3072 bits)", "RSA"),
            ("ecdsa256.pub", ECDSA_P256, "ECDSA P-256", "ECDSA"),
            ("ecdsa384.pub", ECDSA_P384, "ECDSA P-384", "ECDSA"),
            ("ecdsa521.pub", ECDSA_P521, "ECDSA P-521", "ECDSA"),
            ("sk-ed25519.pub", SK_ED25519, "ED25519-SK", "ED25519-SK"),
            ("sk-ecdsa.pub", SK_ECDSA_P256, "ECDSA-SK P-256", "ECDSA-SK"),
        ];
        for (name, algorithm, label, kind) in cases {
            let text = fixture(name);
            let key = parse_public_key(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            let (bits, fingerprint, keygen_kind) = keygen_says(name);
            assert_eq!(key.algorithm, algorithm, "{name}");
            assert_eq!(key.fingerprint, fingerprint, "{name}");
            assert_eq!(key.bits, bits, "{name}");
            assert_eq!(keygen_kind, format!("({kind})"), "{name}");
            assert_eq!(key.type_label(), label, "{name}");
            let mut words = text.trim().splitn(3, ' ');
            let canonical = format!("{} {}", words.next().unwrap(), words.next().unwrap());
            assert_eq!(key.canonical, canonical, "{name}");
            assert_eq!(key.comment, words.next().unwrap_or(""), "{name}");
            assert_eq!(key.fingerprint, key_fingerprint_by_ssh_key(&key.canonical));
        }
    }

    fn key_fingerprint_by_ssh_key(canonical: &str) -> String {
        let key = PublicKey::from_openssh(canonical).expect("canonical form parses");
        key.fingerprint(ssh_key::HashAlg::Sha256).to_string()
    }

    #[test]
    fn sk_fixtures_follow_protocol_u2f_layout() {
        // PROTOCOL.u2f: string type, key data as for the plain type, string application.
        let ed = fields(&blob_of(&fixture("ed25519.pub")));
        let sk_ed = [
            ssh_string(SK_ED25519.as_bytes()),
            ssh_string(&ed[1]),
            ssh_string(b"ssh:"),
        ];
        assert_eq!(blob_of(&fixture("sk-ed25519.pub")), sk_ed.concat());

        let ec = fields(&blob_of(&fixture("ecdsa256.pub")));
        let sk_ec = [
            ssh_string(SK_ECDSA_P256.as_bytes()),
            ssh_string(b"nistp256"),
            ssh_string(&ec[2]),
            ssh_string(b"ssh:"),
        ];
        let key = parse_public_key(&line_of(SK_ECDSA_P256, &sk_ec.concat())).expect("valid sk key");
        assert_eq!(key.fingerprint, keygen_says("sk-ecdsa.pub").1);
    }

    #[test]
    fn refuses_obsolete_weak_and_certificate_keys() {
        assert_eq!(refuse(&fixture("rsa1024.pub")), KeyError::RsaTooSmall(1024));
        assert_eq!(refuse(&fixture("dsa.pub")), KeyError::Dsa);
        assert_eq!(refuse(&fixture("cert.pub")), KeyError::Certificate);
        assert_eq!(
            refuse("ssh-rsa-cert-v01@openssh.com AAAA"),
            KeyError::Certificate
        );
        // A DSA blob relabelled as ssh-ed25519 is caught by the embedded type.
        let dsa = blob_of(&fixture("dsa.pub"));
        assert_eq!(
            refuse(&line_of(ED25519, &dsa)),
            KeyError::TypeMismatch {
                label: ED25519.into(),
                blob: DSA.into()
            }
        );
    }

    #[test]
    fn refuses_private_keys_in_every_common_format() {
        assert_eq!(refuse(&fixture("id_ed25519")), KeyError::PrivateKey);
        assert_eq!(refuse(&fixture("ecdsa256.pem")), KeyError::PrivateKey);
        // Body only, without the BEGIN/END lines.
        let body: String = fixture("id_ed25519")
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        assert_eq!(refuse(&body), KeyError::PrivateKey);
        for header in [
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow==\n-----END RSA PRIVATE KEY-----",
            "-----BEGIN DSA PRIVATE KEY-----\nMIIBuw==",
            "-----BEGIN PRIVATE KEY-----\nMIGHAgEA",
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBO",
            "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: me",
            "PuTTY-User-Key-File-2: ssh-rsa\r\nEncryption: aes256-cbc",
        ] {
            assert_eq!(refuse(header), KeyError::PrivateKey, "{header}");
        }
    }

    #[test]
    fn refuses_a_second_line_smuggled_after_the_comment() {
        let key = fixture("ed25519.pub");
        let b64 = key.split(' ').nth(1).unwrap();
        let injected = format!("ssh-ed25519 {b64} a\ncommand=\"x\" ssh-ed25519 {b64} b");
        assert_eq!(refuse(&injected), KeyError::SeveralKeys);
        let two = format!(
            "{}\n{}",
            fixture("ed25519.pub").trim(),
            fixture("rsa2048.pub")
        );
        assert_eq!(refuse(&two), KeyError::SeveralKeys);
        // A comment continued on a second line is not a key, but is still not one line.
        let wrapped = format!("ssh-ed25519 {b64} alice\r\nat the lab");
        assert!(matches!(refuse(&wrapped), KeyError::Malformed(m) if m.contains("single line")));
        let options_only = format!("ssh-ed25519 {b64} a\nno-pty,command=\"sh\"");
        assert_eq!(refuse(&options_only), KeyError::SeveralKeys);
        let split_data = format!("ssh-ed25519 {}\n{}", &b64[..30], &b64[30..]);
        assert!(matches!(refuse(&split_data), KeyError::Malformed(_)));
    }

    #[test]
    fn refuses_authorized_keys_options() {
        let b64 = fixture("ed25519.pub").split(' ').nth(1).unwrap().to_owned();
        for line in [
            format!("command=\"echo hi AAAA\" ssh-ed25519 {b64} x"),
            format!("no-pty,from=\"10.0.0.1\" ssh-ed25519 {b64}"),
            format!("restrict ssh-ed25519 {b64}"),
            format!("no-pty ssh-ed448 {b64}"),
            format!("environment=\"A=b\" ssh-ed25519-cert-v01@openssh.com {b64}"),
        ] {
            assert_eq!(refuse(&line), KeyError::Options, "{line}");
        }
    }

    #[test]
    fn trims_whitespace_crlf_and_byte_order_mark() {
        let plain = parse_public_key(&fixture("ed25519.pub")).unwrap();
        let messy = format!("\u{feff} \r\n\t{}\r\n\r\n  ", fixture("ed25519.pub").trim());
        assert_eq!(parse_public_key(&messy).unwrap(), plain);
        let tabs = fixture("ed25519.pub").trim().replacen(' ', "\t", 2);
        assert_eq!(parse_public_key(&tabs).unwrap().canonical, plain.canonical);
        assert_eq!(refuse(""), KeyError::Empty);
        assert_eq!(refuse(" \r\n\t \n"), KeyError::Empty);
    }

    #[test]
    fn converts_rfc4716_blocks() {
        for (rfc, pub_file, bits) in [
            ("ed25519.rfc4716.pub", "ed25519.pub", "256-bit ED25519"),
            ("rsa2048.rfc4716.pub", "rsa2048.pub", "2048-bit RSA"),
        ] {
            let key = parse_public_key(&fixture(rfc)).unwrap();
            let plain = parse_public_key(&fixture(pub_file)).unwrap();
            assert_eq!(
                (&key.canonical, &key.fingerprint),
                (&plain.canonical, &plain.fingerprint)
            );
            assert!(
                key.comment.starts_with(&format!("{bits}, converted by")),
                "{}",
                key.comment
            );
            assert!(!key.comment.contains('"'));
        }
        let b64 = STANDARD.encode(blob_of(&fixture("ecdsa256.pub")));
        let (head, tail) = b64.split_at(40);
        let block = format!(
            "---- BEGIN SSH2 PUBLIC KEY ----\r\nx-Subject: lab\r\ncomment: \"dave at \\\r\nthe lab\"\r\n{head}\r\n{tail}\r\n---- END SSH2 PUBLIC KEY ----\r\n"
        );
        let key = parse_public_key(&block).unwrap();
        assert_eq!(key.comment, "dave at the lab");
        assert_eq!(key.fingerprint, keygen_says("ecdsa256.pub").1);
    }

    #[test]
    fn refuses_bad_rfc4716_blocks() {
        let block = fixture("ed25519.rfc4716.pub");
        let unterminated = block.replace("---- END SSH2 PUBLIC KEY ----", "");
        assert!(matches!(refuse(&unterminated), KeyError::Malformed(m) if m.contains("END")));
        assert_eq!(refuse(&format!("{block}{block}")), KeyError::SeveralKeys);
        assert_eq!(
            refuse(&format!("{block}{}", fixture("rsa2048.pub"))),
            KeyError::SeveralKeys
        );
        let dsa = STANDARD.encode(blob_of(&fixture("dsa.pub")));
        let dsa_block = format!("{RFC4716_BEGIN}\n{dsa}\n{RFC4716_END}");
        assert_eq!(refuse(&dsa_block), KeyError::Dsa);
        let cert = STANDARD.encode(blob_of(&fixture("cert.pub")));
        assert_eq!(
            refuse(&format!("{RFC4716_BEGIN}\n{cert}\n{RFC4716_END}")),
            KeyError::Certificate
        );
        assert_eq!(
            refuse(&format!("{RFC4716_BEGIN}\n!!!!\n{RFC4716_END}")),
            KeyError::BadBase64
        );
    }

    #[test]
    fn counts_rsa_modulus_bits() {
        let e = [0x01, 0x00, 0x01];
        for bits in [2048, 2049, 3072, 4095, 16384] {
            let key = parse_public_key(&rsa_line(&e, &modulus(bits))).unwrap();
            assert_eq!(key.bits, bits as u32);
        }
        assert_eq!(
            refuse(&rsa_line(&e, &modulus(2047))),
            KeyError::RsaTooSmall(2047)
        );
        assert_eq!(
            refuse(&rsa_line(&e, &modulus(16385))),
            KeyError::RsaTooLarge(16385)
        );
        assert_eq!(refuse(&rsa_line(&e, &modulus(8))), KeyError::RsaTooSmall(8));
        assert!(matches!(
            refuse(&rsa_line(&[0x01], &modulus(2048))),
            KeyError::Malformed(_)
        ));
        assert!(matches!(
            refuse(&rsa_line(&[0x04], &modulus(2048))),
            KeyError::Malformed(_)
        ));
        let mut even = modulus(2048);
        *even.last_mut().unwrap() = 0xa4;
        assert!(matches!(
            refuse(&rsa_line(&e, &even)),
            KeyError::Malformed(_)
        ));
        // A superfluous leading zero byte is not the canonical mpint encoding.
        let padded = [&[0u8, 0][..], &modulus(2047)].concat();
        assert!(matches!(
            refuse(&rsa_line(&e, &padded)),
            KeyError::Malformed(_)
        ));
    }

    #[test]
    fn enforces_size_and_control_character_limits() {
        let key = fixture("ed25519.pub");
        assert_eq!(
            refuse(&format!("ssh-ed25519 {}", "A".repeat(MAX_INPUT))),
            KeyError::TooLong
        );
        let padded = format!("{key:<width$}", width = MAX_INPUT);
        assert!(parse_public_key(&padded).is_ok());
        assert_eq!(refuse(&format!("{padded} ")), KeyError::TooLong);
        assert_eq!(
            refuse(&key.replacen(' ', "\0", 1)),
            KeyError::ControlCharacter
        );
        assert_eq!(
            refuse(&format!("{}\0", key.trim())),
            KeyError::ControlCharacter
        );
        assert_eq!(
            refuse(&key.replace("alice", "\u{1b}[31malice")),
            KeyError::ControlCharacter
        );
        assert_eq!(
            refuse(&key.replace("alice", "\u{85}alice")),
            KeyError::ControlCharacter
        );
    }

    /// `blob` with the SEC1 point of an ECDSA key (its last field) replaced by `point`.
    fn with_point(blob: &[u8], point: &[u8]) -> Vec<u8> {
        let mut parts = fields(blob);
        let last = parts.len() - 1;
        parts[last] = point.to_vec();
        parts.iter().flat_map(|p| ssh_string(p)).collect()
    }

    #[test]
    fn refuses_key_data_without_its_padding_or_with_stray_bits() {
        let line = fixture("ecdsa256.pub");
        let mut words = line.trim().splitn(3, ' ');
        let (label, data, comment) = (words.next().unwrap(), words.next().unwrap(), "dave");
        assert!(data.ends_with('='), "this fixture needs padding");
        let stripped = format!("{label} {} {comment}", data.trim_end_matches('='));
        assert_eq!(refuse(&stripped), KeyError::Unpadded);
        let text = KeyError::Unpadded.to_string();
        assert!(text.contains("cut short or altered"), "{text}");
        // The last character before the padding carries two unused bits; OpenSSH refuses
        // them set, so the same key cannot be spelled two ways.
        let body = data.trim_end_matches('=');
        let (head, last) = body.split_at(body.len() - 1);
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let index = alphabet.find(last).unwrap();
        assert_eq!(index & 3, 0, "unused bits are zero in the real key");
        let stray = char::from(alphabet.as_bytes()[index | 1]);
        assert_eq!(
            refuse(&format!("{label} {head}{stray}= {comment}")),
            KeyError::BadBase64
        );
        assert_eq!(refuse(&format!("{label} {data}= x")), KeyError::BadBase64);
        // The same rule inside an RFC 4716 block.
        let block = format!(
            "{RFC4716_BEGIN}\n{}\n{RFC4716_END}\n",
            data.trim_end_matches('=')
        );
        assert_eq!(refuse(&block), KeyError::Unpadded);
        let block = format!("{RFC4716_BEGIN}\n{data}\n{RFC4716_END}\n");
        assert!(parse_public_key(&block).is_ok());
    }

    #[test]
    fn refuses_ecdsa_points_off_their_curve() {
        for name in ["ecdsa256.pub", "ecdsa384.pub", "ecdsa521.pub"] {
            let line = fixture(name);
            let label = line.split(' ').next().unwrap();
            let blob = blob_of(&line);
            let point = fields(&blob).pop().unwrap();
            let mut moved = point.clone();
            *moved.last_mut().unwrap() ^= 1;
            let mut zero = vec![0u8; point.len()];
            zero[0] = 0x04;
            for (what, bad) in [("y changed", moved), ("all zero", zero)] {
                let error = refuse(&line_of(label, &with_point(&blob, &bad)));
                assert!(
                    matches!(&error, KeyError::Malformed(m) if m.contains("not on the curve")),
                    "{name} {what}: {error:?}"
                );
            }
        }
        // The security-key form of P-256 carries its point the same way, before the application.
        let ec = fields(&blob_of(&fixture("ecdsa256.pub")));
        let mut point = ec[2].clone();
        point[40] ^= 0x80;
        let sk = [
            ssh_string(SK_ECDSA_P256.as_bytes()),
            ssh_string(b"nistp256"),
            ssh_string(&point),
            ssh_string(b"ssh:"),
        ];
        assert!(matches!(
            refuse(&line_of(SK_ECDSA_P256, &sk.concat())),
            KeyError::Malformed(m) if m.contains("not on the curve")
        ));
    }

    #[test]
    fn refuses_curve_points_with_a_short_coordinate_as_openssh_does() {
        // A genuine P-256 point whose x is tiny: on the curve, yet refused by OpenSSH.
        let point = (1u8..=255)
            .find_map(|x| {
                let mut compressed = [0u8; 33];
                compressed[0] = 0x02;
                compressed[32] = x;
                p256::PublicKey::from_sec1_bytes(&compressed).ok()
            })
            .expect("some small x lies on P-256");
        use p256::elliptic_curve::sec1::ToEncodedPoint as _;
        let uncompressed = point.to_encoded_point(false);
        let blob = blob_of(&fixture("ecdsa256.pub"));
        let error = refuse(&line_of(
            ECDSA_P256,
            &with_point(&blob, uncompressed.as_bytes()),
        ));
        assert!(
            matches!(&error, KeyError::Malformed(m) if m.contains("unsafe")),
            "{error:?}"
        );
    }

    #[test]
    fn refuses_unknown_types_bad_base64_and_damaged_blobs() {
        let key = fixture("ed25519.pub");
        let b64 = key.split(' ').nth(1).unwrap();
        assert_eq!(
            refuse(&format!("ssh-ed448 {b64}")),
            KeyError::UnsupportedType("ssh-ed448".into())
        );
        assert_eq!(
            refuse("hello world"),
            KeyError::UnsupportedType("hello".into())
        );
        assert_eq!(
            refuse(&format!("rsa-sha2-256 {b64}")),
            KeyError::UnsupportedType("rsa-sha2-256".into())
        );
        assert_eq!(
            refuse(&format!("ssh-rsa {b64}")),
            KeyError::TypeMismatch {
                label: RSA.into(),
                blob: ED25519.into()
            }
        );
        assert_eq!(refuse("ssh-ed25519 AAAA!!!!"), KeyError::BadBase64);
        assert_eq!(
            refuse(&format!("ssh-ed25519 {}=", &b64[..b64.len() - 1])),
            KeyError::BadBase64
        );
        assert!(matches!(refuse("ssh-ed25519"), KeyError::Malformed(_)));
        assert!(matches!(
            refuse(&format!("ssh-ed25519 {}", &b64[..b64.len() - 4])),
            KeyError::Malformed(_)
        ));
        assert!(matches!(refuse("ssh-ed25519 AAAA"), KeyError::Malformed(_)));
        let mut trailing = blob_of(&key);
        trailing.push(0);
        assert!(matches!(
            refuse(&line_of(ED25519, &trailing)),
            KeyError::Malformed(_)
        ));
        // ssh-key takes a compressed point; OpenSSH does not, so neither do we.
        let point = &fields(&blob_of(&fixture("ecdsa256.pub")))[2];
        let compressed = [&[0x02 | (point[64] & 1)][..], &point[1..33]].concat();
        let blob = [
            ssh_string(ECDSA_P256.as_bytes()),
            ssh_string(b"nistp256"),
            ssh_string(&compressed),
        ];
        assert!(matches!(
            refuse(&line_of(ECDSA_P256, &blob.concat())),
            KeyError::Malformed(_)
        ));
        let long = "x".repeat(500);
        assert_eq!(
            refuse(&format!("{long} {b64}")),
            KeyError::UnsupportedType(String::new())
        );
        // A first word that does not look like a type (here the key data itself, or text with
        // capitals) is not repeated in the message.
        for first in [b64, "MySecretPassphrase", "x".repeat(41).as_str()] {
            let error = refuse(&format!("{first} {b64}"));
            assert_eq!(error, KeyError::UnsupportedType(String::new()), "{first}");
            let text = error.to_string();
            assert!(
                text.contains("unknown key type") && !text.contains(first),
                "{text}"
            );
        }
        assert!(refuse(&format!("{} {b64}", "x".repeat(40)))
            .to_string()
            .contains(&"x".repeat(40)));
    }

    #[test]
    fn messages_are_single_friendly_sentences() {
        let all = [
            KeyError::Empty,
            KeyError::TooLong,
            KeyError::ControlCharacter,
            KeyError::PrivateKey,
            KeyError::SeveralKeys,
            KeyError::Options,
            KeyError::Certificate,
            KeyError::Dsa,
            KeyError::RsaTooSmall(1024),
            KeyError::RsaTooLarge(32768),
            KeyError::UnsupportedType("ssh-ed448".into()),
            KeyError::UnsupportedType(String::new()),
            KeyError::TypeMismatch {
                label: RSA.into(),
                blob: String::new(),
            },
            KeyError::TypeMismatch {
                label: RSA.into(),
                blob: ED25519.into(),
            },
            KeyError::BadBase64,
            KeyError::Unpadded,
            KeyError::Malformed("the key data is incomplete or damaged".into()),
        ];
        for error in all {
            let text = error.to_string();
            assert!(text.ends_with('.') && !text.contains('\n'), "{text}");
            assert_eq!(text.matches(". ").count(), 0, "{text}");
            let _: &dyn std::error::Error = &error;
        }
        let private = KeyError::PrivateKey.to_string();
        assert!(
            private.contains("PRIVATE") && private.contains("never") && private.contains(".pub")
        );
        assert!(private.contains("compromised"));
        assert!(KeyError::RsaTooSmall(1024)
            .to_string()
            .contains("1024 bits"));
    }
}
