//! The metrics listener of a single service, as an operator runs it: `pake serve knowledge
//! --metrics-listen ADDR` serves `GET /metrics` with that process's RPC and pool metrics, in a
//! text every line of which is valid exposition; a bad `metrics_listen` is a configuration
//! error that names the key.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use pake_api::knowledge::DeleteItemRequest;
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_runtime::metrics::exposition::{self, Sample};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

const PAKE: &str = env!("CARGO_BIN_EXE_pake");

/// A child process killed when dropped (a failed assertion must not leave it running).
struct Running {
    child: Child,
    grpc: SocketAddr,
    metrics: SocketAddr,
    _data_dir: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `pake serve knowledge` with everything on port 0 and reads both addresses from its
/// JSON log lines.
fn start_knowledge() -> Running {
    let data_dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(PAKE)
        .args([
            "serve",
            "knowledge",
            "--grpc-listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            // Nothing listens there: calls with tokens would fail, anonymous ones are refused
            // before any key is needed.
            "--identity-url",
            "http://127.0.0.1:9",
            "--log-format",
            "json",
            "--log-filter",
            "info",
            "--data-dir",
        ])
        .arg(data_dir.path())
        .env_remove("PAKE_CONFIG")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pake");
    let stderr = child.stderr.take().expect("stderr");
    let (mut grpc, mut metrics) = (None, None);
    let mut seen = Vec::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("log line");
        if let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) {
            let addr = event["fields"]["addr"]
                .as_str()
                .and_then(|addr| addr.parse::<SocketAddr>().ok());
            match event["fields"]["message"].as_str() {
                Some("metrics listening") => metrics = addr,
                Some("grpc server listening") => grpc = addr,
                _ => {}
            }
        }
        seen.push(line);
        if grpc.is_some() && metrics.is_some() {
            break;
        }
    }
    match (grpc, metrics) {
        (Some(grpc), Some(metrics)) => Running {
            child,
            grpc,
            metrics,
            _data_dir: data_dir,
        },
        _ => panic!("no listening lines in the log: {seen:#?}"),
    }
}

async fn scrape(addr: SocketAddr) -> Vec<Sample> {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the metrics listener");
    let request = format!("GET /metrics HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("head and body");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    exposition::parse(body).unwrap_or_else(|error| panic!("invalid exposition: {error}\n{body}"))
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    exposition::value(samples, name, labels).unwrap_or(0.0)
}

#[tokio::test]
async fn a_single_service_serves_metrics_on_its_own_listener() {
    let running = start_knowledge();
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", running.grpc))
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let health = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: "pake.knowledge.v1.KnowledgeService".to_owned(),
        })
        .await
        .expect("health")
        .into_inner();
    assert_eq!(health.status, 1, "SERVING");
    let refused = KnowledgeServiceClient::new(channel)
        .delete_item(DeleteItemRequest {
            name: "items/0190a0a0-0000-7000-8000-000000000000".to_owned(),
            ..DeleteItemRequest::default()
        })
        .await
        .expect_err("no token");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);

    let samples = scrape(running.metrics).await;
    let calls = |service: &str, method: &str, code: &str| {
        value(
            &samples,
            "pake_rpc_requests_total",
            &[("service", service), ("method", method), ("code", code)],
        )
    };
    assert_eq!(calls("grpc.health.v1.Health", "Check", "OK"), 1.0);
    assert_eq!(
        calls(
            "pake.knowledge.v1.KnowledgeService",
            "DeleteItem",
            "UNAUTHENTICATED"
        ),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "pake_rpc_duration_seconds_count",
            &[("service", "grpc.health.v1.Health"), ("method", "Check")]
        ),
        1.0
    );
    assert!(
        value(
            &samples,
            "pake_db_pool_max_connections",
            &[("backend", "sqlite")]
        ) >= 1.0
    );
    // The knowledge process runs no search: no search cache series.
    assert!(
        !samples
            .iter()
            .any(|s| s.label("cache") == Some("search_query"))
    );
}

#[test]
fn an_invalid_metrics_listen_names_the_setting() {
    let data_dir = tempfile::tempdir().expect("tempdir");
    let output = Command::new(PAKE)
        .args(["serve", "identity", "--metrics-listen", "localhost:nine"])
        .arg("--data-dir")
        .arg(data_dir.path())
        .env_remove("PAKE_CONFIG")
        .output()
        .expect("run pake");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("metrics_listen: 'localhost:nine' is not a socket address"),
        "{stderr}"
    );
}
