//! What the command tests share: the real `pake` binary run to completion (with standard input
//! and environment), `pake serve` started on port 0 over a given data dir (killed when dropped,
//! so a failed assertion leaves nothing running), and a few gRPC calls a user would make.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use pake_api::identity::identity_service_client::IdentityServiceClient;
use pake_api::identity::{CreateSessionRequest, CreateUserRequest, User};
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::knowledge::{CreateItemRequest, GetItemRequest, Item};
use pake_testkit::process::{PakeCommand, PakeProcess};
use pake_testkit::{TEST_PASSWORD, authorized};
use tonic::transport::Channel;

pub const PAKE: &str = env!("CARGO_BIN_EXE_pake");

/// Runs `pake ARGS` to completion with `stdin` on standard input, off the async runtime's
/// threads. `PAKE_*` variables of the caller's environment do not leak in.
pub async fn pake(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect();
    let stdin = stdin.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut command = Command::new(PAKE);
        command.args(&args);
        for (key, _) in std::env::vars() {
            if key.starts_with("PAKE_") {
                command.env_remove(key);
            }
        }
        let mut child = command
            .envs(env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pake");
        // A command that exits without reading stdin closes the pipe: ignore that.
        let _ = child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes());
        child.wait_with_output().expect("pake runs")
    })
    .await
    .expect("join")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `pake serve` (all-in-one, edge off) on port 0.
pub struct Server {
    process: PakeProcess,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

/// Starts `pake serve` over `data_dir` with `extra` flags and waits for its banner.
pub async fn serve(data_dir: &Path, extra: &[&str]) -> Server {
    let data_dir = data_dir.to_path_buf();
    let extra: Vec<String> = extra.iter().map(|arg| (*arg).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let process = PakeCommand::serve(PAKE, None)
            .args(["--no-edge"])
            .data_dir(&data_dir)
            .args(&extra)
            .start();
        Server {
            url: process.grpc_url(),
            process,
        }
    })
    .await
    .expect("join")
}

impl Server {
    /// SIGTERM, then waits for a clean exit (the database is closed after it).
    pub async fn stop(mut self) {
        self.process.signal("-TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.process.child.try_wait().expect("try_wait") {
                assert_eq!(status.code(), Some(0), "clean exit on SIGTERM");
                return;
            }
            assert!(Instant::now() < deadline, "pake did not exit on SIGTERM");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

pub async fn channel(url: &str) -> Channel {
    Channel::from_shared(url.to_owned())
        .expect("url")
        .connect()
        .await
        .expect("connect")
}

/// Registers `username` with [`TEST_PASSWORD`].
pub async fn sign_up(url: &str, username: &str) {
    IdentityServiceClient::new(channel(url).await)
        .create_user(CreateUserRequest {
            user: Some(User {
                username: username.to_owned(),
                ..User::default()
            }),
            password: TEST_PASSWORD.to_owned(),
            ..CreateUserRequest::default()
        })
        .await
        .expect("sign up");
}

/// Signs `username` in with [`TEST_PASSWORD`]; the access token.
pub async fn sign_in(url: &str, username: &str) -> String {
    IdentityServiceClient::new(channel(url).await)
        .create_session(CreateSessionRequest {
            username: username.to_owned(),
            password: TEST_PASSWORD.to_owned(),
        })
        .await
        .expect("sign in")
        .into_inner()
        .access_token
}

pub async fn create_item(url: &str, token: &str, title: &str, content: &str) -> Item {
    KnowledgeServiceClient::new(channel(url).await)
        .create_item(authorized(
            token,
            CreateItemRequest {
                item: Some(Item {
                    title: title.to_owned(),
                    content: content.to_owned(),
                    ..Item::default()
                }),
                ..CreateItemRequest::default()
            },
        ))
        .await
        .expect("create item")
        .into_inner()
}

pub async fn get_item(url: &str, token: &str, name: &str) -> Result<Item, tonic::Status> {
    KnowledgeServiceClient::new(channel(url).await)
        .get_item(authorized(
            token,
            GetItemRequest {
                name: name.to_owned(),
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}
