//! Validation of a loaded [`Config`]: every problem at once, each naming the setting and where
//! its value came from (`grpc_listen: 'localhost' is not a socket address … (set by PAKE_…)`).
//! Sections with rules of their own check themselves (`problems()`); this file adds the rules
//! across sections and those of what a single service needs.

use std::net::SocketAddr;

use figment::Figment;

use super::{
    Config, ConfigError, DEFAULT_GRPC_LISTEN, DEFAULT_METRICS_LISTEN, ENV_PREFIX, ServiceRole,
};

impl Config {
    /// Checks every setting; see the module documentation.
    /// Checks every setting and reports all problems, each naming the key and its source.
    pub(super) fn validate(&self, figment: &Figment) -> Result<(), ConfigError> {
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
        for (key, message) in self.identity.problems(&self.auth) {
            problem(&key, message);
        }
        for (key, message) in self.auth.problems() {
            problem(key, message);
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
        let identity = &self.identity;
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

pub(super) fn parse_listen_address(value: &str) -> Result<SocketAddr, String> {
    value.parse::<SocketAddr>().map_err(|_| {
        format!("'{value}' is not a socket address; expected ip:port such as {DEFAULT_GRPC_LISTEN} (port 0 picks a free port)")
    })
}

pub(super) fn describe_figment_error(error: &figment::Error) -> String {
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
