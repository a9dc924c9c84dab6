//! What import reads from a note's markdown body: the first `# ` heading (a title when the
//! frontmatter has none) and `#tags`, both outside fenced code blocks and inline code.

/// Whether the fenced-code state changes at `line`: the fence that opens a block (its character
/// and length), or `None` when `line` closes the open block.
fn fence(line: &str, open: Option<(char, usize)>) -> Option<Option<(char, usize)>> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let marker = line.trim_start_matches(' ');
    let run = |c: char| marker.chars().take_while(|&m| m == c).count();
    match open {
        None => ['`', '~'].into_iter().find_map(|c| {
            let length = run(c);
            let info_ok = c == '~' || !marker[length..].contains('`');
            (length >= 3 && info_ok).then_some(Some((c, length)))
        }),
        Some((c, length)) => {
            let closing = run(c);
            (closing >= length && marker[closing..].trim().is_empty()).then_some(None)
        }
    }
}

/// The lines of `body` outside fenced code blocks, without line endings.
fn prose_lines(body: &str) -> impl Iterator<Item = &str> {
    let mut open: Option<(char, usize)> = None;
    body.lines().filter_map(move |line| {
        let line = line.trim_end_matches('\r');
        if let Some(next) = fence(line, open) {
            open = next;
            return None;
        }
        open.is_none().then_some(line)
    })
}

/// The text of the first level-one ATX heading (`# Title`, closing `#`s removed), if any.
pub(crate) fn first_heading(body: &str) -> Option<String> {
    prose_lines(body).find_map(|line| {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let rest = line.trim_start_matches(' ').strip_prefix('#')?;
        if indent > 3 || !rest.starts_with([' ', '\t']) {
            return None;
        }
        let text = rest.trim();
        // A closing sequence is a run of `#` preceded by a space (or the whole text).
        let without_closing = text.trim_end_matches('#');
        let text = if without_closing.is_empty() || without_closing.ends_with([' ', '\t']) {
            without_closing.trim()
        } else {
            text
        };
        (!text.is_empty()).then(|| text.to_owned())
    })
}

fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '/')
}

/// Every `#tag` in `body`, in order (duplicates kept; the item's tag rules remove them): a `#`
/// at the start of a line or after whitespace, followed by letters, digits, `_`, `-` or `/`,
/// with at least one character that is not a digit (`#123` is not a tag), at most 128 bytes.
pub(crate) fn hashtags(body: &str) -> Vec<String> {
    let mut tags = Vec::new();
    for line in prose_lines(body) {
        let chars: Vec<(usize, char)> = line.char_indices().collect();
        let mut index = 0;
        while index < chars.len() {
            let (offset, c) = chars[index];
            if c == '`' {
                index = past_code_span(&chars, index);
                continue;
            }
            let after_space = index == 0 || chars[index - 1].1.is_whitespace();
            if c != '#' || !after_space {
                index += 1;
                continue;
            }
            let start = offset + 1;
            let length: usize = line[start..]
                .chars()
                .take_while(|&c| is_tag_char(c))
                .map(char::len_utf8)
                .sum();
            let tag = line[start..start + length].trim_end_matches('/');
            if !tag.is_empty() && tag.len() <= 128 && !tag.chars().all(|c| c.is_ascii_digit()) {
                tags.push(tag.to_owned());
            }
            index += 1 + line[start..start + length].chars().count();
        }
    }
    tags
}

/// The index after the inline code span whose backtick run starts at `start` (within the line),
/// or after the run when nothing closes it.
fn past_code_span(chars: &[(usize, char)], start: usize) -> usize {
    let run = |from: usize| chars[from..].iter().take_while(|(_, c)| *c == '`').count();
    let length = run(start);
    let mut index = start + length;
    while index < chars.len() {
        if chars[index].1 == '`' {
            let closing = run(index);
            if closing == length {
                return index + closing;
            }
            index += closing;
        } else {
            index += 1;
        }
    }
    start + length
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_h1_outside_code_is_the_heading() {
        assert_eq!(first_heading("intro\n# Title #\nx"), Some("Title".into()));
        assert_eq!(
            first_heading("```\n# not\n```\n# Yes\n"),
            Some("Yes".into())
        );
        assert_eq!(first_heading("## Two\n#NoSpace\n"), None);
        assert_eq!(first_heading("#   \n# C# Tips\r\n"), Some("C# Tips".into()));
    }

    #[test]
    fn hashtags_follow_whitespace_and_skip_code_and_links() {
        let body = "#start and #rust/async, not a#b or [[Note#Heading]] or `#code`\n\
                    # Heading\n#123 #y2024 #café #trailing/\n```\n#fenced\n```\n~~~\n#tilde\n~~~";
        assert_eq!(
            hashtags(body),
            vec!["start", "rust/async", "y2024", "café", "trailing"]
        );
    }
}
