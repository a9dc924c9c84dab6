//! `search-freshness`: how long after CreateItem is acknowledged the new item is found by
//! `Search` **without** `min_cursor` (SPEC §5: within 1 s), while other clients write at a
//! given fraction (`--write-load`, default 0.6) of the CreateItem throughput measured in the
//! same run on the same server.
//!
//! Phase 1 measures CreateItem back to back (`--concurrency` clients, warm-up and window).
//! Phase 2 paces the same clients at `write-load ×` that throughput and, beside them, probes:
//! `--probe-rate` times a second a probe creates a note whose title carries a word no other
//! note has, takes the time the create is acknowledged, then searches for that word every
//! [`POLL_EVERY`] until the note is among the results. The delay is acknowledgement → first
//! search that finds it (so it includes up to one poll interval). A probe not found within
//! [`GIVE_UP_AFTER`] is a failure.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;
use pake_api::knowledge::item::Visibility;
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::knowledge::{CreateItemRequest, Item};
use pake_api::search::SearchRequest;
use pake_api::search::search_service_client::SearchServiceClient;
use tonic::transport::Channel;

use crate::load::{self, LoadOptions, Measurement};
use crate::machine::Machine;
use crate::options::Options;
use crate::report::{self, Summary, millis};
use crate::scenarios::connect;
use crate::scenarios::create_item::CreateItemScenario;
use crate::scenarios::pake_server::SignedIn;

/// Time between two searches of one probe.
pub const POLL_EVERY: Duration = Duration::from_millis(5);
/// A probe not found after this long is a failure.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(10);

/// The write load and the probes' delays.
#[derive(Debug)]
pub struct FreshnessReport {
    options: Options,
    machine: Machine,
    date: String,
    /// CreateItem back to back (phase 1).
    pub saturated: Measurement,
    /// The paced writes during the probes (phase 2).
    pub paced: Measurement,
    /// Acknowledgement → found, in µs, one value per probe found.
    pub delays_micros: Histogram<u64>,
    /// Probes not found within [`GIVE_UP_AFTER`], or whose create or search failed.
    pub failed_probes: u64,
    first_failure: Option<String>,
}

/// Runs both phases on one server.
pub async fn run(options: &Options) -> anyhow::Result<FreshnessReport> {
    anyhow::ensure!(
        options.write_load > 0.0 && options.write_load.is_finite(),
        "--write-load must be a positive fraction of the CreateItem throughput"
    );
    anyhow::ensure!(
        options.probe_rate > 0.0 && options.probe_rate.is_finite(),
        "--probe-rate must be a positive number of probes per second"
    );
    let scenario = CreateItemScenario::prepare(options).await?;
    let measured = measure(&scenario, options).await;
    let stopped = crate::scenarios::Scenario::stop(scenario).await;
    let (saturated, paced, probes) = measured?;
    stopped?;
    Ok(FreshnessReport {
        options: options.clone(),
        machine: Machine::detect(),
        date: report::today(),
        saturated,
        paced,
        delays_micros: probes.delays_micros,
        failed_probes: probes.failed,
        first_failure: probes.first_failure,
    })
}

async fn measure(
    scenario: &CreateItemScenario,
    options: &Options,
) -> anyhow::Result<(Measurement, Measurement, Probes)> {
    eprintln!("measuring CreateItem back to back");
    let saturated = load::drive(
        scenario.clients(options.concurrency).await?,
        &options.load(),
    )
    .await?;
    let rate = saturated.throughput() * options.write_load;
    anyhow::ensure!(rate > 0.0, "CreateItem made no progress in phase 1");
    eprintln!(
        "writing at {rate:.0} creates/s ({:.0} % of {:.0}) while probing {} times a second",
        options.write_load * 100.0,
        saturated.throughput(),
        options.probe_rate
    );
    let paced_options = LoadOptions {
        pace: Some(Duration::from_secs_f64(options.concurrency as f64 / rate)),
        ..options.load()
    };
    let channel = connect(scenario.server_url()).await?;
    let (paced, probes) = tokio::join!(
        async { load::drive(scenario.clients(options.concurrency).await?, &paced_options).await },
        probe(&channel, scenario.user(), options)
    );
    Ok((saturated, paced?, probes?))
}

/// What the probes found.
struct Probes {
    delays_micros: Histogram<u64>,
    failed: u64,
    first_failure: Option<String>,
}

/// Starts a probe every `1 / probe_rate` during the warm-up and window (only those started in
/// the window are recorded) and waits for all of them.
async fn probe(channel: &Channel, user: &SignedIn, options: &Options) -> anyhow::Result<Probes> {
    let started = Instant::now();
    let window_start = started + options.warmup;
    let end = window_start + options.duration;
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / options.probe_rate));
    let mut running = tokio::task::JoinSet::new();
    let mut number = 0u64;
    loop {
        let tick = ticker.tick().await;
        if tick.into_std() >= end {
            break;
        }
        let recorded = tick.into_std() >= window_start;
        let (channel, user) = (channel.clone(), user.clone());
        number += 1;
        let word = probe_word(number);
        running.spawn(async move { (recorded, one_probe(channel, user, word).await) });
    }
    let mut probes = Probes {
        delays_micros: Histogram::new_with_bounds(1, 60_000_000, 3)?,
        failed: 0,
        first_failure: None,
    };
    while let Some(joined) = running.join_next().await {
        let (recorded, outcome) = joined.context("a probe panicked")?;
        match outcome {
            Ok(delay) if recorded => probes
                .delays_micros
                .record(delay.as_micros().max(1) as u64)?,
            Ok(_) => {}
            Err(error) => {
                probes.failed += 1;
                probes
                    .first_failure
                    .get_or_insert_with(|| format!("{error:#}"));
            }
        }
    }
    Ok(probes)
}

/// A word of letters only that no other note contains and no other probe's word is within
/// typo distance of: `fresh` and the number spelt in letters, three letters per digit.
fn probe_word(number: u64) -> String {
    const SPELLING: [&str; 10] = [
        "zab", "yec", "xid", "wof", "vug", "tah", "sij", "rok", "qul", "pem",
    ];
    let digits = number.to_string();
    let spelt: String = digits
        .bytes()
        .map(|digit| SPELLING[usize::from(digit - b'0')])
        .collect();
    format!("fresh{spelt}")
}

/// Creates the probe note and searches for its word until the note is found.
async fn one_probe(channel: Channel, user: SignedIn, word: String) -> anyhow::Result<Duration> {
    let created = KnowledgeServiceClient::new(channel.clone())
        .create_item(user.authorize(CreateItemRequest {
            item: Some(Item {
                title: format!("Probe {word}"),
                content: format!("A freshness probe: {word} must be searchable at once.\n"),
                visibility: Visibility::Private as i32,
                ..Item::default()
            }),
            ..CreateItemRequest::default()
        }))
        .await
        .with_context(|| format!("creating probe {word}"))?
        .into_inner();
    let acknowledged = Instant::now();
    let mut search = SearchServiceClient::new(channel);
    loop {
        let response = search
            .search(user.authorize(SearchRequest {
                query: word.clone(),
                page_size: 10,
                ..SearchRequest::default()
            }))
            .await
            .with_context(|| format!("searching for probe {word}"))?
            .into_inner();
        if response
            .results
            .iter()
            .any(|result| result.name == created.name)
        {
            return Ok(acknowledged.elapsed());
        }
        anyhow::ensure!(
            acknowledged.elapsed() < GIVE_UP_AFTER,
            "probe {} ({word}) was not found {GIVE_UP_AFTER:?} after its create was acknowledged",
            created.name
        );
        tokio::time::sleep(POLL_EVERY).await;
    }
}

impl FreshnessReport {
    /// The delay at `quantile`, in milliseconds.
    pub fn delay_millis(&self, quantile: f64) -> f64 {
        self.delays_micros.value_at_quantile(quantile) as f64 / 1000.0
    }

    /// The share of recorded probes found within 1 s.
    pub fn within_one_second(&self) -> f64 {
        let total = self.delays_micros.len();
        if total == 0 {
            return 0.0;
        }
        self.delays_micros.count_between(0, 1_000_000) as f64 / total as f64
    }
}

impl Summary for FreshnessReport {
    fn print(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "search-freshness on {}: CreateItem back to back {:.0}/s ({} clients); paced at {:.0} % \
             of it: {:.0}/s achieved; {} probes a second, polled every {:?}",
            self.options.store.name(),
            self.saturated.throughput(),
            self.options.concurrency,
            self.options.write_load * 100.0,
            self.paced.throughput(),
            self.options.probe_rate,
            POLL_EVERY
        )?;
        let header = [
            "date",
            "scenario",
            "store",
            "creates/s (saturated)",
            "creates/s (during probes)",
            "probes",
            "delay p50 ms",
            "p99 ms",
            "max ms",
            "within 1 s",
            "failed probes",
            "machine",
        ];
        let row = vec![
            self.date.clone(),
            "search-freshness".to_owned(),
            self.options.store.name().to_owned(),
            format!("{:.0}", self.saturated.throughput()),
            format!("{:.0}", self.paced.throughput()),
            self.delays_micros.len().to_string(),
            millis(self.delay_millis(0.5)),
            millis(self.delay_millis(0.99)),
            millis(self.delays_micros.max() as f64 / 1000.0),
            format!("{:.1} %", self.within_one_second() * 100.0),
            self.failed_probes.to_string(),
            self.machine.summary(),
        ];
        report::table(out, &header, &[0, 1, 2, 11], &[row])
    }

    fn failure_lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = [
            report::failure_line("create-item (saturated)", &self.saturated),
            report::failure_line("create-item (paced)", &self.paced),
        ]
        .into_iter()
        .flatten()
        .collect();
        if self.failed_probes > 0 {
            lines.push(format!(
                "{} probes failed; first: {}",
                self.failed_probes,
                self.first_failure.as_deref().unwrap_or("unknown")
            ));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::probe_word;

    #[test]
    fn probe_words_are_letters_and_far_apart() {
        assert_eq!(probe_word(7), "freshrok");
        assert_eq!(probe_word(10), "freshyeczab");
        assert!(
            probe_word(123)
                .bytes()
                .all(|byte| byte.is_ascii_lowercase())
        );
        // Neighbouring numbers differ in a whole three-letter group, beyond one typo.
        let (one, two) = (probe_word(41), probe_word(42));
        let differing = one.bytes().zip(two.bytes()).filter(|(a, b)| a != b).count();
        assert!(differing >= 2, "{one} {two}");
    }
}
