//! The markdown tables `pake-eval` prints.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

use pake_search::index::{Analysis, Boosts};

use super::metrics::{Means, Split, evaluate};
use super::sweep::{self, Variant};

/// One row: a label (which may hold several `|`-separated cells) and its means.
pub struct Row {
    pub label: String,
    pub means: Means,
}

/// Prints `rows` under a header whose first cells are `label_header`.
pub fn means_table(out: &mut dyn Write, label_header: &str, rows: &[Row]) -> io::Result<()> {
    let label_cells = label_header.matches('|').count() + 1;
    writeln!(
        out,
        "| {label_header} | judged queries | nDCG@10 | MRR@10 | recall@100 |"
    )?;
    writeln!(out, "|{}", " --- |".repeat(label_cells + 4))?;
    for row in rows {
        writeln!(
            out,
            "| {} | {} | {:.4} | {:.4} | {:.4} |",
            row.label, row.means.queries, row.means.ndcg_10, row.means.mrr_10, row.means.recall_100
        )?;
    }
    Ok(())
}

fn boosts_label(boosts: &Boosts) -> String {
    format!("{} | {} | {}", boosts.title, boosts.fuzzy, boosts.prefix)
}

fn find(variants: &[Variant], analysis: Analysis, boosts: Boosts) -> Option<&Variant> {
    variants
        .iter()
        .find(|v| v.analysis == analysis && v.boosts == boosts)
}

fn rows<'a>(variants: impl IntoIterator<Item = &'a Variant>) -> Vec<Row> {
    variants
        .into_iter()
        .map(|v| Row {
            label: format!(
                "{} | {}",
                sweep::analysis_label(&v.analysis),
                boosts_label(&v.boosts)
            ),
            means: v.odd,
        })
        .collect()
}

/// The comparison, odd queries only: each analysis at the default boosts and at its best
/// allowed boosts, then the title, typo and prefix boosts around the chosen variant, then the
/// top ten (allowed or not).
pub fn sweep_tables(out: &mut dyn Write, variants: &[Variant]) -> io::Result<()> {
    let header = "analysis | title boost | typo boost | prefix boost";
    let Some(best) = sweep::chosen(variants) else {
        return Ok(());
    };
    writeln!(out, "## Analysis comparison (odd queries only)")?;
    writeln!(out)?;
    writeln!(out, "Each analysis with the default boosts:")?;
    writeln!(out)?;
    let at_default = sweep::analyses()
        .into_iter()
        .filter_map(|a| find(variants, a, Boosts::default()));
    means_table(out, header, &rows(at_default))?;
    writeln!(out)?;
    writeln!(
        out,
        "Each analysis with its best allowed boosts (title boost at least {}):",
        sweep::MIN_TITLE_BOOST
    )?;
    writeln!(out)?;
    let at_best = sweep::analyses().into_iter().filter_map(|a| {
        let own: Vec<Variant> = variants
            .iter()
            .filter(|v| v.analysis == a)
            .copied()
            .collect();
        sweep::chosen(&own).copied()
    });
    let at_best: Vec<Variant> = at_best.collect();
    means_table(out, header, &rows(&at_best))?;
    writeln!(out)?;
    writeln!(
        out,
        "Title boost, the rest as in the chosen variant (the best with a title boost of at least \
         {}, as the contract requires):",
        sweep::MIN_TITLE_BOOST
    )?;
    writeln!(out)?;
    let titles = sweep::TITLE_BOOSTS.iter().filter_map(|&title| {
        find(
            variants,
            best.analysis,
            Boosts {
                title,
                ..best.boosts
            },
        )
    });
    means_table(out, header, &rows(titles))?;
    writeln!(out)?;
    writeln!(
        out,
        "Typo (fuzzy) boost, the rest as in the chosen variant:"
    )?;
    writeln!(out)?;
    let fuzzies = sweep::FUZZY_BOOSTS.iter().filter_map(|&fuzzy| {
        find(
            variants,
            best.analysis,
            Boosts {
                fuzzy,
                ..best.boosts
            },
        )
    });
    means_table(out, header, &rows(fuzzies))?;
    writeln!(out)?;
    writeln!(
        out,
        "Prefix boost, the rest as in the chosen variant (only 3 Cranfield queries do not end in \
         ` .`, so only they have a last word to complete):"
    )?;
    writeln!(out)?;
    let prefixes = sweep::PREFIX_BOOSTS.iter().filter_map(|&prefix| {
        find(
            variants,
            best.analysis,
            Boosts {
                prefix,
                ..best.boosts
            },
        )
    });
    means_table(out, header, &rows(prefixes))?;
    writeln!(out)?;
    writeln!(out, "Top ten of {} variants by nDCG@10:", variants.len())?;
    writeln!(out)?;
    let mut sorted: Vec<&Variant> = variants.iter().collect();
    sorted.sort_by(|a, b| b.odd.ndcg_10.total_cmp(&a.odd.ndcg_10));
    means_table(out, header, &rows(sorted.into_iter().take(10)))?;
    Ok(())
}

/// The even-query numbers of the best variant next to the defaults and the baseline.
pub fn held_out(
    out: &mut dyn Write,
    best: &Variant,
    best_rankings: &BTreeMap<u32, Vec<String>>,
    defaults: &BTreeMap<u32, Vec<String>>,
    bm25: &BTreeMap<u32, Vec<String>>,
    qrels: &BTreeMap<u32, HashMap<String, u32>>,
) -> io::Result<()> {
    writeln!(
        out,
        "Chosen on the odd queries: {}, title boost {}, typo boost {}, prefix boost {}.",
        sweep::analysis_label(&best.analysis),
        best.boosts.title,
        best.boosts.fuzzy,
        best.boosts.prefix
    )?;
    writeln!(out)?;
    let mut table = Vec::new();
    for (label, rankings) in [
        ("chosen on odd (index API)", best_rankings),
        ("PAKE defaults (gRPC)", defaults),
        ("untuned BM25", bm25),
    ] {
        for split in [Split::Even, Split::Odd] {
            table.push(Row {
                label: format!("{label} | {}", split.name()),
                means: evaluate(rankings, qrels, split),
            });
        }
    }
    means_table(out, "system | queries", &table)
}
