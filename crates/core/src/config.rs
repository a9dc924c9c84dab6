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
#[path = "config_secrets.rs"]
mod secrets;
pub use secrets::{DEFAULT_KUBERNETES_JWT_PATH, VaultAuthConfig, VaultAuthMethod, VaultConfig};

use std::fmt;
use std::net::SocketAddr;
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

/// Who may create accounts without being an admin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegistrationPolicy {
    /// Anyone may register (the embedded default).
    Open,
    /// Only admins create users (the Helm default).
    Closed,
}

/// Identity service settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdentityConfig {
    /// Self-registration policy.
    pub registration: RegistrationPolicy,
    /// Role given to self-registered users: `editor` or `viewer`.
    pub default_role: String,
    /// Lifetime of access tokens, 60..=900 seconds.
    pub access_token_ttl_secs: u64,
    /// Lifetime of a session (its refresh tokens), 1..=365 days.
    pub session_ttl_days: u64,
    /// Argon2id memory cost in KiB (never below 19456, OWASP's minimum).
    pub argon2_memory_kib: u32,
    /// Argon2id iterations (never below 2).
    pub argon2_iterations: u32,
    /// Password hashes computed at once, each on a dedicated low-priority thread (0 = half the
    /// CPUs, at least one).
    pub hashing_concurrency: usize,
    /// Sign-ins allowed to wait for a hashing slot before RESOURCE_EXHAUSTED.
    pub hashing_queue: usize,
    /// How long security audit events are kept before they are pruned, 1..=3650 days.
    pub audit_retention_days: u64,
    /// Algorithm of newly generated signing keys: `EdDSA` (Ed25519) or `ES256` (P-256).
    pub signing_algorithm: String,
    /// Algorithms RotateSigningKey may generate; must include `signing_algorithm`.
    pub signing_algorithms: Vec<String>,
    /// How long a new signing key is published in the JWKS before it signs. At least the longest
    /// JWKS refresh interval of any consumer (Istio: 20 min by default) and `auth.jwks_refresh_secs`.
    pub key_publication_delay_secs: u64,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            registration: RegistrationPolicy::Open,
            default_role: "editor".to_owned(),
            access_token_ttl_secs: 300,
            session_ttl_days: 30,
            argon2_memory_kib: 19456,
            argon2_iterations: 2,
            hashing_concurrency: 0,
            hashing_queue: 64,
            audit_retention_days: 365,
            signing_algorithm: "EdDSA".to_owned(),
            signing_algorithms: vec!["EdDSA".to_owned(), "ES256".to_owned()],
            key_publication_delay_secs: 1500,
        }
    }
}

/// The JOSE names of the signing algorithms PAKE implements.
pub const SIGNING_ALGORITHMS: [&str; 2] = ["EdDSA", "ES256"];

/// Token settings shared by every service (the issuer signs, everyone verifies).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// `iss` of PAKE access tokens.
    pub issuer: String,
    /// `aud` of PAKE access tokens.
    pub audience: String,
    /// How often (at most) the JWKS is refetched, also on an unknown `kid`.
    pub jwks_refresh_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            issuer: crate::token::DEFAULT_ISSUER.to_owned(),
            audience: crate::token::DEFAULT_AUDIENCE.to_owned(),
            jwks_refresh_secs: 30,
        }
    }
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

    /// Checks every setting and reports all problems, each naming the key and its source.
    fn validate(&self, figment: &Figment) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let mut problem = |key: &str, message: String| {
            let source = figment
                .find_metadata(key)
                .map(|metadata| format!(" (set by {})", metadata.name))
                .unwrap_or_default();
            problems.push(format!("{key}: {message}{source}"));
        };
        if let Err(message) = parse_listen_address(&self.grpc_listen) {
            problem("grpc_listen", message);
        }
        if let Err((index, message)) =
            crate::client_address::TrustedProxies::parse(&self.trusted_proxies)
        {
            problem(&format!("trusted_proxies[{index}]"), message);
        }
        if self.metrics_listen.parse::<SocketAddr>().is_err() {
            problem(
                "metrics_listen",
                format!(
                    "'{}' is not a socket address; expected ip:port such as {DEFAULT_METRICS_LISTEN} (port 0 picks a free port)",
                    self.metrics_listen
                ),
            );
        }
        if self.data_dir.as_os_str().is_empty() {
            problem("data_dir", "must not be empty".to_owned());
        }
        if let Some(url) = &self.database_url
            && !(url.expose().starts_with("sqlite:")
                || url.expose().starts_with("postgres://")
                || url.expose().starts_with("postgresql://"))
        {
            problem(
                "database_url",
                "must start with sqlite:, postgres:// or postgresql://".to_owned(),
            );
        }
        for (key, value) in [
            ("upstream.identity", &self.upstream.identity),
            ("upstream.knowledge", &self.upstream.knowledge),
        ] {
            if let Some(url) = value
                && !(url.starts_with("http://") || url.starts_with("https://"))
            {
                problem(
                    key,
                    format!(
                        "'{url}' is not a gRPC URL; expected http://host:port or https://host:port"
                    ),
                );
            }
        }
        if self.shutdown.drain_timeout_secs == 0 || self.shutdown.drain_timeout_secs > 3600 {
            problem(
                "shutdown.drain_timeout_secs",
                format!(
                    "{} is out of range; expected 1..=3600",
                    self.shutdown.drain_timeout_secs
                ),
            );
        }
        let identity = &self.identity;
        if !matches!(identity.default_role.as_str(), "editor" | "viewer") {
            problem(
                "identity.default_role",
                format!(
                    "'{}' is not allowed; expected editor or viewer",
                    identity.default_role
                ),
            );
        }
        if !(60..=900).contains(&identity.access_token_ttl_secs) {
            problem(
                "identity.access_token_ttl_secs",
                format!(
                    "{} is out of range; expected 60..=900",
                    identity.access_token_ttl_secs
                ),
            );
        }
        if !(1..=365).contains(&identity.session_ttl_days) {
            problem(
                "identity.session_ttl_days",
                format!(
                    "{} is out of range; expected 1..=365",
                    identity.session_ttl_days
                ),
            );
        }
        if identity.argon2_memory_kib < 19456 || identity.argon2_memory_kib > 4 * 1024 * 1024 {
            problem(
                "identity.argon2_memory_kib",
                format!(
                    "{} is out of range; expected 19456..=4194304 (OWASP minimum 19456)",
                    identity.argon2_memory_kib
                ),
            );
        }
        if !(2..=20).contains(&identity.argon2_iterations) {
            problem(
                "identity.argon2_iterations",
                format!(
                    "{} is out of range; expected 2..=20",
                    identity.argon2_iterations
                ),
            );
        }
        for (index, algorithm) in identity.signing_algorithms.iter().enumerate() {
            if !SIGNING_ALGORITHMS.contains(&algorithm.as_str()) {
                problem(
                    &format!("identity.signing_algorithms[{index}]"),
                    format!("'{algorithm}' is not supported; expected EdDSA or ES256"),
                );
            }
        }
        if !identity
            .signing_algorithms
            .contains(&identity.signing_algorithm)
        {
            problem(
                "identity.signing_algorithm",
                format!(
                    "'{}' is not one of identity.signing_algorithms",
                    identity.signing_algorithm
                ),
            );
        }
        if identity.key_publication_delay_secs < self.auth.jwks_refresh_secs
            || identity.key_publication_delay_secs > 7 * 24 * 3600
        {
            problem(
                "identity.key_publication_delay_secs",
                format!(
                    "{} is out of range; expected auth.jwks_refresh_secs ({})..=604800, and at least the JWKS refresh interval of every consumer (Istio: 1200)",
                    identity.key_publication_delay_secs, self.auth.jwks_refresh_secs
                ),
            );
        }
        if !(1..=3650).contains(&identity.audit_retention_days) {
            problem(
                "identity.audit_retention_days",
                format!(
                    "{} is out of range; expected 1..=3650",
                    identity.audit_retention_days
                ),
            );
        }
        for (key, message) in self.knowledge.problems() {
            problem(key, message);
        }
        for (key, message) in self.telemetry.problems() {
            problem(key, message);
        }
        for (key, message) in self.rate_limit.problems() {
            problem(key, message);
        }
        for (key, message) in self.redis.problems(self.redis_url.as_ref()) {
            problem(key, message);
        }
        for (key, message) in self.database.problems() {
            problem(key, message);
        }
        for (key, message) in self.vault.problems(self.vault_token.as_ref()) {
            problem(key, message);
        }
        if self.vault.address.is_some()
            && identity.key_publication_delay_secs
                < self.auth.jwks_refresh_secs + self.vault.refresh_secs
        {
            problem(
                "identity.key_publication_delay_secs",
                format!(
                    "{} is too short with Vault; expected at least auth.jwks_refresh_secs + vault.refresh_secs ({}) so a key added in Vault is published before it signs",
                    identity.key_publication_delay_secs,
                    self.auth.jwks_refresh_secs + self.vault.refresh_secs
                ),
            );
        }
        for (key, message) in self.edge.problems() {
            problem(&key, message);
        }
        let upstreams = [
            ("upstream.identity", self.upstream.identity.as_deref()),
            ("upstream.knowledge", self.upstream.knowledge.as_deref()),
        ];
        for (key, message) in self.tls.problems(&upstreams) {
            problem(&key, message);
        }
        if identity.hashing_queue == 0 {
            problem("identity.hashing_queue", "must be at least 1".to_owned());
        }
        if self.auth.issuer.is_empty() || self.auth.audience.is_empty() {
            problem(
                "auth.issuer",
                "issuer and audience must not be empty".to_owned(),
            );
        }
        if self.auth.jwks_refresh_secs == 0 || self.auth.jwks_refresh_secs > 3600 {
            problem(
                "auth.jwks_refresh_secs",
                format!(
                    "{} is out of range; expected 1..=3600",
                    self.auth.jwks_refresh_secs
                ),
            );
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { problems })
        }
    }

    /// Checks what running `role` alone needs: the addresses of the services it calls.
    pub fn validate_for(&self, role: ServiceRole) -> Result<(), ConfigError> {
        let needs: &[(&str, &Option<String>)] = match role {
            ServiceRole::All | ServiceRole::Identity => &[],
            ServiceRole::Knowledge => &[("upstream.identity", &self.upstream.identity)],
            ServiceRole::Search => &[
                ("upstream.identity", &self.upstream.identity),
                ("upstream.knowledge", &self.upstream.knowledge),
            ],
        };
        let mut problems: Vec<String> = needs
            .iter()
            .filter(|(_, value)| value.is_none())
            .map(|(key, _)| {
                let flag = key.replace("upstream.", "--").replace('_', "-") + "-url";
                let env = format!("{ENV_PREFIX}{}", key.to_uppercase().replace('.', "__"));
                format!(
                    "{key}: required when running `{}` alone; set {flag}, {env} or `{key}` in the config file",
                    role.as_str()
                )
            })
            .collect();
        if role == ServiceRole::Search && self.search.service_api_key.is_none() {
            problems.push(format!(
                "search.service_api_key: required when running `search` alone (an API key of a \
                 service account, to read the change feed); set {ENV_PREFIX}SEARCH__SERVICE_API_KEY \
                 or `search.service_api_key` in the config file"
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { problems })
        }
    }

    /// The gRPC listen address.
    pub fn grpc_listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        parse_listen_address(&self.grpc_listen).map_err(|message| ConfigError {
            problems: vec![format!("grpc_listen: {message}")],
        })
    }
}

fn parse_listen_address(value: &str) -> Result<SocketAddr, String> {
    value.parse::<SocketAddr>().map_err(|_| {
        format!("'{value}' is not a socket address; expected ip:port such as {DEFAULT_GRPC_LISTEN} (port 0 picks a free port)")
    })
}

fn describe_figment_error(error: &figment::Error) -> String {
    let key = if error.path.is_empty() {
        "(top level)".to_owned()
    } else {
        error.path.join(".")
    };
    let source = error
        .metadata
        .as_ref()
        .map(|metadata| format!(" (set by {})", metadata.name))
        .unwrap_or_default();
    format!("{key}: {}{source}", error.kind)
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
