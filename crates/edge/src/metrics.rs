//! Prometheus metrics of the edge, rendered in the text exposition format at `/metrics`:
//! requests by gRPC method and HTTP status, and request duration (until the response head; a
//! stream's body is not included) as a histogram per method.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the duration buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The label of requests that matched no binding.
pub const UNMATCHED: &str = "(unmatched)";

#[derive(Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Counters and histograms, shared by every request.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    durations: Mutex<BTreeMap<String, Histogram>>,
}

impl Metrics {
    /// Records one request to `method` (`/pkg.Service/Method` or [`UNMATCHED`]).
    pub fn record(&self, method: &str, status: u16, elapsed: Duration) {
        if let Ok(mut requests) = self.requests.lock() {
            *requests.entry((method.to_owned(), status)).or_default() += 1;
        }
        if let Ok(mut durations) = self.durations.lock() {
            let histogram = durations.entry(method.to_owned()).or_default();
            let seconds = elapsed.as_secs_f64();
            for (bucket, bound) in histogram.buckets.iter_mut().zip(BUCKETS) {
                if seconds <= bound {
                    *bucket += 1;
                }
            }
            histogram.count += 1;
            histogram.sum += seconds;
        }
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP pake_edge_requests_total HTTP requests by gRPC method and HTTP status.\n",
        );
        out.push_str("# TYPE pake_edge_requests_total counter\n");
        if let Ok(requests) = self.requests.lock() {
            for ((method, status), count) in requests.iter() {
                let _ = writeln!(
                    out,
                    "pake_edge_requests_total{{method=\"{}\",status=\"{status}\"}} {count}",
                    escape(method)
                );
            }
        }
        out.push_str("# HELP pake_edge_request_duration_seconds Time until the response head.\n");
        out.push_str("# TYPE pake_edge_request_duration_seconds histogram\n");
        if let Ok(durations) = self.durations.lock() {
            for (method, histogram) in durations.iter() {
                let method = escape(method);
                for (bound, count) in BUCKETS.iter().zip(histogram.buckets) {
                    let _ = writeln!(
                        out,
                        "pake_edge_request_duration_seconds_bucket{{method=\"{method}\",le=\"{bound}\"}} {count}"
                    );
                }
                let _ = writeln!(
                    out,
                    "pake_edge_request_duration_seconds_bucket{{method=\"{method}\",le=\"+Inf\"}} {}",
                    histogram.count
                );
                let _ = writeln!(
                    out,
                    "pake_edge_request_duration_seconds_sum{{method=\"{method}\"}} {}",
                    histogram.sum
                );
                let _ = writeln!(
                    out,
                    "pake_edge_request_duration_seconds_count{{method=\"{method}\"}} {}",
                    histogram.count
                );
            }
        }
        out
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let metrics = Metrics::default();
        metrics.record("/a.B/C", 200, Duration::from_millis(3));
        metrics.record("/a.B/C", 200, Duration::from_millis(300));
        metrics.record("/a.B/C", 404, Duration::from_millis(1));
        let text = metrics.render();
        assert!(
            text.contains("pake_edge_requests_total{method=\"/a.B/C\",status=\"200\"} 2"),
            "{text}"
        );
        assert!(text.contains("pake_edge_requests_total{method=\"/a.B/C\",status=\"404\"} 1"));
        assert!(text.contains("le=\"0.005\"} 2"), "{text}");
        assert!(text.contains("le=\"+Inf\"} 3"));
        assert!(text.contains("pake_edge_request_duration_seconds_count{method=\"/a.B/C\"} 3"));
    }
}
