//! Inline markdown links (`[text](destination "title")`, CommonMark) whose destination is a
//! relative path to a note: it ends in `.md` and has no scheme (`https:`, `mailto:`, …).

use pake_api::knowledge::LinkType;

use super::{KeyKind, MAX_TEXT, ParsedLink, paragraph_ends_after, strip_md};

/// The inline link whose `[` is at `start`: the offset after its `)` and the link, `None` for a
/// link that does not point at a note. `None` overall when there is no inline link at `start`.
pub(super) fn link(text: &str, start: usize) -> Option<(usize, Option<ParsedLink>)> {
    let bytes = text.as_bytes();
    let close = link_text_end(text, start)?;
    let mut i = close + 1;
    if bytes.get(i) != Some(&b'(') {
        return None;
    }
    i = skip_blank(text, i + 1);
    let (destination, after) = if bytes.get(i) == Some(&b'<') {
        let end = text[i + 1..].find(['>', '<', '\n'])? + i + 1;
        if bytes[end] != b'>' {
            return None;
        }
        (&text[i + 1..end], end + 1)
    } else {
        let begin = i;
        let mut parens = 0_usize;
        loop {
            match *bytes.get(i)? {
                b'\\' => i += 2,
                b'(' => {
                    parens += 1;
                    i += 1;
                }
                b')' if parens == 0 => break,
                b')' => {
                    parens -= 1;
                    i += 1;
                }
                b if b.is_ascii_whitespace() || b.is_ascii_control() => break,
                _ => i += 1,
            }
        }
        (text.get(begin..i)?, i)
    };
    i = skip_blank(text, after);
    if let Some(&quote) = bytes.get(i).filter(|b| matches!(b, b'"' | b'\'' | b'(')) {
        let closer = if quote == b'(' {
            ')'
        } else {
            char::from(quote)
        };
        i = text[i + 1..].find(closer)? + i + 2;
        i = skip_blank(text, i);
    }
    if bytes.get(i) != Some(&b')') {
        return None;
    }
    Some((i + 1, note_link(destination)))
}

/// The offset of the `]` closing the link text that opens at `start`: brackets balance,
/// backslash escapes, and the text stays within its paragraph.
fn link_text_end(text: &str, start: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0_usize;
    let mut i = start;
    loop {
        match *bytes.get(i)? {
            b'\\' => i += 1,
            b'[' => depth += 1,
            b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            b'\n' if paragraph_ends_after(text, i) => return None,
            _ => {}
        }
        i += 1;
    }
}

/// Past spaces and tabs and at most one line ending.
fn skip_blank(text: &str, start: usize) -> usize {
    let bytes = text.as_bytes();
    let mut i = start;
    let mut newline = false;
    while let Some(&b) = bytes.get(i) {
        match b {
            b' ' | b'\t' | b'\r' => i += 1,
            b'\n' if !newline => {
                newline = true;
                i += 1;
            }
            _ => break,
        }
    }
    i
}

/// The link to a note that `destination` names, if it does.
fn note_link(destination: &str) -> Option<ParsedLink> {
    let unescaped = unescape(destination);
    let (path, fragment) = match unescaped.split_once('#') {
        Some((path, fragment)) => (path, Some(fragment)),
        None => (unescaped.as_str(), None),
    };
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path.starts_with("//") || has_scheme(path) {
        return None;
    }
    let path = percent_decode(path)?;
    let last_segment = path.rsplit('/').next().unwrap_or_default();
    let stem = strip_md(last_segment);
    if stem.len() == last_segment.len() || stem.trim().is_empty() {
        return None;
    }
    let text = match fragment {
        Some(fragment) => format!("{path}#{}", percent_decode(fragment)?),
        None => path.clone(),
    };
    if text.len() > MAX_TEXT {
        return None;
    }
    Some(ParsedLink {
        link_type: LinkType::Markdown,
        keys: vec![
            KeyKind::Title.key(stem),
            KeyKind::File.key(stem),
            KeyKind::Alias.key(stem),
        ],
        text,
    })
}

/// `scheme:` as RFC 3986 spells it (a letter, then letters, digits, `+`, `-`, `.`).
fn has_scheme(path: &str) -> bool {
    path.split_once(':').is_some_and(|(scheme, _)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
}

/// Backslash escapes of ASCII punctuation removed.
fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match chars.peek() {
            Some(&next) if c == '\\' && next.is_ascii_punctuation() => {
                out.push(next);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// `%XX` sequences decoded (others kept as they are); `None` if the result is not UTF-8.
pub(crate) fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|b| char::from(*b).to_digit(16));
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(high), Some(low)) => {
                out.push(u8::try_from(high * 16 + low).ok()?);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}
