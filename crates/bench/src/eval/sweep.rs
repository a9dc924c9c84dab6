//! The analysis comparison: the same documents indexed directly through `pake-search`'s index
//! API (the code the service runs, minus gRPC) under each [`Analysis`], and queried with each
//! set of [`Boosts`], scored on the odd queries only (the even ones are kept for reporting).

use std::collections::BTreeMap;

use pake_search::index::{Access, Analysis, Boosts, IndexedItem, Query, SearchIndex, Visibility};

use super::api::doc_id;
use super::dataset::{Dataset, EvalQuery};
use super::metrics::{Means, Split, evaluate};

const OWNER: &str = "users/eval";

/// One measured configuration.
#[derive(Debug, Clone, Copy)]
pub struct Variant {
    pub analysis: Analysis,
    pub boosts: Boosts,
    pub odd: Means,
}

/// A Cranfield document as the index keeps it (what the service indexes from the feed).
fn indexed(doc: &super::dataset::Doc) -> IndexedItem {
    let (item_id, item) = super::api::doc_item(doc);
    IndexedItem {
        name: format!("items/{item_id}"),
        title: item.title,
        content: item.content,
        tags: Vec::new(),
        kind: "note".to_owned(),
        status: "draft".to_owned(),
        owner: OWNER.to_owned(),
        visibility: Visibility::Private,
        confidence_score: 0.5,
        create_time_us: 0,
        update_time_us: 0,
    }
}

/// Indexes every document with `analysis`, in memory.
pub fn build(dataset: &Dataset, analysis: Analysis) -> anyhow::Result<SearchIndex> {
    let index = SearchIndex::open_in_ram_with(analysis)?;
    for doc in &dataset.docs {
        index.upsert(indexed(doc))?;
    }
    index.commit("0000000000000001")?;
    Ok(index)
}

/// Runs `queries` on `index` as the owner would through Search: one page of `limit`.
pub fn rankings(
    index: &SearchIndex,
    queries: &[EvalQuery],
    limit: usize,
) -> anyhow::Result<BTreeMap<u32, Vec<String>>> {
    let access = Access::User {
        subject: OWNER.to_owned(),
        admin: false,
    };
    let mut out = BTreeMap::new();
    for query in queries {
        let request = Query {
            text: query.text.clone(),
            limit,
            ..Query::default()
        };
        let page = index.search(&request, &access)?;
        out.insert(
            query.id,
            page.hits
                .iter()
                .map(|h| doc_id(&h.name).to_owned())
                .collect(),
        );
    }
    Ok(out)
}

/// The analyses compared: stemming on/off × stop words on/off.
pub fn analyses() -> Vec<Analysis> {
    let mut all = Vec::new();
    for stemming in [true, false] {
        for stop_words in [false, true] {
            all.push(Analysis {
                stemming,
                stop_words,
            });
        }
    }
    all
}

/// Title boosts compared.
pub const TITLE_BOOSTS: &[f32] = &[0.5, 1.0, 1.5, 2.0, 3.0, 4.0];
/// Typo-clause boosts compared (0: no typo tolerance).
pub const FUZZY_BOOSTS: &[f32] = &[0.0, 0.1, 0.3, 0.6, 1.0];
/// Prefix-clause boosts compared (0: no prefix matching).
pub const PREFIX_BOOSTS: &[f32] = &[0.0, 0.2, 0.5];

/// Every analysis × title boost × typo boost at the default prefix boost, then every prefix
/// boost for the best of those; scored on the odd queries. `progress` sees each variant.
pub fn sweep(
    dataset: &Dataset,
    limit: usize,
    mut progress: impl FnMut(&Variant),
) -> anyhow::Result<Vec<Variant>> {
    let odd: Vec<EvalQuery> = dataset
        .queries
        .iter()
        .filter(|q| Split::Odd.contains(q.id))
        .cloned()
        .collect();
    let mut variants = Vec::new();
    let mut indexes = Vec::new();
    for analysis in analyses() {
        let index = build(dataset, analysis)?;
        for &title in TITLE_BOOSTS {
            for &fuzzy in FUZZY_BOOSTS {
                let boosts = Boosts {
                    title,
                    fuzzy,
                    ..Boosts::default()
                };
                let ranked = rankings(&index.with_boosts(boosts), &odd, limit)?;
                let variant = Variant {
                    analysis,
                    boosts,
                    odd: evaluate(&ranked, &dataset.qrels, Split::Odd),
                };
                progress(&variant);
                variants.push(variant);
            }
        }
        indexes.push(index);
    }
    let best = *chosen(&variants).ok_or_else(|| anyhow::anyhow!("no variant measured"))?;
    let index = indexes
        .into_iter()
        .find(|i| i.analysis() == best.analysis)
        .ok_or_else(|| anyhow::anyhow!("the best variant's index is gone"))?;
    for &prefix in PREFIX_BOOSTS {
        if prefix == best.boosts.prefix {
            continue;
        }
        let boosts = Boosts {
            prefix,
            ..best.boosts
        };
        let ranked = rankings(&index.with_boosts(boosts), &odd, limit)?;
        let variant = Variant {
            analysis: best.analysis,
            boosts,
            odd: evaluate(&ranked, &dataset.qrels, Split::Odd),
        };
        progress(&variant);
        variants.push(variant);
    }
    Ok(variants)
}

/// The smallest title boost the contract allows: `SearchRequest.query` promises that title
/// matches weigh more than content matches. (Cranfield's abstracts repeat the title, which
/// favours a boost below 1 there; the choice is made among the allowed ones.)
pub const MIN_TITLE_BOOST: f32 = 1.0;

/// The best variant the contract allows ([`MIN_TITLE_BOOST`]): the one the defaults are set to.
pub fn chosen(variants: &[Variant]) -> Option<&Variant> {
    let allowed: Vec<&Variant> = variants
        .iter()
        .filter(|v| v.boosts.title >= MIN_TITLE_BOOST)
        .collect();
    let index = allowed
        .iter()
        .enumerate()
        .reduce(|best, v| {
            let key = |v: &Variant| (v.odd.ndcg_10, v.odd.mrr_10);
            if key(v.1) > key(best.1) { v } else { best }
        })
        .map(|(i, _)| i)?;
    Some(allowed[index])
}

/// The variant with the highest odd-query nDCG@10 (ties: MRR@10, then the earlier one).
pub fn best(variants: &[Variant]) -> Option<&Variant> {
    variants.iter().reduce(|best, v| {
        let key = |v: &Variant| (v.odd.ndcg_10, v.odd.mrr_10);
        if key(v) > key(best) { v } else { best }
    })
}

/// `stem+stop`, `stem`, `stop` or `plain`.
pub fn analysis_label(analysis: &Analysis) -> &'static str {
    match (analysis.stemming, analysis.stop_words) {
        (true, true) => "stemming + stop words",
        (true, false) => "stemming",
        (false, true) => "stop words",
        (false, false) => "neither",
    }
}
