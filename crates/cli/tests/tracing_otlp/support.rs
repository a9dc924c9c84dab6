//! What the tracing tests share: an in-test OTLP/gRPC collector (plaintext or TLS) that keeps
//! every span it receives, `pake serve` child processes whose JSON log lines are kept, and
//! plain HTTP/1.1 and gRPC clients.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const PAKE: &str = env!("CARGO_BIN_EXE_pake");

/// One exported span; ids in lowercase hex, as W3C and the log lines write them.
#[derive(Clone, Debug)]
pub struct Exported {
    pub trace_id: String,
    pub span_id: String,
    pub name: String,
    pub service: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The in-test OTLP/gRPC collector: keeps every span it receives.
#[derive(Clone, Default)]
pub struct Collector {
    spans: Arc<Mutex<Vec<Exported>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().expect("collector lock");
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|resource| resource.attributes.iter())
                .find(|attribute| attribute.key == "service.name")
                .and_then(|attribute| attribute.value.as_ref()?.value.as_ref())
                .map(|value| match value {
                    Value::StringValue(name) => name.clone(),
                    other => format!("{other:?}"),
                })
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    spans.push(Exported {
                        trace_id: hex(&span.trace_id),
                        span_id: hex(&span.span_id),
                        name: span.name,
                        service: service.clone(),
                    });
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

impl Collector {
    /// Serves plaintext OTLP/gRPC on a free port; returns its `http://` URL.
    pub async fn start(&self) -> String {
        format!("http://{}", self.serve(None).await)
    }

    /// Serves OTLP/gRPC over `tls` on a free port; returns its `https://` URL.
    pub async fn start_tls(&self, tls: tonic::transport::ServerTlsConfig) -> String {
        format!("https://{}", self.serve(Some(tls)).await)
    }

    async fn serve(&self, tls: Option<tonic::transport::ServerTlsConfig>) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind collector");
        let addr = listener.local_addr().expect("collector addr");
        let mut server = tonic::transport::Server::builder();
        if let Some(tls) = tls {
            server = server.tls_config(tls).expect("collector tls");
        }
        tokio::spawn(
            server
                .add_service(TraceServiceServer::new(self.clone()))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        addr
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<Exported> {
        self.spans.lock().expect("collector lock").clone()
    }

    /// service.names per trace id, of the traces that contain a span named `name` (the edge's
    /// `edge.request` span is exported under its `otel.name`, `METHOD /path`).
    pub fn traces_with(&self, name: &str) -> Vec<std::collections::BTreeSet<String>> {
        let spans = self.spans();
        let mut traces: std::collections::BTreeMap<&str, std::collections::BTreeSet<String>> =
            Default::default();
        for span in &spans {
            traces
                .entry(span.trace_id.as_str())
                .or_default()
                .insert(span.service.clone());
        }
        spans
            .iter()
            .filter(|span| span.name == name)
            .filter_map(|span| traces.get(span.trace_id.as_str()).cloned())
            .collect()
    }

    pub fn dump(&self) -> Vec<String> {
        self.spans()
            .iter()
            .map(|span| format!("{} {} {}", span.trace_id, span.service, span.name))
            .collect()
    }
}

/// A `pake` process, killed when dropped; keeps its standard error (JSON log lines).
pub struct Process {
    pub child: Child,
    pub data_dir: tempfile::TempDir,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Process {
    /// The log lines written so far, parsed (every line must be one JSON object).
    pub fn json_logs(&self) -> Vec<serde_json::Value> {
        self.logs
            .lock()
            .expect("log lock")
            .iter()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|error| panic!("log line is not JSON ({error}): {line}"))
            })
            .collect()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// Starts `pake serve <args>` (JSON logs at info) exporting to `collector`; returns it and the
/// address on the banner line starting with `prefix`.
pub fn serve(
    args: &[&str],
    collector: &str,
    env: &[(&str, &str)],
    prefix: &str,
) -> (Process, String) {
    let data_dir = tempfile::tempdir().expect("tempdir");
    let mut command = Command::new(PAKE);
    command
        .arg("serve")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir.path())
        .env_remove("PAKE_CONFIG")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("RUST_LOG")
        .env("PAKE_LOG__FORMAT", "json")
        .env("PAKE_LOG__FILTER", "info")
        .env("PAKE_TELEMETRY__OTLP_ENDPOINT", collector)
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("spawn pake");
    let logs = Arc::new(Mutex::new(Vec::new()));
    let stderr = child.stderr.take().expect("stderr");
    let sink = Arc::clone(&logs);
    let echo = std::env::var_os("TEST_LOG").is_some();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if echo {
                eprintln!("{line}");
            }
            sink.lock().expect("log lock").push(line);
        }
    });
    let stdout = child.stdout.take().expect("stdout");
    let mut addr = None;
    let mut banner = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("banner line");
        if let Some(rest) = line.strip_prefix(prefix) {
            addr = rest.split_whitespace().next().map(str::to_owned);
        }
        // The last banner line: stdout closes with the reader, so a process must print no
        // more after it (a println to a closed pipe panics).
        let last = if prefix.contains("grpc") {
            "grpc.health.v1.Health/Check"
        } else {
            "jwks.json"
        };
        let done = line.contains(last);
        banner.push(line);
        if done {
            break;
        }
    }
    let addr = addr.unwrap_or_else(|| panic!("no '{prefix}' line in banner: {banner:?}"));
    let process = Process {
        child,
        data_dir,
        logs,
    };
    (process, addr)
}

/// One HTTP/1.1 request; returns the status code and the body.
pub async fn http(addr: &str, method: &str, path: &str, key: &str, body: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect edge");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {key}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("read response");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

pub async fn channel(addr: &str) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect")
}

/// A CA, a server certificate and a client certificate (localhost / 127.0.0.1) as PEM files.
pub struct Pki<'a> {
    dir: &'a std::path::Path,
}

impl<'a> Pki<'a> {
    /// Writes `ca.pem`, `server.pem`, `server-key.pem`, `client.pem`, `client-key.pem` to `dir`.
    pub fn new(dir: &'a std::path::Path) -> Self {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
            IsCa, KeyPair, KeyUsagePurpose,
        };
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "otlp test ca");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca =
            CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("ca");
        std::fs::write(dir.join("ca.pem"), ca.pem()).expect("write ca");
        for (name, usage) in [
            ("server", ExtendedKeyUsagePurpose::ServerAuth),
            ("client", ExtendedKeyUsagePurpose::ClientAuth),
        ] {
            let mut params =
                CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                    .expect("params");
            params.distinguished_name.push(DnType::CommonName, name);
            params.extended_key_usages = vec![usage];
            let key = KeyPair::generate().expect("key");
            let certificate = params.signed_by(&key, &*ca).expect("leaf");
            std::fs::write(dir.join(format!("{name}.pem")), certificate.pem()).expect("write");
            std::fs::write(dir.join(format!("{name}-key.pem")), key.serialize_pem())
                .expect("write");
        }
        Pki { dir }
    }

    /// The path of one of the files, as a string (for an environment variable).
    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// Server TLS presenting `server.pem` and requiring a client certificate of the CA.
    pub fn server_tls(&self) -> tonic::transport::ServerTlsConfig {
        let read = |name: &str| std::fs::read(self.dir.join(name)).expect("read pem");
        tonic::transport::ServerTlsConfig::new()
            .identity(tonic::transport::Identity::from_pem(
                read("server.pem"),
                read("server-key.pem"),
            ))
            .client_ca_root(tonic::transport::Certificate::from_pem(read("ca.pem")))
    }
}
