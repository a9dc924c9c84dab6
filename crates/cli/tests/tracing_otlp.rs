//! OpenTelemetry traces across processes (docs/adr/0018-tracing.md): identity, knowledge, search
//! and the JSON edge each run as their own `pake serve <role>` process exporting to an in-test
//! OTLP collector. One HTTP request through the edge, authenticated with an API key (the edge
//! exchanges it with identity, then calls knowledge; search applies the write from the change
//! feed), must produce ONE trace with spans of all four `service.name`s; a JSON log line written
//! while handling an RPC carries the `trace_id`/`span_id` of a span the collector received. The
//! exporter also reaches an `https://` collector that requires a client certificate.
//!
//! Separate processes because tracer providers are process-wide.

#[path = "tracing_otlp/support.rs"]
mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pake_api::identity::CreateSessionRequest;
use pake_api::identity::identity_service_client::IdentityServiceClient;
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::knowledge::{CreateItemRequest, Item};
use pake_api::search::SearchRequest;
use pake_api::search::search_service_client::SearchServiceClient;
use pake_testkit::{TEST_PASSWORD, authorized};
use support::{Collector, PAKE, channel, http, serve};

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

    let (identity_process, identity_addr) =
        serve(&[&["identity"][..], &port0[..]].concat(), &otlp, &[], GRPC);
    let identity_url = format!("http://{identity_addr}");
    // The first admin, from the command line against identity's database (as tests/mesh.rs).
    let identity_dir = identity_process.data_dir.path().to_owned();
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
    let identity_channel = channel(&identity_addr).await;
    let service_account = pake_testkit::create_service_account(
        identity_channel.clone(),
        &admin_token,
        "search-service",
    )
    .await;
    let search_key = pake_testkit::create_api_key(
        identity_channel.clone(),
        &admin_token,
        &service_account.name,
        "tracing test",
    )
    .await;
    let user_key =
        pake_testkit::create_api_key(identity_channel, &admin_token, &admin_name, "tracing test")
            .await;

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

    // Search's token verifier fetched the JWKS for a request (or its feed connection): the
    // fetch carries that trace's context, so identity's GetJwks span is part of it.
    loop {
        let traces = collector.traces_with("/pake.identity.v1.IdentityService/GetJwks");
        if traces
            .iter()
            .any(|services| services.contains("pake-search"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no GetJwks span in a trace of pake-search: {traces:?}; spans:\n{}",
            collector.dump().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The admin's sign-in was a trace of its own in identity; its log line names that trace.
    assert_log_line_joins_its_trace(
        &collector,
        &identity_process,
        "/pake.identity.v1.IdentityService/CreateSession",
        "signed in",
    )
    .await;
}

/// The JSON log line whose message is `message` carries the `trace_id` of the exported span
/// named `rpc` and the `span_id` of a span of that trace the collector received; lines logged
/// outside any span carry neither.
async fn assert_log_line_joins_its_trace(
    collector: &Collector,
    process: &support::Process,
    rpc: &str,
    message: &str,
) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let (line, rpc_span) = loop {
        let line = process
            .json_logs()
            .into_iter()
            .find(|line| line["fields"]["message"] == message);
        let rpc_span = collector.spans().into_iter().find(|span| span.name == rpc);
        if let (Some(line), Some(rpc_span)) = (line, rpc_span) {
            break (line, rpc_span);
        }
        assert!(
            Instant::now() < deadline,
            "no '{message}' log line or no '{rpc}' span; spans:\n{}",
            collector.dump().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(line["trace_id"], rpc_span.trace_id.as_str(), "{line}");
    let span_id = line["span_id"].as_str().unwrap_or_default();
    assert!(
        collector
            .spans()
            .iter()
            .any(|span| span.trace_id == rpc_span.trace_id && span.span_id == span_id),
        "span_id of {line} is no span of trace {}: {:?}",
        rpc_span.trace_id,
        collector.dump()
    );
    let outside: Vec<_> = process
        .json_logs()
        .into_iter()
        .filter(|line| line.get("span").is_none())
        .collect();
    assert!(!outside.is_empty(), "no log line outside a span");
    assert!(
        outside.iter().all(|line| line.get("trace_id").is_none()),
        "a line outside any span has a trace_id: {outside:?}"
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_an_https_collector_that_requires_a_client_certificate() {
    pake_runtime::tls::install_crypto_provider();
    let pki = tempfile::tempdir().expect("temp dir");
    let files = support::Pki::new(pki.path());
    let collector = Collector::default();
    let otlp = collector.start_tls(files.server_tls()).await;
    let (_all_in_one, addr) = serve(
        &[
            "--grpc-listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
        ],
        &otlp,
        &[
            ("PAKE_TELEMETRY__OTLP_CA_FILE", &files.path("ca.pem")),
            (
                "PAKE_TELEMETRY__OTLP_CLIENT_CERT_FILE",
                &files.path("client.pem"),
            ),
            (
                "PAKE_TELEMETRY__OTLP_CLIENT_KEY_FILE",
                &files.path("client-key.pem"),
            ),
        ],
        "pake: grpc listening on ",
    );
    tonic_health::pb::health_client::HealthClient::new(channel(&addr).await)
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .expect("health check");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !collector
        .dump()
        .iter()
        .any(|span| span.ends_with(" pake /grpc.health.v1.Health/Check"))
    {
        assert!(
            Instant::now() < deadline,
            "the health check's span did not reach the TLS collector: {:?}",
            collector.dump()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn an_https_collector_without_a_ca_is_a_configuration_error() {
    let data_dir = tempfile::tempdir().expect("tempdir");
    let output = Command::new(PAKE)
        .args(["serve", "--grpc-listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir.path())
        .env_remove("PAKE_CONFIG")
        .env("PAKE_TELEMETRY__OTLP_ENDPOINT", "https://127.0.0.1:4317")
        .stdin(Stdio::null())
        .output()
        .expect("run pake");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("telemetry.otlp_ca_file"),
        "the error does not name telemetry.otlp_ca_file: {stderr}"
    );
}
