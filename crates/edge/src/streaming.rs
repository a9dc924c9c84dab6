//! Streams over HTTP/1.1.
//!
//! Server streams are sent as NDJSON (`application/x-ndjson`, the default: one
//! `{"result": …}` per line) or as server-sent events (`text/event-stream` when the client's
//! `Accept` asks for it: `data: …` per message). An error before the first message is an
//! ordinary error response; after it, a final `{"error": Status}` line or `event: error`.
//!
//! Client streams read an NDJSON body: every non-empty line is one request message (built with
//! the binding's body rule, path and query like a unary request), sent upstream as it arrives.
//! A line that does not parse cancels the upstream call and answers 400 naming the line.

use std::sync::Arc;

use axum::body::{Body, BodyDataStream};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use http::{HeaderMap, Method, header};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, FieldDescriptor, MessageDescriptor};
use serde_json::json;
use tonic::codec::Streaming;

use crate::descriptors::Binding;
use crate::errors::{Error, upstream_status_json};
use crate::template::Captures;
use crate::transcode::{request, response};

/// How a server stream is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// `application/x-ndjson`.
    NdJson,
    /// `text/event-stream`.
    Sse,
}

impl Framing {
    /// SSE when `Accept` names `text/event-stream`, else NDJSON.
    pub fn from_accept(headers: &HeaderMap) -> Framing {
        let wants_sse = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .any(|value| value.contains("text/event-stream"));
        if wants_sse {
            Framing::Sse
        } else {
            Framing::NdJson
        }
    }

    /// The response content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Framing::NdJson => "application/x-ndjson",
            Framing::Sse => "text/event-stream",
        }
    }

    fn message(self, json: &serde_json::Value) -> Bytes {
        match self {
            Framing::NdJson => Bytes::from(format!("{}\n", json!({ "result": json }))),
            Framing::Sse => Bytes::from(format!("data: {json}\n\n")),
        }
    }

    fn error(self, json: &serde_json::Value) -> Bytes {
        match self {
            Framing::NdJson => Bytes::from(format!("{}\n", json!({ "error": json }))),
            Framing::Sse => Bytes::from(format!("event: error\ndata: {json}\n\n")),
        }
    }
}

/// What rendering a stream needs.
pub struct StreamContext {
    /// The response message type.
    pub output: MessageDescriptor,
    /// `response_body`, if the binding has one.
    pub response_body: Option<FieldDescriptor>,
    /// For error details.
    pub pool: Arc<DescriptorPool>,
    /// NDJSON or SSE.
    pub framing: Framing,
}

/// Waits for the first message (an error then is an ordinary error response) and returns the
/// body that streams the rest.
pub async fn server_stream_body(
    mut stream: Streaming<Bytes>,
    context: StreamContext,
) -> Result<Body, Error> {
    let first = stream
        .message()
        .await
        .map_err(|status| Error::Upstream(Box::new(status)))?;
    let render = move |item: Result<Bytes, tonic::Status>| -> Bytes {
        let rendered = item
            .map_err(|status| upstream_status_json(&status, &context.pool))
            .and_then(|bytes| {
                DynamicMessage::decode(context.output.clone(), bytes)
                    .map_err(|error| {
                        Error::Internal(format!("undecodable upstream message: {error}"))
                            .to_json(&context.pool)
                    })
                    .and_then(|message| {
                        response::to_json(&message, context.response_body.as_ref())
                            .map_err(|error| error.to_json(&context.pool))
                    })
            });
        match rendered {
            Ok(json) => context.framing.message(&json),
            Err(json) => context.framing.error(&json),
        }
    };
    let head = futures::stream::iter(first.map(Ok));
    let rest = futures::stream::unfold(Some(stream), |state| async move {
        let mut stream = state?;
        match stream.message().await {
            Ok(Some(bytes)) => Some((Ok(bytes), Some(stream))),
            Ok(None) => None,
            // The error is the last item.
            Err(status) => Some((Err(status), None)),
        }
    });
    let body = head
        .chain(rest)
        .map(render)
        .map(Ok::<Bytes, std::convert::Infallible>);
    Ok(Body::from_stream(body))
}

/// Reads an NDJSON body line by line into encoded request messages on `sender`; stops at the
/// first bad line or when the body passes `limit` bytes.
pub async fn read_ndjson(
    mut body: BodyDataStream,
    limit: usize,
    binding: &Binding,
    http_method: &Method,
    captures: &Captures,
    raw_query: Option<&str>,
    sender: tokio::sync::mpsc::Sender<Bytes>,
) -> Result<(), Error> {
    let mut buffer = BytesMut::new();
    let mut total = 0usize;
    let mut line_number = 0usize;
    loop {
        let chunk = body.next().await;
        let finished = chunk.is_none();
        if let Some(chunk) = chunk {
            let chunk = chunk.map_err(|error| Error::InvalidArgument {
                field: None,
                message: format!("reading the request body: {error}"),
                reason: "BODY_READ_FAILED",
            })?;
            total += chunk.len();
            if total > limit {
                return Err(Error::PayloadTooLarge { limit });
            }
            buffer.extend_from_slice(&chunk);
        }
        while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
            let line = buffer.split_to(end + 1).freeze();
            line_number += 1;
            send_line(
                line,
                line_number,
                binding,
                http_method,
                captures,
                raw_query,
                &sender,
            )
            .await?;
        }
        if finished {
            if !buffer.is_empty() {
                line_number += 1;
                let line = buffer.split().freeze();
                send_line(
                    line,
                    line_number,
                    binding,
                    http_method,
                    captures,
                    raw_query,
                    &sender,
                )
                .await?;
            }
            return Ok(());
        }
    }
}

async fn send_line(
    line: Bytes,
    line_number: usize,
    binding: &Binding,
    http_method: &Method,
    captures: &Captures,
    raw_query: Option<&str>,
    sender: &tokio::sync::mpsc::Sender<Bytes>,
) -> Result<(), Error> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let message =
        request::build(binding, http_method, captures, raw_query, &line).map_err(|error| {
            match error {
                Error::InvalidArgument {
                    field,
                    message,
                    reason,
                } => Error::InvalidArgument {
                    field,
                    message: format!("line {line_number}: {message}"),
                    reason,
                },
                other => other,
            }
        })?;
    // A closed receiver means the upstream call already ended; its result is reported.
    let _ = sender.send(Bytes::from(message.encode_to_vec())).await;
    Ok(())
}
