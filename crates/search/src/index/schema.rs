//! The index schema and the conversion of items to and from tantivy documents.

use tantivy::TantivyDocument;
use tantivy::schema::{
    FAST, Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};

use super::analysis::{Analysis, analyze, markdown_to_plain, words_analyzer};
use super::{Error, IndexedItem, Visibility};

pub(crate) const NAME: &str = "name";
pub(crate) const TAG: &str = "tag";
pub(crate) const TAG_ORIG: &str = "tag_orig";
pub(crate) const KIND: &str = "kind";
pub(crate) const STATUS: &str = "status";
pub(crate) const CREATE_TIME: &str = "create_time";
pub(crate) const UPDATE_TIME: &str = "update_time";
pub(crate) const CONFIDENCE: &str = "confidence";

/// Handles of the schema's fields.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    /// `items/{id}`: STRING | STORED | FAST (the upsert key; the final tie-break of every order).
    pub name: Field,
    /// English-analysed with positions (BM25, phrases), stored.
    pub title: Field,
    /// Plain text of the markdown content, English-analysed with positions, stored.
    pub content: Field,
    /// The tags, English-analysed (BM25 for words), not stored.
    pub tags_text: Field,
    /// The tags lower-cased, whole: `tag:` filters and tag facet counts.
    pub tag: Field,
    /// The tags as spelled, stored (results) and fast (facet value spelling).
    pub tag_orig: Field,
    /// Title, content and tags unstemmed (typo-tolerant and prefix matching), doc ids only.
    pub words: Field,
    /// The title unstemmed, with positions (Suggest: words of a title in order, adjacent).
    pub title_words: Field,
    /// The title's unstemmed words joined by single spaces, whole (Suggest: matches at the start
    /// of a title are prefixes of it).
    pub title_key: Field,
    pub owner: Field,
    pub kind: Field,
    pub status: Field,
    pub visibility: Field,
    pub create_time: Field,
    pub update_time: Field,
    pub confidence: Field,
}

fn analysed(tokenizer: &str, record: IndexRecordOption) -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(record),
    )
}

/// Builds the schema for `analysis` (the analyzers' names, which carry the analysis, are part of
/// it). An index whose stored schema differs (an older version, another analysis) is reported
/// as corrupt by `open_in_dir`, so that it is rebuilt.
pub(crate) fn build(analysis: &Analysis) -> (Schema, Fields) {
    let text_analyzer = analysis.text_analyzer_name();
    let words_analyzer = analysis.words_analyzer_name();
    let mut b = Schema::builder();
    let keyword = STRING | STORED | FAST;
    let text = analysed(&text_analyzer, IndexRecordOption::WithFreqsAndPositions);
    let fields = Fields {
        name: b.add_text_field(NAME, keyword.clone()),
        title: b.add_text_field("title", text.clone().set_stored()),
        content: b.add_text_field("content", text.set_stored()),
        tags_text: b.add_text_field(
            "tags_text",
            analysed(&text_analyzer, IndexRecordOption::WithFreqs),
        ),
        tag: b.add_text_field(TAG, STRING | FAST),
        tag_orig: b.add_text_field(TAG_ORIG, STORED | FAST),
        words: b.add_text_field("words", analysed(&words_analyzer, IndexRecordOption::Basic)),
        title_words: b.add_text_field(
            "title_words",
            analysed(&words_analyzer, IndexRecordOption::WithFreqsAndPositions),
        ),
        title_key: b.add_text_field("title_key", STRING),
        owner: b.add_text_field("owner", keyword.clone()),
        kind: b.add_text_field(KIND, keyword.clone()),
        status: b.add_text_field(STATUS, keyword.clone()),
        visibility: b.add_text_field("visibility", keyword),
        create_time: b.add_i64_field(CREATE_TIME, FAST | STORED),
        update_time: b.add_i64_field(UPDATE_TIME, FAST | STORED),
        confidence: b.add_f64_field(CONFIDENCE, FAST | STORED),
    };
    (b.build(), fields)
}

/// The unstemmed words of `text` joined by single spaces: a title's `title_key`, and the key
/// whose prefixes a Suggest prefix matches at the start of a title.
pub(crate) fn title_key(text: &str) -> String {
    let mut analyzer = words_analyzer();
    analyze(&mut analyzer, text)
        .into_iter()
        .map(|t| t.term)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Converts an item to the document indexed for it.
pub(crate) fn to_document(fields: &Fields, item: &IndexedItem) -> Result<TantivyDocument, Error> {
    if item.name.is_empty() {
        return Err(Error::InvalidItem("empty name".to_owned()));
    }
    let content = markdown_to_plain(&item.content);
    let mut doc = TantivyDocument::new();
    doc.add_text(fields.name, &item.name);
    doc.add_text(fields.title, &item.title);
    doc.add_text(fields.content, &content);
    doc.add_text(fields.words, &item.title);
    doc.add_text(fields.title_words, &item.title);
    doc.add_text(fields.title_key, title_key(&item.title));
    doc.add_text(fields.words, &content);
    for tag in &item.tags {
        doc.add_text(fields.tags_text, tag);
        doc.add_text(fields.words, tag);
        doc.add_text(fields.tag, tag.to_lowercase());
        doc.add_text(fields.tag_orig, tag);
    }
    doc.add_text(fields.owner, &item.owner);
    doc.add_text(fields.kind, &item.kind);
    doc.add_text(fields.status, &item.status);
    doc.add_text(fields.visibility, item.visibility.as_str());
    doc.add_i64(fields.create_time, item.create_time_us);
    doc.add_i64(fields.update_time, item.update_time_us);
    doc.add_f64(fields.confidence, item.confidence_score);
    Ok(doc)
}

/// The stored fields of one indexed item (content as plain text).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoredItem {
    pub name: String,
    pub title: String,
    pub content: String,
    pub tags: Vec<String>,
    pub kind: String,
    pub status: String,
    pub owner: String,
    pub visibility: Visibility,
    pub confidence_score: f64,
    pub create_time_us: i64,
    pub update_time_us: i64,
}

fn text(doc: &TantivyDocument, field: Field) -> String {
    doc.get_first(field)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

fn int(doc: &TantivyDocument, field: Field) -> i64 {
    doc.get_first(field)
        .and_then(|v| v.as_i64())
        .unwrap_or_default()
}

/// Reads the stored fields back.
pub(crate) fn from_document(fields: &Fields, doc: &TantivyDocument) -> StoredItem {
    StoredItem {
        name: text(doc, fields.name),
        title: text(doc, fields.title),
        content: text(doc, fields.content),
        tags: doc
            .get_all(fields.tag_orig)
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        kind: text(doc, fields.kind),
        status: text(doc, fields.status),
        owner: text(doc, fields.owner),
        visibility: Visibility::parse(&text(doc, fields.visibility)).unwrap_or(Visibility::Private),
        confidence_score: doc
            .get_first(fields.confidence)
            .and_then(|v| v.as_f64())
            .unwrap_or_default(),
        create_time_us: int(doc, fields.create_time),
        update_time_us: int(doc, fields.update_time),
    }
}
