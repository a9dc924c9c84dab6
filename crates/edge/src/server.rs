//! Options → Edge → Handle: loads the descriptors, builds the routing table and the upstream
//! channels (every problem is a start-up error), and serves HTTP until shutdown.
//!
//! Besides the bindings: `/healthz` (the process is up), `/readyz` (every upstream answers
//! `grpc.health.v1.Health/Check` with SERVING, and no shutdown is under way),
//! `/openapi.json` (OpenAPI 3.1 generated from the bindings at start), `/docs/` (swagger-ui
//! rendering it, see [`crate::docs`]) and `/metrics` (Prometheus).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router as HttpRouter;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::StatusCode;
use pake_runtime::Shutdown;
use prost_reflect::DescriptorPool;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::descriptors;
use crate::router::{ConflictError, Router};
use crate::upstream::{self, Upstreams};

/// Default request body limit: 4 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Default limit of a client-streaming (NDJSON) request body: 256 MiB.
pub const DEFAULT_MAX_STREAM_BODY_BYTES: usize = 256 * 1024 * 1024;

/// What the edge serves and where it sends calls.
#[derive(Clone, Debug)]
pub struct EdgeOptions {
    /// An encoded FileDescriptorSet; `None` serves PAKE's own.
    pub descriptor_set: Option<PathBuf>,
    /// The gRPC URL of every service not in `upstreams`.
    pub default_upstream: Option<String>,
    /// gRPC URL per fully-qualified service name.
    pub upstreams: BTreeMap<String, String>,
    /// Limits on request bodies.
    pub limits: Limits,
    /// How long open requests may take to finish after shutdown starts.
    pub drain_timeout: Duration,
    /// HTTP/2 connections per upstream address (at least 1).
    pub upstream_connections: usize,
    /// The all-in-one's own gRPC services in-process: when set, every service without an
    /// address in `upstreams` is called through it instead of `default_upstream`.
    pub local_upstream: Option<crate::upstream::Upstream>,
    /// Compress responses the client accepts compressed ([`crate::compression`]).
    pub compression: bool,
}

impl Default for EdgeOptions {
    fn default() -> Self {
        EdgeOptions {
            descriptor_set: None,
            default_upstream: None,
            upstreams: BTreeMap::new(),
            limits: Limits::default(),
            drain_timeout: Duration::from_secs(20),
            upstream_connections: pake_core::config::DEFAULT_UPSTREAM_CONNECTIONS,
            local_upstream: None,
            compression: true,
        }
    }
}

/// Request body limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Unary and server-streaming requests.
    pub max_body_bytes: usize,
    /// Client-streaming (NDJSON) requests.
    pub max_stream_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_stream_body_bytes: DEFAULT_MAX_STREAM_BODY_BYTES,
        }
    }
}

/// Start-up errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The descriptor set or a rule in it is invalid.
    #[error(transparent)]
    Descriptors(#[from] descriptors::Error),
    /// Two bindings conflict.
    #[error(transparent)]
    Conflict(#[from] ConflictError),
    /// An upstream URL is invalid.
    #[error(transparent)]
    Upstream(#[from] upstream::Error),
    /// A bound service has no upstream.
    #[error("no upstream for {0}; set a default upstream or one for this service (edge.upstreams)")]
    MissingUpstream(String),
    /// The listener failed.
    #[error("edge listener: {0}")]
    Io(#[from] std::io::Error),
    /// The server task failed.
    #[error("edge server task: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// Shared by every request.
pub struct EdgeState {
    pub(crate) pool: Arc<DescriptorPool>,
    pub(crate) router: Router,
    pub(crate) upstreams: Upstreams,
    pub(crate) limits: Limits,
    pub(crate) api_keys: Option<crate::api_keys::ApiKeyExchange>,
    pub(crate) metrics: crate::metrics::Metrics,
    shutdown: Shutdown,
    openapi: String,
}

/// A configured edge, ready to serve.
pub struct Edge {
    state: Arc<EdgeState>,
    drain_timeout: Duration,
    compression: bool,
}

impl Edge {
    /// Loads and checks everything; `shutdown` makes `/readyz` fail and stops the server.
    pub fn new(options: &EdgeOptions, shutdown: Shutdown) -> Result<Edge, Error> {
        let pool = descriptors::load_pool(options.descriptor_set.as_deref())?;
        let router = Router::new(descriptors::bindings(&pool)?)?;
        let upstreams = Upstreams::new(
            options.default_upstream.as_deref(),
            &options.upstreams,
            options.upstream_connections,
        )?;
        let upstreams = match &options.local_upstream {
            Some(local) => upstreams.with_local_default(local.clone()),
            None => upstreams,
        };
        let title = match &options.descriptor_set {
            None => "PAKE JSON API".to_owned(),
            Some(path) => format!(
                "JSON API ({})",
                path.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            ),
        };
        let openapi = crate::openapi::document(router.bindings(), &title).to_string();
        for binding in router.bindings() {
            let service = binding.method.parent_service().full_name().to_owned();
            if upstreams.channel(&service).is_none() {
                return Err(Error::MissingUpstream(service));
            }
        }
        // PAKE's identity service in the set and reachable: exchange API keys at the edge.
        let api_keys = pool
            .get_service_by_name(crate::api_keys::IDENTITY_SERVICE)
            .filter(|service| service.methods().any(|m| m.name() == "ExchangeApiKey"))
            .and_then(|_| upstreams.channel(crate::api_keys::IDENTITY_SERVICE))
            .map(crate::api_keys::ApiKeyExchange::new);
        Ok(Edge {
            state: Arc::new(EdgeState {
                api_keys,
                metrics: crate::metrics::Metrics::default(),
                pool: Arc::new(pool),
                router,
                upstreams,
                limits: options.limits,
                shutdown,
                openapi,
            }),
            drain_timeout: options.drain_timeout,
            compression: options.compression,
        })
    }

    /// Number of HTTP bindings served.
    pub fn binding_count(&self) -> usize {
        self.state.router.bindings().len()
    }

    /// The HTTP application (for embedding or tests).
    pub fn http_router(&self) -> HttpRouter {
        let router = HttpRouter::new()
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .route("/openapi.json", get(openapi))
            .route("/metrics", get(metrics))
            .merge(crate::docs::routes())
            .fallback(crate::gateway::handle)
            .with_state(self.state.clone());
        if self.compression {
            router.layer(crate::compression::layer())
        } else {
            router
        }
    }

    /// Serves on `listener` until the shutdown signal, then drains (bounded).
    pub async fn serve(self, listener: TcpListener) -> Result<EdgeHandle, Error> {
        let local_addr = listener.local_addr()?;
        let app = self.http_router();
        let shutdown = self.state.shutdown.clone();
        let graceful = shutdown.clone();
        let serve = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { graceful.cancelled().await });
        let drain_timeout = self.drain_timeout;
        let task = tokio::spawn(async move {
            let serve = serve.into_future();
            tokio::pin!(serve);
            tokio::select! {
                result = &mut serve => result,
                () = shutdown.cancelled() => {
                    match tokio::time::timeout(drain_timeout, &mut serve).await {
                        Ok(result) => result,
                        Err(_) => {
                            tracing::warn!(?drain_timeout, "edge drain timed out; cutting off open requests");
                            Ok(())
                        }
                    }
                }
            }
        });
        tracing::info!(addr = %local_addr, bindings = self.binding_count(), "edge listening");
        Ok(EdgeHandle { local_addr, task })
    }
}

/// A running edge.
#[derive(Debug)]
pub struct EdgeHandle {
    local_addr: SocketAddr,
    task: JoinHandle<std::io::Result<()>>,
}

impl EdgeHandle {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Waits until the server has stopped.
    pub async fn wait(self) -> Result<(), Error> {
        self.task.await??;
        Ok(())
    }
}

async fn openapi(State(state): State<Arc<EdgeState>>) -> Response {
    (
        [(http::header::CONTENT_TYPE, "application/json")],
        state.openapi.clone(),
    )
        .into_response()
}

/// This edge's metrics and the process registry ([`pake_runtime::metrics`]); OpenMetrics when
/// the scraper asks for it, else the Prometheus text format.
async fn metrics(State(state): State<Arc<EdgeState>>, headers: http::HeaderMap) -> Response {
    let format = pake_runtime::metrics::Format::from_accept(headers.get(http::header::ACCEPT));
    let (content_type, text) = state.metrics.render_as(format);
    ([(http::header::CONTENT_TYPE, content_type)], text).into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<Arc<EdgeState>>) -> Response {
    if state.shutdown.is_triggered() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"ready": false, "reason": "shutting down"})),
        )
            .into_response();
    }
    // Statuses only: upstream addresses are internal and never shown.
    let mut statuses = Vec::new();
    let mut ready = true;
    for (url, channel) in state.upstreams.distinct() {
        let mut client = tonic_health::pb::health_client::HealthClient::new(channel);
        let check = client.check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        });
        let status = match tokio::time::timeout(Duration::from_secs(2), check).await {
            Ok(Ok(response)) => response.into_inner().status().as_str_name().to_owned(),
            Ok(Err(status)) => format!("{:?}", status.code()),
            Err(_) => "TIMEOUT".to_owned(),
        };
        if status != "SERVING" {
            tracing::warn!(upstream = %url, %status, "upstream not ready");
            ready = false;
        }
        statuses.push(status);
    }
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        axum::Json(json!({"ready": ready, "upstreams": statuses})),
    )
        .into_response()
}
