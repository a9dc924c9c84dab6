//! The feed consumer's batches: changes applied to the index writer and not yet committed, when
//! to commit them, and the commit metrics.

use std::time::Duration;

use tokio::time::Instant;

/// A batch is committed this long after its first change (or later, see [`Batch::commit_at`]).
pub(super) const COMMIT_INTERVAL: Duration = Duration::from_millis(200);

/// The changes applied to the index writer and not yet committed, and when to commit them.
#[derive(Debug, Default)]
pub(super) struct Batch {
    /// The cursor the pending changes reach.
    cursor: Option<String>,
    /// When the first pending change was applied.
    since: Option<Instant>,
    events: u64,
    /// Events in the last commit.
    pub(super) events_committed: u64,
    /// When the last commit finished, and what it cost.
    last_commit: Option<(Instant, Duration)>,
}

impl Batch {
    pub(super) fn add(&mut self, cursor: String) {
        self.since.get_or_insert_with(Instant::now);
        self.events += 1;
        if !cursor.is_empty() {
            self.cursor = Some(cursor);
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.cursor.is_none()
    }

    /// The cursor to commit, emptying the batch.
    pub(super) fn take(&mut self) -> Option<String> {
        self.since = None;
        self.events_committed = std::mem::take(&mut self.events);
        self.cursor.take()
    }

    pub(super) fn committed(&mut self, cost: Duration) {
        self.last_commit = Some((Instant::now(), cost));
    }

    /// When the pending changes should be committed: `COMMIT_INTERVAL` after the first of them,
    /// but never sooner after the last commit than that commit took — so when commits get
    /// expensive (a large index, a loaded machine) batches grow instead of commits taking all
    /// the time, and the index keeps up.
    pub(super) fn commit_at(&self) -> Option<Instant> {
        self.cursor.as_ref()?;
        let due = self.since.unwrap_or_else(Instant::now) + COMMIT_INTERVAL;
        Some(match self.last_commit {
            Some((finished, cost)) => due.max(finished + cost),
            None => due,
        })
    }
}

/// `pake_search_index_commit_duration_seconds` and `pake_search_index_committed_events_total`.
pub(super) struct CommitMetrics {
    duration: pake_runtime::metrics::Histogram,
    events: pake_runtime::metrics::Counter,
}

impl CommitMetrics {
    pub(super) fn record(&self, cost: Duration, events: u64) {
        self.duration.observe(cost.as_secs_f64());
        self.events.inc_by(events);
    }
}

pub(super) fn commit_metrics() -> &'static CommitMetrics {
    static METRICS: std::sync::OnceLock<CommitMetrics> = std::sync::OnceLock::new();
    METRICS.get_or_init(|| CommitMetrics {
        duration: pake_runtime::metrics::histogram(
            "pake_search_index_commit_duration_seconds",
            "Time to commit a batch of feed changes to the search index (and reload its reader)",
            &pake_runtime::metrics::DURATION_BUCKETS,
        ),
        events: pake_runtime::metrics::counter(
            "pake_search_index_committed_events_total",
            "Change-feed events committed to the search index",
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_batch_is_due_an_interval_after_its_first_change_or_later_after_a_slow_commit() {
        let mut batch = Batch::default();
        assert_eq!(
            batch.commit_at(),
            None,
            "nothing pending, nothing to commit"
        );
        let first = Instant::now();
        batch.add("c1".to_owned());
        tokio::time::advance(Duration::from_millis(50)).await;
        batch.add("c2".to_owned());
        assert_eq!(batch.commit_at(), Some(first + COMMIT_INTERVAL));

        assert_eq!(batch.take().as_deref(), Some("c2"));
        assert_eq!(batch.events_committed, 2);
        assert!(batch.is_empty());
        // The commit took a second: the next one waits at least as long after it finished.
        tokio::time::advance(Duration::from_secs(1)).await;
        batch.committed(Duration::from_secs(1));
        let finished = Instant::now();
        batch.add("c3".to_owned());
        assert_eq!(batch.commit_at(), Some(finished + Duration::from_secs(1)));

        // A cheap commit leaves the interval in charge again.
        batch.take();
        batch.committed(Duration::from_millis(10));
        tokio::time::advance(Duration::from_millis(10)).await;
        let next = Instant::now();
        batch.add("c4".to_owned());
        assert_eq!(batch.commit_at(), Some(next + COMMIT_INTERVAL));
    }

    #[tokio::test(start_paused = true)]
    async fn events_without_a_cursor_are_counted_but_need_no_commit() {
        let mut batch = Batch::default();
        batch.add(String::new());
        assert!(batch.is_empty());
        assert_eq!(batch.commit_at(), None);
        batch.add("c1".to_owned());
        assert_eq!(batch.take().as_deref(), Some("c1"));
        assert_eq!(batch.events_committed, 2);
    }
}
