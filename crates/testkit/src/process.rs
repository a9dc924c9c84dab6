//! `pake` as a child process, for the tests that need the real executable (signals, exit codes,
//! the start-up banner, several processes, its logs).
//!
//! [`PakeCommand::serve`] builds `pake serve [ROLE]` with every listener on port 0 and a fresh
//! data dir, without the `PAKE_*` variables of the test's own environment (CI sets some for the
//! tests); [`PakeCommand::start`] reads the banner the binary prints on standard output — up to
//! its last line, the gRPC health check (or the edge's curl line for `pake serve edge`) — and
//! returns a [`PakeProcess`] that knows the addresses it printed and is killed when dropped.
//! The binary's path comes from the test crate (`env!("CARGO_BIN_EXE_pake")`), which only the
//! `pake` package's tests can name.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

const GRPC_LINE: &str = "pake: grpc listening on ";
const HTTP_LINE: &str = "pake: http (JSON edge) listening on ";
const METRICS_LINE: &str = "pake: Prometheus metrics at http://";

/// What `pake serve` printed on start.
#[derive(Clone, Debug, Default)]
pub struct Banner {
    /// Every line, in order.
    pub lines: Vec<String>,
    /// `host:port` of the gRPC listener.
    pub grpc: Option<String>,
    /// `host:port` of the JSON edge.
    pub http: Option<String>,
    /// `host:port` serving `/metrics`.
    pub metrics: Option<String>,
}

impl Banner {
    /// Reads lines from `lines` up to the banner's last one.
    fn read(lines: &mut impl Iterator<Item = std::io::Result<String>>) -> Banner {
        let mut banner = Banner::default();
        for line in lines {
            let Ok(line) = line else { break };
            let first_word = |rest: &str| rest.split_whitespace().next().map(str::to_owned);
            if let Some(rest) = line.strip_prefix(GRPC_LINE) {
                banner.grpc = first_word(rest);
            } else if let Some(rest) = line.strip_prefix(HTTP_LINE) {
                banner.http = first_word(rest);
            } else if let Some(rest) = line.strip_prefix(METRICS_LINE) {
                banner.metrics = rest.strip_suffix("/metrics").map(str::to_owned);
            }
            let last = line.contains("grpc.health.v1.Health/Check")
                || (banner.grpc.is_none() && line.trim_start().starts_with("curl "));
            banner.lines.push(line);
            if last {
                break;
            }
        }
        banner
    }
}

/// `pake …` to be started; see the module documentation.
pub struct PakeCommand {
    command: Command,
    data_dir: Option<TempDir>,
    data_dir_set: bool,
}

impl PakeCommand {
    /// `program serve [role]` with gRPC, the edge and metrics on `127.0.0.1:0`.
    pub fn serve(program: impl AsRef<OsStr>, role: Option<&str>) -> PakeCommand {
        let mut command = Command::new(program);
        command.arg("serve").args(role);
        if role != Some("edge") {
            command.args([
                "--grpc-listen",
                "127.0.0.1:0",
                "--metrics-listen",
                "127.0.0.1:0",
            ]);
        }
        if matches!(role, None | Some("all" | "edge")) {
            command.args(["--http-listen", "127.0.0.1:0"]);
        }
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("PAKE_") {
                command.env_remove(key);
            }
        }
        command.stdout(Stdio::piped()).stderr(Stdio::null());
        PakeCommand {
            command,
            data_dir: None,
            data_dir_set: false,
        }
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> PakeCommand
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command.args(args);
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> PakeCommand {
        self.command.env(key, value);
        self
    }

    /// Removes an environment variable (e.g. `RUST_LOG`, which would override the log filter).
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> PakeCommand {
        self.command.env_remove(key);
        self
    }

    /// Uses `dir` as the data dir instead of a fresh one.
    pub fn data_dir(mut self, dir: &Path) -> PakeCommand {
        self.command.arg("--data-dir").arg(dir);
        self.data_dir_set = true;
        self
    }

    /// Where standard error (the logs) goes; discarded by default.
    pub fn stderr(mut self, stderr: impl Into<Stdio>) -> PakeCommand {
        self.command.stderr(stderr);
        self
    }

    /// Starts it without reading the banner, for a start that is meant to fail; give it a
    /// [`data_dir`](Self::data_dir).
    pub fn spawn(mut self) -> Child {
        self.command.stdout(Stdio::null());
        self.command.spawn().expect("spawn pake")
    }

    /// Starts it and reads its banner; panics (with what it printed) when it prints no
    /// listening line, e.g. because it refused to start.
    pub fn start(mut self) -> PakeProcess {
        if !self.data_dir_set {
            let dir = tempfile::tempdir().expect("a temporary data dir");
            self.command.arg("--data-dir").arg(dir.path());
            self.data_dir = Some(dir);
        }
        let mut child = self.command.spawn().expect("spawn pake");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let banner = Banner::read(&mut lines);
        // Keep draining: a full or closed pipe would make later output block or fail.
        std::thread::spawn(move || lines.for_each(drop));
        let mut process = PakeProcess {
            child,
            banner,
            data_dir: self.data_dir,
        };
        if process.banner.grpc.is_none() && process.banner.http.is_none() {
            let status = process.wait_timeout(Duration::from_secs(5));
            panic!(
                "pake did not start ({status:?}); it printed {:#?}",
                process.banner.lines
            );
        }
        process
    }
}

/// A started `pake`; killed when dropped.
pub struct PakeProcess {
    /// The process.
    pub child: Child,
    /// What it printed on start.
    pub banner: Banner,
    data_dir: Option<TempDir>,
}

impl PakeProcess {
    /// `http://` + the gRPC address.
    pub fn grpc_url(&self) -> String {
        format!("http://{}", self.grpc_addr())
    }

    /// The gRPC `host:port`.
    pub fn grpc_addr(&self) -> &str {
        self.banner.grpc.as_deref().expect("a gRPC listener")
    }

    /// `http://` + the edge's address.
    pub fn http_url(&self) -> String {
        let http = self.banner.http.as_deref().expect("a JSON edge");
        format!("http://{http}")
    }

    /// The data dir it was started with, when the harness made it.
    pub fn data_dir(&self) -> Option<PathBuf> {
        self.data_dir.as_ref().map(|dir| dir.path().to_path_buf())
    }

    /// Sends `signal` (`-TERM`, `-INT`, `-KILL` …) with `kill`.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill {signal}");
    }

    /// Waits up to `timeout` for it to exit; `None` while it still runs.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PakeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::Banner;

    fn read(text: &str) -> Banner {
        let mut lines = text.lines().map(|line| Ok(line.to_owned()));
        Banner::read(&mut lines)
    }

    #[test]
    fn the_all_in_one_banner_gives_every_address() {
        let banner = read(
            "pake: grpc listening on 127.0.0.1:40001 (identity, knowledge and search)\n\
             pake: http (JSON edge) listening on 127.0.0.1:40002\n\
             pake: Prometheus metrics at http://127.0.0.1:40002/metrics\n\
             pake: data in /tmp/x\n\
             try:\n  curl -s http://127.0.0.1:40002/.well-known/jwks.json\n\
             \x20 grpcurl -plaintext 127.0.0.1:40001 list\n\
             \x20 grpcurl -plaintext -d '{\"service\":\"\"}' 127.0.0.1:40001 grpc.health.v1.Health/Check\n\
             not part of the banner",
        );
        assert_eq!(banner.grpc.as_deref(), Some("127.0.0.1:40001"));
        assert_eq!(banner.http.as_deref(), Some("127.0.0.1:40002"));
        assert_eq!(banner.metrics.as_deref(), Some("127.0.0.1:40002"));
        assert_eq!(banner.lines.len(), 8);
    }

    #[test]
    fn the_edge_alone_ends_with_its_curl_line() {
        let banner = read(
            "pake: http (JSON edge) listening on 127.0.0.1:40003\ntry:\n  curl -s http://127.0.0.1:40003/.well-known/jwks.json\nlater",
        );
        assert_eq!(banner.grpc, None);
        assert_eq!(banner.http.as_deref(), Some("127.0.0.1:40003"));
        assert_eq!(banner.lines.len(), 3);
    }
}
