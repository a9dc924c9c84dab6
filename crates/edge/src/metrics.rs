//! Prometheus metrics of the edge: requests by gRPC method and HTTP status
//! (`pake_edge_requests_total{method,status}`), and request duration until the response head (a
//! stream's body is not included) as a histogram per method
//! (`pake_edge_request_duration_seconds{method}`).
//!
//! Each [`crate::Edge`] keeps its own registry (an edge's counts are its own, even with several
//! edges in one test process); `/metrics` renders it after the process registry
//! ([`pake_runtime::metrics`]: RPC, pool and cache metrics of the services in this process).
//! `method` is a bound method's `/pkg.Service/Method` or [`UNMATCHED`], so its values are
//! bounded by the descriptor set.

use std::time::Duration;

use pake_runtime::metrics::{
    Buckets, Counter, DURATION_BUCKETS, Family, Format, HistogramFamily, Labels, Registry,
};

/// The label of requests that matched no binding.
pub const UNMATCHED: &str = "(unmatched)";

/// Counters and histograms, shared by every request of one edge.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    durations: HistogramFamily,
}

impl Default for Metrics {
    fn default() -> Self {
        let requests = Family::<Labels, Counter>::default();
        let durations =
            HistogramFamily::new_with_constructor(Buckets::new(DURATION_BUCKETS.to_vec()));
        let mut registry = Registry::default();
        registry.register(
            "pake_edge_requests",
            "HTTP requests by gRPC method and HTTP status",
            requests.clone(),
        );
        registry.register(
            "pake_edge_request_duration_seconds",
            "Time until the response head",
            durations.clone(),
        );
        Metrics {
            registry,
            requests,
            durations,
        }
    }
}

impl Metrics {
    /// Records one request to `method` (`/pkg.Service/Method` or [`UNMATCHED`]).
    pub fn record(&self, method: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&vec![
                ("method", method.to_owned()),
                ("status", status.to_string()),
            ])
            .inc();
        self.durations
            .get_or_create(&vec![("method", method.to_owned())])
            .observe(elapsed.as_secs_f64());
    }

    /// The process registry and this edge's metrics in the Prometheus text format.
    pub fn render(&self) -> String {
        self.render_as(Format::Prometheus).1
    }

    /// The process registry and this edge's metrics in `format`, with its content type.
    pub fn render_as(&self, format: Format) -> (&'static str, String) {
        pake_runtime::metrics::render(format, &[&self.registry])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pake_runtime::metrics::exposition;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let metrics = Metrics::default();
        metrics.record("/a.B/C", 200, Duration::from_millis(3));
        metrics.record("/a.B/C", 200, Duration::from_millis(300));
        metrics.record("/a.B/C", 404, Duration::from_millis(1));
        for format in [Format::Prometheus, Format::OpenMetrics] {
            let (_, text) = metrics.render_as(format);
            let samples = exposition::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            let value = |name: &str, labels: &[(&str, &str)]| {
                exposition::value(&samples, name, labels).unwrap_or(-1.0)
            };
            let method = ("method", "/a.B/C");
            let total = "pake_edge_requests_total";
            assert_eq!(value(total, &[method, ("status", "200")]), 2.0, "{text}");
            assert_eq!(value(total, &[method, ("status", "404")]), 1.0, "{text}");
            let bucket = "pake_edge_request_duration_seconds_bucket";
            assert_eq!(value(bucket, &[method, ("le", "0.005")]), 2.0, "{text}");
            assert_eq!(value(bucket, &[method, ("le", "+Inf")]), 3.0, "{text}");
            let count = "pake_edge_request_duration_seconds_count";
            assert_eq!(value(count, &[method]), 3.0, "{text}");
        }
        assert!(
            metrics
                .render()
                .contains("pake_edge_requests_total{method=\"/a.B/C\",status=\"200\"} 2\n")
        );
    }
}
