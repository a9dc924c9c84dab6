//! `pake import DIR` and `pake export DIR` as a person runs them: the real binary against a
//! server started in-process, signing in with a token (`PAKE_TOKEN`) or a username and the
//! password on standard input.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use pake_testkit::{TEST_PASSWORD, sign_up_and_in, spawn_app};

const PAKE: &str = env!("CARGO_BIN_EXE_pake");

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/vault")
}

/// Runs `pake ARGS` with `stdin` on standard input (off the async runtime's threads).
async fn pake(args: Vec<String>, env: Vec<(&'static str, String)>, stdin: String) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(PAKE)
            .args(&args)
            .env_remove("PAKE_CONFIG")
            .env_remove("PAKE_TOKEN")
            .envs(env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pake");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("pake runs")
    })
    .await
    .expect("join")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_reports_each_problem_then_export_writes_a_vault_that_imports_unchanged() {
    let app = spawn_app().await;
    let user = sign_up_and_in(&app, "cli").await;
    let token = vec![("PAKE_TOKEN", user.access_token.clone())];
    let server = app.url.clone();
    let args = |words: &[&str]| -> Vec<String> {
        words
            .iter()
            .map(|w| (*w).to_owned())
            .chain(["--server".into(), server.clone()])
            .collect()
    };
    let vault = fixture().display().to_string();

    let imported = pake(args(&["import", &vault]), token.clone(), String::new()).await;
    let stdout = text(&imported.stdout);
    assert_eq!(
        imported.status.code(),
        Some(1),
        "a file failed: {stdout}{}",
        text(&imported.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("FAILED    Broken.md: malformed frontmatter at line ")),
        "{stdout}"
    );
    assert!(
        lines.contains(&"SKIPPED   attachments/Diagram.png: attachment (not a .md note)"),
        "{stdout}"
    );
    assert!(
        lines.contains(&"CREATED   Unresolved.md: unresolved connections: [[Nowhere]]"),
        "{stdout}"
    );
    assert_eq!(
        lines.last(),
        Some(&"created 8, updated 0, unchanged 0, skipped 1, failed 1"),
        "{stdout}"
    );
    assert!(
        !stdout.contains(".obsidian"),
        "hidden folders are not sent: {stdout}"
    );

    // Export with a username and the password on standard input.
    let out = tempfile::tempdir().expect("tempdir");
    let dir = out.path().join("exported");
    let username = user.user.username.clone();
    let exported = pake(
        args(&[
            "export",
            &dir.display().to_string(),
            "--username",
            &username,
        ]),
        Vec::new(),
        format!("{TEST_PASSWORD}\n"),
    )
    .await;
    assert!(
        exported.status.success(),
        "{}{}",
        text(&exported.stdout),
        text(&exported.stderr)
    );
    assert_eq!(
        text(&exported.stdout),
        format!("exported 8 files to {}\n", dir.display())
    );
    let pake_note = std::fs::read_to_string(dir.join("Projects/PAKE.md")).expect("exported file");
    assert!(
        pake_note.starts_with("---\npake_id: pake-project\ntitle: PAKE\n"),
        "{pake_note}"
    );
    assert!(dir.join("00-Inbox/Café ☕.md").is_file());

    let again = pake(
        args(&["import", &dir.display().to_string()]),
        token.clone(),
        String::new(),
    )
    .await;
    assert!(
        again.status.success(),
        "{}{}",
        text(&again.stdout),
        text(&again.stderr)
    );
    assert_eq!(
        text(&again.stdout),
        "created 0, updated 0, unchanged 8, skipped 0, failed 0\n"
    );

    let anonymous = pake(
        args(&["export", &dir.display().to_string()]),
        Vec::new(),
        String::new(),
    )
    .await;
    assert_eq!(anonymous.status.code(), Some(1));
    assert!(
        text(&anonymous.stderr).contains("--token"),
        "{}",
        text(&anonymous.stderr)
    );
    app.stop().await;
}
