//! Server configuration: command-line flags over `LABGATE_*` environment variables over defaults.

use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::error::AppError;

/// Everything `labgate serve` needs to know, resolved once at start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    pub address: IpAddr,
    /// Port to listen on.
    pub port: u16,
    /// Directory holding the database and the signing key.
    pub data: PathBuf,
    /// The URL people and scripts use; decides the cookie `Secure` flag.
    pub public_url: String,
    /// The API tokens' issuer and audience, recorded in the database at first start
    /// ([`crate::tokens::issuer`]) and filled in by [`crate::build`]; `None` means the public URL.
    pub token_issuer: Option<String>,
    /// Longest token lifetime anyone may choose, when the operator sets one.
    pub token_max_seconds: Option<i64>,
    /// Header carrying the client address when labgate runs behind a reverse proxy.
    pub ip_header: Option<String>,
    /// Peers whose `ip_header` is believed; everyone else is known by their own address.
    pub trusted_proxies: crate::server::proxies::TrustedProxies,
}

impl Config {
    /// A configuration with the documented defaults for everything but the data directory.
    pub fn new(data: impl Into<PathBuf>) -> Config {
        let address = IpAddr::from([127, 0, 0, 1]);
        let port = 8000;
        Config {
            address,
            port,
            data: data.into(),
            public_url: default_public_url(address, port),
            token_issuer: None,
            token_max_seconds: None,
            ip_header: None,
            trusted_proxies: crate::server::proxies::TrustedProxies::loopback(),
        }
    }

    /// Path of the SQLite database inside the data directory.
    pub fn db_path(&self) -> PathBuf {
        self.data.join("labgate.db")
    }

    /// The issuer and audience every API token names and is checked against.
    pub fn token_issuer(&self) -> &str {
        self.token_issuer.as_deref().unwrap_or(&self.public_url)
    }

    /// Whether the public URL is only the default for an unspecified listening address
    /// (`http://0.0.0.0:8000`), which no browser elsewhere can open.
    pub fn public_url_is_a_guess(&self) -> bool {
        self.address.is_unspecified()
            && self.public_url == default_public_url(self.address, self.port)
    }

    /// Whether cookies must carry the `Secure` attribute.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// The scheme-host-port part of the public URL, as browsers send it in `Origin`.
    pub fn public_origin(&self) -> &str {
        let url = self.public_url.as_str();
        let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
        match url[after_scheme..].find('/') {
            Some(slash) => &url[..after_scheme + slash],
            None => url,
        }
    }
}

/// The `--data` flag every subcommand takes.
#[derive(Debug, Clone, clap::Args)]
pub struct DataDir {
    /// Directory holding the database and the signing key.
    #[arg(long, env = "LABGATE_DATA", default_value = "./labgate-data")]
    pub data: PathBuf,
}

impl DataDir {
    /// Opens (creating if needed) the database in this directory, for a command-line tool
    /// working beside a running server.
    pub fn open(&self) -> Result<crate::db::Db, crate::error::AppError> {
        crate::ensure_data_dir(&self.data)?;
        crate::db::Db::open(&self.data.join("labgate.db"))
    }
}

/// The files labgate keeps in a data directory; each must be readable and writable by it.
const DATA_FILES: [&str; 6] = [
    "labgate.db",
    "labgate.db-wal",
    "labgate.db-shm",
    "labgate.lock",
    "signing-key.pem",
    "initial-admin-password",
];

/// Checks that labgate can use the existing directory `dir`: list it, create files in it, and
/// read and write the files it keeps there. Changes nothing (a probe file is made and removed).
pub fn check_data_dir(dir: &Path) -> Result<(), AppError> {
    if !dir.is_dir() {
        return Err(AppError::internal(format!(
            "the data directory {} is not a directory; choose another one with --data or LABGATE_DATA",
            dir.display()
        )));
    }
    std::fs::read_dir(dir).map_err(|e| data_dir_error(dir, dir, &e))?;
    let probe = dir.join(".labgate-write-check");
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe)
        .map_err(|e| data_dir_error(dir, dir, &e))?;
    let _ = std::fs::remove_file(&probe);
    for name in DATA_FILES {
        let path = dir.join(name);
        if path.exists() {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(|e| data_dir_error(dir, &path, &e))?;
        }
    }
    Ok(())
}

/// The user and group this process runs as, for messages about file ownership.
pub fn process_ids() -> Option<(u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the process's own user and group.
    std::fs::metadata("/proc/self")
        .ok()
        .map(|m| (m.uid(), m.gid()))
}

/// An I/O failure on `path` in the data directory `dir`, worded to name the path and the fix
/// (never a bare "Permission denied").
pub fn data_dir_error(dir: &Path, path: &Path, e: &io::Error) -> AppError {
    let (dir_shown, path_shown) = (dir.display(), path.display());
    let detail = match e.kind() {
        io::ErrorKind::PermissionDenied => {
            let (who, ids) = match process_ids() {
                Some((uid, gid)) => (format!("uid {uid}"), format!("{uid}:{gid}")),
                None => (
                    "the user labgate runs as".to_owned(),
                    "USER:GROUP".to_owned(),
                ),
            };
            if !dir.exists() {
                return AppError::internal(format!(
                    "cannot create the data directory {dir_shown} as {who} ({e}); create it and \
                     give it to that user (`mkdir -p {dir_shown} && chown {ids} {dir_shown}`), or \
                     choose another directory with --data or LABGATE_DATA"
                ));
            }
            format!(
                "{path_shown} is not readable and writable by {who}, which labgate runs as \
                 ({e}); give the data directory to it with `chown -R {ids} {dir_shown}` (for a \
                 container's bind mount, on the host directory mounted there), or choose another \
                 directory with --data or LABGATE_DATA"
            )
        }
        io::ErrorKind::ReadOnlyFilesystem => format!(
            "{path_shown} is on a read-only file system; the data directory {dir_shown} must be \
             writable (in a container, mount a volume or a writable directory there)"
        ),
        _ => format!("data directory {dir_shown}: {path_shown}: {e}"),
    };
    AppError::internal(detail)
}

/// `http://ADDRESS:PORT`, with IPv6 addresses bracketed.
pub fn default_public_url(address: IpAddr, port: u16) -> String {
    match address {
        IpAddr::V4(a) => format!("http://{a}:{port}"),
        IpAddr::V6(a) => format!("http://[{a}]:{port}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_drops_path() {
        let mut c = Config::new("/tmp/x");
        assert_eq!(c.public_origin(), "http://127.0.0.1:8000");
        c.public_url = "https://lab.example.org/gate/".into();
        assert_eq!(c.public_origin(), "https://lab.example.org");
        assert!(c.secure_cookies());
    }

    #[test]
    fn the_issuer_is_the_public_url_until_one_is_recorded() {
        let mut c = Config::new("/tmp/x");
        assert_eq!(c.token_issuer(), "http://127.0.0.1:8000");
        c.token_issuer = Some("http://old.example.org".into());
        c.public_url = "https://new.example.org".into();
        assert_eq!(c.token_issuer(), "http://old.example.org");
    }

    #[test]
    fn only_the_default_url_of_an_unspecified_address_is_a_guess() {
        let mut c = Config::new("/tmp/x");
        assert!(!c.public_url_is_a_guess());
        c.address = "0.0.0.0".parse().unwrap();
        c.public_url = default_public_url(c.address, c.port);
        assert!(c.public_url_is_a_guess());
        c.public_url = "https://lab.example.org".into();
        assert!(!c.public_url_is_a_guess());
    }

    #[test]
    fn permission_errors_name_the_path_the_user_and_the_fix() {
        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        let (uid, gid) = process_ids().expect("/proc/self");
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let file = dir.join("labgate.db");
        let text = data_dir_error(dir, &file, &denied).to_string();
        let start = format!(
            "{} is not readable and writable by uid {uid}",
            file.display()
        );
        assert!(text.starts_with(&start), "{text}");
        assert!(
            text.contains(&format!("chown -R {uid}:{gid} {}", dir.display())),
            "{text}"
        );
        assert!(text.contains("LABGATE_DATA"), "{text}");

        let missing = dir.join("not-yet");
        let text = data_dir_error(&missing, &missing, &denied).to_string();
        let start = format!("cannot create the data directory {}", missing.display());
        assert!(text.starts_with(&start), "{text}");
        assert!(
            text.contains(&format!("chown {uid}:{gid} {}", missing.display())),
            "{text}"
        );
    }
}
