//! [`SearchIndex::suggest`]: completions of a prefix into titles and tags of readable items.
//!
//! Titles: the prefix is split into unstemmed words like the indexed title (`title_words`); the
//! earlier words must match whole words, in order and adjacent, and the last one must begin a
//! word (a phrase-prefix query). Matches at the start of a title are those whose `title_key` (the
//! title's words joined by single spaces) begins with the prefix's words joined the same way.
//! Tags: the lower-cased tag (`tag`) must begin with the whole lower-cased prefix; counts come
//! from the facet collector. The access check is a required clause of every query.

use tantivy::query::{BooleanQuery, FuzzyTermQuery, Occur, PhrasePrefixQuery};

use super::analysis::analyze;
use super::compile::{Clause, access_clause, filter, term};
use super::facets::FacetCollector;
use super::schema::{self, Fields};
use super::search_index::collect;
use super::{Access, Error, FacetField, Order, SearchIndex};

/// Maximum number of terms a prefix's last word expands to in a title phrase.
const MAX_PREFIX_EXPANSIONS: u32 = 10_000;

/// What a [`Suggestion`] completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SuggestionKind {
    Title,
    Tag,
}

/// One Suggest request, already validated and clamped by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuggestRequest {
    /// The text typed so far (not empty, not only whitespace).
    pub prefix: String,
    /// Maximum number of suggestions.
    pub limit: usize,
    /// Kinds to return; empty means all.
    pub kinds: Vec<SuggestionKind>,
}

/// One completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    /// The complete title or tag (a tag in its most frequent spelling).
    pub text: String,
    pub kind: SuggestionKind,
    /// For a title, the item's resource name; empty for a tag.
    pub item: String,
    /// For a tag, the number of readable items carrying it; 0 for a title.
    pub item_count: u64,
    /// Half-open UTF-8 byte range of `text` that the prefix matched.
    pub highlight: (usize, usize),
}

/// The byte length of the beginning of `text` that, lower-cased, is `lower_prefix`; `None` if
/// `text` does not begin with it.
pub(crate) fn prefix_end(text: &str, lower_prefix: &str) -> Option<usize> {
    if lower_prefix.is_empty() {
        return Some(0);
    }
    let mut lowered = String::new();
    for (i, c) in text.char_indices() {
        lowered.extend(c.to_lowercase());
        if lowered.len() >= lower_prefix.len() {
            return lowered
                .starts_with(lower_prefix)
                .then_some(i + c.len_utf8());
        }
    }
    None
}

/// The range of `title` the prefix `words` match: the first run of tokens whose terms equal the
/// earlier words, adjacent, the last token beginning with the last word.
pub(crate) fn title_highlight(
    tokens: &[super::analysis::AnalyzedToken],
    title: &str,
    words: &[String],
) -> Option<(usize, usize)> {
    let (last, earlier) = words.split_last()?;
    tokens.windows(words.len()).find_map(|window| {
        let adjacent = window
            .windows(2)
            .all(|w| w[1].position == w[0].position + 1);
        let (last_token, earlier_tokens) = window.split_last()?;
        let whole = earlier_tokens
            .iter()
            .zip(earlier)
            .all(|(t, w)| &t.term == w);
        if !(adjacent && whole && last_token.term.starts_with(last.as_str())) {
            return None;
        }
        let end = prefix_end(&title[last_token.from..last_token.to], last)?;
        Some((window[0].from, last_token.from + end))
    })
}

fn with_access(fields: &Fields, access: &Access, clause: Clause, not: Option<Clause>) -> Clause {
    let mut clauses = vec![(Occur::Must, clause)];
    clauses.extend(access_clause(fields, access).map(|c| (Occur::Must, filter(c))));
    clauses.extend(not.map(|c| (Occur::MustNot, c)));
    Box::new(BooleanQuery::new(clauses))
}

fn prefix_query(field: tantivy::schema::Field, prefix: &str) -> Clause {
    Box::new(FuzzyTermQuery::new_prefix(term(field, prefix), 0, true))
}

impl SearchIndex {
    /// Completes `request.prefix` into titles and tags of the items `access` may read, best
    /// first: matches at the start of the text before matches at a later word; within each,
    /// tags (most items first) before titles (most recently updated first); then by text.
    pub fn suggest(
        &self,
        request: &SuggestRequest,
        access: &Access,
    ) -> Result<Vec<Suggestion>, Error> {
        let wants = |kind| request.kinds.is_empty() || request.kinds.contains(&kind);
        let fields = *self.fields();
        let searcher = self.searcher();
        let mut out = Vec::new();
        if request.limit == 0 {
            return Ok(out);
        }

        if wants(SuggestionKind::Tag) {
            let needle = request.prefix.trim().to_lowercase();
            let query = with_access(&fields, access, prefix_query(fields.tag, &needle), None);
            let collector = FacetCollector {
                fields: vec![FacetField::Tag],
                limit: usize::MAX,
            };
            let facets = searcher.search(query.as_ref(), &collector)?;
            for (value, count) in facets.into_iter().flat_map(|f| f.values) {
                if out.len() == request.limit {
                    break;
                }
                if let Some(end) = prefix_end(&value, &needle) {
                    out.push(Suggestion {
                        text: value,
                        kind: SuggestionKind::Tag,
                        item: String::new(),
                        item_count: count,
                        highlight: (0, end),
                    });
                }
            }
        }

        let mut analyzer = self.words_analyzer()?;
        let words: Vec<String> = analyze(&mut analyzer, &request.prefix)
            .into_iter()
            .map(|t| t.term)
            .collect();
        if !wants(SuggestionKind::Title) || words.is_empty() {
            return Ok(out);
        }
        let key = words.join(" ");
        let anywhere: Clause = match words.as_slice() {
            [word] => prefix_query(fields.title_words, word),
            _ => {
                let mut phrase = PhrasePrefixQuery::new(
                    words.iter().map(|w| term(fields.title_words, w)).collect(),
                );
                phrase.set_max_expansions(MAX_PREFIX_EXPANSIONS);
                Box::new(phrase)
            }
        };
        let at_start = with_access(&fields, access, prefix_query(fields.title_key, &key), None);
        let later = with_access(
            &fields,
            access,
            anywhere,
            Some(prefix_query(fields.title_key, &key)),
        );
        for query in [at_start, later] {
            let remaining = request.limit - out.len();
            if remaining == 0 {
                break;
            }
            let (docs, _, _) = collect(
                &searcher,
                query.as_ref(),
                Order::UpdateTimeDesc,
                0..remaining,
                None,
            )?;
            let mut titles = Vec::with_capacity(docs.len());
            for (_, address) in docs {
                let doc = searcher.doc(address)?;
                let item = schema::from_document(&fields, &doc);
                let tokens = analyze(&mut analyzer, &item.title);
                let highlight =
                    title_highlight(&tokens, &item.title, &words).unwrap_or((0, item.title.len()));
                titles.push((item.update_time_us, item.title, item.name, highlight));
            }
            titles.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
            out.extend(
                titles
                    .into_iter()
                    .map(|(_, text, item, highlight)| Suggestion {
                        text,
                        kind: SuggestionKind::Title,
                        item,
                        item_count: 0,
                        highlight,
                    }),
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::item;
    use super::*;
    use crate::index::Visibility;

    fn index() -> SearchIndex {
        let index = SearchIndex::open_in_ram().expect("index");
        let mut a = item("a", "Learning Rust async", "futures and executors");
        a.tags = vec!["Rust".into(), "area/rust".into()];
        a.update_time_us = 3;
        let mut b = item("b", "Rusty nails", "hardware");
        b.tags = vec!["rust".into()];
        b.update_time_us = 2;
        let mut c = item("c", "Secret rust plans", "private");
        c.tags = vec!["rustacean".into()];
        c.visibility = Visibility::Private;
        c.owner = "users/bob".into();
        for it in [a, b, c] {
            index.upsert(it).expect("upsert");
        }
        index.commit("c1").expect("commit");
        index
    }

    fn request(prefix: &str) -> SuggestRequest {
        SuggestRequest {
            prefix: prefix.into(),
            limit: 10,
            kinds: Vec::new(),
        }
    }

    fn alice() -> Access {
        Access::User {
            subject: "users/alice".into(),
            admin: false,
        }
    }

    fn texts(suggestions: &[Suggestion]) -> Vec<&str> {
        suggestions.iter().map(|s| s.text.as_str()).collect()
    }

    #[test]
    fn prefix_end_is_case_insensitive_and_byte_exact() {
        assert_eq!(prefix_end("Rust async", "rust a"), Some(6));
        assert_eq!(prefix_end("Éclair", "éc"), Some(3));
        assert_eq!(prefix_end("Rust", "rusty"), None);
        assert_eq!(prefix_end("Go", "ru"), None);
    }

    #[test]
    fn tags_then_titles_start_before_later_words() {
        let index = index();
        let got = index.suggest(&request("rus"), &alice()).expect("suggest");
        // Tags (most items first), start-of-title matches (newest first), later-word matches.
        assert_eq!(
            texts(&got),
            vec!["Rust", "Rusty nails", "Learning Rust async"]
        );
        assert_eq!(got[0].item_count, 2);
        assert_eq!(got[0].kind, SuggestionKind::Tag);
        assert_eq!(got[0].highlight, (0, 3));
        assert_eq!(got[1].item, "items/b");
        assert_eq!(got[1].highlight, (0, 3));
        assert_eq!(got[2].highlight, (9, 12));
    }

    #[test]
    fn multi_word_prefix_marks_the_phrase() {
        let index = index();
        let got = index
            .suggest(&request("rust asy"), &alice())
            .expect("suggest");
        assert_eq!(texts(&got), vec!["Learning Rust async"]);
        assert_eq!(got[0].highlight, (9, 17));
        // Earlier words are whole words: `rus asy` does not match `Rust async`.
        let got = index
            .suggest(&request("rus asy"), &alice())
            .expect("suggest");
        assert!(got.is_empty(), "{got:?}");
    }

    #[test]
    fn only_readable_items_are_suggested() {
        let index = index();
        let got = index
            .suggest(&request("secret"), &alice())
            .expect("suggest");
        assert!(got.is_empty());
        let got = index
            .suggest(&request("rustac"), &alice())
            .expect("suggest");
        assert!(got.is_empty(), "private item's tag leaked: {got:?}");
        let bob = Access::User {
            subject: "users/bob".into(),
            admin: false,
        };
        let got = index.suggest(&request("rustac"), &bob).expect("suggest");
        assert_eq!(texts(&got), vec!["rustacean"]);
        let got = index
            .suggest(&request("rus"), &Access::Service)
            .expect("suggest");
        assert_eq!(got.len(), 5, "{got:?}");
    }

    #[test]
    fn kinds_and_limit() {
        let index = index();
        let mut titles = request("rus");
        titles.kinds = vec![SuggestionKind::Title];
        let got = index.suggest(&titles, &alice()).expect("suggest");
        assert_eq!(texts(&got), vec!["Rusty nails", "Learning Rust async"]);
        let mut one = request("rus");
        one.limit = 1;
        let got = index.suggest(&one, &alice()).expect("suggest");
        assert_eq!(texts(&got), vec!["Rust"]);
    }
}
