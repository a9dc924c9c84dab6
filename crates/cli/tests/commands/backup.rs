//! `pake backup FILE` while `pake serve` runs and writes, then the restore of
//! docs/operations.md (stop, replace `pake.db`, drop the WAL files and the search index,
//! start): the server serves the data of the moment of the backup, search rebuilt from the
//! feed. An existing FILE, PostgreSQL and a missing database are refused.

use std::path::Path;

use pake_api::search::SearchRequest;
use pake_api::search::search_service_client::SearchServiceClient;
use pake_testkit::authorized;

use crate::support::{
    channel, create_item, get_item, pake, serve, sign_in, sign_up, stderr, stdout,
};

/// The restore of the operations guide, on a stopped server's data dir.
fn restore(backup: &Path, data_dir: &Path) {
    for stale in ["pake.db", "pake.db-wal", "pake.db-shm"] {
        match std::fs::remove_file(data_dir.join(stale)) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => panic!("removing {stale}: {error}"),
        }
    }
    std::fs::remove_dir_all(data_dir.join("search-index")).expect("remove search-index");
    std::fs::copy(backup, data_dir.join("pake.db")).expect("copy the backup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_while_the_server_writes_restores_the_data_of_that_moment() {
    let data_dir = tempfile::tempdir().expect("tempdir");
    let dir = data_dir.path().to_str().expect("utf-8 temp dir").to_owned();
    let server = serve(data_dir.path(), &[]).await;
    sign_up(&server.url, "backup_owner").await;
    let token = sign_in(&server.url, "backup_owner").await;
    let before = create_item(&server.url, &token, "Before the backup", "a quokka note").await;

    // Writes keep going during the backup: it must neither block nor break them.
    let writer = {
        let (url, token) = (server.url.clone(), token.clone());
        tokio::spawn(async move {
            for n in 0..20 {
                create_item(&url, &token, &format!("During {n}"), "concurrent write").await;
            }
        })
    };
    let out = tempfile::tempdir().expect("tempdir");
    let file = out.path().join("pake-backup.db");
    let file_arg = file.to_str().expect("utf-8 temp dir");
    let backed_up = pake(&["backup", file_arg, "--data-dir", &dir], &[], "").await;
    assert_eq!(
        backed_up.status.code(),
        Some(0),
        "{}{}",
        stdout(&backed_up),
        stderr(&backed_up)
    );
    assert!(
        stdout(&backed_up).contains("backed up"),
        "{}",
        stdout(&backed_up)
    );
    assert!(
        stdout(&backed_up).contains("signing-keys"),
        "{}",
        stdout(&backed_up)
    );
    writer.await.expect("writes during the backup succeed");
    let leftovers: Vec<_> = std::fs::read_dir(out.path())
        .expect("out dir")
        .map(|entry| entry.expect("entry").file_name())
        .collect();
    assert_eq!(leftovers, [std::ffi::OsString::from("pake-backup.db")]);

    let after = create_item(&server.url, &token, "After the backup", "not in it").await;

    // The same FILE again: refused, and the backup is left as it was.
    let bytes = std::fs::read(&file).expect("read backup");
    let again = pake(&["backup", file_arg, "--data-dir", &dir], &[], "").await;
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    assert_eq!(std::fs::read(&file).expect("read backup"), bytes);

    server.stop().await;
    restore(&file, data_dir.path());
    let second = serve(data_dir.path(), &[]).await;
    let token = sign_in(&second.url, "backup_owner").await;
    let item = get_item(&second.url, &token, &before.name)
        .await
        .expect("the item written before the backup");
    assert_eq!(
        (item.title.as_str(), item.content.as_str()),
        ("Before the backup", "a quokka note")
    );
    let missing = get_item(&second.url, &token, &after.name)
        .await
        .expect_err("written after the backup");
    assert_eq!(missing.code(), tonic::Code::NotFound);
    let hits = SearchServiceClient::new(channel(&second.url).await)
        .search(authorized(
            &token,
            SearchRequest {
                query: "quokka".into(),
                min_cursor: before.feed_cursor.clone(),
                ..SearchRequest::default()
            },
        ))
        .await
        .expect("search rebuilt from the restored feed")
        .into_inner();
    let names: Vec<&str> = hits.results.iter().map(|hit| hit.name.as_str()).collect();
    assert_eq!(names, [before.name.as_str()]);

    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_is_refused_with_a_pointer_to_pg_dump() {
    let out = tempfile::tempdir().expect("tempdir");
    let file = out.path().join("backup.db");
    let output = pake(
        &["backup", file.to_str().expect("utf-8")],
        &[(
            "PAKE_DATABASE_URL",
            "postgres://pake:hunter2@db.invalid/pake",
        )],
        "",
    )
    .await;
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("pg_dump") && message.contains("pg_restore"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
    assert!(!file.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_dir_without_a_database_is_an_error_that_creates_nothing() {
    let data_dir = tempfile::tempdir().expect("tempdir");
    let out = tempfile::tempdir().expect("tempdir");
    let file = out.path().join("backup.db");
    let output = pake(
        &[
            "backup",
            file.to_str().expect("utf-8"),
            "--data-dir",
            data_dir.path().to_str().expect("utf-8"),
        ],
        &[],
        "",
    )
    .await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("no database at"),
        "{}",
        stderr(&output)
    );
    assert!(!file.exists());
    assert!(!data_dir.path().join("pake.db").exists());

    let existing = out.path().join("existing.db");
    std::fs::write(&existing, b"precious").expect("write");
    let refused = pake(
        &[
            "backup",
            existing.to_str().expect("utf-8"),
            "--data-dir",
            data_dir.path().to_str().expect("utf-8"),
        ],
        &[],
        "",
    )
    .await;
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("already exists"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(std::fs::read(&existing).expect("read"), b"precious");
}
