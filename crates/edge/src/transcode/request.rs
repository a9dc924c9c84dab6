//! HTTP request → request message: the JSON body (per the binding's `body` rule), then the path
//! variables, then the query parameters; a PATCH without `update_mask` gets one from the body's
//! keys.
//!
//! JSON follows the proto3 mapping (prost-reflect's serde), accepting lowerCamel and original
//! names and rejecting unknown fields. When the body does not fit the message, the error names
//! the deepest field that fails on its own (`item.confidenceScore: …`).

use bytes::Bytes;
use http::Method;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, Value};
use serde_json::Value as Json;

use super::query;
use crate::descriptors::{Binding, BodyRule, resolve_path};
use crate::errors::Error;
use crate::template::Captures;

/// Builds the request message of `binding` from a matched request.
pub fn build(
    binding: &Binding,
    http_method: &Method,
    captures: &Captures,
    raw_query: Option<&str>,
    body: &Bytes,
) -> Result<DynamicMessage, Error> {
    let input = binding.method.input();
    let body_json = parse_body(&binding.body, body)?;
    let mut message = match (&binding.body, &body_json) {
        (BodyRule::None, _) | (_, None) => DynamicMessage::new(input.clone()),
        (BodyRule::Whole, Some(json)) => from_json(&input, json, "")?,
        (BodyRule::Field(field), Some(json)) => {
            let mut message = DynamicMessage::new(input.clone());
            let value = field_from_json(&input, field, json)?;
            message.set_field(field, value);
            message
        }
    };

    let mut path_fields = Vec::with_capacity(captures.len());
    for (field_path, value) in captures {
        let fields = resolve_path(&input, field_path)
            .map_err(|message| Error::Internal(format!("binding refers to {message}")))?;
        let name = field_path.join(".");
        query::set_path(&mut message, &fields, std::slice::from_ref(value), &name)?;
        path_fields.push(
            fields
                .iter()
                .map(FieldDescriptor::number)
                .collect::<Vec<_>>(),
        );
    }

    let query_set = query::apply(&mut message, &binding.body, &path_fields, raw_query)?;

    if *http_method == Method::PATCH
        && let (BodyRule::Field(body_field), Some(Json::Object(object))) =
            (&binding.body, &body_json)
        && let Some(mask_field) = input.get_field_by_name("update_mask")
        && matches!(mask_field.kind(), Kind::Message(m) if m.full_name() == "google.protobuf.FieldMask")
        && !query_set.contains(&mask_field.number())
        && let Kind::Message(resource) = body_field.kind()
    {
        let mut paths = Vec::new();
        mask_paths(&resource, object, "", &mut paths);
        if let Kind::Message(mask_descriptor) = mask_field.kind() {
            let mut mask = DynamicMessage::new(mask_descriptor);
            mask.set_field_by_name(
                "paths",
                Value::List(paths.into_iter().map(Value::String).collect()),
            );
            message.set_field(&mask_field, Value::Message(mask));
        }
    }
    Ok(message)
}

/// Parses the body as JSON (`None` when there is none); a body on a binding without one is 400.
fn parse_body(rule: &BodyRule, body: &Bytes) -> Result<Option<Json>, Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if matches!(rule, BodyRule::None) {
        return Err(Error::InvalidArgument {
            field: None,
            message: "this method takes no request body; send the fields as query parameters"
                .to_owned(),
            reason: "UNEXPECTED_BODY",
        });
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|error| Error::InvalidArgument {
            field: None,
            message: format!("malformed JSON body: {error}"),
            reason: "MALFORMED_JSON",
        })
}

/// One value of `field` (in `parent`) from JSON, through the parent message's mapping.
fn field_from_json(
    parent: &MessageDescriptor,
    field: &FieldDescriptor,
    json: &Json,
) -> Result<Value, Error> {
    let mut wrapper = serde_json::Map::new();
    wrapper.insert(field.json_name().to_owned(), json.clone());
    let message = from_json(parent, &Json::Object(wrapper), "")?;
    Ok(message.get_field(field).into_owned())
}

/// A message from JSON; on failure the error names the deepest field that fails alone.
pub fn from_json(
    descriptor: &MessageDescriptor,
    json: &Json,
    prefix: &str,
) -> Result<DynamicMessage, Error> {
    DynamicMessage::deserialize(descriptor.clone(), json)
        .map_err(|error| diagnose(descriptor, json, prefix, &error.to_string()))
}

fn diagnose(descriptor: &MessageDescriptor, json: &Json, prefix: &str, fallback: &str) -> Error {
    let Json::Object(object) = json else {
        return Error::InvalidArgument {
            field: (!prefix.is_empty()).then(|| prefix.trim_end_matches('.').to_owned()),
            message: format!("invalid JSON for {}: {fallback}", descriptor.full_name()),
            reason: "INVALID_JSON_FIELD",
        };
    };
    for (key, value) in object {
        let name = format!("{prefix}{key}");
        let Some(field) = descriptor
            .get_field_by_json_name(key)
            .or_else(|| descriptor.get_field_by_name(key))
        else {
            return Error::InvalidArgument {
                message: format!("unknown field {name:?} in {}", descriptor.full_name()),
                field: Some(name),
                reason: "UNKNOWN_FIELD",
            };
        };
        let mut alone = serde_json::Map::new();
        alone.insert(key.clone(), value.clone());
        let Err(error) = DynamicMessage::deserialize(descriptor.clone(), &Json::Object(alone))
        else {
            continue;
        };
        if let Kind::Message(nested) = field.kind()
            && !field.is_list()
            && !field.is_map()
            && !nested.full_name().starts_with("google.protobuf.")
            && value.is_object()
        {
            return diagnose(&nested, value, &format!("{name}."), &error.to_string());
        }
        return Error::InvalidArgument {
            message: format!("{name}: {error}"),
            field: Some(name),
            reason: "INVALID_JSON_FIELD",
        };
    }
    Error::InvalidArgument {
        field: None,
        message: format!("invalid JSON body: {fallback}"),
        reason: "INVALID_JSON_FIELD",
    }
}

/// Field-mask paths (proto names) for the keys present in a PATCH body.
fn mask_paths(
    descriptor: &MessageDescriptor,
    object: &serde_json::Map<String, Json>,
    prefix: &str,
    out: &mut Vec<String>,
) {
    for (key, value) in object {
        let Some(field) = descriptor
            .get_field_by_json_name(key)
            .or_else(|| descriptor.get_field_by_name(key))
        else {
            continue;
        };
        if !belongs_in_mask(field.clone(), prefix.is_empty()) {
            continue;
        }
        let path = format!("{prefix}{}", field.name());
        match (field.kind(), value) {
            (Kind::Message(nested), Json::Object(inner))
                if !field.is_list()
                    && !field.is_map()
                    && !nested.full_name().starts_with("google.protobuf.")
                    && !inner.is_empty() =>
            {
                mask_paths(&nested, inner, &format!("{path}."), out);
            }
            _ => out.push(path),
        }
    }
}

/// Whether a body key names something to update: not the resource's `name` or `etag` (they
/// identify and guard the update, AIP-134/154), and not an `OUTPUT_ONLY` or `IDENTIFIER` field
/// (`google.api.field_behavior`).
fn belongs_in_mask(field: FieldDescriptor, top_level: bool) -> bool {
    const OUTPUT_ONLY: i32 = 3;
    const IDENTIFIER: i32 = 8;
    if top_level && matches!(field.name(), "name" | "etag") {
        return false;
    }
    let Some(extension) = field
        .parent_pool()
        .get_extension_by_name("google.api.field_behavior")
    else {
        return true;
    };
    let options = field.options();
    if !options.has_extension(&extension) {
        return true;
    }
    match options.get_extension(&extension).as_ref() {
        Value::List(behaviors) => !behaviors
            .iter()
            .any(|behavior| matches!(behavior.as_enum_number(), Some(OUTPUT_ONLY | IDENTIFIER))),
        _ => true,
    }
}
