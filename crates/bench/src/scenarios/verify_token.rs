//! `verify-token`: what checking an access token costs per request.
//!
//! (a) `pake_core::token::Verifier` alone, in a tight loop on one task, built as the server
//! builds it (JWKS fetched from the server's `GetJwks`, the in-process revoked-session set),
//! verifying a real access token of the server: µs per verification.
//! (b) The echo server bare, and behind PAKE's authentication layer (`pake.bench.Echo`, a
//! method that needs a token) with clients sending the token: the difference in CPU time per
//! call is what a token costs end to end (header bytes, the layer, verification) and nothing
//! else.
//! (c) GetItem on the same public items anonymously and with the owner's token: the same
//! difference on a real RPC (which also reads with the owner's scope instead of the public one).
//!
//! Each pair runs in the order a, b, b, a, a quarter of the warm-up and window each, so a drift
//! in the machine's speed cancels out.

use std::io::{self, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pake_api::knowledge::item::Visibility;
use pake_core::config::Config;
use pake_core::revocation::InProcessRevokedSessions;
use pake_core::token::Verifier;
use pake_runtime::auth::GrpcJwksSource;

use crate::load::{Measurement, alternate};
use crate::machine::Machine;
use crate::options::Options;
use crate::report::{self, Summary, millis};
use crate::scenarios::Scenario;
use crate::scenarios::echo::EchoScenario;
use crate::scenarios::get_item::{Credentials, GetItemScenario};
use crate::scenarios::pake_server::PakeServer;

/// How long the verifier alone runs.
const VERIFIER_WINDOW: Duration = Duration::from_secs(2);

/// What `verify-token` measured.
#[derive(Debug)]
pub struct VerifyTokenReport {
    /// UTC date of the run.
    pub date: String,
    /// Where it ran.
    pub machine: Machine,
    /// How it was driven.
    pub options: Options,
    /// Length of the access token.
    pub token_bytes: usize,
    /// Verifications by the verifier alone.
    pub verifications: u64,
    /// How long they took.
    pub verifier_elapsed: Duration,
    /// The bare echo server.
    pub echo: Measurement,
    /// Echo behind the authentication layer, with the token.
    pub echo_with_token: Measurement,
    /// GetItem without a token.
    pub anonymous: Measurement,
    /// GetItem with the bearer token.
    pub with_token: Measurement,
}

/// Starts PAKE with `--items` public items, times the verifier alone, then the two pairs.
pub async fn run(options: &Options) -> anyhow::Result<VerifyTokenReport> {
    let server = PakeServer::start_for(options).await?;
    let run_time = VERIFIER_WINDOW + (options.warmup + options.duration) * 2;
    let scenario =
        GetItemScenario::prepare_on(server, options, Visibility::Public, run_time).await?;
    let verifier = Arc::new(verifier(&scenario.server().url)?);
    let token = scenario.user().access_token.clone();
    let measured = async {
        let (verifications, verifier_elapsed) = time_verifier(&verifier, &token).await?;
        let bare = EchoScenario::start().await?;
        let authenticated =
            EchoScenario::start_authenticated(verifier.clone(), scenario.user().bearer.clone())
                .await?;
        let quarter = options.load().divided(4);
        let count = options.concurrency;
        eprintln!("echo bare and behind the authentication layer: {count} clients");
        let echoes = alternate(&quarter, |with_token| {
            let server = if with_token { &authenticated } else { &bare };
            async move {
                let mut clients = Vec::with_capacity(count);
                for _ in 0..count {
                    clients.push(server.client().await?);
                }
                Ok(clients)
            }
        })
        .await;
        let stopped = (bare.stop().await, authenticated.stop().await);
        let (echo, echo_with_token) = echoes?;
        stopped.0?;
        stopped.1?;
        eprintln!("GetItem anonymously and with a token: {count} clients");
        let (anonymous, with_token) = alternate(&quarter, |with_token| {
            let credentials = if with_token {
                Credentials::Token
            } else {
                Credentials::Anonymous
            };
            scenario.clients(count, credentials)
        })
        .await?;
        anyhow::Ok((
            verifications,
            verifier_elapsed,
            echo,
            echo_with_token,
            anonymous,
            with_token,
        ))
    }
    .await;
    let stopped = scenario.stop().await;
    let (verifications, verifier_elapsed, echo, echo_with_token, anonymous, with_token) = measured?;
    stopped?;
    Ok(VerifyTokenReport {
        date: report::today(),
        machine: Machine::detect(),
        options: options.clone(),
        token_bytes: token.len(),
        verifications,
        verifier_elapsed,
        echo,
        echo_with_token,
        anonymous,
        with_token,
    })
}

/// A verifier as `pake serve` builds one, reading the JWKS of the server at `url`.
fn verifier(url: &str) -> anyhow::Result<Verifier> {
    let config = Config::default();
    Ok(Verifier::new(
        Arc::new(GrpcJwksSource::new(url)?),
        config.auth.issuer.clone(),
        config.auth.audience.clone(),
        Duration::from_secs(config.auth.jwks_refresh_secs),
    )
    .with_revocation(Arc::new(InProcessRevokedSessions::default())))
}

/// Verifies `token` back to back for [`VERIFIER_WINDOW`] (after one verification that fetches
/// the JWKS); returns how many verifications ran and how long they took.
async fn time_verifier(verifier: &Verifier, token: &str) -> anyhow::Result<(u64, Duration)> {
    let verify = || async {
        verifier
            .verify(token)
            .await
            .map(|_| ())
            .map_err(|error| anyhow::anyhow!("the server's own token did not verify: {error}"))
    };
    verify().await?;
    eprintln!("timing the verifier alone for {VERIFIER_WINDOW:?}");
    let started = Instant::now();
    let mut verifications = 0u64;
    while started.elapsed() < VERIFIER_WINDOW {
        for _ in 0..100 {
            verify().await?;
        }
        verifications += 100;
    }
    Ok((verifications, started.elapsed()))
}

impl VerifyTokenReport {
    /// µs per verification, the verifier alone on one task.
    pub fn verify_micros(&self) -> f64 {
        if self.verifications == 0 {
            return 0.0;
        }
        self.verifier_elapsed.as_secs_f64() * 1e6 / self.verifications as f64
    }

    /// CPU µs per call at saturation: the machine's CPUs ÷ calls per second.
    pub fn cpu_micros(&self, run: &Measurement) -> f64 {
        let throughput = run.throughput();
        if throughput > 0.0 {
            self.machine.cpus as f64 * 1e6 / throughput
        } else {
            0.0
        }
    }

    fn row(&self, name: &str, run: &Measurement) -> Vec<String> {
        vec![
            name.to_owned(),
            run.requests.to_string(),
            format!("{:.0}", run.throughput()),
            millis(run.quantile_millis(0.5)),
            millis(run.quantile_millis(0.99)),
            format!("{:.1}", self.cpu_micros(run)),
            run.errors.to_string(),
        ]
    }
}

impl Summary for VerifyTokenReport {
    fn print(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out)?;
        writeln!(
            out,
            "verify-token: a {}-byte EdDSA access token; the verifier alone, then echo bare and \
             behind the authentication layer, then GetItem on {} public items anonymously and \
             with the owner's token ({} clients; each pair a, b, b, a)",
            self.token_bytes, self.options.items, self.options.concurrency
        )?;
        writeln!(out)?;
        let verify = self.verify_micros();
        let rows = vec![
            vec![
                "Verifier::verify alone, 1 task".to_owned(),
                self.verifications.to_string(),
                format!("{:.0}", 1e6 / verify.max(f64::MIN_POSITIVE)),
                "—".to_owned(),
                "—".to_owned(),
                format!("{verify:.1}"),
                "0".to_owned(),
            ],
            self.row("echo, bare", &self.echo),
            self.row("echo, auth layer + token", &self.echo_with_token),
            self.row("GetItem, anonymous", &self.anonymous),
            self.row("GetItem, token", &self.with_token),
        ];
        let header = [
            "measurement",
            "calls",
            "per s",
            "p50 ms",
            "p99 ms",
            "CPU µs per call",
            "errors",
        ];
        report::table(out, &header, &[0], &rows)?;
        writeln!(out)?;
        for (name, without, with) in [
            ("echo", &self.echo, &self.echo_with_token),
            ("GetItem", &self.anonymous, &self.with_token),
        ] {
            let overhead = self.cpu_micros(with) - self.cpu_micros(without);
            let p50_delta = (with.quantile_millis(0.5) - without.quantile_millis(0.5)) * 1000.0;
            writeln!(
                out,
                "{name}: a token costs {overhead:+.1} µs of CPU per call ({:+.1} % of a call \
                 without; {:.2} × the verifier alone); p50 {p50_delta:+.0} µs",
                100.0 * overhead / self.cpu_micros(without).max(f64::MIN_POSITIVE),
                overhead / verify.max(f64::MIN_POSITIVE),
            )?;
        }
        writeln!(
            out,
            "(CPU µs per call = {} CPUs ÷ calls per second, with {} clients saturating the \
             machine: clients, server and loopback included)",
            self.machine.cpus, self.options.concurrency
        )?;
        writeln!(out)?;
        writeln!(out, "{} — {}", self.date, self.machine.summary())
    }

    fn failure_lines(&self) -> Vec<String> {
        [
            report::failure_line("echo, bare", &self.echo),
            report::failure_line("echo, auth layer + token", &self.echo_with_token),
            report::failure_line("GetItem, anonymous", &self.anonymous),
            report::failure_line("GetItem, token", &self.with_token),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}
