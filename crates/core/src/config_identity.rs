//! The identity service's settings and the token settings every service shares, with their
//! rules (checked by [`super::Config`]'s validation).

use serde::{Deserialize, Serialize};

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

impl IdentityConfig {
    /// Problems as (key, message) pairs; `auth` bounds the key publication delay.
    pub fn problems(&self, auth: &AuthConfig) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let mut out_of_range = |key: &str, value: u64, range: &str| {
            problems.push((
                format!("identity.{key}"),
                format!("{value} is out of range; expected {range}"),
            ));
        };
        if !(60..=900).contains(&self.access_token_ttl_secs) {
            out_of_range(
                "access_token_ttl_secs",
                self.access_token_ttl_secs,
                "60..=900",
            );
        }
        if !(1..=365).contains(&self.session_ttl_days) {
            out_of_range("session_ttl_days", self.session_ttl_days, "1..=365");
        }
        if !(19456..=4 * 1024 * 1024).contains(&self.argon2_memory_kib) {
            out_of_range(
                "argon2_memory_kib",
                u64::from(self.argon2_memory_kib),
                "19456..=4194304 (OWASP minimum 19456)",
            );
        }
        if !(2..=20).contains(&self.argon2_iterations) {
            out_of_range(
                "argon2_iterations",
                u64::from(self.argon2_iterations),
                "2..=20",
            );
        }
        if !(1..=3650).contains(&self.audit_retention_days) {
            out_of_range(
                "audit_retention_days",
                self.audit_retention_days,
                "1..=3650",
            );
        }
        if self.key_publication_delay_secs < auth.jwks_refresh_secs
            || self.key_publication_delay_secs > 7 * 24 * 3600
        {
            out_of_range(
                "key_publication_delay_secs",
                self.key_publication_delay_secs,
                &format!(
                    "auth.jwks_refresh_secs ({})..=604800, and at least the JWKS refresh interval of every consumer (Istio: 1200)",
                    auth.jwks_refresh_secs
                ),
            );
        }
        if !matches!(self.default_role.as_str(), "editor" | "viewer") {
            problems.push((
                "identity.default_role".to_owned(),
                format!(
                    "'{}' is not allowed; expected editor or viewer",
                    self.default_role
                ),
            ));
        }
        for (index, algorithm) in self.signing_algorithms.iter().enumerate() {
            if !SIGNING_ALGORITHMS.contains(&algorithm.as_str()) {
                problems.push((
                    format!("identity.signing_algorithms[{index}]"),
                    format!("'{algorithm}' is not supported; expected EdDSA or ES256"),
                ));
            }
        }
        if !self.signing_algorithms.contains(&self.signing_algorithm) {
            problems.push((
                "identity.signing_algorithm".to_owned(),
                format!(
                    "'{}' is not one of identity.signing_algorithms",
                    self.signing_algorithm
                ),
            ));
        }
        if self.hashing_queue == 0 {
            problems.push((
                "identity.hashing_queue".to_owned(),
                "must be at least 1".to_owned(),
            ));
        }
        problems
    }
}

impl AuthConfig {
    /// Problems as (key, message) pairs.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if self.issuer.is_empty() || self.audience.is_empty() {
            problems.push((
                "auth.issuer",
                "issuer and audience must not be empty".to_owned(),
            ));
        }
        if self.jwks_refresh_secs == 0 || self.jwks_refresh_secs > 3600 {
            problems.push((
                "auth.jwks_refresh_secs",
                format!(
                    "{} is out of range; expected 1..=3600",
                    self.jwks_refresh_secs
                ),
            ));
        }
        problems
    }
}
