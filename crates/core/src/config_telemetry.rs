//! OpenTelemetry trace export settings (`[telemetry]`, `PAKE_TELEMETRY__*`). Unset endpoint: no
//! export (logs and metrics only), unless the standard `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
//! An `https://` collector is verified against `otlp_ca_file` (and, for mTLS, shown
//! `otlp_client_cert_file` / `otlp_client_key_file`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The standard OpenTelemetry variable, honoured when `telemetry.otlp_endpoint` is unset.
pub const OTLP_ENDPOINT_ENV: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// Where and as whom spans are exported (OTLP over gRPC).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// OTLP/gRPC collector URL: `http://host:4317` (plaintext: a node-local collector or the
    /// mesh sidecar carries it further) or `https://host:4317` (TLS, needs `otlp_ca_file`);
    /// unset: no trace export.
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the exported spans; unset: from the role (`pake-identity`,
    /// `pake-knowledge`, `pake-search`, `pake-edge`, `pake` for the all-in-one).
    pub service_name: Option<String>,
    /// PEM CA certificate(s) an `https://` collector's certificate must chain to.
    pub otlp_ca_file: Option<PathBuf>,
    /// PEM client certificate chain shown to an `https://` collector (mTLS); with
    /// `otlp_client_key_file`.
    pub otlp_client_cert_file: Option<PathBuf>,
    /// PEM private key of `otlp_client_cert_file`.
    pub otlp_client_key_file: Option<PathBuf>,
}

impl TelemetryConfig {
    /// The collector to export to: the setting, else `OTEL_EXPORTER_OTLP_ENDPOINT`, else none.
    pub fn endpoint(&self) -> Option<String> {
        self.otlp_endpoint.clone().or_else(|| {
            std::env::var(OTLP_ENDPOINT_ENV)
                .ok()
                .filter(|value| !value.trim().is_empty())
        })
    }

    /// The `service.name` to report, `default` (the role's name) unless configured.
    pub fn service_name_or(&self, default: &str) -> String {
        self.service_name
            .clone()
            .unwrap_or_else(|| default.to_owned())
    }

    /// Problems as (key, message) pairs.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if let Some(endpoint) = &self.otlp_endpoint {
            if endpoint.starts_with("https://") {
                if self.otlp_ca_file.is_none() {
                    problems.push((
                        "telemetry.otlp_endpoint",
                        format!("'{endpoint}' is https:// but telemetry.otlp_ca_file is not set (the CA to verify it)"),
                    ));
                }
            } else if !endpoint.starts_with("http://") {
                problems.push((
                    "telemetry.otlp_endpoint",
                    "must be an http:// (plaintext) or https:// (TLS) URL".to_owned(),
                ));
            }
        }
        if self.otlp_client_cert_file.is_some() != self.otlp_client_key_file.is_some() {
            problems.push((
                "telemetry.otlp_client_cert_file",
                "telemetry.otlp_client_cert_file and telemetry.otlp_client_key_file must be set together (PEM files)".to_owned(),
            ));
        }
        if self.otlp_client_cert_file.is_some() && self.otlp_ca_file.is_none() {
            problems.push((
                "telemetry.otlp_client_cert_file",
                "requires telemetry.otlp_ca_file (to verify the collector it is shown to)"
                    .to_owned(),
            ));
        }
        for (key, path) in [
            ("telemetry.otlp_ca_file", &self.otlp_ca_file),
            (
                "telemetry.otlp_client_cert_file",
                &self.otlp_client_cert_file,
            ),
            ("telemetry.otlp_client_key_file", &self.otlp_client_key_file),
        ] {
            if let Some(path) = path
                && !Path::new(path).is_file()
            {
                problems.push((key, format!("{}: no such file", path.display())));
            }
        }
        if let Some(name) = &self.service_name
            && (name.is_empty() || name.len() > 64)
        {
            problems.push(("telemetry.service_name", "must be 1..=64 bytes".to_owned()));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_must_be_a_url_and_the_name_bounded() {
        let config = TelemetryConfig {
            otlp_endpoint: Some("localhost:4317".to_owned()),
            service_name: Some(String::new()),
            ..TelemetryConfig::default()
        };
        assert_eq!(config.problems().len(), 2);
        let config = TelemetryConfig {
            otlp_endpoint: Some("http://127.0.0.1:4317".to_owned()),
            ..TelemetryConfig::default()
        };
        assert!(config.problems().is_empty());
        assert_eq!(config.service_name_or("pake-search"), "pake-search");
    }

    #[test]
    fn https_needs_a_ca_and_the_client_pair_goes_together() {
        let config = TelemetryConfig {
            otlp_endpoint: Some("https://collector:4317".to_owned()),
            otlp_client_key_file: Some("/nonexistent/otlp-client.key".into()),
            ..TelemetryConfig::default()
        };
        let keys: Vec<&str> = config.problems().iter().map(|(key, _)| *key).collect();
        assert_eq!(
            keys,
            [
                "telemetry.otlp_endpoint",
                "telemetry.otlp_client_cert_file",
                "telemetry.otlp_client_key_file"
            ]
        );
        let ca = std::env::current_exe().expect("a file that exists");
        let config = TelemetryConfig {
            otlp_endpoint: Some("https://collector:4317".to_owned()),
            otlp_ca_file: Some(ca),
            ..TelemetryConfig::default()
        };
        assert!(config.problems().is_empty(), "{:?}", config.problems());
    }
}
