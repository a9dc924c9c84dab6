//! The PAKE query language: splitting text into terms and classifying them. Text analysis
//! (tokenising words, stemming) happens later, in `compile`.

/// Longest accepted query, in bytes.
pub const MAX_QUERY_BYTES: usize = 1024;
/// Most terms (words, phrases, filters and exclusions together) in one query.
pub const MAX_QUERY_TERMS: usize = 64;
/// Values of the `kind:` filter.
pub const KINDS: &[&str] = &["note", "project", "resource", "daily", "system"];
/// Values of the `status:` filter.
pub const STATUSES: &[&str] = &["draft", "processing", "verified", "archived"];

/// A malformed query: `offset` is the UTF-8 byte offset of the offending term.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at byte {offset})")]
pub struct QueryError {
    pub offset: usize,
    pub message: String,
}

/// A word term, as typed (not yet split at punctuation or stemmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    /// Byte offset of the term in the query.
    pub offset: usize,
    /// The query ends in this word (no whitespace after it): it is also matched as a prefix.
    pub prefix: bool,
}

/// A `tag:` filter value, lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagMatch {
    Exact(String),
    /// The last term of a query that does not end in whitespace: tags beginning with it.
    Prefix(String),
}

/// A query split into its parts. Kinds and statuses are resolved to the known values (a prefix
/// in the last term expands to every value it begins).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedQuery {
    pub words: Vec<Word>,
    pub phrases: Vec<String>,
    pub excluded_words: Vec<String>,
    pub excluded_phrases: Vec<String>,
    /// All must hold.
    pub tags: Vec<TagMatch>,
    pub excluded_tags: Vec<TagMatch>,
    /// Any of (empty: no filter).
    pub kinds: Vec<String>,
    pub excluded_kinds: Vec<String>,
    /// Any of (empty: no filter).
    pub statuses: Vec<String>,
    pub excluded_statuses: Vec<String>,
}

impl ParsedQuery {
    /// Whether the query has words or phrases (and so is ranked by score).
    pub fn has_text(&self) -> bool {
        !self.words.is_empty() || !self.phrases.is_empty()
    }
}

enum Body<'a> {
    Phrase(&'a str),
    Plain(&'a str),
}

struct RawTerm<'a> {
    offset: usize,
    end: usize,
    negated: bool,
    body: Body<'a>,
}

fn lex(text: &str) -> Vec<RawTerm<'_>> {
    let mut terms = Vec::new();
    let mut i = 0;
    while let Some(c) = text[i..].chars().next() {
        if c.is_whitespace() {
            i += c.len_utf8();
            continue;
        }
        let offset = i;
        let mut negated = false;
        if c == '-' {
            i += 1;
            match text[i..].chars().next() {
                // A `-` not followed by a term is ignored.
                None => break,
                Some(next) if next.is_whitespace() => continue,
                Some(_) => negated = true,
            }
        }
        if let Some(rest) = text[i..].strip_prefix('"') {
            let start = i + 1;
            let (phrase, end) = match rest.find('"') {
                Some(close) => (&rest[..close], start + close + 1),
                // A quote left open runs to the end of the query.
                None => (rest, text.len()),
            };
            terms.push(RawTerm {
                offset,
                end,
                negated,
                body: Body::Phrase(phrase),
            });
            i = end;
        } else {
            let end = text[i..]
                .find(char::is_whitespace)
                .map_or(text.len(), |n| i + n);
            terms.push(RawTerm {
                offset,
                end,
                negated,
                body: Body::Plain(&text[i..end]),
            });
            i = end;
        }
    }
    terms
}

#[derive(Clone, Copy)]
enum Field {
    Tag,
    Kind,
    Status,
}

fn filter_field(name: &str) -> Option<Field> {
    match name.to_ascii_lowercase().as_str() {
        "tag" => Some(Field::Tag),
        "kind" => Some(Field::Kind),
        "status" => Some(Field::Status),
        _ => None,
    }
}

fn error(offset: usize, message: impl Into<String>) -> QueryError {
    QueryError {
        offset,
        message: message.into(),
    }
}

/// Resolves a `kind:` / `status:` value against `known` (as a prefix when `prefix`).
fn resolve(
    known: &[&str],
    field: &str,
    value: &str,
    prefix: bool,
    offset: usize,
) -> Result<Vec<String>, QueryError> {
    let values: Vec<String> = known
        .iter()
        .filter(|k| {
            if prefix {
                k.starts_with(value)
            } else {
                **k == value
            }
        })
        .map(|k| (*k).to_owned())
        .collect();
    if values.is_empty() {
        return Err(error(
            offset,
            format!(
                "unknown {field} `{value}`: expected one of {}",
                known.join(", ")
            ),
        ));
    }
    Ok(values)
}

/// Parses query-language text (see `SearchRequest.query` in the search contract).
pub fn parse_query(text: &str) -> Result<ParsedQuery, QueryError> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(error(
            MAX_QUERY_BYTES,
            format!("query is longer than {MAX_QUERY_BYTES} bytes"),
        ));
    }
    let terms = lex(text);
    if let Some(term) = terms.get(MAX_QUERY_TERMS) {
        return Err(error(
            term.offset,
            format!("query has more than {MAX_QUERY_TERMS} terms"),
        ));
    }
    let mut parsed = ParsedQuery::default();
    let count = terms.len();
    for (index, term) in terms.into_iter().enumerate() {
        let is_last = index + 1 == count;
        // Search as you type: the last term, when nothing (not even whitespace) follows it.
        let at_end = is_last && term.end == text.len();
        let plain = match term.body {
            Body::Phrase(phrase) => {
                let target = if term.negated {
                    &mut parsed.excluded_phrases
                } else {
                    &mut parsed.phrases
                };
                if !phrase.trim().is_empty() {
                    target.push(phrase.to_owned());
                }
                continue;
            }
            Body::Plain(plain) => plain,
        };
        let filter = plain
            .split_once(':')
            .and_then(|(name, value)| filter_field(name).map(|field| (field, value)));
        let Some((field, value)) = filter else {
            if term.negated {
                parsed.excluded_words.push(plain.to_owned());
            } else {
                parsed.words.push(Word {
                    text: plain.to_owned(),
                    offset: term.offset,
                    prefix: at_end,
                });
            }
            continue;
        };
        if value.is_empty() {
            if is_last {
                continue;
            }
            return Err(error(
                term.offset,
                format!("empty filter value in `{plain}`"),
            ));
        }
        let value = value.to_lowercase();
        match field {
            Field::Tag => {
                let tag = if at_end {
                    TagMatch::Prefix(value)
                } else {
                    TagMatch::Exact(value)
                };
                if term.negated {
                    parsed.excluded_tags.push(tag);
                } else {
                    parsed.tags.push(tag);
                }
            }
            Field::Kind => {
                let kinds = resolve(KINDS, "kind", &value, at_end, term.offset)?;
                if term.negated {
                    parsed.excluded_kinds.extend(kinds);
                } else {
                    parsed.kinds.extend(kinds);
                }
            }
            Field::Status => {
                let statuses = resolve(STATUSES, "status", &value, at_end, term.offset)?;
                if term.negated {
                    parsed.excluded_statuses.extend(statuses);
                } else {
                    parsed.statuses.extend(statuses);
                }
            }
        }
    }
    for list in [
        &mut parsed.kinds,
        &mut parsed.excluded_kinds,
        &mut parsed.statuses,
        &mut parsed.excluded_statuses,
    ] {
        list.sort();
        list.dedup();
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(parsed: &ParsedQuery) -> Vec<(&str, bool)> {
        parsed
            .words
            .iter()
            .map(|w| (w.text.as_str(), w.prefix))
            .collect()
    }

    #[test]
    fn words_phrases_and_exclusions() {
        let q = parse_query(r#"borrow checker "lifetime elision" tag:Rust -status:archived"#)
            .expect("valid query");
        assert_eq!(words(&q), vec![("borrow", false), ("checker", false)]);
        assert_eq!(q.phrases, vec!["lifetime elision"]);
        assert_eq!(q.tags, vec![TagMatch::Exact("rust".into())]);
        assert_eq!(q.excluded_statuses, vec!["archived"]);
        assert!(q.has_text());

        let q = parse_query(r#"-draft -"work in progress" -tag:old -kind:daily rust "#)
            .expect("valid query");
        assert_eq!(q.excluded_words, vec!["draft"]);
        assert_eq!(q.excluded_phrases, vec!["work in progress"]);
        assert_eq!(q.excluded_tags, vec![TagMatch::Exact("old".into())]);
        assert_eq!(q.excluded_kinds, vec!["daily"]);
        // The query ends in whitespace: no prefix.
        assert_eq!(words(&q), vec![("rust", false)]);
    }

    #[test]
    fn last_word_is_a_prefix_unless_followed_by_whitespace() {
        assert_eq!(
            words(&parse_query("rust asy").expect("valid query")),
            vec![("rust", false), ("asy", true)]
        );
        assert_eq!(
            words(&parse_query("rust asy ").expect("valid query"))[1],
            ("asy", false)
        );
        // A trailing lone `-` is ignored but the word before it is not being typed.
        assert_eq!(
            words(&parse_query("rust -").expect("valid query")),
            vec![("rust", false)]
        );
        // Exclusions are never prefixes.
        let q = parse_query("rust -asy").expect("valid query");
        assert_eq!(q.excluded_words, vec!["asy"]);
    }

    #[test]
    fn filters() {
        let q =
            parse_query("KIND:note kind:Project Status:draft tag:a tag:B x").expect("valid query");
        assert_eq!(q.kinds, vec!["note", "project"]);
        assert_eq!(q.statuses, vec!["draft"]);
        assert_eq!(
            q.tags,
            vec![TagMatch::Exact("a".into()), TagMatch::Exact("b".into())]
        );
        // Prefix on the last filter; empty last filter ignored.
        assert_eq!(
            parse_query("kind:pro").expect("valid query").kinds,
            vec!["project"]
        );
        assert_eq!(
            parse_query("status:").expect("valid query"),
            ParsedQuery::default()
        );
        assert_eq!(parse_query("x tag:").expect("valid query").tags, vec![]);
        // Unknown field: ordinary words.
        assert_eq!(
            words(&parse_query("foo:bar").expect("valid query")),
            vec![("foo:bar", true)]
        );
    }

    #[test]
    fn phrases() {
        let q = parse_query(r#""open quote runs to the end"#).expect("valid query");
        assert_eq!(q.phrases, vec!["open quote runs to the end"]);
        let q = parse_query(r#""a b"c "" -"#).expect("valid query");
        assert_eq!(q.phrases, vec!["a b"]);
        assert_eq!(words(&q), vec![("c", false)]);
        assert!(!parse_query("").expect("valid query").has_text());
    }

    #[test]
    fn errors_carry_offsets() {
        let e = parse_query("rust kind:nope").expect_err("invalid query");
        assert_eq!(e.offset, 5);
        assert!(e.message.contains("unknown kind"), "{e}");
        let e = parse_query("a -status:gone b").expect_err("invalid query");
        assert_eq!(e.offset, 2);
        // A prefix that begins no value is still unknown.
        assert_eq!(
            parse_query("ab kind:zz").expect_err("invalid query").offset,
            3
        );
        let e = parse_query("é tag: rust").expect_err("invalid query");
        assert_eq!(e.offset, 3);
        assert!(e.message.contains("empty filter value"));
        let long = "a".repeat(MAX_QUERY_BYTES + 1);
        assert_eq!(
            parse_query(&long).expect_err("invalid query").offset,
            MAX_QUERY_BYTES
        );
        let many = "w ".repeat(MAX_QUERY_TERMS + 1);
        assert_eq!(
            parse_query(&many).expect_err("invalid query").offset,
            2 * MAX_QUERY_TERMS
        );
        assert!(parse_query(&"w ".repeat(MAX_QUERY_TERMS)).is_ok());
    }
}
