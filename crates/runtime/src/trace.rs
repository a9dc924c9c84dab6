//! One OpenTelemetry server span per RPC (`rpc.system = grpc`, `rpc.service`, `rpc.method`,
//! `rpc.grpc.status_code`), a child of the caller's W3C trace context from the request headers.
//! Installed as the outermost layer of [`crate::server::GrpcServer`] (network and in-process
//! calls alike), so the span covers metrics, authentication and rate limits. The span lives
//! until the response body ends, so a stream's span lasts as long as the stream. Without trace
//! export it costs one disabled-span check.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use http_body::Frame;
use tonic::body::Body;
use tracing::Instrument;

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
        // Take the service that was driven to readiness; leave a fresh clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
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
                let span = tracing::Span::current();
                let response = future.await?;
                if let Some(code) = response.headers().get("grpc-status") {
                    record_status(&span, code);
                    return Ok(response);
                }
                let (parts, body) = response.into_parts();
                let body = Body::new(TracedBody { inner: body, span });
                Ok(http::Response::from_parts(parts, body))
            }
            .instrument(span),
        )
    }
}

fn record_status(span: &tracing::Span, code: &http::HeaderValue) {
    let code: i64 = code
        .to_str()
        .ok()
        .and_then(|code| code.parse().ok())
        .unwrap_or(2);
    span.record("rpc.grpc.status_code", code);
    if code != 0 {
        span.record("otel.status_code", "ERROR");
    }
}

/// A response body that keeps the call's span open until the status arrives in the trailers.
struct TracedBody {
    inner: Body,
    span: tracing::Span,
}

impl http_body::Body for TracedBody {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(code) = frame
                    .trailers_ref()
                    .and_then(|trailers| trailers.get("grpc-status"))
                {
                    record_status(&this.span, code);
                }
            }
            Poll::Ready(Some(Err(status))) => {
                this.span
                    .record("rpc.grpc.status_code", i64::from(i32::from(status.code())));
                this.span.record("otel.status_code", "ERROR");
            }
            Poll::Ready(None) | Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
