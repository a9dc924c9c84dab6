//! The JSON edge of the process (`pake serve` runs it beside the services, `pake serve edge`
//! alone) and the `/metrics` listener of processes without it.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use pake_core::config::{Config, ServiceRole};
use pake_runtime::Shutdown;
use tokio::net::TcpListener;

use super::tls::install_client_tls;

/// Serves `/metrics` on `metrics_listen` when the JSON edge (whose `/metrics` has the same
/// metrics) does not run in this process: single services, or the all-in-one without the edge.
/// The default address in use is not fatal (several processes on one machine); a configured one
/// is.
pub(super) async fn start_metrics_listener(
    config: &Config,
    role: ServiceRole,
    shutdown: Shutdown,
) -> anyhow::Result<Option<pake_runtime::metrics::listener::MetricsHandle>> {
    if role == ServiceRole::All && config.edge.enabled {
        return Ok(None);
    }
    let addr: SocketAddr = config
        .metrics_listen
        .parse()
        .context("metrics_listen: expected ip:port")?;
    let listener = match TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) if config.metrics_listen == pake_core::config::DEFAULT_METRICS_LISTEN => {
            tracing::warn!(%addr, %error, "metrics listener not started (set metrics_listen)");
            return Ok(None);
        }
        Err(error) => return Err(error).with_context(|| format!("metrics_listen {addr}")),
    };
    let handle = pake_runtime::metrics::listener::MetricsServer::start(listener, shutdown)?;
    Ok(Some(handle))
}

/// The JSON edge's options from configuration. `default_upstream` (the all-in-one's own gRPC
/// URL) replaces `edge.upstream`; `edge.upstreams` still names single services.
pub fn edge_options(config: &Config, default_upstream: Option<String>) -> pake_edge::EdgeOptions {
    let edge = &config.edge;
    pake_edge::EdgeOptions {
        descriptor_set: edge.descriptor_set.clone(),
        default_upstream: default_upstream.or_else(|| edge.upstream.clone()),
        upstreams: edge.upstreams.clone(),
        limits: pake_edge::Limits {
            max_body_bytes: edge.max_body_bytes,
            max_stream_body_bytes: edge.max_stream_body_bytes,
        },
        drain_timeout: Duration::from_secs(config.shutdown.drain_timeout_secs),
        upstream_connections: edge.upstream_connections,
        local_upstream: None,
        compression: edge.compression,
    }
}

/// Starts the JSON edge on `listener` (see [`edge_options`]); it stops when `shutdown` is
/// triggered. With `local` (the all-in-one's own services, [`AppHandle::local_service`]) it
/// calls them in-process rather than through `default_upstream`'s socket.
pub async fn start_edge(
    config: &Config,
    default_upstream: Option<String>,
    local: Option<pake_runtime::server::LocalService>,
    listener: TcpListener,
    shutdown: Shutdown,
) -> anyhow::Result<pake_edge::EdgeHandle> {
    install_client_tls(config)?;
    let mut options = edge_options(config, default_upstream);
    options.local_upstream = local;
    let edge = pake_edge::Edge::new(&options, shutdown).context("starting the JSON edge")?;
    Ok(edge.serve(listener).await?)
}
