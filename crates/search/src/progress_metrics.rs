//! The search index's progress as Prometheus gauges, computed at scrape time from every live
//! [`Progress`] of the process (one per search service; several in tests):
//!
//! - `pake_search_feed_lag_seconds`: how long the oldest change received but not yet committed
//!   has waited since it was written (0 when nothing is pending) — the freshness SPEC §5 targets
//!   at 1 s. The largest over the process's indexes.
//! - `pake_search_pending_events`: changes received and not yet committed, summed.
//! - `pake_search_index_rebuilding`: 1 while an index is being rebuilt from a snapshot.
//!
//! Commit timings are recorded by the consumer itself (`pake_search_index_commit_*`).

use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, Once, Weak};
use std::time::SystemTime;

use pake_runtime::metrics::prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use pake_runtime::metrics::prometheus_client::metrics::gauge::Gauge;
use pake_runtime::metrics::{Collector, register_collector};

use crate::progress::{Snapshot, State};

type Tracked = Vec<Weak<Mutex<Snapshot>>>;

fn tracked() -> &'static Mutex<Tracked> {
    static TRACKED: Mutex<Tracked> = Mutex::new(Vec::new());
    &TRACKED
}

/// Adds `progress` to what the gauges report, for as long as it lives.
pub(crate) fn track(progress: Weak<Mutex<Snapshot>>) {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| register_collector(Box::new(ProgressCollector)));
    let mut tracked = tracked().lock().unwrap_or_else(|p| p.into_inner());
    tracked.retain(|weak| weak.strong_count() > 0);
    tracked.push(progress);
}

/// (lag in seconds, pending events, rebuilding indexes) over every live progress at `now`.
fn totals(now: SystemTime) -> (f64, i64, i64) {
    let tracked = tracked().lock().unwrap_or_else(|p| p.into_inner());
    let mut totals = (0.0_f64, 0_i64, 0_i64);
    for snapshot in tracked.iter().filter_map(Weak::upgrade) {
        let snapshot = snapshot.lock().unwrap_or_else(|p| p.into_inner());
        let lag = snapshot
            .oldest_pending
            .and_then(|oldest| now.duration_since(oldest).ok())
            .map_or(0.0, |waited| waited.as_secs_f64());
        totals.0 = totals.0.max(lag);
        totals.1 += i64::try_from(snapshot.pending_events).unwrap_or(i64::MAX);
        totals.2 += i64::from(snapshot.state == State::Rebuilding);
    }
    totals
}

#[derive(Debug)]
struct ProgressCollector;

impl Collector for ProgressCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let (lag, pending, rebuilding) = totals(SystemTime::now());
        let lag_gauge = Gauge::<f64, AtomicU64>::default();
        lag_gauge.set(lag);
        lag_gauge.encode(encoder.encode_descriptor(
            "pake_search_feed_lag_seconds",
            "Age of the oldest change-feed event received but not yet searchable (0 when none)",
            None,
            lag_gauge.metric_type(),
        )?)?;
        for (name, help, value) in [
            (
                "pake_search_pending_events",
                "Change-feed events received and not yet committed to the search index",
                pending,
            ),
            (
                "pake_search_index_rebuilding",
                "Search indexes being rebuilt from a feed snapshot",
                rebuilding,
            ),
        ] {
            let gauge = Gauge::<i64>::default();
            gauge.set(value);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::progress::Progress;

    #[test]
    fn the_gauges_follow_the_pending_changes_of_live_indexes() {
        let progress = Progress::default();
        let written = SystemTime::now() - Duration::from_secs(3);
        progress.received(Some(written));
        progress.received(Some(SystemTime::now()));
        let (lag, pending, _) = totals(SystemTime::now());
        assert!(lag >= 3.0, "lag {lag}");
        assert!(pending >= 2, "pending {pending}");

        progress.committed(false);
        let (lag_after, _, _) = totals(SystemTime::now());
        // Other tests' indexes may be pending in this process, but not this one's 3 s.
        assert!(lag_after < 3.0, "lag after commit {lag_after}");

        let text = pake_runtime::metrics::render(pake_runtime::metrics::Format::Prometheus, &[]).1;
        for name in [
            "pake_search_feed_lag_seconds",
            "pake_search_pending_events",
            "pake_search_index_rebuilding",
        ] {
            assert!(
                text.contains(&format!("# TYPE {name} gauge")),
                "{name} in {text}"
            );
        }
    }
}
