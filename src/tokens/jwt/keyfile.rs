//! The signing key's file: PKCS#8 PEM encoding, and loading or creating it once on disk.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use rand_core::{OsRng, RngCore as _};

use super::{JwtError, SigningKey};

impl SigningKey {
    /// Decodes a PKCS#8 PEM private key (`BEGIN PRIVATE KEY`), as written by
    /// [`to_pkcs8_pem`](Self::to_pkcs8_pem) or `openssl genpkey -algorithm ed25519`.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, JwtError> {
        ed25519_dalek::SigningKey::from_pkcs8_pem(pem.trim())
            .map(Self::from_dalek)
            .map_err(|e| JwtError::Key(e.to_string()))
    }

    /// Encodes the private key as PKCS#8 v1 PEM (`BEGIN PRIVATE KEY`, LF line endings), the
    /// form `openssl genpkey -algorithm ed25519` writes.
    pub fn to_pkcs8_pem(&self) -> String {
        // ed25519-dalek's own encoder writes PKCS#8 v2 (with the public key), which OpenSSL
        // before 3.5 and Python's cryptography refuse; leaving the public key out gives v1.
        let keypair = ed25519_dalek::pkcs8::KeypairBytes {
            secret_key: self.key.to_bytes(),
            public_key: None,
        };
        // Encoding a well-formed 32-byte key into DER and PEM has no failure path.
        let pem = keypair
            .to_pkcs8_pem(LineEnding::LF)
            .expect("an Ed25519 key always encodes as PKCS#8");
        pem.as_str().to_owned()
    }

    /// Loads the key from the PEM file at `path`, or creates one there when it is missing.
    ///
    /// A new key is written to a temporary file (mode 0600, `create_new`) in the same directory,
    /// synced, then published under `path` with a hard link, which, unlike a rename, fails when
    /// another process published its key first; that key is then loaded instead, so concurrent
    /// starts agree on one key. An existing file is never replaced: if it is unreadable or holds
    /// a bad key this returns [`JwtError::Io`] or [`JwtError::Key`].
    pub fn load_or_create(path: &Path) -> Result<Self, JwtError> {
        match fs::read_to_string(path) {
            Ok(pem) => return Self::from_pkcs8_pem(&pem),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(path, &e)),
        }
        let key = Self::generate();
        let tmp = temp_path(path)?;
        if let Err(e) = write_private(&tmp, key.to_pkcs8_pem().as_bytes()) {
            let _ = fs::remove_file(&tmp);
            return Err(io_error(&tmp, &e));
        }
        let published = match fs::hard_link(&tmp, path) {
            // Some file systems (FAT, a few network ones) have no hard links: fall back to a
            // rename, whose only risk is replacing a key created in the last few microseconds.
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists && !path.exists() => {
                fs::rename(&tmp, path)
            }
            other => other,
        };
        let _ = fs::remove_file(&tmp);
        match published {
            Ok(()) => {
                // Best effort: makes the new directory entry survive a crash.
                if let Ok(dir) = fs::File::open(parent_dir(path)) {
                    let _ = dir.sync_all();
                }
                Ok(key)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let pem = fs::read_to_string(path).map_err(|e| io_error(path, &e))?;
                Self::from_pkcs8_pem(&pem)
            }
            Err(e) => Err(io_error(path, &e)),
        }
    }
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

fn temp_path(path: &Path) -> Result<PathBuf, JwtError> {
    let name = path
        .file_name()
        .ok_or_else(|| JwtError::Io(format!("{}: not a file path", path.display())))?;
    let nonce = OsRng.next_u64();
    let tmp = format!(
        ".{}.{}.{nonce:016x}.tmp",
        name.to_string_lossy(),
        std::process::id()
    );
    Ok(parent_dir(path).join(tmp))
}

fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

fn io_error(path: &Path, error: &io::Error) -> JwtError {
    JwtError::Io(format!("{}: {error}", path.display()))
}
