//! The `pake` binary: the all-in-one with its edge, and `pake serve edge` alone.

use super::*;

use pake_testkit::process::PakeCommand;

#[tokio::test]
async fn pake_serve_runs_the_edge_beside_the_grpc_services() {
    let process = PakeCommand::serve(env!("CARGO_BIN_EXE_pake"), None).start();
    let http = HttpClient::new(process.http_url());
    let jwks = ok(&http.get("/v1/jwks").await);
    assert!(jwks["keys"][0]["kid"].is_string(), "{jwks}");
    assert_eq!(eventually_ready(&http).await["ready"], true);
}

#[tokio::test]
async fn pake_serve_edge_alone_fronts_remote_upstreams() {
    let app = spawn_app().await;
    let process = PakeCommand::serve(env!("CARGO_BIN_EXE_pake"), Some("edge"))
        .args(["--upstream-url", &app.url])
        .start();
    let http = HttpClient::new(process.http_url());
    assert!(ok(&http.get("/.well-known/jwks.json").await)["keys"].is_array());

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_pake"))
        .args(["serve", "edge", "--http-listen", "127.0.0.1:0"])
        .env_remove("PAKE_CONFIG")
        .output()
        .expect("run pake");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("edge.upstream: required"), "{stderr}");
}
