//! What the commands that work on the database directly (`pake migrate`, `pake backup`) share:
//! the flags that say which database (the same keys as `pake serve`), loading the
//! configuration with them, and naming the database in messages without its password.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use pake_core::config::{Config, Overrides};
use pake_runtime::db::SQLITE_FILE_NAME;

/// Which database: `data_dir` and `database_url`, as for `pake serve`.
#[derive(Clone, Debug, clap::Args)]
pub struct DatabaseArgs {
    /// Data directory (default ./pake-data); the embedded SQLite database is `pake.db` in it.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL, sqlite:… or postgres://… (default: SQLite in the data dir). Prefer
    /// PAKE_DATABASE_URL: flags show in `ps`.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
}

impl DatabaseArgs {
    /// The flag layer of the configuration.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            ..Overrides::default()
        }
    }
}

/// Loads the configuration layers with `args` on top. Invalid configuration is printed and
/// becomes exit code 2. Logs only warnings: these commands speak on stdout and stderr.
pub fn load_config(config_file: Option<&Path>, args: &DatabaseArgs) -> Result<Config, ExitCode> {
    let config = Config::load(config_file, &args.overrides()).map_err(|error| {
        eprintln!("pake: {error}");
        ExitCode::from(2)
    })?;
    pake_core::telemetry::init(&pake_core::config::LogConfig {
        filter: "warn".to_owned(),
        ..config.log.clone()
    });
    Ok(config)
}

/// Whether `database_url` names a PostgreSQL database.
pub fn is_postgres(config: &Config) -> bool {
    config.database_url.as_ref().is_some_and(|url| {
        let url = url.expose();
        url.starts_with("postgres://") || url.starts_with("postgresql://")
    })
}

/// The embedded SQLite file when `database_url` is unset.
pub fn default_sqlite_file(config: &Config) -> PathBuf {
    config.data_dir.join(SQLITE_FILE_NAME)
}

/// The configured database for messages: `sqlite FILE`, or `postgres://host:port/db` without
/// user, password or parameters (they may hold secrets).
pub fn describe(config: &Config) -> String {
    let Some(url) = &config.database_url else {
        return format!("sqlite {}", default_sqlite_file(config).display());
    };
    let url = url.expose();
    let without_query = url.split_once('?').map_or(url, |(base, _)| base);
    if let Some(rest) = without_query.strip_prefix("sqlite:") {
        return format!("sqlite {}", rest.trim_start_matches("//"));
    }
    let Some((scheme, rest)) = without_query.split_once("://") else {
        return "database_url".to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    format!("{scheme}://{host}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use pake_core::config::SecretString;

    fn described(url: Option<&str>) -> String {
        let config = Config {
            data_dir: PathBuf::from("/srv/pake"),
            database_url: url.map(SecretString::new),
            ..Config::default()
        };
        describe(&config)
    }

    #[test]
    fn descriptions_never_show_credentials_or_parameters() {
        assert_eq!(described(None), "sqlite /srv/pake/pake.db");
        assert_eq!(
            described(Some("postgres://pake:hunter2@db:5432/pake?sslmode=require")),
            "postgres://db:5432/pake"
        );
        assert_eq!(
            described(Some("postgresql://u:p@ss@h/db")),
            "postgresql://h/db"
        );
        assert_eq!(
            described(Some("postgres://h?password=hunter2")),
            "postgres://h"
        );
        assert_eq!(
            described(Some("sqlite:///var/lib/pake.db?mode=rwc")),
            "sqlite /var/lib/pake.db"
        );
        assert_eq!(described(Some("sqlite:data.db")), "sqlite data.db");
    }
}
