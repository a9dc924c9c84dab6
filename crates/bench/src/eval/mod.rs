//! `pake-eval`: relevance of PAKE's Search on the Cranfield collection, against an untuned BM25
//! over the same documents measured in the same run (SPEC §5, issue 6 item 7; docs/search.md).
//!
//! - [`dataset`]: the collection's files; [`metrics`]: nDCG@10, MRR@10, recall@100 and the
//!   odd/even query split (tune on odd ids, report on even ones);
//! - [`api`]: PAKE through its public gRPC API (CreateItem, `min_cursor`, Search);
//! - [`baseline`]: the untuned BM25 (a plain tantivy index, default tokenizer and parser);
//! - [`sweep`]: analysis and boost variants built directly with `pake-search`'s index API;
//! - [`report`]: the markdown tables.

pub mod api;
pub mod baseline;
pub mod dataset;
pub mod metrics;
pub mod report;
pub mod sweep;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use pake_search::index::{Analysis, Boosts};

use crate::scenarios::connect;
use crate::scenarios::pake_server::PakeServer;
use dataset::Dataset;
use metrics::{Split, evaluate};
use report::Row;

/// Results per query: one page of this many (Search's maximum page size), for recall@100.
pub const DEPTH: usize = 100;

/// The command line of `pake-eval`.
#[derive(Clone, Debug, clap::Parser)]
#[command(name = "pake-eval", version, about, long_about = None)]
pub struct EvalOptions {
    /// The converted Cranfield collection (docs.jsonl, queries.jsonl, qrels.tsv). Default:
    /// `../shared/datasets/cranfield` relative to the workspace.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// CreateItem calls in flight while loading the documents.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Also compare the analyses and boosts (on the odd queries, through the index API).
    #[arg(long)]
    pub sweep: bool,
}

/// Everything one run measured.
#[derive(Debug)]
pub struct EvalRun {
    pub dataset: Dataset,
    pub loaded: api::Loaded,
    pub index_wait: std::time::Duration,
    pub pake: BTreeMap<u32, Vec<String>>,
    pub bm25: BTreeMap<u32, Vec<String>>,
    /// The default analysis and boosts through the index API (should equal `pake`).
    pub direct: BTreeMap<u32, Vec<String>>,
    pub variants: Vec<sweep::Variant>,
    /// The best variant on the odd queries that the contract allows ([`sweep::chosen`]) and its
    /// rankings of every query.
    pub best: Option<(sweep::Variant, BTreeMap<u32, Vec<String>>)>,
}

/// Loads the collection into a fresh in-process PAKE through its API, runs the queries there and
/// on the baseline, and (with `--sweep`) measures the variants. Progress goes to stderr.
pub async fn run(options: &EvalOptions) -> anyhow::Result<EvalRun> {
    let dir = options
        .data_dir
        .clone()
        .unwrap_or_else(dataset::default_dir);
    let dataset = Dataset::load(&dir)?;
    eprintln!(
        "cranfield: {} documents, {} queries, {} judged",
        dataset.docs.len(),
        dataset.queries.len(),
        dataset.qrels.len()
    );

    let server = PakeServer::start().await?;
    let measured = async {
        let user = server.sign_up_and_in().await?;
        let channel = connect(&server.url).await?;
        let items = dataset.docs.iter().map(api::doc_item).collect();
        let loaded = api::create_items(&channel, &user, items, options.concurrency).await?;
        let index_wait = api::wait_for_cursor(&channel, &user, &loaded.last_cursor).await?;
        eprintln!(
            "loaded {} items with CreateItem in {:.1} s; the index applied the last one {:.0} ms \
             after it was acknowledged",
            loaded.items,
            loaded.elapsed.as_secs_f64(),
            index_wait.as_secs_f64() * 1000.0
        );
        let pake = api::run_queries(&channel, &user, &dataset.queries, DEPTH as i32).await?;
        anyhow::Ok((loaded, index_wait, pake))
    }
    .await;
    server.stop().await?;
    let (loaded, index_wait, pake) = measured?;

    let baseline = baseline::Bm25Baseline::build(&dataset.docs)?;
    let mut bm25 = BTreeMap::new();
    for query in &dataset.queries {
        bm25.insert(query.id, baseline.search(&query.text, DEPTH)?);
    }
    let direct_index = sweep::build(&dataset, Analysis::default())?;
    let direct = sweep::rankings(&direct_index, &dataset.queries, DEPTH)?;
    let variants = if options.sweep {
        eprintln!("sweep: analyses × title boosts × typo boosts, then prefix boosts (odd queries)");
        sweep::sweep(&dataset, DEPTH, |v| {
            eprintln!(
                "  {:<22} title {:<4} typo {:<4} prefix {:<4} nDCG@10 {:.4}",
                sweep::analysis_label(&v.analysis),
                v.boosts.title,
                v.boosts.fuzzy,
                v.boosts.prefix,
                v.odd.ndcg_10
            );
        })?
    } else {
        Vec::new()
    };
    let best = match sweep::chosen(&variants) {
        Some(best) => {
            let index = sweep::build(&dataset, best.analysis)?.with_boosts(best.boosts);
            Some((*best, sweep::rankings(&index, &dataset.queries, DEPTH)?))
        }
        None => None,
    };
    Ok(EvalRun {
        dataset,
        loaded,
        index_wait,
        pake,
        bm25,
        direct,
        variants,
        best,
    })
}

impl EvalRun {
    /// Prints the tables (markdown, ready for docs/search.md).
    pub fn print(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let qrels = &self.dataset.qrels;
        let defaults = format!(
            "{}, title {}, typo {}, prefix {}",
            sweep::analysis_label(&Analysis::default()),
            Boosts::default().title,
            Boosts::default().fuzzy,
            Boosts::default().prefix
        );
        writeln!(out, "## Relevance on Cranfield")?;
        writeln!(out)?;
        writeln!(
            out,
            "{} documents loaded with CreateItem in {:.1} s ({:.0} items/s); the index applied \
             the last write {:.0} ms after its acknowledgement. PAKE defaults: {defaults}.",
            self.loaded.items,
            self.loaded.elapsed.as_secs_f64(),
            self.loaded.items as f64 / self.loaded.elapsed.as_secs_f64().max(1e-9),
            self.index_wait.as_secs_f64() * 1000.0
        )?;
        writeln!(out)?;
        let mut rows = Vec::new();
        for (system, rankings) in [
            ("PAKE Search (gRPC, defaults)", &self.pake),
            ("untuned BM25 (tantivy defaults)", &self.bm25),
        ] {
            for split in [Split::Odd, Split::Even, Split::All] {
                rows.push(Row {
                    label: format!("{system} | {}", split.name()),
                    means: evaluate(rankings, qrels, split),
                });
            }
        }
        report::means_table(out, "system | queries", &rows)?;
        let same = self
            .pake
            .iter()
            .filter(|(id, ranking)| self.direct.get(id) == Some(ranking))
            .count();
        writeln!(out)?;
        writeln!(
            out,
            "The same defaults through the index API rank {same} of {} queries identically \
             (the sweep below uses the index API).",
            self.pake.len()
        )?;
        if !self.variants.is_empty() {
            writeln!(out)?;
            report::sweep_tables(out, &self.variants)?;
            if let Some((best, rankings)) = &self.best {
                writeln!(out)?;
                report::held_out(out, best, rankings, &self.pake, &self.bm25, qrels)?;
            }
        }
        Ok(())
    }
}
