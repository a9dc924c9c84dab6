//! The `pake` binary as an operator runs it: start-up banner, signals, exit codes and
//! configuration errors.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pake_testkit::process::{PakeCommand, PakeProcess};

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

const PAKE: &str = env!("CARGO_BIN_EXE_pake");

/// Starts `pake serve` on port 0 and reads its banner.
fn start(extra: &[&str]) -> PakeProcess {
    PakeCommand::serve(PAKE, None).args(extra).start()
}

async fn wait_with_timeout(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("pake did not exit within {timeout:?}");
        }
        // Yield to the runtime so this test's own client connections can answer the server's
        // GOAWAY and close; blocking here would hold the drain open until its timeout.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn healthy(addr: &str) -> bool {
    let Ok(endpoint) = tonic::transport::Endpoint::from_shared(format!("http://{addr}")) else {
        return false;
    };
    let Ok(channel) = endpoint.connect().await else {
        return false;
    };
    let mut client = HealthClient::new(channel);
    client
        .check(HealthCheckRequest::default())
        .await
        .map(|response| response.into_inner().status == 1)
        .unwrap_or(false)
}

#[tokio::test]
async fn sigterm_drains_and_exits_zero() {
    let mut running = start(&[]);
    assert!(healthy(running.grpc_addr()).await);
    running.signal("-TERM");
    let status = wait_with_timeout(&mut running.child, Duration::from_secs(30)).await;
    assert_eq!(status.code(), Some(0), "clean exit on SIGTERM");
    assert!(
        !healthy(running.grpc_addr()).await,
        "nothing listens after exit"
    );
}

#[tokio::test]
async fn ctrl_c_exits_zero() {
    let mut running = start(&[]);
    running.signal("-INT");
    let status = wait_with_timeout(&mut running.child, Duration::from_secs(30)).await;
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn the_banner_shows_where_it_listens_and_its_grpcurl_lines_work() {
    let mut running = start(&[]);
    let commands: Vec<String> = running
        .banner
        .lines
        .iter()
        .filter_map(|line| {
            line.trim_start()
                .strip_prefix("grpcurl ")
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(commands.len(), 2, "{:?}", running.banner.lines);
    assert!(running.banner.lines[0].contains("(identity, knowledge and search)"));
    if let Some(grpcurl) = pake_testkit::require(
        pake_testkit::find_program("grpcurl", "PAKE_TEST_GRPCURL"),
        "grpcurl not found; the banner's commands cannot be run",
    ) {
        for command in commands {
            // The banner quotes JSON with single quotes, as a shell would take it.
            let output = Command::new("sh")
                .arg("-c")
                .arg(format!("'{}' {command}", grpcurl.display()))
                .output()
                .expect("run banner command");
            assert!(
                output.status.success(),
                "{command}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    running.signal("-TERM");
    wait_with_timeout(&mut running.child, Duration::from_secs(30)).await;
}

fn run_to_exit(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let data_dir = tempfile::tempdir().expect("tempdir");
    let mut command = Command::new(PAKE);
    command
        .args(args)
        .current_dir(data_dir.path())
        .env_remove("PAKE_CONFIG");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("run pake");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn configuration_errors_exit_2_and_say_what_to_fix() {
    let (code, stderr) = run_to_exit(&["serve", "--grpc-listen", "localhost"], &[]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("grpc_listen: 'localhost' is not a socket address"),
        "{stderr}"
    );

    let (code, stderr) = run_to_exit(&["serve"], &[("PAKE_LOG__FORMAT", "xml")]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("log.format"), "{stderr}");

    let (code, stderr) = run_to_exit(&["serve", "search"], &[]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--identity-url"), "{stderr}");

    let (code, stderr) = run_to_exit(&["--config", "missing.toml", "serve"], &[]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("config file missing.toml: not found"),
        "{stderr}"
    );
}

#[test]
fn an_address_in_use_exits_1_naming_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let (code, stderr) = run_to_exit(&["serve", "--grpc-listen", &addr], &[]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains(&format!("grpc_listen {addr}")), "{stderr}");
}

#[tokio::test]
async fn the_first_admin_is_created_on_the_command_line() {
    use std::io::Write;
    let data_dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(PAKE)
        .args([
            "user",
            "create",
            "--username",
            "root_admin",
            "--admin",
            "--data-dir",
        ])
        .arg(data_dir.path())
        .env_remove("PAKE_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"an admin passphrase nobody guesses\n")
        .expect("write password");
    let output = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("created users/") && stdout.contains("root_admin"),
        "{stdout}"
    );

    let weak = Command::new(PAKE)
        .args(["user", "create", "--username", "second", "--data-dir"])
        .arg(data_dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(weak.status.code(), Some(1), "an empty password is refused");
    assert!(String::from_utf8_lossy(&weak.stderr).contains("password"));
}
