//! The untuned BM25 baseline: a plain tantivy index of the same documents in a temporary
//! directory, `title` and `body` (the abstract) as two text fields with tantivy's `default`
//! tokenizer (split at non-alphanumerics, drop tokens over 40 bytes, lower-case; no stemming, no
//! stop words), queried by tantivy's default `QueryParser` over both fields (OR of the terms,
//! no boosts; lenient parsing, so query syntax characters never fail a query).

use anyhow::Context;
use tantivy::collector::TopDocs;
use tantivy::query::QueryParser;
use tantivy::schema::{Field, STORED, STRING, Schema, TEXT, Value};
use tantivy::{Index, IndexReader, TantivyDocument};
use tempfile::TempDir;

use super::dataset::Doc;

/// The baseline index.
pub struct Bm25Baseline {
    reader: IndexReader,
    parser: QueryParser,
    id: Field,
    _dir: TempDir,
}

impl Bm25Baseline {
    /// Indexes `docs` in a new temporary directory.
    pub fn build(docs: &[Doc]) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("creating the baseline's directory")?;
        let mut builder = Schema::builder();
        let id = builder.add_text_field("id", STRING | STORED);
        let title = builder.add_text_field("title", TEXT);
        let body = builder.add_text_field("body", TEXT);
        let index = Index::create_in_dir(dir.path(), builder.build())?;
        let mut writer = index.writer::<TantivyDocument>(64 << 20)?;
        for doc in docs {
            let mut document = TantivyDocument::new();
            document.add_text(id, &doc.id);
            document.add_text(title, &doc.title);
            document.add_text(body, &doc.text);
            writer.add_document(document)?;
        }
        writer.commit()?;
        let reader = index.reader()?;
        let parser = QueryParser::for_index(&index, vec![title, body]);
        Ok(Bm25Baseline {
            reader,
            parser,
            id,
            _dir: dir,
        })
    }

    /// The ids of the best `limit` documents for `text`.
    pub fn search(&self, text: &str, limit: usize) -> anyhow::Result<Vec<String>> {
        let (query, _errors) = self.parser.parse_query_lenient(text);
        let searcher = self.reader.searcher();
        let top = searcher.search(&query, &TopDocs::with_limit(limit).order_by_score())?;
        top.into_iter()
            .map(|(_, address)| {
                let doc: TantivyDocument = searcher.doc(address)?;
                Ok(doc
                    .get_first(self.id)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned())
            })
            .collect()
    }
}
