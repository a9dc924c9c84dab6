//! Change-feed cursors and the in-process wake-up of feed readers.
//!
//! A cursor is the feed position (gap-free, commit-ordered: see ADR 3) as 16 lower-case hex
//! digits, so cursors compare in feed order as byte strings. Clients treat it as opaque.

use pake_core::Error;

/// Encodes a feed position.
pub fn encode_cursor(position: i64) -> String {
    format!("{:016x}", position.max(0))
}

/// Decodes a cursor from `field`; anything not issued by [`encode_cursor`] is INVALID_ARGUMENT.
pub fn decode_cursor(cursor: &str, field: &str) -> Result<i64, Error> {
    let valid = cursor.len() == 16 && cursor.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'));
    let position = valid
        .then(|| i64::from_str_radix(cursor, 16).ok())
        .flatten()
        .ok_or_else(|| {
            Error::invalid_field(field, "is not a cursor issued by this feed")
                .with_reason("INVALID_CURSOR")
        })?;
    Ok(position)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_sort_as_bytes() {
        assert_eq!(decode_cursor(&encode_cursor(42), "c").expect("valid"), 42);
        assert!(encode_cursor(9) < encode_cursor(10));
        assert!(encode_cursor(255) < encode_cursor(4096));
        for bad in [
            "",
            "42",
            "000000000000002A",
            "zzzzzzzzzzzzzzzz",
            "00000000000000000",
        ] {
            assert!(decode_cursor(bad, "after_cursor").is_err(), "{bad}");
        }
    }
}
