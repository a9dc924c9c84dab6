//! Text analysis, configured in this one place so it can be measured and changed.
//!
//! - The English analyzer ([`Analysis::text_analyzer`]): title, content and tags for BM25 and
//!   phrases. Splits at anything that is not a letter or digit (`e-mail` is `e mail`), drops
//!   tokens longer than [`MAX_TOKEN_BYTES`], lower-cases, then — as [`Analysis`] says — drops
//!   English stop words and stems (Snowball English). The default was chosen by measurement on
//!   the Cranfield collection (`pake-eval --sweep`, docs/search.md).
//! - [`words_analyzer`]: split, drop long tokens, lower-case; no stop words, no stemming: for
//!   typo-tolerant and prefix matching against the words as written, and for Suggest.
//! - [`markdown_to_plain`]: item content is indexed, stored and snippeted as plain text.
//!
//! The index schema refers to the analyzers by name, and the names carry
//! [`ANALYSIS_VERSION`] and the [`Analysis`] options: an index built with any other analysis
//! has another schema, so opening it reports it as incompatible and it is rebuilt. Bump the
//! version whenever what an analyzer does changes.

use pulldown_cmark::{Event, Options, Parser, TagEnd};
use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer,
    TokenizerManager,
};

/// Version of the analyzers' behaviour, part of their names in the index schema.
pub const ANALYSIS_VERSION: u32 = 2;
/// Tokens longer than this (in bytes) are not indexed.
pub const MAX_TOKEN_BYTES: usize = 40;

/// How the English text fields are analysed. Fixed when an index is created (an index built
/// with other options is incompatible and rebuilt); [`Analysis::default`] is what the service
/// uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Analysis {
    /// Snowball English stemming (`retrieving` and `retrieval` are `retriev`).
    pub stemming: bool,
    /// Drop English stop words (tantivy's list, Lucene's 33 words: `a`, `the`, `of`, ...).
    pub stop_words: bool,
}

impl Default for Analysis {
    /// Stemming and stop words: the best of the four on Cranfield's odd queries with the
    /// allowed boosts (`pake-eval --sweep`, docs/search.md).
    fn default() -> Self {
        Analysis {
            stemming: true,
            stop_words: true,
        }
    }
}

impl Analysis {
    /// Name of the English analyzer in the schema and the tokenizer manager.
    pub fn text_analyzer_name(&self) -> String {
        format!(
            "pake_en_v{ANALYSIS_VERSION}{}{}",
            if self.stemming { "_stem" } else { "" },
            if self.stop_words { "_stop" } else { "" }
        )
    }

    /// Name of the unstemmed analyzer in the schema and the tokenizer manager.
    pub fn words_analyzer_name(&self) -> String {
        format!("pake_words_v{ANALYSIS_VERSION}")
    }

    /// The English analyzer: split, drop long tokens, lower-case, then drop stop words and stem
    /// as configured. Positions are those of [`words_analyzer`] (a dropped stop word leaves a
    /// gap), and so are the offsets.
    pub fn text_analyzer(&self) -> TextAnalyzer {
        let mut builder = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
            .filter(LowerCaser)
            .dynamic();
        if self.stop_words {
            // Compiled in with tantivy's default `stopwords` feature.
            if let Some(stop_words) = StopWordFilter::new(Language::English) {
                builder = builder.filter_dynamic(stop_words);
            }
        }
        if self.stemming {
            builder = builder.filter_dynamic(Stemmer::new(Language::English));
        }
        builder.build()
    }

    /// Registers both analyzers under their names.
    pub(crate) fn register(&self, manager: &TokenizerManager) {
        manager.register(&self.text_analyzer_name(), self.text_analyzer());
        manager.register(&self.words_analyzer_name(), words_analyzer());
    }
}

/// The default English analyzer ([`Analysis::default`]).
pub fn text_analyzer() -> TextAnalyzer {
    Analysis::default().text_analyzer()
}

/// The unstemmed analyzer: split, drop long tokens, lower-case. Its tokens have the same
/// offsets and positions as the English analyzer's, which has fewer when it drops stop words.
pub fn words_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .build()
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
        let stemming = Analysis {
            stemming: true,
            stop_words: false,
        };
        let tokens = analyze(
            &mut stemming.text_analyzer(),
            "Retrieval of E-mail, RETRIEVING it",
        );
        let terms: Vec<&str> = tokens.iter().map(|t| t.term.as_str()).collect();
        assert_eq!(terms, vec!["retriev", "of", "e", "mail", "retriev", "it"]);
        assert_eq!((tokens[2].from, tokens[2].to), (13, 14));
        // The default also drops stop words.
        let tokens = analyze(&mut text_analyzer(), "Retrieval of E-mail, RETRIEVING it");
        let terms: Vec<&str> = tokens.iter().map(|t| t.term.as_str()).collect();
        assert_eq!(terms, vec!["retriev", "e", "mail", "retriev"]);
        let raw = analyze(&mut words_analyzer(), "Retrieval of E-mail");
        assert_eq!(raw[0].term, "retrieval");
        assert_eq!(raw.len(), 4);
    }

    #[test]
    fn stop_words_are_dropped_leaving_position_gaps() {
        let analysis = Analysis {
            stemming: false,
            stop_words: true,
        };
        let tokens = analyze(&mut analysis.text_analyzer(), "Angle of the attacks");
        let terms: Vec<(&str, usize)> = tokens
            .iter()
            .map(|t| (t.term.as_str(), t.position))
            .collect();
        assert_eq!(terms, vec![("angle", 0), ("attacks", 3)]);
        assert_eq!((tokens[1].from, tokens[1].to), (13, 20));
    }

    #[test]
    fn every_analysis_has_its_own_analyzer_name() {
        let mut names = std::collections::HashSet::new();
        for stemming in [false, true] {
            for stop_words in [false, true] {
                let analysis = Analysis {
                    stemming,
                    stop_words,
                };
                assert!(names.insert(analysis.text_analyzer_name()), "{analysis:?}");
            }
        }
        assert!(Analysis::default().text_analyzer_name().contains("_v2"));
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
