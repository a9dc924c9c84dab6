//! The real server, in-process, on port 0.

use std::net::SocketAddr;

use pake::AppHandle;
use pake_core::config::{Config, ServiceRole};
use pake_runtime::Shutdown;
use tempfile::TempDir;
use tonic::transport::Channel;

/// A running all-in-one (or single-service) server and its data dir.
pub struct TestApp {
    /// The bound gRPC address.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The configuration it runs with.
    pub config: Config,
    shutdown: Shutdown,
    handle: AppHandle,
    _data_dir: Option<TempDir>,
}

/// Starts the all-in-one server on port 0 with a fresh SQLite data dir.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(ServiceRole::All, |_| {}).await
}

/// Starts `role` on port 0 with a fresh data dir, after `adjust` edits the configuration.
pub async fn spawn_app_with(role: ServiceRole, adjust: impl FnOnce(&mut Config)) -> TestApp {
    pake_core::telemetry::init_for_tests();
    // As `main` does: ring is the one rustls crypto provider (docs/adr/0017-native-tls.md).
    pake_runtime::tls::install_crypto_provider();
    let data_dir = tempfile::tempdir().expect("temp data dir");
    let mut config = Config {
        grpc_listen: "127.0.0.1:0".to_owned(),
        data_dir: data_dir.path().to_path_buf(),
        ..Config::default()
    };
    adjust(&mut config);
    let listener = tokio::net::TcpListener::bind(config.grpc_listen_addr().expect("listen addr"))
        .await
        .expect("bind port 0");
    let shutdown = Shutdown::new();
    let handle = pake::start(&config, role, listener, shutdown.clone())
        .await
        .expect("start pake");
    TestApp {
        addr: handle.grpc_addr(),
        url: handle.grpc_url(),
        config,
        shutdown,
        handle,
        _data_dir: Some(data_dir),
    }
}

impl TestApp {
    /// A connected channel to the server.
    pub async fn channel(&self) -> Channel {
        // `https://` when the test configured TLS: the process's client TLS (pake_runtime::tls).
        pake_runtime::tls::client_endpoint(&self.url)
            .expect("url")
            .connect()
            .await
            .expect("connect to test server")
    }

    /// The shutdown signal (to test shutdown behaviour).
    pub fn shutdown_signal(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// The server's gRPC services in-process (what the all-in-one's edge calls).
    pub fn local_service(&self) -> pake_runtime::server::LocalService {
        self.handle.local_service()
    }

    /// Shuts down and waits for the drain.
    /// Waits (bounded, 10 s) until health reports `service` SERVING — as a readiness probe
    /// would; a new server's search is NOT_SERVING until its empty index's first rebuild is
    /// committed. Panics with the last answer when it never is.
    pub async fn wait_until_serving(&self, service: &str) {
        use tonic_health::pb::HealthCheckRequest;
        use tonic_health::pb::health_client::HealthClient;
        let mut health = HealthClient::new(self.channel().await);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let answer = health
                .check(HealthCheckRequest {
                    service: service.to_owned(),
                })
                .await
                .map(|response| response.into_inner().status());
            if matches!(
                answer,
                Ok(tonic_health::pb::health_check_response::ServingStatus::Serving)
            ) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{service} not SERVING within 10 s: {answer:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    pub async fn stop(self) {
        self.shutdown.trigger();
        self.handle.wait().await.expect("clean shutdown");
    }
}
