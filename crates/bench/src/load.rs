//! The load driver: N concurrent clients, each repeating one unary call back to back (a closed
//! loop), first through a warm-up whose calls are not recorded, then through the measured
//! window. Latencies go into one HDR histogram per client, merged at the end; every failed call
//! counts as an error, whatever the phase.
//!
//! A client whose call starts inside the window is recorded even if the call ends after it; the
//! window's length is measured up to the last recorded completion, so throughput is exact. Each
//! client makes at least one call, so with no warm-up every client is recorded at least once.
//!
//! With a `pace`, each client instead starts its calls on a schedule (an open loop: one call per
//! `pace`, clients staggered evenly), and a call's latency counts from its scheduled start, so a
//! server that falls behind is charged for the calls it delayed (no coordinated omission).

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;

/// Latencies are recorded in microseconds, from 1 µs to this bound (longer ones saturate).
const MAX_RECORDED_MICROS: u64 = 60_000_000;
/// Significant figures kept by the histogram.
const SIGNIFICANT_FIGURES: u8 = 3;

/// One unary call that a benchmark client repeats. Each client owns one value (and, through it,
/// its own HTTP/2 connection).
pub trait Call: Send + 'static {
    /// Makes one call. An `Err` is counted as an error, including a response that is not the
    /// expected one (implementations check the answer, cheaply).
    fn call(&mut self) -> impl Future<Output = Result<(), tonic::Status>> + Send;
}

/// How hard and how long to drive.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Concurrent clients.
    pub concurrency: usize,
    /// Time during which calls run but are not recorded.
    pub warmup: Duration,
    /// The measured window.
    pub duration: Duration,
    /// A call still running after this long is abandoned and counted as an error.
    pub call_timeout: Duration,
    /// When set, each client starts one call per `pace` instead of back to back.
    pub pace: Option<Duration>,
}

impl LoadOptions {
    /// The same load over `1 / parts` of the warm-up and of the window (for phases run in
    /// parts around others, so that a drift in the machine's speed cancels out).
    pub fn divided(&self, parts: u32) -> LoadOptions {
        LoadOptions {
            warmup: self.warmup / parts,
            duration: self.duration / parts,
            ..self.clone()
        }
    }
}

/// What one run measured.
#[derive(Debug)]
pub struct Measurement {
    /// Successful calls started in the measured window.
    pub requests: u64,
    /// Failed calls, in the warm-up and in the window.
    pub errors: u64,
    /// The earliest failure, as `code: message`.
    pub first_error: Option<String>,
    /// From the window's start to the last recorded completion.
    pub elapsed: Duration,
    /// Latencies of the successful recorded calls, in microseconds.
    pub latency_micros: Histogram<u64>,
}

impl Measurement {
    /// Successful calls per second.
    pub fn throughput(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.requests as f64 / seconds
        } else {
            0.0
        }
    }

    /// A latency quantile (0.5 = median) in milliseconds.
    pub fn quantile_millis(&self, quantile: f64) -> f64 {
        self.latency_micros.value_at_quantile(quantile) as f64 / 1000.0
    }

    /// The slowest recorded call in milliseconds.
    pub fn max_millis(&self) -> f64 {
        self.latency_micros.max() as f64 / 1000.0
    }

    /// Adds `later`, measured the same way in a window after this one: calls, errors, window
    /// lengths and latencies add up (so throughput is over both windows).
    pub fn append(&mut self, later: Measurement) -> anyhow::Result<()> {
        self.requests += later.requests;
        self.errors += later.errors;
        self.elapsed += later.elapsed;
        if self.first_error.is_none() {
            self.first_error = later.first_error;
        }
        self.latency_micros
            .add(&later.latency_micros)
            .context("merging latency histograms")
    }
}

/// What one client saw.
struct ClientOutcome {
    requests: u64,
    errors: u64,
    first_error: Option<(Instant, String)>,
    last_recorded_completion: Option<Instant>,
    latency_micros: Histogram<u64>,
}

/// Runs `clients` concurrently (one task each) through the warm-up and the measured window.
pub async fn drive<C: Call>(clients: Vec<C>, options: &LoadOptions) -> anyhow::Result<Measurement> {
    anyhow::ensure!(!clients.is_empty(), "no clients to drive");
    let start = Instant::now();
    let window_start = start + options.warmup;
    let deadline = window_start + options.duration;
    let count = u32::try_from(clients.len()).context("too many clients")?;
    let mut tasks = Vec::with_capacity(clients.len());
    for (index, client) in (0..count).zip(clients) {
        let histogram = new_histogram()?;
        let schedule = options.pace.map(|pace| Schedule {
            next: start + pace * index / count,
            pace,
        });
        tasks.push(tokio::spawn(run_client(
            client,
            histogram,
            window_start,
            deadline,
            options.call_timeout,
            schedule,
        )));
    }

    let mut merged = Measurement {
        requests: 0,
        errors: 0,
        first_error: None,
        elapsed: options.duration,
        latency_micros: new_histogram()?,
    };
    let mut first_error: Option<(Instant, String)> = None;
    let mut last_completion = deadline;
    for task in tasks {
        let outcome = task.await.context("a benchmark client panicked")?;
        merged.requests += outcome.requests;
        merged.errors += outcome.errors;
        merged
            .latency_micros
            .add(&outcome.latency_micros)
            .context("merging latency histograms")?;
        if let Some(completion) = outcome.last_recorded_completion {
            last_completion = last_completion.max(completion);
        }
        if let Some((at, message)) = outcome.first_error
            && first_error
                .as_ref()
                .is_none_or(|(earliest, _)| at < *earliest)
        {
            first_error = Some((at, message));
        }
    }
    merged.elapsed = last_completion.saturating_duration_since(window_start);
    merged.first_error = first_error.map(|(_, message)| message);
    Ok(merged)
}

/// When a paced client starts its next call.
struct Schedule {
    next: Instant,
    pace: Duration,
}

async fn run_client<C: Call>(
    mut client: C,
    mut latency_micros: Histogram<u64>,
    window_start: Instant,
    deadline: Instant,
    call_timeout: Duration,
    mut schedule: Option<Schedule>,
) -> ClientOutcome {
    let mut requests = 0;
    let mut errors = 0;
    let mut first_error = None;
    let mut last_recorded_completion = None;
    loop {
        // Paced: wait for the scheduled start (a late one starts at once) and count from it.
        let began = match &mut schedule {
            Some(schedule) => {
                let scheduled = schedule.next;
                schedule.next += schedule.pace;
                tokio::time::sleep_until(scheduled.into()).await;
                scheduled
            }
            None => Instant::now(),
        };
        let result = match tokio::time::timeout(call_timeout, client.call()).await {
            Ok(result) => result,
            Err(_) => Err(tonic::Status::deadline_exceeded(format!(
                "the call did not complete within {call_timeout:?} (benchmark client timeout)"
            ))),
        };
        let completed = Instant::now();
        match result {
            Ok(()) if began >= window_start => {
                requests += 1;
                last_recorded_completion = Some(completed);
                let micros = u64::try_from((completed - began).as_micros()).unwrap_or(u64::MAX);
                latency_micros.saturating_record(micros.max(1));
            }
            Ok(()) => {}
            Err(status) => {
                errors += 1;
                if first_error.is_none() {
                    let message = format!("{:?}: {}", status.code(), status.message());
                    first_error = Some((completed, message));
                }
            }
        }
        let next_is_late = schedule
            .as_ref()
            .is_some_and(|schedule| schedule.next >= deadline);
        if completed >= deadline || next_is_late {
            break;
        }
    }
    ClientOutcome {
        requests,
        errors,
        first_error,
        last_recorded_completion,
        latency_micros,
    }
}

fn new_histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, MAX_RECORDED_MICROS, SIGNIFICANT_FIGURES)
        .context("creating a latency histogram")
}

/// Drives the clients `clients(false)`, then `clients(true)` twice, then `clients(false)`
/// again, and returns the two merged measurements (false's, true's).
pub async fn alternate<C, F, Made>(
    load: &LoadOptions,
    clients: F,
) -> anyhow::Result<(Measurement, Measurement)>
where
    C: Call,
    F: Fn(bool) -> Made,
    Made: Future<Output = anyhow::Result<Vec<C>>>,
{
    let mut without = drive(clients(false).await?, load).await?;
    let mut with = drive(clients(true).await?, load).await?;
    with.append(drive(clients(true).await?, load).await?)?;
    without.append(drive(clients(false).await?, load).await?)?;
    Ok((without, with))
}
