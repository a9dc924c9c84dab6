//! The `pake` binary: the all-in-one with its edge, and `pake serve edge` alone.

use super::*;

/// A `pake` process started by a test; killed (by its own pid) when dropped.
struct Process {
    child: std::process::Child,
    http_addr: String,
    _data_dir: tempfile::TempDir,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `pake ARGS` and reads stdout until the edge's listening line.
fn run_pake(args: &[&str]) -> Process {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let data_dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pake"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir.path())
        .env_remove("PAKE_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn pake");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = Vec::new();
    let mut http_addr = None;
    let mut reader = BufReader::new(stdout).lines();
    for line in reader.by_ref() {
        let line = line.expect("banner line");
        if let Some(rest) = line.strip_prefix("pake: http (JSON edge) listening on ") {
            http_addr = Some(rest.trim().to_owned());
            break;
        }
        lines.push(line);
    }
    // Keep reading: a closed pipe would make the rest of the banner fail to print.
    std::thread::spawn(move || reader.for_each(drop));
    let http_addr = http_addr.unwrap_or_else(|| panic!("no edge line in {lines:?}"));
    Process {
        child,
        http_addr,
        _data_dir: data_dir,
    }
}

#[tokio::test]
async fn pake_serve_runs_the_edge_beside_the_grpc_services() {
    let process = run_pake(&[
        "serve",
        "--grpc-listen",
        "127.0.0.1:0",
        "--http-listen",
        "127.0.0.1:0",
    ]);
    let http = HttpClient::new(format!("http://{}", process.http_addr));
    let jwks = ok(&http.get("/v1/jwks").await);
    assert!(jwks["keys"][0]["kid"].is_string(), "{jwks}");
    assert_eq!(ok(&http.get("/readyz").await)["ready"], true);
}

#[tokio::test]
async fn pake_serve_edge_alone_fronts_remote_upstreams() {
    let app = spawn_app().await;
    let process = run_pake(&[
        "serve",
        "edge",
        "--http-listen",
        "127.0.0.1:0",
        "--upstream-url",
        &app.url,
    ]);
    let http = HttpClient::new(format!("http://{}", process.http_addr));
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
