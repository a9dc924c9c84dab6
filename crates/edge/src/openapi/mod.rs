//! OpenAPI 3.1 from the bindings, served at `/openapi.json`: one operation per binding, path and
//! query parameters, request and response schemas in the proto3 JSON mapping, streams as NDJSON
//! or SSE, and `google.rpc.Status` as the error response of every operation.
//!
//! Multi-segment variables become one parameter per `*`: `/v1/{name=items/*}` is
//! `/v1/items/{item}` (the edge rebuilds `name` from the path), so the document contains no
//! templates a client cannot fill.

mod schema;

use std::collections::BTreeMap;

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Value as Json, json};

use crate::descriptors::{Binding, BodyRule};
use crate::template::Segment;
use schema::{Components, comment};

/// How deep query parameters follow nested messages (`a.b.c`).
const QUERY_DEPTH: usize = 3;

/// The OpenAPI 3.1 document for `bindings`.
pub fn document(bindings: &[Binding], title: &str) -> Json {
    let mut components = Components::default();
    let mut paths: BTreeMap<String, serde_json::Map<String, Json>> = BTreeMap::new();
    let mut operation_ids: BTreeMap<String, usize> = BTreeMap::new();
    for binding in bindings {
        let (path, path_parameters, path_fields) = openapi_path(binding);
        let base_id = format!(
            "{}_{}",
            binding.method.parent_service().name(),
            binding.method.name()
        );
        let count = operation_ids.entry(base_id.clone()).or_insert(0);
        *count += 1;
        let operation_id = if *count == 1 {
            base_id
        } else {
            format!("{base_id}_{count}")
        };
        let operation = operation(
            binding,
            operation_id,
            path_parameters,
            &path_fields,
            &mut components,
        );
        paths
            .entry(path)
            .or_default()
            .insert(binding.http_method.as_str().to_ascii_lowercase(), operation);
    }
    components.message_named_status();
    json!({
        "openapi": "3.1.0",
        "info": {"title": title, "version": "v1"},
        "paths": paths,
        "components": {
            "schemas": components.schemas,
            "responses": {
                "Error": {
                    "description": "A google.rpc.Status; the HTTP status follows the standard gRPC→HTTP table.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/google.rpc.Status"}}},
                }
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
        "security": [{"bearer": []}, {}],
    })
}

impl Components {
    /// Adds `google.rpc.Status` (the error body) whether or not a method uses it.
    fn message_named_status(&mut self) {
        self.schemas.entry("google.rpc.Status".to_owned()).or_insert_with(|| {
            json!({
                "type": "object",
                "properties": {
                    "code": {"type": "integer", "format": "int32", "description": "The google.rpc.Code."},
                    "message": {"type": "string"},
                    "details": {"type": "array", "items": {"type": "object", "properties": {"@type": {"type": "string"}}, "additionalProperties": true}},
                },
            })
        });
    }
}

/// The OpenAPI path, its path parameters, and the request field paths the path sets.
fn openapi_path(binding: &Binding) -> (String, Vec<Json>, Vec<Vec<String>>) {
    let template = &binding.template;
    let mut path = String::new();
    let mut parameters = Vec::new();
    let mut fields = Vec::new();
    let mut previous_literal = String::new();
    for (index, segment) in template.segments.iter().enumerate() {
        let variable = template
            .variables
            .iter()
            .find(|v| index >= v.start && v.end.is_none_or(|end| index < end));
        let single = variable.is_some_and(|v| v.end == Some(v.start + 1));
        let name = match (segment, variable) {
            (Segment::Literal(literal), _) => {
                previous_literal = literal.clone();
                path.push('/');
                path.push_str(literal);
                continue;
            }
            (_, Some(variable)) if single => variable.field_path.join("."),
            (Segment::DoubleStar, Some(variable)) => variable.field_path.join("."),
            (_, _) => singular(&previous_literal, index),
        };
        path.push_str(&format!("/{{{name}}}"));
        let description = match (segment, variable) {
            (Segment::DoubleStar, _) => "One or more path segments.".to_owned(),
            (_, Some(variable)) if !single => format!(
                "A segment of `{}` ({}).",
                variable.field_path.join("."),
                template.source
            ),
            _ => String::new(),
        };
        let mut parameter =
            json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}});
        if !description.is_empty() {
            parameter["description"] = json!(description);
        }
        parameters.push(parameter);
    }
    for variable in &template.variables {
        fields.push(variable.field_path.clone());
    }
    if let Some(verb) = &template.verb {
        path.push(':');
        path.push_str(verb);
    }
    (path, parameters, fields)
}

/// `items` → `item`, `policies` → `policy`; a name for the `*` after that literal.
fn singular(literal: &str, index: usize) -> String {
    if let Some(stem) = literal.strip_suffix("ies") {
        format!("{stem}y")
    } else if let Some(stem) = literal.strip_suffix('s')
        && !stem.is_empty()
    {
        stem.to_owned()
    } else if literal.is_empty() {
        format!("segment{index}")
    } else {
        format!("{literal}Id")
    }
}

fn operation(
    binding: &Binding,
    operation_id: String,
    mut parameters: Vec<Json>,
    path_fields: &[Vec<String>],
    components: &mut Components,
) -> Json {
    let method = &binding.method;
    let input = method.input();
    let mut operation = json!({
        "operationId": operation_id,
        "tags": [method.parent_service().name()],
        "summary": format!("{}.{}", method.parent_service().name(), method.name()),
    });
    if let Some(text) = comment(method.parent_file().file_descriptor_proto(), method.path()) {
        operation["description"] = json!(text);
    }
    let body_field = match &binding.body {
        BodyRule::Field(field) => Some(field.clone()),
        _ => None,
    };
    if !matches!(binding.body, BodyRule::Whole) {
        let mut prefix = Vec::new();
        query_parameters(
            &input,
            &mut prefix,
            path_fields,
            body_field.as_ref(),
            components,
            &mut parameters,
        );
    }
    operation["parameters"] = json!(parameters);
    let body_schema = match &binding.body {
        BodyRule::None => None,
        BodyRule::Whole => Some(components.message(&input)),
        BodyRule::Field(field) => Some(components.field(field)),
    };
    if let Some(schema) = body_schema {
        let media = if method.is_client_streaming() {
            "application/x-ndjson"
        } else {
            "application/json"
        };
        operation["requestBody"] =
            json!({"required": true, "content": {media: {"schema": schema}}});
    }
    let output = match &binding.response_body {
        Some(field) => components.field(field),
        None => components.message(&method.output()),
    };
    let content = if method.is_server_streaming() {
        json!({
            "application/x-ndjson": {"schema": {
                "type": "object",
                "description": "One per line; the last line may be an error.",
                "properties": {"result": output, "error": {"$ref": "#/components/schemas/google.rpc.Status"}},
            }},
            "text/event-stream": {"schema": {"type": "string", "description": "`data: <message JSON>` events; a final `event: error`."}},
        })
    } else {
        json!({"application/json": {"schema": output}})
    };
    operation["responses"] = json!({
        "200": {"description": "OK", "content": content},
        "default": {"$ref": "#/components/responses/Error"},
    });
    operation
}

/// Query parameters for the fields of `message` not set by the path or the body. `prefix` holds
/// (proto name, JSON name) pairs of the enclosing fields.
fn query_parameters(
    message: &MessageDescriptor,
    prefix: &mut Vec<(String, String)>,
    path_fields: &[Vec<String>],
    body_field: Option<&FieldDescriptor>,
    components: &mut Components,
    out: &mut Vec<Json>,
) {
    for field in message.fields() {
        if prefix.is_empty() && body_field.is_some_and(|body| body.number() == field.number()) {
            continue;
        }
        prefix.push((field.name().to_owned(), field.json_name().to_owned()));
        let proto_path: Vec<String> = prefix.iter().map(|(proto, _)| proto.clone()).collect();
        let exact = path_fields.contains(&proto_path);
        let overlaps = path_fields
            .iter()
            .any(|path| path.starts_with(&proto_path) || proto_path.starts_with(path));
        let nested = match field.kind() {
            Kind::Message(nested)
                if !field.is_list()
                    && !field.is_map()
                    && !nested.full_name().starts_with("google.protobuf.") =>
            {
                Some(nested)
            }
            _ => None,
        };
        if exact || field.is_map() {
            // Set by the path, or not expressible in a query string.
        } else if let Some(nested) = nested {
            if prefix.len() < QUERY_DEPTH {
                query_parameters(&nested, prefix, path_fields, None, components, out);
            }
        } else if !overlaps {
            let name = prefix
                .iter()
                .map(|(_, json)| json.as_str())
                .collect::<Vec<_>>()
                .join(".");
            let mut parameter =
                json!({"name": name, "in": "query", "schema": components.field(&field)});
            if field.is_list() {
                parameter["explode"] = json!(true);
            }
            out.push(parameter);
        }
        prefix.pop();
    }
}
