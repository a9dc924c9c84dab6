//! Write transactions, begun the right way for each backend: [`BeginWrite::begin_write`].
//!
//! SQLite has one writer at a time per database file. Left to itself, a second writer waits
//! inside SQLite's busy handler — sleeping 1, 2, 5 … up to 100 ms between attempts, unfairly
//! (a newcomer can take the lock before a writer that has waited for seconds) and *holding its
//! pool connection* all the while. Measured with `pake-bench --scenario search-freshness`: 16
//! concurrent CreateItem clients held most of the pool's connections asleep, the change feed's
//! reader and GetItem waited for a connection, and search fell up to 10 s behind (4 clients: at
//! most 1.6 s). So in this process, SQLite writers queue first on an async FIFO lock per
//! database file — without a connection — and only the one holding it begins `BEGIN IMMEDIATE`.
//! SQLite's own locking still serialises writers of other processes (`pake` commands on the same
//! file), and PostgreSQL, which has row locks and many writers, gets a plain `BEGIN`.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;

/// A write transaction: derefs to the connection like [`sqlx::Transaction`] (`&mut *tx` is an
/// executor), rolled back when dropped without [`commit`](Self::commit). On SQLite it holds the
/// process's writer turn for its database file until it ends.
pub struct WriteTransaction<DB: sqlx::Database> {
    // Dropped first: the transaction ends (rolled back unless committed) before the turn passes.
    transaction: sqlx::Transaction<'static, DB>,
    _writer_turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl<DB: sqlx::Database> WriteTransaction<DB> {
    /// Commits.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.transaction.commit().await
    }

    /// Rolls back.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.transaction.rollback().await
    }
}

impl<DB: sqlx::Database> Deref for WriteTransaction<DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &DB::Connection {
        &self.transaction
    }
}

impl<DB: sqlx::Database> DerefMut for WriteTransaction<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        &mut self.transaction
    }
}

/// Starting a write transaction the right way for each backend.
pub trait BeginWrite {
    /// The sqlx database type.
    type Db: sqlx::Database;
    /// SQLite: the writer turn of this process for the file, then `BEGIN IMMEDIATE` (a deferred
    /// transaction that later upgrades to a writer fails with SQLITE_BUSY at once instead of
    /// waiting); PostgreSQL: a plain `BEGIN`.
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = Result<WriteTransaction<Self::Db>, sqlx::Error>> + Send;
}

impl BeginWrite for SqlitePool {
    type Db = sqlx::Sqlite;

    async fn begin_write(&self) -> Result<WriteTransaction<sqlx::Sqlite>, sqlx::Error> {
        let turn = writer_lock(self.connect_options().get_filename().to_path_buf())
            .lock_owned()
            .await;
        let transaction = self.begin_with("BEGIN IMMEDIATE").await?;
        Ok(WriteTransaction {
            transaction,
            _writer_turn: Some(turn),
        })
    }
}

impl BeginWrite for PgPool {
    type Db = sqlx::Postgres;

    async fn begin_write(&self) -> Result<WriteTransaction<sqlx::Postgres>, sqlx::Error> {
        Ok(WriteTransaction {
            transaction: self.begin().await?,
            _writer_turn: None,
        })
    }
}

/// The FIFO writer lock of the SQLite file `path`, shared by every pool of this process that
/// opens it. One small lock per file ever opened stays in the map (tests open many files).
fn writer_lock(path: PathBuf) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let locks = LOCKS.get_or_init(Mutex::default);
    // A poisoned map still holds valid locks: nothing panics while it is held.
    let mut locks = locks
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    locks.entry(path).or_default().clone()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::db::Database;

    /// A pool of two connections on a WAL file, busy timeout 5 s as in `Database::open`.
    async fn two_connections(dir: &std::path::Path) -> SqlitePool {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(dir.join("two.db"))
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(5));
        sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .expect("open")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_writers_take_turns_without_holding_connections() {
        let dir = tempfile::tempdir().expect("temp dir");
        let pool = two_connections(dir.path()).await;
        sqlx::query("CREATE TABLE t (n INTEGER)")
            .execute(&pool)
            .await
            .expect("create");
        let mut first = pool.begin_write().await.expect("first writer");
        sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&mut *first)
            .await
            .expect("insert");
        // A second writer waits for its turn (not in SQLite's busy handler) …
        let second = tokio::spawn({
            let pool = pool.clone();
            async move {
                let mut tx = pool.begin_write().await.expect("second writer");
                sqlx::query("INSERT INTO t VALUES (2)")
                    .execute(&mut *tx)
                    .await
                    .expect("insert");
                tx.commit().await.expect("commit")
            }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!second.is_finished(), "the second writer must wait");
        // … holding no connection meanwhile: the pool's other connection serves a reader (were
        // the waiting writer holding it, this read would wait for a connection and time out).
        let count: i64 = tokio::time::timeout(
            Duration::from_secs(2),
            sqlx::query_scalar("SELECT count(*) FROM t").fetch_one(&pool),
        )
        .await
        .expect("a reader gets a connection while a writer waits")
        .expect("read");
        assert_eq!(count, 0, "the first writer has not committed");
        first.commit().await.expect("commit");
        second.await.expect("join");
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
            .fetch_one(&pool)
            .await
            .expect("count");
        assert_eq!(count, 2);
    }

    #[tokio::test]
    async fn a_dropped_write_transaction_rolls_back_and_passes_the_turn() {
        let dir = tempfile::tempdir().expect("temp dir");
        let Database::Sqlite(pool) = Database::open(None, dir.path()).await.expect("open") else {
            panic!("the embedded default is SQLite");
        };
        sqlx::query("CREATE TABLE t (n INTEGER)")
            .execute(&pool)
            .await
            .expect("create");
        {
            let mut tx = pool.begin_write().await.expect("writer");
            sqlx::query("INSERT INTO t VALUES (1)")
                .execute(&mut *tx)
                .await
                .expect("insert");
        }
        let next = tokio::time::timeout(Duration::from_secs(5), pool.begin_write())
            .await
            .expect("the turn was passed on")
            .expect("begin");
        next.rollback().await.expect("rollback");
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
            .fetch_one(&pool)
            .await
            .expect("count");
        assert_eq!(count, 0);
    }
}
