//! The request handler: route → headers → body (with the size limit) → request message →
//! upstream call → JSON (or a stream), and every failure as `google.rpc.Status` JSON.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use prost::Message;
use prost_reflect::DynamicMessage;
use tracing::Instrument;

use crate::api_keys;
use crate::descriptors::Binding;
use crate::errors::Error;
use crate::headers::{self, Forwarded, REQUEST_ID};
use crate::router::Match;
use crate::server::EdgeState;
use crate::streaming::{self, Framing, StreamContext};
use crate::template::Captures;
use crate::transcode::{request, response};
use crate::upstream::Call;

/// The fallback handler that serves every binding.
pub async fn handle(State(state): State<Arc<EdgeState>>, request: Request) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    let forwarded = match headers::forward(request.headers(), peer) {
        Ok(forwarded) => forwarded,
        Err(error) => {
            let id = uuid::Uuid::new_v4().to_string();
            return with_request_id(error.into_http(&state.pool), &id);
        }
    };
    let request_id = forwarded.request_id.clone();
    let started = std::time::Instant::now();
    let mut method = crate::metrics::UNMATCHED.to_owned();
    // The edge's own span: a child of the client's `traceparent`, the parent of the upstream
    // call (whose metadata carries this span's context, see `upstream::Call`).
    let span = tracing::info_span!(
        "edge.request",
        otel.name = %format_args!("{} {}", request.method(), request.uri().path()),
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = %request.method(),
        url.path = request.uri().path(),
        http.response.status_code = tracing::field::Empty,
        rpc.method = tracing::field::Empty,
        request_id = %request_id,
    );
    pake_core::telemetry::set_parent_from_headers(&span, request.headers());
    let response = match serve(&state, request, forwarded, &mut method)
        .instrument(span.clone())
        .await
    {
        Ok(response) => response,
        Err(error) => {
            if error.http_status().is_server_error() {
                tracing::warn!(%request_id, %error, "edge request failed");
            }
            error.into_http(&state.pool)
        }
    };
    span.record("http.response.status_code", response.status().as_u16());
    span.record("rpc.method", method.as_str());
    if response.status().is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    state
        .metrics
        .record(&method, response.status().as_u16(), started.elapsed());
    with_request_id(response, &request_id)
}

fn with_request_id(mut response: Response, request_id: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

async fn serve(
    state: &EdgeState,
    request: Request,
    forwarded: Forwarded,
    method_label: &mut String,
) -> Result<Response, Error> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    let (binding, captures) = match state.router.route(&parts.method, path) {
        Match::Found(binding, captures) => (binding, captures),
        Match::MethodNotAllowed(allow) => return Err(Error::MethodNotAllowed { allow }),
        Match::NotFound => {
            return Err(Error::NotFound {
                path: path.to_owned(),
            });
        }
        Match::BadPath(error) => {
            return Err(Error::InvalidArgument {
                field: None,
                message: error.to_string(),
                reason: "INVALID_PATH",
            });
        }
    };
    *method_label = binding.grpc_path();
    let service = binding.method.parent_service().full_name().to_owned();
    let channel = state
        .upstreams
        .channel(&service)
        .ok_or_else(|| Error::Internal(format!("no upstream for {service}")))?;
    let mut metadata = forwarded.metadata;
    if let Some(exchange) = &state.api_keys
        && let Some(key) = metadata
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .and_then(api_keys::api_key)
            .map(str::to_owned)
    {
        let token = exchange.token(&key).await?;
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| Error::Internal("exchanged token is not a header value".to_owned()))?;
        metadata.insert("authorization", value);
    }
    let call = Call {
        channel,
        path: method_label.clone(),
        metadata,
        timeout: forwarded.timeout,
    };
    let limit = if binding.method.is_client_streaming() {
        state.limits.max_stream_body_bytes
    } else {
        state.limits.max_body_bytes
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(Error::PayloadTooLarge { limit });
    }
    let query = parts.uri.query();

    if binding.method.is_client_streaming() {
        return client_stream(binding, &parts.method, &captures, query, body, call, limit).await;
    }
    let body = read_body(body, limit).await?;
    let message = request::build(binding, &parts.method, &captures, query, &body)?;
    let encoded = Bytes::from(message.encode_to_vec());
    if binding.method.is_server_streaming() {
        let upstream = call
            .server_streaming(encoded)
            .await
            .map_err(|status| Error::Upstream(Box::new(status)))?;
        let framing = Framing::from_accept(&parts.headers);
        let (metadata, stream, _) = upstream.into_parts();
        let body = streaming::server_stream_body(
            stream,
            StreamContext {
                output: binding.method.output(),
                response_body: binding.response_body.clone(),
                pool: state.pool.clone(),
                framing,
            },
        )
        .await?;
        let mut response = (
            StatusCode::OK,
            [(header::CONTENT_TYPE, framing.content_type())],
            body,
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers::metadata_to_headers(&metadata, response.headers_mut());
        return Ok(response);
    }
    let upstream = call
        .unary(encoded)
        .await
        .map_err(|status| Error::Upstream(Box::new(status)))?;
    json_response(binding, upstream)
}

async fn client_stream(
    binding: &Binding,
    method: &http::Method,
    captures: &Captures,
    query: Option<&str>,
    body: Body,
    call: Call,
    limit: usize,
) -> Result<Response, Error> {
    let (sender, receiver) = tokio::sync::mpsc::channel::<Bytes>(16);
    let upstream = call.client_streaming(tokio_stream::wrappers::ReceiverStream::new(receiver));
    let reader = streaming::read_ndjson(
        body.into_data_stream(),
        limit,
        binding,
        method,
        captures,
        query,
        sender,
    );
    tokio::pin!(upstream);
    tokio::pin!(reader);
    let mut reader_done = false;
    loop {
        tokio::select! {
            result = &mut upstream => {
                let response = result.map_err(|status| Error::Upstream(Box::new(status)))?;
                return json_response(binding, response);
            }
            result = &mut reader, if !reader_done => {
                // A bad line drops the upstream call (the stream is reset, nothing is applied).
                result?;
                reader_done = true;
            }
        }
    }
}

fn json_response(binding: &Binding, upstream: tonic::Response<Bytes>) -> Result<Response, Error> {
    let (metadata, bytes, _) = upstream.into_parts();
    let message = DynamicMessage::decode(binding.method.output(), bytes)
        .map_err(|error| Error::Internal(format!("undecodable upstream response: {error}")))?;
    let body = response::to_bytes(&message, binding.response_body.as_ref())?;
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response();
    headers::metadata_to_headers(&metadata, response.headers_mut());
    Ok(response)
}

/// Reads the body, failing with 413 as soon as it passes `limit`.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, Error> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            Err(Error::PayloadTooLarge { limit })
        }
        Err(error) => Err(Error::InvalidArgument {
            field: None,
            message: format!("reading the request body: {error}"),
            reason: "BODY_READ_FAILED",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_body_without_a_length_is_cut_off_at_the_limit() {
        let chunks = futures::stream::iter(
            (0..8).map(|_| Ok::<Bytes, std::io::Error>(Bytes::from(vec![b'x'; 1000]))),
        );
        let error = read_body(Body::from_stream(chunks), 4096)
            .await
            .expect_err("over the limit");
        assert!(
            matches!(error, Error::PayloadTooLarge { limit: 4096 }),
            "{error}"
        );

        let chunks = futures::stream::iter(
            (0..4).map(|_| Ok::<Bytes, std::io::Error>(Bytes::from(vec![b'x'; 1000]))),
        );
        let body = read_body(Body::from_stream(chunks), 4096)
            .await
            .expect("within the limit");
        assert_eq!(body.len(), 4000);
    }
}
