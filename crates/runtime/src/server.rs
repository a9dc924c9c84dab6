//! The gRPC server every PAKE process runs: the services it was given, plus
//! `grpc.health.v1.Health` (one status per service) and server reflection v1 and v1alpha
//! (grpcurl 1.8 and grpcio speak only v1alpha). Every call passes the trace layer
//! ([`crate::trace`]: one span per RPC, child of the caller's W3C context) first, then the RPC
//! metrics layer ([`crate::metrics::rpc`]), then authentication and rate limits ([`AuthLayer`]).
//!
//! Shutdown order (tested in `crates/cli/tests`): the [`Shutdown`] signal fires → every health
//! status turns NOT_SERVING → the listener stops accepting → open server streams end with
//! UNAVAILABLE (they watch the same signal) → in-flight calls drain, bounded by the drain
//! timeout → `serve` returns and the caller closes pools.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tonic::server::NamedService;
use tonic::service::RoutesBuilder;
use tonic::transport::server::{TcpConnectInfo, TcpIncoming};
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::auth::AuthLayer;
use crate::shutdown::Shutdown;

/// Errors starting or running the gRPC server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The encoded descriptor sets could not be served by reflection.
    #[error("building the reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The transport failed.
    #[error("grpc server: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The listener's address could not be read.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
    /// The server task panicked or was aborted.
    #[error("grpc server task: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// Options → Service: collects services, then [`GrpcServer::start`] returns a [`ServerHandle`].
pub struct GrpcServer {
    routes: RoutesBuilder,
    health: HealthReporter,
    service_names: Vec<&'static str>,
    shutdown: Shutdown,
    drain_timeout: Duration,
    auth: AuthLayer,
    tls: Option<crate::tls::ServerTls>,
}

impl GrpcServer {
    /// A server with health and reflection, authenticating PAKE calls with `verifier`, shutting
    /// down on `shutdown`.
    pub fn new(
        shutdown: Shutdown,
        drain_timeout: Duration,
        verifier: std::sync::Arc<pake_core::token::Verifier>,
    ) -> Self {
        let (health, health_service) = tonic_health::server::health_reporter();
        let mut routes = RoutesBuilder::default();
        routes.add_service(health_service);
        GrpcServer {
            routes,
            health,
            service_names: Vec::new(),
            shutdown,
            drain_timeout,
            auth: AuthLayer::new(verifier),
            tls: None,
        }
    }

    /// Limits every caller's rate of calls to PAKE methods ([`crate::rate_limit`]).
    pub fn set_rate_limits(&mut self, config: &pake_core::config::RateLimitConfig) -> &mut Self {
        let limiter = std::sync::Arc::new(crate::rate_limit::RateLimiter::new(config));
        self.auth = self.auth.clone().with_rate_limits(limiter);
        self
    }

    /// Believes `X-Forwarded-For` from `proxies` for the client address of a call
    /// ([`crate::auth::ClientAddress`]).
    pub fn set_trusted_proxies(
        &mut self,
        proxies: pake_core::client_address::TrustedProxies,
    ) -> &mut Self {
        self.auth = self.auth.clone().with_trusted_proxies(proxies);
        self
    }

    /// Serves TLS (and mTLS) instead of plaintext h2c ([`crate::tls`]).
    pub fn set_tls(&mut self, tls: crate::tls::ServerTls) -> &mut Self {
        self.tls = Some(tls);
        self
    }

    /// Adds a gRPC service; it is reported SERVING in health and listed by reflection.
    pub fn add_service<S>(&mut self, service: S) -> &mut Self
    where
        S: tower_service::Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<tonic::body::Body>,
                Error = std::convert::Infallible,
            > + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.service_names.push(S::NAME);
        self.routes.add_service(service);
        self
    }

    /// The health reporter, for services that turn NOT_SERVING while a dependency is down.
    pub fn health(&self) -> HealthReporter {
        self.health.clone()
    }

    /// Binds nothing itself: serves on `listener` (bind port 0 in tests) until shutdown.
    pub async fn start(mut self, listener: TcpListener) -> Result<ServerHandle, Error> {
        let local_addr = listener.local_addr()?;
        let reflection_v1 = reflection_builder(&self.service_names).build_v1()?;
        let reflection_v1alpha = reflection_builder(&self.service_names).build_v1alpha()?;
        self.routes.add_service(reflection_v1);
        self.routes.add_service(reflection_v1alpha);
        for name in &self.service_names {
            self.health
                .set_service_status(*name, ServingStatus::Serving)
                .await;
        }

        let health = self.health.clone();
        let service_names = self.service_names.clone();
        let shutdown = self.shutdown.clone();
        let stop_accepting = async move {
            shutdown.cancelled().await;
            set_all_not_serving(&health, &service_names).await;
            tracing::info!("health is NOT_SERVING; no longer accepting connections");
        };
        let routes = self.routes.routes();
        let metrics = rpc_metrics_layer(&self.service_names);
        let local = local_service(
            routes.clone(),
            metrics.clone(),
            self.auth.clone(),
            local_addr,
        );
        let router = tonic::transport::Server::builder()
            // TLS callers' TCP peer as plaintext callers', for rate limits by address.
            .layer(tower::util::MapRequestLayer::new(
                crate::tls::expose_tcp_connect_info
                    as fn(http::Request<tonic::body::Body>) -> http::Request<tonic::body::Body>,
            ))
            // The first layer is the outermost: calls refused by auth are traced and measured too.
            .layer(crate::trace::RpcTraceLayer)
            .layer(metrics)
            .layer(self.auth.clone())
            .add_routes(routes);
        let serve: std::pin::Pin<
            Box<dyn Future<Output = Result<(), tonic::transport::Error>> + Send>,
        > = match self.tls.clone() {
            None => Box::pin(router.serve_with_incoming_shutdown(
                // TCP_NODELAY as tonic's own `serve` sets it: without it, small responses wait
                // for the peer's delayed ACK (~40 ms per call).
                TcpIncoming::from(listener).with_nodelay(Some(true)),
                stop_accepting,
            )),
            Some(tls) => {
                tls.spawn_reloader(self.shutdown.clone());
                Box::pin(
                    router.serve_with_incoming_shutdown(tls.incoming(listener), stop_accepting),
                )
            }
        };

        let shutdown = self.shutdown.clone();
        let drain_timeout = self.drain_timeout;
        let task = tokio::spawn(async move {
            tokio::pin!(serve);
            tokio::select! {
                result = &mut serve => result,
                () = shutdown.cancelled() => {
                    match tokio::time::timeout(drain_timeout, &mut serve).await {
                        Ok(result) => result,
                        Err(_) => {
                            tracing::warn!(?drain_timeout, "drain timed out; cutting off remaining calls");
                            Ok(())
                        }
                    }
                }
            }
        });
        tracing::info!(addr = %local_addr, services = ?self.service_names, "grpc server listening");
        Ok(ServerHandle {
            local_addr,
            scheme: if self.tls.is_some() { "https" } else { "http" },
            local,
            shutdown: self.shutdown,
            task,
        })
    }
}

/// A gRPC service called in-process: requests and responses are HTTP/2-shaped gRPC messages,
/// without a socket in between.
pub type LocalService = tower::util::BoxCloneSyncService<
    http::Request<tonic::body::Body>,
    http::Response<tonic::body::Body>,
    CallError,
>;

/// The error of a [`LocalService`] (or of a channel boxed as one). A concrete type rather than
/// a bare `BoxError`, so that clients generic over the service (`tonic::client::Grpc`) work
/// inside `Send` futures.
#[derive(Debug)]
pub struct CallError(pub tower::BoxError);

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for CallError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// The server's own call path — the same metrics, authentication, rate limits and routes as a
/// connection gets — callable without the network, for the all-in-one's edge. Calls arrive as
/// from a loopback peer at the server's address, exactly as if the edge had dialled the port,
/// except that their `X-Forwarded-For` (the edge's, ending with its client) is believed without
/// `trusted_proxies`.
fn local_service(
    routes: tonic::service::Routes,
    metrics: crate::metrics::rpc::RpcMetricsLayer,
    auth: AuthLayer,
    server_addr: SocketAddr,
) -> LocalService {
    use tower::ServiceExt;
    let peer = TcpConnectInfo {
        local_addr: Some(server_addr),
        remote_addr: Some(SocketAddr::new(
            std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            0,
        )),
    };
    let service = tower_layer::Layer::layer(
        &crate::trace::RpcTraceLayer,
        tower_layer::Layer::layer(&metrics, tower_layer::Layer::layer(&auth, routes)),
    )
    .map_request(move |mut request: http::Request<tonic::body::Body>| {
        request.extensions_mut().insert(peer.clone());
        request
            .extensions_mut()
            .insert(crate::auth::InProcessEdgeCall);
        request
    })
    .map_err(|error| CallError(error.into()));
    tower::util::BoxCloneSyncService::new(service)
}

fn reflection_builder(
    service_names: &[&'static str],
) -> tonic_reflection::server::Builder<'static> {
    let mut builder = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pake_api::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .with_service_name("grpc.health.v1.Health");
    for name in service_names {
        builder = builder.with_service_name(*name);
    }
    builder
}

/// Labels the methods of `service_names`, health and both reflection versions.
fn rpc_metrics_layer(service_names: &[&'static str]) -> crate::metrics::rpc::RpcMetricsLayer {
    let mut services = service_names.to_vec();
    services.extend([
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    ]);
    crate::metrics::rpc::RpcMetricsLayer::new(
        &[
            pake_api::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
        ],
        &services,
    )
}

async fn set_all_not_serving(health: &HealthReporter, service_names: &[&'static str]) {
    health
        .set_service_status("", ServingStatus::NotServing)
        .await;
    for name in service_names {
        health
            .set_service_status(*name, ServingStatus::NotServing)
            .await;
    }
}

/// Handle of a running server: its address, and the way to stop it and wait.
#[derive(Debug)]
pub struct ServerHandle {
    local_addr: SocketAddr,
    scheme: &'static str,
    local: LocalService,
    shutdown: Shutdown,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
}

impl ServerHandle {
    /// The address the server is bound to (the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://ip:port` for a tonic client (`https://` when serving TLS).
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.local_addr)
    }

    /// The server's call path in-process (see [`LocalService`]); it answers as long as the
    /// process runs, so its callers stop with the same shutdown signal.
    pub fn local_service(&self) -> LocalService {
        self.local.clone()
    }

    /// Waits until the server has stopped (after the shutdown signal and the drain).
    pub async fn wait(self) -> Result<(), Error> {
        self.task.await??;
        Ok(())
    }

    /// Triggers shutdown and waits for the drain to finish.
    pub async fn shutdown(self) -> Result<(), Error> {
        self.shutdown.trigger();
        self.wait().await
    }
}
