//! Redis for tests: the machine's shared server (`PAKE_TEST_REDIS_URL`) under a key prefix unique
//! to each test, raw access to look at what PAKE wrote, and a private `redis-server` on a free
//! port for outage tests — the only kind a test may stop.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use fred::clients::Client;
use fred::interfaces::{ClientLike, LuaInterface};
use fred::types::config::Config;
use pake_core::config::{RedisConfig, SecretString};
use tempfile::TempDir;

use crate::prerequisites::{REDIS_URL_ENV, find_program, require};

/// Path of `redis-server` for outage tests (else `redis-server` on `PATH`; Debian package
/// `redis-server`).
pub const REDIS_SERVER_ENV: &str = "PAKE_TEST_REDIS_SERVER";

/// The shared Redis named by `PAKE_TEST_REDIS_URL`; `None` (with a printed reason) when it is
/// unset locally, a panic when it is unset in CI.
pub fn redis_url() -> Option<String> {
    require(
        std::env::var(REDIS_URL_ENV).ok(),
        "Redis tests need PAKE_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379)",
    )
}

/// A key prefix no other test (or run) uses: `pake-test:{tag}:{pid}:{n}:{random}:`.
pub fn unique_prefix(tag: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "pake-test:{tag}:{}:{}:{}:",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        rand::random::<u32>()
    )
}

/// PAKE's Redis settings for a test: `url` under `prefix`, with a generous command timeout so
/// a loaded test machine does not look like an outage.
pub fn redis_settings(prefix: &str) -> RedisConfig {
    RedisConfig {
        key_prefix: prefix.to_owned(),
        command_timeout_ms: 500,
        ..RedisConfig::default()
    }
}

/// Connects the PAKE client to `url` under `prefix` and waits for it.
pub async fn connect(url: &str, prefix: &str) -> pake_runtime::redis::Redis {
    let redis =
        pake_runtime::redis::Redis::connect(&SecretString::new(url), &redis_settings(prefix))
            .expect("redis client");
    assert!(
        redis.wait_connected(Duration::from_secs(5)).await,
        "redis at {url} did not answer"
    );
    redis
}

async fn raw_client(url: &str) -> Client {
    let client = Client::new(Config::from_url(url).expect("redis url"), None, None, None);
    client.init().await.expect("connect to redis");
    client
}

/// The keys under `prefix` (test servers are small: `KEYS` is fine).
pub async fn keys(url: &str, prefix: &str) -> Vec<String> {
    let client = raw_client(url).await;
    let mut keys: Vec<String> = client
        .eval(
            "return redis.call('KEYS', ARGV[1])",
            Vec::<String>::new(),
            vec![format!("{}*", glob_escape(prefix))],
        )
        .await
        .expect("KEYS");
    let _ = client.quit().await;
    keys.sort();
    keys
}

/// Runs a Lua `script` with `keys` and `args` (to seed or inspect state).
pub async fn eval(url: &str, script: &str, keys: Vec<String>, args: Vec<String>) {
    let client = raw_client(url).await;
    client
        .eval::<fred::types::Value, _, _, _>(script, keys, args)
        .await
        .expect("EVAL");
    let _ = client.quit().await;
}

/// Overwrites `key` with `value` (to plant a page, or garbage, where PAKE will read it).
pub async fn set_bytes(url: &str, key: &str, value: &[u8]) {
    use fred::interfaces::KeysInterface;
    let client = raw_client(url).await;
    client
        .set::<(), _, _>(key, value, None, None, false)
        .await
        .expect("SET");
    let _ = client.quit().await;
}

/// Deletes every key under `prefix`.
pub async fn delete_keys(url: &str, prefix: &str) {
    let client = raw_client(url).await;
    let _: i64 = client
        .eval(
            "local n = 0 for _, k in ipairs(redis.call('KEYS', ARGV[1])) do n = n + redis.call('DEL', k) end return n",
            Vec::<String>::new(),
            vec![format!("{}*", glob_escape(prefix))],
        )
        .await
        .expect("delete test keys");
    let _ = client.quit().await;
}

fn glob_escape(text: &str) -> String {
    let mut escaped = String::new();
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// A `redis-server` of this test alone, on a free port, keeping nothing on disk.
pub struct PrivateRedis {
    program: PathBuf,
    port: u16,
    dir: TempDir,
    child: Option<Child>,
}

impl PrivateRedis {
    /// Starts one; `None` (with a printed reason) when `redis-server` is missing locally, a panic
    /// when it is missing in CI.
    pub async fn start() -> Option<PrivateRedis> {
        let program = require(
            find_program("redis-server", REDIS_SERVER_ENV),
            "outage tests need redis-server (PAKE_TEST_REDIS_SERVER or on PATH; Debian: apt-get install redis-server)",
        )?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let mut redis = PrivateRedis {
            program,
            port,
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
        };
        redis.restart().await;
        Some(redis)
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: an outage, not a shutdown).
    pub fn kill(&mut self) {
        self.freeze(false);
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes (`SIGSTOP`) or thaws (`SIGCONT`) the server: its connections stay open but
    /// nothing answers — a black hole rather than a refusal.
    pub fn freeze(&self, frozen: bool) {
        if let Some(child) = &self.child {
            let signal = if frozen { "-STOP" } else { "-CONT" };
            let status = Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status()
                .expect("kill");
            assert!(status.success(), "kill {signal}");
        }
    }

    /// Starts the server again on the same port and waits until it answers.
    pub async fn restart(&mut self) {
        self.kill();
        let child = Command::new(&self.program)
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
            ])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if ping(self.port).await {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "private redis-server did not answer"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn ping(port: u16) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    if stream.write_all(b"PING\r\n").await.is_err() {
        return false;
    }
    let mut reply = [0u8; 7];
    matches!(
        tokio::time::timeout(Duration::from_secs(1), stream.read(&mut reply)).await,
        Ok(Ok(n)) if reply[..n].starts_with(b"+PONG")
    )
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
