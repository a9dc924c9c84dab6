//! The YAML frontmatter block of a note: finding it (between `---` lines at the very top, CRLF
//! line endings and a UTF-8 byte-order mark allowed), parsing it with `serde_norway` into a
//! mapping, and writing one.

use serde_norway::{Mapping, Value};

/// A note split into its frontmatter and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Split<'a> {
    /// The YAML between the delimiter lines; `None` without a frontmatter block.
    pub yaml: Option<&'a str>,
    /// Everything after the closing delimiter line (the whole text without a block).
    pub body: &'a str,
}

/// The first line of `text` (without its line ending) and the offset after it.
fn first_line(text: &str) -> (&str, usize) {
    match text.find('\n') {
        Some(end) => (text[..end].trim_end_matches('\r'), end + 1),
        None => (text, text.len()),
    }
}

/// Splits `text` (the file without a byte-order mark) into frontmatter and body. A file whose
/// first line is `---` must close the block with a `---` (or `...`) line.
pub(crate) fn split(text: &str) -> Result<Split<'_>, String> {
    let (opening, mut offset) = first_line(text);
    if opening.trim_end() != "---" {
        return Ok(Split {
            yaml: None,
            body: text,
        });
    }
    let yaml_start = offset;
    while offset < text.len() {
        let (line, next) = first_line(&text[offset..]);
        if matches!(line.trim_end(), "---" | "...") {
            return Ok(Split {
                yaml: Some(&text[yaml_start..offset]),
                body: &text[offset + next..],
            });
        }
        offset += next;
    }
    Err("malformed frontmatter at line 1: the `---` block is never closed by a `---` line".into())
}

/// Parses the frontmatter YAML into a mapping (empty for an empty block). Errors name the line
/// of the file (the opening `---` is line 1).
pub(crate) fn parse(yaml: &str) -> Result<Mapping, String> {
    let value: Value = serde_norway::from_str(yaml).map_err(|error| {
        let text = error.to_string();
        // The library appends its own (block-relative) position; the file's line replaces it.
        let text = text.split(" at line ").next().unwrap_or(&text).to_owned();
        match error.location() {
            Some(location) => format!(
                "malformed frontmatter at line {}: {text}",
                location.line() + 1
            ),
            None => format!("malformed frontmatter: {text}"),
        }
    })?;
    match value {
        Value::Null => Ok(Mapping::new()),
        Value::Mapping(mapping) => Ok(mapping),
        Value::Tagged(tagged) => match tagged.value {
            Value::Mapping(mapping) => Ok(mapping),
            _ => Err("malformed frontmatter: it must be a mapping of keys to values".into()),
        },
        _ => Err("malformed frontmatter: it must be a mapping of keys to values".into()),
    }
}

/// `---`, the mapping as YAML, `---`, each line ending in `\n`.
pub(crate) fn emit(mapping: Mapping) -> Result<String, serde_norway::Error> {
    let yaml = serde_norway::to_string(&Value::Mapping(mapping))?;
    Ok(format!("---\n{yaml}---\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_block_is_found_with_lf_and_crlf_and_only_at_the_top() {
        let split_lf = split("---\ntitle: A\n---\n# Body\n").expect("lf");
        assert_eq!(split_lf.yaml, Some("title: A\n"));
        assert_eq!(split_lf.body, "# Body\n");
        let split_crlf = split("---\r\ntitle: A\r\n---\r\nBody\r\n").expect("crlf");
        assert_eq!(split_crlf.yaml, Some("title: A\r\n"));
        assert_eq!(split_crlf.body, "Body\r\n");
        let closed_by_dots = split("---\na: 1\n...\nrest").expect("dots");
        assert_eq!(closed_by_dots.body, "rest");
        let at_end = split("---\na: 1\n---").expect("no body");
        assert_eq!(at_end.body, "");
        let none = split("text\n---\na: 1\n---\n").expect("not at top");
        assert_eq!(none.yaml, None);
        assert!(split("---\na: 1\nno end\n").is_err());
    }

    #[test]
    fn parse_errors_name_the_file_line() {
        let error = parse("title: A\ntags: [a, b\nother: x\n").expect_err("unclosed flow");
        assert!(
            error.starts_with("malformed frontmatter at line "),
            "{error}"
        );
        let error = parse("a: 1\nb: : 2\n").expect_err("bad mapping");
        assert!(error.contains("at line 3"), "{error}");
        let error = parse("a: 1\na: 2\n").expect_err("duplicate key");
        assert!(error.contains("duplicate"), "{error}");
        assert!(parse("- a\n- b\n").is_err(), "a list is not a mapping");
        assert!(parse("").expect("empty").is_empty());
    }
}
