//! Query parameters (and path variables) → request fields.
//!
//! A key is a dotted field path (`filter`, `page.size`, lowerCamel or proto names); repeated
//! fields take repeated keys; enums take a name or a number; `Timestamp`, `Duration`,
//! `FieldMask` and the wrapper types take their JSON string forms. A key that names no field,
//! a field the path or body already sets, a map or a plain message is a 400 naming the key.

use base64::Engine;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, ReflectMessage, Value};
use serde_json::Value as Json;

use crate::descriptors::{BodyRule, resolve_path};
use crate::errors::Error;

/// Applies the query string; returns the numbers of the top-level fields it set.
pub fn apply(
    message: &mut DynamicMessage,
    body: &BodyRule,
    path_fields: &[Vec<u32>],
    raw_query: Option<&str>,
) -> Result<Vec<u32>, Error> {
    let Some(raw_query) = raw_query.filter(|q| !q.is_empty()) else {
        return Ok(Vec::new());
    };
    let mut grouped: Vec<(String, Vec<String>)> = Vec::new();
    for (key, value) in form_urlencoded::parse(raw_query.as_bytes()) {
        match grouped.iter_mut().find(|(existing, _)| *existing == key) {
            Some((_, values)) => values.push(value.into_owned()),
            None => grouped.push((key.into_owned(), vec![value.into_owned()])),
        }
    }
    let descriptor = message.descriptor();
    let mut top_level = Vec::new();
    for (key, values) in grouped {
        let path: Vec<String> = key.split('.').map(str::to_owned).collect();
        let fields =
            resolve_path(&descriptor, &path).map_err(|message| Error::InvalidArgument {
                field: Some(key.clone()),
                message: format!("unknown query parameter {key:?}: {message}"),
                reason: "UNKNOWN_FIELD",
            })?;
        let numbers: Vec<u32> = fields.iter().map(FieldDescriptor::number).collect();
        let taken = match body {
            BodyRule::Whole => Some("the request body carries the whole message"),
            BodyRule::Field(field) if numbers.first() == Some(&field.number()) => {
                Some("the request body sets this field")
            }
            _ if path_fields
                .iter()
                .any(|p| p.starts_with(&numbers) || numbers.starts_with(p)) =>
            {
                Some("the URL path sets this field")
            }
            _ => None,
        };
        if let Some(reason) = taken {
            return Err(Error::invalid_field(
                key.clone(),
                format!("query parameter {key:?} is not allowed: {reason}"),
            ));
        }
        set_path(message, &fields, &values, &key)?;
        if let Some(first) = numbers.first() {
            top_level.push(*first);
        }
    }
    Ok(top_level)
}

/// Sets the field at `fields` (a resolved path) from text `values`.
pub fn set_path(
    message: &mut DynamicMessage,
    fields: &[FieldDescriptor],
    values: &[String],
    name: &str,
) -> Result<(), Error> {
    let Some((leaf, parents)) = fields.split_last() else {
        return Ok(());
    };
    let mut current = message;
    for parent in parents {
        current = match current.get_field_mut(parent) {
            Value::Message(nested) => nested,
            _ => {
                return Err(Error::invalid_field(name, "not a message field"));
            }
        };
    }
    if leaf.is_map() {
        return Err(Error::invalid_field(
            name,
            "map fields cannot be set from the URL",
        ));
    }
    let parsed: Result<Vec<Value>, Error> = values
        .iter()
        .map(|text| {
            scalar_value(leaf, text)
                .map_err(|message| Error::invalid_field(name, format!("{name}: {message}")))
        })
        .collect();
    let mut parsed = parsed?;
    if leaf.is_list() {
        match current.get_field_mut(leaf) {
            Value::List(list) => list.append(&mut parsed),
            _ => return Err(Error::invalid_field(name, "not a repeated field")),
        }
    } else {
        if parsed.len() != 1 {
            return Err(Error::invalid_field(
                name,
                format!(
                    "{name} is not repeated but was given {} times",
                    parsed.len()
                ),
            ));
        }
        if let Some(value) = parsed.pop() {
            current.set_field(leaf, value);
        }
    }
    Ok(())
}

/// One text value for `field`'s kind.
pub fn scalar_value(field: &FieldDescriptor, text: &str) -> Result<Value, String> {
    kind_value(&field.kind(), text)
}

fn kind_value(kind: &Kind, text: &str) -> Result<Value, String> {
    let bad = |what: &str| format!("{text:?} is not {what}");
    Ok(match kind {
        Kind::Double => Value::F64(text.parse().map_err(|_| bad("a number"))?),
        Kind::Float => Value::F32(text.parse().map_err(|_| bad("a number"))?),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            Value::I32(text.parse().map_err(|_| bad("a 32-bit integer"))?)
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            Value::I64(text.parse().map_err(|_| bad("a 64-bit integer"))?)
        }
        Kind::Uint32 | Kind::Fixed32 => Value::U32(
            text.parse()
                .map_err(|_| bad("an unsigned 32-bit integer"))?,
        ),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(
            text.parse()
                .map_err(|_| bad("an unsigned 64-bit integer"))?,
        ),
        Kind::Bool => Value::Bool(match text {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => return Err(bad("true or false")),
        }),
        Kind::String => Value::String(text.to_owned()),
        Kind::Bytes => Value::Bytes(decode_base64(text).ok_or_else(|| bad("base64"))?.into()),
        Kind::Enum(enumeration) => {
            let value = enumeration
                .get_value_by_name(text)
                .or_else(|| text.parse().ok().and_then(|n| enumeration.get_value(n)))
                .ok_or_else(|| {
                    let names: Vec<String> =
                        enumeration.values().map(|v| v.name().to_owned()).collect();
                    format!(
                        "{text:?} is not a value of {}; expected one of {}",
                        enumeration.full_name(),
                        names.join(", ")
                    )
                })?;
            Value::EnumNumber(value.number())
        }
        Kind::Message(message) => match message.full_name() {
            "google.protobuf.Timestamp"
            | "google.protobuf.Duration"
            | "google.protobuf.FieldMask" => Value::Message(
                DynamicMessage::deserialize(message.clone(), Json::String(text.to_owned()))
                    .map_err(|error| format!("{text:?}: {error}"))?,
            ),
            name if name.starts_with("google.protobuf.") && name.ends_with("Value") => {
                let inner = message
                    .get_field_by_name("value")
                    .ok_or_else(|| format!("{name} cannot be set from the URL"))?;
                let value = kind_value(&inner.kind(), text)?;
                let mut wrapper = DynamicMessage::new(message.clone());
                wrapper.set_field(&inner, value);
                Value::Message(wrapper)
            }
            name => {
                return Err(format!(
                    "{name} is a message; set its fields with dotted names (field.subfield=…)"
                ));
            }
        },
    })
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
}
