//! The "first thread" from clients in other languages, against the real server: a Python client
//! generated from `proto/` with grpcio-tools at test time, and Node with @grpc/grpc-js and
//! @grpc/proto-loader reading `proto/` directly. The scripts in `tests/polyglot/` make the calls
//! and say what they check; this file prepares them, runs them and asserts that they pass.
//!
//! Prerequisites, found on `PATH` or through the environment: `python3` with pip
//! (`PAKE_TEST_PYTHON`), `node` (`PAKE_TEST_NODE`) and `npm` (`PAKE_TEST_NPM`). Locally a test
//! whose prerequisites are missing, or whose package install fails, prints `skipping: …` and
//! passes; with `CI=true` it fails.
//!
//! The client packages are pinned and installed on first use into a cache outside the repository,
//! `$PAKE_TOOLS_DIR` or else `$HOME/.cache/pake-tools`, one directory per set of versions. An
//! install goes into a staging directory that is renamed into place once complete (with a marker
//! file written last), so parallel test binaries never use a half-finished install: at worst two
//! install at once and the loser discards its copy.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pake_testkit::{find_program, require, spawn_app};
use tokio::process::Command;

const GRPCIO_VERSION: &str = "1.85.1";
const PROTOBUF_VERSION: &str = "7.36.2";
const GRPC_JS_VERSION: &str = "1.14.7";
const PROTO_LOADER_VERSION: &str = "0.8.1";

/// Directory holding the installed client packages; default `$HOME/.cache/pake-tools`.
const TOOLS_DIR_ENV: &str = "PAKE_TOOLS_DIR";
/// Written last into a complete install; holds what was installed.
const COMPLETE_MARKER: &str = ".pake-install-complete";
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);
const CODEGEN_TIMEOUT: Duration = Duration::from_secs(120);
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_generated_from_the_protos_runs_the_first_thread() {
    let Some(python) = require(
        find_program("python3", "PAKE_TEST_PYTHON"),
        "python3 not found (install it, or set PAKE_TEST_PYTHON)",
    ) else {
        return;
    };
    let Some(packages) = prerequisite(install_python_packages(&python).await) else {
        return;
    };
    let generated = generate_python_client(&python, &packages).await;

    let app = spawn_app().await;
    let mut thread = Command::new(&python);
    thread
        .arg(polyglot_dir().join("thread.py"))
        .arg(app.addr.to_string())
        .arg(generated.path())
        .env("PYTHONPATH", &packages)
        .env("PYTHONNOUSERSITE", "1");
    let output = run(&mut thread, SCRIPT_TIMEOUT).await;
    app.stop().await;
    assert_passed("thread.py", output);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_client_loading_the_protos_runs_the_first_thread() {
    let Some(node) = require(
        find_program("node", "PAKE_TEST_NODE"),
        "node not found (install Node.js 18 or later, or set PAKE_TEST_NODE)",
    ) else {
        return;
    };
    let Some(npm) = require(
        find_program("npm", "PAKE_TEST_NPM"),
        "npm not found (install it with Node.js, or set PAKE_TEST_NPM)",
    ) else {
        return;
    };
    if prerequisite(program_output(&node, &["--version"]).await).is_none() {
        return;
    }
    let Some(packages) = prerequisite(install_node_packages(&npm).await) else {
        return;
    };

    let app = spawn_app().await;
    let mut thread = Command::new(&node);
    thread
        .arg(polyglot_dir().join("thread.mjs"))
        .arg(app.addr.to_string())
        .arg(proto_root())
        .env("NODE_PATH", packages.join("node_modules"));
    let output = run(&mut thread, SCRIPT_TIMEOUT).await;
    app.stop().await;
    assert_passed("thread.mjs", output);
}

/// Installs grpcio, grpcio-tools and protobuf with pip into a cache directory (once per Python
/// ABI and set of versions) and returns the directory to put on `PYTHONPATH`.
async fn install_python_packages(python: &Path) -> Result<PathBuf, String> {
    // grpcio ships compiled extensions, so an install serves only the interpreter's ABI.
    let abi = program_output(
        python,
        &["-c", "import sys; print(sys.implementation.cache_tag)"],
    )
    .await?;
    let name = format!("python-{abi}-grpcio-{GRPCIO_VERSION}-protobuf-{PROTOBUF_VERSION}");
    let requirements = [
        format!("grpcio=={GRPCIO_VERSION}"),
        format!("grpcio-tools=={GRPCIO_VERSION}"),
        format!("protobuf=={PROTOBUF_VERSION}"),
    ];
    install_once(&name, &requirements.join(" "), |staging| {
        let mut pip = Command::new(python);
        pip.args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
        ])
        .args(["--no-warn-script-location", "--target"])
        .arg(staging)
        .args(&requirements)
        .env("PIP_ROOT_USER_ACTION", "ignore")
        .env("PYTHONNOUSERSITE", "1");
        pip
    })
    .await
}

/// Installs @grpc/grpc-js and @grpc/proto-loader with npm into a cache directory (once per set
/// of versions) and returns the directory whose `node_modules` holds them.
async fn install_node_packages(npm: &Path) -> Result<PathBuf, String> {
    let name = format!("node-grpc-js-{GRPC_JS_VERSION}-proto-loader-{PROTO_LOADER_VERSION}");
    let packages = [
        format!("@grpc/grpc-js@{GRPC_JS_VERSION}"),
        format!("@grpc/proto-loader@{PROTO_LOADER_VERSION}"),
    ];
    install_once(&name, &packages.join(" "), |staging| {
        let mut install = Command::new(npm);
        install
            .arg("install")
            .arg("--prefix")
            .arg(staging)
            .args([
                "--save-exact",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ])
            .args(&packages);
        install
    })
    .await
}

/// Returns `<tools dir>/<name>`, first running `install(staging)` into a staging directory and
/// renaming it there unless a complete install is already in place.
async fn install_once(
    name: &str,
    description: &str,
    install: impl FnOnce(&Path) -> Command,
) -> Result<PathBuf, String> {
    let tools_dir = tools_dir();
    let target = tools_dir.join(name);
    if is_complete(&target) {
        return Ok(target);
    }
    std::fs::create_dir_all(&tools_dir)
        .map_err(|error| format!("cannot create {}: {error}", tools_dir.display()))?;
    if target.exists() {
        // Left incomplete by something other than this function: move it aside, then remove it.
        let stale = tools_dir.join(format!(".{name}.stale-{}", unique_suffix()));
        if std::fs::rename(&target, &stale).is_ok() {
            let _ = std::fs::remove_dir_all(&stale);
        }
    }

    let staging = tools_dir.join(format!(".{name}.staging-{}", unique_suffix()));
    eprintln!("installing {description} into {} …", target.display());
    let started = Instant::now();
    let outcome = run(&mut install(&staging), INSTALL_TIMEOUT).await;
    let installed = match outcome {
        Ok(output) if output.status.success() => {
            std::fs::write(staging.join(COMPLETE_MARKER), format!("{description}\n"))
                .map_err(|error| format!("cannot write the install marker: {error}"))
        }
        Ok(output) => Err(format!(
            "installing {description} failed: {}",
            describe(&output)
        )),
        Err(error) => Err(format!("installing {description} failed: {error}")),
    };
    if let Err(error) = installed {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(error);
    }
    eprintln!("installed {description} in {:.1?}", started.elapsed());

    if std::fs::rename(&staging, &target).is_ok() {
        return Ok(target);
    }
    // Another test process finished the same install first: use its copy.
    let _ = std::fs::remove_dir_all(&staging);
    if is_complete(&target) {
        return Ok(target);
    }
    Err(format!("cannot move the install into {}", target.display()))
}

fn is_complete(install_dir: &Path) -> bool {
    install_dir.join(COMPLETE_MARKER).is_file()
}

fn tools_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(TOOLS_DIR_ENV) {
        return PathBuf::from(dir);
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".cache").join("pake-tools"),
        None => std::env::temp_dir().join("pake-tools"),
    }
}

fn unique_suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    format!("{}-{nanos}", std::process::id())
}

/// Generates the Python messages and stubs for every PAKE proto, and for the google/api and
/// google/rpc protos they import, into a fresh directory. The google/protobuf well-known types
/// come with grpcio-tools (to compile against) and protobuf (to import).
async fn generate_python_client(python: &Path, packages: &Path) -> tempfile::TempDir {
    let generated = tempfile::tempdir().expect("temp dir for generated code");
    let proto_root = proto_root();
    let mut protos = Vec::new();
    collect_protos(&proto_root, Path::new("pake"), &mut protos);
    collect_protos(&proto_root, Path::new("google/api"), &mut protos);
    collect_protos(&proto_root, Path::new("google/rpc"), &mut protos);
    protos.sort();

    let out = generated.path().display().to_string();
    let mut protoc = Command::new(python);
    protoc
        .current_dir(&proto_root)
        .args(["-m", "grpc_tools.protoc", "-I", "."])
        .arg(format!("--python_out={out}"))
        .arg(format!("--grpc_python_out={out}"))
        .args(&protos)
        .env("PYTHONPATH", packages)
        .env("PYTHONNOUSERSITE", "1");
    let output = run(&mut protoc, CODEGEN_TIMEOUT)
        .await
        .expect("run grpc_tools.protoc");
    assert!(
        output.status.success(),
        "grpc_tools.protoc failed: {}",
        describe(&output)
    );
    let stub = generated
        .path()
        .join("pake/knowledge/v1/knowledge_service_pb2_grpc.py");
    assert!(stub.is_file(), "protoc did not write {}", stub.display());
    generated
}

/// Appends the `.proto` files under `root/dir` (recursively) as paths relative to `root`.
fn collect_protos(root: &Path, dir: &Path, protos: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(root.join(dir))
        .unwrap_or_else(|error| panic!("read {}: {error}", root.join(dir).display()));
    for entry in entries {
        let path = dir.join(entry.expect("directory entry").file_name());
        if root.join(&path).is_dir() {
            collect_protos(root, &path, protos);
        } else if path
            .extension()
            .is_some_and(|extension| extension == "proto")
        {
            protos.push(path);
        }
    }
}

/// Runs `command` to completion with captured output, killing it after `timeout`.
async fn run(command: &mut Command, timeout: Duration) -> Result<Output, String> {
    command
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null());
    match tokio::time::timeout(timeout, command.output()).await {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(error)) => Err(format!("cannot run {command:?}: {error}")),
        Err(_) => Err(format!("{command:?} did not finish within {timeout:?}")),
    }
}

/// The trimmed standard output of `program args`, or why it did not run successfully.
async fn program_output(program: &Path, args: &[&str]) -> Result<String, String> {
    let output = run(Command::new(program).args(args), CODEGEN_TIMEOUT).await?;
    if !output.status.success() {
        return Err(format!(
            "{} does not run: {}",
            program.display(),
            describe(&output)
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn describe(output: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn assert_passed(script: &str, output: Result<Output, String>) {
    let output = output.unwrap_or_else(|error| panic!("{script}: {error}"));
    assert!(
        output.status.success(),
        "{script} failed: {}",
        describe(&output)
    );
    println!("{script} passed: {}", describe(&output));
}

/// Like [`require`] for a prerequisite that may fail with a reason (an install needing the
/// network): locally skips with the reason, in CI fails with it.
fn prerequisite<T>(result: Result<T, String>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(reason) => require(None, &reason),
    }
}

fn proto_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("proto")
}

fn polyglot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("polyglot")
}
