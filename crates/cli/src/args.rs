//! Command-line arguments. Every flag is also a config key (`--grpc-listen` ↔ `grpc_listen` ↔
//! `PAKE_GRPC_LISTEN`); flags win over the environment, which wins over the config file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use pake_core::config::{
    EdgeOverrides, LogFormat, LogOverrides, Overrides, ServiceRole, UpstreamOverrides,
};

/// PAKE — a knowledge engine: notes with tags, links and confidence, search, and sign-in.
#[derive(Debug, Parser)]
#[command(name = "pake", version, about, long_about = None)]
pub struct Cli {
    /// TOML configuration file (also `PAKE_CONFIG`).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run PAKE: all services in one process (default) or one service alone.
    Serve(ServeArgs),
    /// Manage users directly in the database (works while the server runs or not).
    #[command(subcommand)]
    User(UserCommand),
    /// Import an Obsidian vault (a folder of .md files) into a running server.
    Import(crate::vault::ImportArgs),
    /// Export the notes you may read from a running server as an Obsidian vault.
    Export(crate::vault::ExportArgs),
    /// Apply every service's database migrations (servers also do at start); `--status` lists
    /// applied and pending ones.
    Migrate(crate::migrate::MigrateArgs),
    /// Copy the embedded SQLite database to FILE while the server runs (VACUUM INTO).
    Backup(crate::backup::BackupArgs),
    /// Sign in and print an access token, for `TOKEN=$(pake token …)` in scripts.
    Token(crate::token::TokenArgs),
}

/// `pake user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the way the first admin comes to exist. Reads the password from the first
    /// line of standard input (`echo "$PASSWORD" | pake user create --username ada --admin`).
    Create(UserCreateArgs),
}

/// `pake user create` flags.
#[derive(Debug, clap::Args)]
pub struct UserCreateArgs {
    /// Sign-in name (normalised: NFKC + case fold).
    #[arg(long)]
    pub username: String,
    /// Email address.
    #[arg(long, default_value = "")]
    pub email: String,
    /// Name shown to people.
    #[arg(long, default_value = "")]
    pub display_name: String,
    /// Make the user an admin (otherwise: editor).
    #[arg(long)]
    pub admin: bool,
    /// Data directory (default ./pake-data).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL, sqlite:… or postgres://… (default: SQLite in the data dir).
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
}

impl UserCreateArgs {
    /// The flag layer of the configuration.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            ..Overrides::default()
        }
    }
}

/// Which service(s) `pake serve` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ServeTarget {
    /// Identity, knowledge and search on one port, on embedded defaults.
    All,
    /// The identity service alone.
    Identity,
    /// The knowledge service alone (needs --identity-url).
    Knowledge,
    /// The search service alone (needs --identity-url and --knowledge-url).
    Search,
    /// The JSON edge alone (needs --upstream-url or --upstream SERVICE=URL).
    Edge,
}

impl ServeTarget {
    /// The gRPC services this target runs; `None` for the edge alone.
    pub fn role(self) -> Option<ServiceRole> {
        match self {
            ServeTarget::All => Some(ServiceRole::All),
            ServeTarget::Identity => Some(ServiceRole::Identity),
            ServeTarget::Knowledge => Some(ServiceRole::Knowledge),
            ServeTarget::Search => Some(ServiceRole::Search),
            ServeTarget::Edge => None,
        }
    }
}

/// `pake serve` flags.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// What to run.
    #[arg(value_enum, default_value_t = ServeTarget::All)]
    pub target: ServeTarget,
    /// gRPC listen address, ip:port (default 127.0.0.1:50051; port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    pub grpc_listen: Option<String>,
    /// Data directory for the embedded SQLite file and signing key (default ./pake-data).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL, sqlite:… or postgres://… (default: SQLite in the data dir).
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Redis URL, redis://… (search cache, sign-in throttling and revoked sessions shared by
    /// replicas; default: in-process). Prefer PAKE_REDIS_URL: flags show in `ps`.
    #[arg(long, value_name = "URL")]
    pub redis_url: Option<String>,
    /// gRPC URL of the identity service when running another service alone.
    #[arg(long, value_name = "URL")]
    pub identity_url: Option<String>,
    /// gRPC URL of the knowledge service when running search alone.
    #[arg(long, value_name = "URL")]
    pub knowledge_url: Option<String>,
    /// Log format.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormatArg>,
    /// Log filter, e.g. `info` or `pake_knowledge=debug,info`.
    #[arg(long, value_name = "FILTER")]
    pub log_filter: Option<String>,
    /// JSON edge listen address, ip:port (default 127.0.0.1:8080; port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    pub http_listen: Option<String>,
    /// Prometheus metrics listen address, ip:port, when the JSON edge does not run in this
    /// process (default 127.0.0.1:9464; port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<String>,
    /// Do not serve the JSON edge in the all-in-one.
    #[arg(long)]
    pub no_edge: bool,
    /// Edge: an encoded FileDescriptorSet to serve instead of PAKE's own.
    #[arg(long, value_name = "FILE")]
    pub descriptor_set: Option<PathBuf>,
    /// Edge: gRPC URL of every service without its own --upstream.
    #[arg(long, value_name = "URL")]
    pub upstream_url: Option<String>,
    /// Edge: gRPC URL of one service, `package.Service=http://host:port` (repeatable).
    #[arg(long = "upstream", value_name = "SERVICE=URL", value_parser = parse_upstream)]
    pub upstreams: Vec<(String, String)>,
    /// Edge: largest request body in bytes (default 4 MiB).
    #[arg(long, value_name = "BYTES")]
    pub max_body_bytes: Option<usize>,
}

fn parse_upstream(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(service, url)| (service.to_owned(), url.to_owned()))
        .ok_or_else(|| format!("'{text}': expected package.Service=http://host:port"))
}

/// `--log-format` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormatArg {
    /// Human-readable.
    Pretty,
    /// JSON lines.
    Json,
}

impl ServeArgs {
    /// The flag layer of the configuration.
    pub fn overrides(&self) -> Overrides {
        let log = (self.log_format.is_some() || self.log_filter.is_some()).then(|| LogOverrides {
            format: self.log_format.map(|format| match format {
                LogFormatArg::Pretty => LogFormat::Pretty,
                LogFormatArg::Json => LogFormat::Json,
            }),
            filter: self.log_filter.clone(),
        });
        let upstream = (self.identity_url.is_some() || self.knowledge_url.is_some()).then(|| {
            UpstreamOverrides {
                identity: self.identity_url.clone(),
                knowledge: self.knowledge_url.clone(),
            }
        });
        let edge = EdgeOverrides {
            enabled: self.no_edge.then_some(false),
            http_listen: self.http_listen.clone(),
            descriptor_set: self.descriptor_set.clone(),
            upstream: self.upstream_url.clone(),
            upstreams: (!self.upstreams.is_empty())
                .then(|| self.upstreams.iter().cloned().collect::<BTreeMap<_, _>>()),
            max_body_bytes: self.max_body_bytes,
        };
        Overrides {
            grpc_listen: self.grpc_listen.clone(),
            metrics_listen: self.metrics_listen.clone(),
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            redis_url: self.redis_url.clone(),
            log,
            upstream,
            edge: (!edge.is_empty()).then_some(edge),
        }
    }
}
