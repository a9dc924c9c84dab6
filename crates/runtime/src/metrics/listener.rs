//! The metrics listener: `GET /metrics` (the process registry) on its own address, for processes
//! without the JSON edge (`pake serve identity|knowledge|search`; SPEC §8, `metrics_listen`,
//! default 127.0.0.1:9464). Options → Service → Handle like the gRPC server: bind the listener
//! (port 0 in tests), [`MetricsServer::start`], and the handle reports the address; it stops
//! when the shutdown signal fires.

use std::net::SocketAddr;

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::Shutdown;

pub use pake_core::config::DEFAULT_METRICS_LISTEN;

/// Serves the process registry at `/metrics`.
#[derive(Debug)]
pub struct MetricsServer;

impl MetricsServer {
    /// Serves on `listener` until `shutdown` fires.
    pub fn start(listener: TcpListener, shutdown: Shutdown) -> std::io::Result<MetricsHandle> {
        let local_addr = listener.local_addr()?;
        let app = Router::new().route("/metrics", get(metrics));
        let task = tokio::spawn(async move {
            let result = axum::serve(listener, app)
                .with_graceful_shutdown(async move { shutdown.cancelled().await })
                .await;
            if let Err(error) = result {
                tracing::warn!(%error, "metrics listener failed");
            }
        });
        tracing::info!(addr = %local_addr, "metrics listening");
        Ok(MetricsHandle { local_addr, task })
    }
}

/// A running metrics listener.
#[derive(Debug)]
pub struct MetricsHandle {
    local_addr: SocketAddr,
    task: JoinHandle<()>,
}

impl MetricsHandle {
    /// The bound address (the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Waits until the listener has stopped (after the shutdown signal).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// `GET /metrics`: OpenMetrics when the scraper asks for it, else the Prometheus text format.
pub async fn metrics(headers: http::HeaderMap) -> Response {
    let format = super::Format::from_accept(headers.get(http::header::ACCEPT));
    let (content_type, text) = super::render(format, &[]);
    ([(http::header::CONTENT_TYPE, content_type)], text).into_response()
}
