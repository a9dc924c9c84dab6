//! The OpenAPI round trip: schemathesis drives the live edge knowing only what `/openapi.json`
//! says — every operation, authenticated with an API key, deterministic generation with a
//! bounded number of examples — and no request may end in a 5xx.

use super::*;

use pake_testkit::{find_program, require};

/// Path to the `schemathesis` CLI (`pip install schemathesis`).
const SCHEMATHESIS_ENV: &str = "PAKE_TEST_SCHEMATHESIS";
/// Infinite by design (a watch stream only ends when the client goes away): nothing to round-trip.
const EXCLUDED_PATH: &str = "/v1/items:watch";

#[tokio::test]
async fn every_operation_in_the_openapi_document_survives_schemathesis_without_a_server_error() {
    let Some(schemathesis) = require(
        find_program("schemathesis", SCHEMATHESIS_ENV),
        &format!("schemathesis not found (set {SCHEMATHESIS_ENV} or `pip install schemathesis`)"),
    ) else {
        return;
    };
    let edge = super::start().await;
    let base = edge.base.clone();
    let bearer = edge.sign_up("edge_st").await;
    let key = ok(&edge
        .call(
            Method::POST,
            "/v1/users/me/apiKeys",
            &bearer,
            json!({"displayName": "schemathesis"}),
        )
        .await);
    let secret = key["secret"].as_str().expect("secret");

    let document = ok(&edge.http.get("/openapi.json").await);
    let paths = document["paths"].as_object().expect("paths");
    assert!(paths.contains_key(EXCLUDED_PATH), "{EXCLUDED_PATH} exists");
    let operations: usize = paths
        .iter()
        .filter(|(path, _)| path.as_str() != EXCLUDED_PATH)
        .map(|(_, item)| {
            item.as_object()
                .expect("path item")
                .keys()
                .filter(|method| {
                    ["get", "put", "post", "delete", "patch"].contains(&method.as_str())
                })
                .count()
        })
        .sum();

    let work_dir = tempfile::tempdir().expect("schemathesis work dir");
    let hooks = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/edge/schemathesis");
    let run = tokio::process::Command::new(&schemathesis)
        .current_dir(work_dir.path())
        .env("PYTHONPATH", hooks)
        .env("SCHEMATHESIS_HOOKS", "pake_schemathesis_hooks")
        .args(["run", &format!("{base}/openapi.json")])
        .args(["--header", &format!("Authorization: Bearer {secret}")])
        .args(["--checks", "not_a_server_error"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", "5", "--generation-deterministic"])
        .args(["--workers", "1", "--request-timeout", "30"])
        .args(["--exclude-path", EXCLUDED_PATH])
        .arg("--no-color")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    // A guard against a hung run, not a performance assertion.
    let output = tokio::time::timeout(std::time::Duration::from_secs(900), run)
        .await
        .expect("schemathesis finishes")
        .expect("schemathesis runs");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "schemathesis failed:\n{report}");
    assert!(
        report.contains(&format!("{operations} selected")),
        "all {operations} operations tested:\n{report}"
    );
    assert!(
        report.contains(&format!("{operations} passed")),
        "all {operations} operations passed the coverage and fuzzing phases:\n{report}"
    );
}
