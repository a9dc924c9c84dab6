//! HashiCorp Vault / OpenBao settings (`[vault]`, `PAKE_VAULT__*`). With `vault.address` set,
//! PAKE reads `database_url` and `redis_url` from the KV v2 secret `<kv_mount>/<path>/config`
//! at start-up (a value there overrides the other layers) and keeps its signing keys under
//! `<kv_mount>/<path>/signing-keys/`. The token of token auth is the top-level secret
//! `vault_token` (`PAKE_VAULT_TOKEN`), never part of this section.
//!
//! ("Vault" elsewhere in PAKE means an Obsidian vault; this module is about secrets.)

use serde::{Deserialize, Serialize};

use super::SecretString;

/// Default Kubernetes service-account token file.
pub const DEFAULT_KUBERNETES_JWT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// How PAKE authenticates to Vault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VaultAuthMethod {
    /// A Vault token from `vault_token` (`PAKE_VAULT_TOKEN`).
    Token,
    /// Kubernetes auth: the pod's service-account JWT exchanged for a token.
    Kubernetes,
}

/// `[vault.auth]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VaultAuthConfig {
    /// `token` or `kubernetes`.
    pub method: VaultAuthMethod,
    /// Kubernetes auth: the Vault role to log in as (required for `kubernetes`).
    pub role: Option<String>,
    /// Kubernetes auth: the service-account token file.
    pub jwt_path: String,
    /// Kubernetes auth: the mount path of the auth method.
    pub mount: String,
}

impl Default for VaultAuthConfig {
    fn default() -> Self {
        VaultAuthConfig {
            method: VaultAuthMethod::Token,
            role: None,
            jwt_path: DEFAULT_KUBERNETES_JWT_PATH.to_owned(),
            mount: "kubernetes".to_owned(),
        }
    }
}

/// `[vault]`: where PAKE's secrets are.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VaultConfig {
    /// Vault's address, e.g. `https://vault.vault:8200`; unset, Vault is not used.
    pub address: Option<String>,
    /// How PAKE logs in.
    pub auth: VaultAuthConfig,
    /// Mount path of the KV v2 secrets engine.
    pub kv_mount: String,
    /// Path of PAKE's secrets inside the mount (`config` and `signing-keys/` live below it).
    pub path: String,
    /// How often the signing keys are reread from Vault, 1..=3600 s.
    pub refresh_secs: u64,
    /// Longest a Vault request may take, 1..=120 s.
    pub timeout_secs: u64,
}

impl Default for VaultConfig {
    fn default() -> Self {
        VaultConfig {
            address: None,
            auth: VaultAuthConfig::default(),
            kv_mount: "secret".to_owned(),
            path: "pake".to_owned(),
            refresh_secs: 30,
            timeout_secs: 10,
        }
    }
}

impl VaultConfig {
    /// Problems as (key, message) pairs; `token` is the top-level `vault_token`.
    pub fn problems(&self, token: Option<&SecretString>) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        let Some(address) = &self.address else {
            return problems;
        };
        if !(address.starts_with("http://") || address.starts_with("https://")) {
            problems.push((
                "vault.address",
                format!("'{address}' is not a URL; expected https://host:8200 or http://host:8200"),
            ));
        }
        match self.auth.method {
            VaultAuthMethod::Token => {
                if token.is_none_or(|token| token.expose().is_empty()) {
                    problems.push((
                        "vault_token",
                        "required with vault.auth.method = token; set PAKE_VAULT_TOKEN".to_owned(),
                    ));
                }
            }
            VaultAuthMethod::Kubernetes => {
                if self.auth.role.as_deref().is_none_or(str::is_empty) {
                    problems.push((
                        "vault.auth.role",
                        "required with vault.auth.method = kubernetes (the Vault role to log in as)"
                            .to_owned(),
                    ));
                }
                if self.auth.jwt_path.is_empty() || self.auth.mount.is_empty() {
                    problems.push((
                        "vault.auth.jwt_path",
                        "vault.auth.jwt_path and vault.auth.mount must not be empty".to_owned(),
                    ));
                }
            }
        }
        let segment_ok = |value: &str| {
            !value.is_empty()
                && !value.starts_with('/')
                && !value.ends_with('/')
                && value
                    .split('/')
                    .all(|part| !part.is_empty() && part != "..")
        };
        if !segment_ok(&self.kv_mount) {
            problems.push((
                "vault.kv_mount",
                format!("'{}' is not a mount path such as secret", self.kv_mount),
            ));
        }
        if !segment_ok(&self.path) {
            problems.push((
                "vault.path",
                format!("'{}' is not a secret path such as pake", self.path),
            ));
        }
        if !(1..=3600).contains(&self.refresh_secs) {
            problems.push((
                "vault.refresh_secs",
                format!("{} is out of range; expected 1..=3600", self.refresh_secs),
            ));
        }
        if !(1..=120).contains(&self.timeout_secs) {
            problems.push((
                "vault.timeout_secs",
                format!("{} is out of range; expected 1..=120", self.timeout_secs),
            ));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enabled() -> VaultConfig {
        VaultConfig {
            address: Some("http://127.0.0.1:8200".to_owned()),
            ..VaultConfig::default()
        }
    }

    #[test]
    fn unset_address_needs_nothing() {
        assert!(VaultConfig::default().problems(None).is_empty());
    }

    #[test]
    fn token_auth_needs_the_token() {
        let keys: Vec<_> = enabled().problems(None).into_iter().map(|p| p.0).collect();
        assert_eq!(keys, ["vault_token"]);
        let token = SecretString::new("s.hunter2");
        assert!(enabled().problems(Some(&token)).is_empty());
    }

    #[test]
    fn kubernetes_auth_needs_a_role_and_bad_paths_are_named() {
        let mut config = enabled();
        config.auth.method = VaultAuthMethod::Kubernetes;
        config.path = "/pake/".to_owned();
        config.refresh_secs = 0;
        let keys: Vec<_> = config.problems(None).into_iter().map(|p| p.0).collect();
        assert_eq!(
            keys,
            ["vault.auth.role", "vault.path", "vault.refresh_secs"]
        );
    }
}
