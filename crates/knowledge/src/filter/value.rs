//! The value of a comparison, checked against its knowledge field (the shared value parsers are
//! in `pake_core::filter::value`).

use pake_api::knowledge::item::{Kind, Status, Verification, Visibility};
use pake_core::filter::RawValue;
use pake_core::filter::value::{enum_name, number, quoted_timestamp, shorten};

use super::{Field, Value};
use crate::model::{limits, names};

/// `value` as a value of `field`, or why it is not one.
pub(super) fn parse_value(field: Field, value: RawValue<'_>) -> Result<Value, String> {
    let text = value.text;
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
        Field::ConfidenceScore => number(field.name(), text).map(Value::Number),
        Field::Owner => owner(text),
        Field::Folder => folder(text),
        Field::CreateTime | Field::UpdateTime | Field::DeleteTime => {
            let time = quoted_timestamp(field.name(), value)?;
            Ok(Value::Time {
                micros: time.micros,
                exact: time.exact,
            })
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
    stored(&enum_name(text, prefix))
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
