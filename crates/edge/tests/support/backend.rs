//! A generic echo gRPC backend for any service in a descriptor pool: it decodes each request
//! with prost-reflect and answers with an `Echo` message built from it (the method, the request
//! as JSON, the metadata it received). A non-zero `code` field makes it fail with that code and
//! an `ErrorInfo` detail; `sleep_ms` delays it; `Count` streams `n` messages and fails after
//! `fail_after`; `Collect` gathers every streamed `item`.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use pake_edge::upstream::BytesCodec;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, Value};
use tonic::codec::Streaming;
use tonic::server::{
    ClientStreamingService, Grpc, NamedService, ServerStreamingService, UnaryService,
};
use tonic::{Request, Response, Status};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The backend: one tower service for every method of `echo.v1.EchoService`.
#[derive(Clone)]
pub struct EchoBackend {
    pub pool: DescriptorPool,
}

impl NamedService for EchoBackend {
    const NAME: &'static str = "echo.v1.EchoService";
}

impl tonic::codegen::Service<http::Request<tonic::body::Body>> for EchoBackend {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let pool = self.pool.clone();
        Box::pin(async move {
            let path = request.uri().path().to_owned();
            let method = path
                .rsplit_once('/')
                .and_then(|(service, name)| {
                    pool.get_service_by_name(service.trim_start_matches('/'))
                        .and_then(|s| s.methods().find(|m| m.name() == name))
                })
                .expect("a method of the echo service");
            let handler = Handler {
                input: method.input(),
                output: method.output(),
                path,
            };
            let mut grpc = Grpc::new(BytesCodec);
            let response = if method.is_client_streaming() {
                grpc.client_streaming(handler, request).await
            } else if method.is_server_streaming() {
                grpc.server_streaming(handler, request).await
            } else {
                grpc.unary(handler, request).await
            };
            Ok(response)
        })
    }
}

#[derive(Clone)]
struct Handler {
    input: MessageDescriptor,
    output: MessageDescriptor,
    path: String,
}

impl Handler {
    fn decode(&self, bytes: Bytes) -> Result<DynamicMessage, Status> {
        DynamicMessage::decode(self.input.clone(), bytes)
            .map_err(|error| Status::internal(format!("backend decode: {error}")))
    }

    fn int(message: &DynamicMessage, name: &str) -> i32 {
        message
            .get_field_by_name(name)
            .and_then(|value| value.as_i32())
            .unwrap_or(0)
    }

    /// The echo of `request` with the received `metadata`.
    fn echo(
        &self,
        request: &DynamicMessage,
        metadata: &tonic::metadata::MetadataMap,
    ) -> DynamicMessage {
        let mut echo = DynamicMessage::new(self.output.clone());
        echo.set_field_by_name("method", Value::String(self.path.clone()));
        let json = serde_json::to_string(request).expect("request renders as JSON");
        echo.set_field_by_name("request_json", Value::String(json));
        let mut received = std::collections::HashMap::new();
        for key in [
            "authorization",
            "traceparent",
            "tracestate",
            "x-request-id",
            "x-tenant",
            "x-forwarded-for",
        ] {
            if let Some(value) = metadata.get(key).and_then(|v| v.to_str().ok()) {
                received.insert(
                    prost_reflect::MapKey::String(key.to_owned()),
                    Value::String(value.to_owned()),
                );
            }
        }
        echo.set_field_by_name("metadata", Value::Map(received));
        echo.set_field_by_name("big", Value::I64(9_007_199_254_740_993));
        echo.set_field_by_name("kind", Value::EnumNumber(2));
        let timestamp = self.output.get_field_by_name("at").expect("at");
        if let prost_reflect::Kind::Message(descriptor) = timestamp.kind() {
            let mut at = DynamicMessage::new(descriptor);
            at.set_field_by_name("seconds", Value::I64(1_704_164_645));
            echo.set_field_by_name("at", Value::Message(at));
        }
        echo
    }

    async fn fail_or_sleep(&self, request: &DynamicMessage) -> Result<(), Status> {
        if self.input.get_field_by_name("sleep_ms").is_some() {
            let sleep = Self::int(request, "sleep_ms");
            if sleep > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(sleep as u64)).await;
            }
        }
        if self.input.get_field_by_name("code").is_some() {
            let code = Self::int(request, "code");
            if code != 0 {
                return Err(error_with_info(code, &self.input));
            }
        }
        Ok(())
    }
}

/// A status with `code` and a `google.rpc.ErrorInfo` detail, encoded by hand from the pool of
/// PAKE's descriptor set (the echo set does not contain google.rpc).
fn error_with_info(code: i32, _input: &MessageDescriptor) -> Status {
    let pool = DescriptorPool::decode(pake_api::FILE_DESCRIPTOR_SET).expect("pake pool");
    let mut info = DynamicMessage::new(
        pool.get_message_by_name("google.rpc.ErrorInfo")
            .expect("ErrorInfo"),
    );
    info.set_field_by_name("reason", Value::String("ECHO_FAILURE".to_owned()));
    info.set_field_by_name("domain", Value::String("echo.test".to_owned()));
    let mut any = DynamicMessage::new(
        pool.get_message_by_name("google.protobuf.Any")
            .expect("Any"),
    );
    any.set_field_by_name(
        "type_url",
        Value::String("type.googleapis.com/google.rpc.ErrorInfo".to_owned()),
    );
    any.set_field_by_name("value", Value::Bytes(info.encode_to_vec().into()));
    let mut status = DynamicMessage::new(
        pool.get_message_by_name("google.rpc.Status")
            .expect("Status"),
    );
    status.set_field_by_name("code", Value::I32(code));
    status.set_field_by_name("message", Value::String("echo failure".to_owned()));
    status.set_field_by_name("details", Value::List(vec![Value::Message(any)]));
    Status::with_details(
        tonic::Code::from_i32(code),
        "echo failure",
        status.encode_to_vec().into(),
    )
}

fn respond(message: DynamicMessage) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(message.encode_to_vec()));
    response
        .metadata_mut()
        .insert("x-echo", "yes".parse().expect("ascii"));
    response
}

impl UnaryService<Bytes> for Handler {
    type Response = Bytes;
    type Future = BoxFuture<Result<Response<Bytes>, Status>>;

    fn call(&mut self, request: Request<Bytes>) -> Self::Future {
        let handler = self.clone();
        Box::pin(async move {
            let (metadata, _, bytes) = request.into_parts();
            let decoded = handler.decode(bytes)?;
            handler.fail_or_sleep(&decoded).await?;
            let mut echo = handler.echo(&decoded, &metadata);
            if handler.path.ends_with("/ListLabels") {
                echo.set_field_by_name(
                    "labels",
                    Value::List(vec![Value::String("a".into()), Value::String("b".into())]),
                );
            }
            Ok(respond(echo))
        })
    }
}

type EchoStream = Pin<Box<dyn Stream<Item = Result<Bytes, Status>> + Send + 'static>>;

impl ServerStreamingService<Bytes> for Handler {
    type Response = Bytes;
    type ResponseStream = EchoStream;
    type Future = BoxFuture<Result<Response<EchoStream>, Status>>;

    fn call(&mut self, request: Request<Bytes>) -> Self::Future {
        let handler = self.clone();
        Box::pin(async move {
            let (metadata, _, bytes) = request.into_parts();
            let decoded = handler.decode(bytes)?;
            let n = Handler::int(&decoded, "n");
            let fail_after = Handler::int(&decoded, "fail_after");
            let mut items: Vec<Result<Bytes, Status>> = Vec::new();
            for index in 0..n {
                if fail_after > 0 && index == fail_after {
                    items.push(Err(Status::failed_precondition("stream broke")));
                    break;
                }
                let mut echo = handler.echo(&decoded, &metadata);
                echo.set_field_by_name(
                    "labels",
                    Value::List(vec![Value::String(index.to_string())]),
                );
                items.push(Ok(Bytes::from(echo.encode_to_vec())));
            }
            if fail_after == -1 {
                items.insert(0, Err(Status::not_found("nothing to count")));
            }
            let stream: EchoStream = Box::pin(futures::stream::iter(items));
            Ok(Response::new(stream))
        })
    }
}

impl ClientStreamingService<Bytes> for Handler {
    type Response = Bytes;
    type Future = BoxFuture<Result<Response<Bytes>, Status>>;

    fn call(&mut self, request: Request<Streaming<Bytes>>) -> Self::Future {
        let handler = self.clone();
        Box::pin(async move {
            let (metadata, _, mut stream) = request.into_parts();
            let mut labels = Vec::new();
            let mut last = DynamicMessage::new(handler.input.clone());
            while let Some(bytes) = stream.next().await {
                let decoded = handler.decode(bytes?)?;
                let item = decoded
                    .get_field_by_name("item")
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                labels.push(Value::String(item));
                last = decoded;
            }
            let mut echo = handler.echo(&last, &metadata);
            echo.set_field_by_name("labels", Value::List(labels));
            Ok(respond(echo))
        })
    }
}

/// Serves the backend on a port-0 listener; returns its URL.
pub async fn spawn(pool: DescriptorPool) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(EchoBackend { pool })
            .serve_with_incoming(incoming),
    );
    format!("http://{addr}")
}
