//! `getitem-under-login-flood`: does a login flood slow other RPCs? GetItem runs at a fixed
//! offered rate (`--rate`, an open loop over `--concurrency` clients, latency counted from each
//! call's scheduled start) first without, then with `--flood-clients` clients signing in back
//! to back (correct passwords over `--accounts` accounts, which keeps the hashing pool full),
//! then without again. The two halves without the flood form the baseline, so a drift in the
//! machine's speed cancels out; the goal is a GetItem p99 under the flood of at most 1.5 × the
//! baseline's.
//!
//! To find out what slows GetItem, `--flood hashing` replaces the sign-ins by Argon2id
//! verifications alone (no RPCs, no store) and `--flood spinning` by busy loops that take CPU
//! time but leave memory and caches alone, each on as many threads as the hashing pool has.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use pake_api::knowledge::item::Visibility;

use crate::load::{self, LoadOptions, Measurement};
use crate::machine::Machine;
use crate::options::{FloodKind, Options};
use crate::report::{self, Summary, millis};
use crate::scenarios::argon2_baseline;
use crate::scenarios::get_item::{Credentials, GetItemScenario};
use crate::scenarios::login::login_clients;
use crate::scenarios::pake_server::{PakeServer, sign_up_many};
use crate::scenarios::{Scenario, connect};

/// The goal: GetItem p99 under the flood ÷ GetItem p99 without it.
pub const GOAL: f64 = 1.5;

/// What `getitem-under-login-flood` measured.
#[derive(Debug)]
pub struct LoginFloodReport {
    /// UTC date of the run.
    pub date: String,
    /// Where it ran.
    pub machine: Machine,
    /// How it was driven.
    pub options: Options,
    /// Argon2id threads of the hashing pool.
    pub hashing_threads: usize,
    /// GetItem without the flood, before and after it.
    pub baseline: Measurement,
    /// GetItem during the login flood.
    pub under_flood: Measurement,
    /// The login flood itself.
    pub flood: Measurement,
}

/// Starts PAKE with `--items` items and `--accounts` accounts, then measures the three phases.
pub async fn run(options: &Options) -> anyhow::Result<LoginFloodReport> {
    let server = PakeServer::start_for(options).await?;
    let run_time = (options.warmup + options.duration) * 2;
    let scenario =
        GetItemScenario::prepare_on(server, options, Visibility::Unspecified, run_time).await?;
    let measured = measure(&scenario, options).await;
    let stopped = scenario.stop().await;
    let (baseline, under_flood, flood) = measured?;
    stopped?;
    Ok(LoginFloodReport {
        date: report::today(),
        machine: Machine::detect(),
        options: options.clone(),
        hashing_threads: options.hashing_threads(),
        baseline,
        under_flood,
        flood,
    })
}

async fn measure(
    scenario: &GetItemScenario,
    options: &Options,
) -> anyhow::Result<(Measurement, Measurement, Measurement)> {
    let url = scenario.server().url.clone();
    let usernames = sign_up_many(&connect(&url).await?, "flood_", options.accounts).await?;
    let pace = Duration::from_secs_f64(options.concurrency as f64 / options.rate);
    let paced = LoadOptions {
        pace: Some(pace),
        ..options.load()
    };
    let flood_load = LoadOptions {
        concurrency: options.flood_clients,
        ..options.load()
    };

    eprintln!("GetItem at {} calls/s without a flood", options.rate);
    let get_items = scenario
        .clients(options.concurrency, Credentials::Token)
        .await?;
    let mut baseline = load::drive(get_items, &paced.divided(2)).await?;

    eprintln!(
        "GetItem at {} calls/s under a flood of {:?}",
        options.rate, options.flood
    );
    let get_items = scenario
        .clients(options.concurrency, Credentials::Token)
        .await?;
    let threads = options.hashing_threads();
    let (under_flood, flood) = match options.flood {
        FloodKind::SignIns => {
            let floods = login_clients(&url, &usernames, options.flood_clients).await?;
            tokio::join!(
                load::drive(get_items, &paced),
                load::drive(floods, &flood_load)
            )
        }
        FloodKind::Hashing => {
            let identity = options.identity_config();
            let hashing =
                argon2_baseline::measure(&identity, threads, options.warmup, options.duration);
            let (under_flood, hashed) = tokio::join!(load::drive(get_items, &paced), hashing);
            (under_flood, hashed.map(hashes_as_measurement))
        }
        FloodKind::Spinning => {
            let spinning = spin(threads, options.warmup + options.duration);
            tokio::join!(load::drive(get_items, &paced), spinning)
        }
    };

    eprintln!("GetItem at {} calls/s without a flood, again", options.rate);
    let get_items = scenario
        .clients(options.concurrency, Credentials::Token)
        .await?;
    baseline.append(load::drive(get_items, &paced.divided(2)).await?)?;
    Ok((baseline, under_flood?, flood?))
}

/// The hashing flood as a measurement: verifications as calls.
fn hashes_as_measurement(rate: argon2_baseline::HashRate) -> Measurement {
    Measurement {
        requests: rate.verifications,
        errors: 0,
        first_error: None,
        elapsed: rate.elapsed,
        latency_micros: rate.latency_micros,
    }
}

/// Busy loops on `threads` blocking threads for `length`; the measurement counts the loops'
/// seconds as calls (no latency).
async fn spin(threads: usize, length: Duration) -> anyhow::Result<Measurement> {
    let until = Instant::now() + length;
    let spinners: Vec<_> = (0..threads)
        .map(|_| {
            tokio::task::spawn_blocking(move || {
                let mut value = 1u64;
                while Instant::now() < until {
                    for _ in 0..10_000 {
                        value = std::hint::black_box(value.wrapping_mul(31).wrapping_add(7));
                    }
                }
                value
            })
        })
        .collect();
    for spinner in spinners {
        spinner.await?;
    }
    Ok(Measurement {
        requests: 0,
        errors: 0,
        first_error: None,
        elapsed: length,
        latency_micros: hdrhistogram::Histogram::new_with_bounds(1, 60_000_000, 3)?,
    })
}

impl LoginFloodReport {
    /// GetItem p99 under the flood ÷ without it.
    pub fn p99_ratio(&self) -> f64 {
        let baseline = self.baseline.quantile_millis(0.99);
        if baseline > 0.0 {
            self.under_flood.quantile_millis(0.99) / baseline
        } else {
            0.0
        }
    }
}

impl Summary for LoginFloodReport {
    fn print(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out)?;
        writeln!(
            out,
            "getitem-under-login-flood: GetItem offered at {} calls/s by {} paced clients; \
             flood: {}; hashing pool {} threads (identity.hashing_concurrency = {}), {} CPUs",
            self.options.rate,
            self.options.concurrency,
            match self.options.flood {
                FloodKind::SignIns => format!(
                    "{} clients signing in over {} accounts",
                    self.options.flood_clients, self.options.accounts
                ),
                FloodKind::Hashing => "Argon2id verifications alone (no RPCs)".to_owned(),
                FloodKind::Spinning => "busy loops (no memory traffic)".to_owned(),
            },
            self.hashing_threads,
            self.options.identity_config().hashing_concurrency,
            self.machine.cpus,
        )?;
        writeln!(out)?;
        let row = |name: &str, run: &Measurement, sign_ins: String| {
            vec![
                name.to_owned(),
                format!("{:.0}", run.throughput()),
                millis(run.quantile_millis(0.5)),
                millis(run.quantile_millis(0.9)),
                millis(run.quantile_millis(0.99)),
                millis(run.max_millis()),
                run.errors.to_string(),
                sign_ins,
            ]
        };
        let flood = &self.flood;
        let rows = vec![
            row(
                "GetItem, no flood (before + after)",
                &self.baseline,
                "—".into(),
            ),
            row(
                match self.options.flood {
                    FloodKind::SignIns => "GetItem, login flood",
                    FloodKind::Hashing => "GetItem, hashing flood",
                    FloodKind::Spinning => "GetItem, busy loops",
                },
                &self.under_flood,
                match self.options.flood {
                    FloodKind::Spinning => "—".to_owned(),
                    _ => format!(
                        "{:.1} (p50 {} ms, errors {})",
                        flood.throughput(),
                        millis(flood.quantile_millis(0.5)),
                        flood.errors
                    ),
                },
            ),
        ];
        let header = [
            "phase",
            "GetItem/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "errors",
            "flood: sign-ins (verifications)/s",
        ];
        report::table(out, &header, &[0], &rows)?;
        let ratio = self.p99_ratio();
        let p50_ratio = self.under_flood.quantile_millis(0.5)
            / self.baseline.quantile_millis(0.5).max(f64::MIN_POSITIVE);
        writeln!(out)?;
        writeln!(
            out,
            "GetItem p99 under the flood ÷ without = {ratio:.2} (goal ≤ {GOAL}: {}); p50 ratio \
             {p50_ratio:.2}",
            if ratio <= GOAL { "met" } else { "MISSED" }
        )?;
        writeln!(out)?;
        writeln!(out, "{} — {}", self.date, self.machine.summary())
    }

    fn failure_lines(&self) -> Vec<String> {
        [
            report::failure_line("GetItem, no flood", &self.baseline),
            report::failure_line("GetItem, login flood", &self.under_flood),
            report::failure_line("login flood", &self.flood),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}
