//! The command line: which scenario, how many clients, for how long.

use std::time::Duration;

use crate::load::LoadOptions;
use crate::scenarios::ScenarioKind;

/// `pake-bench` drives one unary RPC with concurrent clients over loopback gRPC and compares it
/// with a bare tonic echo server measured in the same run.
#[derive(Clone, Debug, clap::Parser)]
#[command(name = "pake-bench", version, about, long_about = None)]
pub struct Options {
    /// What to measure. `echo` measures the ceiling alone.
    #[arg(long, value_enum, default_value = "get-item")]
    pub scenario: ScenarioKind,
    /// Concurrent clients, each with its own HTTP/2 connection, each making one call at a time.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Length of the measured window (e.g. `10s`, `250ms`, `1m`).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Unrecorded calls before the window, to warm connections, caches and the allocator.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Items the `get-item` scenario creates (and reads at random).
    #[arg(long, default_value_t = 1000)]
    pub items: usize,
    /// A call taking longer than this is abandoned and counted as an error.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub call_timeout: Duration,
    /// Accounts the sign-in scenarios register and sign in to (spread over their clients).
    #[arg(long, default_value_t = 64)]
    pub accounts: usize,
    /// Clients of `login-paths`, each cycling through the four sign-in paths; 0 means the
    /// hashing pool's thread count, so that no sign-in waits for a hashing slot.
    #[arg(long, default_value_t = 0)]
    pub path_clients: usize,
    /// GetItem calls per second in `getitem-under-login-flood` (an open loop, paced over
    /// `--concurrency` clients).
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// Clients signing in back to back in `getitem-under-login-flood`.
    #[arg(long, default_value_t = 16)]
    pub flood_clients: usize,
    /// What floods the machine in `getitem-under-login-flood`: sign-ins (the scenario), or, to
    /// find out what slows GetItem, Argon2id verifications alone or busy loops, each on as many
    /// threads as the hashing pool has.
    #[arg(long, value_enum, default_value = "sign-ins")]
    pub flood: FloodKind,
    /// Overrides `identity.hashing_concurrency` of the server under test (and of the Argon2id
    /// baseline); without it the configuration's default applies (0 = half the CPUs).
    #[arg(long)]
    pub hashing_concurrency: Option<usize>,
    /// The store of the server under test: a SQLite file in a temporary data dir, or a fresh
    /// database created for the run (and dropped after it) on the PostgreSQL server of
    /// `--postgres-url`.
    #[arg(long, value_enum, default_value = "sqlite")]
    pub store: StoreKind,
    /// A PostgreSQL URL whose user may create databases, for `--store postgres`.
    #[arg(
        long,
        env = "PAKE_TEST_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub postgres_url: String,
    /// Notes in the generated vault of `vault-import`.
    #[arg(long, default_value_t = 10_000)]
    pub notes: usize,
    /// The write load of `search-freshness` while it probes, as a fraction of the CreateItem
    /// throughput it measured first.
    #[arg(long, default_value_t = 0.6)]
    pub write_load: f64,
    /// Freshness probes started per second in `search-freshness`.
    #[arg(long, default_value_t = 20.0)]
    pub probe_rate: f64,
    /// How the edge of `edge-get-item` reaches the services: in-process (the all-in-one
    /// `pake serve`) or over loopback gRPC (`pake serve edge` in front of a service).
    #[arg(long, value_enum, default_value = "in-process")]
    pub edge_upstream: EdgeUpstream,
    /// Overrides `edge.upstream_connections` of the edge in `edge-get-item` over gRPC.
    #[arg(long)]
    pub edge_connections: Option<usize>,
}

/// How the edge reaches the services in `edge-get-item`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum EdgeUpstream {
    /// The server's call path in-process, as the all-in-one runs it.
    InProcess,
    /// The server's gRPC port over loopback.
    Grpc,
}

impl Options {
    /// The options of a run with the defaults of the command line, for `scenario`.
    pub fn defaults(scenario: ScenarioKind) -> Self {
        Options {
            scenario,
            concurrency: 16,
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(2),
            items: 1000,
            call_timeout: Duration::from_secs(10),
            accounts: 64,
            path_clients: 0,
            rate: 1000.0,
            flood_clients: 16,
            flood: FloodKind::SignIns,
            hashing_concurrency: None,
            store: StoreKind::Sqlite,
            postgres_url: "postgres://postgres@127.0.0.1:5432/postgres".to_owned(),
            notes: 10_000,
            write_load: 0.6,
            probe_rate: 20.0,
            edge_upstream: EdgeUpstream::InProcess,
            edge_connections: None,
        }
    }

    /// Rejects options no run can use, naming the flag.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.concurrency >= 1, "--concurrency must be at least 1");
        anyhow::ensure!(!self.duration.is_zero(), "--duration must be longer than 0");
        anyhow::ensure!(
            !self.call_timeout.is_zero(),
            "--call-timeout must be longer than 0"
        );
        anyhow::ensure!(self.accounts >= 1, "--accounts must be at least 1");
        anyhow::ensure!(
            self.rate.is_finite() && self.rate > 0.0,
            "--rate must be a positive number of calls per second"
        );
        anyhow::ensure!(
            self.flood_clients >= 1,
            "--flood-clients must be at least 1"
        );
        anyhow::ensure!(self.notes >= 1, "--notes must be at least 1");
        Ok(())
    }

    /// The load driver's part.
    pub fn load(&self) -> LoadOptions {
        LoadOptions {
            concurrency: self.concurrency,
            warmup: self.warmup,
            duration: self.duration,
            call_timeout: self.call_timeout,
            pace: None,
        }
    }

    /// The identity configuration of the server under test: the defaults, with
    /// `--hashing-concurrency` if given.
    pub fn identity_config(&self) -> pake_core::config::IdentityConfig {
        let mut identity = pake_core::config::IdentityConfig::default();
        if let Some(threads) = self.hashing_concurrency {
            identity.hashing_concurrency = threads;
        }
        identity
    }

    /// The number of Argon2id threads the server's hashing pool runs: `hashing_concurrency`,
    /// where 0 means half the CPUs (as `pake_identity::password::Hasher::new` resolves it).
    pub fn hashing_threads(&self) -> usize {
        pake_identity::password::hashing_threads(self.identity_config().hashing_concurrency)
    }
}

/// Where the server under test keeps its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    /// A SQLite file in the temporary data dir (the embedded default).
    Sqlite,
    /// A fresh database on the PostgreSQL server of `--postgres-url`.
    Postgres,
}

impl StoreKind {
    /// The name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Sqlite => "SQLite",
            StoreKind::Postgres => "PostgreSQL",
        }
    }
}

/// What floods the machine while GetItem is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FloodKind {
    /// `--flood-clients` clients calling CreateSession back to back.
    SignIns,
    /// Argon2id verifications alone (the server's hasher, no RPCs), on the pool's threads.
    Hashing,
    /// Busy loops touching no memory, on as many threads: CPU time taken, caches left alone.
    Spinning,
}

/// Parses `250ms`, `10s`, `1.5s`, `2m` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let unit_start = trimmed
        .find(|character: char| !(character.is_ascii_digit() || character == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(unit_start);
    let invalid = || format!("`{text}` is not a duration such as 10s, 250ms or 2m");
    let value: f64 = number.parse().map_err(|_| invalid())?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        _ => return Err(invalid()),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_their_units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn malformed_durations_are_rejected() {
        for text in ["", "s", "10h", "ten seconds", "-1s", "1..2s"] {
            assert!(parse_duration(text).is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn the_defaults_match_the_command_line() {
        use clap::Parser;
        let parsed = Options::try_parse_from(["pake-bench"]).map_err(|error| error.to_string());
        let parsed = parsed.map(|options| format!("{options:?}"));
        assert_eq!(
            parsed,
            Ok(format!("{:?}", Options::defaults(ScenarioKind::GetItem)))
        );
    }
}
