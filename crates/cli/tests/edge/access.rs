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
    assert_eq!(eventually_ready(&edge.http).await["ready"], true);
}

/// Anonymous calls are rate-limited per client address. Behind a trusted proxy (here "Kong" on
/// loopback, `trusted_proxies = ["127.0.0.1"]`) that is the client Kong forwarded for, not the
/// proxy: one client running out of budget leaves the others theirs, and an address a client
/// writes into `X-Forwarded-For` itself changes nothing.
#[tokio::test]
async fn anonymous_calls_are_limited_per_forwarded_client_not_per_proxy() {
    let edge = start_with(|config| {
        config.trusted_proxies = vec!["127.0.0.1".to_owned()];
        config.rate_limit.read_per_second = 1;
        config.rate_limit.read_burst = 2;
    })
    .await;
    let jwks = async |forwarded_for: &str| {
        edge.http
            .send(
                Method::GET,
                "/.well-known/jwks.json",
                &[("x-forwarded-for", forwarded_for)],
                "",
            )
            .await
            .status
    };
    assert_eq!(jwks("198.51.100.1").await, StatusCode::OK);
    assert_eq!(jwks("198.51.100.1").await, StatusCode::OK);
    assert_eq!(
        jwks("198.51.100.1").await,
        StatusCode::TOO_MANY_REQUESTS,
        "the burst of 2 is spent"
    );
    assert_eq!(
        jwks("198.51.100.2").await,
        StatusCode::OK,
        "another client has its own budget"
    );
    // A client claiming to be someone else: the entry Kong appended (the rightmost) counts.
    assert_eq!(
        jwks("203.0.113.50, 198.51.100.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// Without `trusted_proxies`, the address a caller forwards is not believed: the edge's own
/// peer (the caller) is the client, so forging `X-Forwarded-For` does not buy a new budget.
#[tokio::test]
async fn a_forwarded_address_from_an_untrusted_peer_is_ignored() {
    let edge = start_with(|config| {
        config.rate_limit.read_per_second = 1;
        config.rate_limit.read_burst = 2;
    })
    .await;
    // Each call claims a new address; all spend the caller's one budget (the start-up's own
    // JWKS fetch may have spent from it too), so the burst of 2 runs out within 3 calls.
    let mut statuses = Vec::new();
    for forged in 1..=4 {
        let answer = edge
            .http
            .send(
                Method::GET,
                "/.well-known/jwks.json",
                &[("x-forwarded-for", &format!("198.51.100.{forged}"))],
                "",
            )
            .await;
        statuses.push(answer.status);
    }
    assert_eq!(statuses[0], StatusCode::OK, "{statuses:?}");
    assert_eq!(
        statuses[2..],
        [StatusCode::TOO_MANY_REQUESTS, StatusCode::TOO_MANY_REQUESTS],
        "{statuses:?}"
    );
}

/// Responses of at least 1 KiB are compressed when the client accepts it — gzip or Brotli, by
/// the client's preference — and decode to exactly the uncompressed response; small responses
/// and server streams are sent as they are.
#[tokio::test]
async fn large_responses_are_compressed_when_the_client_accepts_it() {
    use std::io::Read;

    let edge = start().await;
    let bearer = edge.sign_up("edge_gzip").await;
    let get = async |path: &str, accept_encoding: &str| {
        let mut headers = vec![("authorization", bearer.as_str())];
        if !accept_encoding.is_empty() {
            headers.push(("accept-encoding", accept_encoding));
        }
        edge.http.send(Method::GET, path, &headers, "").await
    };

    let plain = get("/openapi.json", "").await;
    assert_eq!(plain.status, StatusCode::OK);
    assert_eq!(plain.header("content-encoding"), None);
    assert!(plain.body.len() > 1024, "{} bytes", plain.body.len());

    let gzip = get("/openapi.json", "gzip").await;
    assert_eq!(gzip.header("content-encoding"), Some("gzip"));
    assert!(
        gzip.header("vary")
            .is_some_and(|vary| vary.to_ascii_lowercase().contains("accept-encoding")),
        "{:?}",
        gzip.headers
    );
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(&gzip.body[..])
        .read_to_end(&mut decoded)
        .expect("valid gzip");
    assert_eq!(decoded, plain.body);
    assert!(
        gzip.body.len() * 3 < plain.body.len(),
        "JSON compresses well: {} of {} bytes",
        gzip.body.len(),
        plain.body.len()
    );

    let brotli = get("/openapi.json", "gzip;q=0.5, br;q=1.0").await;
    assert_eq!(brotli.header("content-encoding"), Some("br"));
    let mut decoded = Vec::new();
    brotli::Decompressor::new(&brotli.body[..], 4096)
        .read_to_end(&mut decoded)
        .expect("valid brotli");
    assert_eq!(decoded, plain.body);

    let refused = get("/openapi.json", "gzip;q=0, br;q=0").await;
    assert_eq!(refused.header("content-encoding"), None);

    let small = get("/healthz", "gzip").await;
    assert_eq!(small.status, StatusCode::OK);
    assert_eq!(small.header("content-encoding"), None);

    // A server stream (NDJSON here) stays uncompressed, so every line arrives as it is sent.
    for n in 0..20 {
        let created = edge
            .call(
                Method::POST,
                "/v1/items",
                &bearer,
                serde_json::json!({"title": format!("Compressible {n}"), "content": "words ".repeat(50)}),
            )
            .await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.text());
    }
    let stream = get("/v1/items:export", "gzip, br").await;
    assert_eq!(stream.status, StatusCode::OK);
    assert_eq!(stream.header("content-type"), Some("application/x-ndjson"));
    assert_eq!(stream.header("content-encoding"), None);
    assert!(stream.body.len() > 1024);
}
