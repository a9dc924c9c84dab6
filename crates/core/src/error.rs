//! The error table: one enum of domain error kinds, mapped once to `tonic::Code` and HTTP.
//!
//! Services return [`Error`]; the gRPC adapters convert it with `tonic::Status::from`. The client
//! sees the kind's code, a client-safe message and `google.rpc` details (`ErrorInfo` with an
//! UPPER_SNAKE reason, `BadRequest` field violations, `RetryInfo` for throttling). The internal
//! cause of an [`ErrorKind::Internal`] / [`ErrorKind::Unavailable`] error is logged once, here, and
//! never sent.

use std::time::Duration;

use tonic::Code;
use tonic_types::{ErrorDetails, StatusExt};

/// The domain of every error PAKE reports.
pub const ERROR_DOMAIN: &str = "pake.dev";

/// Result alias used across PAKE's libraries.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, from the caller's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request is malformed; the field violations say where.
    InvalidArgument,
    /// The resource does not exist, or the caller may not read it (indistinguishable on purpose).
    NotFound,
    /// A resource with that name already exists.
    AlreadyExists,
    /// A concurrency conflict: stale etag or a lost race. Re-read and retry.
    Aborted,
    /// The system is not in a state where the operation can run (e.g. an expired feed cursor).
    FailedPrecondition,
    /// The caller can see the resource but may not change it.
    PermissionDenied,
    /// No valid credentials.
    Unauthenticated,
    /// Rate limited or a bounded queue is full; `RetryInfo` says when to retry.
    ResourceExhausted,
    /// A dependency is down or the server is shutting down; safe to retry.
    Unavailable,
    /// The operation did not finish in time.
    DeadlineExceeded,
    /// The method exists in the contract but is not implemented yet.
    Unimplemented,
    /// The caller went away.
    Cancelled,
    /// A bug or an unexpected failure; details are logged, not returned.
    Internal,
}

impl ErrorKind {
    /// The gRPC status code for this kind.
    pub fn grpc_code(self) -> Code {
        match self {
            ErrorKind::InvalidArgument => Code::InvalidArgument,
            ErrorKind::NotFound => Code::NotFound,
            ErrorKind::AlreadyExists => Code::AlreadyExists,
            ErrorKind::Aborted => Code::Aborted,
            ErrorKind::FailedPrecondition => Code::FailedPrecondition,
            ErrorKind::PermissionDenied => Code::PermissionDenied,
            ErrorKind::Unauthenticated => Code::Unauthenticated,
            ErrorKind::ResourceExhausted => Code::ResourceExhausted,
            ErrorKind::Unavailable => Code::Unavailable,
            ErrorKind::DeadlineExceeded => Code::DeadlineExceeded,
            ErrorKind::Unimplemented => Code::Unimplemented,
            ErrorKind::Cancelled => Code::Cancelled,
            ErrorKind::Internal => Code::Internal,
        }
    }

    /// The HTTP status for this kind (via the standard gRPC → HTTP table).
    pub fn http_status(self) -> u16 {
        http_status_for_code(self.grpc_code())
    }

    /// Whether the message may be shown to the client as written.
    fn is_client_safe(self) -> bool {
        !matches!(self, ErrorKind::Internal)
    }
}

/// The standard gRPC → HTTP status mapping (as grpc-gateway and Envoy's transcoder use it).
pub fn http_status_for_code(code: Code) -> u16 {
    match code {
        Code::Ok => 200,
        Code::Cancelled => 499,
        Code::Unknown => 500,
        Code::InvalidArgument => 400,
        Code::DeadlineExceeded => 504,
        Code::NotFound => 404,
        Code::AlreadyExists => 409,
        Code::PermissionDenied => 403,
        Code::ResourceExhausted => 429,
        Code::FailedPrecondition => 400,
        Code::Aborted => 409,
        Code::OutOfRange => 400,
        Code::Unimplemented => 501,
        Code::Internal => 500,
        Code::Unavailable => 503,
        Code::DataLoss => 500,
        Code::Unauthenticated => 401,
    }
}

/// One violated field of a request (`google.rpc.BadRequest.FieldViolation`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path of the field, e.g. `item.title` or `page_size`.
    pub field: String,
    /// What is wrong and what is allowed.
    pub description: String,
}

/// A PAKE error: a kind, a client-safe message, optional details and an internal cause.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    reason: &'static str,
    field_violations: Vec<FieldViolation>,
    retry_after: Option<Duration>,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// A new error of `kind` with a client-safe `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            reason: default_reason(kind),
            field_violations: Vec::new(),
            retry_after: None,
            source: None,
        }
    }

    /// INVALID_ARGUMENT naming `field`.
    pub fn invalid_field(field: impl Into<String>, description: impl Into<String>) -> Self {
        let field = field.into();
        let description = description.into();
        Error::new(
            ErrorKind::InvalidArgument,
            format!("{field}: {description}"),
        )
        .with_violation(FieldViolation { field, description })
    }

    /// INVALID_ARGUMENT for several fields at once (all problems reported in one answer).
    pub fn invalid_fields(violations: Vec<FieldViolation>) -> Self {
        let message = violations
            .iter()
            .map(|v| format!("{}: {}", v.field, v.description))
            .collect::<Vec<_>>()
            .join("; ");
        let mut error = Error::new(ErrorKind::InvalidArgument, message);
        error.field_violations = violations;
        error
    }

    /// NOT_FOUND for a resource name.
    pub fn not_found(name: &str) -> Self {
        Error::new(ErrorKind::NotFound, format!("{name} not found"))
    }

    /// UNAUTHENTICATED with a client-safe message.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Unauthenticated, message)
    }

    /// PERMISSION_DENIED with a client-safe message.
    pub fn permission_denied(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::PermissionDenied, message)
    }

    /// RESOURCE_EXHAUSTED carrying `RetryInfo`.
    pub fn resource_exhausted(message: impl Into<String>, retry_after: Duration) -> Self {
        let mut error = Error::new(ErrorKind::ResourceExhausted, message);
        error.retry_after = Some(retry_after);
        error
    }

    /// INTERNAL wrapping a cause that is logged but never sent to the client.
    pub fn internal(source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        Error::new(ErrorKind::Internal, "internal error").with_source(source)
    }

    /// UNAVAILABLE (a dependency is down); the cause is logged, not sent.
    pub fn unavailable(
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        Error::new(ErrorKind::Unavailable, message).with_source(source)
    }

    /// Sets the UPPER_SNAKE `ErrorInfo.reason`.
    pub fn with_reason(mut self, reason: &'static str) -> Self {
        self.reason = reason;
        self
    }

    /// Attaches `RetryInfo` (e.g. UNAVAILABLE that is worth retrying after a pause).
    pub fn with_retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = Some(retry_after);
        self
    }

    /// Adds a field violation.
    pub fn with_violation(mut self, violation: FieldViolation) -> Self {
        self.field_violations.push(violation);
        self
    }

    /// Attaches the internal cause.
    pub fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The `ErrorInfo.reason`.
    pub fn reason(&self) -> &'static str {
        self.reason
    }

    /// The field violations, if any.
    pub fn field_violations(&self) -> &[FieldViolation] {
        &self.field_violations
    }
}

fn default_reason(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidArgument => "INVALID_FIELD",
        ErrorKind::NotFound => "NOT_FOUND",
        ErrorKind::AlreadyExists => "ALREADY_EXISTS",
        ErrorKind::Aborted => "ABORTED",
        ErrorKind::FailedPrecondition => "FAILED_PRECONDITION",
        ErrorKind::PermissionDenied => "PERMISSION_DENIED",
        ErrorKind::Unauthenticated => "UNAUTHENTICATED",
        ErrorKind::ResourceExhausted => "RESOURCE_EXHAUSTED",
        ErrorKind::Unavailable => "UNAVAILABLE",
        ErrorKind::DeadlineExceeded => "DEADLINE_EXCEEDED",
        ErrorKind::Unimplemented => "UNIMPLEMENTED",
        ErrorKind::Cancelled => "CANCELLED",
        ErrorKind::Internal => "INTERNAL",
    }
}

impl From<Error> for tonic::Status {
    fn from(error: Error) -> Self {
        if let Some(source) = &error.source {
            tracing::error!(kind = ?error.kind, reason = error.reason, cause = %source, "request failed");
        }
        let message = if error.kind.is_client_safe() {
            error.message.clone()
        } else {
            "internal error".to_owned()
        };
        let mut details = ErrorDetails::new();
        details.set_error_info(error.reason, ERROR_DOMAIN, std::collections::HashMap::new());
        if !error.field_violations.is_empty() {
            for violation in &error.field_violations {
                details.add_bad_request_violation(&violation.field, &violation.description);
            }
        }
        if let Some(retry_after) = error.retry_after {
            details.set_retry_info(Some(retry_after));
        }
        tonic::Status::with_error_details(error.kind.grpc_code(), message, details)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_causes_never_reach_the_client() {
        let status: tonic::Status = Error::internal("disk /var/secret exploded").into();
        assert_eq!(status.code(), Code::Internal);
        assert_eq!(status.message(), "internal error");
        assert!(!format!("{:?}", status.details()).contains("secret"));
    }

    #[test]
    fn field_violations_and_retry_info_travel_as_details() {
        let status: tonic::Status = Error::invalid_field("item.title", "must not be empty").into();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "item.title: must not be empty");
        let details = status.get_error_details();
        let bad_request = details.bad_request().expect("bad request details");
        assert_eq!(bad_request.field_violations[0].field, "item.title");
        assert_eq!(
            details.error_info().expect("error info").reason,
            "INVALID_FIELD"
        );

        let throttled: tonic::Status =
            Error::resource_exhausted("slow down", Duration::from_secs(3)).into();
        let retry = throttled
            .get_error_details()
            .retry_info()
            .cloned()
            .expect("retry info");
        assert_eq!(retry.retry_delay, Some(Duration::from_secs(3)));
        assert_eq!(throttled.code(), Code::ResourceExhausted);
    }

    #[test]
    fn http_table_matches_the_gateway_convention() {
        assert_eq!(http_status_for_code(Code::Cancelled), 499);
        assert_eq!(http_status_for_code(Code::ResourceExhausted), 429);
        assert_eq!(http_status_for_code(Code::DeadlineExceeded), 504);
        assert_eq!(http_status_for_code(Code::Unimplemented), 501);
        assert_eq!(ErrorKind::Aborted.http_status(), 409);
        assert_eq!(ErrorKind::Unauthenticated.http_status(), 401);
    }
}
