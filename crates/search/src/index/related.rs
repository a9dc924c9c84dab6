//! [`SearchIndex::related`]: "more like this" for one readable item.
//!
//! The source item's title, content and tags are analysed with the English analyzer; each term is
//! weighted by tf-idf (term frequency in the source × `ln(1 + (N - df + 0.5) / (df + 0.5))`, `df`
//! the largest document frequency of the term in the title, content or tags) and the
//! [`MAX_RELATED_TERMS`] heaviest terms that occur in some other item form an OR query of the same
//! exact BM25 clauses as Search's words. The access check is a required clause and the source
//! item is excluded, inside the one query; a source the caller may not read is the same as an
//! absent one.

use std::collections::{BTreeMap, HashSet};

use tantivy::collector::DocSetCollector;
use tantivy::query::{BooleanQuery, Occur};
use tantivy::{Searcher, TantivyDocument};

use super::analysis::analyze;
use super::compile::{Clause, access_clause, any_of, exact_term, filter, term, word_clauses};
use super::highlight::Highlighter;
use super::schema::{self, Fields, StoredItem};
use super::search_index::collect;
use super::{Access, Error, Hit, Order, SearchIndex};

/// Terms of the source item that form the related-items query.
pub const MAX_RELATED_TERMS: usize = 25;

/// One page of related items.
#[derive(Debug, Clone, PartialEq)]
pub struct RelatedPage {
    /// Most similar first; snippets and highlights mark the shared terms.
    pub hits: Vec<Hit>,
    /// Readable related items over all pages.
    pub total: u64,
}

/// The source's most distinctive terms, heaviest first (ties by term).
fn distinctive_terms(
    searcher: &Searcher,
    fields: &Fields,
    counts: BTreeMap<String, u32>,
) -> Result<Vec<String>, Error> {
    let docs = searcher.num_docs() as f64;
    let mut weighted = Vec::new();
    for (text, tf) in counts {
        let mut df = 0;
        for field in [fields.title, fields.content, fields.tags_text] {
            df = df.max(searcher.doc_freq(&term(field, &text))?);
        }
        // Only in the source: it cannot relate the source to anything.
        if df <= 1 {
            continue;
        }
        let df = df as f64;
        let idf = (1.0 + (docs - df + 0.5) / (df + 0.5)).ln();
        weighted.push((f64::from(tf) * idf, text));
    }
    weighted.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    Ok(weighted
        .into_iter()
        .take(MAX_RELATED_TERMS)
        .map(|(_, text)| text)
        .collect())
}

impl SearchIndex {
    /// The readable source item named `name`, if any.
    fn readable(
        &self,
        searcher: &Searcher,
        name: &str,
        access: &Access,
    ) -> Result<Option<StoredItem>, Error> {
        let fields = self.fields();
        let mut clauses: Vec<(Occur, Clause)> = vec![(Occur::Must, exact_term(fields.name, name))];
        clauses.extend(access_clause(fields, access).map(|c| (Occur::Must, filter(c))));
        let found = searcher.search(&BooleanQuery::new(clauses), &DocSetCollector)?;
        let Some(&address) = found.iter().next() else {
            return Ok(None);
        };
        let doc: TantivyDocument = searcher.doc(address)?;
        Ok(Some(schema::from_document(fields, &doc)))
    }

    /// Items related to the item `name` that `access` may read, excluding it, page
    /// `offset..offset + limit` by BM25 score (ties by name). `None` when the item is not in the
    /// index or `access` may not read it.
    pub fn related(
        &self,
        name: &str,
        offset: usize,
        limit: usize,
        snippet_max_bytes: usize,
        access: &Access,
    ) -> Result<Option<RelatedPage>, Error> {
        let searcher = self.searcher();
        let Some(source) = self.readable(&searcher, name, access)? else {
            return Ok(None);
        };
        let fields = *self.fields();
        let mut analyzer = self.text_analyzer()?;
        let mut counts: BTreeMap<String, u32> = BTreeMap::new();
        let texts = [&source.title, &source.content]
            .into_iter()
            .chain(source.tags.iter());
        for text in texts {
            for token in analyze(&mut analyzer, text) {
                *counts.entry(token.term).or_default() += 1;
            }
        }
        let terms = distinctive_terms(&searcher, &fields, counts)?;
        if terms.is_empty() {
            return Ok(Some(RelatedPage {
                hits: Vec::new(),
                total: 0,
            }));
        }
        let words: Vec<Clause> = terms
            .iter()
            .flat_map(|t| word_clauses(&fields, t, self.boosts().title))
            .collect();
        let mut clauses = vec![
            (Occur::Must, any_of(words)),
            (Occur::MustNot, exact_term(fields.name, name)),
        ];
        clauses.extend(access_clause(&fields, access).map(|c| (Occur::Must, filter(c))));
        let query = BooleanQuery::new(clauses);
        let range = offset..offset.saturating_add(limit);
        let (docs, total, _) = collect(&searcher, &query, Order::Relevance, range, None)?;
        let highlighter = Highlighter {
            stems: terms.into_iter().collect::<HashSet<_>>(),
            ..Highlighter::default()
        };
        let hits = self.hits(
            &searcher,
            docs,
            &highlighter,
            &mut analyzer,
            true,
            snippet_max_bytes,
        )?;
        Ok(Some(RelatedPage {
            hits,
            total: total as u64,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::item;
    use super::*;
    use crate::index::Visibility;

    fn index() -> SearchIndex {
        let index = SearchIndex::open_in_ram().expect("index");
        let mut source = item(
            "src",
            "Tokio runtime internals",
            "The tokio scheduler steals work",
        );
        source.tags = vec!["async".into()];
        let near = item(
            "near",
            "Work stealing in tokio",
            "How the scheduler balances tasks",
        );
        let far = item("far", "Sourdough bread", "Flour water salt");
        let mut secret = item(
            "secret",
            "Tokio scheduler secrets",
            "tokio scheduler steals",
        );
        secret.visibility = Visibility::Private;
        secret.owner = "users/bob".into();
        for it in [source, near, far, secret] {
            index.upsert(it).expect("upsert");
        }
        index.commit("c1").expect("commit");
        index
    }

    fn alice() -> Access {
        Access::User {
            subject: "users/alice".into(),
            admin: false,
        }
    }

    fn names(page: &RelatedPage) -> Vec<&str> {
        page.hits.iter().map(|h| h.name.as_str()).collect()
    }

    #[test]
    fn related_excludes_the_source_and_unreadable_items() {
        let index = index();
        let page = index
            .related("items/src", 0, 10, 200, &alice())
            .expect("related")
            .expect("readable");
        assert_eq!(names(&page), vec!["items/near"]);
        assert_eq!(page.total, 1);
        let hit = &page.hits[0];
        assert!(hit.score > 0.0);
        assert!(!hit.title_highlights.is_empty(), "shared terms are marked");
        let all = index
            .related("items/src", 0, 10, 200, &Access::Service)
            .expect("related")
            .expect("readable");
        assert_eq!(all.total, 2);
        assert!(names(&all).contains(&"items/secret"));
        assert!(!names(&all).contains(&"items/src"));
    }

    #[test]
    fn unreadable_or_absent_source_is_none() {
        let index = index();
        let none = index
            .related("items/secret", 0, 10, 200, &alice())
            .expect("related");
        assert!(none.is_none());
        let none = index
            .related("items/missing", 0, 10, 200, &alice())
            .expect("related");
        assert!(none.is_none());
        let anonymous = index
            .related("items/src", 0, 10, 200, &Access::Anonymous)
            .expect("related")
            .expect("public source");
        assert_eq!(names(&anonymous), vec!["items/near"]);
    }

    #[test]
    fn paging() {
        let index = index();
        let first = index
            .related("items/src", 0, 1, 200, &Access::Service)
            .expect("related")
            .expect("readable");
        let second = index
            .related("items/src", 1, 1, 200, &Access::Service)
            .expect("related")
            .expect("readable");
        assert_eq!(first.hits.len(), 1);
        assert_eq!(second.hits.len(), 1);
        assert_ne!(first.hits[0].name, second.hits[0].name);
    }
}
