//! The runtime image without a container engine: deploy/image/build-rootfs assembles the
//! Dockerfile's last stage (the `pake` binary, the libraries it links, CA certificates, the
//! non-root user, the mount points) from this build's binary, and `pake serve` must run in it
//! the way the Helm chart runs it: as 65532:65532, on a read-only root, writing only to the data
//! dir volume and /tmp, healthy over gRPC, and exiting 0 on SIGTERM.
//!
//! Two runtimes: `unshare` + `chroot` (util-linux and coreutils; needs root), and `runc` on the
//! OCI image that build-rootfs packs with `umoci`, which also checks the image configuration
//! (user, entrypoint, environment). Each prints how long its steps took.

#[path = "image_rootfs/harness.rs"]
mod harness;

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use harness::{
    GID, LISTEN_FLAGS, RuncContainer, UID, assert_confined, assert_data_written, build_rootfs,
    data_volume, require_root, runtime_children, spawn, terminate, wait_until_serving,
};

/// Runs in a new mount (and PID) namespace as root: the mounts a container runtime and the
/// chart's volumes provide, the root made read-only last, then `pake` as 65532 in the tree.
const CHROOT_SCRIPT: &str = r#"set -eu
root="$1"; data="$2"; chroot="$3"; shift 3
mount --bind "$root" "$root"
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount -t tmpfs -o nosuid,mode=0755,size=64k tmpfs "$root/dev"
for device in null zero random urandom; do
  : >"$root/dev/$device"
  mount --bind "/dev/$device" "$root/dev/$device"
done
mount --bind "$data" "$root/var/lib/pake"
mount -t tmpfs -o nosuid,nodev,mode=1777,size=64m tmpfs "$root/tmp"
mount -o remount,bind,ro "$root"
exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt PAKE_DATA_DIR=/var/lib/pake \
  HOME=/home/nonroot "$chroot" --userspec=65532:65532 --groups=65532 "$root" "$@"
"#;

#[tokio::test]
async fn pake_runs_in_the_image_rootfs_as_nonroot_on_a_read_only_root() {
    if require_root().is_none() {
        return;
    }
    let Some(unshare) = pake_testkit::require(
        pake_testkit::find_program("unshare", "PAKE_TEST_UNSHARE"),
        "unshare (util-linux) not found",
    ) else {
        return;
    };
    let Some(chroot) = pake_testkit::require(
        pake_testkit::find_program("chroot", "PAKE_TEST_CHROOT")
            .or_else(|| Some(PathBuf::from("/usr/sbin/chroot")).filter(|path| path.is_file())),
        "chroot (coreutils) not found",
    ) else {
        return;
    };
    let total = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let rootfs = build_rootfs(dir.path(), None);
    let data = data_volume(dir.path());
    let mut command = Command::new(unshare);
    command
        .args([
            "--mount",
            "--propagation",
            "private",
            "--pid",
            "--fork",
            "--kill-child",
        ])
        .args(["--", "sh", "-c", CHROOT_SCRIPT, "sh"])
        .args([&rootfs, &data, &chroot])
        .args(["/usr/local/bin/pake", "serve"])
        .args(LISTEN_FLAGS);
    let running = spawn(command, dir.path());
    wait_until_serving(&running).await;
    let children = runtime_children(running.child.id());
    let [pid] = children[..] else {
        panic!("expected one process under unshare (pake), found {children:?}");
    };
    assert_confined(pid);
    terminate(running, pid).await;
    assert_data_written(&data);
    eprintln!(
        "timing: unshare + chroot check took {:?} in all",
        total.elapsed()
    );
}

#[tokio::test]
async fn the_oci_image_runs_under_runc_with_the_charts_security_context() {
    if require_root().is_none() {
        return;
    }
    let Some(umoci) = pake_testkit::require(
        pake_testkit::find_program("umoci", "PAKE_TEST_UMOCI"),
        "umoci not found (apt-get install umoci; .ci/validate-deploy installs it)",
    ) else {
        return;
    };
    let Some(runc) = pake_testkit::require(
        pake_testkit::find_program("runc", "PAKE_TEST_RUNC"),
        "runc not found (apt-get install runc; .ci/validate-deploy installs it)",
    ) else {
        return;
    };
    let total = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let layout = dir.path().join("oci");
    build_rootfs(dir.path(), Some(&layout));
    let bundle = dir.path().join("bundle");
    let unpacked = Instant::now();
    let output = Command::new(&umoci)
        .arg("unpack")
        .arg("--image")
        .arg(format!("{}:pake", layout.display()))
        .arg(&bundle)
        .output()
        .expect("run umoci unpack");
    assert!(
        output.status.success(),
        "umoci unpack: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("timing: umoci unpack took {:?}", unpacked.elapsed());
    let data = data_volume(dir.path());
    let config_path = bundle.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&config_path).expect("read config.json"))
            .expect("config.json");
    // The image's own configuration: user and entrypoint as `docker run` would use them.
    assert_eq!(config["process"]["user"]["uid"], UID);
    assert_eq!(config["process"]["user"]["gid"], GID);
    assert_eq!(config["process"]["args"][0], "/usr/local/bin/pake");
    // The chart's container securityContext and volumes; the host's network, so that the test
    // reaches the port (a pod has its own network namespace).
    config["root"]["readonly"] = true.into();
    config["process"]["terminal"] = false.into();
    config["process"]["noNewPrivileges"] = true.into();
    for set in [
        "bounding",
        "effective",
        "inheritable",
        "permitted",
        "ambient",
    ] {
        config["process"]["capabilities"][set] = serde_json::json!([]);
    }
    let args = config["process"]["args"]
        .as_array_mut()
        .expect("process.args");
    args.extend(
        LISTEN_FLAGS
            .iter()
            .map(|flag| serde_json::Value::from(*flag)),
    );
    let namespaces = config["linux"]["namespaces"]
        .as_array_mut()
        .expect("linux.namespaces");
    namespaces.retain(|namespace| namespace["type"] != "network");
    let mounts = config["mounts"].as_array_mut().expect("mounts");
    mounts.push(
        serde_json::json!({"destination": "/var/lib/pake", "type": "bind",
        "source": data, "options": ["rbind", "rw", "nosuid", "nodev"]}),
    );
    mounts.push(
        serde_json::json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
        "options": ["nosuid", "nodev", "mode=1777", "size=65536k"]}),
    );
    std::fs::write(
        &config_path,
        serde_json::to_vec_pretty(&config).expect("json"),
    )
    .expect("write config.json");

    let container = RuncContainer {
        runc: runc.clone(),
        state: dir.path().join("runc-state"),
        id: format!("pake-image-check-{}", std::process::id()),
    };
    let (state, id) = (&container.state, &container.id);
    let mut command = Command::new(&runc);
    command
        .arg("--root")
        .arg(state)
        .args(["run", "--bundle"])
        .arg(&bundle)
        .arg(id);
    let running = spawn(command, dir.path());
    wait_until_serving(&running).await;
    let output = Command::new(&runc)
        .arg("--root")
        .arg(state)
        .args(["state", id])
        .output()
        .expect("run runc state");
    let runc_state: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("runc state JSON");
    let pid = runc_state["pid"]
        .as_u64()
        .and_then(|pid| u32::try_from(pid).ok())
        .expect("pid");
    assert_confined(pid);
    terminate(running, pid).await;
    assert_data_written(&data);
    eprintln!(
        "timing: umoci + runc check took {:?} in all",
        total.elapsed()
    );
}
