//! `pake migrate`: applies each service's migrations once and says so, `--status` changes
//! nothing, an unreachable database fails at once naming `database_url` (never its password),
//! and a server started afterwards on the migrated database works — SQLite and PostgreSQL.

use std::path::Path;

use crate::support::{create_item, get_item, pake, serve, sign_in, sign_up, stderr, stdout};

/// Runs `pake migrate ARGS` and returns stdout; it must succeed.
async fn migrate(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut all = vec!["migrate"];
    all.extend_from_slice(args);
    let output = pake(&all, env, "").await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}

/// Migrates the database twice (the second run applies nothing), with `--status` before and
/// after.
async fn migrate_twice(args: &[&str], env: &[(&str, &str)]) {
    let status_flag = [args, &["--status"]].concat();
    let before = migrate(&status_flag, env).await;
    for service in ["identity", "knowledge"] {
        assert!(
            before.contains(&format!("{service}: 0 applied, ")),
            "{before}"
        );
        assert!(before.contains("  pending 0001 "), "{before}");
    }

    let first = migrate(args, env).await;
    for service in ["identity", "knowledge"] {
        assert!(first.contains(&format!("{service}: applied ")), "{first}");
    }
    assert!(first.contains("  0001 users and sessions"), "{first}");
    assert!(first.contains("  0001 items and feed"), "{first}");

    let second = migrate(args, env).await;
    for service in ["identity", "knowledge"] {
        assert!(
            second.contains(&format!("{service}: up to date (")),
            "{second}"
        );
    }

    let after = migrate(&status_flag, env).await;
    for service in ["identity", "knowledge"] {
        assert!(after.contains(&format!("{service}: ")), "{after}");
    }
    assert_eq!(after.matches(", 0 pending").count(), 2, "{after}");
    assert!(!after.contains("  pending "), "{after}");
}

/// A server on the migrated database: sign up, sign in, write and read a note.
async fn a_server_works_on(data_dir: &Path, extra: &[&str]) {
    let server = serve(data_dir, extra).await;
    sign_up(&server.url, "after_migrate").await;
    let token = sign_in(&server.url, "after_migrate").await;
    let item = create_item(
        &server.url,
        &token,
        "Migrated",
        "written after pake migrate",
    )
    .await;
    let read = get_item(&server.url, &token, &item.name)
        .await
        .expect("get item");
    assert_eq!(read.title, "Migrated");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_applies_each_service_once_on_sqlite_and_a_server_starts_on_it() {
    let data_dir = tempfile::tempdir().expect("tempdir");
    let dir = data_dir.path().to_str().expect("utf-8 temp dir");

    let status = migrate(&["--status", "--data-dir", dir], &[]).await;
    assert!(status.contains("no database yet"), "{status}");
    assert!(
        !data_dir.path().join("pake.db").exists(),
        "--status creates nothing"
    );

    migrate_twice(&["--data-dir", dir], &[]).await;
    a_server_works_on(data_dir.path(), &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_applies_each_service_once_on_postgres_and_a_server_starts_on_it() {
    let Some(database) = pake_testkit::postgres_database().await else {
        return;
    };
    let url = pake_testkit::feed::postgres_url(&database).await;
    // The URL from the environment, as an operator should pass it (flags show in `ps`).
    migrate_twice(&[], &[("PAKE_DATABASE_URL", &url)]).await;
    let data_dir = tempfile::tempdir().expect("tempdir");
    a_server_works_on(data_dir.path(), &["--database-url", &url]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_fails_at_once_naming_database_url() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let url = format!("postgres://pake:hunter2@127.0.0.1:{port}/pake?sslmode=disable");
    let started = std::time::Instant::now();
    let output = pake(&["migrate"], &[("PAKE_DATABASE_URL", &url)], "").await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    // A hang guard, not a benchmark: the pool's retries would take their full timeout.
    assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
    let message = stderr(&output);
    assert!(message.contains("database_url"), "{message}");
    assert!(
        message.contains(&format!("postgres://127.0.0.1:{port}/pake")),
        "{message}"
    );
    assert!(
        !message.contains("hunter2"),
        "never the password: {message}"
    );
    assert_eq!(stdout(&output), "");

    let unsupported = pake(&["migrate", "--database-url", "mysql://db/pake"], &[], "").await;
    assert_eq!(unsupported.status.code(), Some(2));
    assert!(
        stderr(&unsupported).contains("database_url"),
        "{}",
        stderr(&unsupported)
    );
}
