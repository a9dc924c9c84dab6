//! One OpenTelemetry server span per RPC (`rpc.system = grpc`, `rpc.service`, `rpc.method`,
//! `rpc.grpc.status_code`), a child of the caller's W3C trace context from the request headers.
//! Installed as the outermost layer of [`crate::server::GrpcServer`] (network and in-process
//! calls alike), so the span covers metrics, authentication and rate limits. The span lives
//! until the response body ends, so a stream's span lasts as long as the stream. Without trace
//! export it costs one disabled-span check.

use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tonic::body::Body;
use tracing::Instrument;

use crate::call_end::{CallEnd, EndObserver};

/// The layer; see the module documentation.
#[derive(Clone, Copy, Debug, Default)]
pub struct RpcTraceLayer;

impl<S> tower_layer::Layer<S> for RpcTraceLayer {
    type Service = RpcTraceService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcTraceService { inner }
    }
}

/// The service produced by [`RpcTraceLayer`].
#[derive(Clone, Debug)]
pub struct RpcTraceService<S> {
    inner: S,
}

impl<S> tower_service::Service<http::Request<Body>> for RpcTraceService<S>
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
        let path = request.uri().path();
        let (service, method) = path
            .trim_start_matches('/')
            .split_once('/')
            .unwrap_or(("", ""));
        let span = tracing::info_span!(
            "grpc.server",
            otel.name = path,
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            rpc.system = "grpc",
            rpc.service = service,
            rpc.method = method,
            rpc.grpc.status_code = tracing::field::Empty,
        );
        pake_core::telemetry::set_parent_from_headers(&span, request.headers());
        let future = {
            let _entered = span.enter();
            inner.call(request)
        };
        Box::pin(
            async move {
                let response = future.await?;
                Ok(crate::call_end::watch(
                    response,
                    CallSpan(tracing::Span::current()),
                ))
            }
            .instrument(span),
        )
    }
}

/// The call's span, kept open until the call ends and given its status then.
struct CallSpan(tracing::Span);

impl EndObserver for CallSpan {
    fn ended(&mut self, end: CallEnd) {
        let code = match end {
            CallEnd::Status(code) => code,
            CallEnd::Cancelled => tonic::Code::Cancelled,
            CallEnd::NoStatus => return,
        };
        self.0
            .record("rpc.grpc.status_code", i64::from(i32::from(code)));
        if code != tonic::Code::Ok {
            self.0.record("otel.status_code", "ERROR");
        }
    }
}
