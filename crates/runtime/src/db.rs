//! Database pools and per-service embedded migrations.
//!
//! The URL scheme chooses the backend: `sqlite:` (the embedded default, one file in the data
//! dir) or `postgres://`. Each service owns its tables and its migrations and records them in
//! its own history table (`_pake_<service>_migrations`), so services can share one database (the
//! all-in-one SQLite file) or have one each (the mesh) without their migrations colliding.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use pake_core::config::{DatabaseConfig, SecretString};
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPool;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use crate::db_write::{BeginWrite, WriteTransaction};

#[path = "db_connect.rs"]
mod connect;
pub use connect::describe as describe_postgres;

/// Name of the SQLite file inside the data dir.
pub const SQLITE_FILE_NAME: &str = "pake.db";

/// Errors opening or migrating a database. Messages never contain the URL (it may hold a password).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Connecting failed.
    #[error("connecting to the {backend} database: {source}")]
    Connect {
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A migration failed.
    #[error("applying {service} migrations: {source}")]
    Migrate {
        /// The service whose migrations failed.
        service: &'static str,
        /// The migrator's error.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// PostgreSQL did not accept a connection within `database.connect_timeout_secs`.
    #[error(
        "database_url: PostgreSQL at {target} did not accept a connection after {attempts} attempts in {waited_secs} s (database.connect_timeout_secs bounds the wait): {source}"
    )]
    Unreachable {
        /// `host:port/database`.
        target: String,
        /// Connection attempts made.
        attempts: u32,
        /// Seconds waited.
        waited_secs: u64,
        /// The last attempt's error.
        #[source]
        source: sqlx::Error,
    },
    /// PostgreSQL answered with an error that waiting cannot cure (credentials, missing database).
    #[error("database_url: PostgreSQL at {target} refused the connection: {source}")]
    Refused {
        /// `host:port/database`.
        target: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The URL's scheme is neither sqlite nor postgres.
    #[error("database_url must start with sqlite: or postgres://")]
    UnsupportedScheme,
    /// The data dir could not be created.
    #[error("creating data dir {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// A pool for one of the two supported backends. Stores hold one of these and pick their
/// SQL dialect by matching on it.
#[derive(Clone, Debug)]
pub enum Database {
    /// The embedded default.
    Sqlite(SqlitePool),
    /// Production.
    Postgres(PgPool),
}

/// A service's migrations for both backends.
pub struct Migrations {
    /// Service name; the history table is `_pake_<service>_migrations`.
    pub service: &'static str,
    /// `sqlx::migrate!("./migrations/sqlite")`.
    pub sqlite: Migrator,
    /// `sqlx::migrate!("./migrations/postgres")`.
    pub postgres: Migrator,
}

impl Database {
    /// Opens the database at `url`, or the SQLite file in `data_dir` when `url` is `None`, with
    /// the default [`DatabaseConfig`].
    pub async fn open(url: Option<&SecretString>, data_dir: &Path) -> Result<Database, Error> {
        Self::open_with(url, data_dir, &DatabaseConfig::default()).await
    }

    /// [`open`](Self::open) with `settings`: PostgreSQL is waited for (bounded retry with a log
    /// line per attempt) and its pool fails calls fast while the server is away.
    pub async fn open_with(
        url: Option<&SecretString>,
        data_dir: &Path,
        settings: &DatabaseConfig,
    ) -> Result<Database, Error> {
        match url {
            Some(url) if url.expose().starts_with("sqlite:") => {
                let options = SqliteConnectOptions::from_str(url.expose()).map_err(|source| {
                    Error::Connect {
                        backend: "sqlite",
                        source,
                    }
                })?;
                Self::open_sqlite(options).await
            }
            Some(url)
                if url.expose().starts_with("postgres://")
                    || url.expose().starts_with("postgresql://") =>
            {
                let pool = connect::open_postgres(url, settings).await?;
                let database = Database::Postgres(pool);
                crate::metrics::pools::track(&database);
                Ok(database)
            }
            Some(_) => Err(Error::UnsupportedScheme),
            None => {
                std::fs::create_dir_all(data_dir).map_err(|source| Error::DataDir {
                    path: data_dir.display().to_string(),
                    source,
                })?;
                let options = SqliteConnectOptions::new().filename(data_dir.join(SQLITE_FILE_NAME));
                Self::open_sqlite(options).await
            }
        }
    }

    async fn open_sqlite(options: SqliteConnectOptions) -> Result<Database, Error> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(|source| Error::Connect {
                backend: "sqlite",
                source,
            })?;
        let database = Database::Sqlite(pool);
        crate::metrics::pools::track(&database);
        Ok(database)
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self {
            Database::Sqlite(_) => "sqlite",
            Database::Postgres(_) => "postgres",
        }
    }

    /// Applies `migrations` (idempotent; safe to run from several replicas at once on Postgres,
    /// where sqlx takes an advisory lock). Migrations already applied by a newer release are
    /// accepted, not an error: schema changes are expand/contract (SPEC §7), so the previous
    /// release keeps running — and can be rolled back to — on a schema migrated ahead of it.
    /// An applied migration whose checksum differs from this binary's is still refused.
    pub async fn migrate(&self, migrations: Migrations) -> Result<(), Error> {
        let service = migrations.service;
        let table = format!("_pake_{service}_migrations");
        let result = match self {
            Database::Sqlite(pool) => {
                let mut migrator = migrations.sqlite;
                migrator.dangerous_set_table_name(table);
                migrator.set_ignore_missing(true);
                migrator.run(pool).await
            }
            Database::Postgres(pool) => {
                let mut migrator = migrations.postgres;
                migrator.dangerous_set_table_name(table);
                migrator.set_ignore_missing(true);
                migrator.run(pool).await
            }
        };
        result.map_err(|source| Error::Migrate { service, source })?;
        tracing::info!(service, backend = self.backend(), "migrations applied");
        Ok(())
    }

    /// Closes every connection (the last step of shutdown).
    pub async fn close(&self) {
        match self {
            Database::Sqlite(pool) => pool.close().await,
            Database::Postgres(pool) => pool.close().await,
        }
    }
}

/// Runs `$body` with `$pool` bound to the concrete pool of either backend. The body is written
/// once and compiled for both; use only SQL both dialects accept (`$1`-style placeholders in order
/// of appearance, no reuse of a placeholder).
#[macro_export]
macro_rules! with_pool {
    ($database:expr, $pool:ident => $body:expr) => {
        match $database {
            $crate::db::Database::Sqlite($pool) => $body,
            $crate::db::Database::Postgres($pool) => $body,
        }
    };
}

/// Microseconds since the Unix epoch, the time unit of every PAKE table.
pub fn now_micros() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_micros()).unwrap_or(i64::MAX)
}

/// Converts table microseconds to a protobuf timestamp.
pub fn timestamp(micros: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: i32::try_from(micros.rem_euclid(1_000_000) * 1000).unwrap_or(0),
    }
}
