//! The value of a comparison, checked against its field.

use std::str::FromStr;

use pake_api::knowledge::item::{Kind, Status, Verification, Visibility};

use super::{Field, Value};
use crate::model::{limits, names};

/// `text` (the string's contents when `quoted`, else the bare word) as a value of `field`, or
/// why it is not one.
pub(super) fn parse_value(field: Field, text: &str, quoted: bool) -> Result<Value, String> {
    match field {
        // Tags are stored without `#`, lower-cased (see `model::normalize_tags`).
        Field::Tag => Ok(Value::Text(
            text.trim().trim_start_matches('#').to_lowercase(),
        )),
        Field::Kind => enum_value(field, text, "KIND_", |name| {
            Kind::from_str_name(name)
                .filter(|kind| *kind != Kind::Unspecified)
                .map(names::kind)
        }),
        Field::Status => enum_value(field, text, "STATUS_", |name| {
            Status::from_str_name(name)
                .filter(|status| *status != Status::Unspecified)
                .map(names::status)
        }),
        Field::Verification => enum_value(field, text, "VERIFICATION_", |name| {
            Verification::from_str_name(name)
                .filter(|verification| *verification != Verification::Unspecified)
                .map(names::verification)
        }),
        Field::Visibility => enum_value(field, text, "VISIBILITY_", |name| {
            Visibility::from_str_name(name)
                .filter(|visibility| *visibility != Visibility::Unspecified)
                .map(names::visibility)
        }),
        Field::ConfidenceScore => number(text).map(Value::Number),
        Field::Owner => owner(text),
        Field::Folder => folder(text),
        Field::CreateTime | Field::UpdateTime | Field::DeleteTime => {
            if quoted {
                timestamp(text)
            } else {
                Err(format!(
                    "`{}` takes an RFC 3339 timestamp in double quotes, e.g. \"2025-01-01T00:00:00Z\"",
                    field.name()
                ))
            }
        }
    }
}

/// An enum value name with or without its prefix, case-insensitive, as its stored name.
fn enum_value(
    field: Field,
    text: &str,
    prefix: &str,
    stored: impl Fn(&str) -> Option<&'static str>,
) -> Result<Value, String> {
    let upper = text.to_ascii_uppercase();
    let full = if upper.starts_with(prefix) {
        upper
    } else {
        format!("{prefix}{upper}")
    };
    stored(&full)
        .map(|name| Value::Text(name.to_owned()))
        .ok_or_else(|| {
            let allowed = match field {
                Field::Kind => "note, project, resource, daily, system",
                Field::Status => "draft, processing, verified, archived",
                Field::Verification => "pending, verified, rejected",
                _ => "private, internal, public",
            };
            format!(
                "`{}` is not a {} value; use one of {allowed}",
                shorten(text),
                field.name()
            )
        })
}

/// A finite decimal number (`0.7`, `1`, `-.5`, `1e-3`).
fn number(text: &str) -> Result<f64, String> {
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
                "`{}` is not a number; `confidence_score` takes a number such as 0.7",
                shorten(text)
            )
        })
}

/// `users/{user}`, or `users/me` for the caller.
fn owner(text: &str) -> Result<Value, String> {
    let user = text
        .strip_prefix("users/")
        .filter(|user| !user.is_empty() && user.len() <= 128 && !user.contains('/'))
        .ok_or_else(|| "`owner` takes \"users/{user}\" or \"users/me\"".to_owned())?;
    Ok(if user == "me" {
        Value::Me
    } else {
        Value::Text(text.to_owned())
    })
}

/// A folder path; a trailing `*` makes it a prefix.
fn folder(text: &str) -> Result<Value, String> {
    if text.len() > limits::FOLDER + 1 {
        return Err(format!(
            "a folder is at most {} bytes (plus a trailing `*`)",
            limits::FOLDER
        ));
    }
    Ok(match text.strip_suffix('*') {
        Some(prefix) => Value::Prefix(prefix.to_owned()),
        None => Value::Text(text.to_owned()),
    })
}

/// An RFC 3339 timestamp (`2025-01-01T00:00:00Z`, `2025-01-01T02:00:00.5+02:00`).
fn timestamp(text: &str) -> Result<Value, String> {
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
    Ok(Value::Time {
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

/// Echoed input, cut to a readable length.
pub(super) fn shorten(text: &str) -> String {
    const MAX_CHARS: usize = 40;
    if text.chars().count() <= MAX_CHARS {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(MAX_CHARS).collect();
        format!("{cut}…")
    }
}
