//! Calling any gRPC method by path with raw protobuf bytes — for tests that walk the descriptor
//! pool instead of using generated clients.

use bytes::{Buf, BufMut, Bytes};
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;

/// A codec that passes message bytes through unchanged.
#[derive(Clone, Copy, Debug, Default)]
pub struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// Calls `path` (`/package.Service/Method`), with `token` as bearer if given, with `messages` (one for unary and server-streaming
/// methods; any number for client streams) and returns the final status code: OK when a first
/// response message (or a clean end) arrived, else the error's code. Gives up waiting for a first
/// streamed message after `first_message_timeout` and reports OK (the call was accepted).
pub async fn call_raw(
    channel: Channel,
    path: &str,
    token: Option<&str>,
    messages: Vec<Bytes>,
    first_message_timeout: std::time::Duration,
) -> tonic::Code {
    let mut grpc = tonic::client::Grpc::new(channel);
    if let Err(error) = grpc.ready().await {
        panic!("channel not ready: {error}");
    }
    let path = http::uri::PathAndQuery::try_from(path.to_owned()).expect("method path");
    let mut request = tonic::Request::new(tokio_stream::iter(messages));
    if let Some(token) = token {
        let value = format!("Bearer {token}").parse().expect("ascii token");
        request.metadata_mut().insert("authorization", value);
    }
    let response = match grpc.streaming(request, path, RawCodec).await {
        Ok(response) => response,
        Err(status) => return status.code(),
    };
    let mut stream = response.into_inner();
    match tokio::time::timeout(first_message_timeout, stream.message()).await {
        Ok(Ok(_)) | Err(_) => tonic::Code::Ok,
        Ok(Err(status)) => status.code(),
    }
}
