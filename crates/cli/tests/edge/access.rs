//! Keys, the JWKS, health and the OpenAPI document through the edge.

use super::*;

#[tokio::test]
async fn every_plain_get_in_the_openapi_document_answers_without_a_server_error() {
    let edge = start().await;
    let bearer = edge.sign_up("edge_oas").await;
    let document = ok(&edge.http.get("/openapi.json").await);
    let paths = document["paths"].as_object().expect("paths");
    let item = &paths["/v1/items/{item}"];
    for method in ["get", "patch", "delete"] {
        assert!(item[method].is_object(), "{method} /v1/items/{{item}}");
    }
    let mut called = 0;
    for (path, operations) in paths {
        let Some(get) = operations.get("get") else {
            continue;
        };
        let streaming = get["responses"]["200"]["content"]["application/x-ndjson"].is_object();
        if path.contains('{') || streaming {
            continue;
        }
        let answer = edge.call(Method::GET, path, &bearer, Value::Null).await;
        assert!(
            answer.status.as_u16() < 500,
            "GET {path}: {} {}",
            answer.status,
            answer.text()
        );
        assert!(
            answer.json().is_object() || answer.json().is_array(),
            "GET {path}"
        );
        called += 1;
    }
    assert!(called >= 8, "{called} operations called");
}

#[tokio::test]
async fn api_keys_are_exchanged_for_tokens_and_stop_working_when_revoked() {
    let edge = start().await;
    let bearer = edge.sign_up("edge_key").await;
    let created = ok(&edge
        .call(
            Method::POST,
            "/v1/users/me/apiKeys",
            &bearer,
            json!({"displayName": "edge test"}),
        )
        .await);
    let secret = created["secret"].as_str().expect("secret shown once");
    assert!(secret.starts_with("pake_"), "{created}");
    let key_bearer = format!("Bearer {secret}");

    for title in ["With a key", "Again from the cache"] {
        let item = ok(&edge
            .call(
                Method::POST,
                "/v1/items",
                &key_bearer,
                json!({"title": title, "content": "Made with an API key."}),
            )
            .await);
        assert_eq!(item["title"], title);
    }

    let bogus = edge
        .call(
            Method::GET,
            "/v1/items",
            "Bearer pake_0000000000000000_nope",
            Value::Null,
        )
        .await;
    assert_eq!(bogus.status, StatusCode::UNAUTHORIZED, "{}", bogus.text());
    assert_eq!(bogus.json()["code"], 16);

    let smuggled = edge
        .http
        .send(
            Method::GET,
            "/v1/items",
            &[("grpc-metadata-authorization", key_bearer.as_str())],
            "",
        )
        .await;
    assert_eq!(smuggled.status, StatusCode::BAD_REQUEST);

    let name = created["apiKey"]["name"].as_str().expect("key name");
    ok(&edge
        .call(Method::DELETE, &format!("/v1/{name}"), &bearer, Value::Null)
        .await);
    let revoked = edge
        .call(Method::GET, "/v1/items", &key_bearer, Value::Null)
        .await;
    assert_eq!(
        revoked.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        revoked.text()
    );
}

#[tokio::test]
async fn jwks_health_and_readiness_are_served() {
    let edge = start().await;
    let jwks = ok(&edge.http.get("/.well-known/jwks.json").await);
    let key = &jwks["keys"][0];
    assert!(key["kid"].is_string() && key["kty"].is_string(), "{jwks}");
    assert!(
        key.get("y").is_none() || key["kty"] == "EC",
        "no empty members: {jwks}"
    );
    assert_eq!(edge.http.get("/healthz").await.status, StatusCode::OK);
    assert_eq!(ok(&edge.http.get("/readyz").await)["ready"], true);
}
