//! How far the index has come: shared between the feed consumer (which writes it) and the
//! service (GetIndexStatus, and refusing queries while a snapshot rebuild is incomplete).

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// The index's state, as GetIndexStatus reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Complete as of the applied cursor but more than the freshness target behind.
    CatchingUp,
    /// Within the freshness target.
    Ready,
    /// Being built from a snapshot: incomplete.
    Rebuilding,
}

/// A snapshot of the progress.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// Current state.
    pub state: State,
    /// When the index last committed.
    pub last_commit_time: Option<SystemTime>,
    /// Events received and not yet committed.
    pub pending_events: u64,
    /// Write time of the oldest pending event.
    pub oldest_pending: Option<SystemTime>,
}

/// Shared, cheap to clone.
#[derive(Clone, Debug)]
pub struct Progress {
    inner: Arc<Mutex<Snapshot>>,
    serving: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Default for Progress {
    fn default() -> Self {
        Progress::starting_with(true)
    }
}

impl Progress {
    /// Progress of an index that holds a committed checkpoint (`true`: it answers queries and
    /// reports SERVING from the start, catching up) or is empty (`false`: NOT_SERVING until its
    /// first rebuild from a feed snapshot is committed, so readiness never flickers on).
    pub fn starting_with(checkpoint: bool) -> Self {
        let inner = Arc::new(Mutex::new(Snapshot {
            state: State::CatchingUp,
            last_commit_time: None,
            pending_events: 0,
            oldest_pending: None,
        }));
        crate::progress_metrics::track(Arc::downgrade(&inner));
        Progress {
            inner,
            serving: Arc::new(tokio::sync::watch::channel(checkpoint).0),
        }
    }

    /// Whether search should report SERVING: false while a snapshot rebuild is incomplete or the
    /// change feed cannot be reached. Health follows this.
    pub fn serving(&self) -> tokio::sync::watch::Receiver<bool> {
        self.serving.subscribe()
    }

    /// The change feed could not be reached (`false`) or is connected again (`true`).
    pub fn feed_connected(&self, connected: bool) {
        let rebuilding = self.snapshot().state == State::Rebuilding;
        self.serving.send_replace(connected && !rebuilding);
    }
    /// The current progress.
    pub fn snapshot(&self) -> Snapshot {
        self.inner
            .lock()
            .map(|snapshot| snapshot.clone())
            .unwrap_or(Snapshot {
                state: State::CatchingUp,
                last_commit_time: None,
                pending_events: 0,
                oldest_pending: None,
            })
    }

    fn update(&self, change: impl FnOnce(&mut Snapshot)) {
        if let Ok(mut snapshot) = self.inner.lock() {
            change(&mut snapshot);
        }
    }

    /// A snapshot rebuild started.
    pub fn rebuilding(&self) {
        self.update(|s| {
            s.state = State::Rebuilding;
            s.pending_events = 0;
            s.oldest_pending = None;
        });
        self.serving.send_replace(false);
    }

    /// An event arrived (written at `event_time`).
    pub fn received(&self, event_time: Option<SystemTime>) {
        self.update(|s| {
            s.pending_events += 1;
            if s.oldest_pending.is_none() {
                s.oldest_pending = event_time;
            }
        });
    }

    /// Everything received so far was committed; `behind` says whether the feed still has a
    /// backlog beyond the freshness target.
    pub fn committed(&self, behind: bool) {
        self.update(|s| {
            s.state = if behind {
                State::CatchingUp
            } else {
                State::Ready
            };
            s.last_commit_time = Some(SystemTime::now());
            s.pending_events = 0;
            s.oldest_pending = None;
        });
        self.serving.send_replace(true);
    }

    /// Caught up with the head (a heartbeat with nothing pending).
    pub fn caught_up(&self) {
        self.update(|s| {
            if s.state == State::CatchingUp && s.pending_events == 0 {
                s.state = State::Ready;
            }
        });
    }
}
