//! Generic gRPC calls to the upstreams: a few lazily connected channels per upstream address
//! (`edge.upstream_connections`, used in turn),
//! chosen by the gRPC service name, and a codec that passes encoded message bytes through
//! (the edge encodes and decodes with the descriptor pool itself).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use futures::Stream;
use http::uri::PathAndQuery;
use pake_runtime::server::CallError;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder, Streaming};
use tonic::metadata::MetadataMap;
use tower::ServiceExt;

/// The name of the in-process upstream in logs.
const LOCAL: &str = "(in-process)";

/// An upstream address that is not a valid gRPC URL.
#[derive(Debug, thiserror::Error)]
#[error("upstream {service}: {url:?} is not a valid gRPC URL ({message})")]
pub struct Error {
    service: String,
    url: String,
    message: String,
}

/// Where each gRPC service is.
#[derive(Clone, Debug, Default)]
pub struct Upstreams {
    default: Option<(String, Connections)>,
    by_service: HashMap<String, (String, Connections)>,
}

/// Where a call goes: a gRPC channel, or the all-in-one's own services in-process
/// ([`pake_runtime::server::LocalService`]). Cheap to clone.
pub type Upstream = pake_runtime::server::LocalService;

/// Lazily connected channels to one address (or the one in-process service), handed out in turn.
#[derive(Clone, Debug)]
struct Connections {
    channels: Arc<[Upstream]>,
    next: Arc<AtomicUsize>,
}

impl Connections {
    fn new(channels: Arc<[Upstream]>) -> Self {
        Connections {
            channels,
            next: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn next(&self) -> Upstream {
        let turn = self.next.fetch_add(1, Ordering::Relaxed);
        self.channels[turn % self.channels.len()].clone()
    }
}

impl Upstreams {
    /// Channels for `default` (every service not in `by_service`) and each mapped service,
    /// `connections` (at least 1) per distinct address.
    pub fn new(
        default: Option<&str>,
        by_service: &BTreeMap<String, String>,
        connections: usize,
    ) -> Result<Self, Error> {
        let mut cache: HashMap<String, Connections> = HashMap::new();
        let mut connect = |service: &str, url: &str| -> Result<(String, Connections), Error> {
            if let Some(existing) = cache.get(url) {
                return Ok((url.to_owned(), existing.clone()));
            }
            // `https://`: the process's client TLS (pake_runtime::tls).
            let endpoint = pake_runtime::tls::client_endpoint(url).map_err(|error| Error {
                service: service.to_owned(),
                url: url.to_owned(),
                message: error.to_string(),
            })?;
            let endpoint = endpoint
                .connect_timeout(Duration::from_secs(5))
                .tcp_nodelay(true);
            let channels: Arc<[Upstream]> = (0..connections.max(1))
                .map(|_| {
                    Upstream::new(
                        endpoint
                            .connect_lazy()
                            .map_err(|error| CallError(error.into())),
                    )
                })
                .collect();
            let pooled = Connections::new(channels);
            cache.insert(url.to_owned(), pooled.clone());
            Ok((url.to_owned(), pooled))
        };
        let default = default.map(|url| connect("(default)", url)).transpose()?;
        let mut map = HashMap::new();
        for (service, url) in by_service {
            map.insert(service.clone(), connect(service, url)?);
        }
        Ok(Upstreams {
            default,
            by_service: map,
        })
    }

    /// Sends every service not mapped to an address of its own to `local` in-process (the
    /// all-in-one's edge calling its own gRPC server) instead of the default address.
    pub fn with_local_default(mut self, local: Upstream) -> Self {
        let local = Connections::new(Arc::from([local]));
        self.default = Some((LOCAL.to_owned(), local));
        self
    }

    /// A channel for `service` (the next of its address's connections), if it has an upstream.
    pub fn channel(&self, service: &str) -> Option<Upstream> {
        self.by_service
            .get(service)
            .or(self.default.as_ref())
            .map(|(_, connections)| connections.next())
    }

    /// Every distinct upstream (URL, channel), for readiness checks.
    pub fn distinct(&self) -> Vec<(String, Upstream)> {
        let mut seen: BTreeMap<String, Upstream> = BTreeMap::new();
        for (url, connections) in self.default.iter().chain(self.by_service.values()) {
            seen.entry(url.clone())
                .or_insert_with(|| connections.next());
        }
        seen.into_iter().collect()
    }
}

/// One call's request side.
pub struct Call {
    /// The upstream channel.
    pub channel: Upstream,
    /// `/package.Service/Method`.
    pub path: String,
    /// The metadata to send.
    pub metadata: MetadataMap,
    /// The deadline, if any.
    pub timeout: Option<Duration>,
}

impl Call {
    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::from_parts(
            self.metadata.clone(),
            tonic::Extensions::default(),
            message,
        );
        if let Some(timeout) = self.timeout {
            request.set_timeout(timeout);
        }
        // The edge's span (when exported) replaces the client's forwarded `traceparent`.
        pake_core::telemetry::inject_metadata(request.metadata_mut());
        request
    }

    fn path(&self) -> Result<PathAndQuery, Status> {
        PathAndQuery::try_from(self.path.as_str())
            .map_err(|_| Status::internal("invalid method path"))
    }

    /// A unary call; the response metadata includes the trailers.
    pub async fn unary(self, message: Bytes) -> Result<tonic::Response<Bytes>, Status> {
        let request = self.request(message);
        let path = self.path()?;
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        ready(&mut grpc).await?;
        with_deadline(self.timeout, grpc.unary(request, path, BytesCodec)).await
    }

    /// A server-streaming call.
    pub async fn server_streaming(
        self,
        message: Bytes,
    ) -> Result<tonic::Response<Streaming<Bytes>>, Status> {
        let request = self.request(message);
        let path = self.path()?;
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        ready(&mut grpc).await?;
        with_deadline(
            self.timeout,
            grpc.server_streaming(request, path, BytesCodec),
        )
        .await
    }

    /// A client-streaming call.
    pub async fn client_streaming<S>(self, messages: S) -> Result<tonic::Response<Bytes>, Status>
    where
        S: Stream<Item = Bytes> + Send + 'static,
    {
        let request = self.request(messages);
        let path = self.path()?;
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        ready(&mut grpc).await?;
        with_deadline(
            self.timeout,
            grpc.client_streaming(request, path, BytesCodec),
        )
        .await
    }
}

async fn ready(grpc: &mut tonic::client::Grpc<Upstream>) -> Result<(), Status> {
    grpc.ready()
        .await
        .map_err(|error| Status::from_error(Box::new(error)))
        .map_err(|status| {
            Status::unavailable(format!("upstream unavailable: {}", status.message()))
        })
}

async fn with_deadline<T>(
    timeout: Option<Duration>,
    call: impl Future<Output = Result<T, Status>>,
) -> Result<T, Status> {
    let Some(timeout) = timeout else {
        return call.await;
    };
    let started = std::time::Instant::now();
    match tokio::time::timeout(timeout, call).await {
        // The upstream enforces `grpc-timeout` too, and tonic reports its expiry as CANCELLED.
        Ok(Err(status))
            if status.code() == tonic::Code::Cancelled && started.elapsed() >= timeout =>
        {
            Err(Status::deadline_exceeded("deadline exceeded"))
        }
        Ok(result) => result,
        Err(_) => Err(Status::deadline_exceeded("deadline exceeded")),
    }
}

/// Passes encoded messages through unchanged.
#[derive(Clone, Copy, Debug, Default)]
pub struct BytesCodec;

impl Codec for BytesCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = BytesCodec;
    type Decoder = BytesCodec;

    fn encoder(&mut self) -> Self::Encoder {
        BytesCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        BytesCodec
    }
}

impl Encoder for BytesCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for BytesCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}
