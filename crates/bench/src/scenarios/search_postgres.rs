//! The PostgreSQL full-text baseline of the `search` scenario — what a team would otherwise
//! build: a `notes` table with a stored `tsvector` of title and content (`english`
//! configuration), a GIN index on it, and the top 10 by `ts_rank` for
//! `websearch_to_tsquery('english', query)`, in a fresh database dropped after the run.
//!
//! `websearch_to_tsquery` ANDs the words of a query (PAKE ORs them and ranks), so on long
//! queries it matches far fewer documents; the report shows the mean matches of each.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use sqlx::postgres::{PgPool, PgPoolOptions};
use tonic::Status;

use crate::load::Call;
use crate::scenarios::scratch_database::ScratchDatabase;
use crate::scenarios::search_corpus::Note;

/// Rows per INSERT while loading.
const ROWS_PER_INSERT: usize = 1000;

/// The top-10 query, one parameter: the user's query text.
pub const SEARCH_SQL: &str = "SELECT id, ts_rank(tsv, query) AS rank \
     FROM notes, websearch_to_tsquery('english', $1) AS query \
     WHERE tsv @@ query ORDER BY rank DESC, id LIMIT 10";

/// A loaded and indexed database.
pub struct PgBaseline {
    pub pool: PgPool,
    database: ScratchDatabase,
    /// Inserting the rows (the tsvector is computed on insert).
    pub load: Duration,
    /// CREATE INDEX … USING GIN, then ANALYZE.
    pub index: Duration,
}

impl PgBaseline {
    /// Creates a fresh database on the server of `admin_url`, loads `notes`, builds the index.
    pub async fn prepare(
        admin_url: &str,
        notes: &[Note],
        connections: u32,
    ) -> anyhow::Result<Self> {
        let database = ScratchDatabase::create(admin_url).await?;
        match Self::fill(&database.url, notes, connections).await {
            Ok((pool, load, index)) => Ok(PgBaseline {
                pool,
                database,
                load,
                index,
            }),
            Err(error) => {
                database.drop_database().await.ok();
                Err(error)
            }
        }
    }

    async fn fill(
        url: &str,
        notes: &[Note],
        connections: u32,
    ) -> anyhow::Result<(PgPool, Duration, Duration)> {
        let pool = PgPoolOptions::new()
            .max_connections(connections.max(1))
            .connect(url)
            .await
            .context("connecting to the scratch database")?;
        sqlx::query(
            "CREATE TABLE notes (id text PRIMARY KEY, title text NOT NULL, content text NOT \
             NULL, tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', title || ' ' || \
             content)) STORED)",
        )
        .execute(&pool)
        .await?;
        let started = Instant::now();
        for chunk in notes.chunks(ROWS_PER_INSERT) {
            let ids: Vec<&str> = chunk.iter().map(|n| n.id.as_str()).collect();
            let titles: Vec<&str> = chunk.iter().map(|n| n.title.as_str()).collect();
            let contents: Vec<&str> = chunk.iter().map(|n| n.content.as_str()).collect();
            sqlx::query(
                "INSERT INTO notes (id, title, content) \
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[])",
            )
            .bind(ids)
            .bind(titles)
            .bind(contents)
            .execute(&pool)
            .await
            .context("loading notes into PostgreSQL")?;
        }
        let load = started.elapsed();
        let started = Instant::now();
        sqlx::query("CREATE INDEX notes_tsv ON notes USING GIN (tsv)")
            .execute(&pool)
            .await?;
        sqlx::query("ANALYZE notes").execute(&pool).await?;
        Ok((pool, load, started.elapsed()))
    }

    /// Mean rows returned (at most 10) over `queries`, asked once each (a warm-up too).
    pub async fn mean_hits(&self, queries: &[String]) -> anyhow::Result<f64> {
        let mut shown = 0;
        for query in queries {
            shown += sqlx::query(SEARCH_SQL)
                .bind(query)
                .fetch_all(&self.pool)
                .await
                .with_context(|| format!("searching {query:?} in PostgreSQL"))?
                .len();
        }
        Ok(shown as f64 / queries.len().max(1) as f64)
    }

    /// Closes the pool and drops the database.
    pub async fn drop_database(self) -> anyhow::Result<()> {
        self.pool.close().await;
        self.database.drop_database().await
    }
}

/// One client running the corpus's queries in turn on the pool (one connection per client).
pub struct PgSearchCall {
    pub pool: PgPool,
    pub queries: Arc<[String]>,
    pub next: usize,
}

impl Call for PgSearchCall {
    async fn call(&mut self) -> Result<(), Status> {
        let query = &self.queries[self.next % self.queries.len()];
        self.next += 1;
        sqlx::query(SEARCH_SQL)
            .bind(query)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(())
    }
}
