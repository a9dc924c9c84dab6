//! What the image checks of image_rootfs.rs share: build-rootfs, the data volume, starting a
//! runtime and reading PAKE's address, waiting for SERVING, checking the process's user,
//! capabilities and read-only root, SIGTERM, and what PAKE left in the volume.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

const PAKE: &str = env!("CARGO_BIN_EXE_pake");
/// The chart's podSecurityContext runAsUser / runAsGroup (helm/pake/values.yaml).
pub const UID: u32 = 65532;
pub const GID: u32 = 65532;
/// What the health service answers for each name once PAKE is ready.
const HEALTH_NAMES: [&str; 4] = [
    "",
    "pake.identity.v1.IdentityService",
    "pake.knowledge.v1.KnowledgeService",
    "pake.search.v1.SearchService",
];
pub const LISTEN_FLAGS: [&str; 4] = [
    "--grpc-listen",
    "127.0.0.1:0",
    "--http-listen",
    "127.0.0.1:0",
];

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|metadata| metadata.uid() == 0)
}

/// The prerequisites every variant shares: root (build-rootfs sets owners, the runtimes mount).
pub fn require_root() -> Option<()> {
    pake_testkit::require(
        running_as_root().then_some(()),
        "not root: build-rootfs sets file owners and the image check mounts file systems",
    )
}

/// `deploy/image/build-rootfs [--oci LAYOUT:pake] PAKE DIR/rootfs`, timed.
pub fn build_rootfs(dir: &Path, oci_layout: Option<&Path>) -> PathBuf {
    let rootfs = dir.join("rootfs");
    let mut command = Command::new("bash");
    command.arg(repository().join("deploy/image/build-rootfs"));
    if let Some(layout) = oci_layout {
        command
            .arg("--oci")
            .arg(format!("{}:pake", layout.display()));
    }
    let started = Instant::now();
    let output = command
        .arg(PAKE)
        .arg(&rootfs)
        .output()
        .expect("run build-rootfs");
    assert!(
        output.status.success(),
        "build-rootfs failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("timing: build-rootfs took {:?}", started.elapsed());
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).expect("read etc/passwd");
    assert!(passwd.contains(&format!(":x:{UID}:{GID}:")), "{passwd}");
    assert!(!rootfs.join("bin/sh").exists(), "the image has no shell");
    rootfs
}

/// The data dir volume: a host directory owned by the runtime user, like an fsGroup'd volume.
pub fn data_volume(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    std::fs::create_dir(&data).expect("create data dir");
    std::os::unix::fs::chown(&data, Some(UID), Some(GID)).expect("chown data dir");
    data
}

/// A started runtime; killed (with what it runs) if the test ends early.
pub struct Running {
    pub child: Child,
    grpc_addr: String,
    stderr_log: PathBuf,
    started: Instant,
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            // PAKE first: it changed its user, which clears unshare's --kill-child signal.
            for pid in runtime_children(self.child.id()) {
                Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status()
                    .ok();
            }
            self.child.kill().ok();
            self.child.wait().ok();
        }
    }
}

/// The processes the runtime `pid` forked (PAKE), from every thread's `children` list.
pub fn runtime_children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|children| {
            children
                .split_whitespace()
                .filter_map(|child| child.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

impl Running {
    fn stderr_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr_log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

/// Spawns `command` (stdout piped, stderr to a file) and reads stdout up to PAKE's gRPC
/// address; the rest of stdout is drained by a thread so the pipe never fills.
pub fn spawn(mut command: Command, dir: &Path) -> Running {
    let stderr_log = dir.join("stderr.log");
    let stderr = File::create(&stderr_log).expect("create stderr log");
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("spawn the runtime");
    let stdout = child.stdout.take().expect("stdout");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("pake: grpc listening on ") {
                let addr = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                sender.send(addr).ok();
            }
        }
    });
    let grpc_addr = receiver.recv_timeout(Duration::from_secs(120));
    let mut running = Running {
        child,
        grpc_addr: String::new(),
        stderr_log,
        started,
    };
    match grpc_addr {
        Ok(addr) => running.grpc_addr = addr,
        Err(_) => panic!(
            "pake printed no gRPC address (exit: {:?}); stderr:\n{}",
            running.child.try_wait(),
            running.stderr_tail()
        ),
    }
    running
}

/// Polls every health name until all answer SERVING.
pub async fn wait_until_serving(running: &Running) {
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{}", running.grpc_addr))
        .expect("endpoint");
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = String::from("no answer yet");
    loop {
        let mut serving = 0;
        if let Ok(channel) = endpoint.connect().await {
            let mut client = HealthClient::new(channel);
            for name in HEALTH_NAMES {
                let request = HealthCheckRequest {
                    service: name.to_owned(),
                };
                match client.check(request).await {
                    Ok(response) if response.get_ref().status == 1 => serving += 1,
                    Ok(response) => {
                        last = format!("{name:?}: status {}", response.get_ref().status)
                    }
                    Err(status) => last = format!("{name:?}: {status}"),
                }
            }
        }
        if serving == HEALTH_NAMES.len() {
            eprintln!(
                "timing: SERVING {:?} after start",
                running.started.elapsed()
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not SERVING within 120 s ({last}); stderr:\n{}",
            running.stderr_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The process as the kernel sees it: runs as the chart's user on a read-only root.
pub fn assert_confined(pid: u32) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    let ids = |field: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .map(|values| {
                values
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    assert_eq!(ids("Uid:"), vec![UID.to_string(); 4], "{status}");
    assert_eq!(ids("Gid:"), vec![GID.to_string(); 4], "{status}");
    assert_eq!(ids("CapEff:"), vec!["0000000000000000"], "no capabilities");
    let mountinfo = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).expect("mountinfo");
    let root = mountinfo
        .lines()
        .rev()
        .find(|line| line.split_whitespace().nth(4) == Some("/"))
        .unwrap_or_else(|| panic!("no / in mountinfo:\n{mountinfo}"));
    let options = root.split_whitespace().nth(5).unwrap_or_default();
    assert!(
        options.split(',').any(|option| option == "ro"),
        "root not read-only: {root}"
    );
}

/// Removes a runc container that is still there when the test ends early.
pub struct RuncContainer {
    pub runc: PathBuf,
    pub state: PathBuf,
    pub id: String,
}

impl Drop for RuncContainer {
    fn drop(&mut self) {
        Command::new(&self.runc)
            .arg("--root")
            .arg(&self.state)
            .args(["delete", "--force", &self.id])
            .stderr(Stdio::null())
            .status()
            .ok();
    }
}

/// SIGTERM to PAKE itself (PID 1 of its namespace, as in a pod), then the runtime's exit code,
/// which is PAKE's.
pub async fn terminate(mut running: Running, pid: u32) {
    let sent = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = sent + Duration::from_secs(60);
    let exit = loop {
        if let Some(exit) = running.child.try_wait().expect("try_wait") {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "pake did not exit within 60 s of SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!("timing: exited {:?} after SIGTERM", sent.elapsed());
    assert_eq!(
        exit.code(),
        Some(0),
        "exit on SIGTERM; stderr:\n{}",
        running.stderr_tail()
    );
}

/// PAKE wrote its state into the volume, as the runtime user.
pub fn assert_data_written(data: &Path) {
    let entries: Vec<_> = std::fs::read_dir(data)
        .expect("read data dir")
        .map(|entry| entry.expect("dir entry"))
        .collect();
    let names: Vec<String> = entries
        .iter()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    for expected in ["pake.db", "signing-keys", "search-index"] {
        assert!(
            names.iter().any(|name| name == expected),
            "{expected} not in the data volume: {names:?}"
        );
    }
    for entry in entries {
        let metadata = entry.metadata().expect("metadata");
        assert_eq!(
            (metadata.uid(), metadata.gid()),
            (UID, GID),
            "{:?}",
            entry.path()
        );
    }
}
