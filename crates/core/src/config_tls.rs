//! Native TLS and mTLS settings (`[tls]`, `PAKE_TLS__*`); see docs/adr/0017-native-tls.md.
//!
//! Unset (the default), every listener and client speaks plaintext h2c: right on a laptop and
//! behind Istio, whose sidecars add mTLS between pods. Set, the gRPC server serves TLS with
//! `cert_file` / `key_file` (reloaded when they change) and, with `client_ca_file`, demands a
//! client certificate signed by that CA (mTLS). Clients of other services (`https://` upstream
//! URLs) verify servers against `ca_file` and present `client_cert_file` / `client_key_file`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// TLS of the gRPC server and of the process's service-to-service clients.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain the gRPC server presents (leaf first); with `key_file`, turns TLS on.
    pub cert_file: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of `cert_file`.
    pub key_file: Option<PathBuf>,
    /// PEM CA certificates; set, every client must present a certificate they signed (mTLS).
    pub client_ca_file: Option<PathBuf>,
    /// PEM CA certificates that `https://` upstreams' server certificates are verified against.
    pub ca_file: Option<PathBuf>,
    /// PEM certificate this process presents to `https://` upstreams (mTLS).
    pub client_cert_file: Option<PathBuf>,
    /// PEM private key of `client_cert_file`.
    pub client_key_file: Option<PathBuf>,
    /// How often the server's certificate, key and client CA files are checked for changes,
    /// 1..=3600 s.
    pub reload_interval_secs: u64,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            cert_file: None,
            key_file: None,
            client_ca_file: None,
            ca_file: None,
            client_cert_file: None,
            client_key_file: None,
            reload_interval_secs: 5,
        }
    }
}

impl TlsConfig {
    /// Whether the gRPC server serves TLS.
    pub fn serves_tls(&self) -> bool {
        self.cert_file.is_some()
    }

    /// Problems as (key, message) pairs. `upstreams` are (key, URL) of the gRPC URLs this
    /// process may call: an `https://` one needs `ca_file`.
    pub fn problems(&self, upstreams: &[(&str, Option<&str>)]) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let mut problem = |key: &str, message: String| problems.push((key.to_owned(), message));
        for (key, pair) in [
            (
                "tls.cert_file",
                ("tls.key_file", &self.cert_file, &self.key_file),
            ),
            (
                "tls.client_cert_file",
                (
                    "tls.client_key_file",
                    &self.client_cert_file,
                    &self.client_key_file,
                ),
            ),
        ] {
            let (other, first, second) = pair;
            if first.is_some() != second.is_some() {
                problem(
                    key,
                    format!("{key} and {other} must be set together (PEM files)"),
                );
            }
        }
        if self.client_ca_file.is_some() && self.cert_file.is_none() {
            problem(
                "tls.client_ca_file",
                "requires tls.cert_file and tls.key_file (client certificates are verified only on a TLS server)".to_owned(),
            );
        }
        if self.client_cert_file.is_some() && self.ca_file.is_none() {
            problem(
                "tls.client_cert_file",
                "requires tls.ca_file (to verify the servers it is presented to)".to_owned(),
            );
        }
        for (key, path) in [
            ("tls.cert_file", &self.cert_file),
            ("tls.key_file", &self.key_file),
            ("tls.client_ca_file", &self.client_ca_file),
            ("tls.ca_file", &self.ca_file),
            ("tls.client_cert_file", &self.client_cert_file),
            ("tls.client_key_file", &self.client_key_file),
        ] {
            if let Some(path) = path
                && !Path::new(path).is_file()
            {
                problem(key, format!("{}: no such file", path.display()));
            }
        }
        if !(1..=3600).contains(&self.reload_interval_secs) {
            problem(
                "tls.reload_interval_secs",
                format!(
                    "{} is out of range; expected 1..=3600",
                    self.reload_interval_secs
                ),
            );
        }
        for (key, url) in upstreams {
            if let Some(url) = url
                && url.starts_with("https://")
                && self.ca_file.is_none()
            {
                problem(
                    key,
                    format!("'{url}' is https:// but tls.ca_file is not set (the CA to verify it)"),
                );
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_plaintext_and_valid() {
        let config = TlsConfig::default();
        assert!(!config.serves_tls());
        assert!(config.problems(&[]).is_empty());
    }

    #[test]
    fn problems_name_the_keys() {
        let config = TlsConfig {
            cert_file: Some(PathBuf::from("/nonexistent/cert.pem")),
            client_cert_file: Some(PathBuf::from("/nonexistent/client.pem")),
            reload_interval_secs: 0,
            ..TlsConfig::default()
        };
        let problems = config.problems(&[("upstream.identity", Some("https://identity:50051"))]);
        let keys: Vec<&str> = problems.iter().map(|(key, _)| key.as_str()).collect();
        for expected in [
            "tls.cert_file",
            "tls.client_cert_file",
            "tls.reload_interval_secs",
            "upstream.identity",
        ] {
            assert!(
                keys.contains(&expected),
                "{expected} missing in {problems:?}"
            );
        }
        assert!(
            problems
                .iter()
                .any(|(key, message)| key == "tls.cert_file" && message.contains("no such file"))
        );
    }
}
