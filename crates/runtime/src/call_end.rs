//! How a gRPC call ends, for the tower layers that report on calls ([`crate::metrics::rpc`],
//! [`crate::trace`]), and the readiness idiom those layers share.
//!
//! A call's status is `grpc-status` in the response headers (a trailers-only response: an error
//! before any message) or else in the trailers at the end of the body, so a streaming call ends
//! when its body does. [`watch`] finds it either way and tells an [`EndObserver`] once: with the
//! status, with [`CallEnd::NoStatus`] when the body ended without one, or with
//! [`CallEnd::Cancelled`] when the response (or the call's future) was dropped first — the
//! client went away.

use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::Frame;
use tonic::body::Body;

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CallEnd {
    /// The server's status (an unparsable `grpc-status` is UNKNOWN).
    Status(tonic::Code),
    /// The response ended without a `grpc-status`.
    NoStatus,
    /// Dropped before it ended.
    Cancelled,
}

/// Told how a call ended, once.
pub(crate) trait EndObserver: Send + Unpin + 'static {
    /// The call ended as `end`.
    fn ended(&mut self, end: CallEnd);
}

/// Passes `response` on, telling `observer` how its call ends (see the module documentation).
pub(crate) fn watch(
    response: http::Response<Body>,
    mut observer: impl EndObserver,
) -> http::Response<Body> {
    if let Some(code) = response.headers().get("grpc-status") {
        observer.ended(CallEnd::Status(parse_code(code)));
        return response;
    }
    let (parts, body) = response.into_parts();
    if http_body::Body::is_end_stream(&body) {
        observer.ended(CallEnd::NoStatus);
        return http::Response::from_parts(parts, body);
    }
    let body = Body::new(WatchedBody {
        inner: body,
        observer: Some(observer),
    });
    http::Response::from_parts(parts, body)
}

/// The code of a `grpc-status` value; anything unparsable is UNKNOWN.
pub(crate) fn parse_code(value: &http::HeaderValue) -> tonic::Code {
    value
        .to_str()
        .ok()
        .and_then(|text| text.parse::<i32>().ok())
        .map_or(tonic::Code::Unknown, tonic::Code::from_i32)
}

/// Takes the service that `poll_ready` drove to readiness, leaving a fresh clone in its place
/// (tower's rule for calling a cloned service from a boxed future).
pub(crate) fn take_ready<S: Clone>(service: &mut S) -> S {
    let clone = service.clone();
    std::mem::replace(service, clone)
}

/// A response body that tells its observer how the call ended.
struct WatchedBody<O: EndObserver> {
    inner: Body,
    observer: Option<O>,
}

impl<O: EndObserver> WatchedBody<O> {
    fn end(&mut self, end: CallEnd) {
        if let Some(mut observer) = self.observer.take() {
            observer.ended(end);
        }
    }
}

impl<O: EndObserver> http_body::Body for WatchedBody<O> {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        // `WatchedBody` is Unpin (`Body` is), so the fields can be borrowed apart.
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(code) = frame
                    .trailers_ref()
                    .and_then(|trailers| trailers.get("grpc-status"))
                {
                    this.end(CallEnd::Status(parse_code(code)));
                }
            }
            Poll::Ready(Some(Err(status))) => this.end(CallEnd::Status(status.code())),
            Poll::Ready(None) => this.end(CallEnd::NoStatus),
            Poll::Pending => {}
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

impl<O: EndObserver> Drop for WatchedBody<O> {
    fn drop(&mut self) {
        self.end(CallEnd::Cancelled);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use http_body_util::BodyExt;

    use super::*;

    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<Vec<CallEnd>>>);

    impl EndObserver for Seen {
        fn ended(&mut self, end: CallEnd) {
            self.0.lock().expect("lock").push(end);
        }
    }

    fn trailers(code: &'static str) -> http::HeaderMap {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static(code));
        trailers
    }

    #[tokio::test]
    async fn a_trailers_only_response_ends_at_once() {
        let seen = Seen::default();
        let response = http::Response::builder()
            .header("grpc-status", "5")
            .body(Body::empty())
            .expect("response");
        drop(watch(response, seen.clone()));
        assert_eq!(
            *seen.0.lock().expect("lock"),
            [CallEnd::Status(tonic::Code::NotFound)]
        );
    }

    #[tokio::test]
    async fn a_streamed_response_ends_with_its_trailers_once() {
        let seen = Seen::default();
        let frames = futures::stream::iter([
            Ok::<_, tonic::Status>(Frame::data(bytes::Bytes::from_static(b"message"))),
            Ok(Frame::trailers(trailers("0"))),
        ]);
        let body = Body::new(http_body_util::StreamBody::new(frames));
        let response = watch(http::Response::new(body), seen.clone());
        assert!(seen.0.lock().expect("lock").is_empty(), "not ended yet");
        let collected = response.into_body().collect().await.expect("body");
        assert!(collected.trailers().is_some());
        assert_eq!(
            *seen.0.lock().expect("lock"),
            [CallEnd::Status(tonic::Code::Ok)]
        );
    }

    #[tokio::test]
    async fn a_response_dropped_midway_is_cancelled() {
        let seen = Seen::default();
        let frames = futures::stream::pending::<Result<Frame<bytes::Bytes>, tonic::Status>>();
        let body = Body::new(http_body_util::StreamBody::new(frames));
        drop(watch(http::Response::new(body), seen.clone()));
        assert_eq!(*seen.0.lock().expect("lock"), [CallEnd::Cancelled]);
    }

    #[test]
    fn unparsable_codes_are_unknown() {
        let value = http::HeaderValue::from_static;
        assert_eq!(parse_code(&value("16")), tonic::Code::Unauthenticated);
        assert_eq!(parse_code(&value("x")), tonic::Code::Unknown);
        assert_eq!(parse_code(&value("99")), tonic::Code::Unknown);
    }
}
