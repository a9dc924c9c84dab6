//! Headers, upstream errors, streams in both directions and metrics.

use super::*;

#[tokio::test]
async fn headers_are_forwarded_and_metadata_comes_back() {
    let edge = start().await;
    let answer = edge
        .http
        .send(
            Method::GET,
            "/v1/things/t",
            &[
                ("authorization", "Bearer token-1"),
                (
                    "traceparent",
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                ),
                ("grpc-metadata-x-tenant", "acme"),
                ("x-request-id", "req-42"),
                ("cookie", "must-not-pass"),
            ],
            Bytes::new(),
        )
        .await;
    let metadata = &answer.json()["metadata"];
    assert_eq!(metadata["authorization"], "Bearer token-1");
    assert_eq!(
        metadata["traceparent"],
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    );
    assert_eq!(metadata["x-tenant"], "acme");
    assert_eq!(metadata["x-request-id"], "req-42");
    assert_eq!(metadata["x-forwarded-for"], "127.0.0.1");
    assert_eq!(answer.header("x-request-id"), Some("req-42"));
    assert_eq!(answer.header("grpc-metadata-x-echo"), Some("yes"));

    let answer = edge.http.get("/v1/things/t").await;
    let generated = answer
        .header("x-request-id")
        .expect("a generated request id");
    assert_eq!(answer.json()["metadata"]["x-request-id"], generated);
    let answer = edge.http.get("/nowhere").await;
    assert!(
        answer.header("x-request-id").is_some(),
        "errors carry the id too"
    );
}

#[tokio::test]
async fn upstream_errors_become_google_rpc_status_with_the_standard_http_status() {
    let edge = start().await;
    for (code, http) in [
        (5, 404),
        (8, 429),
        (1, 499),
        (4, 504),
        (9, 400),
        (10, 409),
        (14, 503),
        (16, 401),
    ] {
        let answer = edge.http.get(&format!("/v1/things/t?code={code}")).await;
        assert_eq!(
            answer.status.as_u16(),
            http,
            "code {code}: {}",
            answer.text()
        );
        let status = answer.json();
        assert_eq!(status["code"], code);
        assert_eq!(status["message"], "echo failure");
        assert_eq!(
            status["details"][0]["@type"],
            "type.googleapis.com/google.rpc.ErrorInfo"
        );
        assert_eq!(status["details"][0]["reason"], "ECHO_FAILURE");
    }
    let answer = edge
        .http
        .send(
            Method::GET,
            "/v1/things/t?sleep_ms=5000",
            &[("grpc-timeout", "50m")],
            Bytes::new(),
        )
        .await;
    assert_eq!(
        answer.status,
        StatusCode::GATEWAY_TIMEOUT,
        "{}",
        answer.text()
    );
    assert_eq!(answer.json()["code"], 4);
}

#[tokio::test]
async fn server_streams_as_ndjson_or_sse_with_a_final_error() {
    let edge = start().await;
    let answer = edge.http.get("/v1/count?n=3").await;
    assert_eq!(answer.header("content-type"), Some("application/x-ndjson"));
    let lines: Vec<Value> = answer
        .text()
        .lines()
        .map(|line| serde_json::from_str(line).expect("NDJSON line"))
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2]["result"]["labels"], json!(["2"]));

    let answer = edge.http.get("/v1/count?n=5&fail_after=2").await;
    assert_eq!(answer.status, StatusCode::OK);
    let lines: Vec<Value> = answer
        .text()
        .lines()
        .map(|line| serde_json::from_str(line).expect("NDJSON line"))
        .collect();
    assert_eq!(lines.len(), 3, "two results and the error");
    assert_eq!(lines[2]["error"]["code"], 9);

    let answer = edge
        .http
        .send(
            Method::GET,
            "/v1/count?n=2&fail_after=1",
            &[("accept", "text/event-stream")],
            Bytes::new(),
        )
        .await;
    assert_eq!(answer.header("content-type"), Some("text/event-stream"));
    let text = answer.text();
    let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
    assert_eq!(events.len(), 2, "{text}");
    assert!(events[0].starts_with("data: {"), "{text}");
    assert!(events[1].starts_with("event: error\ndata: {"), "{text}");

    let answer = edge.http.get("/v1/count?n=2&fail_after=-1").await;
    assert_eq!(
        answer.status,
        StatusCode::NOT_FOUND,
        "an error before any message is a plain error"
    );
}

#[tokio::test]
async fn client_streams_read_ndjson_bodies() {
    let edge = start().await;
    let body = "{\"item\": \"a\"}\n\n{\"item\": \"b\"}\n{\"item\": \"c\"}";
    let answer = edge.http.send(Method::POST, "/v1/collect", &[], body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json()["labels"], json!(["a", "b", "c"]));

    let body = "{\"item\": \"a\"}\n{\"itm\": \"b\"}\n";
    let answer = edge.http.send(Method::POST, "/v1/collect", &[], body).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(
        answer.json()["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("line 2:")
    );

    let body = "{\"item\": \"x\"}\n".repeat(2 * MAX_BODY / 10);
    let answer = edge.http.send(Method::POST, "/v1/collect", &[], body).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn metrics_count_requests_by_method_and_status() {
    let edge = start().await;
    edge.http.get("/v1/things/a").await;
    edge.http.get("/v1/things/b").await;
    edge.http.get("/v1/things/c?code=5").await;
    edge.http.get("/nowhere").await;
    let answer = edge.http.get("/metrics").await;
    assert_eq!(answer.status, StatusCode::OK);
    let text = answer.text();
    for line in [
        "pake_edge_requests_total{method=\"/echo.v1.EchoService/GetThing\",status=\"200\"} 2",
        "pake_edge_requests_total{method=\"/echo.v1.EchoService/GetThing\",status=\"404\"} 1",
        "pake_edge_requests_total{method=\"(unmatched)\",status=\"404\"} 1",
        "pake_edge_request_duration_seconds_count{method=\"/echo.v1.EchoService/GetThing\"} 3",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
}
