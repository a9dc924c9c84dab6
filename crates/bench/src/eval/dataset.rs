//! The Cranfield collection as converted in `../shared/datasets/cranfield` (see its README):
//! `docs.jsonl`, `queries.jsonl` and graded judgments in `qrels.tsv`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

/// One document: `.T` title and `.W` abstract (which repeats the title, as in the original).
#[derive(Debug, Clone, Deserialize)]
pub struct Doc {
    pub id: String,
    pub title: String,
    pub text: String,
}

/// One query; `id` is the 1-based position in `cran.qry`, the number `qrels.tsv` uses.
#[derive(Debug, Clone)]
pub struct EvalQuery {
    pub id: u32,
    pub text: String,
}

#[derive(Deserialize)]
struct RawQuery {
    id: String,
    text: String,
}

/// Documents, queries and judgments.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub docs: Vec<Doc>,
    pub queries: Vec<EvalQuery>,
    /// Query id → document id → gain (3, 2 or 1; only gains above 0 are listed).
    pub qrels: BTreeMap<u32, HashMap<String, u32>>,
}

/// `../shared/datasets/cranfield` relative to the workspace root.
pub fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/cranfield")
}

fn read(dir: &Path, file: &str) -> anyhow::Result<String> {
    let path = dir.join(file);
    std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
}

impl Dataset {
    /// Reads the three files in `dir`.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let docs = read(dir, "docs.jsonl")?
            .lines()
            .filter(|line| !line.trim().is_empty())
            .enumerate()
            .map(|(n, line)| {
                serde_json::from_str(line).with_context(|| format!("docs.jsonl line {}", n + 1))
            })
            .collect::<anyhow::Result<Vec<Doc>>>()?;
        let queries = read(dir, "queries.jsonl")?
            .lines()
            .filter(|line| !line.trim().is_empty())
            .enumerate()
            .map(|(n, line)| {
                let raw: RawQuery = serde_json::from_str(line)
                    .with_context(|| format!("queries.jsonl line {}", n + 1))?;
                let id = raw
                    .id
                    .parse()
                    .with_context(|| format!("query id {}", raw.id))?;
                Ok(EvalQuery { id, text: raw.text })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut qrels: BTreeMap<u32, HashMap<String, u32>> = BTreeMap::new();
        for (n, line) in read(dir, "qrels.tsv")?.lines().enumerate() {
            let columns: Vec<&str> = line.split('\t').collect();
            let [query, doc, gain, ..] = columns.as_slice() else {
                anyhow::bail!("qrels.tsv line {}: expected 4 columns", n + 1);
            };
            let gain: u32 = gain
                .parse()
                .with_context(|| format!("qrels.tsv line {}", n + 1))?;
            if gain > 0 {
                let query = query
                    .parse()
                    .with_context(|| format!("qrels.tsv line {}", n + 1))?;
                qrels
                    .entry(query)
                    .or_default()
                    .insert((*doc).to_owned(), gain);
            }
        }
        anyhow::ensure!(!docs.is_empty(), "no documents in {}", dir.display());
        anyhow::ensure!(!queries.is_empty(), "no queries in {}", dir.display());
        Ok(Dataset {
            docs,
            queries,
            qrels,
        })
    }
}
