//! The process-wide shutdown signal.
//!
//! One [`Shutdown`] is created per process (or per in-process test server) and cloned into every
//! component. Long-lived server streams select on [`Shutdown::cancelled`] and end with
//! UNAVAILABLE, so a client resumes from its cursor instead of holding the drain open.

use tokio_util::sync::CancellationToken;

/// A cloneable shutdown trigger and signal.
#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    token: CancellationToken,
}

impl Shutdown {
    /// A fresh, untriggered signal.
    pub fn new() -> Self {
        Shutdown::default()
    }

    /// Starts shutting down (idempotent).
    pub fn trigger(&self) {
        self.token.cancel();
    }

    /// Whether shutdown has started.
    pub fn is_triggered(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Completes when shutdown starts.
    pub async fn cancelled(&self) {
        self.token.cancelled().await;
    }

    /// The status a server stream ends with when shutdown interrupts it.
    pub fn stream_status() -> tonic::Status {
        tonic::Status::unavailable("server is shutting down; resume from your last cursor")
    }

    /// Triggers this signal on SIGTERM or Ctrl-C (SIGINT). Returns at once; the watcher runs in
    /// the background until either signal arrives or shutdown is triggered otherwise.
    pub fn trigger_on_signals(&self) -> std::io::Result<()> {
        #[cfg(unix)]
        let mut sigterm =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let shutdown = self.clone();
        tokio::spawn(async move {
            #[cfg(unix)]
            let terminate = async {
                sigterm.recv().await;
            };
            #[cfg(not(unix))]
            let terminate = std::future::pending::<()>();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => tracing::info!(signal = "SIGINT", "shutting down"),
                _ = terminate => tracing::info!(signal = "SIGTERM", "shutting down"),
                _ = shutdown.cancelled() => return,
            }
            shutdown.trigger();
        });
        Ok(())
    }
}
