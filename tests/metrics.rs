//! Prometheus metrics as an operator scrapes them: the all-in-one's JSON edge serves its own
//! metrics and the process registry at `/metrics`; calls move the RPC counters and histograms
//! with the right service, method and code labels (streams when they end), pools and the search
//! cache report gauges, and every line of the exposition is well formed.
//!
//! One test in this binary: the registry is process-wide, and deltas keep the assertions about
//! this test's own calls.

use std::net::SocketAddr;
use std::time::Duration;

use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::knowledge::{
    CreateItemRequest, DeleteItemRequest, ExportItemsRequest, GetItemRequest, Item,
    WatchItemsRequest,
};
use pake_api::search::SearchRequest;
use pake_api::search::search_service_client::SearchServiceClient;
use pake_runtime::metrics::exposition::{self, Sample};
use pake_testkit::{authorized, sign_up_and_in, spawn_app};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Code;

/// `GET path` over HTTP/1.1; returns (status line, headers, body).
pub async fn http_get(
    addr: SocketAddr,
    path: &str,
    accept: Option<&str>,
) -> (String, String, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let accept = accept
        .map(|a| format!("accept: {a}\r\n"))
        .unwrap_or_default();
    let request =
        format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\n{accept}connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let response = String::from_utf8(response).expect("utf-8 response");
    let (head, body) = response.split_once("\r\n\r\n").expect("head and body");
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    let headers = headers.to_ascii_lowercase();
    assert!(!headers.contains("transfer-encoding: chunked"), "{headers}");
    (status.to_owned(), headers, body.to_owned())
}

/// Scrapes `/metrics` and checks the whole text.
async fn scrape(addr: SocketAddr) -> Vec<Sample> {
    let (status, headers, body) = http_get(addr, "/metrics", None).await;
    assert!(status.ends_with(" 200 OK"), "{status}");
    assert!(
        headers.contains("content-type: text/plain; version=0.0.4"),
        "{headers}"
    );
    exposition::parse(&body).unwrap_or_else(|error| panic!("invalid exposition: {error}\n{body}"))
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    exposition::value(samples, name, labels).unwrap_or(0.0)
}

const KNOWLEDGE: &str = "pake.knowledge.v1.KnowledgeService";

fn calls(samples: &[Sample], method: &str, code: &str) -> f64 {
    value(
        samples,
        "pake_rpc_requests_total",
        &[("service", KNOWLEDGE), ("method", method), ("code", code)],
    )
}

fn in_flight(samples: &[Sample], method: &str) -> f64 {
    value(
        samples,
        "pake_rpc_in_flight",
        &[("service", KNOWLEDGE), ("method", method)],
    )
}

/// Scrapes until `done` holds (the server sees a cancelled stream a moment after the client).
async fn scrape_until(addr: SocketAddr, done: impl Fn(&[Sample]) -> bool) -> Vec<Sample> {
    for _ in 0..100 {
        let samples = scrape(addr).await;
        if done(&samples) {
            return samples;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    scrape(addr).await
}

#[tokio::test]
async fn the_edge_serves_rpc_pool_and_cache_metrics_of_the_process() {
    let app = spawn_app().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let edge = pake::app::start_edge(
        &app.config,
        Some(app.url.clone()),
        // Through the gRPC port, as the edge of a mesh does.
        None,
        listener,
        app.shutdown_signal(),
    )
    .await
    .expect("start the edge");
    let edge_addr = edge.local_addr();
    let user = sign_up_and_in(&app, "metrics").await;
    let token = user.access_token.as_str();
    let before = scrape(edge_addr).await;

    // One call that succeeds, one that fails with a known code, one refused by authentication.
    let mut knowledge = KnowledgeServiceClient::new(app.channel().await);
    let item = knowledge
        .create_item(authorized(
            token,
            CreateItemRequest {
                item: Some(Item {
                    title: "Metrics".to_owned(),
                    content: "counting calls to the wombat index".to_owned(),
                    ..Item::default()
                }),
                ..CreateItemRequest::default()
            },
        ))
        .await
        .expect("create")
        .into_inner();
    let missing = knowledge
        .get_item(authorized(
            token,
            GetItemRequest {
                name: "items/0190a0a0-0000-7000-8000-000000000000".to_owned(),
            },
        ))
        .await
        .expect_err("no such item");
    assert_eq!(missing.code(), Code::NotFound, "{missing:?}");
    let anonymous = knowledge
        .delete_item(DeleteItemRequest {
            name: item.name.clone(),
            ..DeleteItemRequest::default()
        })
        .await
        .expect_err("no token");
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    // A server stream that ends by itself: counted when it ends, with its final status.
    let mut export = knowledge
        .export_items(authorized(token, ExportItemsRequest::default()))
        .await
        .expect("export")
        .into_inner();
    while export.message().await.expect("export message").is_some() {}
    // A method this server does not have: one bounded label value.
    let unknown = pake_testkit::raw_grpc::call_raw(
        app.channel().await,
        "/no.such.v1.Service/Anything",
        None,
        vec![bytes::Bytes::new()],
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(unknown, Code::Unimplemented);
    // The edge's own metrics: one request that matched no binding.
    let (status, _, _) = http_get(edge_addr, "/nowhere", None).await;
    assert!(status.contains(" 404 "), "{status}");

    let after = scrape(edge_addr).await;
    let delta = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    assert_eq!(
        calls(&after, "CreateItem", "OK") - calls(&before, "CreateItem", "OK"),
        1.0
    );
    assert_eq!(
        calls(&after, "GetItem", "NOT_FOUND") - calls(&before, "GetItem", "NOT_FOUND"),
        1.0
    );
    assert_eq!(
        calls(&after, "GetItem", "OK") - calls(&before, "GetItem", "OK"),
        0.0
    );
    assert_eq!(
        calls(&after, "DeleteItem", "UNAUTHENTICATED")
            - calls(&before, "DeleteItem", "UNAUTHENTICATED"),
        1.0
    );
    assert_eq!(
        calls(&after, "ExportItems", "OK") - calls(&before, "ExportItems", "OK"),
        1.0
    );
    assert_eq!(
        delta(
            "pake_rpc_requests_total",
            &[
                ("service", "unknown"),
                ("method", "unknown"),
                ("code", "UNIMPLEMENTED")
            ]
        ),
        1.0
    );
    assert!(
        !after
            .iter()
            .any(|s| s.label("service") == Some("no.such.v1.Service")),
        "unknown services never become label values"
    );
    let create = [("service", KNOWLEDGE), ("method", "CreateItem")];
    assert_eq!(delta("pake_rpc_duration_seconds_count", &create), 1.0);
    assert!(delta("pake_rpc_duration_seconds_sum", &create) > 0.0);
    let mut inf_bucket = create.to_vec();
    inf_bucket.push(("le", "+Inf"));
    assert_eq!(delta("pake_rpc_duration_seconds_bucket", &inf_bucket), 1.0);
    assert_eq!(in_flight(&after, "CreateItem"), 0.0);
    // Health checks are labelled too.
    assert!(
        after.iter().any(|s| s.name == "pake_rpc_requests_total"
            && s.label("service") == Some("pake.identity.v1.IdentityService")),
        "sign-up calls counted"
    );
    assert_eq!(
        delta(
            "pake_edge_requests_total",
            &[("method", "(unmatched)"), ("status", "404")]
        ),
        1.0
    );

    // Pool gauges of the SQLite pool identity and knowledge share.
    let sqlite = [("backend", "sqlite")];
    assert!(value(&after, "pake_db_pool_max_connections", &sqlite) >= 1.0);
    assert!(value(&after, "pake_db_pool_connections", &sqlite) >= 1.0);
    assert!(
        value(&after, "pake_db_pool_idle_connections", &sqlite)
            <= value(&after, "pake_db_pool_connections", &sqlite)
    );

    // The search cache: the same query at the same cursor is a hit.
    let mut search = SearchServiceClient::new(app.channel().await);
    let cache = [("cache", "search_query"), ("backend", "memory")];
    let hits_before = value(&scrape(edge_addr).await, "pake_cache_hits_total", &cache);
    for _ in 0..3 {
        search
            .search(authorized(
                token,
                SearchRequest {
                    query: "wombat".to_owned(),
                    min_cursor: item.feed_cursor.clone(),
                    ..SearchRequest::default()
                },
            ))
            .await
            .expect("search");
    }
    let samples = scrape(edge_addr).await;
    assert!(
        value(&samples, "pake_cache_hits_total", &cache) > hits_before,
        "a repeated query hits"
    );
    assert!(value(&samples, "pake_cache_misses_total", &cache) >= 1.0);
    assert!(value(&samples, "pake_cache_entries", &cache) >= 1.0);

    // A stream in flight is a gauge until it ends; a stream the client drops counts CANCELLED.
    let open_before = in_flight(&samples, "WatchItems");
    let cancelled_before = calls(&samples, "WatchItems", "CANCELLED");
    let mut watch = knowledge
        .watch_items(authorized(
            token,
            WatchItemsRequest {
                snapshot: true,
                ..WatchItemsRequest::default()
            },
        ))
        .await
        .expect("watch")
        .into_inner();
    watch
        .message()
        .await
        .expect("first event")
        .expect("an event");
    let open = scrape(edge_addr).await;
    assert_eq!(in_flight(&open, "WatchItems"), open_before + 1.0);
    drop(watch);
    let closed = scrape_until(edge_addr, |samples| {
        calls(samples, "WatchItems", "CANCELLED") > cancelled_before
    })
    .await;
    assert_eq!(
        calls(&closed, "WatchItems", "CANCELLED"),
        cancelled_before + 1.0
    );
    assert_eq!(in_flight(&closed, "WatchItems"), open_before);

    // OpenMetrics for scrapers that ask for it, also well formed.
    let (_, headers, body) = http_get(
        edge_addr,
        "/metrics",
        Some("application/openmetrics-text; version=1.0.0"),
    )
    .await;
    assert!(
        headers.contains("content-type: application/openmetrics-text"),
        "{headers}"
    );
    assert!(body.ends_with("# EOF\n"));
    let samples = exposition::parse(&body).unwrap_or_else(|error| panic!("{error}\n{body}"));
    assert!(calls(&samples, "CreateItem", "OK") >= 1.0);

    app.stop().await;
    edge.wait().await.expect("edge stops");
}
