//! Loading a FileDescriptorSet and reading its `google.api.http` rules into [`Binding`]s.
//!
//! The pool keeps custom options (prost-reflect decodes them as raw extensions), so the
//! `google.api.http` extension is read from each method's options, including
//! `additional_bindings` and `custom` verbs. Nothing here knows any particular service.

use std::path::Path;

use http::Method;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MethodDescriptor, Value,
};

use crate::template::{self, Template};

/// Full name of the `google.api.http` method option.
pub const HTTP_EXTENSION: &str = "google.api.http";

/// Where the request body goes.
#[derive(Clone, Debug)]
pub enum BodyRule {
    /// No body: everything comes from the path and the query.
    None,
    /// `body: "*"`: the body is the whole request message (path variables override).
    Whole,
    /// `body: "field"`: the body is this top-level field.
    Field(FieldDescriptor),
}

/// One HTTP binding of one gRPC method.
#[derive(Clone, Debug)]
pub struct Binding {
    /// The gRPC method.
    pub method: MethodDescriptor,
    /// The HTTP method (`custom` kinds too).
    pub http_method: Method,
    /// The path template.
    pub template: Template,
    /// Where the body goes.
    pub body: BodyRule,
    /// `response_body`: the response field sent instead of the whole message.
    pub response_body: Option<FieldDescriptor>,
}

impl Binding {
    /// `/package.Service/Method`, the gRPC path.
    pub fn grpc_path(&self) -> String {
        format!(
            "/{}/{}",
            self.method.parent_service().full_name(),
            self.method.name()
        )
    }
}

/// Problems with a descriptor set or its rules; reported at start-up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("reading descriptor set {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The bytes are not a valid FileDescriptorSet.
    #[error("decoding descriptor set: {0}")]
    Decode(#[from] prost_reflect::DescriptorError),
    /// A path template does not parse.
    #[error("{method}: {source}")]
    Template {
        /// The gRPC method.
        method: String,
        /// The parse error.
        source: template::ParseError,
    },
    /// A rule refers to something the request or response message lacks.
    #[error("{method}: {message}")]
    Rule {
        /// The gRPC method.
        method: String,
        /// What is wrong.
        message: String,
    },
}

/// The pool from a file, or PAKE's own descriptor set when `path` is `None`.
pub fn load_pool(path: Option<&Path>) -> Result<DescriptorPool, Error> {
    match path {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|source| Error::Read {
                path: path.display().to_string(),
                source,
            })?;
            Ok(DescriptorPool::decode(bytes.as_slice())?)
        }
        None => Ok(DescriptorPool::decode(pake_api::FILE_DESCRIPTOR_SET)?),
    }
}

/// Every binding of every method in the pool that has a `google.api.http` option.
pub fn bindings(pool: &DescriptorPool) -> Result<Vec<Binding>, Error> {
    let Some(extension) = pool.get_extension_by_name(HTTP_EXTENSION) else {
        return Ok(Vec::new());
    };
    let mut bindings = Vec::new();
    for service in pool.services() {
        for method in service.methods() {
            let options = method.options();
            if !options.has_extension(&extension) {
                continue;
            }
            let Value::Message(rule) = options.get_extension(&extension).into_owned() else {
                continue;
            };
            push_rule(&method, &rule, true, &mut bindings)?;
        }
    }
    Ok(bindings)
}

fn push_rule(
    method: &MethodDescriptor,
    rule: &DynamicMessage,
    top_level: bool,
    out: &mut Vec<Binding>,
) -> Result<(), Error> {
    let rule_error = |message: String| Error::Rule {
        method: method.full_name().to_owned(),
        message,
    };
    let string = |name: &str| -> String {
        rule.get_field_by_name(name)
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let mut pattern = None;
    for verb in ["get", "put", "post", "delete", "patch"] {
        if rule.has_field_by_name(verb) {
            let method = Method::from_bytes(verb.to_ascii_uppercase().as_bytes())
                .map_err(|error| rule_error(error.to_string()))?;
            pattern = Some((method, string(verb)));
        }
    }
    if rule.has_field_by_name("custom")
        && let Some(Value::Message(custom)) =
            rule.get_field_by_name("custom").map(|v| v.into_owned())
    {
        let text = |name: &str| {
            custom
                .get_field_by_name(name)
                .and_then(|value| value.as_str().map(str::to_owned))
                .unwrap_or_default()
        };
        let method = Method::from_bytes(text("kind").as_bytes()).map_err(|_| {
            rule_error(format!(
                "custom kind {:?} is not an HTTP method",
                text("kind")
            ))
        })?;
        pattern = Some((method, text("path")));
    }
    if let Some((http_method, path)) = pattern {
        let template = Template::parse(&path).map_err(|source| Error::Template {
            method: method.full_name().to_owned(),
            source,
        })?;
        let input = method.input();
        for variable in &template.variables {
            resolve_path(&input, &variable.field_path).map_err(|message| {
                rule_error(format!(
                    "path variable {}: {message}",
                    variable.field_path.join(".")
                ))
            })?;
        }
        let body = match string("body").as_str() {
            "" => BodyRule::None,
            "*" => BodyRule::Whole,
            name => BodyRule::Field(input.get_field_by_name(name).ok_or_else(|| {
                rule_error(format!(
                    "body field {name:?} is not in {}",
                    input.full_name()
                ))
            })?),
        };
        let response_body = match string("response_body").as_str() {
            "" => None,
            name => Some(method.output().get_field_by_name(name).ok_or_else(|| {
                rule_error(format!(
                    "response_body field {name:?} is not in {}",
                    method.output().full_name()
                ))
            })?),
        };
        out.push(Binding {
            method: method.clone(),
            http_method,
            template,
            body,
            response_body,
        });
    } else if top_level {
        return Err(rule_error(
            "google.api.http rule without a pattern".to_owned(),
        ));
    }
    if let Some(Value::List(additional)) = rule
        .get_field_by_name("additional_bindings")
        .map(|v| v.into_owned())
    {
        for value in additional {
            if let Value::Message(nested) = value {
                push_rule(method, &nested, false, out)?;
            }
        }
    }
    Ok(())
}

/// Resolves a dotted path of proto field names to its fields; every field but the last must be a
/// singular message.
pub fn resolve_path(
    message: &prost_reflect::MessageDescriptor,
    path: &[String],
) -> Result<Vec<FieldDescriptor>, String> {
    let mut fields = Vec::with_capacity(path.len());
    let mut current = message.clone();
    for (index, name) in path.iter().enumerate() {
        let field = current
            .get_field_by_name(name)
            .or_else(|| current.get_field_by_json_name(name))
            .ok_or_else(|| format!("no field {name:?} in {}", current.full_name()))?;
        if index + 1 < path.len() {
            match field.kind() {
                Kind::Message(next) if !field.is_list() && !field.is_map() => current = next,
                _ => return Err(format!("{name:?} is not a singular message field")),
            }
        }
        fields.push(field);
    }
    Ok(fields)
}
