//! The generality proof: a test-only proto (tests/fixtures/echo/v1/echo.proto) is compiled at
//! test time with protox, its FileDescriptorSet is written to a temp file, and the edge serves
//! it — loaded the way `--descriptor-set` loads it — in front of a generic echo backend. Every
//! check goes through a real HTTP client over loopback.

#[path = "support/backend.rs"]
mod backend;
#[path = "support/client.rs"]
mod client;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use client::HttpClient;
use http::{Method, StatusCode};
use pake_edge::{Edge, EdgeOptions, Limits};
use pake_runtime::Shutdown;
use serde_json::{Value, json};

const MAX_BODY: usize = 4096;

struct Fixture {
    http: HttpClient,
    _descriptor_file: tempfile::NamedTempFile,
    shutdown: Shutdown,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

fn compile(file: &str) -> Vec<u8> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixtures = manifest.join("tests/fixtures");
    // The repository's vendored google/api protos; the well-known types come with protox.
    let vendored = manifest.join("../../proto");
    let mut compiler = protox::Compiler::new([fixtures, vendored]).expect("include paths");
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files([file]).expect("fixture compiles");
    compiler.encode_file_descriptor_set()
}

fn write_temp(bytes: &[u8]) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), bytes).expect("write descriptor set");
    file
}

fn options(descriptor_set: PathBuf, upstream: String) -> EdgeOptions {
    EdgeOptions {
        descriptor_set: Some(descriptor_set),
        upstreams: BTreeMap::from([("echo.v1.EchoService".to_owned(), upstream)]),
        limits: Limits {
            max_body_bytes: MAX_BODY,
            max_stream_body_bytes: 2 * MAX_BODY,
        },
        ..EdgeOptions::default()
    }
}

async fn start() -> Fixture {
    let bytes = compile("echo/v1/echo.proto");
    let descriptor_file = write_temp(&bytes);
    let pool = prost_reflect::DescriptorPool::decode(bytes.as_slice()).expect("pool");
    let upstream = backend::spawn(pool).await;
    let shutdown = Shutdown::new();
    let edge = Edge::new(
        &options(descriptor_file.path().to_path_buf(), upstream),
        shutdown.clone(),
    )
    .expect("edge starts");
    assert_eq!(edge.binding_count(), 9, "8 rules + 1 additional binding");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let handle = edge.serve(listener).await.expect("serve");
    Fixture {
        http: HttpClient::new(format!("http://{}", handle.local_addr())),
        _descriptor_file: descriptor_file,
        shutdown,
    }
}

/// The request the backend decoded, as JSON.
fn echoed_request(answer: &client::Answer) -> Value {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let json = answer.json();
    serde_json::from_str(json["requestJson"].as_str().expect("requestJson")).expect("request JSON")
}

#[path = "echo/calls.rs"]
mod calls;
#[path = "echo/routing.rs"]
mod routing;
#[path = "echo/transcoding.rs"]
mod transcoding;
