//! Rolling upgrades and rollbacks: a release must start on a schema that a newer release has
//! already migrated (expand/contract, SPEC §7), and must still refuse a schema whose history
//! disagrees with its own migrations.

use std::path::Path;

use pake_runtime::db::{Database, Migrations};
use sqlx::migrate::Migrator;

async fn migrator(dir: &Path, files: &[(&str, &str)]) -> Migrator {
    std::fs::create_dir_all(dir).expect("migrations dir");
    for (name, sql) in files {
        std::fs::write(dir.join(name), sql).expect("migration file");
    }
    Migrator::new(dir).await.expect("migrator")
}

async fn release(root: &Path, name: &str, files: &[(&str, &str)]) -> Migrations {
    let dir = root.join(name);
    Migrations {
        service: "upgrade_test",
        sqlite: migrator(&dir.join("sqlite"), files).await,
        postgres: migrator(&dir.join("postgres"), files).await,
    }
}

const V1: (&str, &str) = (
    "0001_notes.sql",
    "CREATE TABLE notes (id TEXT PRIMARY KEY);",
);
const V2: (&str, &str) = (
    "0002_note_titles.sql",
    "ALTER TABLE notes ADD COLUMN title TEXT NOT NULL DEFAULT '';",
);

#[tokio::test]
async fn the_previous_release_starts_on_a_schema_migrated_by_the_next() {
    let root = tempfile::tempdir().expect("temp dir");
    let database = Database::open(None, &root.path().join("data"))
        .await
        .expect("open sqlite");

    database
        .migrate(release(root.path(), "next", &[V1, V2]).await)
        .await
        .expect("the next release migrates");
    // The previous release knows only 0001: it starts, and its queries still work.
    database
        .migrate(release(root.path(), "previous", &[V1]).await)
        .await
        .expect("the previous release accepts a schema migrated ahead of it");
    let Database::Sqlite(pool) = &database else {
        panic!("expected SQLite");
    };
    sqlx::query("INSERT INTO notes (id) VALUES ('a')")
        .execute(pool)
        .await
        .expect("the previous release's insert");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM notes")
        .fetch_one(pool)
        .await
        .expect("the previous release's query");
    assert_eq!(count, 1);

    // A release whose 0001 differs from the applied one is refused, naming the service.
    let edited = (
        "0001_notes.sql",
        "CREATE TABLE notes (id INTEGER PRIMARY KEY);",
    );
    let error = database
        .migrate(release(root.path(), "edited", &[edited]).await)
        .await
        .expect_err("a changed migration is refused");
    assert!(error.to_string().contains("upgrade_test"), "{error}");
}
