//! The search index: an embedded tantivy (BM25) index of knowledge items, pure Rust, no gRPC.
//!
//! # API
//!
//! - [`SearchIndex`] (cheap to clone, `Send + Sync`): [`SearchIndex::open_in_dir`] /
//!   [`SearchIndex::open_in_ram`]; writes are buffered ([`SearchIndex::upsert`],
//!   [`SearchIndex::delete`], [`SearchIndex::clear`]) and become searchable, together with the
//!   change-feed cursor they bring the index to, on [`SearchIndex::commit`]. The cursor is the
//!   tantivy commit payload, so the checkpoint and the index never disagree;
//!   [`SearchIndex::applied_cursor`] reads it back (also after a reopen).
//! - [`SearchIndex::search`] runs a [`Query`] (query-language text, paging, order, time ranges,
//!   facets, snippet length) for an [`Access`] scope and returns a [`SearchPage`].
//! - [`SearchIndex::suggest`] completes a prefix into titles and tags of readable items
//!   ([`SuggestRequest`] → [`Suggestion`]s, with the matched range of each).
//! - [`SearchIndex::related`] finds the readable items most like a readable source item (its
//!   most distinctive terms by tf-idf, ranked with BM25), excluding the source: a
//!   [`RelatedPage`], or `None` when the source is absent or unreadable.
//! - [`parse_query`] validates query-language text without an index (for INVALID_ARGUMENT with
//!   the offending byte offset, [`QueryError::offset`]).
//!
//! # How a query runs
//!
//! Words are OR'ed exact BM25 clauses over `title` (boosted by [`Boosts::title`]), `content` and
//! the tags, all analysed by the one English analyzer ([`Analysis`]). Next to each exact clause
//! sit constant-score SHOULD clauses with a low boost for typo tolerance ([`Boosts::fuzzy`])
//! and, on the last word, prefix matching ([`Boosts::prefix`]); those run over a lower-cased,
//! unstemmed copy of the words, so `retr` matches `retrieval`. A stop word (when the analysis
//! drops them) gets no exact or typo clause, but still its prefix clause when it is last. Phrases are required
//! phrase queries over title and content. Filters (`tag:`, `kind:`, `status:`, time ranges) and
//! the access check are required clauses with score 0 inside the same tantivy query, so `total`
//! and facets count only readable matches and a page is always full. Exclusions are MUST_NOT
//! clauses.
//!
//! Item content is markdown: it is converted to plain text (markup removed, whitespace collapsed)
//! when indexed, and snippets are cut from that text.

pub mod analysis;
mod compile;
mod facets;
mod highlight;
mod query;
mod related;
mod schema;
mod search_index;
mod suggest;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_language;

pub use analysis::Analysis;
pub use query::{
    KINDS, MAX_QUERY_BYTES, MAX_QUERY_TERMS, ParsedQuery, QueryError, STATUSES, TagMatch, Word,
    parse_query,
};
pub use related::{MAX_RELATED_TERMS, RelatedPage};
pub use search_index::SearchIndex;
pub use suggest::{SuggestRequest, Suggestion, SuggestionKind};

/// Boost of title matches relative to content and tag matches (BM25 is multiplied by it). A
/// title match also scores its own clause (and a short field's BM25 is high), so at 1 title
/// matches already weigh more than content matches; higher boosts measured worse on Cranfield
/// (docs/search.md).
pub const TITLE_BOOST: f32 = 1.0;
/// Constant score of a typo-tolerant match of one query word (BM25 scores are typically 0.5–10).
pub const FUZZY_BOOST: f32 = 0.3;
/// Constant score of a prefix match of the last query word.
pub const PREFIX_BOOST: f32 = 0.2;

/// The weights of a query's clauses; [`Boosts::default`] is what the service uses (chosen by
/// measurement on Cranfield, docs/search.md). Query-time only: changing them needs no rebuild
/// ([`SearchIndex::with_boosts`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Boosts {
    /// Multiplies the BM25 score of title matches (content and tags: 1).
    pub title: f32,
    /// Constant score of a typo-tolerant match of a query word; 0 turns typo tolerance off.
    pub fuzzy: f32,
    /// Constant score of a prefix match of the last query word; 0 turns prefix matching off.
    pub prefix: f32,
}

impl Default for Boosts {
    fn default() -> Self {
        Boosts {
            title: TITLE_BOOST,
            fuzzy: FUZZY_BOOST,
            prefix: PREFIX_BOOST,
        }
    }
}
/// Ranges past this many are not marked in a title or a snippet.
pub const MAX_HIGHLIGHTS: usize = 100;

/// Who may read an item besides its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Visibility {
    /// Only the owner (and admins, services).
    Private,
    /// Every signed-in user.
    Internal,
    /// Everyone, anonymous callers included.
    Public,
}

impl Visibility {
    /// The token stored in the index.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Private => "private",
            Visibility::Internal => "internal",
            Visibility::Public => "public",
        }
    }

    /// Parses [`Visibility::as_str`] back.
    pub fn parse(token: &str) -> Option<Self> {
        match token {
            "private" => Some(Visibility::Private),
            "internal" => Some(Visibility::Internal),
            "public" => Some(Visibility::Public),
            _ => None,
        }
    }
}

/// The copy of an item that the index keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedItem {
    /// Resource name, `items/{id}`; the key [`SearchIndex::upsert`] replaces by.
    pub name: String,
    pub title: String,
    /// Markdown; indexed and stored as plain text.
    pub content: String,
    /// Tags as spelled on the item, in its order.
    pub tags: Vec<String>,
    /// Lower-case kind token: `note`, `project`, `resource`, `daily`, `system`.
    pub kind: String,
    /// Lower-case status token: `draft`, `processing`, `verified`, `archived`.
    pub status: String,
    /// Owner's resource name, `users/{id}`.
    pub owner: String,
    pub visibility: Visibility,
    pub confidence_score: f64,
    /// Microseconds since the Unix epoch.
    pub create_time_us: i64,
    /// Microseconds since the Unix epoch.
    pub update_time_us: i64,
}

/// The caller's read scope, enforced inside the index query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Public items only.
    Anonymous,
    /// Own items (`subject` is `users/{id}`) plus internal and public ones; admins read all.
    User { subject: String, admin: bool },
    /// Service accounts read all items.
    Service,
}

/// Result order. Ties are broken by score (descending), then by name (ascending).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Score descending; for a query without words or phrases, [`Order::UpdateTimeDesc`].
    #[default]
    Relevance,
    UpdateTimeDesc,
    UpdateTimeAsc,
    CreateTimeDesc,
    CreateTimeAsc,
    ConfidenceDesc,
    ConfidenceAsc,
}

/// A field that [`SearchIndex::search`] can count matches by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FacetField {
    Tag,
    Kind,
    Status,
}

/// One search request, already validated and clamped by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// Query-language text (see the `SearchRequest.query` contract).
    pub text: String,
    /// Number of results to skip (paging).
    pub offset: usize,
    /// Page size; 0 returns no hits but still `total` and facets.
    pub limit: usize,
    pub order: Order,
    /// `[start, end)` in microseconds; `None` is unbounded.
    pub update_time_range: (Option<i64>, Option<i64>),
    /// `[start, end)` in microseconds; `None` is unbounded.
    pub create_time_range: (Option<i64>, Option<i64>),
    /// Facets to count, returned in this order.
    pub facets: Vec<FacetField>,
    /// Values per facet.
    pub facet_limit: usize,
    /// Maximum snippet length in UTF-8 bytes.
    pub snippet_max_bytes: usize,
}

impl Default for Query {
    fn default() -> Self {
        Query {
            text: String::new(),
            offset: 0,
            limit: 20,
            order: Order::Relevance,
            update_time_range: (None, None),
            create_time_range: (None, None),
            facets: Vec::new(),
            facet_limit: 10,
            snippet_max_bytes: 200,
        }
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage {
    pub hits: Vec<Hit>,
    /// Readable matches over all pages.
    pub total: u64,
    /// The requested facets, in request order.
    pub facets: Vec<FacetCounts>,
}

/// Counts for one facet field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacetCounts {
    pub field: FacetField,
    /// `(value, count)`, count descending then value ascending (byte order), at most
    /// `facet_limit`. Tags differing only in case are one value, in their most frequent spelling.
    pub values: Vec<(String, u64)>,
    /// Distinct values among all matches, including those cut off by the limit.
    pub distinct_values: u64,
}

/// One result. Highlight ranges are half-open UTF-8 byte ranges, sorted, merged when touching.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub name: String,
    pub title: String,
    pub title_highlights: Vec<(usize, usize)>,
    /// Plain-text excerpt of the content, at most `snippet_max_bytes`.
    pub snippet: String,
    pub snippet_highlights: Vec<(usize, usize)>,
    /// BM25 (plus typo/prefix constants); 0 for a query without words or phrases.
    pub score: f32,
    pub tags: Vec<String>,
    pub kind: String,
    pub status: String,
    pub owner: String,
    pub visibility: Visibility,
    pub confidence_score: f64,
    pub create_time_us: i64,
    pub update_time_us: i64,
}

/// Errors of the index library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The on-disk index is unreadable, damaged or of an incompatible schema: wipe the directory
    /// and rebuild from a snapshot.
    #[error("search index is corrupt or incompatible: {0}")]
    Corrupt(String),
    /// Another writer (process) holds the index directory's lock.
    #[error("search index is locked by another writer: {0}")]
    Locked(String),
    /// The query text is malformed (INVALID_ARGUMENT; carries the byte offset).
    #[error(transparent)]
    InvalidQuery(#[from] QueryError),
    /// An item that cannot be indexed (e.g. an empty name).
    #[error("invalid item: {0}")]
    InvalidItem(String),
    #[error("search index error: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("search index I/O error: {0}")]
    Io(#[from] std::io::Error),
}
