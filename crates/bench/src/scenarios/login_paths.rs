//! `login-paths`: the latency of the three ways a sign-in fails — unknown user, wrong password,
//! locked account — next to a successful one, measured side by side in the same window. Each
//! does exactly one Argon2id verification, so an attacker timing them should learn nothing.
//!
//! Each client cycles through the four paths in order (unknown, wrong, locked, success), so all
//! four see the same load. Throttling must not pollute the numbers: the server trusts
//! `X-Forwarded-For` from loopback (`trusted_proxies = ["127.0.0.1"]`) and every client
//! sends its own address; unknown usernames are fresh on every call; each client's account has
//! one failure before its next success clears it; the locked account is locked once, up front.
//! Every status is counted and shown; anything but the expected one is an error.

use std::io::{self, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use pake_api::identity::identity_service_client::IdentityServiceClient;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::load::Measurement;
use crate::machine::Machine;
use crate::options::Options;
use crate::report::{self, Summary, millis};
use crate::scenarios::connect;
use crate::scenarios::lockout::{self, attempt};
use crate::scenarios::pake_server::{PASSWORD, PakeServer, sign_up, sign_up_many};
use crate::status::{self, Tally};

/// The sign-in paths, in the order each client cycles through them.
pub const PATHS: [&str; 4] = [
    "unknown user",
    "wrong password",
    "locked account",
    "success",
];
const UNKNOWN: usize = 0;
const WRONG: usize = 1;
const LOCKED: usize = 2;
const SUCCESS: usize = 3;

/// A password that is not [`PASSWORD`] (of an allowed length).
const WRONG_PASSWORD: &str = "not the right password at all";
/// The peer the server trusts to forward client addresses.
const LOOPBACK: &str = "127.0.0.1";

/// What `login-paths` measured: one measurement per path, in [`PATHS`] order.
#[derive(Debug)]
pub struct LoginPathsReport {
    /// UTC date of the run.
    pub date: String,
    /// Where it ran.
    pub machine: Machine,
    /// Clients, each cycling through the paths.
    pub clients: usize,
    /// How long locking the account took.
    pub lock_took: Duration,
    /// One measurement per path, in [`PATHS`] order.
    pub paths: Vec<Measurement>,
    /// Every status seen, per path (warm-up included).
    pub tally: Arc<Tally>,
}

/// Starts PAKE (trusting loopback's `X-Forwarded-For`), registers one account per client and
/// a locked one, locks it, then drives the four paths.
pub async fn run(options: &Options) -> anyhow::Result<LoginPathsReport> {
    let identity = options.identity_config();
    let clients = match options.path_clients {
        0 => options.hashing_threads(),
        count => count,
    };
    let server =
        PakeServer::start_for_identity(options, identity, vec![LOOPBACK.to_owned()]).await?;
    let measured = async {
        let channel = connect(&server.url).await?;
        let usernames = sign_up_many(&channel, "paths_", clients).await?;
        sign_up(&channel, "paths_locked").await?;
        let lock_took = lockout::lock(&channel, "paths_locked", WRONG_PASSWORD).await?;
        eprintln!("locked paths_locked in {lock_took:.2?}; measuring with {clients} clients");
        let tally = Arc::new(Tally::default());
        let window_start = Instant::now() + options.warmup;
        let deadline = window_start + options.duration;
        let mut tasks = Vec::with_capacity(clients);
        for (index, username) in usernames.into_iter().enumerate() {
            let client = PathClient {
                client: IdentityServiceClient::new(connect(&server.url).await?),
                index,
                username,
                tally: tally.clone(),
                call_timeout: options.call_timeout,
            };
            tasks.push(tokio::spawn(client.run(window_start, deadline)));
        }
        let mut paths = Vec::with_capacity(PATHS.len());
        for task in tasks {
            let outcome = task.await.context("a benchmark client panicked")??;
            merge(&mut paths, outcome)?;
        }
        anyhow::Ok((lock_took, paths, tally))
    }
    .await;
    let stopped = server.stop().await;
    let (lock_took, paths, tally) = measured?;
    stopped?;
    Ok(LoginPathsReport {
        date: report::today(),
        machine: Machine::detect(),
        clients,
        lock_took,
        paths,
        tally,
    })
}

fn merge(into: &mut Vec<Measurement>, outcome: Vec<Measurement>) -> anyhow::Result<()> {
    if into.is_empty() {
        *into = outcome;
        return Ok(());
    }
    for (merged, client) in into.iter_mut().zip(outcome) {
        merged.requests += client.requests;
        merged.errors += client.errors;
        merged.elapsed = merged.elapsed.max(client.elapsed);
        if merged.first_error.is_none() {
            merged.first_error = client.first_error;
        }
        merged
            .latency_micros
            .add(&client.latency_micros)
            .context("merging latency histograms")?;
    }
    Ok(())
}

/// One client: its own connection, address and account.
struct PathClient {
    client: IdentityServiceClient<Channel>,
    index: usize,
    username: String,
    tally: Arc<Tally>,
    call_timeout: Duration,
}

impl PathClient {
    async fn run(
        mut self,
        window_start: Instant,
        deadline: Instant,
    ) -> anyhow::Result<Vec<Measurement>> {
        let mut paths = Vec::with_capacity(PATHS.len());
        for _ in PATHS {
            paths.push(Measurement {
                requests: 0,
                errors: 0,
                first_error: None,
                elapsed: Duration::ZERO,
                latency_micros: hdrhistogram::Histogram::new_with_bounds(1, 60_000_000, 3)?,
            });
        }
        let address = format!("10.1.{}.{}", self.index / 256, self.index % 256);
        let mut unknown_serial = 0u64;
        for step in self.index.. {
            let path = step % PATHS.len();
            let (username, password) = match path {
                UNKNOWN => {
                    unknown_serial += 1;
                    let name = format!("nobody_{}_{unknown_serial}", self.index);
                    (name, WRONG_PASSWORD)
                }
                WRONG => (self.username.clone(), WRONG_PASSWORD),
                LOCKED => ("paths_locked".to_owned(), PASSWORD),
                _ => (self.username.clone(), PASSWORD),
            };
            let began = Instant::now();
            let result = tokio::time::timeout(
                self.call_timeout,
                attempt(&mut self.client, &username, password, &address),
            )
            .await
            .unwrap_or_else(|_| Err(Status::deadline_exceeded("benchmark client timeout")));
            let completed = Instant::now();
            let label = match &result {
                Ok(_) => status::OK.to_owned(),
                Err(status) => format!("{} \"{}\"", status::label(status), status.message()),
            };
            self.tally.add(PATHS[path], &label);
            let run = &mut paths[path];
            match expected(path, &result) {
                Ok(()) if began >= window_start => {
                    run.requests += 1;
                    run.elapsed = completed.saturating_duration_since(window_start);
                    let micros = u64::try_from((completed - began).as_micros()).unwrap_or(u64::MAX);
                    run.latency_micros.saturating_record(micros.max(1));
                }
                Ok(()) => {}
                Err(problem) => {
                    run.errors += 1;
                    run.first_error.get_or_insert(problem);
                }
            }
            if completed >= deadline {
                break;
            }
        }
        Ok(paths)
    }
}

/// Whether `result` is what `path` must answer: the three failures UNAUTHENTICATED
/// INVALID_CREDENTIALS, the success OK with tokens.
fn expected(path: usize, result: &Result<(String, String), Status>) -> Result<(), String> {
    match (path, result) {
        (SUCCESS, Ok((access, refresh))) if !access.is_empty() && !refresh.is_empty() => Ok(()),
        (SUCCESS, Ok(_)) => Err("OK without tokens".to_owned()),
        (_, Err(status))
            if path != SUCCESS
                && status.code() == Code::Unauthenticated
                && status::reason(status).as_deref() == Some("INVALID_CREDENTIALS") =>
        {
            Ok(())
        }
        (_, Ok(_)) => Err(format!("{}: signed in", PATHS[path])),
        (_, Err(status)) => Err(format!(
            "{}: {} {}",
            PATHS[path],
            status::label(status),
            status.message()
        )),
    }
}

impl Summary for LoginPathsReport {
    fn print(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out)?;
        writeln!(
            out,
            "login-paths: CreateSession by {} clients, each cycling through the four paths \
             (one Argon2id verification each); the account was locked in {:.2?}",
            self.clients, self.lock_took
        )?;
        writeln!(out)?;
        let wrong_p50 = self.paths[WRONG].quantile_millis(0.5);
        let rows: Vec<Vec<String>> = PATHS
            .iter()
            .zip(&self.paths)
            .map(|(name, run)| {
                let p50 = run.quantile_millis(0.5);
                vec![
                    (*name).to_owned(),
                    run.requests.to_string(),
                    millis(p50),
                    millis(run.quantile_millis(0.9)),
                    millis(run.quantile_millis(0.99)),
                    millis(run.max_millis()),
                    if wrong_p50 > 0.0 {
                        format!("{:.3}", p50 / wrong_p50)
                    } else {
                        "—".to_owned()
                    },
                    run.errors.to_string(),
                ]
            })
            .collect();
        let header = [
            "path",
            "calls",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "p50 ÷ wrong-password p50",
            "errors",
        ];
        report::table(out, &header, &[0], &rows)?;
        writeln!(out)?;
        writeln!(out, "statuses (warm-up included):")?;
        for (path, label, count) in self.tally.entries() {
            writeln!(out, "  {path:<15} {count:>6} × {label}")?;
        }
        writeln!(out)?;
        writeln!(out, "{} — {}", self.date, self.machine.summary())
    }

    fn failure_lines(&self) -> Vec<String> {
        PATHS
            .iter()
            .zip(&self.paths)
            .filter_map(|(name, run)| report::failure_line(name, run))
            .collect()
    }
}
