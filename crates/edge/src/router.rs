//! The routing table: every [`Binding`] ordered by precedence, matched against a request.
//!
//! Order: literal segments win over `*`, which wins over `**`, compared segment by segment from
//! the left; a template with a custom verb wins over the same shape without one. Two bindings
//! with the same HTTP method, verb and shape are a conflict, reported when the table is built.
//! A path that matches only bindings of other HTTP methods is a 405 with their methods in
//! `Allow`; a path that matches nothing is a 404.

use std::collections::BTreeSet;

use http::Method;

use crate::descriptors::Binding;
use crate::template::{Captures, DecodeError, Segment};

/// Two bindings that would answer the same requests.
#[derive(Debug, thiserror::Error)]
#[error("conflicting HTTP bindings: {method} {template} is bound to both {first} and {second}")]
pub struct ConflictError {
    /// The HTTP method.
    pub method: Method,
    /// The template (as written in the first binding).
    pub template: String,
    /// The first gRPC method.
    pub first: String,
    /// The second gRPC method.
    pub second: String,
}

/// The outcome of routing one request.
#[derive(Debug)]
pub enum Match<'a> {
    /// This binding, with the captured path variables.
    Found(&'a Binding, Captures),
    /// The path exists for these other methods only.
    MethodNotAllowed(Vec<Method>),
    /// No binding has this path.
    NotFound,
    /// The path has a binding's shape but a segment is not valid percent-encoded UTF-8.
    BadPath(DecodeError),
}

/// Bindings in precedence order.
#[derive(Debug, Default)]
pub struct Router {
    routes: Vec<Binding>,
}

type ShapeKey = (Method, Option<String>, Vec<Segment>);

impl Router {
    /// Orders `bindings` and rejects conflicts.
    pub fn new(mut bindings: Vec<Binding>) -> Result<Router, ConflictError> {
        bindings.sort_by(|a, b| {
            let key = |binding: &Binding| {
                (
                    binding.template.precedence(),
                    binding.template.verb.is_none(),
                )
            };
            key(a).cmp(&key(b))
        });
        let mut seen: Vec<(ShapeKey, &Binding)> = Vec::new();
        for binding in &bindings {
            let shape = (
                binding.http_method.clone(),
                binding.template.verb.clone(),
                binding.template.segments.clone(),
            );
            if let Some((_, first)) = seen.iter().find(|(key, _)| *key == shape) {
                return Err(ConflictError {
                    method: binding.http_method.clone(),
                    template: first.template.source.clone(),
                    first: first.method.full_name().to_owned(),
                    second: binding.method.full_name().to_owned(),
                });
            }
            seen.push((shape, binding));
        }
        Ok(Router { routes: bindings })
    }

    /// Every binding, in precedence order.
    pub fn bindings(&self) -> &[Binding] {
        &self.routes
    }

    /// Routes `method` and the raw (percent-encoded) `path`.
    pub fn route(&self, method: &Method, path: &str) -> Match<'_> {
        let mut allowed = BTreeSet::new();
        let mut bad_path = None;
        for binding in &self.routes {
            match binding.template.match_path(path) {
                Ok(Some(captures)) => {
                    if binding.http_method == *method {
                        return Match::Found(binding, captures);
                    }
                    allowed.insert(binding.http_method.to_string());
                }
                Ok(None) => {}
                Err(error) => {
                    if binding.http_method == *method && bad_path.is_none() {
                        bad_path = Some(error);
                    }
                }
            }
        }
        if let Some(error) = bad_path {
            return Match::BadPath(error);
        }
        if allowed.is_empty() {
            Match::NotFound
        } else {
            Match::MethodNotAllowed(
                allowed
                    .iter()
                    .filter_map(|name| Method::from_bytes(name.as_bytes()).ok())
                    .collect(),
            )
        }
    }
}

#[cfg(test)]
#[path = "router_tests.rs"]
mod tests;
