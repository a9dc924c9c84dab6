//! End to end through the JSON edge: the real all-in-one PAKE on port 0 (testkit), the edge in
//! front of it on port 0 (as `pake serve` wires it), and a real HTTP client doing what a curl
//! user would — sign up and in, items CRUD incl. PATCH, search, import and export streaming,
//! the JWKS, and errors as `google.rpc.Status` JSON.

#[path = "../../edge/tests/support/client.rs"]
mod client;

use client::{Answer, HttpClient};
use http::{Method, StatusCode};
use pake_testkit::{TestApp, spawn_app};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple 42!";

struct Edge {
    http: HttpClient,
    /// `http://127.0.0.1:PORT`, for clients other than `http` (a browser, schemathesis).
    base: String,
    _app: TestApp,
}

async fn start() -> Edge {
    start_with(|_| {}).await
}

/// [`start`] with the all-in-one's configuration changed by `adjust`.
async fn start_with(adjust: impl FnOnce(&mut pake_core::config::Config)) -> Edge {
    let app = pake_testkit::spawn_app_with(pake_core::config::ServiceRole::All, adjust).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    // In-process, as `pake serve` runs it; `pake serve edge` over gRPC is tested in
    // edge/binary.rs, and the network path with a service it has never seen in
    // crates/edge/tests/echo.rs.
    let edge = pake::app::start_edge(
        &app.config,
        Some(app.url.clone()),
        Some(app.local_service()),
        listener,
        app.shutdown_signal(),
    )
    .await
    .expect("edge starts");
    let base = format!("http://{}", edge.local_addr());
    Edge {
        http: HttpClient::new(base.clone()),
        base,
        _app: app,
    }
}

/// Polls `/readyz` (as a readiness probe would) until it says ready, bounded: a new server's
/// search is unready until its empty index's first rebuild is committed.
async fn eventually_ready(http: &HttpClient) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let answer = http.get("/readyz").await;
        if answer.status == StatusCode::OK && answer.json()["ready"] == true
            || std::time::Instant::now() >= deadline
        {
            return answer.json();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn ok(answer: &Answer) -> Value {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    answer.json()
}

impl Edge {
    /// Signs up `prefix_…` and returns a bearer header value.
    async fn sign_up(&self, prefix: &str) -> String {
        let username = format!("{prefix}_{}", std::process::id());
        let user = ok(&self
            .http
            .post_json(
                "/v1/users",
                &json!({"user": {"username": username}, "password": PASSWORD}),
            )
            .await);
        assert!(
            user["name"]
                .as_str()
                .unwrap_or_default()
                .starts_with("users/")
        );
        let session = ok(&self
            .http
            .post_json(
                "/v1/sessions",
                &json!({"username": username, "password": PASSWORD}),
            )
            .await);
        format!(
            "Bearer {}",
            session["accessToken"].as_str().expect("accessToken")
        )
    }

    async fn call(&self, method: Method, path: &str, bearer: &str, body: Value) -> Answer {
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        self.http
            .send(method, path, &[("authorization", bearer)], body)
            .await
    }
}

#[path = "edge/access.rs"]
mod access;
#[path = "edge/binary.rs"]
mod binary;
#[path = "edge/docs_page.rs"]
mod docs_page;
#[path = "edge/openapi_roundtrip.rs"]
mod openapi_roundtrip;

#[tokio::test]
async fn items_are_created_read_patched_listed_and_searched_over_json() {
    let edge = start().await;
    let bearer = edge.sign_up("edge_ada").await;

    let created = ok(&edge
        .call(
            Method::POST,
            "/v1/items?itemId=edge-note",
            &bearer,
            json!({"title": "Edge note", "content": "Transcoding JSON to gRPC at the edge.", "tags": ["edge"], "kind": "KIND_PROJECT"}),
        )
        .await);
    assert_eq!(created["name"], "items/edge-note");
    assert_eq!(created["kind"], "KIND_PROJECT");
    assert_eq!(
        created["folder"], "00-Inbox",
        "derived by the server: {created}"
    );

    let fetched = ok(&edge
        .call(Method::GET, "/v1/items/edge-note", &bearer, Value::Null)
        .await);
    assert_eq!(fetched["title"], "Edge note");
    assert_eq!(fetched["tags"], json!(["edge"]));

    let patched = ok(&edge
        .call(
            Method::PATCH,
            "/v1/items/edge-note",
            &bearer,
            json!({"title": "Renamed at the edge", "etag": fetched["etag"]}),
        )
        .await);
    assert_eq!(patched["title"], "Renamed at the edge");
    assert_eq!(
        patched["content"], fetched["content"],
        "only the keys sent were updated"
    );

    let stale = edge
        .call(
            Method::PATCH,
            "/v1/items/edge-note",
            &bearer,
            json!({"title": "Again", "etag": fetched["etag"]}),
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.text());
    assert_eq!(stale.json()["code"], 10);

    let listed = ok(&edge
        .call(
            Method::GET,
            "/v1/items?filter=tag%20%3D%20edge&pageSize=5",
            &bearer,
            Value::Null,
        )
        .await);
    assert_eq!(listed["items"][0]["name"], "items/edge-note");

    let cursor = patched["feedCursor"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let found = ok(&edge
        .call(
            Method::POST,
            "/v1/search",
            &bearer,
            json!({"query": "transcoding", "minCursor": cursor}),
        )
        .await);
    assert_eq!(found["results"][0]["name"], "items/edge-note", "{found}");
    let found = ok(&edge
        .call(
            Method::GET,
            &format!("/v1/search?query=renamed&minCursor={cursor}"),
            &bearer,
            Value::Null,
        )
        .await);
    assert_eq!(
        found["results"][0]["name"], "items/edge-note",
        "GET binding: {found}"
    );
}

#[tokio::test]
async fn errors_are_google_rpc_status_json_with_the_right_http_status() {
    let edge = start().await;
    let bearer = edge.sign_up("edge_bob").await;

    let missing = edge
        .call(Method::GET, "/v1/items/nope", &bearer, Value::Null)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let status = missing.json();
    assert_eq!(status["code"], 5);
    assert!(
        status["details"]
            .as_array()
            .expect("details")
            .iter()
            .any(|d| d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
                && d["domain"] == "pake.dev"),
        "{status}"
    );

    let anonymous = edge
        .http
        .post_json("/v1/items", &json!({"title": "x", "content": "y"}))
        .await;
    assert_eq!(
        anonymous.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        anonymous.text()
    );

    let invalid = edge
        .call(Method::GET, "/v1/items?pageSize=-1", &bearer, Value::Null)
        .await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    assert!(
        invalid.text().contains("google.rpc.BadRequest"),
        "{}",
        invalid.text()
    );

    let unknown = edge
        .call(Method::POST, "/v1/items", &bearer, json!({"titel": "typo"}))
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        unknown.json()["details"][0]["fieldViolations"][0]["field"],
        "item.titel",
        "the request field path"
    );

    let not_bound = edge.http.get("/v1/nothing/here").await;
    assert_eq!(not_bound.status, StatusCode::NOT_FOUND);
    let wrong_method = edge.http.send(Method::PUT, "/v1/items", &[], "").await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.header("allow"), Some("GET, POST"));

    let huge = "x".repeat(4 * 1024 * 1024 + 1);
    let too_large = edge
        .call(Method::POST, "/v1/items", &bearer, json!({"content": huge}))
        .await;
    assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn vaults_import_from_ndjson_and_export_as_ndjson_or_sse() {
    use base64::Engine;
    let edge = start().await;
    let bearer = edge.sign_up("edge_eve").await;
    let note = base64::engine::general_purpose::STANDARD
        .encode("---\ntags: [vault]\n---\n# Imported over HTTP\n\nLinks to [[Second]].\n");
    let second = base64::engine::general_purpose::STANDARD.encode("# Second\n\nBody.\n");
    let body = format!(
        "{}\n{}\n{}\n",
        json!({"options": {"vaultName": "http-vault"}}),
        json!({"file": {"path": "First.md", "content": note}}),
        json!({"file": {"path": "Second.md", "content": second}}),
    );
    let imported = ok(&edge
        .http
        .send(
            Method::POST,
            "/v1/items:import",
            &[
                ("authorization", &bearer),
                ("content-type", "application/x-ndjson"),
            ],
            body,
        )
        .await);
    assert_eq!(imported["createdCount"], 2, "{imported}");

    let exported = edge
        .call(Method::GET, "/v1/items:export", &bearer, Value::Null)
        .await;
    assert_eq!(exported.status, StatusCode::OK);
    assert_eq!(
        exported.header("content-type"),
        Some("application/x-ndjson")
    );
    let paths: Vec<String> = exported
        .text()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("NDJSON"))
        .map(|line| {
            line["result"]["path"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(paths.len(), 2, "{paths:?}");

    let events = edge
        .http
        .send(
            Method::GET,
            "/v1/items:export",
            &[("authorization", &bearer), ("accept", "text/event-stream")],
            "",
        )
        .await;
    assert_eq!(events.header("content-type"), Some("text/event-stream"));
    assert_eq!(events.text().matches("data: ").count(), 2);
}
