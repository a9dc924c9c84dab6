//! Fresh databases for store tests, and the conformance-suite macro that runs one suite against
//! both backends.

use std::sync::atomic::{AtomicU32, Ordering};

use pake_core::config::SecretString;
use pake_runtime::db::Database;
use sqlx::Connection;
use tempfile::TempDir;

use crate::prerequisites::{DATABASE_URL_ENV, require};

/// A database that exists for one test: a SQLite file in a temp dir, or a PostgreSQL database
/// created for the test and dropped when this value is dropped.
pub struct TestDatabase {
    /// The pool.
    pub database: Database,
    _sqlite_dir: Option<TempDir>,
    postgres_cleanup: Option<(String, String)>,
}

/// A fresh SQLite database.
pub async fn sqlite_database() -> TestDatabase {
    crate::query_record::install_if_requested();
    let dir = tempfile::tempdir().expect("temp dir");
    let database = Database::open(None, dir.path()).await.expect("open sqlite");
    TestDatabase {
        database,
        _sqlite_dir: Some(dir),
        postgres_cleanup: None,
    }
}

/// A fresh PostgreSQL database on the server named by `PAKE_TEST_DATABASE_URL`; `None` (with a
/// printed reason) when it is unset locally; a panic when it is unset in CI.
pub async fn postgres_database() -> Option<TestDatabase> {
    crate::query_record::install_if_requested();
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let admin_url = require(
        std::env::var(DATABASE_URL_ENV).ok(),
        "PostgreSQL tests need PAKE_TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres)",
    )?;
    let name = format!(
        "pake_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        rand::random::<u32>()
    );
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .expect("connect to PAKE_TEST_DATABASE_URL");
    // `name` is generated above from digits and underscores only.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await
        .expect("create test database");
    admin.close().await.ok();
    let url = replace_database_name(&admin_url, &name);
    let database = Database::open(Some(&SecretString::new(url)), std::path::Path::new(""))
        .await
        .expect("open test database");
    Some(TestDatabase {
        database,
        _sqlite_dir: None,
        postgres_cleanup: Some((admin_url, name)),
    })
}

fn replace_database_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[authority_end..]
        .find('/')
        .map(|i| i + authority_end)
        .unwrap_or(base.len());
    let mut result = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        result.push('?');
        result.push_str(query);
    }
    result
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres_cleanup.take() else {
            return;
        };
        let database = self.database.clone();
        // Drop runs outside async context guarantees: use a private runtime on its own thread.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cleanup runtime");
            runtime.block_on(async move {
                database.close().await;
                if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                    let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    if let Err(error) = sqlx::query(sqlx::AssertSqlSafe(drop))
                        .execute(&mut admin)
                        .await
                    {
                        eprintln!("warning: could not drop test database {name}: {error}");
                    }
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// Runs a store conformance suite against SQLite and PostgreSQL.
///
/// `$open` names an `async fn(Database) -> Store` in the calling module that migrates and builds the store; each case is
/// an `async fn(Store)` in the calling module. Every case gets a fresh database per backend:
///
/// ```ignore
/// async fn open(database: Database) -> Arc<dyn ItemStore> { ... }
/// async fn create_then_get(store: Arc<dyn ItemStore>) { ... }
/// pake_testkit::store_conformance_suite!(open; create_then_get, stale_etag_is_aborted);
/// ```
#[macro_export]
macro_rules! store_conformance_suite {
    ($open:ident; $($case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let test_database = $crate::sqlite_database().await;
                    super::$case(super::$open(test_database.database.clone()).await).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(test_database) = $crate::postgres_database().await else {
                        return;
                    };
                    super::$case(super::$open(test_database.database.clone()).await).await;
                }
            )+
        }
    };
}

#[cfg(test)]
mod tests {
    use super::replace_database_name;

    #[test]
    fn database_name_is_replaced_and_query_kept() {
        assert_eq!(
            replace_database_name("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            replace_database_name("postgres://u:p@h/db?sslmode=disable", "t2"),
            "postgres://u:p@h/t2?sslmode=disable"
        );
        assert_eq!(
            replace_database_name("postgres://h:1", "t3"),
            "postgres://h:1/t3"
        );
    }
}
