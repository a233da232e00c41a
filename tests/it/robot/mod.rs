//! Robots asking for the keys allowed in: the endpoint through Rocket's client
//! ([`endpoint`]), and the `labgate authorized-keys` helper as the real binary against a real
//! server ([`helper`]). [`fixture`] writes the lab's rows directly.

mod endpoint;
pub mod fixture;
mod helper;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The text of a key in `tests/fixtures/keys`.
pub fn key_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keys")
        .join(name);
    std::fs::read_to_string(path)
        .expect("fixture key")
        .trim()
        .to_owned()
}

/// The `SHA256:` fingerprint of a key line.
pub fn fingerprint(line: &str) -> String {
    labgate::keys::parse::parse_public_key(line)
        .expect("valid key")
        .fingerprint
}

/// The `TYPE BASE64` form of a key line.
pub fn canonical(line: &str) -> String {
    labgate::keys::parse::parse_public_key(line)
        .expect("valid key")
        .canonical
}

/// The line the endpoint must serve for a key of an instance ending at `expires`.
pub fn expected_line(line: &str, expires: i64) -> String {
    let minute = expires - expires.rem_euclid(60);
    let at = time::OffsetDateTime::from_unix_timestamp(minute).unwrap();
    format!(
        "restrict,pty,expiry-time=\"{:04}{:02}{:02}{:02}{:02}Z\" {}\n",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        canonical(line)
    )
}

/// Percent-encodes a query value.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

// ---- the helper, as the real binary ----

/// A credential file with `mode` in `dir`.
pub fn credential_file(dir: &Path, credential: &str, mode: u32) -> PathBuf {
    let path = dir.join("credential");
    std::fs::write(&path, format!("{credential}\n")).expect("write credential");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    path
}
