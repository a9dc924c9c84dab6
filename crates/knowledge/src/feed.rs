//! The in-process wake-up of feed readers, the trace context of recent writes, and the cursor
//! format (defined in `pake-core`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

pub use pake_core::cursor::{decode as decode_cursor, encode as encode_cursor};

/// How many recent writes' trace contexts are remembered for the feed's readers.
const TRACED_WRITES: usize = 4096;

/// Wakes feed readers in this process when a write commits. Readers in other processes poll
/// (and, on PostgreSQL, could LISTEN); a wake-up is only a hint, the database is the truth.
///
/// It also remembers the W3C `traceparent` of the last [`TRACED_WRITES`] writes made in this
/// process (when traces are exported), which `WatchItems` puts in their events so the index
/// continues the write's trace. In memory only: best effort by design (docs/adr/0018-tracing.md).
#[derive(Clone, Debug)]
pub struct FeedSignal {
    sender: tokio::sync::watch::Sender<i64>,
    traces: Arc<Mutex<BTreeMap<i64, String>>>,
}

impl Default for FeedSignal {
    fn default() -> Self {
        FeedSignal {
            sender: tokio::sync::watch::channel(0).0,
            traces: Arc::default(),
        }
    }
}

impl FeedSignal {
    /// Announces that `position` committed.
    pub fn notify(&self, position: i64) {
        if let Some(traceparent) = pake_core::telemetry::current_traceparent()
            && let Ok(mut traces) = self.traces.lock()
        {
            traces.insert(position, traceparent);
            while traces.len() > TRACED_WRITES {
                traces.pop_first();
            }
        }
        self.sender.send_if_modified(|current| {
            if position > *current {
                *current = position;
                true
            } else {
                false
            }
        });
    }

    /// The `traceparent` of the write at `position`, if this process made it recently.
    pub fn traceparent(&self, position: i64) -> String {
        self.traces
            .lock()
            .ok()
            .and_then(|traces| traces.get(&position).cloned())
            .unwrap_or_default()
    }

    /// A receiver that changes on every announced write.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<i64> {
        self.sender.subscribe()
    }
}
