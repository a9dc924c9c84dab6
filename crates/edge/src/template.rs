//! `google.api.http` path templates: parsing and matching.
//!
//! ```text
//! Template = "/" Segments [ Verb ] ;
//! Segments = Segment { "/" Segment } ;
//! Segment  = "*" | "**" | LITERAL | Variable ;
//! Variable = "{" FieldPath [ "=" Segments ] "}" ;
//! FieldPath = IDENT { "." IDENT } ;
//! Verb     = ":" LITERAL ;
//! ```
//!
//! A template is flattened into segments (literal, `*`, `**`) plus the variables that capture a
//! range of them. Matching decodes each path segment on its own, so `%2F` never splits a
//! segment: inside a single-segment variable (`{id}`, `{id=*}`) it becomes `/` in the value;
//! inside a multi-segment variable (`{name=items/*}`, `{path=**}`) it stays `%2F`, as the
//! `google.api.http` spec says for reserved expansion.

use percent_encoding::percent_decode_str;

/// One segment of a template.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Segment {
    /// Matches exactly this (decoded) text.
    Literal(String),
    /// Matches any one non-empty segment.
    Star,
    /// Matches zero or more segments; only last.
    DoubleStar,
}

/// A variable binding a request field to segments `start..end` (`end` `None`: through a `**`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variable {
    /// The request field path, e.g. `["item", "name"]`.
    pub field_path: Vec<String>,
    /// First segment captured.
    pub start: usize,
    /// One past the last segment captured, or `None` when it ends with `**`.
    pub end: Option<usize>,
}

/// A parsed path template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    /// The segments, flattened.
    pub segments: Vec<Segment>,
    /// The variables over them.
    pub variables: Vec<Variable>,
    /// The custom verb (`:verify`), if any.
    pub verb: Option<String>,
    /// The template as written.
    pub source: String,
}

/// A template that does not follow the grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("path template {template:?}: {message}")]
pub struct ParseError {
    template: String,
    message: String,
}

/// The values captured by a successful match: `(field path, value)`.
pub type Captures = Vec<(Vec<String>, String)>;

/// Why a path that has the template's shape still cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("path segment {segment:?} is not valid percent-encoded UTF-8")]
pub struct DecodeError {
    /// The offending raw segment.
    pub segment: String,
}

impl Template {
    /// Parses `template` (e.g. `/v1/{name=items/*}:verify`).
    pub fn parse(template: &str) -> Result<Template, ParseError> {
        Parser {
            text: template,
            position: 0,
            segments: Vec::new(),
            variables: Vec::new(),
        }
        .parse()
        .map_err(|message| ParseError {
            template: template.to_owned(),
            message,
        })
    }

    /// Matches a raw (still percent-encoded) request path, without its query. `Ok(None)`: the
    /// path has another shape; `Err`: it has this shape but a segment does not decode.
    pub fn match_path(&self, raw_path: &str) -> Result<Option<Captures>, DecodeError> {
        let Some(rest) = raw_path.strip_prefix('/') else {
            return Ok(None);
        };
        let rest = match &self.verb {
            Some(verb) => match rest
                .strip_suffix(verb.as_str())
                .and_then(|r| r.strip_suffix(':'))
            {
                Some(rest) => rest,
                None => return Ok(None),
            },
            None => rest,
        };
        let raw: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/').collect()
        };
        let ends_with_double_star = matches!(self.segments.last(), Some(Segment::DoubleStar));
        let fixed = self.segments.len() - usize::from(ends_with_double_star);
        if raw.len() < fixed || (!ends_with_double_star && raw.len() != fixed) {
            return Ok(None);
        }
        for (segment, raw_segment) in self.segments.iter().zip(&raw) {
            match segment {
                Segment::Literal(literal) => {
                    if decode(raw_segment, true)? != *literal {
                        return Ok(None);
                    }
                }
                Segment::Star => {
                    if raw_segment.is_empty() {
                        return Ok(None);
                    }
                }
                Segment::DoubleStar => {}
            }
        }
        let mut captures = Vec::with_capacity(self.variables.len());
        for variable in &self.variables {
            let end = variable.end.unwrap_or(raw.len());
            let parts = &raw[variable.start..end];
            let single = end - variable.start == 1
                && matches!(self.segments.get(variable.start), Some(Segment::Star));
            let value = if single {
                decode(parts[0], true)?
            } else {
                let decoded: Result<Vec<String>, DecodeError> =
                    parts.iter().map(|part| decode(part, false)).collect();
                decoded?.join("/")
            };
            captures.push((variable.field_path.clone(), value));
        }
        Ok(Some(captures))
    }

    /// Precedence key: per segment 0 literal, 1 `*`, 2 `**`; smaller sorts first (wins).
    pub fn precedence(&self) -> Vec<u8> {
        self.segments
            .iter()
            .map(|segment| match segment {
                Segment::Literal(_) => 0,
                Segment::Star => 1,
                Segment::DoubleStar => 2,
            })
            .collect()
    }
}

/// Percent-decodes one segment; `%2F`/`%2f` is kept encoded unless `decode_slash`.
fn decode(segment: &str, decode_slash: bool) -> Result<String, DecodeError> {
    let error = || DecodeError {
        segment: segment.to_owned(),
    };
    if decode_slash || !segment.contains('%') {
        return percent_decode_str(segment)
            .decode_utf8()
            .map(|value| value.into_owned())
            .map_err(|_| error());
    }
    let mut out = String::with_capacity(segment.len());
    for (index, piece) in split_keeping_slashes(segment).into_iter().enumerate() {
        if index % 2 == 1 {
            out.push_str(piece);
        } else {
            out.push_str(
                &percent_decode_str(piece)
                    .decode_utf8()
                    .map_err(|_| error())?,
            );
        }
    }
    Ok(out)
}

/// Splits around every `%2F`/`%2f`: even items are text, odd items the escapes themselves.
fn split_keeping_slashes(segment: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let bytes = segment.as_bytes();
    let mut index = 0;
    while index + 3 <= bytes.len() {
        if &bytes[index..index + 2] == b"%2" && matches!(bytes[index + 2], b'F' | b'f') {
            pieces.push(&segment[start..index]);
            pieces.push(&segment[index..index + 3]);
            index += 3;
            start = index;
        } else {
            index += 1;
        }
    }
    pieces.push(&segment[start..]);
    pieces
}

struct Parser<'a> {
    text: &'a str,
    position: usize,
    segments: Vec<Segment>,
    variables: Vec<Variable>,
}

impl Parser<'_> {
    fn parse(mut self) -> Result<Template, String> {
        if !self.eat('/') {
            return Err("must start with '/'".to_owned());
        }
        self.segments_until(|c| c == ':' || c == '\0', false)?;
        let verb = if self.eat(':') {
            let verb = self.literal()?;
            if verb.is_empty() {
                return Err("empty verb after ':'".to_owned());
            }
            Some(verb)
        } else {
            None
        };
        if self.position != self.text.len() {
            return Err(format!("unexpected text at byte {}", self.position));
        }
        if let Some(index) = self
            .segments
            .iter()
            .position(|segment| *segment == Segment::DoubleStar)
            && index + 1 != self.segments.len()
        {
            return Err("'**' must be the last segment".to_owned());
        }
        Ok(Template {
            segments: self.segments,
            variables: self.variables,
            verb,
            source: self.text.to_owned(),
        })
    }

    fn peek(&self) -> char {
        self.text[self.position..].chars().next().unwrap_or('\0')
    }

    fn eat(&mut self, expected: char) -> bool {
        if self.peek() == expected && expected != '\0' {
            self.position += expected.len_utf8();
            true
        } else {
            false
        }
    }

    /// Segments separated by '/', stopping before a char for which `stop` holds.
    fn segments_until(&mut self, stop: fn(char) -> bool, in_variable: bool) -> Result<(), String> {
        loop {
            match self.peek() {
                '*' => {
                    self.position += 1;
                    if self.eat('*') {
                        self.segments.push(Segment::DoubleStar);
                    } else {
                        self.segments.push(Segment::Star);
                    }
                }
                '{' if !in_variable => self.variable()?,
                '{' => return Err("variables cannot be nested".to_owned()),
                _ => {
                    let literal = self.literal()?;
                    if literal.is_empty() {
                        return Err(format!("empty segment at byte {}", self.position));
                    }
                    self.segments.push(Segment::Literal(literal));
                }
            }
            if stop(self.peek()) {
                return Ok(());
            }
            if !self.eat('/') {
                return Err(format!(
                    "expected '/' at byte {}, found {:?}",
                    self.position,
                    self.peek()
                ));
            }
        }
    }

    fn variable(&mut self) -> Result<(), String> {
        self.eat('{');
        let start_byte = self.position;
        while self.peek().is_ascii_alphanumeric() || matches!(self.peek(), '_' | '.') {
            self.position += 1;
        }
        let path_text = &self.text[start_byte..self.position];
        let field_path: Vec<String> = path_text.split('.').map(str::to_owned).collect();
        if field_path
            .iter()
            .any(|part| part.is_empty() || part.starts_with(|c: char| c.is_ascii_digit()))
        {
            return Err(format!("invalid field path {path_text:?} in a variable"));
        }
        if self.variables.iter().any(|v| v.field_path == field_path) {
            return Err(format!("variable {path_text:?} appears twice"));
        }
        let start = self.segments.len();
        if self.eat('=') {
            self.segments_until(|c| c == '}', true)?;
        } else {
            self.segments.push(Segment::Star);
        }
        if !self.eat('}') {
            return Err(format!("expected '}}' at byte {}", self.position));
        }
        let end = match self.segments.last() {
            Some(Segment::DoubleStar) => None,
            _ => Some(self.segments.len()),
        };
        self.variables.push(Variable {
            field_path,
            start,
            end,
        });
        Ok(())
    }

    fn literal(&mut self) -> Result<String, String> {
        let start = self.position;
        loop {
            let c = self.peek();
            if matches!(c, '/' | '{' | '}' | '*' | ':' | '=' | '\0') {
                break;
            }
            if !(c.is_ascii_alphanumeric() || "-_.~%!$&'()+,;@".contains(c)) {
                return Err(format!("invalid character {c:?} at byte {}", self.position));
            }
            self.position += c.len_utf8();
        }
        percent_decode_str(&self.text[start..self.position])
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| "literal is not valid percent-encoded UTF-8".to_owned())
    }
}

#[cfg(test)]
#[path = "template_tests.rs"]
mod tests;
