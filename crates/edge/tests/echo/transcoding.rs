//! JSON bodies, query parameters, PATCH masks and the response mapping.

use super::*;

#[tokio::test]
async fn json_accepts_both_names_and_rejects_unknown_or_malformed_input() {
    let edge = start().await;
    let answer = edge
        .http
        .post_json(
            "/v1/things/x:frobnicate",
            &json!({"inner": {"count": "1"}, "mode": 1}),
        )
        .await;
    assert_eq!(echoed_request(&answer)["mode"], "KIND_A");

    let answer = edge
        .http
        .post_json(
            "/v1/things/x:frobnicate",
            &json!({"inner": {"colour": "red"}}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text());
    let status = answer.json();
    assert_eq!(status["code"], 3);
    assert_eq!(
        status["details"][0]["fieldViolations"][0]["field"],
        "inner.colour"
    );
    assert!(
        status["message"]
            .as_str()
            .unwrap_or_default()
            .contains("colour")
    );

    let answer = edge
        .http
        .post_json("/v1/things/x:frobnicate", &json!({"count": "many"}))
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer.json()["details"][0]["fieldViolations"][0]["field"],
        "count"
    );

    let answer = edge
        .http
        .send(Method::POST, "/v1/things/x:frobnicate", &[], "{\"count\": ")
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(
        answer.text().contains("malformed JSON"),
        "{}",
        answer.text()
    );
    assert_eq!(answer.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn patch_derives_the_update_mask_from_the_body_keys() {
    let edge = start().await;
    let answer = edge
        .http
        .send(
            Method::PATCH,
            "/v1/things/t1",
            &[],
            json!({"name": "things/t1", "displayName": "New", "size": 3, "inner": {"value": "x"}})
                .to_string(),
        )
        .await;
    let request = echoed_request(&answer);
    assert_eq!(request["thing"]["name"], "things/t1");
    assert_eq!(request["thing"]["displayName"], "New");
    let mut paths: Vec<&str> = request["updateMask"]
        .as_str()
        .unwrap_or_default()
        .split(',')
        .collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        ["displayName", "inner.value", "size"],
        "name identifies, never updated"
    );

    let answer = edge
        .http
        .send(
            Method::PATCH,
            "/v1/things/t1?update_mask=size",
            &[],
            json!({"display_name": "New", "size": 3}).to_string(),
        )
        .await;
    assert_eq!(
        echoed_request(&answer)["updateMask"],
        "size",
        "an explicit mask wins"
    );
}

#[tokio::test]
async fn query_parameters_of_every_kind() {
    let edge = start().await;
    let query = "text=hi%20there&tags=a&tags=b&kind=KIND_B&kinds=1&kinds=KIND_B\
        &inner.value=z&inner.count=9007199254740993&after=2024-01-01T00:00:00Z&ttl=1.5s\
        &mask=a.b,c&limit=7&flag=true&big=-5&ratio=0.25&exact=true&blob=aGk%3D&level=3";
    let answer = edge.http.get(&format!("/v1/search?{query}")).await;
    assert_eq!(
        echoed_request(&answer),
        json!({
            "text": "hi there", "tags": ["a", "b"], "kind": "KIND_B", "kinds": ["KIND_A", "KIND_B"],
            "inner": {"value": "z", "count": "9007199254740993"},
            "after": "2024-01-01T00:00:00Z", "ttl": "1.500s", "mask": "a.b,c", "limit": 7,
            "flag": true, "big": "-5", "ratio": 0.25, "exact": true, "blob": "aGk=", "level": 3,
        })
    );

    for (bad, field) in [
        ("kind=KIND_Z", "kind"),
        ("level=-1", "level"),
        ("after=yesterday", "after"),
        ("nope=1", "nope"),
        ("text=a&text=b", "text"),
        ("inner=x", "inner"),
    ] {
        let answer = edge.http.get(&format!("/v1/search?{bad}")).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            answer.text()
        );
        assert_eq!(
            answer.json()["details"][0]["fieldViolations"][0]["field"],
            field,
            "{bad}"
        );
    }
    let answer = edge.http.get("/v1/things/x?thing.id=other").await;
    assert_eq!(
        answer.status,
        StatusCode::BAD_REQUEST,
        "the path sets thing.id"
    );
}

#[tokio::test]
async fn responses_follow_the_proto3_json_mapping_and_response_body() {
    let edge = start().await;
    let answer = edge.http.get("/v1/things/t").await;
    let json = answer.json();
    assert_eq!(json["big"], "9007199254740993", "int64 as a string");
    assert_eq!(json["kind"], "KIND_B", "enums by name");
    assert_eq!(json["at"], "2024-01-02T03:04:05Z", "Timestamp in RFC 3339");
    assert!(json.get("requestJson").is_some(), "lowerCamel names");
    assert!(json.get("labels").is_none(), "defaults omitted");

    let answer = edge.http.get("/v1/labels").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json(), json!(["a", "b"]));
}
