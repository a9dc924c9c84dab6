//! [`SearchIndex`]: opening, writing, committing with the feed cursor, searching.

use std::io;
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use tantivy::collector::sort_key::{SortBySimilarityScore, SortByStaticFastValue, SortByString};
use tantivy::collector::{Collector, Count, TopDocs};
use tantivy::directory::MmapDirectory;
use tantivy::directory::error::OpenReadError;
use tantivy::query::{AllQuery, Query as TantivyQuery};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, Order as SortOrder, ReloadPolicy, Searcher,
    TantivyDocument, TantivyError, Term,
};

use super::analysis::Analysis;
use super::compile::{Analyzers, compile};
use super::facets::FacetCollector;
use super::highlight::Highlighter;
use super::query::parse_query;
use super::schema::{self, CONFIDENCE, CREATE_TIME, Fields, NAME, UPDATE_TIME};
use super::{Access, Boosts, Error, FacetCounts, Hit, IndexedItem, Order, Query, SearchPage};

/// Indexing threads of the writer (the service runs on 2 cores).
const WRITER_THREADS: usize = 1;
/// Memory the writer buffers before it flushes a segment.
const WRITER_HEAP_BYTES: usize = 64 << 20;

/// The search index of one replica. Cheap to clone (shared state); `Send + Sync`.
#[derive(Clone)]
pub struct SearchIndex {
    inner: Arc<Inner>,
    /// Query-time weights of this handle (clones made by [`SearchIndex::with_boosts`] share
    /// the index but not these).
    boosts: Boosts,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("applied_cursor", &self.applied_cursor())
            .field("num_docs", &self.num_docs())
            .field("analysis", &self.inner.analysis)
            .field("boosts", &self.boosts)
            .finish_non_exhaustive()
    }
}

struct Inner {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
    analysis: Analysis,
    applied_cursor: RwLock<Option<String>>,
}

fn is_corrupt_io(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidData
    )
}

/// Classifies an error met while opening an index: damage and incompatibility are
/// [`Error::Corrupt`] (wipe and rebuild), a held lock is [`Error::Locked`], the rest (I/O
/// trouble that a rebuild would meet too) stays an error as is.
fn open_error(error: TantivyError) -> Error {
    match &error {
        TantivyError::LockFailure(..) => Error::Locked(error.to_string()),
        TantivyError::DataCorruption(_)
        | TantivyError::DeserializeError(_)
        | TantivyError::SchemaError(_)
        | TantivyError::IncompatibleIndex(_)
        | TantivyError::OpenReadError(
            OpenReadError::FileDoesNotExist(_) | OpenReadError::IncompatibleIndex(_),
        ) => Error::Corrupt(error.to_string()),
        TantivyError::OpenReadError(OpenReadError::IoError { io_error, .. })
        | TantivyError::IoError(io_error)
            if is_corrupt_io(io_error) =>
        {
            Error::Corrupt(error.to_string())
        }
        _ => Error::Tantivy(error),
    }
}

impl SearchIndex {
    /// Opens the index in `dir`, creating the directory and an empty index if needed. The files
    /// are checksummed on open: a damaged, truncated or incompatible index (including one built
    /// with an older schema) is [`Error::Corrupt`], so the caller can wipe `dir` and rebuild; a
    /// directory locked by another writer is [`Error::Locked`]. Uses the default
    /// [`Analysis`] and [`Boosts`].
    pub fn open_in_dir(dir: &Path) -> Result<Self, Error> {
        Self::open_in_dir_with(dir, Analysis::default())
    }

    /// [`SearchIndex::open_in_dir`] with `analysis`: an index in `dir` built with another
    /// analysis is [`Error::Corrupt`] (incompatible).
    pub fn open_in_dir_with(dir: &Path, analysis: Analysis) -> Result<Self, Error> {
        std::fs::create_dir_all(dir)?;
        let directory =
            MmapDirectory::open(dir).map_err(|e| Error::Io(io::Error::other(e.to_string())))?;
        let (schema, fields) = schema::build(&analysis);
        let index = Index::open_or_create(directory, schema).map_err(open_error)?;
        Self::from_index(index, fields, analysis, true)
    }

    /// An empty index in memory (tests, embedded use), with the default [`Analysis`] and
    /// [`Boosts`].
    pub fn open_in_ram() -> Result<Self, Error> {
        Self::open_in_ram_with(Analysis::default())
    }

    /// An empty index in memory analysed by `analysis` (for measuring alternatives).
    pub fn open_in_ram_with(analysis: Analysis) -> Result<Self, Error> {
        let (schema, fields) = schema::build(&analysis);
        Self::from_index(Index::create_in_ram(schema), fields, analysis, false)
    }

    /// A handle on the same index whose queries (Search and FindRelated) are weighted by
    /// `boosts` instead of this handle's.
    pub fn with_boosts(&self, boosts: Boosts) -> Self {
        SearchIndex {
            inner: self.inner.clone(),
            boosts,
        }
    }

    /// The analysis the index is built with.
    pub fn analysis(&self) -> Analysis {
        self.inner.analysis
    }

    /// The query-time weights of this handle.
    pub fn boosts(&self) -> Boosts {
        self.boosts
    }

    fn from_index(
        index: Index,
        fields: Fields,
        analysis: Analysis,
        verify: bool,
    ) -> Result<Self, Error> {
        analysis.register(index.tokenizers());
        if verify {
            let damaged = index.validate_checksum().map_err(open_error)?;
            if !damaged.is_empty() {
                return Err(Error::Corrupt(format!("checksum mismatch in {damaged:?}")));
            }
        }
        let applied_cursor = index.load_metas().map_err(open_error)?.payload;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(open_error)?;
        let writer = index
            .writer_with_num_threads(WRITER_THREADS, WRITER_HEAP_BYTES)
            .map_err(open_error)?;
        Ok(SearchIndex {
            inner: Arc::new(Inner {
                index,
                reader,
                writer: Mutex::new(writer),
                fields,
                analysis,
                applied_cursor: RwLock::new(applied_cursor),
            }),
            boosts: Boosts::default(),
        })
    }

    fn writer(&self) -> MutexGuard<'_, IndexWriter> {
        // A panic while holding the lock leaves the writer usable: tantivy keeps its own state.
        self.inner
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds `item`, replacing any indexed item of the same name. Searchable after the next
    /// [`SearchIndex::commit`].
    pub fn upsert(&self, item: IndexedItem) -> Result<(), Error> {
        let doc = schema::to_document(&self.inner.fields, &item)?;
        let writer = self.writer();
        writer.delete_term(Term::from_field_text(self.inner.fields.name, &item.name));
        writer.add_document(doc)?;
        Ok(())
    }

    /// Removes the item named `name` (no error if absent), as of the next commit.
    pub fn delete(&self, name: &str) -> Result<(), Error> {
        self.writer()
            .delete_term(Term::from_field_text(self.inner.fields.name, name));
        Ok(())
    }

    /// Removes every item, as of the next commit; items upserted after this call are kept. For
    /// applying a snapshot: `clear`, upsert the snapshot, `commit(cursor)`.
    pub fn clear(&self) -> Result<(), Error> {
        self.writer().delete_query(Box::new(AllQuery))?;
        Ok(())
    }

    /// Commits every buffered change with `cursor` as the checkpoint (tantivy's commit payload)
    /// and reloads the reader: the changes are searchable, and [`SearchIndex::applied_cursor`]
    /// returns `cursor`, when this returns. Blocks writers meanwhile. On error nothing is
    /// visible and the checkpoint is unchanged.
    pub fn commit(&self, cursor: &str) -> Result<(), Error> {
        let mut writer = self.writer();
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(cursor);
        prepared.commit()?;
        self.inner.reader.reload()?;
        *self
            .inner
            .applied_cursor
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(cursor.to_owned());
        Ok(())
    }

    /// The cursor of the last commit (persisted in the index), `None` if never committed.
    pub fn applied_cursor(&self) -> Option<String> {
        self.inner
            .applied_cursor
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Items searchable now (as of the last commit), of all owners and visibilities.
    pub fn num_docs(&self) -> u64 {
        self.inner.reader.searcher().num_docs()
    }

    /// A searcher over the last commit.
    pub(super) fn searcher(&self) -> Searcher {
        self.inner.reader.searcher()
    }

    pub(super) fn fields(&self) -> &Fields {
        &self.inner.fields
    }

    /// Loads the hits at `docs` and marks what `highlighter` matches in them.
    pub(super) fn hits(
        &self,
        searcher: &Searcher,
        docs: Vec<(f32, DocAddress)>,
        highlighter: &Highlighter,
        text_analyzer: &mut TextAnalyzer,
        scored: bool,
        snippet_max_bytes: usize,
    ) -> Result<Vec<Hit>, Error> {
        let mut hits = Vec::with_capacity(docs.len());
        for (score, address) in docs {
            let doc: TantivyDocument = searcher.doc(address)?;
            let item = schema::from_document(&self.inner.fields, &doc);
            let title_highlights = highlighter.highlight(text_analyzer, &item.title);
            let (snippet, snippet_highlights) =
                highlighter.snippet(text_analyzer, &item.content, snippet_max_bytes);
            hits.push(Hit {
                name: item.name,
                title: item.title,
                title_highlights,
                snippet,
                snippet_highlights,
                score: if scored { score } else { 0.0 },
                tags: item.tags,
                kind: item.kind,
                status: item.status,
                owner: item.owner,
                visibility: item.visibility,
                confidence_score: item.confidence_score,
                create_time_us: item.create_time_us,
                update_time_us: item.update_time_us,
            });
        }
        Ok(hits)
    }

    /// The English analyzer of this index.
    pub(super) fn text_analyzer(&self) -> Result<TextAnalyzer, Error> {
        self.analyzer(&self.inner.analysis.text_analyzer_name())
    }

    /// The unstemmed analyzer of this index.
    pub(super) fn words_analyzer(&self) -> Result<TextAnalyzer, Error> {
        self.analyzer(&self.inner.analysis.words_analyzer_name())
    }

    fn analyzer(&self, name: &str) -> Result<TextAnalyzer, Error> {
        self.inner.index.tokenizers().get(name).ok_or_else(|| {
            Error::Tantivy(TantivyError::InternalError(format!(
                "analyzer {name} missing"
            )))
        })
    }

    /// Runs `request` over the items `access` may read. A malformed query text is
    /// [`Error::InvalidQuery`].
    pub fn search(&self, request: &Query, access: &Access) -> Result<SearchPage, Error> {
        let parsed = parse_query(&request.text)?;
        let mut analyzers = Analyzers {
            text: self.text_analyzer()?,
            words: self.words_analyzer()?,
        };
        let compiled = compile(
            &parsed,
            request,
            access,
            &self.inner.fields,
            &mut analyzers,
            &self.boosts,
        )?;
        let searcher = self.inner.reader.searcher();
        let order = match request.order {
            Order::Relevance if !compiled.scored => Order::UpdateTimeDesc,
            order => order,
        };
        let facets = (!request.facets.is_empty()).then(|| FacetCollector {
            fields: request.facets.clone(),
            limit: request.facet_limit,
        });
        let range = request.offset..request.offset.saturating_add(request.limit);
        let (docs, total, facets) =
            collect(&searcher, compiled.query.as_ref(), order, range, facets)?;

        let hits = self.hits(
            &searcher,
            docs,
            &compiled.highlighter,
            &mut analyzers.text,
            compiled.scored,
            request.snippet_max_bytes,
        )?;
        Ok(SearchPage {
            hits,
            total: total as u64,
            facets: facets.unwrap_or_default(),
        })
    }
}

pub(super) type Collected = (Vec<(f32, DocAddress)>, usize, Option<Vec<FacetCounts>>);

/// Runs the top-docs collector `top` (when the page is not empty), the count and the facets in
/// one pass; `score` extracts the score from the sort key.
fn run<C, K>(
    searcher: &Searcher,
    query: &dyn TantivyQuery,
    top: Option<C>,
    score: impl Fn(&K) -> f32,
    facets: Option<FacetCollector>,
) -> tantivy::Result<Collected>
where
    C: Collector<Fruit = Vec<(K, DocAddress)>>,
{
    let (docs, total, facets) = searcher.search(query, &(top, Count, facets))?;
    let docs = docs.unwrap_or_default();
    Ok((
        docs.iter()
            .map(|(key, address)| (score(key), *address))
            .collect(),
        total,
        facets,
    ))
}

/// Collects the page `range` in `order`; ties by score (descending), then name (ascending).
pub(super) fn collect(
    searcher: &Searcher,
    query: &dyn TantivyQuery,
    order: Order,
    range: Range<usize>,
    facets: Option<FacetCollector>,
) -> tantivy::Result<Collected> {
    let top = || (!range.is_empty()).then(|| TopDocs::for_doc_range(range.clone()));
    let ties = || {
        (
            (SortBySimilarityScore, SortOrder::Desc),
            (SortByString::for_field(NAME), SortOrder::Asc),
        )
    };
    let by_i64 = |field: &str, order| {
        let key = (SortByStaticFastValue::<i64>::for_field(field), order);
        top().map(|t| t.order_by((key, ties())))
    };
    match order {
        Order::Relevance => {
            let top = top().map(|t| t.order_by(ties()));
            run(searcher, query, top, |k| k.0, facets)
        }
        Order::UpdateTimeDesc => {
            let top = by_i64(UPDATE_TIME, SortOrder::Desc);
            run(searcher, query, top, |k| k.1.0, facets)
        }
        Order::UpdateTimeAsc => {
            let top = by_i64(UPDATE_TIME, SortOrder::Asc);
            run(searcher, query, top, |k| k.1.0, facets)
        }
        Order::CreateTimeDesc => {
            let top = by_i64(CREATE_TIME, SortOrder::Desc);
            run(searcher, query, top, |k| k.1.0, facets)
        }
        Order::CreateTimeAsc => {
            let top = by_i64(CREATE_TIME, SortOrder::Asc);
            run(searcher, query, top, |k| k.1.0, facets)
        }
        Order::ConfidenceDesc | Order::ConfidenceAsc => {
            let direction = if order == Order::ConfidenceDesc {
                SortOrder::Desc
            } else {
                SortOrder::Asc
            };
            let key = (
                SortByStaticFastValue::<f64>::for_field(CONFIDENCE),
                direction,
            );
            let top = top().map(|t| t.order_by((key, ties())));
            run(searcher, query, top, |k| k.1.0, facets)
        }
    }
}
