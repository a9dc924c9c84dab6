//! nDCG@10, MRR@10 and recall@100 of one ranking, and their means over a split of the queries.
//!
//! Gains are those of `qrels.tsv` (Cleverdon's code 1 → 3, 2 → 2, 3 → 1; codes 4 and -1 → 0,
//! not relevant), used linearly: DCG@k = Σ gain_i / log2(i + 1) over ranks i = 1..k, divided by
//! the DCG of the ideal ordering of the query's judgments (trec_eval's `ndcg_cut`). MRR@10 and
//! recall@100 count every document with gain > 0 as relevant. Queries without any judgment of
//! gain > 0 (Cranfield's 31, 119 and 215) are left out of the means, as trec_eval does.

use std::collections::{BTreeMap, HashMap};

/// The scores of one query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueryScores {
    pub ndcg_10: f64,
    pub mrr_10: f64,
    pub recall_100: f64,
}

/// Scores `ranking` (document ids, best first) against `judgments` (document id → gain).
pub fn score(ranking: &[String], judgments: &HashMap<String, u32>) -> QueryScores {
    let gain = |doc: &String| judgments.get(doc).copied().unwrap_or(0);
    let discount = |rank: usize| 1.0 / ((rank + 2) as f64).log2();
    let dcg: f64 = ranking
        .iter()
        .take(10)
        .enumerate()
        .map(|(rank, doc)| f64::from(gain(doc)) * discount(rank))
        .sum();
    let mut ideal: Vec<u32> = judgments.values().copied().filter(|g| *g > 0).collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(10)
        .enumerate()
        .map(|(rank, g)| f64::from(*g) * discount(rank))
        .sum();
    let mrr_10 = ranking
        .iter()
        .take(10)
        .position(|doc| gain(doc) > 0)
        .map_or(0.0, |rank| 1.0 / (rank + 1) as f64);
    let found = ranking.iter().take(100).filter(|doc| gain(doc) > 0).count();
    QueryScores {
        ndcg_10: if idcg > 0.0 { dcg / idcg } else { 0.0 },
        mrr_10,
        recall_100: if ideal.is_empty() {
            0.0
        } else {
            found as f64 / ideal.len() as f64
        },
    }
}

/// Which queries a mean is over: tuning happens on the odd ids only, reporting on the even ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Odd,
    Even,
    All,
}

impl Split {
    pub fn name(self) -> &'static str {
        match self {
            Split::Odd => "odd",
            Split::Even => "even",
            Split::All => "all",
        }
    }

    pub fn contains(self, query_id: u32) -> bool {
        match self {
            Split::Odd => !query_id.is_multiple_of(2),
            Split::Even => query_id.is_multiple_of(2),
            Split::All => true,
        }
    }
}

/// Means over the judged queries of a split.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Means {
    pub queries: usize,
    pub ndcg_10: f64,
    pub mrr_10: f64,
    pub recall_100: f64,
}

/// Scores every judged query of `split` in `rankings` (query id → document ids) and averages.
/// A judged query missing from `rankings` counts as an empty ranking.
pub fn evaluate(
    rankings: &BTreeMap<u32, Vec<String>>,
    qrels: &BTreeMap<u32, HashMap<String, u32>>,
    split: Split,
) -> Means {
    let empty = Vec::new();
    let scores: Vec<QueryScores> = qrels
        .iter()
        .filter(|(query, judgments)| split.contains(**query) && !judgments.is_empty())
        .map(|(query, judgments)| score(rankings.get(query).unwrap_or(&empty), judgments))
        .collect();
    let n = scores.len().max(1) as f64;
    Means {
        queries: scores.len(),
        ndcg_10: scores.iter().map(|s| s.ndcg_10).sum::<f64>() / n,
        mrr_10: scores.iter().map(|s| s.mrr_10).sum::<f64>() / n,
        recall_100: scores.iter().map(|s| s.recall_100).sum::<f64>() / n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn judged(list: &[(&str, u32)]) -> HashMap<String, u32> {
        list.iter().map(|(d, g)| ((*d).to_owned(), *g)).collect()
    }

    #[test]
    fn a_perfect_ranking_scores_one() {
        let j = judged(&[("a", 3), ("b", 2), ("c", 1)]);
        let s = score(&ids(&["a", "b", "c", "x"]), &j);
        assert!((s.ndcg_10 - 1.0).abs() < 1e-12, "{s:?}");
        assert_eq!(s.mrr_10, 1.0);
        assert_eq!(s.recall_100, 1.0);
    }

    #[test]
    fn graded_gains_and_ranks_are_discounted() {
        let j = judged(&[("a", 3), ("b", 1)]);
        // b at rank 2, a missing: DCG = 1/log2(3); IDCG = 3 + 1/log2(3).
        let s = score(&ids(&["x", "b"]), &j);
        let expected = (1.0 / 3f64.log2()) / (3.0 + 1.0 / 3f64.log2());
        assert!((s.ndcg_10 - expected).abs() < 1e-12, "{s:?}");
        assert_eq!(s.mrr_10, 0.5);
        assert_eq!(s.recall_100, 0.5);
        // Past rank 10 nothing counts for nDCG and MRR, but recall@100 does.
        let mut late = ids(&["x"; 10]);
        late.push("a".to_owned());
        let s = score(&late, &j);
        assert_eq!((s.ndcg_10, s.mrr_10, s.recall_100), (0.0, 0.0, 0.5));
    }

    #[test]
    fn splits_average_only_their_judged_queries() {
        let mut qrels = BTreeMap::new();
        qrels.insert(1, judged(&[("a", 1)]));
        qrels.insert(2, judged(&[("b", 1)]));
        qrels.insert(3, judged(&[("c", 1)]));
        let mut rankings = BTreeMap::new();
        rankings.insert(1, ids(&["a"]));
        rankings.insert(2, ids(&["x"]));
        // Query 3 has no ranking: it counts as 0.
        let odd = evaluate(&rankings, &qrels, Split::Odd);
        assert_eq!((odd.queries, odd.mrr_10), (2, 0.5));
        let even = evaluate(&rankings, &qrels, Split::Even);
        assert_eq!((even.queries, even.mrr_10), (1, 0.0));
        assert_eq!(evaluate(&rankings, &qrels, Split::All).queries, 3);
    }
}
