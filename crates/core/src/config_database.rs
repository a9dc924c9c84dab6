//! Database settings (`[database]`, `PAKE_DATABASE__*`): how long start-up waits for PostgreSQL,
//! how quickly calls fail while it is away, and how its health is probed. The URL itself is the
//! top-level secret `database_url`. The embedded SQLite file ignores them.

use serde::{Deserialize, Serialize};

/// How a process uses its PostgreSQL database.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// How long start-up waits for PostgreSQL to accept a connection, retrying with exponential
    /// backoff, before it gives up, 0..=3600 s (0: one attempt).
    pub connect_timeout_secs: u64,
    /// Longest a call waits for a pooled connection before it fails with UNAVAILABLE,
    /// 100..=60000 ms. While the database is down every call waits this long at most.
    pub acquire_timeout_ms: u64,
    /// Connections in the pool, 1..=1000.
    pub max_connections: u32,
    /// How often the health probe (`SELECT 1` on a connection of its own) runs, 100..=60000 ms.
    pub health_interval_ms: u64,
    /// Longest the probe may take before the database counts as down, 50..=30000 ms.
    pub health_timeout_ms: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            connect_timeout_secs: 30,
            acquire_timeout_ms: 2000,
            max_connections: 16,
            health_interval_ms: 2000,
            health_timeout_ms: 1000,
        }
    }
}

impl DatabaseConfig {
    /// Problems as (key, message) pairs.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        for (key, value, min, max) in [
            (
                "database.connect_timeout_secs",
                self.connect_timeout_secs,
                0,
                3600,
            ),
            (
                "database.acquire_timeout_ms",
                self.acquire_timeout_ms,
                100,
                60_000,
            ),
            (
                "database.max_connections",
                u64::from(self.max_connections),
                1,
                1000,
            ),
            (
                "database.health_interval_ms",
                self.health_interval_ms,
                100,
                60_000,
            ),
            (
                "database.health_timeout_ms",
                self.health_timeout_ms,
                50,
                30_000,
            ),
        ] {
            if !(min..=max).contains(&value) {
                problems.push((
                    key,
                    format!("{value} is out of range; expected {min}..={max}"),
                ));
            }
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
    fn defaults_are_valid_and_out_of_range_values_are_named() {
        assert!(DatabaseConfig::default().problems().is_empty());
        let bad = DatabaseConfig {
            connect_timeout_secs: 3601,
            acquire_timeout_ms: 0,
            max_connections: 0,
            health_interval_ms: 10,
            health_timeout_ms: 0,
        };
        let keys: Vec<_> = bad.problems().into_iter().map(|(key, _)| key).collect();
        assert_eq!(
            keys,
            [
                "database.connect_timeout_secs",
                "database.acquire_timeout_ms",
                "database.max_connections",
                "database.health_interval_ms",
                "database.health_timeout_ms"
            ]
        );
    }

    #[test]
    fn settings_layer_from_the_environment_beside_the_url() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("PAKE_DATABASE_URL", "postgres://pake@db/pake");
            jail.set_env("PAKE_DATABASE__CONNECT_TIMEOUT_SECS", "5");
            let config = Config::load(None, &Overrides::default()).map_err(|e| e.to_string())?;
            assert_eq!(config.database.connect_timeout_secs, 5);
            assert_eq!(config.database.acquire_timeout_ms, 2000);
            jail.set_env("PAKE_DATABASE__ACQUIRE_TIMEOUT_MS", "1");
            let error = Config::load(None, &Overrides::default())
                .expect_err("validated")
                .to_string();
            assert!(error.contains("database.acquire_timeout_ms"), "{error}");
            Ok(())
        });
    }
}
