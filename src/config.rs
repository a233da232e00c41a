//! Server configuration: command-line flags over `LABGATE_*` environment variables over defaults.

use std::net::IpAddr;
use std::path::PathBuf;

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
}
