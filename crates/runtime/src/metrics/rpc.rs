//! RPC metrics: a tower layer in front of every gRPC service of a [`crate::GrpcServer`]
//! (outside authentication and rate limits, so refused calls count too).
//!
//! - `pake_rpc_requests_total{service,method,code}` — calls that ended, by gRPC status name
//!   (`OK`, `NOT_FOUND`, …), found by [`crate::call_end`], so a streaming call is counted **when
//!   it ends**, with its final status. A call whose client went away first counts as
//!   `CANCELLED`; a response without any `grpc-status` as `UNKNOWN`.
//! - `pake_rpc_duration_seconds{service,method}` — from the request head until the call ended
//!   (the trailers were sent); for a server stream that is the stream's whole life.
//! - `pake_rpc_in_flight{service,method}` — calls started and not yet ended (open streams
//!   included).
//!
//! `service` and `method` come from the path `/package.Service/Method` only when the method
//! belongs to a service this server runs; any other path is counted as
//! [`UNKNOWN`]/[`UNKNOWN`], so clients cannot create series at will.

use std::collections::HashSet;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures::future::BoxFuture;
use prost::Message;
use tonic::body::Body;

use crate::call_end::{CallEnd, EndObserver};

use super::{Counter, DURATION_BUCKETS, Family, Gauge, HistogramFamily, Labels};

/// The `service` and `method` label of calls to methods this server does not run.
pub const UNKNOWN: &str = "unknown";

/// The process-wide RPC families.
#[derive(Clone, Debug)]
struct Families {
    requests: Family<Labels, Counter>,
    duration: HistogramFamily,
    in_flight: Family<Labels, Gauge>,
}

impl Families {
    fn get() -> Families {
        Families {
            requests: super::counter_family(
                "pake_rpc_requests",
                "gRPC calls that ended, by service, method and status code",
            ),
            duration: super::histogram_family(
                "pake_rpc_duration_seconds",
                "Time from a gRPC call's request head until it ended (a stream's whole life)",
                &DURATION_BUCKETS,
            ),
            in_flight: super::gauge_family(
                "pake_rpc_in_flight",
                "gRPC calls started and not yet ended (open streams included)",
            ),
        }
    }
}

/// The layer; cheap to clone.
#[derive(Clone, Debug)]
pub struct RpcMetricsLayer {
    families: Families,
    /// `/package.Service/Method` of every method the server runs.
    known: Arc<HashSet<String>>,
}

impl RpcMetricsLayer {
    /// Labels calls to the methods of `services` (fully-qualified names) found in the encoded
    /// FileDescriptorSets `descriptor_sets`; other paths are [`UNKNOWN`].
    pub fn new(descriptor_sets: &[&[u8]], services: &[&str]) -> Self {
        let mut known = HashSet::new();
        for encoded in descriptor_sets {
            let Ok(set) = prost_types::FileDescriptorSet::decode(*encoded) else {
                tracing::warn!("undecodable descriptor set; its methods are labelled unknown");
                continue;
            };
            for file in &set.file {
                for service in &file.service {
                    let full_name = match file.package() {
                        "" => service.name().to_owned(),
                        package => format!("{package}.{}", service.name()),
                    };
                    if !services.contains(&full_name.as_str()) {
                        continue;
                    }
                    for method in &service.method {
                        known.insert(format!("/{full_name}/{}", method.name()));
                    }
                }
            }
        }
        RpcMetricsLayer {
            families: Families::get(),
            known: Arc::new(known),
        }
    }

    /// (service, method) labels of a request path.
    fn labels(&self, path: &str) -> (String, String) {
        if self.known.contains(path)
            && let Some((service, method)) = path.trim_start_matches('/').split_once('/')
        {
            return (service.to_owned(), method.to_owned());
        }
        (UNKNOWN.to_owned(), UNKNOWN.to_owned())
    }
}

impl<S> tower_layer::Layer<S> for RpcMetricsLayer {
    type Service = RpcMetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcMetricsService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service produced by [`RpcMetricsLayer`].
#[derive(Clone, Debug)]
pub struct RpcMetricsService<S> {
    inner: S,
    layer: RpcMetricsLayer,
}

impl<S> tower_service::Service<http::Request<Body>> for RpcMetricsService<S>
where
    S: tower_service::Service<http::Request<Body>, Response = http::Response<Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let mut inner = crate::call_end::take_ready(&mut self.inner);
        let (service, method) = self.layer.labels(request.uri().path());
        let mut call = Call::start(self.layer.families.clone(), service, method);
        Box::pin(async move {
            // Dropped with the future if the client goes away first: CANCELLED.
            match inner.call(request).await {
                Ok(response) => Ok(crate::call_end::watch(response, call)),
                Err(error) => {
                    call.finish("UNKNOWN");
                    Err(error)
                }
            }
        })
    }
}

/// One call being measured; records itself once, when it ends or is dropped.
struct Call {
    families: Families,
    labels: Labels,
    started: Instant,
    done: bool,
}

impl Call {
    fn start(families: Families, service: String, method: String) -> Call {
        let labels: Labels = vec![("service", service), ("method", method)];
        families.in_flight.get_or_create(&labels).inc();
        Call {
            families,
            labels,
            started: Instant::now(),
            done: false,
        }
    }

    fn finish(&mut self, code: &'static str) {
        if self.done {
            return;
        }
        self.done = true;
        let families = &self.families;
        families.in_flight.get_or_create(&self.labels).dec();
        families
            .duration
            .get_or_create(&self.labels)
            .observe(self.started.elapsed().as_secs_f64());
        let mut labels = self.labels.clone();
        labels.push(("code", code.to_owned()));
        families.requests.get_or_create(&labels).inc();
    }
}

impl EndObserver for Call {
    fn ended(&mut self, end: CallEnd) {
        self.finish(match end {
            CallEnd::Status(code) => code_name_of(code),
            CallEnd::NoStatus => "UNKNOWN",
            CallEnd::Cancelled => "CANCELLED",
        });
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.finish("CANCELLED");
    }
}

/// The canonical upper-case name of a gRPC status code.
pub fn code_name_of(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_methods_of_served_services_get_their_own_labels() {
        let layer = RpcMetricsLayer::new(
            &[pake_api::FILE_DESCRIPTOR_SET],
            &["pake.knowledge.v1.KnowledgeService"],
        );
        assert_eq!(
            layer.labels("/pake.knowledge.v1.KnowledgeService/GetItem"),
            (
                "pake.knowledge.v1.KnowledgeService".to_owned(),
                "GetItem".to_owned()
            )
        );
        for path in [
            "/pake.knowledge.v1.KnowledgeService/NoSuchMethod",
            "/pake.identity.v1.IdentityService/GetUser",
            "/random/path",
            "",
        ] {
            assert_eq!(
                layer.labels(path),
                (UNKNOWN.to_owned(), UNKNOWN.to_owned()),
                "{path}"
            );
        }
    }

    #[test]
    fn status_codes_have_their_canonical_names() {
        assert_eq!(code_name_of(tonic::Code::Ok), "OK");
        assert_eq!(code_name_of(tonic::Code::NotFound), "NOT_FOUND");
        assert_eq!(
            code_name_of(tonic::Code::Unauthenticated),
            "UNAUTHENTICATED"
        );
    }
}
