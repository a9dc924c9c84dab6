//! Facet counts over all matches of a query, from the fast (columnar) string fields.

use std::collections::HashMap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::StrColumn;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use super::schema::{KIND, STATUS, TAG, TAG_ORIG};
use super::{FacetCounts, FacetField};

/// Counts matches per value of the requested fields.
pub(crate) struct FacetCollector {
    pub fields: Vec<FacetField>,
    pub limit: usize,
}

/// The fast fields counted for a facet: tags are counted lower-cased (one value per item) and,
/// separately, by spelling (to report the most frequent one).
fn columns(field: FacetField) -> &'static [&'static str] {
    match field {
        FacetField::Tag => &[TAG, TAG_ORIG],
        FacetField::Kind => &[KIND],
        FacetField::Status => &[STATUS],
    }
}

/// Counts per term ordinal of one column in one segment.
pub(crate) struct Counter {
    column: Option<StrColumn>,
    counts: Vec<u64>,
}

impl Counter {
    fn add_doc(&mut self, doc: DocId, scratch: &mut Vec<u64>) {
        let Some(column) = &self.column else { return };
        scratch.clear();
        scratch.extend(column.term_ords(doc));
        scratch.sort_unstable();
        scratch.dedup();
        for &ord in scratch.iter() {
            if let Some(count) = self.counts.get_mut(ord as usize) {
                *count += 1;
            }
        }
    }

    /// Adds the counts, by value, to `totals`.
    fn add_to(self, totals: &mut HashMap<String, u64>) -> tantivy::Result<()> {
        let Some(column) = self.column else {
            return Ok(());
        };
        let ords: Vec<u64> = (0..self.counts.len() as u64)
            .filter(|&ord| self.counts[ord as usize] > 0)
            .collect();
        let mut next = ords.iter();
        column.dictionary().sorted_ords_to_term_cb(&ords, |bytes| {
            if let Some(&ord) = next.next() {
                let value = String::from_utf8_lossy(bytes).into_owned();
                *totals.entry(value).or_default() += self.counts[ord as usize];
            }
        })?;
        Ok(())
    }
}

pub(crate) struct FacetSegmentCollector {
    counters: Vec<Counter>,
    scratch: Vec<u64>,
}

impl SegmentCollector for FacetSegmentCollector {
    type Fruit = Vec<Counter>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        for counter in &mut self.counters {
            counter.add_doc(doc, &mut self.scratch);
        }
    }

    fn harvest(self) -> Vec<Counter> {
        self.counters
    }
}

impl Collector for FacetCollector {
    type Fruit = Vec<FacetCounts>;
    type Child = FacetSegmentCollector;

    fn for_segment(
        &self,
        _segment_local_id: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<FacetSegmentCollector> {
        let mut counters = Vec::new();
        for &field in &self.fields {
            for name in columns(field) {
                let column = segment.fast_fields().str(name)?;
                let terms = column.as_ref().map_or(0, |c| c.num_terms());
                counters.push(Counter {
                    column,
                    counts: vec![0; terms],
                });
            }
        }
        Ok(FacetSegmentCollector {
            counters,
            scratch: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, segments: Vec<Vec<Counter>>) -> tantivy::Result<Vec<FacetCounts>> {
        let columns_count: usize = self.fields.iter().map(|f| columns(*f).len()).sum();
        let mut totals: Vec<HashMap<String, u64>> = vec![HashMap::new(); columns_count];
        for segment in segments {
            for (counter, total) in segment.into_iter().zip(totals.iter_mut()) {
                counter.add_to(total)?;
            }
        }
        let mut totals = totals.into_iter();
        let mut facets = Vec::with_capacity(self.fields.len());
        for &field in &self.fields {
            let counts = totals.next().unwrap_or_default();
            let values: Vec<(String, u64)> = if field == FacetField::Tag {
                let spellings = totals.next().unwrap_or_default();
                let display = most_frequent_spellings(spellings);
                counts
                    .into_iter()
                    .map(|(lower, count)| (display.get(&lower).cloned().unwrap_or(lower), count))
                    .collect()
            } else {
                counts.into_iter().collect()
            };
            facets.push(top_values(field, values, self.limit));
        }
        Ok(facets)
    }
}

/// For each lower-cased tag, its most frequent spelling (ties: the first in byte order).
fn most_frequent_spellings(spellings: HashMap<String, u64>) -> HashMap<String, String> {
    let mut best: HashMap<String, (String, u64)> = HashMap::new();
    for (spelling, count) in spellings {
        let entry = best
            .entry(spelling.to_lowercase())
            .or_insert((spelling.clone(), 0));
        if count > entry.1 || (count == entry.1 && spelling < entry.0) {
            *entry = (spelling, count);
        }
    }
    best.into_iter()
        .map(|(lower, (spelling, _))| (lower, spelling))
        .collect()
}

fn top_values(field: FacetField, mut values: Vec<(String, u64)>, limit: usize) -> FacetCounts {
    let distinct_values = values.len() as u64;
    values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    values.truncate(limit);
    FacetCounts {
        field,
        values,
        distinct_values,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelling_and_order() {
        let spellings = HashMap::from([
            ("Rust".to_owned(), 2),
            ("rust".to_owned(), 1),
            ("ML".to_owned(), 1),
            ("ml".to_owned(), 1),
        ]);
        let display = most_frequent_spellings(spellings);
        assert_eq!(display["rust"], "Rust");
        assert_eq!(display["ml"], "ML");
        let counts = top_values(
            FacetField::Kind,
            vec![
                ("b".into(), 2),
                ("a".into(), 2),
                ("c".into(), 5),
                ("d".into(), 1),
            ],
            3,
        );
        assert_eq!(
            counts.values,
            vec![("c".into(), 5), ("a".into(), 2), ("b".into(), 2)]
        );
        assert_eq!(counts.distinct_values, 4);
    }
}
