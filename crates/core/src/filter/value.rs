//! Value parsers that [`Schema`](super::Schema) implementations share: timestamps, numbers,
//! booleans, enum names, and the shortening of echoed input.

use std::str::FromStr;

use super::RawValue;

/// A timestamp in microseconds since the epoch. `exact` is false when it had sub-microsecond
/// digits: it then lies strictly between `micros` and `micros + 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Time {
    pub micros: i64,
    pub exact: bool,
}

/// An RFC 3339 timestamp in double quotes, the value of the time field `field`.
pub fn quoted_timestamp(field: &str, value: RawValue<'_>) -> Result<Time, String> {
    if value.quoted {
        timestamp(value.text)
    } else {
        Err(format!(
            "`{field}` takes an RFC 3339 timestamp in double quotes, e.g. \"2025-01-01T00:00:00Z\""
        ))
    }
}

/// An RFC 3339 timestamp (`2025-01-01T00:00:00Z`, `2025-01-01T02:00:00.5+02:00`).
pub fn timestamp(text: &str) -> Result<Time, String> {
    let invalid = || {
        format!(
            "`{}` is not an RFC 3339 timestamp such as \"2025-01-01T00:00:00Z\"",
            shorten(text)
        )
    };
    if !is_rfc3339(text.as_bytes()) {
        return Err(invalid());
    }
    let parsed = prost_types::Timestamp::from_str(text).map_err(|_| invalid())?;
    let micros = parsed
        .seconds
        .checked_mul(1_000_000)
        .and_then(|micros| micros.checked_add(i64::from(parsed.nanos / 1000)))
        .ok_or_else(invalid)?;
    Ok(Time {
        micros,
        exact: parsed.nanos % 1000 == 0,
    })
}

/// The RFC 3339 `date-time` shape: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, with at most nine
/// fraction digits. (The calendar is checked by the parser after this.)
fn is_rfc3339(bytes: &[u8]) -> bool {
    let digits = |from: usize, to: usize| {
        bytes
            .get(from..to)
            .is_some_and(|part| part.iter().all(u8::is_ascii_digit))
    };
    let at = |index: usize, allowed: &[u8]| bytes.get(index).is_some_and(|b| allowed.contains(b));
    let shaped = digits(0, 4)
        && at(4, b"-")
        && digits(5, 7)
        && at(7, b"-")
        && digits(8, 10)
        && at(10, b"Tt")
        && digits(11, 13)
        && at(13, b":")
        && digits(14, 16)
        && at(16, b":")
        && digits(17, 19);
    if !shaped {
        return false;
    }
    let mut rest = bytes.get(19..).unwrap_or_default();
    if let Some(fraction) = rest.strip_prefix(b".") {
        let count = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if !(1..=9).contains(&count) {
            return false;
        }
        rest = fraction.get(count..).unwrap_or_default();
    }
    match rest {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|b| b.is_ascii_digit()),
        _ => false,
    }
}

/// A finite decimal number (`0.7`, `1`, `-.5`, `1e-3`), the value of the number field `field`.
pub fn number(field: &str, text: &str) -> Result<f64, String> {
    let shaped = text.bytes().any(|b| b.is_ascii_digit())
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
    shaped
        .then(|| f64::from_str(text).ok())
        .flatten()
        .filter(|number| number.is_finite())
        .ok_or_else(|| {
            format!(
                "`{}` is not a number; `{field}` takes a number such as 0.7",
                shorten(text)
            )
        })
}

/// `true` or `false` (any case), the value of the boolean field `field`.
pub fn boolean(field: &str, text: &str) -> Result<bool, String> {
    if text.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if text.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(format!(
            "`{}` is not a boolean; `{field}` takes true or false",
            shorten(text)
        ))
    }
}

/// An enum value's full protobuf name from `text` written with or without `prefix`, in any
/// case: `project`, `Kind_Project` and `KIND_PROJECT` all give `KIND_PROJECT` for `KIND_`.
pub fn enum_name(text: &str, prefix: &str) -> String {
    let upper = text.to_ascii_uppercase();
    if upper.starts_with(prefix) {
        upper
    } else {
        format!("{prefix}{upper}")
    }
}

/// Echoed input, cut to a readable length.
pub fn shorten(text: &str) -> String {
    const MAX_CHARS: usize = 40;
    if text.chars().count() <= MAX_CHARS {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(MAX_CHARS).collect();
        format!("{cut}…")
    }
}
