//! Response message → JSON, in the proto3 JSON mapping: lowerCamel names, int64 as strings,
//! enums as names, well-known types in their JSON forms, fields at their defaults omitted.
//! With `response_body`, only that field is sent (its default included).

use prost_reflect::{DynamicMessage, FieldDescriptor, ReflectMessage, SerializeOptions, Value};
use serde_json::Value as Json;

use crate::errors::Error;

/// The JSON of `message`, or of its `response_body` field.
pub fn to_json(
    message: &DynamicMessage,
    response_body: Option<&FieldDescriptor>,
) -> Result<Json, Error> {
    let Some(field) = response_body else {
        return serde_json::to_value(message).map_err(render_error);
    };
    if let Value::Message(inner) = message.get_field(field).as_ref()
        && !field.is_list()
        && !field.is_map()
    {
        return serde_json::to_value(inner).map_err(render_error);
    }
    let mut only = DynamicMessage::new(message.descriptor());
    only.set_field(field, message.get_field(field).into_owned());
    let options = SerializeOptions::new().skip_default_fields(false);
    let json = only
        .serialize_with_options(serde_json::value::Serializer, &options)
        .map_err(render_error)?;
    Ok(json.get(field.json_name()).cloned().unwrap_or(Json::Null))
}

/// The JSON bytes of `message` (or its `response_body` field).
pub fn to_bytes(
    message: &DynamicMessage,
    response_body: Option<&FieldDescriptor>,
) -> Result<Vec<u8>, Error> {
    match response_body {
        // The common case straight to bytes, without building a `serde_json::Value` first.
        None => serde_json::to_vec(message).map_err(render_error),
        Some(_) => serde_json::to_vec(&to_json(message, response_body)?).map_err(render_error),
    }
}

fn render_error(error: serde_json::Error) -> Error {
    // Only an `Any` of a type the pool lacks can fail here.
    Error::Internal(format!("rendering the response as JSON: {error}"))
}
