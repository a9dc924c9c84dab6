//! Expand/contract (SPEC §7): the previous release keeps working on the schema this checkout's
//! migrations produce, so a rolling upgrade (old and new pods side by side) and a rollback need
//! no downtime.
//!
//! `compat/<version>/` holds what `compat/record` captured when that release was cut: every
//! statement its identity and knowledge stores run (both backends) and its last migration per
//! service. For the newest release recorded, each backend (PostgreSQL via
//! `PAKE_TEST_DATABASE_URL`, skipped locally when unset) gets a fresh database migrated by this
//! checkout, and
//! - every recorded statement must prepare on it (tables, columns, types and functions it
//!   names still exist and fit), and
//! - no column this checkout adds to one of the release's tables may be NOT NULL without a
//!   default (the release's INSERTs, which do not name it, would fail).
//!
//! The last test shows the check fails when it should: a synthetic contract migration (a renamed
//! column; on PostgreSQL also a required column) is reported, naming the statements it breaks.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use pake_runtime::db::{Database, Migrations};
use pake_testkit::{TestDatabase, postgres_database, sqlite_database};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{Executor, SqlSafeStr};

/// A release recorded under `compat/`.
struct Release {
    version: String,
    dir: PathBuf,
    /// (service, backend) → the last migration version the release ships.
    last_migration: BTreeMap<(String, String), i64>,
}

impl Release {
    /// The newest release recorded (by semantic version).
    fn newest() -> Release {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../compat");
        let mut versions: Vec<((u64, u64, u64), PathBuf)> = std::fs::read_dir(&root)
            .unwrap_or_else(|error| panic!("{}: {error}", root.display()))
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                let mut parts = name.split('.').map(str::parse::<u64>);
                match (parts.next(), parts.next(), parts.next(), parts.next()) {
                    (Some(Ok(major)), Some(Ok(minor)), Some(Ok(patch)), None) => {
                        Some(((major, minor, patch), entry.path()))
                    }
                    _ => None,
                }
            })
            .collect();
        versions.sort();
        let ((major, minor, patch), dir) = versions
            .pop()
            .expect("compat/ holds at least one recorded release (compat/record VERSION)");
        let listing = std::fs::read_to_string(dir.join("migrations.txt"))
            .unwrap_or_else(|error| panic!("{}/migrations.txt: {error}", dir.display()));
        let last_migration = listing
            .lines()
            .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
            .map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let [service, backend, version] = fields[..] else {
                    panic!("migrations.txt: expected `service backend version`, got {line:?}");
                };
                let version = version
                    .parse()
                    .unwrap_or_else(|_| panic!("migrations.txt: bad version in {line:?}"));
                ((service.to_owned(), backend.to_owned()), version)
            })
            .collect();
        Release {
            version: format!("{major}.{minor}.{patch}"),
            dir,
            last_migration,
        }
    }

    /// The release's statements for `backend`.
    fn statements(&self, backend: &str) -> Vec<String> {
        let path = self.dir.join(format!("{backend}.jsonl"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let statements: Vec<String> = text
            .lines()
            .map(|line| {
                let value: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|error| panic!("{}: {error} in {line}", path.display()));
                value["sql"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{}: no \"sql\" in {line}", path.display()))
                    .to_owned()
            })
            .collect();
        // An empty or truncated recording would make this test pass without checking anything.
        assert!(
            statements.len() >= 50,
            "{}: only {} statements recorded; re-run compat/record {}",
            path.display(),
            statements.len(),
            self.version
        );
        statements
    }

    /// The release's migrations of `service` on `backend`, cut from this checkout's (migration
    /// files are never changed once released — sqlx refuses a changed checksum).
    fn cut(&self, service: &str, backend: &str, migrator: Migrator) -> Migrator {
        let last = self.last_migration[&(service.to_owned(), backend.to_owned())];
        keep(migrator, |migration| migration.version <= last)
    }
}

fn keep(mut migrator: Migrator, wanted: impl Fn(&Migration) -> bool) -> Migrator {
    let kept: Vec<Migration> = migrator
        .migrations
        .iter()
        .filter(|migration| wanted(migration))
        .cloned()
        .collect();
    migrator.migrations = Cow::Owned(kept);
    migrator
}

fn services() -> [Migrations; 2] {
    [pake_identity::migrations(), pake_knowledge::migrations()]
}

/// Applies `migrations` of every service, each first passed through `adjust`.
async fn migrate(
    database: &Database,
    adjust: impl Fn(&'static str, &'static str, Migrator) -> Migrator,
) {
    for migrations in services() {
        let service = migrations.service;
        let adjusted = Migrations {
            service,
            sqlite: adjust(service, "sqlite", migrations.sqlite),
            postgres: adjust(service, "postgres", migrations.postgres),
        };
        database.migrate(adjusted).await.expect("migrations apply");
    }
}

/// Statements that do not prepare on `database`, with the database's reason.
async fn unpreparable(database: &Database, statements: &[String]) -> Vec<String> {
    let mut failures = Vec::new();
    for statement in statements {
        let sql = sqlx::AssertSqlSafe(statement.clone()).into_sql_str();
        let result = match database {
            Database::Sqlite(pool) => pool.prepare(sql).await.map(drop),
            Database::Postgres(pool) => pool.prepare(sql).await.map(drop),
        };
        if let Err(error) = result {
            failures.push(format!("{error}\n    in: {statement}"));
        }
    }
    failures
}

/// Column → required (NOT NULL with no default) of every table but migration history.
async fn columns(database: &Database) -> BTreeMap<(String, String), bool> {
    let rows: Vec<(String, String, bool)> = match database {
        Database::Sqlite(pool) => sqlx::query_as(
            "SELECT m.name, p.name, p.\"notnull\" = 1 AND p.dflt_value IS NULL AND p.pk = 0 \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
        )
        .fetch_all(pool)
        .await
        .expect("sqlite columns"),
        Database::Postgres(pool) => sqlx::query_as(
            "SELECT table_name::text, column_name::text, \
                    is_nullable = 'NO' AND column_default IS NULL \
                    AND is_identity = 'NO' AND is_generated = 'NEVER' \
             FROM information_schema.columns WHERE table_schema = current_schema()",
        )
        .fetch_all(pool)
        .await
        .expect("postgres columns"),
    };
    rows.into_iter()
        .filter(|(table, _, _)| !table.ends_with("_migrations"))
        .map(|(table, column, required)| ((table, column), required))
        .collect()
}

/// Columns `head` adds to the release's tables that its INSERTs cannot fill.
fn required_additions(
    release: &BTreeMap<(String, String), bool>,
    head: &BTreeMap<(String, String), bool>,
) -> Vec<String> {
    let release_tables: BTreeSet<&String> = release.keys().map(|(table, _)| table).collect();
    head.iter()
        .filter(|((table, _), required)| **required && release_tables.contains(table))
        .filter(|(key, _)| !release.contains_key(*key))
        .map(|((table, column), _)| format!("{table}.{column} is added NOT NULL without a default"))
        .collect()
}

/// Everything that breaks `release` on the schema `head` migrations produce.
async fn incompatibilities(
    release: &Release,
    fresh: impl AsyncFn() -> TestDatabase,
    head: impl Fn(&'static str, &'static str, Migrator) -> Migrator,
) -> Vec<String> {
    let at_head = fresh().await;
    migrate(&at_head.database, head).await;
    let backend = at_head.database.backend();
    let mut problems = unpreparable(&at_head.database, &release.statements(backend)).await;

    let at_release = fresh().await;
    migrate(&at_release.database, |service, backend, migrator| {
        release.cut(service, backend, migrator)
    })
    .await;
    problems.extend(required_additions(
        &columns(&at_release.database).await,
        &columns(&at_head.database).await,
    ));
    problems
}

fn this_checkout(_service: &'static str, _backend: &'static str, migrator: Migrator) -> Migrator {
    migrator
}

fn report(release: &Release, backend: &str, problems: &[String]) -> String {
    format!(
        "release {}'s {backend} queries break on this checkout's schema (expand/contract, \
         docs/adr/0019-release-query-compatibility.md):\n  {}",
        release.version,
        problems.join("\n  ")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn previous_release_queries_work_on_the_migrated_sqlite_schema() {
    let release = Release::newest();
    let problems = incompatibilities(&release, sqlite_database, this_checkout).await;
    assert!(
        problems.is_empty(),
        "{}",
        report(&release, "sqlite", &problems)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn previous_release_queries_work_on_the_migrated_postgres_schema() {
    if postgres_database().await.is_none() {
        return;
    }
    let release = Release::newest();
    let fresh = async || postgres_database().await.expect("postgres is configured");
    let problems = incompatibilities(&release, fresh, this_checkout).await;
    assert!(
        problems.is_empty(),
        "{}",
        report(&release, "postgres", &problems)
    );
}

/// This checkout's migrations plus a contract step that is not allowed yet.
fn with_contract(service: &'static str, backend: &'static str, migrator: Migrator) -> Migrator {
    if service != "knowledge" {
        return migrator;
    }
    let sql = match backend {
        "sqlite" => "ALTER TABLE items RENAME COLUMN folder TO para_folder;",
        _ => {
            "ALTER TABLE items RENAME COLUMN folder TO para_folder; \
             ALTER TABLE items ADD COLUMN reviewer TEXT NOT NULL;"
        }
    };
    let mut migrations = migrator.migrations.to_vec();
    migrations.push(Migration::new(
        9_999,
        "synthetic contract".into(),
        MigrationType::Simple,
        sqlx::AssertSqlSafe(sql).into_sql_str(),
        false,
    ));
    let mut migrator = migrator;
    migrator.migrations = Cow::Owned(migrations);
    migrator
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contract_step_too_early_is_reported() {
    let release = Release::newest();
    let sqlite = incompatibilities(&release, sqlite_database, with_contract).await;
    assert!(
        sqlite
            .iter()
            .any(|problem| problem.contains("folder") && problem.contains("in: ")),
        "the renamed column is reported with the statements using it: {sqlite:#?}"
    );
    if postgres_database().await.is_none() {
        return;
    }
    let fresh = async || postgres_database().await.expect("postgres is configured");
    let postgres = incompatibilities(&release, fresh, with_contract).await;
    assert!(
        postgres.iter().any(|problem| problem.contains("folder")),
        "{postgres:#?}"
    );
    assert!(
        postgres
            .iter()
            .any(|problem| problem == "items.reviewer is added NOT NULL without a default"),
        "{postgres:#?}"
    );
}
