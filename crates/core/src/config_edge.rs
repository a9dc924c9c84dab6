//! JSON edge settings (`[edge]`, `PAKE_EDGE__*`, `--http-listen` and friends): where the edge
//! listens, which descriptor set it serves, where each gRPC service is, and the body limits.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Default HTTP listen address of the edge.
pub const DEFAULT_HTTP_LISTEN: &str = "127.0.0.1:8080";

/// Default of `edge.upstream_connections`.
pub const DEFAULT_UPSTREAM_CONNECTIONS: usize = 4;

/// JSON edge settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EdgeConfig {
    /// Whether the all-in-one `pake serve` also serves the edge.
    pub enabled: bool,
    /// Address the edge's HTTP server listens on (`host:port`; port 0 picks a free port).
    pub http_listen: String,
    /// An encoded FileDescriptorSet to serve instead of PAKE's own (e.g. `buf build -o`).
    pub descriptor_set: Option<PathBuf>,
    /// gRPC URL of every service not named in `upstreams` (`pake serve edge`; the all-in-one
    /// uses its own gRPC address).
    pub upstream: Option<String>,
    /// gRPC URL per fully-qualified service name, e.g.
    /// `"pake.search.v1.SearchService" = "http://search:50051"`.
    pub upstreams: BTreeMap<String, String>,
    /// Largest unary request body, 1 KiB..=1 GiB; larger is 413.
    pub max_body_bytes: usize,
    /// Largest client-streaming (NDJSON) request body, 1 KiB..=16 GiB.
    pub max_stream_body_bytes: usize,
    /// HTTP/2 connections the edge keeps to each upstream address, 1..=64; calls are spread
    /// over them in turn (one connection is one task, so one connection caps the edge at a
    /// fraction of the machine).
    pub upstream_connections: usize,
    /// Compress responses of at least 1 KiB with gzip or Brotli when the client's
    /// `Accept-Encoding` allows it (server streams never); off when Kong compresses instead.
    pub compression: bool,
}

impl Default for EdgeConfig {
    fn default() -> Self {
        EdgeConfig {
            enabled: true,
            http_listen: DEFAULT_HTTP_LISTEN.to_owned(),
            descriptor_set: None,
            upstream: None,
            upstreams: BTreeMap::new(),
            max_body_bytes: 4 * 1024 * 1024,
            max_stream_body_bytes: 256 * 1024 * 1024,
            upstream_connections: DEFAULT_UPSTREAM_CONNECTIONS,
            compression: true,
        }
    }
}

/// Flag overrides of [`EdgeConfig`].
#[derive(Clone, Debug, Default, Serialize)]
pub struct EdgeOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub descriptor_set: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstreams: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<usize>,
}

impl EdgeOverrides {
    /// Whether any flag was given.
    pub fn is_empty(&self) -> bool {
        self.enabled.is_none()
            && self.http_listen.is_none()
            && self.descriptor_set.is_none()
            && self.upstream.is_none()
            && self.upstreams.is_none()
            && self.max_body_bytes.is_none()
    }
}

impl EdgeConfig {
    /// Problems as (key, message) pairs.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if self.http_listen.parse::<std::net::SocketAddr>().is_err() {
            problems.push((
                "edge.http_listen".to_owned(),
                format!(
                    "'{}' is not a socket address; expected ip:port such as {DEFAULT_HTTP_LISTEN}",
                    self.http_listen
                ),
            ));
        }
        if let Some(path) = &self.descriptor_set
            && !path.is_file()
        {
            problems.push((
                "edge.descriptor_set".to_owned(),
                format!("{} is not a file", path.display()),
            ));
        }
        let urls = self
            .upstream
            .iter()
            .map(|url| ("edge.upstream".to_owned(), url))
            .chain(
                self.upstreams
                    .iter()
                    .map(|(service, url)| (format!("edge.upstreams.\"{service}\""), url)),
            );
        for (key, url) in urls {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                problems.push((
                    key,
                    format!(
                        "'{url}' is not a gRPC URL; expected http://host:port or https://host:port"
                    ),
                ));
            }
        }
        for service in self.upstreams.keys() {
            if service.is_empty() || service.contains('/') || !service.contains('.') {
                problems.push((
                    "edge.upstreams".to_owned(),
                    format!(
                        "'{service}' is not a fully-qualified gRPC service name (package.Service)"
                    ),
                ));
            }
        }
        if !(1024..=1 << 30).contains(&self.max_body_bytes) {
            problems.push((
                "edge.max_body_bytes".to_owned(),
                format!(
                    "{} is out of range; expected 1024..=1073741824",
                    self.max_body_bytes
                ),
            ));
        }
        if !(1..=64).contains(&self.upstream_connections) {
            problems.push((
                "edge.upstream_connections".to_owned(),
                format!(
                    "{} is out of range; expected 1..=64",
                    self.upstream_connections
                ),
            ));
        }
        if !(1024..=1 << 34).contains(&self.max_stream_body_bytes) {
            problems.push((
                "edge.max_stream_body_bytes".to_owned(),
                format!(
                    "{} is out of range; expected 1024..=17179869184",
                    self.max_stream_body_bytes
                ),
            ));
        }
        problems
    }

    /// What running the edge alone needs: an upstream for the services it serves.
    pub fn problems_alone(&self) -> Vec<String> {
        if self.upstream.is_none() && self.upstreams.is_empty() {
            vec![
                "edge.upstream: required when running `edge` alone (unless edge.upstreams names \
                 every service); set --upstream-url, PAKE_EDGE__UPSTREAM or `edge.upstream` in \
                 the config file"
                    .to_owned(),
            ]
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        assert!(EdgeConfig::default().problems().is_empty());
        let config = EdgeConfig {
            http_listen: "localhost".to_owned(),
            upstream: Some("grpc://x".to_owned()),
            upstreams: BTreeMap::from([("Search".to_owned(), "http://s:1".to_owned())]),
            max_body_bytes: 10,
            ..EdgeConfig::default()
        };
        let keys: Vec<String> = config.problems().into_iter().map(|(key, _)| key).collect();
        assert_eq!(
            keys,
            [
                "edge.http_listen",
                "edge.upstream",
                "edge.upstreams",
                "edge.max_body_bytes"
            ]
        );
        assert_eq!(EdgeConfig::default().problems_alone().len(), 1);
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail closures return figment::Error.
    fn environment_and_file_set_the_edge_and_flags_win() {
        use crate::config::{Config, Overrides};
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "pake.toml",
                "[edge.upstreams]\n\"pake.search.v1.SearchService\" = \"http://search:50051\"\n",
            )?;
            jail.set_env("PAKE_EDGE__HTTP_LISTEN", "127.0.0.1:9999");
            jail.set_env("PAKE_EDGE__MAX_BODY_BYTES", "2048");
            let overrides = Overrides {
                edge: Some(EdgeOverrides {
                    upstream: Some("http://pake:50051".to_owned()),
                    ..EdgeOverrides::default()
                }),
                ..Overrides::default()
            };
            let path = jail.directory().join("pake.toml");
            let config = Config::load(Some(&path), &overrides).map_err(|e| e.to_string())?;
            assert_eq!(config.edge.http_listen, "127.0.0.1:9999");
            assert_eq!(config.edge.max_body_bytes, 2048);
            assert_eq!(config.edge.upstream.as_deref(), Some("http://pake:50051"));
            assert_eq!(
                config
                    .edge
                    .upstreams
                    .get("pake.search.v1.SearchService")
                    .map(String::as_str),
                Some("http://search:50051")
            );
            jail.set_env("PAKE_EDGE__HTTP_LISTEN", "nowhere");
            let error = Config::load(Some(&path), &Overrides::default())
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(error.contains("edge.http_listen"), "{error}");
            Ok(())
        });
    }
}
