//! Routing, start-up checks, routing errors, body limits and the OpenAPI document.

use super::*;

#[tokio::test]
async fn path_templates_bind_nested_fields_stars_and_verbs() {
    let edge = start().await;
    let answer = edge.http.get("/v1/shelves/s1/things/t%2F1").await;
    assert_eq!(
        echoed_request(&answer),
        json!({"thing": {"name": "shelves/s1/things/t%2F1"}}),
        "multi-segment variables keep %2F"
    );
    assert_eq!(answer.json()["method"], "/echo.v1.EchoService/GetThing");

    let answer = edge.http.get("/v1/things/a%2Fb%20c").await;
    assert_eq!(
        echoed_request(&answer),
        json!({"thing": {"id": "a/b c"}}),
        "additional binding; a single-segment variable decodes %2F"
    );

    let answer = edge.http.get("/v1/files/docs/2024/notes.md").await;
    assert_eq!(
        echoed_request(&answer),
        json!({"path": "docs/2024/notes.md"})
    );

    let answer = edge
        .http
        .post_json(
            "/v1/things/x:frobnicate",
            &json!({"count": "5", "mode": "KIND_B", "inner": {"value": "v", "count": 7}, "name": "ignored"}),
        )
        .await;
    assert_eq!(
        echoed_request(&answer),
        json!({"name": "things/x", "count": "5", "mode": "KIND_B", "inner": {"value": "v", "count": "7"}}),
        "body * with the path variable winning"
    );
}

#[tokio::test]
async fn routing_errors_and_body_limits() {
    let edge = start().await;
    let answer = edge.http.get("/v2/unknown").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.json()["code"], 5);

    let answer = edge
        .http
        .send(Method::DELETE, "/v1/things/t", &[], Bytes::new())
        .await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.header("allow"), Some("GET, PATCH"));
    assert_eq!(answer.json()["code"], 12);

    let answer = edge.http.get("/v1/things/%FF").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);

    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(MAX_BODY));
    let answer = edge
        .http
        .send(Method::POST, "/v1/things/x:frobnicate", &[], big)
        .await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.json()["details"][0]["reason"], "BODY_TOO_LARGE");

    let answer = edge.http.send(Method::GET, "/v1/labels", &[], "{}").await;
    assert_eq!(
        answer.status,
        StatusCode::BAD_REQUEST,
        "a body where none is bound"
    );
}

#[tokio::test]
async fn conflicting_bindings_and_missing_upstreams_stop_the_start() {
    let conflict = write_temp(&compile("conflict.proto"));
    let error = Edge::new(
        &EdgeOptions {
            descriptor_set: Some(conflict.path().to_path_buf()),
            default_upstream: Some("http://127.0.0.1:1".to_owned()),
            ..EdgeOptions::default()
        },
        Shutdown::new(),
    )
    .err()
    .expect("conflict rejected");
    let text = error.to_string();
    assert!(
        text.contains("conflict.v1.ConflictService.A") && text.contains(".B"),
        "{text}"
    );

    let echo = write_temp(&compile("echo/v1/echo.proto"));
    let error = Edge::new(
        &EdgeOptions {
            descriptor_set: Some(echo.path().to_path_buf()),
            ..EdgeOptions::default()
        },
        Shutdown::new(),
    )
    .err()
    .expect("no upstream");
    assert!(error.to_string().contains("echo.v1.EchoService"), "{error}");
}

#[tokio::test]
async fn openapi_describes_every_binding_and_its_paths_work() {
    let edge = start().await;
    let document = edge.http.get("/openapi.json").await.json();
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().expect("paths");
    let operations: usize = paths
        .values()
        .map(|item| item.as_object().map_or(0, |o| o.len()))
        .sum();
    assert_eq!(
        operations,
        9,
        "one operation per binding: {:?}",
        paths.keys()
    );
    for expected in [
        "/v1/things/{thing}:frobnicate",
        "/v1/things/{thing.id}",
        "/v1/files/{path}",
        "/v1/labels",
        "/v1/search",
    ] {
        assert!(
            paths.contains_key(expected),
            "{expected} in {:?}",
            paths.keys()
        );
    }
    let search = &paths["/v1/search"]["get"];
    let parameter = |name: &str| {
        search["parameters"]
            .as_array()
            .and_then(|all| all.iter().find(|p| p["name"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("parameter {name} in {search}"))
    };
    assert_eq!(parameter("tags")["schema"]["type"], "array");
    assert_eq!(
        parameter("kind")["schema"]["enum"],
        json!(["KIND_UNSPECIFIED", "KIND_A", "KIND_B"])
    );
    assert_eq!(parameter("inner.count")["schema"]["format"], "int64");
    assert_eq!(parameter("after")["schema"]["format"], "date-time");
    assert_eq!(parameter("sleepMs")["in"], "query");
    assert_eq!(
        search["responses"]["default"]["$ref"],
        "#/components/responses/Error"
    );
    assert!(
        paths["/v1/count"]["get"]["responses"]["200"]["content"]["application/x-ndjson"]
            .is_object()
    );
    assert!(
        paths["/v1/collect"]["post"]["requestBody"]["content"]["application/x-ndjson"].is_object()
    );
    let echo = &document["components"]["schemas"]["echo.v1.Echo"];
    assert_eq!(echo["properties"]["big"]["type"], "string");
    assert!(
        echo["description"]
            .as_str()
            .unwrap_or_default()
            .contains("What the echo backend answers"),
        "doc comments: {echo}"
    );

    // The path as the document writes it reaches the method, with the resource name rebuilt.
    let path = "/v1/things/{thing}:frobnicate".replace("{thing}", "from-openapi");
    let answer = edge.http.post_json(&path, &json!({})).await;
    assert_eq!(echoed_request(&answer)["name"], "things/from-openapi");
}
