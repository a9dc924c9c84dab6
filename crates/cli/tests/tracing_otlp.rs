//! OpenTelemetry traces across processes (docs/adr/0018-tracing.md): identity, knowledge, search
//! and the JSON edge each run as their own `pake serve <role>` process exporting to an in-test
//! OTLP collector. One HTTP request through the edge, authenticated with an API key (the edge
//! exchanges it with identity, then calls knowledge; search applies the write from the change
//! feed), must produce ONE trace with spans of all four `service.name`s.
//!
//! Separate processes because tracer providers are process-wide.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use pake_api::identity::identity_service_client::IdentityServiceClient;
use pake_api::identity::{ApiKey, CreateApiKeyRequest, CreateSessionRequest, CreateUserRequest};
use pake_api::identity::{Role, User};
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::knowledge::{CreateItemRequest, Item};
use pake_api::search::SearchRequest;
use pake_api::search::search_service_client::SearchServiceClient;
use pake_testkit::{TEST_PASSWORD, authorized};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PAKE: &str = env!("CARGO_BIN_EXE_pake");

/// One exported span: (trace id, span name, service.name).
type Exported = (Vec<u8>, String, String);

/// The in-test OTLP/gRPC collector: keeps every span it receives.
#[derive(Clone, Default)]
struct Collector {
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
                    spans.push((span.trace_id, span.name, service.clone()));
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

impl Collector {
    async fn start(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind collector");
        let addr = listener.local_addr().expect("collector addr");
        let service = TraceServiceServer::new(self.clone());
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        format!("http://{addr}")
    }

    /// service.names per trace id, of the traces that contain a span named `name` (the edge's
    /// `edge.request` span is exported under its `otel.name`, `METHOD /path`).
    fn traces_with(&self, name: &str) -> Vec<BTreeSet<String>> {
        let spans = self.spans.lock().expect("collector lock");
        let mut traces: BTreeMap<&[u8], BTreeSet<String>> = BTreeMap::new();
        for (trace, _, service) in spans.iter() {
            traces
                .entry(trace.as_slice())
                .or_default()
                .insert(service.clone());
        }
        spans
            .iter()
            .filter(|(_, span, _)| span == name)
            .filter_map(|(trace, _, _)| traces.get(trace.as_slice()).cloned())
            .collect()
    }

    fn dump(&self) -> Vec<String> {
        let spans = self.spans.lock().expect("collector lock");
        spans
            .iter()
            .map(|(trace, name, service)| {
                let id: String = trace.iter().map(|byte| format!("{byte:02x}")).collect();
                format!("{id} {service} {name}")
            })
            .collect()
    }
}

/// A `pake` process, killed when dropped.
struct Process {
    child: Child,
    _data_dir: tempfile::TempDir,
}

impl Drop for Process {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// Starts `pake serve <args>` exporting to `collector`; returns it and the address on the banner
/// line starting with `listening_prefix`.
fn serve(args: &[&str], collector: &str, env: &[(&str, &str)], prefix: &str) -> (Process, String) {
    let data_dir = tempfile::tempdir().expect("tempdir");
    let mut command = Command::new(PAKE);
    command
        .arg("serve")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir.path())
        .env_remove("PAKE_CONFIG")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env("PAKE_TELEMETRY__OTLP_ENDPOINT", collector)
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .stdout(Stdio::piped())
        .stderr(if std::env::var_os("TEST_LOG").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        });
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("spawn pake");
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
        _data_dir: data_dir,
    };
    (process, addr)
}

/// One HTTP/1.1 request; returns the status code and the body.
async fn http(addr: &str, method: &str, path: &str, key: &str, body: &str) -> (u16, String) {
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

async fn channel(addr: &str) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_request_through_the_edge_is_one_trace_across_four_processes() {
    let collector = Collector::default();
    let otlp = collector.start().await;
    const GRPC: &str = "pake: grpc listening on ";
    let port0 = [
        "--grpc-listen",
        "127.0.0.1:0",
        "--metrics-listen",
        "127.0.0.1:0",
    ];

    let (_identity, identity_addr) =
        serve(&[&["identity"][..], &port0[..]].concat(), &otlp, &[], GRPC);
    let identity_url = format!("http://{identity_addr}");
    // The first admin, from the command line against identity's database (as tests/mesh.rs).
    let identity_dir = _identity._data_dir.path().to_owned();
    let mut create = Command::new(PAKE)
        .args(["user", "create", "--username", "root_admin", "--admin"])
        .arg("--data-dir")
        .arg(&identity_dir)
        .env_remove("PAKE_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("pake user create");
    if let Some(mut stdin) = create.stdin.take() {
        use std::io::Write;
        writeln!(stdin, "{TEST_PASSWORD}").expect("password");
    }
    assert!(create.wait().expect("user create").success());

    let mut identity = IdentityServiceClient::new(channel(&identity_addr).await);
    let admin = identity
        .create_session(CreateSessionRequest {
            username: "root_admin".into(),
            password: TEST_PASSWORD.into(),
        })
        .await
        .expect("admin signs in")
        .into_inner();
    let admin_token = admin.access_token.clone();
    // `users/{user}/sessions/{session}`: the admin's own resource name.
    let admin_name = admin
        .session
        .and_then(|session| session.name.split("/sessions/").next().map(str::to_owned))
        .expect("session name");
    let service_account = identity
        .create_user(authorized(
            &admin_token,
            CreateUserRequest {
                user: Some(User {
                    username: "search-service".into(),
                    roles: vec![Role::Service as i32],
                    ..User::default()
                }),
                ..CreateUserRequest::default()
            },
        ))
        .await
        .expect("service account")
        .into_inner();
    let api_key = |parent: String| {
        let mut identity = identity.clone();
        let admin_token = admin_token.clone();
        async move {
            identity
                .create_api_key(authorized(
                    &admin_token,
                    CreateApiKeyRequest {
                        parent,
                        api_key: Some(ApiKey {
                            display_name: "tracing test".into(),
                            ..ApiKey::default()
                        }),
                        ..CreateApiKeyRequest::default()
                    },
                ))
                .await
                .expect("api key")
                .into_inner()
                .secret
        }
    };
    let search_key = api_key(service_account.name.clone()).await;
    let user_key = api_key(admin_name).await;

    let (_knowledge, knowledge_addr) = serve(
        &[
            &["knowledge", "--identity-url", &identity_url][..],
            &port0[..],
        ]
        .concat(),
        &otlp,
        &[],
        GRPC,
    );
    let knowledge_url = format!("http://{knowledge_addr}");
    let (_search, search_addr) = serve(
        &[
            &[
                "search",
                "--identity-url",
                &identity_url,
                "--knowledge-url",
                &knowledge_url,
            ][..],
            &port0[..],
        ]
        .concat(),
        &otlp,
        &[("PAKE_SEARCH__SERVICE_API_KEY", &search_key)],
        GRPC,
    );
    let identity_upstream = format!("pake.identity.v1.IdentityService={identity_url}");
    let knowledge_upstream = format!("pake.knowledge.v1.KnowledgeService={knowledge_url}");
    let search_upstream = format!("pake.search.v1.SearchService=http://{search_addr}");
    let (_edge, edge_addr) = serve(
        &[
            "edge",
            "--http-listen",
            "127.0.0.1:0",
            "--upstream",
            &identity_upstream,
            "--upstream",
            &knowledge_upstream,
            "--upstream",
            &search_upstream,
        ],
        &otlp,
        &[],
        "pake: http (JSON edge) listening on ",
    );

    // Search is past its start-up snapshot: a write straight to knowledge is searchable.
    let warm_up = KnowledgeServiceClient::new(channel(&knowledge_addr).await)
        .create_item(authorized(
            &admin_token,
            CreateItemRequest {
                item: Some(Item {
                    title: "Warm-up".into(),
                    content: "Before the traced request.".into(),
                    ..Item::default()
                }),
                ..CreateItemRequest::default()
            },
        ))
        .await
        .expect("warm-up write")
        .into_inner();
    SearchServiceClient::new(channel(&search_addr).await)
        .search(authorized(
            &admin_token,
            SearchRequest {
                query: "warm".into(),
                min_cursor: warm_up.feed_cursor.clone(),
                ..SearchRequest::default()
            },
        ))
        .await
        .expect("search caught up");

    // THE request: API key → identity (exchange) → knowledge (write) → feed → search (index).
    let (status, body) = http(
        &edge_addr,
        "POST",
        "/v1/items",
        &user_key,
        r#"{"title":"Traced","content":"One trace from the edge to the index."}"#,
    )
    .await;
    assert_eq!(status, 200, "create through the edge: {body}");

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let traces = collector.traces_with("POST /v1/items");
        if traces.iter().any(|services| {
            services.len() >= 4
                && [
                    "pake-edge",
                    "pake-identity",
                    "pake-knowledge",
                    "pake-search",
                ]
                .iter()
                .all(|name| services.contains(*name))
        }) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no trace with spans of all four services; edge traces: {traces:?}; spans:\n{}",
            collector.dump().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_still_queued_are_flushed_at_shutdown() {
    let collector = Collector::default();
    let otlp = collector.start().await;
    // A batch delay far beyond the test: only the shutdown flush can deliver the span.
    let (mut all_in_one, addr) = serve(
        &[
            "--grpc-listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
        ],
        &otlp,
        &[("OTEL_BSP_SCHEDULE_DELAY", "600000")],
        "pake: grpc listening on ",
    );
    tonic_health::pb::health_client::HealthClient::new(channel(&addr).await)
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .expect("health check");
    let pid = all_in_one.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = all_in_one.child.try_wait().expect("try_wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "pake did not exit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(0));
    let spans = collector.dump();
    assert!(
        spans
            .iter()
            .any(|span| span.ends_with(" pake /grpc.health.v1.Health/Check")),
        "the health check's span was not flushed at shutdown: {spans:?}"
    );
}
