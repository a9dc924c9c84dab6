//! `pake backup FILE`: a consistent copy of the embedded SQLite database, taken online with
//! `VACUUM INTO` (a read transaction: the server keeps reading and writing meanwhile). The copy
//! is written next to FILE under a temporary name, checked, and only then given FILE's name, so
//! FILE is either a complete backup or absent; an existing FILE is never overwritten.
//! PostgreSQL is backed up with its own tools (pg_dump); the search index is derived and
//! rebuilds from the change feed, so it needs no backup.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

use crate::database::{DatabaseArgs, default_sqlite_file, is_postgres, load_config};

/// `pake backup` flags.
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// Where to write the copy; must not exist yet.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Runs `pake backup`. Exit codes: 0 written, 1 the copy failed, 2 refused (FILE exists,
/// PostgreSQL, invalid configuration).
pub async fn run(config_file: Option<&Path>, args: BackupArgs) -> ExitCode {
    let config = match load_config(config_file, &args.database) {
        Ok(config) => config,
        Err(code) => return code,
    };
    if is_postgres(&config) {
        eprintln!(
            "pake: database_url is PostgreSQL; `pake backup` copies only the embedded SQLite \
             database. Back PostgreSQL up with its own tools: `pg_dump --format=custom` (restore \
             with `pg_restore`); see \"Backup and restore\" in docs/operations.md"
        );
        return ExitCode::from(2);
    }
    if args.file.symlink_metadata().is_ok() {
        eprintln!("{}", exists_message(&args.file));
        return ExitCode::from(2);
    }
    let source = match source_options(&config) {
        Ok(source) => source,
        Err(error) => {
            eprintln!("pake: {error:#}");
            return ExitCode::from(1);
        }
    };
    match copy_online(source, &args.file).await {
        Ok(Outcome::Written { bytes }) => {
            println!(
                "pake: backed up {} to {} ({bytes} bytes)",
                crate::database::describe(&config),
                args.file.display()
            );
            println!(
                "pake: keep a copy of {} and {} too (they change rarely; without them restored \
                 tokens and API keys stop working)",
                config.data_dir.join("signing-keys").display(),
                config.data_dir.join("api-key-hmac.key").display()
            );
            ExitCode::SUCCESS
        }
        Ok(Outcome::Exists) => {
            eprintln!("{}", exists_message(&args.file));
            ExitCode::from(2)
        }
        Err(error) => {
            eprintln!("pake: backup failed: {error:#}");
            ExitCode::from(1)
        }
    }
}

fn exists_message(file: &Path) -> String {
    format!(
        "pake: {} already exists; pake backup never overwrites a file (choose a new name, or \
         remove it first)",
        file.display()
    )
}

/// The database to copy: it must exist (opening must not create an empty one).
fn source_options(config: &pake_core::config::Config) -> anyhow::Result<SqliteConnectOptions> {
    let options = match &config.database_url {
        Some(url) => SqliteConnectOptions::from_str(url.expose()).context("database_url")?,
        None => SqliteConnectOptions::new().filename(default_sqlite_file(config)),
    };
    let file = options.get_filename();
    if file.as_os_str().is_empty() || file.to_string_lossy().contains(":memory:") {
        bail!("database_url names an in-memory database; there is nothing to back up");
    }
    if !file.is_file() {
        bail!(
            "no database at {}; check --data-dir (data_dir) or database_url",
            file.display()
        );
    }
    Ok(options
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(30)))
}

enum Outcome {
    Written { bytes: u64 },
    Exists,
}

/// `VACUUM INTO` a temporary file beside `file`, check the copy, then link it to `file`
/// (which fails rather than replace a file that appeared meanwhile).
async fn copy_online(source: SqliteConnectOptions, file: &Path) -> anyhow::Result<Outcome> {
    let name = file
        .file_name()
        .context("FILE must name a file")?
        .to_string_lossy()
        .into_owned();
    let directory = match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !directory.is_dir() {
        bail!(
            "the directory of FILE, {}, does not exist",
            directory.display()
        );
    }
    let partial = directory.join(format!(".{name}.partial-{}", std::process::id()));
    let result = write_checked_copy(source, &partial).await;
    let outcome = result.and_then(|()| publish(&partial, file));
    // Gone after a link; removed after a failure (it may not exist).
    let _ = std::fs::remove_file(&partial);
    outcome
}

async fn write_checked_copy(source: SqliteConnectOptions, partial: &Path) -> anyhow::Result<()> {
    let target = partial
        .to_str()
        .context("FILE's path must be valid UTF-8 (SQLite takes it as text)")?;
    let mut connection = SqliteConnection::connect_with(&source)
        .await
        .context("opening the database")?;
    let vacuum = sqlx::query("VACUUM INTO ?")
        .bind(target)
        .execute(&mut connection)
        .await;
    connection.close().await.ok();
    vacuum.with_context(|| format!("VACUUM INTO {}", partial.display()))?;

    let options = SqliteConnectOptions::new()
        .filename(partial)
        .read_only(true);
    let mut copy = SqliteConnection::connect_with(&options)
        .await
        .context("opening the copy")?;
    let check: String = sqlx::query_scalar("PRAGMA quick_check")
        .fetch_one(&mut copy)
        .await
        .context("checking the copy")?;
    copy.close().await.ok();
    if check != "ok" {
        bail!("the copy failed its integrity check: {check}");
    }
    Ok(())
}

fn publish(partial: &Path, file: &Path) -> anyhow::Result<Outcome> {
    match std::fs::hard_link(partial, file) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            return Ok(Outcome::Exists);
        }
        // A file system without hard links: rename, after checking again.
        Err(_) if file.symlink_metadata().is_ok() => return Ok(Outcome::Exists),
        Err(_) => std::fs::rename(partial, file)
            .with_context(|| format!("renaming the copy to {}", file.display()))?,
    }
    let bytes = std::fs::metadata(file)
        .with_context(|| format!("reading {}", file.display()))?
        .len();
    Ok(Outcome::Written { bytes })
}
