//! Redis settings (`[redis]`, `PAKE_REDIS__*`). The URL itself is the top-level secret
//! `redis_url` (`PAKE_REDIS_URL`, `--redis-url`); unset, every process keeps its search cache,
//! sign-in throttling and revoked-session set in-process (the embedded behaviour).

use serde::{Deserialize, Serialize};

use super::SecretString;

/// How PAKE uses Redis when `redis_url` is set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// Prefix of every key PAKE writes, so several deployments (or tests) can share a server;
    /// 1..=64 bytes of `[A-Za-z0-9:_.-]`.
    pub key_prefix: String,
    /// Longest a Redis command may take before the caller falls back (cache miss, in-process
    /// throttling and revocation), 5..=1000 ms. Also bounds each connection attempt.
    pub command_timeout_ms: u64,
    /// How long a cached Search page lives, 1..=86400 s. Entries are never stale (their key
    /// includes the index cursor); the TTL only bounds memory.
    pub cache_ttl_secs: u64,
    /// Largest cached Search page in bytes, 1 KiB..=4 MiB; bigger pages are not cached.
    pub cache_max_entry_bytes: usize,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            key_prefix: "pake:".to_owned(),
            command_timeout_ms: 50,
            cache_ttl_secs: 300,
            cache_max_entry_bytes: 256 * 1024,
        }
    }
}

impl RedisConfig {
    /// Problems as (key, message) pairs, `url` being the top-level `redis_url`.
    pub fn problems(&self, url: Option<&SecretString>) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if let Some(url) = url
            && !url.expose().starts_with("redis://")
        {
            // The value is a secret (it may carry a password): never echo it.
            problems.push((
                "redis_url",
                "must start with redis:// (TLS is not supported yet)".to_owned(),
            ));
        }
        let prefix_ok = !self.key_prefix.is_empty()
            && self.key_prefix.len() <= 64
            && self
                .key_prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b":_.-".contains(&b));
        if !prefix_ok {
            problems.push((
                "redis.key_prefix",
                format!(
                    "'{}' is not allowed; expected 1..=64 bytes of letters, digits and :_.-",
                    self.key_prefix
                ),
            ));
        }
        if !(5..=1000).contains(&self.command_timeout_ms) {
            problems.push((
                "redis.command_timeout_ms",
                format!(
                    "{} is out of range; expected 5..=1000",
                    self.command_timeout_ms
                ),
            ));
        }
        if !(1..=86_400).contains(&self.cache_ttl_secs) {
            problems.push((
                "redis.cache_ttl_secs",
                format!(
                    "{} is out of range; expected 1..=86400",
                    self.cache_ttl_secs
                ),
            ));
        }
        if !(1024..=4 * 1024 * 1024).contains(&self.cache_max_entry_bytes) {
            problems.push((
                "redis.cache_max_entry_bytes",
                format!(
                    "{} is out of range; expected 1024..=4194304",
                    self.cache_max_entry_bytes
                ),
            ));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::result_large_err)] // figment::Jail closures return figment::Error.

    use super::super::{Config, Overrides};
    use super::*;

    #[test]
    fn the_url_and_settings_layer_like_every_key_and_the_url_never_prints() {
        figment::Jail::expect_with(|jail| {
            let config = Config::load(None, &Overrides::default()).map_err(|e| e.to_string())?;
            assert!(config.redis_url.is_none(), "unset: in-process state");
            jail.set_env("PAKE_REDIS_URL", "redis://:hunter2@redis:6379/0");
            jail.set_env("PAKE_REDIS__KEY_PREFIX", "pake-staging:");
            let config = Config::load(None, &Overrides::default()).map_err(|e| e.to_string())?;
            assert_eq!(
                config.redis_url.as_ref().map(SecretString::expose),
                Some("redis://:hunter2@redis:6379/0")
            );
            assert_eq!(config.redis.key_prefix, "pake-staging:");
            assert!(!format!("{config:?}").contains("hunter2"));
            let flag = Overrides {
                redis_url: Some("redis://flag:6379".to_owned()),
                ..Overrides::default()
            };
            let config = Config::load(None, &flag).map_err(|e| e.to_string())?;
            assert_eq!(
                config.redis_url.as_ref().map(SecretString::expose),
                Some("redis://flag:6379"),
                "the flag wins"
            );
            jail.set_env("PAKE_REDIS__COMMAND_TIMEOUT_MS", "0");
            let error = Config::load(None, &Overrides::default())
                .expect_err("validated")
                .to_string();
            assert!(error.contains("redis.command_timeout_ms"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn defaults_are_valid_and_bad_values_are_named_without_the_secret() {
        assert!(RedisConfig::default().problems(None).is_empty());
        let url = SecretString::new("redis://:hunter2@127.0.0.1:6379");
        assert!(RedisConfig::default().problems(Some(&url)).is_empty());
        let bad = RedisConfig {
            key_prefix: "pake key".to_owned(),
            command_timeout_ms: 0,
            cache_ttl_secs: 0,
            cache_max_entry_bytes: 10,
        };
        let secret = SecretString::new("http://:hunter2@example");
        let problems = bad.problems(Some(&secret));
        let keys: Vec<_> = problems.iter().map(|(key, _)| *key).collect();
        assert_eq!(
            keys,
            [
                "redis_url",
                "redis.key_prefix",
                "redis.command_timeout_ms",
                "redis.cache_ttl_secs",
                "redis.cache_max_entry_bytes"
            ]
        );
        assert!(problems.iter().all(|(_, m)| !m.contains("hunter2")));
    }
}
