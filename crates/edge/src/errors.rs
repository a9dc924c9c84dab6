//! Every error the edge answers with, rendered as `google.rpc.Status` JSON.
//!
//! Upstream errors keep their code, message and details (decoded from `grpc-status-details-bin`
//! with the descriptor pool, so each detail is a JSON `Any` with `@type`); the HTTP status comes
//! from the one gRPC→HTTP table in `pake_core::error`. Errors the edge finds itself (routing,
//! JSON, limits) use the same shape with `BadRequest` and `ErrorInfo` details. Transport failures
//! never show their internal text.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};
use prost_reflect::{DescriptorPool, DynamicMessage};
use serde_json::{Value as Json, json};
use tonic::Code;

use crate::headers;

/// `ErrorInfo.domain` of errors the edge raises itself.
pub const DOMAIN: &str = pake_core::error::ERROR_DOMAIN;

/// An error answered to an HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed; `field` names the offending field when known.
    #[error("{message}")]
    InvalidArgument {
        /// The field (JSON path or query parameter), if known.
        field: Option<String>,
        /// What is wrong.
        message: String,
        /// `ErrorInfo.reason`.
        reason: &'static str,
    },
    /// No binding has this path.
    #[error("no route for {path}")]
    NotFound {
        /// The request path.
        path: String,
    },
    /// The path exists for other methods only.
    #[error("method not allowed")]
    MethodNotAllowed {
        /// The methods that are bound to the path.
        allow: Vec<Method>,
    },
    /// The body is larger than the limit.
    #[error("request body exceeds the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The upstream answered with (or the transport failed with) this status.
    #[error("upstream: {0}")]
    Upstream(Box<tonic::Status>),
    /// Something failed inside the edge; the text is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// A 400 naming `field`.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Error {
        Error::InvalidArgument {
            field: Some(field.into()),
            message: message.into(),
            reason: "INVALID_ARGUMENT",
        }
    }

    /// The gRPC code this error carries.
    pub fn code(&self) -> Code {
        match self {
            Error::InvalidArgument { .. } => Code::InvalidArgument,
            Error::NotFound { .. } => Code::NotFound,
            Error::MethodNotAllowed { .. } => Code::Unimplemented,
            Error::PayloadTooLarge { .. } => Code::ResourceExhausted,
            Error::Upstream(status) => status.code(),
            Error::Internal(_) => Code::Internal,
        }
    }

    /// The HTTP status.
    pub fn http_status(&self) -> StatusCode {
        match self {
            Error::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Error::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            _ => http_status(self.code()),
        }
    }

    /// The `google.rpc.Status` JSON for this error.
    pub fn to_json(&self, pool: &DescriptorPool) -> Json {
        match self {
            Error::Upstream(status) => upstream_status_json(status, pool),
            Error::InvalidArgument {
                field,
                message,
                reason,
            } => {
                let mut details = Vec::new();
                if let Some(field) = field {
                    details.push(json!({
                        "@type": "type.googleapis.com/google.rpc.BadRequest",
                        "fieldViolations": [{"field": field, "description": message}],
                    }));
                }
                details.push(error_info(reason));
                status_json(self.code(), message, details)
            }
            Error::NotFound { path } => status_json(
                self.code(),
                &format!("no HTTP binding for path {path}"),
                vec![error_info("ROUTE_NOT_FOUND")],
            ),
            Error::MethodNotAllowed { allow } => status_json(
                self.code(),
                &format!(
                    "method not allowed; this path accepts {}",
                    allow_header(allow)
                ),
                vec![error_info("METHOD_NOT_ALLOWED")],
            ),
            Error::PayloadTooLarge { limit } => status_json(
                self.code(),
                &format!("request body exceeds the limit of {limit} bytes"),
                vec![error_info("BODY_TOO_LARGE")],
            ),
            Error::Internal(text) => {
                tracing::error!(error = %text, "edge internal error");
                status_json(self.code(), "internal error", vec![])
            }
        }
    }

    /// The complete HTTP response.
    pub fn into_http(self, pool: &DescriptorPool) -> Response {
        let body = self.to_json(pool).to_string();
        let mut response = (
            self.http_status(),
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response();
        if let Error::MethodNotAllowed { allow } = &self
            && let Ok(value) = HeaderValue::from_str(&allow_header(allow))
        {
            response.headers_mut().insert(header::ALLOW, value);
        }
        if let Error::Upstream(status) = &self {
            headers::metadata_to_headers(status.metadata(), response.headers_mut());
        }
        response
    }
}

/// HTTP status for a gRPC code (the standard table, incl. 499, 429 and 504).
pub fn http_status(code: Code) -> StatusCode {
    StatusCode::from_u16(pake_core::error::http_status_for_code(code))
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn allow_header(allow: &[Method]) -> String {
    allow
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

fn error_info(reason: &str) -> Json {
    json!({
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": DOMAIN,
    })
}

fn status_json(code: Code, message: &str, details: Vec<Json>) -> Json {
    json!({"code": code as i32, "message": message, "details": details})
}

/// An upstream status as JSON, with its rich details when the pool knows their types.
pub fn upstream_status_json(status: &tonic::Status, pool: &DescriptorPool) -> Json {
    // A status the transport made (connection refused, reset) has a source; its text names
    // internal addresses, so it is replaced.
    let message = if std::error::Error::source(status).is_some() {
        match status.code() {
            Code::DeadlineExceeded => "upstream deadline exceeded".to_owned(),
            Code::Cancelled => "the call was cancelled".to_owned(),
            _ => "upstream unavailable".to_owned(),
        }
    } else {
        status.message().to_owned()
    };
    let details = decode_details(status.details(), pool).unwrap_or_default();
    status_json(status.code(), &message, details)
}

fn decode_details(bytes: &[u8], pool: &DescriptorPool) -> Option<Vec<Json>> {
    if bytes.is_empty() {
        return None;
    }
    let descriptor = pool
        .get_message_by_name("google.rpc.Status")
        .or_else(|| fallback_pool().get_message_by_name("google.rpc.Status"))?;
    let message = match DynamicMessage::decode(descriptor, bytes) {
        Ok(message) => message,
        Err(error) => {
            tracing::warn!(%error, "undecodable grpc-status-details-bin");
            return None;
        }
    };
    let json = match serde_json::to_value(&message) {
        Ok(json) => json,
        Err(error) => {
            // An Any whose type the pool does not know.
            tracing::warn!(%error, "error details not renderable as JSON");
            return None;
        }
    };
    json.get("details").and_then(Json::as_array).cloned()
}

/// PAKE's own pool, which always has `google.rpc` (for descriptor sets that lack it).
fn fallback_pool() -> &'static DescriptorPool {
    static POOL: std::sync::OnceLock<DescriptorPool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(pake_api::FILE_DESCRIPTOR_SET).unwrap_or_else(|error| {
            tracing::error!(%error, "pake-api descriptor set does not decode");
            DescriptorPool::new()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_table_covers_the_gateway_convention() {
        let table = [
            (Code::Cancelled, 499),
            (Code::InvalidArgument, 400),
            (Code::DeadlineExceeded, 504),
            (Code::NotFound, 404),
            (Code::AlreadyExists, 409),
            (Code::PermissionDenied, 403),
            (Code::ResourceExhausted, 429),
            (Code::FailedPrecondition, 400),
            (Code::Aborted, 409),
            (Code::OutOfRange, 400),
            (Code::Unimplemented, 501),
            (Code::Internal, 500),
            (Code::Unavailable, 503),
            (Code::DataLoss, 500),
            (Code::Unauthenticated, 401),
        ];
        for (code, expected) in table {
            assert_eq!(http_status(code).as_u16(), expected, "{code:?}");
        }
    }

    #[test]
    fn upstream_details_render_as_typed_any() {
        use prost::Message;
        let info = prost_types::Any {
            type_url: "type.googleapis.com/google.rpc.ErrorInfo".to_owned(),
            value: {
                let pool = fallback_pool();
                let descriptor = pool
                    .get_message_by_name("google.rpc.ErrorInfo")
                    .expect("ErrorInfo");
                let mut message = DynamicMessage::new(descriptor);
                message
                    .set_field_by_name("reason", prost_reflect::Value::String("STALE_ETAG".into()));
                message.encode_to_vec()
            },
        };
        let status_descriptor = fallback_pool()
            .get_message_by_name("google.rpc.Status")
            .expect("Status");
        let mut status = DynamicMessage::new(status_descriptor);
        status.set_field_by_name("code", prost_reflect::Value::I32(10));
        status.set_field_by_name(
            "details",
            prost_reflect::Value::List(vec![prost_reflect::Value::Message(
                DynamicMessage::decode(
                    fallback_pool()
                        .get_message_by_name("google.protobuf.Any")
                        .expect("Any"),
                    info.encode_to_vec().as_slice(),
                )
                .expect("Any decodes"),
            )]),
        );
        let tonic_status =
            tonic::Status::with_details(Code::Aborted, "stale etag", status.encode_to_vec().into());
        let json = Error::Upstream(Box::new(tonic_status)).to_json(fallback_pool());
        assert_eq!(json["code"], 10);
        assert_eq!(json["message"], "stale etag");
        assert_eq!(
            json["details"][0]["@type"],
            "type.googleapis.com/google.rpc.ErrorInfo"
        );
        assert_eq!(json["details"][0]["reason"], "STALE_ETAG");
    }
}
