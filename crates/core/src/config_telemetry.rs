//! OpenTelemetry trace export settings (`[telemetry]`, `PAKE_TELEMETRY__*`). Unset endpoint: no
//! export (logs and metrics only), unless the standard `OTEL_EXPORTER_OTLP_ENDPOINT` is set.

use serde::{Deserialize, Serialize};

/// The standard OpenTelemetry variable, honoured when `telemetry.otlp_endpoint` is unset.
pub const OTLP_ENDPOINT_ENV: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// Where and as whom spans are exported (OTLP over gRPC).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// OTLP/gRPC collector URL (`http://host:4317`, plaintext: a node-local collector or the
    /// mesh sidecar carries it further); unset: no trace export.
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the exported spans; unset: from the role (`pake-identity`,
    /// `pake-knowledge`, `pake-search`, `pake-edge`, `pake` for the all-in-one).
    pub service_name: Option<String>,
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
        if let Some(endpoint) = &self.otlp_endpoint
            && !endpoint.starts_with("http://")
        {
            problems.push((
                "telemetry.otlp_endpoint",
                "must be an http:// URL (OTLP over plaintext gRPC)".to_owned(),
            ));
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
        };
        assert_eq!(config.problems().len(), 2);
        let config = TelemetryConfig {
            otlp_endpoint: Some("http://127.0.0.1:4317".to_owned()),
            service_name: None,
        };
        assert!(config.problems().is_empty());
        assert_eq!(config.service_name_or("pake-search"), "pake-search");
    }
}
