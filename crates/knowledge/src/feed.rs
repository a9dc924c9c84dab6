//! The in-process wake-up of feed readers, and the cursor format (defined in `pake-core`).

pub use pake_core::cursor::{decode as decode_cursor, encode as encode_cursor};

/// Wakes feed readers in this process when a write commits. Readers in other processes poll
/// (and, on PostgreSQL, could LISTEN); a wake-up is only a hint, the database is the truth.
#[derive(Clone, Debug)]
pub struct FeedSignal {
    sender: tokio::sync::watch::Sender<i64>,
}

impl Default for FeedSignal {
    fn default() -> Self {
        FeedSignal {
            sender: tokio::sync::watch::channel(0).0,
        }
    }
}

impl FeedSignal {
    /// Announces that `position` committed.
    pub fn notify(&self, position: i64) {
        self.sender.send_if_modified(|current| {
            if position > *current {
                *current = position;
                true
            } else {
                false
            }
        });
    }

    /// A receiver that changes on every announced write.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<i64> {
        self.sender.subscribe()
    }
}
