//! The gRPC server every PAKE process runs: the services it was given, plus
//! `grpc.health.v1.Health` (one status per service) and server reflection v1 and v1alpha
//! (grpcurl 1.8 and grpcio speak only v1alpha).
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
use tonic::transport::server::TcpIncoming;
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
        }
    }

    /// Limits every caller's rate of calls to PAKE methods ([`crate::rate_limit`]).
    pub fn set_rate_limits(&mut self, config: &pake_core::config::RateLimitConfig) -> &mut Self {
        let limiter = std::sync::Arc::new(crate::rate_limit::RateLimiter::new(config));
        self.auth = self.auth.clone().with_rate_limits(limiter);
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
        let serve = tonic::transport::Server::builder()
            .layer(self.auth.clone())
            .add_routes(self.routes.routes())
            .serve_with_incoming_shutdown(
                // TCP_NODELAY as tonic's own `serve` sets it: without it, small responses wait
                // for the peer's delayed ACK (~40 ms per call).
                TcpIncoming::from(listener).with_nodelay(Some(true)),
                stop_accepting,
            );

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
            shutdown: self.shutdown,
            task,
        })
    }
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
    shutdown: Shutdown,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
}

impl ServerHandle {
    /// The address the server is bound to (the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://ip:port` for a tonic client.
    pub fn url(&self) -> String {
        format!("http://{}", self.local_addr)
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
