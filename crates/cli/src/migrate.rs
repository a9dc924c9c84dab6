//! `pake migrate`: applies every store's embedded migrations — identity's, then knowledge's —
//! to the configured database and says per service what it applied. Servers also migrate at
//! start; this lets an operator migrate first (a release job before a rolling upgrade) and see
//! where the schema stands (`--status`, which changes nothing). Search keeps no tables: its
//! index is derived and rebuilds from the change feed. With Vault configured, `database_url`
//! comes from Vault exactly as for `pake serve` ([`crate::app::secrets::resolve`]).

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use pake_core::config::Config;
use pake_runtime::db::{Database, Migrations};
use sqlx::Connection;

use crate::database::{DatabaseArgs, default_sqlite_file, describe, is_postgres, load_config};

/// How long a PostgreSQL server may take to accept the first connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// `pake migrate` flags.
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// List each service's applied and pending migrations; apply nothing.
    #[arg(long, visible_alias = "dry-run")]
    pub status: bool,
}

/// Every service's migrations, in the order they are applied.
fn all_migrations() -> Vec<Migrations> {
    vec![pake_identity::migrations(), pake_knowledge::migrations()]
}

/// One embedded migration: its version and description.
struct Step {
    version: i64,
    description: String,
}

/// Runs `pake migrate`. Exit codes: 0 done, 1 Vault or the database cannot be reached or a
/// migration failed, 2 invalid configuration.
pub async fn run(config_file: Option<&Path>, args: MigrateArgs) -> ExitCode {
    let config = match load_config(config_file, &args.database) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let config = match crate::app::secrets::resolve(&config).await {
        Ok((config, _vault)) => config,
        Err(error) => {
            eprintln!("pake: {error:#}");
            return ExitCode::from(1);
        }
    };
    let target = describe(&config);
    if args.status && config.database_url.is_none() && !default_sqlite_file(&config).exists() {
        // Nothing to open, and opening would create the file.
        println!("{target}: no database yet");
        for migrations in all_migrations() {
            print_status(&steps(&migrations, None), migrations.service, &[]);
        }
        return ExitCode::SUCCESS;
    }
    let database = match open(&config).await {
        Ok(database) => database,
        Err(error) => {
            eprintln!(
                "pake: cannot reach the database of database_url ({target}): {error}\n\
                 check database_url (--database-url, PAKE_DATABASE_URL or the config file) and \
                 that the database server is running and accepts this user"
            );
            return ExitCode::from(1);
        }
    };
    let result = if args.status {
        status(&database, &target).await
    } else {
        migrate(&database, &target).await
    };
    database.close().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("pake: {error:#}");
            ExitCode::from(1)
        }
    }
}

/// Opens the pool. PostgreSQL is first tried with one plain connection, so an unreachable
/// server fails at once with the driver's reason rather than after the pool's retries.
async fn open(config: &Config) -> anyhow::Result<Database> {
    if is_postgres(config)
        && let Some(url) = &config.database_url
    {
        let probe =
            tokio::time::timeout(CONNECT_TIMEOUT, sqlx::PgConnection::connect(url.expose()))
                .await
                .map_err(|_| anyhow::anyhow!("no answer within {CONNECT_TIMEOUT:?}"))??;
        probe.close().await.ok();
    }
    Ok(Database::open(config.database_url.as_ref(), &config.data_dir).await?)
}

async fn migrate(database: &Database, target: &str) -> anyhow::Result<()> {
    println!("{target}:");
    for migrations in all_migrations() {
        let service = migrations.service;
        let before = applied_versions(database, service).await?;
        let pending: Vec<Step> = steps(&migrations, Some(database))
            .into_iter()
            .filter(|step| !before.contains(&step.version))
            .collect();
        database.migrate(migrations).await?;
        if pending.is_empty() {
            println!("{service}: up to date ({} applied before)", before.len());
            continue;
        }
        println!("{service}: applied {} migration(s)", pending.len());
        for step in pending {
            println!("  {:04} {}", step.version, step.description);
        }
    }
    println!("search: no tables (its index rebuilds from the change feed)");
    Ok(())
}

async fn status(database: &Database, target: &str) -> anyhow::Result<()> {
    println!("{target}:");
    for migrations in all_migrations() {
        let applied = applied_versions(database, migrations.service).await?;
        print_status(
            &steps(&migrations, Some(database)),
            migrations.service,
            &applied,
        );
    }
    Ok(())
}

fn print_status(steps: &[Step], service: &str, applied: &[i64]) {
    let pending = steps
        .iter()
        .filter(|step| !applied.contains(&step.version))
        .count();
    println!(
        "{service}: {} applied, {pending} pending",
        steps.len() - pending
    );
    for step in steps {
        let state = if applied.contains(&step.version) {
            "applied"
        } else {
            "pending"
        };
        println!("  {state} {:04} {}", step.version, step.description);
    }
}

/// The embedded (up) migrations for `database`'s backend (SQLite's when there is no database
/// yet).
fn steps(migrations: &Migrations, database: Option<&Database>) -> Vec<Step> {
    let migrator = match database {
        Some(Database::Postgres(_)) => &migrations.postgres,
        _ => &migrations.sqlite,
    };
    migrator
        .iter()
        .filter(|migration| !migration.migration_type.is_down_migration())
        .map(|migration| Step {
            version: migration.version,
            description: migration.description.to_string(),
        })
        .collect()
}

/// Versions recorded as applied in `_pake_<service>_migrations`; none when the table does not
/// exist yet.
async fn applied_versions(database: &Database, service: &str) -> anyhow::Result<Vec<i64>> {
    let table = format!("_pake_{service}_migrations");
    // `table` is built from a fixed service name, never from input.
    let select = format!("SELECT version FROM {table} WHERE success ORDER BY version");
    let versions = match database {
        Database::Sqlite(pool) => {
            let exists: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
            )
            .bind(&table)
            .fetch_one(pool)
            .await?;
            if exists == 0 {
                return Ok(Vec::new());
            }
            sqlx::query_scalar(sqlx::AssertSqlSafe(select))
                .fetch_all(pool)
                .await?
        }
        Database::Postgres(pool) => {
            let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
                .bind(&table)
                .fetch_one(pool)
                .await?;
            if !exists {
                return Ok(Vec::new());
            }
            sqlx::query_scalar(sqlx::AssertSqlSafe(select))
                .fetch_all(pool)
                .await?
        }
    };
    Ok(versions)
}
