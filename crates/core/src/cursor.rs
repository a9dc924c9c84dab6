//! Change-feed cursors, shared by the feed (knowledge) and its readers (search `min_cursor`).
//!
//! A cursor is the feed position (gap-free, commit-ordered: ADR 3) as 16 lower-case hex digits,
//! so cursors compare in feed order as byte strings. Clients treat it as opaque.

use crate::Error;

/// Encodes a feed position.
pub fn encode(position: i64) -> String {
    format!("{:016x}", position.max(0))
}

/// Decodes a cursor given in `field`; anything not produced by [`encode`] is INVALID_ARGUMENT.
pub fn decode(cursor: &str, field: &str) -> Result<i64, Error> {
    let valid = cursor.len() == 16 && cursor.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'));
    valid
        .then(|| i64::from_str_radix(cursor, 16).ok())
        .flatten()
        .ok_or_else(|| {
            Error::invalid_field(field, "is not a cursor issued by this feed")
                .with_reason("INVALID_CURSOR")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_sort_as_bytes() {
        assert_eq!(decode(&encode(42), "c").expect("valid"), 42);
        assert!(encode(9) < encode(10));
        assert!(encode(255) < encode(4096));
        for bad in [
            "",
            "42",
            "000000000000002A",
            "zzzzzzzzzzzzzzzz",
            "00000000000000000",
        ] {
            assert!(decode(bad, "after_cursor").is_err(), "{bad}");
        }
    }
}
