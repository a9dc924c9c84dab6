//! A PostgreSQL server of one test alone — `initdb` and `pg_ctl` on a free port in a temp dir —
//! for outage tests that stop and restart it. Never the machine's shared server.
//!
//! The binaries come from `PAKE_TEST_PG_BIN` (a directory holding `initdb` and `pg_ctl`), else
//! the newest `/usr/lib/postgresql/<version>/bin` (Debian, Ubuntu), else `initdb` on `PATH`.
//! PostgreSQL refuses to run as root: when the tests run as root, `initdb` and `pg_ctl` run as
//! the `postgres` user (`runuser -u postgres --`, util-linux) in a temp dir handed to that user.
//! The server listens on 127.0.0.1 only, keeps its Unix socket in the temp dir and trusts local
//! connections (user `postgres`, no password).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tempfile::TempDir;

use crate::prerequisites::{find_program, require};

/// Directory of the PostgreSQL server binaries for outage tests.
pub const PG_BIN_ENV: &str = "PAKE_TEST_PG_BIN";

/// The user that runs PostgreSQL when the tests run as root.
const POSTGRES_USER: &str = "postgres";

/// A private PostgreSQL cluster; stopped (immediately) and deleted when dropped.
pub struct PrivatePostgres {
    bin: PathBuf,
    run_as: Option<&'static str>,
    port: u16,
    dir: TempDir,
}

impl PrivatePostgres {
    /// Creates a cluster (initdb) without starting it; `None` (with a printed reason) when the
    /// binaries are missing locally, a panic when they are missing in CI.
    pub async fn init() -> Option<PrivatePostgres> {
        let bin = require(
            find_bin(),
            "PostgreSQL outage tests need initdb and pg_ctl (PAKE_TEST_PG_BIN, /usr/lib/postgresql/<version>/bin or PATH; Debian: apt-get install postgresql)",
        )?;
        let is_root = std::fs::metadata("/proc/self").is_ok_and(|metadata| metadata.uid() == 0);
        let run_as = is_root.then_some(POSTGRES_USER);
        let dir = tempfile::tempdir().expect("temp dir");
        if is_root {
            let ids = require(
                user_ids(POSTGRES_USER),
                "PostgreSQL refuses to run as root, and there is no postgres user to run it as",
            )?;
            std::os::unix::fs::chown(dir.path(), Some(ids.0), Some(ids.1))
                .expect("hand the temp dir to postgres");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let postgres = PrivatePostgres {
            bin,
            run_as,
            port,
            dir,
        };
        let data = postgres.data_dir();
        postgres
            .run(
                "initdb",
                &[
                    "-D",
                    data.to_str().expect("utf-8 temp dir"),
                    "-U",
                    POSTGRES_USER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-locale",
                    "--no-sync",
                ],
            )
            .await;
        Some(postgres)
    }

    /// Creates and starts a cluster (see [`init`](Self::init)).
    pub async fn start() -> Option<PrivatePostgres> {
        let postgres = Self::init().await?;
        postgres.start_server().await;
        Some(postgres)
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The port, the same across restarts.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Starts the server on its port and waits until it accepts connections.
    pub async fn start_server(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let data = self.data_dir();
        let log = self.dir.path().join("postgres.log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().expect("utf-8 temp dir"),
                "-l",
                log.to_str().expect("utf-8 temp dir"),
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
        .await;
    }

    /// Stops the server like a crash (`pg_ctl stop -m immediate`: no checkpoint, connections cut).
    pub async fn stop_immediate(&self) {
        let data = self.data_dir();
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().expect("utf-8 temp dir"),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        )
        .await;
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let program = self.bin.join(program);
        let mut command = match self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(program);
                command
            }
            None => Command::new(program),
        };
        command
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        command
    }

    /// Runs a PostgreSQL program to completion off the async threads; panics with its output
    /// (and the server log) when it fails.
    async fn run(&self, program: &str, args: &[&str]) {
        let mut command = self.command(program, args);
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .expect("join")
            .unwrap_or_else(|error| panic!("running {program}: {error}"));
        if !output.status.success() {
            let log =
                std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default();
            panic!(
                "{program} failed ({}):\n{}\n{}\nserver log:\n{log}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.data_dir();
        if data.join("postmaster.pid").exists()
            && let Some(data) = data.to_str()
        {
            let _ = self
                .command("pg_ctl", &["-D", data, "-m", "immediate", "-w", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// The directory holding `initdb` and `pg_ctl`.
fn find_bin() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(PG_BIN_ENV) {
        return Some(PathBuf::from(dir));
    }
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    let newest_debian = std::fs::read_dir("/usr/lib/postgresql")
        .ok()
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            has_both(&bin).then_some((version, bin))
        })
        .max_by_key(|(version, _)| *version)
        .map(|(_, bin)| bin);
    newest_debian.or_else(|| {
        let initdb = find_program("initdb", PG_BIN_ENV)?;
        let dir = initdb.parent()?.to_path_buf();
        has_both(&dir).then_some(dir)
    })
}

/// The uid and gid of `user` (from `id`).
fn user_ids(user: &str) -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let output = Command::new("id").args([flag, user]).output().ok()?;
        if !output.status.success() {
            return None;
        }
        String::from_utf8(output.stdout).ok()?.trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}
