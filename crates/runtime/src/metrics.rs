//! Prometheus metrics of the process: one process-wide registry ([prometheus-client], the
//! official OpenMetrics client) that every component adds to, and its rendering.
//!
//! - [`rpc`]: the tower layer [`crate::GrpcServer`] installs in front of every service — calls,
//!   durations and calls in flight per gRPC method and status code.
//! - [`pools`]: connection-pool gauges of every [`crate::db::Database`] the process opened,
//!   read at scrape time.
//! - [`cache`]: hits, misses and entries of every cache, labelled by cache and backend.
//! - [`listener`]: `GET /metrics` on its own address (`metrics_listen`) for processes without
//!   the JSON edge; where the edge runs, its `/metrics` renders this registry too.
//! - [`exposition`]: a strict parser of the text format, for tests and tools.
//!
//! Other code registers its own metrics through the functions here — [`counter`], [`gauge`],
//! [`histogram`] and their `_family` forms — which return a handle to keep and update:
//!
//! ```
//! let lag = pake_runtime::metrics::gauge(
//!     "pake_example_feed_lag_events",
//!     "Change-feed events written but not yet applied.",
//! );
//! lag.set(3);
//! assert!(pake_runtime::metrics::render(pake_runtime::metrics::Format::Prometheus, &[])
//!     .1
//!     .contains("pake_example_feed_lag_events 3"));
//! ```
//!
//! Registering a name again returns the handle registered first (so components built once per
//! test server, several times in one test process, share one series and the exposition never
//! repeats a name). Names follow Prometheus conventions: `pake_` prefix, base units (seconds,
//! bytes), counters given without `_total` (the encoder appends it). Label values must come from
//! a bounded set — never a user id, a query or an unchecked request path.
//!
//! [prometheus-client]: https://docs.rs/prometheus-client

pub mod cache;
pub mod exposition;
pub mod listener;
pub mod pools;
pub mod rpc;

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

pub use prometheus_client;
pub use prometheus_client::collector::Collector;
pub use prometheus_client::metrics::counter::Counter;
pub use prometheus_client::metrics::family::Family;
pub use prometheus_client::metrics::gauge::Gauge;
pub use prometheus_client::metrics::histogram::Histogram;
pub use prometheus_client::registry::Registry;

/// Label pairs of a series in a family: fixed names, values from a bounded set.
pub type Labels = Vec<(&'static str, String)>;

/// Upper bounds (seconds) of the duration histograms: 1 ms to 10 s.
pub const DURATION_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// A family of histograms that all share the same bucket bounds.
pub type HistogramFamily = Family<Labels, Histogram, Buckets>;

/// Builds each histogram of a [`HistogramFamily`] with the family's bounds.
#[derive(Clone, Debug)]
pub struct Buckets(Arc<[f64]>);

impl Buckets {
    /// Histograms with these upper bounds.
    pub fn new(bounds: impl Into<Arc<[f64]>>) -> Self {
        Buckets(bounds.into())
    }
}

impl prometheus_client::metrics::family::MetricConstructor<Histogram> for Buckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(self.0.iter().copied())
    }
}

/// The exposition formats `/metrics` can answer with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The Prometheus text format 0.0.4 (`text/plain`), the default.
    Prometheus,
    /// OpenMetrics 1.0 text, for scrapers that ask for it in `Accept`.
    OpenMetrics,
}

impl Format {
    /// The format a scraper asked for in its `Accept` header.
    pub fn from_accept(accept: Option<&http::HeaderValue>) -> Format {
        match accept.and_then(|value| value.to_str().ok()) {
            Some(accept) if accept.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Prometheus,
        }
    }

    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The registry and what was registered in it by name (to hand out the same handle again).
struct Process {
    registry: Registry,
    known: HashMap<String, Box<dyn Any + Send + Sync>>,
}

fn process() -> &'static RwLock<Process> {
    static PROCESS: OnceLock<RwLock<Process>> = OnceLock::new();
    PROCESS.get_or_init(|| {
        RwLock::new(Process {
            registry: Registry::default(),
            known: HashMap::new(),
        })
    })
}

/// Registers the metric `make` builds under `name`, or returns the one registered under `name`
/// before. A name taken by a metric of another type gets an unexported metric and a warning.
fn get_or_register<M>(name: &str, help: &str, make: impl FnOnce() -> M) -> M
where
    M: prometheus_client::registry::Metric + Clone + Any,
{
    let mut process = process().write().unwrap_or_else(|p| p.into_inner());
    if let Some(existing) = process.known.get(name) {
        if let Some(metric) = existing.downcast_ref::<M>() {
            return metric.clone();
        }
        tracing::warn!(
            metric = name,
            "metric name registered again with another type; the second one is not exported"
        );
        return make();
    }
    let metric = make();
    process.registry.register(name, help, metric.clone());
    process
        .known
        .insert(name.to_owned(), Box::new(metric.clone()));
    metric
}

/// The counter `name` (given without `_total`, which the encoder appends).
pub fn counter(name: &str, help: &str) -> Counter {
    let name = name.strip_suffix("_total").unwrap_or(name);
    get_or_register(name, help, Counter::default)
}

/// A family of counters `name` (without `_total`), one per label set.
pub fn counter_family(name: &str, help: &str) -> Family<Labels, Counter> {
    let name = name.strip_suffix("_total").unwrap_or(name);
    get_or_register(name, help, Family::default)
}

/// The gauge `name`.
pub fn gauge(name: &str, help: &str) -> Gauge {
    get_or_register(name, help, Gauge::default)
}

/// A family of gauges `name`, one per label set.
pub fn gauge_family(name: &str, help: &str) -> Family<Labels, Gauge> {
    get_or_register(name, help, Family::default)
}

/// The histogram `name` with upper bounds `buckets` (e.g. [`DURATION_BUCKETS`]).
pub fn histogram(name: &str, help: &str, buckets: &[f64]) -> Histogram {
    get_or_register(name, help, || Histogram::new(buckets.iter().copied()))
}

/// A family of histograms `name` with upper bounds `buckets`, one per label set.
pub fn histogram_family(name: &str, help: &str, buckets: &[f64]) -> HistogramFamily {
    get_or_register(name, help, || {
        Family::new_with_constructor(Buckets(buckets.into()))
    })
}

/// Adds a collector that reports its metrics at every scrape (for values read on demand, such as
/// pool sizes). Register each collector once per process.
pub fn register_collector(collector: Box<dyn Collector>) {
    let mut process = process().write().unwrap_or_else(|p| p.into_inner());
    process.registry.register_collector(collector);
}

/// The process registry followed by `extra` registries (the edge's own), in `format`; returns
/// the content type and the text. Metric names must not repeat across the registries.
pub fn render(format: Format, extra: &[&Registry]) -> (&'static str, String) {
    let process = process().read().unwrap_or_else(|p| p.into_inner());
    let mut text = String::new();
    // Writing to a String cannot fail; a collector's error would truncate only its own part.
    for registry in std::iter::once(&process.registry).chain(extra.iter().copied()) {
        let result = match format {
            Format::Prometheus => {
                prometheus_client::encoding::prometheus_text::encode(&mut text, registry)
            }
            Format::OpenMetrics => {
                prometheus_client::encoding::text::encode_registry(&mut text, registry)
            }
        };
        if result.is_err() {
            tracing::warn!("a metrics collector failed to encode");
        }
    }
    if format == Format::OpenMetrics {
        let _ = prometheus_client::encoding::text::encode_eof(&mut text);
    }
    (format.content_type(), text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registering_a_name_again_returns_the_same_series() {
        let first = counter("pake_test_registered_twice", "A test counter.");
        let second = counter("pake_test_registered_twice_total", "Registered again.");
        first.inc();
        second.inc();
        assert_eq!(first.get(), 2);
        let (_, text) = render(Format::Prometheus, &[]);
        assert_eq!(
            text.matches("# TYPE pake_test_registered_twice_total counter")
                .count(),
            1,
            "{text}"
        );
        assert!(
            text.contains("pake_test_registered_twice_total 2\n"),
            "{text}"
        );
        // Another type under a taken name: a working handle, not exported.
        let other = gauge("pake_test_registered_twice", "Not a counter.");
        other.set(7);
        let (_, text) = render(Format::Prometheus, &[]);
        assert!(
            !text
                .lines()
                .any(|line| line.starts_with("pake_test_registered_twice ")),
            "{text}"
        );
    }

    #[test]
    fn both_formats_parse_and_openmetrics_ends_with_eof() {
        let family = histogram_family(
            "pake_test_format_seconds",
            "A test histogram.",
            &DURATION_BUCKETS,
        );
        family
            .get_or_create(&vec![("method", "/a.B/C".to_owned())])
            .observe(0.003);
        for format in [Format::Prometheus, Format::OpenMetrics] {
            let (content_type, text) = render(format, &[]);
            let samples = exposition::parse(&text)
                .unwrap_or_else(|error| panic!("{format:?}: {error}\n{text}"));
            let count = exposition::value(
                &samples,
                "pake_test_format_seconds_count",
                &[("method", "/a.B/C")],
            );
            assert_eq!(count, Some(1.0), "{text}");
            assert_eq!(
                text.ends_with("# EOF\n"),
                format == Format::OpenMetrics,
                "{content_type}"
            );
        }
    }

    #[test]
    fn accept_chooses_the_format() {
        let openmetrics = http::HeaderValue::from_static(
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        );
        assert_eq!(Format::from_accept(Some(&openmetrics)), Format::OpenMetrics);
        assert_eq!(Format::from_accept(None), Format::Prometheus);
        let text = http::HeaderValue::from_static("text/plain");
        assert_eq!(Format::from_accept(Some(&text)), Format::Prometheus);
    }
}
