//! JSON Schemas (OpenAPI 3.1 dialect) for protobuf messages, enums and fields as the proto3 JSON
//! mapping writes them, plus doc comments from the descriptors' source info.

use std::collections::BTreeMap;

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Value as Json, json};

/// Collects the component schemas referenced while describing fields.
#[derive(Default)]
pub struct Components {
    pub schemas: BTreeMap<String, Json>,
}

impl Components {
    /// A `$ref` to `message` (adding its schema), or the inline schema of a well-known type.
    pub fn message(&mut self, message: &MessageDescriptor) -> Json {
        if let Some(schema) = well_known(message.full_name()) {
            return schema;
        }
        let name = message.full_name().to_owned();
        if !self.schemas.contains_key(&name) {
            // Reserve the name first: messages may refer to themselves.
            self.schemas.insert(name.clone(), json!({}));
            let mut properties = serde_json::Map::new();
            for field in message.fields() {
                properties.insert(field.json_name().to_owned(), self.field(&field));
            }
            let mut schema = json!({"type": "object", "properties": properties});
            if let Some(text) = comment(
                message.parent_file().file_descriptor_proto(),
                message.path(),
            ) {
                schema["description"] = json!(text);
            }
            self.schemas.insert(name.clone(), schema);
        }
        json!({"$ref": format!("#/components/schemas/{name}")})
    }

    /// The schema of one field's JSON value (arrays and maps included).
    pub fn field(&mut self, field: &FieldDescriptor) -> Json {
        let mut schema = if field.is_map() {
            let value = match field.kind() {
                Kind::Message(entry) => entry
                    .get_field_by_name("value")
                    .map(|value| self.kind(&value.kind()))
                    .unwrap_or_else(|| json!({})),
                _ => json!({}),
            };
            json!({"type": "object", "additionalProperties": value})
        } else if field.is_list() {
            json!({"type": "array", "items": self.kind(&field.kind())})
        } else {
            self.kind(&field.kind())
        };
        if let Some(text) = comment(field.parent_file().file_descriptor_proto(), field.path())
            && let Some(object) = schema.as_object_mut()
        {
            // OpenAPI 3.1 allows siblings of `$ref`.
            object.insert("description".to_owned(), json!(text));
        }
        schema
    }

    /// The schema of a single value of `kind`.
    pub fn kind(&mut self, kind: &Kind) -> Json {
        match kind {
            Kind::Double | Kind::Float => json!({"type": "number"}),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
                json!({"type": "integer", "format": "int32"})
            }
            Kind::Uint32 | Kind::Fixed32 => {
                json!({"type": "integer", "format": "int64", "minimum": 0})
            }
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
                json!({"type": "string", "format": "int64"})
            }
            Kind::Uint64 | Kind::Fixed64 => json!({"type": "string", "format": "uint64"}),
            Kind::Bool => json!({"type": "boolean"}),
            Kind::String => json!({"type": "string"}),
            Kind::Bytes => json!({"type": "string", "format": "byte", "contentEncoding": "base64"}),
            Kind::Enum(enumeration) => {
                let names: Vec<String> =
                    enumeration.values().map(|v| v.name().to_owned()).collect();
                json!({"type": "string", "enum": names})
            }
            Kind::Message(message) => self.message(message),
        }
    }
}

/// The inline schema of a well-known type's JSON form.
fn well_known(full_name: &str) -> Option<Json> {
    let nullable = |kind: &str| json!({"type": [kind, "null"]});
    Some(match full_name {
        "google.protobuf.Timestamp" => json!({"type": "string", "format": "date-time"}),
        "google.protobuf.Duration" => {
            json!({"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]{1,9})?s$", "examples": ["1.5s"]})
        }
        "google.protobuf.FieldMask" => {
            json!({"type": "string", "description": "Comma-separated lowerCamel field paths."})
        }
        "google.protobuf.Struct" => json!({"type": "object", "additionalProperties": true}),
        "google.protobuf.Value" => json!({}),
        "google.protobuf.ListValue" => json!({"type": "array", "items": {}}),
        "google.protobuf.Empty" => json!({"type": "object"}),
        "google.protobuf.Any" => json!({
            "type": "object",
            "properties": {"@type": {"type": "string"}},
            "required": ["@type"],
            "additionalProperties": true,
        }),
        "google.protobuf.DoubleValue" | "google.protobuf.FloatValue" => nullable("number"),
        "google.protobuf.Int32Value" | "google.protobuf.UInt32Value" => nullable("integer"),
        "google.protobuf.Int64Value" | "google.protobuf.UInt64Value" => nullable("string"),
        "google.protobuf.BoolValue" => nullable("boolean"),
        "google.protobuf.StringValue" | "google.protobuf.BytesValue" => nullable("string"),
        _ => return None,
    })
}

/// The leading comment of the element at `path` in `file`, trimmed.
pub fn comment(file: &prost_types::FileDescriptorProto, path: &[i32]) -> Option<String> {
    let info = file.source_code_info.as_ref()?;
    let location = info
        .location
        .iter()
        .find(|location| location.path == path)?;
    let text = location.leading_comments.as_deref()?.trim();
    (!text.is_empty()).then(|| text.lines().map(str::trim).collect::<Vec<_>>().join("\n"))
}
