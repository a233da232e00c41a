//! The `labgate` command line: the server, and the admin commands that work beside it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use labgate::config::{default_public_url, Config};
use labgate::error::AppError;
use labgate::logging::LogLevel;
use labgate::server::proxies::TrustedProxies;

#[derive(Parser)]
#[command(
    name = "labgate",
    version,
    about = "Access console of an on-premises robot lab"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web console and API.
    Serve(ServeArgs),
    /// Manage accounts.
    #[command(subcommand)]
    User(labgate::auth::cli::UserCommand),
    /// Issue API tokens.
    #[command(subcommand)]
    Token(labgate::tokens::cli::TokenCommand),
    /// Manage robots (workspace deployments).
    #[command(subcommand)]
    Deployment(labgate::lab::cli::DeploymentCommand),
    /// Manage groups of members (named by robots' access rules).
    #[command(subcommand)]
    Group(labgate::lab::groups::cli::GroupCommand),
    /// Print the keys allowed on a robot right now (run by sshd's AuthorizedKeysCommand).
    AuthorizedKeys(labgate::robot::HelperArgs),
    /// Write a consistent copy of the database, also while the server runs.
    Backup(BackupArgs),
    /// Ask the server's /alive (exit 0 when it answers 200, 1 otherwise): the image's HEALTHCHECK.
    Healthcheck(labgate::health::CheckArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "LABGATE_ADDRESS", default_value = "127.0.0.1")]
    address: std::net::IpAddr,
    /// Port to listen on.
    #[arg(long, env = "LABGATE_PORT", default_value_t = 8000)]
    port: u16,
    #[command(flatten)]
    data: labgate::config::DataDir,
    /// URL people use to reach labgate (default http://ADDRESS:PORT).
    #[arg(long, env = "LABGATE_PUBLIC_URL")]
    public_url: Option<String>,
    /// Longest token lifetime, in seconds, anyone may choose.
    #[arg(long, env = "LABGATE_TOKEN_MAX_SECONDS")]
    token_max_seconds: Option<i64>,
    /// Header with the client address, when behind a reverse proxy (e.g. X-Real-IP).
    #[arg(long, env = "LABGATE_IP_HEADER")]
    ip_header: Option<String>,
    /// Addresses or networks (comma-separated, e.g. 10.0.0.0/8,fd00::/8) whose --ip-header
    /// is believed; other peers are known by their own address.
    #[arg(
        long,
        env = "LABGATE_TRUSTED_PROXIES",
        default_value = "127.0.0.0/8,::1"
    )]
    trusted_proxies: TrustedProxies,
    /// How much to log: error, warn, info, or debug (adds one line per request).
    #[arg(long, env = "LABGATE_LOG", value_enum, default_value = "info")]
    log: LogLevel,
}

#[derive(Args)]
struct BackupArgs {
    /// Where to write the copy (must not exist yet).
    file: PathBuf,
    #[command(flatten)]
    data: labgate::config::DataDir,
}

fn serve(args: ServeArgs) -> Result<(), AppError> {
    labgate::logging::init(args.log);
    let public_url = args
        .public_url
        .map(|u| u.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| default_public_url(args.address, args.port));
    let config = Config {
        address: args.address,
        port: args.port,
        data: args.data.data,
        public_url,
        token_issuer: None,
        token_max_seconds: args.token_max_seconds,
        ip_header: args.ip_header,
        trusted_proxies: args.trusted_proxies,
    };
    let rocket = labgate::build(config.clone())?;
    labgate::server::serve(rocket, &config)
}

/// Whether this run is `labgate authorized-keys ...`, the command sshd runs.
fn helper_invoked() -> bool {
    std::env::args_os()
        .nth(1)
        .is_some_and(|arg| arg == "authorized-keys")
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() && helper_invoked() => {
            // sshd treats any failure as "no keys", but the helper promises exit 1 for every
            // failure (clap's usage errors exit 2), and syslog is where the operator looks.
            let _ = e.print();
            let rendered = e.render().to_string();
            let first = rendered.lines().next().unwrap_or("bad arguments");
            labgate::robot::helper::to_syslog(&format!("{first}; denying"));
            return ExitCode::FAILURE;
        }
        Err(e) => e.exit(),
    };
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::User(cmd) => labgate::auth::cli::run(cmd),
        Command::Token(cmd) => labgate::tokens::cli::run(cmd),
        Command::Deployment(cmd) => labgate::lab::cli::run(cmd),
        Command::Group(cmd) => labgate::lab::groups::cli::run(cmd),
        Command::AuthorizedKeys(args) => return labgate::robot::run_helper(args),
        Command::Healthcheck(args) => return labgate::health::run_check(args),
        Command::Backup(args) => args
            .data
            .open()
            .and_then(|db| labgate::db::backup(&db, &args.file)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("labgate: {e}");
            ExitCode::FAILURE
        }
    }
}
