//! `search`: Search latency and throughput on Cranfield (its 225 queries) and on a generated
//! corpus of `--notes` notes (its generated queries), side by side with the same queries
//! answered by PostgreSQL full-text search (`search_postgres`), plus how fast each side
//! loads and indexes the corpus: concurrent CreateItem, the index catching up with the feed, a fresh index
//! rebuilt from a feed SNAPSHOT by the search service's own consumer (docs/s), and PostgreSQL's
//! INSERT and GIN build.
//!
//! PAKE runs with its hot-query cache off (`search.cache_entries = 0`): the queries repeat, and
//! the cache would answer them instead of the index. Results are recorded in docs/search.md.

use std::io::{self, Write};
use std::sync::Arc;
use std::time::Duration;

use crate::eval::dataset::{self, Dataset};
use crate::load::{self, Measurement};
use crate::machine::Machine;
use crate::options::Options;
use crate::report::{self, Summary, millis};
use crate::scenarios::connect;
use crate::scenarios::pake_server::PakeServer;
use crate::scenarios::search_corpus::{self, Corpus};
use crate::scenarios::search_pake::{self, PakeSearchCall};
use crate::scenarios::search_postgres::{PgBaseline, PgSearchCall};

/// What one corpus measured.
#[derive(Debug)]
pub struct CorpusResult {
    pub name: String,
    pub notes: usize,
    pub queries: usize,
    /// Concurrent CreateItem of every note.
    pub load: Duration,
    pub index_lag: Duration,
    pub rebuild: Duration,
    pub rebuilt_docs: u64,
    /// Mean results on the first page (of 10) and mean total matches.
    pub pake_hits: (f64, f64),
    pub pake: Measurement,
    pub pg_load: Duration,
    pub pg_index: Duration,
    pub pg_hits: f64,
    pub postgres: Measurement,
}

/// The whole run.
#[derive(Debug)]
pub struct SearchReport {
    options: Options,
    machine: Machine,
    date: String,
    pub corpora: Vec<CorpusResult>,
}

/// Measures Cranfield, then a generated corpus of `options.notes` notes.
pub async fn run(options: &Options) -> anyhow::Result<SearchReport> {
    let dataset = Dataset::load(&dataset::default_dir())?;
    let corpora = [
        search_corpus::cranfield(&dataset),
        search_corpus::generated(&dataset, options.notes),
    ];
    run_on(options, &corpora).await
}

/// Measures each of `corpora` in turn.
pub async fn run_on(options: &Options, corpora: &[Corpus]) -> anyhow::Result<SearchReport> {
    let mut measured = Vec::new();
    for corpus in corpora {
        measured.push(measure_corpus(corpus, options).await?);
    }
    let corpora = measured;
    Ok(SearchReport {
        options: options.clone(),
        machine: Machine::detect(),
        date: report::today(),
        corpora,
    })
}

fn per_second(count: f64, elapsed: Duration) -> f64 {
    count / elapsed.as_secs_f64().max(1e-9)
}

async fn measure_corpus(corpus: &Corpus, options: &Options) -> anyhow::Result<CorpusResult> {
    let queries: Arc<[String]> = corpus.queries.clone().into();
    let notes = corpus.notes.len();
    eprintln!("{}: {notes} notes, {} queries", corpus.name, queries.len());

    let server = PakeServer::start_with(|config| config.search.cache_entries = 0).await?;
    let pake = async {
        let user = server.sign_up_and_in().await?;
        let channel = connect(&server.url).await?;
        let loaded = search_pake::load(&channel, &user, &corpus.notes).await?;
        eprintln!(
            "  PAKE: created in {:.1} s ({:.0} notes/s); the index applied the last write \
             {:.2} s later",
            loaded.load.as_secs_f64(),
            per_second(notes as f64, loaded.load),
            loaded.index_lag.as_secs_f64()
        );
        let (rebuild, rebuilt_docs) =
            search_pake::rebuild_from_feed(&server.url, &user, &loaded.last_cursor).await?;
        eprintln!(
            "  PAKE: a fresh index rebuilt from the feed in {:.1} s ({:.0} docs/s)",
            rebuild.as_secs_f64(),
            per_second(rebuilt_docs as f64, rebuild)
        );
        let hits = search_pake::mean_hits(&channel, &user, &queries).await?;
        let mut clients = Vec::with_capacity(options.concurrency);
        for client in 0..options.concurrency {
            let start = client * queries.len() / options.concurrency;
            clients
                .push(PakeSearchCall::connect(&server.url, &user, queries.clone(), start).await?);
        }
        eprintln!("  PAKE: measuring Search");
        let measured = load::drive(clients, &options.load()).await?;
        anyhow::Ok((loaded, rebuild, rebuilt_docs, hits, measured))
    }
    .await;
    server.stop().await?;
    let (loaded, rebuild, rebuilt_docs, pake_hits, pake) = pake?;

    let connections = u32::try_from(options.concurrency).unwrap_or(u32::MAX);
    let pg = PgBaseline::prepare(&options.postgres_url, &corpus.notes, connections).await?;
    eprintln!(
        "  PostgreSQL: inserted in {:.1} s, GIN index and ANALYZE in {:.1} s",
        pg.load.as_secs_f64(),
        pg.index.as_secs_f64()
    );
    let measured = async {
        let hits = pg.mean_hits(&queries).await?;
        let clients = (0..options.concurrency)
            .map(|client| PgSearchCall {
                pool: pg.pool.clone(),
                queries: queries.clone(),
                next: client * queries.len() / options.concurrency,
            })
            .collect();
        eprintln!("  PostgreSQL: measuring the same queries");
        let measured = load::drive(clients, &options.load()).await?;
        anyhow::Ok((hits, measured))
    }
    .await;
    let (pg_load, pg_index) = (pg.load, pg.index);
    pg.drop_database().await?;
    let (pg_hits, postgres) = measured?;
    Ok(CorpusResult {
        name: corpus.name.clone(),
        notes,
        queries: queries.len(),
        load: loaded.load,
        index_lag: loaded.index_lag,
        rebuild,
        rebuilt_docs,
        pake_hits,
        pake,
        pg_load,
        pg_index,
        pg_hits,
        postgres,
    })
}

impl SearchReport {
    fn print_tables(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "search, {}: {}; {} clients, {:?} warm-up, {:?} window per system; PAKE's cache \
             off; PostgreSQL at {}",
            self.date,
            self.machine.summary(),
            self.options.concurrency,
            self.options.warmup,
            self.options.duration,
            redact(&self.options.postgres_url)
        )?;
        writeln!(out)?;
        let mut rows = Vec::new();
        for corpus in &self.corpora {
            for (system, run, shown, matches) in [
                (
                    "PAKE Search (gRPC)",
                    &corpus.pake,
                    corpus.pake_hits.0,
                    format!("{:.0}", corpus.pake_hits.1),
                ),
                (
                    "PostgreSQL websearch_to_tsquery + ts_rank",
                    &corpus.postgres,
                    corpus.pg_hits,
                    "-".to_owned(),
                ),
            ] {
                rows.push(vec![
                    corpus.name.clone(),
                    corpus.notes.to_string(),
                    corpus.queries.to_string(),
                    system.to_owned(),
                    format!("{:.0}", run.throughput()),
                    millis(run.quantile_millis(0.5)),
                    millis(run.quantile_millis(0.99)),
                    format!("{shown:.1}"),
                    matches,
                ]);
            }
        }
        report::table(
            out,
            &[
                "corpus",
                "notes",
                "queries",
                "system",
                "queries/s",
                "p50 ms",
                "p99 ms",
                "results (of 10)",
                "matches",
            ],
            &[0, 3],
            &rows,
        )?;
        writeln!(out)?;
        let rows: Vec<Vec<String>> = self
            .corpora
            .iter()
            .map(|c| {
                vec![
                    c.name.clone(),
                    c.notes.to_string(),
                    format!(
                        "{:.1} s ({:.0}/s)",
                        c.load.as_secs_f64(),
                        per_second(c.notes as f64, c.load)
                    ),
                    format!("{:.2} s", c.index_lag.as_secs_f64()),
                    format!(
                        "{:.1} s ({:.0} docs/s)",
                        c.rebuild.as_secs_f64(),
                        per_second(c.rebuilt_docs as f64, c.rebuild)
                    ),
                    format!(
                        "{:.1} s ({:.0}/s)",
                        c.pg_load.as_secs_f64(),
                        per_second(c.notes as f64, c.pg_load)
                    ),
                    format!("{:.1} s", c.pg_index.as_secs_f64()),
                ]
            })
            .collect();
        report::table(
            out,
            &[
                "corpus",
                "notes",
                "PAKE CreateItem (8 in flight)",
                "index behind the last write by",
                "PAKE index rebuilt from the feed",
                "PostgreSQL INSERT (tsvector computed)",
                "PostgreSQL GIN + ANALYZE",
            ],
            &[0],
            &rows,
        )
    }
}

/// The URL without a password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let user_info = &url[scheme + 3..at];
            let user = user_info.split(':').next().unwrap_or("");
            format!("{}{user}{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

impl Summary for SearchReport {
    fn print(&self, out: &mut dyn Write) -> io::Result<()> {
        self.print_tables(out)
    }

    fn failure_lines(&self) -> Vec<String> {
        self.corpora
            .iter()
            .flat_map(|c| {
                [
                    report::failure_line(&format!("PAKE search on {}", c.name), &c.pake),
                    report::failure_line(&format!("PostgreSQL search on {}", c.name), &c.postgres),
                ]
            })
            .flatten()
            .collect()
    }
}
