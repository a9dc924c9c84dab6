//! The sign-in ceiling: how many Argon2id verifications per second the server's own hashing
//! code (`pake_identity::password::Hasher`, at the configured `argon2_memory_kib`,
//! `argon2_iterations` and pool size) manages with nothing else running — no gRPC, no store, no
//! throttle. A sign-in does exactly one such verification, so no server can sign people in
//! faster than this on the same machine.

use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;
use pake_core::config::IdentityConfig;
use pake_identity::password::{Hasher, Verification};

use crate::scenarios::pake_server::PASSWORD;

/// What the baseline measured.
#[derive(Debug)]
pub struct HashRate {
    /// Verifications run at once (the pool's threads).
    pub threads: usize,
    /// Verifications completed in the window.
    pub verifications: u64,
    /// The window, up to the last completion.
    pub elapsed: Duration,
    /// Time of each verification (pool wait, none here, included), in microseconds.
    pub latency_micros: Histogram<u64>,
}

impl HashRate {
    /// Adds `later`, measured the same way in a window after this one.
    pub fn append(&mut self, later: HashRate) -> anyhow::Result<()> {
        self.verifications += later.verifications;
        self.elapsed += later.elapsed;
        self.latency_micros
            .add(&later.latency_micros)
            .context("merging latency histograms")
    }

    /// Verifications per second.
    pub fn per_second(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.verifications as f64 / seconds
        } else {
            0.0
        }
    }

    /// A latency quantile in milliseconds.
    pub fn quantile_millis(&self, quantile: f64) -> f64 {
        self.latency_micros.value_at_quantile(quantile) as f64 / 1000.0
    }
}

/// Runs `threads` verifications at once, back to back, through a `Hasher` of `threads` slots
/// built from `identity`: a warm-up, then the measured window.
pub async fn measure(
    identity: &IdentityConfig,
    threads: usize,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<HashRate> {
    let hasher = Hasher::new(
        identity.argon2_memory_kib,
        identity.argon2_iterations,
        threads,
        threads,
    )
    .map_err(|error| anyhow::anyhow!("building the hasher: {error}"))?;
    let stored = hasher
        .hash(PASSWORD.to_owned())
        .await
        .map_err(|error| anyhow::anyhow!("hashing: {error}"))?;
    let window_start = Instant::now() + warmup;
    let deadline = window_start + duration;
    let mut tasks = Vec::with_capacity(threads);
    for _ in 0..threads {
        let hasher = hasher.clone();
        let stored = stored.clone();
        tasks.push(tokio::spawn(async move {
            let mut latency = new_histogram()?;
            let mut last_completion = None;
            loop {
                let began = Instant::now();
                let verified = hasher
                    .verify(PASSWORD.to_owned(), stored.clone())
                    .await
                    .map_err(|error| anyhow::anyhow!("verifying: {error}"))?;
                anyhow::ensure!(
                    verified == Verification::Match,
                    "the baseline's verification failed: {verified:?}"
                );
                let completed = Instant::now();
                if began >= window_start {
                    let micros = u64::try_from((completed - began).as_micros()).unwrap_or(u64::MAX);
                    latency.saturating_record(micros.max(1));
                    last_completion = Some(completed);
                }
                if completed >= deadline {
                    return Ok((latency, last_completion));
                }
            }
        }));
    }
    let mut latency_micros = new_histogram()?;
    let mut last = deadline;
    for task in tasks {
        let (latency, last_completion) = task.await.context("a baseline task panicked")??;
        latency_micros.add(&latency).context("merging histograms")?;
        if let Some(completion) = last_completion {
            last = last.max(completion);
        }
    }
    Ok(HashRate {
        threads,
        verifications: latency_micros.len(),
        elapsed: last.saturating_duration_since(window_start),
        latency_micros,
    })
}

fn new_histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 60_000_000, 3).context("creating a latency histogram")
}
