//! Text analysis, configured in this one place so it can be measured and changed (the index
//! schema refers to the analyzers by name; changing one requires a rebuild of the index).
//!
//! - [`text_analyzer`] (English): title, content and tags for BM25 and phrases. Splits at
//!   anything that is not a letter or digit (`e-mail` is `e mail`), drops tokens longer than
//!   [`MAX_TOKEN_BYTES`], lower-cases, stems (Snowball English). No stop words.
//! - [`words_analyzer`]: the same without stemming, for typo-tolerant and prefix matching
//!   against the words as written.
//! - [`markdown_to_plain`]: item content is indexed, stored and snippeted as plain text.

use pulldown_cmark::{Event, Options, Parser, TagEnd};
use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, TextAnalyzer,
    TokenizerManager,
};

/// Name of the English analyzer in the index's tokenizer manager.
pub const TEXT_ANALYZER: &str = "pake_en";
/// Name of the unstemmed analyzer in the index's tokenizer manager.
pub const WORDS_ANALYZER: &str = "pake_words";
/// Tokens longer than this (in bytes) are not indexed.
pub const MAX_TOKEN_BYTES: usize = 40;

/// The English analyzer: split, drop long tokens, lower-case, stem.
pub fn text_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(Stemmer::new(Language::English))
        .build()
}

/// The unstemmed analyzer: [`text_analyzer`] without the stemmer, so its tokens correspond
/// one-to-one (same offsets and positions) to the English analyzer's.
pub fn words_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .build()
}

/// Registers both analyzers under their names.
pub(crate) fn register(manager: &TokenizerManager) {
    manager.register(TEXT_ANALYZER, text_analyzer());
    manager.register(WORDS_ANALYZER, words_analyzer());
}

/// One token of analysed text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AnalyzedToken {
    /// The analysed (for the English analyzer: stemmed) token.
    pub term: String,
    /// Byte range in the analysed text.
    pub from: usize,
    pub to: usize,
    /// Token position (gaps where a long token was dropped).
    pub position: usize,
}

/// Runs `analyzer` over `text`.
pub(crate) fn analyze(analyzer: &mut TextAnalyzer, text: &str) -> Vec<AnalyzedToken> {
    let mut tokens = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while let Some(token) = stream.next() {
        tokens.push(AnalyzedToken {
            term: token.text.clone(),
            from: token.offset_from,
            to: token.offset_to,
            position: token.position,
        });
    }
    tokens
}

fn push_text(out: &mut String, text: &str) {
    for c in text.chars() {
        if c.is_whitespace() {
            push_space(out);
        } else {
            out.push(c);
        }
    }
}

fn push_space(out: &mut String) {
    if !out.is_empty() && !out.ends_with(' ') {
        out.push(' ');
    }
}

/// Markdown (CommonMark with tables, task lists, footnotes and Obsidian wikilinks) to plain
/// text: markup and raw HTML removed, link and image text kept (`[[Note|alias]]` is `alias`),
/// block boundaries and runs of whitespace collapsed to one space, trimmed.
pub fn markdown_to_plain(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_WIKILINKS;
    let mut out = String::with_capacity(markdown.len());
    for event in Parser::new_ext(markdown, options) {
        match event {
            Event::Text(text)
            | Event::Code(text)
            | Event::InlineMath(text)
            | Event::DisplayMath(text) => push_text(&mut out, &text),
            Event::SoftBreak | Event::HardBreak | Event::Rule => push_space(&mut out),
            Event::End(
                TagEnd::Paragraph
                | TagEnd::Heading(_)
                | TagEnd::BlockQuote(_)
                | TagEnd::CodeBlock
                | TagEnd::HtmlBlock
                | TagEnd::List(_)
                | TagEnd::Item
                | TagEnd::FootnoteDefinition
                | TagEnd::Table
                | TagEnd::TableHead
                | TagEnd::TableRow
                | TagEnd::TableCell,
            ) => push_space(&mut out),
            _ => {}
        }
    }
    while out.ends_with(' ') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_analysis_stems_and_splits() {
        let tokens = analyze(&mut text_analyzer(), "Retrieval of E-mail, RETRIEVING it");
        let terms: Vec<&str> = tokens.iter().map(|t| t.term.as_str()).collect();
        assert_eq!(terms, vec!["retriev", "of", "e", "mail", "retriev", "it"]);
        assert_eq!((tokens[2].from, tokens[2].to), (13, 14));
        let raw = analyze(&mut words_analyzer(), "Retrieval of E-mail");
        assert_eq!(raw[0].term, "retrieval");
        assert_eq!(raw.len(), 4);
    }

    #[test]
    fn markdown_becomes_plain_text() {
        let md = "# Title\n\nSome *emphasis* and `code`, a [link](http://x.y) and [[Note|alias]] \
                  and [[Other]].\n\n- item one\n- item two\n\n```rust\nfn main() {}\n```\n\n\
                  <div>html</div>\n\n| a | b |\n|---|---|\n| c | d |\n";
        assert_eq!(
            markdown_to_plain(md),
            "Title Some emphasis and code, a link and alias and Other. item one item two \
             fn main() {} a b c d"
        );
        assert_eq!(markdown_to_plain("  "), "");
    }
}
