//! Turns a parsed query, the request's time ranges and the caller's access into one tantivy
//! query (plus the highlighter that marks what it matched).

use std::ops::Bound;

use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, EmptyQuery, FuzzyTermQuery, Occur,
    PhraseQuery, Query as TantivyQuery, RangeQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TextAnalyzer;

use super::analysis::{AnalyzedToken, analyze};
use super::highlight::Highlighter;
use super::query::{ParsedQuery, TagMatch};
use super::schema::Fields;
use super::{Access, Boosts, Error, Query, Visibility};

pub(crate) type Clause = Box<dyn TantivyQuery>;

/// The analyzers a query is compiled with (clones of the index's).
pub(crate) struct Analyzers {
    /// English (stemmed).
    pub text: TextAnalyzer,
    /// Unstemmed.
    pub words: TextAnalyzer,
}

/// A compiled query.
pub(crate) struct Compiled {
    pub query: Box<dyn TantivyQuery>,
    /// The query has words or phrases, so results are ranked by score.
    pub scored: bool,
    pub highlighter: Highlighter,
}

/// Typo tolerance: 1 edit for words of 5 to 8 characters, 2 from 9.
pub(crate) fn typo_distance(word: &str) -> Option<u8> {
    match word.chars().count() {
        0..=4 => None,
        5..=8 => Some(1),
        _ => Some(2),
    }
}

/// A required clause that does not contribute to the score.
pub(crate) fn filter(query: Clause) -> Clause {
    Box::new(ConstScoreQuery::new(query, 0.0))
}

pub(crate) fn term(field: Field, text: &str) -> Term {
    Term::from_field_text(field, text)
}

fn scored_term(field: Field, text: &str) -> TermQuery {
    TermQuery::new(term(field, text), IndexRecordOption::WithFreqs)
}

pub(crate) fn exact_term(field: Field, text: &str) -> Clause {
    Box::new(TermQuery::new(term(field, text), IndexRecordOption::Basic))
}

pub(crate) fn any_of(clauses: Vec<Clause>) -> Clause {
    Box::new(BooleanQuery::new(
        clauses.into_iter().map(|c| (Occur::Should, c)).collect(),
    ))
}

/// The exact BM25 clauses of one analysed term: title (boosted by `title_boost`), content, tags.
pub(crate) fn word_clauses(fields: &Fields, stem: &str, title_boost: f32) -> [Clause; 3] {
    [
        Box::new(BoostQuery::new(
            Box::new(scored_term(fields.title, stem)),
            title_boost,
        )),
        Box::new(scored_term(fields.content, stem)),
        Box::new(scored_term(fields.tags_text, stem)),
    ]
}

/// A phrase over title (boosted) or content; `None` when the phrase has no terms.
fn phrase_clause(fields: &Fields, tokens: &[AnalyzedToken], title_boost: f32) -> Option<Clause> {
    let first = tokens.first()?;
    if tokens.len() == 1 {
        return Some(any_of(vec![
            Box::new(BoostQuery::new(
                Box::new(scored_term(fields.title, &first.term)),
                title_boost,
            )),
            Box::new(scored_term(fields.content, &first.term)),
        ]));
    }
    let phrase = |field: Field| {
        PhraseQuery::new_with_offset(
            tokens
                .iter()
                .map(|t| (t.position - first.position, term(field, &t.term)))
                .collect(),
        )
    };
    Some(any_of(vec![
        Box::new(BoostQuery::new(Box::new(phrase(fields.title)), title_boost)),
        Box::new(phrase(fields.content)),
    ]))
}

fn tag_clause(fields: &Fields, tag: &TagMatch) -> Clause {
    match tag {
        TagMatch::Exact(value) => exact_term(fields.tag, value),
        TagMatch::Prefix(value) => {
            Box::new(FuzzyTermQuery::new_prefix(term(fields.tag, value), 0, true))
        }
    }
}

fn set_clause(field: Field, values: &[String]) -> TermSetQuery {
    TermSetQuery::new(values.iter().map(|v| term(field, v)))
}

fn time_range(field: Field, (start, end): (Option<i64>, Option<i64>)) -> Option<RangeQuery> {
    if start.is_none() && end.is_none() {
        return None;
    }
    let lower = start.map_or(Bound::Unbounded, |s| {
        Bound::Included(Term::from_field_i64(field, s))
    });
    let upper = end.map_or(Bound::Unbounded, |e| {
        Bound::Excluded(Term::from_field_i64(field, e))
    });
    Some(RangeQuery::new(lower, upper))
}

/// The access check: `None` when the caller reads everything.
pub(crate) fn access_clause(fields: &Fields, access: &Access) -> Option<Clause> {
    let shared = |visibilities: &[Visibility]| -> Clause {
        Box::new(TermSetQuery::new(
            visibilities
                .iter()
                .map(|v| term(fields.visibility, v.as_str())),
        ))
    };
    match access {
        Access::Anonymous => Some(shared(&[Visibility::Public])),
        Access::User { admin: true, .. } | Access::Service => None,
        Access::User { subject, .. } => Some(any_of(vec![
            exact_term(fields.owner, subject),
            shared(&[Visibility::Internal, Visibility::Public]),
        ])),
    }
}

/// Compiles `parsed` with the request's time ranges for `access`, weighted by `boosts`.
pub(crate) fn compile(
    parsed: &ParsedQuery,
    request: &Query,
    access: &Access,
    fields: &Fields,
    analyzers: &mut Analyzers,
    boosts: &Boosts,
) -> Result<Compiled, Error> {
    let mut highlighter = Highlighter::default();
    let mut must: Vec<Clause> = Vec::new();
    let mut must_not: Vec<Clause> = Vec::new();

    // Words: exact BM25 clauses, then low constant-score typo and prefix clauses. The English
    // analyzer's tokens are those of the unstemmed one (same positions) minus stop words.
    let mut words: Vec<Clause> = Vec::new();
    let mut word_tokens = 0;
    for word in &parsed.words {
        let raw = analyze(&mut analyzers.words, &word.text);
        word_tokens += raw.len();
        let mut stems = analyze(&mut analyzers.text, &word.text)
            .into_iter()
            .peekable();
        let last = raw.len().saturating_sub(1);
        for (i, raw) in raw.iter().enumerate() {
            let stem = stems.next_if(|stem| stem.position == raw.position);
            if let Some(stem) = &stem {
                words.extend(word_clauses(fields, &stem.term, boosts.title));
                highlighter.stems.insert(stem.term.clone());
            }
            if let Some(distance) = typo_distance(&raw.term)
                && stem.is_some()
                && boosts.fuzzy > 0.0
            {
                let fuzzy = FuzzyTermQuery::new(term(fields.words, &raw.term), distance, true);
                highlighter.fuzzy.push(fuzzy.automaton()?);
                words.push(Box::new(BoostQuery::new(Box::new(fuzzy), boosts.fuzzy)));
            }
            if word.prefix && i == last && boosts.prefix > 0.0 {
                let prefix = FuzzyTermQuery::new_prefix(term(fields.words, &raw.term), 0, true);
                highlighter.prefixes.push(raw.term.clone());
                words.push(Box::new(BoostQuery::new(Box::new(prefix), boosts.prefix)));
            }
        }
    }

    // Phrases: each required.
    let mut phrases: Vec<Clause> = Vec::new();
    for phrase in &parsed.phrases {
        let tokens = analyze(&mut analyzers.text, phrase);
        if let Some(clause) = phrase_clause(fields, &tokens, boosts.title) {
            phrases.push(clause);
            match tokens.as_slice() {
                [single] => {
                    highlighter.stems.insert(single.term.clone());
                }
                _ => highlighter
                    .phrases
                    .push(tokens.into_iter().map(|t| t.term).collect()),
            }
        }
    }

    // Words that are all stop words match nothing (rather than everything, as no words would).
    if word_tokens > 0 && words.is_empty() && phrases.is_empty() {
        must.push(Box::new(EmptyQuery));
    }
    let scored = !words.is_empty() || !phrases.is_empty();
    let mut should: Vec<Clause> = Vec::new();
    if !phrases.is_empty() {
        must.extend(phrases);
        should.extend(words);
    } else if !words.is_empty() {
        must.push(any_of(words));
    }

    // Exclusions: whatever the term would match, without typo tolerance or prefix.
    for word in &parsed.excluded_words {
        for stem in analyze(&mut analyzers.text, word) {
            must_not.extend(word_clauses(fields, &stem.term, boosts.title));
        }
    }
    for phrase in &parsed.excluded_phrases {
        let tokens = analyze(&mut analyzers.text, phrase);
        must_not.extend(phrase_clause(fields, &tokens, boosts.title));
    }

    // Filters and access: required, score 0.
    for tag in &parsed.tags {
        must.push(filter(tag_clause(fields, tag)));
    }
    must_not.extend(parsed.excluded_tags.iter().map(|t| tag_clause(fields, t)));
    for (field, values, excluded) in [
        (fields.kind, &parsed.kinds, &parsed.excluded_kinds),
        (fields.status, &parsed.statuses, &parsed.excluded_statuses),
    ] {
        if !values.is_empty() {
            must.push(filter(Box::new(set_clause(field, values))));
        }
        if !excluded.is_empty() {
            must_not.push(Box::new(set_clause(field, excluded)));
        }
    }
    for (field, range) in [
        (fields.update_time, request.update_time_range),
        (fields.create_time, request.create_time_range),
    ] {
        must.extend(time_range(field, range).map(|r| filter(Box::new(r))));
    }
    must.extend(access_clause(fields, access).map(filter));
    if must.is_empty() {
        must.push(filter(Box::new(AllQuery)));
    }

    let clauses = must
        .into_iter()
        .map(|c| (Occur::Must, c))
        .chain(should.into_iter().map(|c| (Occur::Should, c)))
        .chain(must_not.into_iter().map(|c| (Occur::MustNot, c)))
        .collect();
    Ok(Compiled {
        query: Box::new(BooleanQuery::new(clauses)),
        scored,
        highlighter,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typo_distances() {
        assert_eq!(typo_distance("rust"), None);
        assert_eq!(typo_distance("async"), Some(1));
        assert_eq!(typo_distance("retrieva"), Some(1));
        assert_eq!(typo_distance("retrieval"), Some(2));
        // Characters, not bytes.
        assert_eq!(typo_distance("éééé"), None);
    }
}
