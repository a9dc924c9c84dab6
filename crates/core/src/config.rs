//! Layered configuration: defaults → optional TOML file → `PAKE_*` environment → command-line flags.
//!
//! Keys are the same in every layer: `grpc_listen` in TOML is `PAKE_GRPC_LISTEN` in the
//! environment and `--grpc-listen` on the command line; nested keys use `__` in the environment
//! (`log.format` ↔ `PAKE_LOG__FORMAT`). Unknown keys are errors, so a typo is reported instead of
//! silently ignored. [`Config::validate`] collects every problem at once and names the setting and
//! where its value came from.

#[path = "config_knowledge.rs"]
mod knowledge;
pub use knowledge::KnowledgeConfig;
#[path = "config_rate_limit.rs"]
mod rate_limit;
pub use rate_limit::RateLimitConfig;
#[path = "config_database.rs"]
mod database;
#[path = "config_edge.rs"]
mod edge;
#[path = "config_redis.rs"]
mod redis;
pub use database::DatabaseConfig;
pub use edge::{DEFAULT_HTTP_LISTEN, DEFAULT_UPSTREAM_CONNECTIONS, EdgeConfig, EdgeOverrides};
pub use redis::RedisConfig;
#[path = "config_tls.rs"]
mod tls;
pub use tls::TlsConfig;
#[path = "config_telemetry.rs"]
mod telemetry;
pub use telemetry::{OTLP_ENDPOINT_ENV, TelemetryConfig};
#[path = "config_identity.rs"]
mod identity;
pub use identity::{AuthConfig, IdentityConfig, RegistrationPolicy, SIGNING_ALGORITHMS};
#[path = "config_secrets.rs"]
mod secrets;
#[path = "config_validate.rs"]
mod validate;
pub use secrets::{DEFAULT_KUBERNETES_JWT_PATH, VaultAuthConfig, VaultAuthMethod, VaultConfig};
use validate::describe_figment_error;

use std::fmt;

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Environment variable that names a TOML configuration file (same as `--config`).
pub const CONFIG_FILE_ENV: &str = "PAKE_CONFIG";
/// Prefix of every configuration environment variable.
pub const ENV_PREFIX: &str = "PAKE_";
/// Default gRPC listen address of the all-in-one server.
pub const DEFAULT_GRPC_LISTEN: &str = "127.0.0.1:50051";
/// Default address of the Prometheus metrics listener (processes without the JSON edge).
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9464";

/// Which services a process runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceRole {
    /// Identity, knowledge and search in one process on one port.
    All,
    /// Only `pake.identity.v1.IdentityService`.
    Identity,
    /// Only `pake.knowledge.v1.KnowledgeService`.
    Knowledge,
    /// Only `pake.search.v1.SearchService`.
    Search,
}

impl ServiceRole {
    /// Lower-case name as used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceRole::All => "all",
            ServiceRole::Identity => "identity",
            ServiceRole::Knowledge => "knowledge",
            ServiceRole::Search => "search",
        }
    }

    /// Whether this process runs the given single service.
    pub fn runs(self, service: ServiceRole) -> bool {
        self == ServiceRole::All || self == service
    }
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (the default on a laptop).
    Pretty,
    /// One JSON object per line (production).
    Json,
}

/// Logging settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `pretty` or `json`.
    pub format: LogFormat,
    /// A `tracing` filter directive, e.g. `info` or `pake_knowledge=debug,info`.
    /// `RUST_LOG`, when set, wins.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Pretty,
            filter: "info".to_owned(),
        }
    }
}

/// Where the other services are when a process runs one service alone.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpstreamConfig {
    /// gRPC URL of the identity service, e.g. `http://identity:50051`.
    pub identity: Option<String>,
    /// gRPC URL of the knowledge service, e.g. `http://knowledge:50051`.
    pub knowledge: Option<String>,
}

/// Search service settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchConfig {
    /// API key of the service account (role `service`) that search uses to read the change
    /// feed when identity is not in the same process.
    pub service_api_key: Option<SecretString>,
    /// Search result pages kept in the in-process hot-query cache (0 disables it).
    pub cache_entries: usize,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            service_api_key: None,
            cache_entries: 1024,
        }
    }
}

/// Shutdown behaviour.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShutdownConfig {
    /// How long in-flight calls may take to finish after SIGTERM before they are cut off.
    pub drain_timeout_secs: u64,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        ShutdownConfig {
            drain_timeout_secs: 20,
        }
    }
}

/// The whole configuration of a `pake` process.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the gRPC server listens on (`host:port`; port 0 picks a free port).
    pub grpc_listen: String,
    /// Address of the Prometheus `/metrics` listener of processes without the JSON edge
    /// (`pake serve identity|knowledge|search`, or `--no-edge`); where the edge runs, its
    /// `/metrics` serves the same metrics.
    pub metrics_listen: String,
    /// Directory for the embedded defaults: the SQLite file and the generated signing key.
    pub data_dir: PathBuf,
    /// Database URL (`sqlite://…` or `postgres://…`); unset means `<data_dir>/pake.db`.
    pub database_url: Option<SecretString>,
    /// PostgreSQL start-up wait, fast failure and health probe.
    pub database: DatabaseConfig,
    /// Redis URL (`redis://[:password@]host:port[/db]`) for the search cache, sign-in throttling
    /// and revoked sessions shared by replicas; unset keeps them in-process.
    pub redis_url: Option<SecretString>,
    /// How Redis is used when `redis_url` is set.
    pub redis: RedisConfig,
    /// Vault token for `vault.auth.method = token` (`PAKE_VAULT_TOKEN`).
    pub vault_token: Option<SecretString>,
    /// Where secrets come from in production (HashiCorp Vault / OpenBao).
    pub vault: VaultConfig,
    /// Logging.
    pub log: LogConfig,
    /// OpenTelemetry trace export (off unless an OTLP endpoint is set).
    pub telemetry: TelemetryConfig,
    /// Other services' addresses when running one service alone.
    pub upstream: UpstreamConfig,
    /// Token issuer, audience and key refresh.
    pub auth: AuthConfig,
    /// Identity service settings.
    pub identity: IdentityConfig,
    /// Search service settings.
    pub search: SearchConfig,
    /// Knowledge service settings.
    pub knowledge: KnowledgeConfig,
    /// Shutdown behaviour.
    pub shutdown: ShutdownConfig,
    /// The JSON edge.
    pub edge: EdgeConfig,
    /// Per-caller rate limits of the gRPC services.
    pub rate_limit: RateLimitConfig,
    /// Peers whose `X-Forwarded-For` is believed (Kong, a separate edge, the Istio sidecar):
    /// IP addresses or CIDR ranges. The client address of sign-in throttling, the audit log and
    /// anonymous rate limits is then the rightmost forwarded address that is not a trusted proxy
    /// ([`crate::client_address`]). The all-in-one's in-process edge is trusted without it.
    pub trusted_proxies: Vec<String>,
    /// Native TLS and mTLS of the gRPC server and service-to-service clients (off: plaintext).
    pub tls: TlsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            grpc_listen: DEFAULT_GRPC_LISTEN.to_owned(),
            metrics_listen: DEFAULT_METRICS_LISTEN.to_owned(),
            data_dir: PathBuf::from("pake-data"),
            database_url: None,
            database: DatabaseConfig::default(),
            redis_url: None,
            redis: RedisConfig::default(),
            vault_token: None,
            vault: VaultConfig::default(),
            log: LogConfig::default(),
            telemetry: TelemetryConfig::default(),
            upstream: UpstreamConfig::default(),
            auth: AuthConfig::default(),
            identity: IdentityConfig::default(),
            search: SearchConfig::default(),
            knowledge: KnowledgeConfig::default(),
            shutdown: ShutdownConfig::default(),
            edge: EdgeConfig::default(),
            rate_limit: RateLimitConfig::default(),
            trusted_proxies: Vec::new(),
            tls: TlsConfig::default(),
        }
    }
}

/// Values given as command-line flags; `None` leaves the lower layers' value in place.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grpc_listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<LogOverrides>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<UpstreamOverrides>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edge: Option<EdgeOverrides>,
}

/// Flag overrides of [`LogConfig`].
#[derive(Clone, Debug, Default, Serialize)]
pub struct LogOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<LogFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
}

/// Flag overrides of [`UpstreamConfig`].
#[derive(Clone, Debug, Default, Serialize)]
pub struct UpstreamOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub knowledge: Option<String>,
}

/// A string that must never be printed: `Debug` and `Display` show `[redacted]`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        SecretString(value.into())
    }

    /// The secret value, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Configuration that could not be loaded or is invalid; the message lists every problem.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n{}", .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
pub struct ConfigError {
    /// One line per problem, each naming the setting.
    pub problems: Vec<String>,
}

impl Config {
    /// Loads the layers. `file` is `--config`; without it `PAKE_CONFIG` is consulted.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let figment = Self::figment(file, overrides)?;
        let config: Config = figment.extract().map_err(|error| ConfigError {
            problems: error
                .into_iter()
                .map(|e| describe_figment_error(&e))
                .collect(),
        })?;
        config.validate(&figment)?;
        Ok(config)
    }

    fn figment(file: Option<&Path>, overrides: &Overrides) -> Result<Figment, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        let env_file = std::env::var_os(CONFIG_FILE_ENV).map(PathBuf::from);
        if let Some(path) = file.map(Path::to_path_buf).or(env_file) {
            if !path.is_file() {
                return Err(ConfigError {
                    problems: vec![format!(
                        "config file {}: not found (given by --config or {CONFIG_FILE_ENV})",
                        path.display()
                    )],
                });
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        let env = Env::prefixed(ENV_PREFIX)
            .ignore(&["config"])
            .filter(|key| !key.as_str().to_ascii_lowercase().starts_with("test_"))
            .split("__");
        Ok(figment
            .merge(env)
            .merge(Serialized::defaults(overrides.clone())))
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
