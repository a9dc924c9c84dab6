//! Highlights and snippets.
//!
//! tantivy's `SnippetGenerator` marks only the exact terms of a query, one token at a time, and
//! returns nothing when the text does not match; the contract also wants typo and prefix matches
//! marked, a matched phrase as one range, and the beginning of the content when nothing matched.
//! So matching is done here, with the same analyzer as the index and the same Levenshtein
//! automata as tantivy's `FuzzyTermQuery`.

use std::collections::HashSet;
use std::ops::Range;

use tantivy::query::DfaWrapper;
use tantivy::tokenizer::TextAnalyzer;
use tantivy_fst::Automaton;

use super::MAX_HIGHLIGHTS;
use super::analysis::{AnalyzedToken, analyze};

/// What to mark in a text: the query's words (exact, typo-tolerant, prefix) and phrases.
#[derive(Default)]
pub(crate) struct Highlighter {
    /// Stemmed terms matched exactly.
    pub stems: HashSet<String>,
    /// Typo-tolerant matchers, run on lower-cased unstemmed tokens.
    pub fuzzy: Vec<DfaWrapper>,
    /// Lower-cased unstemmed prefixes.
    pub prefixes: Vec<String>,
    /// Stemmed term sequences, each of at least two terms.
    pub phrases: Vec<Vec<String>>,
}

fn dfa_matches(dfa: &DfaWrapper, text: &str) -> bool {
    let mut state = dfa.start();
    for &byte in text.as_bytes() {
        state = dfa.accept(&state, byte);
        if !dfa.can_match(&state) {
            return false;
        }
    }
    dfa.is_match(&state)
}

/// Sorts ranges and merges overlapping or touching ones.
fn merge(mut ranges: Vec<Range<usize>>) -> Vec<Range<usize>> {
    ranges.sort_by_key(|r| (r.start, r.end));
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    merged
}

impl Highlighter {
    pub fn is_empty(&self) -> bool {
        self.stems.is_empty()
            && self.fuzzy.is_empty()
            && self.prefixes.is_empty()
            && self.phrases.is_empty()
    }

    fn token_matches(&self, text: &str, token: &AnalyzedToken) -> bool {
        if self.stems.contains(&token.term) {
            return true;
        }
        if self.fuzzy.is_empty() && self.prefixes.is_empty() {
            return false;
        }
        let raw = text[token.from..token.to].to_lowercase();
        self.prefixes.iter().any(|p| raw.starts_with(p.as_str()))
            || self.fuzzy.iter().any(|dfa| dfa_matches(dfa, &raw))
    }

    /// The tokens of `text` and the merged ranges of it that match.
    fn analyze(
        &self,
        analyzer: &mut TextAnalyzer,
        text: &str,
    ) -> (Vec<AnalyzedToken>, Vec<Range<usize>>) {
        if self.is_empty() {
            return (analyze(analyzer, text), Vec::new());
        }
        let tokens = analyze(analyzer, text);
        let mut ranges: Vec<Range<usize>> = tokens
            .iter()
            .filter(|t| self.token_matches(text, t))
            .map(|t| t.from..t.to)
            .collect();
        for phrase in &self.phrases {
            for window in tokens.windows(phrase.len()) {
                let adjacent = window
                    .windows(2)
                    .all(|w| w[1].position == w[0].position + 1);
                if adjacent
                    && window.iter().zip(phrase).all(|(t, term)| &t.term == term)
                    && let (Some(first), Some(last)) = (window.first(), window.last())
                {
                    ranges.push(first.from..last.to);
                }
            }
        }
        (tokens, merge(ranges))
    }

    /// Matched ranges of a whole text (a title), at most [`MAX_HIGHLIGHTS`].
    pub fn highlight(&self, analyzer: &mut TextAnalyzer, text: &str) -> Vec<(usize, usize)> {
        let (_, ranges) = self.analyze(analyzer, text);
        ranges
            .into_iter()
            .take(MAX_HIGHLIGHTS)
            .map(|r| (r.start, r.end))
            .collect()
    }

    /// An excerpt of `text` of at most `max_bytes`, cut at token boundaries, around the passage
    /// with the most matches (the beginning of `text` when nothing matches), and the matched
    /// ranges within it, relative to the excerpt.
    pub fn snippet(
        &self,
        analyzer: &mut TextAnalyzer,
        text: &str,
        max_bytes: usize,
    ) -> (String, Vec<(usize, usize)>) {
        let (tokens, ranges) = self.analyze(analyzer, text);
        let window = if text.len() <= max_bytes {
            0..text.len()
        } else {
            choose_window(text, &tokens, &ranges, max_bytes)
        };
        let highlights = ranges
            .iter()
            .filter_map(|r| {
                let start = r.start.max(window.start);
                let end = r.end.min(window.end);
                (start < end).then(|| (start - window.start, end - window.start))
            })
            .take(MAX_HIGHLIGHTS)
            .collect();
        (text[window].to_owned(), highlights)
    }
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

/// The window of at most `max` bytes: it starts at a token and holds the most matched ranges,
/// preceded by up to half the remaining room as context, and ends at the end of a token.
fn choose_window(
    text: &str,
    tokens: &[AnalyzedToken],
    ranges: &[Range<usize>],
    max: usize,
) -> Range<usize> {
    let mut start = 0;
    if !ranges.is_empty() {
        // The first run of ranges fitting in `max` bytes with the most ranges.
        let (mut best, mut best_count, mut j) = (0, 0, 0);
        for i in 0..ranges.len() {
            j = j.max(i);
            while j < ranges.len() && ranges[j].end <= ranges[i].start + max {
                j += 1;
            }
            if j - i > best_count {
                (best, best_count) = (i, j - i);
            }
        }
        let first = ranges[best].start;
        let last_end = if best_count == 0 {
            first
        } else {
            ranges[best + best_count - 1].end
        };
        let slack = max.saturating_sub(last_end - first);
        // Context before the matches (half the room left), or more when the text ends before
        // the window would; never so much that the last match falls out (both bounds are at
        // least `first - slack` because `text.len() >= last_end`).
        let desired = first
            .saturating_sub(slack / 2)
            .min(text.len().saturating_sub(max));
        start = tokens
            .iter()
            .map(|t| t.from)
            .find(|&from| from >= desired && from <= first)
            .unwrap_or(first);
    }
    let limit = start + max;
    let end = tokens
        .iter()
        .map(|t| t.to)
        .filter(|&to| to > start && to <= limit)
        .max()
        .unwrap_or_else(|| floor_char_boundary(text, limit));
    start..end.max(start)
}

#[cfg(test)]
mod tests {
    use super::super::analysis::text_analyzer;
    use super::*;
    use tantivy::Term;
    use tantivy::query::FuzzyTermQuery;
    use tantivy::schema::Field;

    fn highlighter(stems: &[&str], phrases: &[&[&str]]) -> Highlighter {
        Highlighter {
            stems: stems.iter().map(|s| (*s).to_owned()).collect(),
            phrases: phrases
                .iter()
                .map(|p| p.iter().map(|s| (*s).to_owned()).collect())
                .collect(),
            ..Highlighter::default()
        }
    }

    fn marked(text: &str, ranges: &[(usize, usize)]) -> Vec<String> {
        ranges.iter().map(|&(s, e)| text[s..e].to_owned()).collect()
    }

    #[test]
    fn marks_words_phrases_typos_and_prefixes() {
        let mut h = highlighter(&["rust"], &[&["borrow", "checker"]]);
        let term = Term::from_field_text(Field::from_field_id(0), "retreival");
        h.fuzzy.push(
            FuzzyTermQuery::new(term, 2, true)
                .automaton()
                .expect("automaton"),
        );
        h.prefixes.push("asy".to_owned());
        let text = "Rust's borrow checker; Retrieval is ASYNC-ish, the checker borrows.";
        let ranges = h.highlight(&mut text_analyzer(), text);
        assert_eq!(
            marked(text, &ranges),
            vec!["Rust", "borrow checker", "Retrieval", "ASYNC"]
        );
    }

    #[test]
    fn touching_ranges_merge() {
        assert_eq!(merge(vec![3..5, 0..3, 7..9, 8..10]), vec![0..5, 7..10]);
    }

    #[test]
    fn snippet_is_cut_around_matches_at_token_boundaries() {
        let h = highlighter(&["needl"], &[]);
        let text = format!(
            "{} needle here {}",
            "lorem ipsum ".repeat(20),
            "dolor sit ".repeat(20)
        );
        let (snippet, ranges) = h.snippet(&mut text_analyzer(), &text, 40);
        assert!(snippet.len() <= 40, "{snippet:?}");
        assert_eq!(marked(&snippet, &ranges), vec!["needle"]);
        assert!(text.contains(&snippet));
        assert!(
            !snippet.starts_with(' ') && !snippet.ends_with(' '),
            "{snippet:?}"
        );
        // Context on both sides.
        assert!(ranges[0].0 > 5, "{snippet:?}");
    }

    #[test]
    fn snippet_without_match_is_the_beginning() {
        let h = highlighter(&["absent"], &[]);
        let text = "héllo wörld and some more words";
        let (snippet, ranges) = h.snippet(&mut text_analyzer(), text, 13);
        assert_eq!(snippet, "héllo wörld");
        assert!(ranges.is_empty());
        let (snippet, _) = Highlighter::default().snippet(&mut text_analyzer(), text, 1000);
        assert_eq!(snippet, text);
        // A token longer than the limit is cut at a character boundary.
        let (snippet, _) = Highlighter::default().snippet(&mut text_analyzer(), "ééééé", 3);
        assert_eq!(snippet, "é");
    }

    #[test]
    fn snippet_near_the_end_uses_the_room_before() {
        let h = highlighter(&["end"], &[]);
        let text = format!("{}the end", "word ".repeat(30));
        let (snippet, ranges) = h.snippet(&mut text_analyzer(), &text, 30);
        assert!(snippet.ends_with("the end"), "{snippet:?}");
        assert!(snippet.len() >= 25, "{snippet:?}");
        assert_eq!(marked(&snippet, &ranges), vec!["end"]);
    }
}
