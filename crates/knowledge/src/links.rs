//! Links in an item's content, and the keys items answer to (docs/knowledge.md, "Links").
//!
//! [`parse`] finds wikilinks (`[[Title]]`, `[[Title|alias]]`, `[[Title#Heading]]`,
//! `[[items/ID]]`), embeds of notes (`![[Title]]`; an embed of an attachment such as
//! `![[image.png]]` is not a link) and markdown links to notes (`[text](Other%20Note.md)`),
//! outside fenced code blocks and inline code. Each link carries the keys it may resolve by, best
//! first; [`item_keys`] gives the keys an item answers to. A link resolves to the item sharing its
//! best-ranked key (the store does that, see `store/links.rs`).

use pake_api::knowledge::{Item, LinkType};

use crate::model::valid_item_id;

mod markdown;

/// At most this many distinct links are kept per item; later ones are ignored.
pub const MAX_LINKS: usize = 1024;
/// Links whose target text is longer than this many bytes are ignored.
pub const MAX_TEXT: usize = 1024;
/// At most this many aliases of an item take part in resolution.
pub const MAX_ALIASES: usize = 64;
/// The longest file name (in bytes) an item's title is cut to (as ExportItems writes it).
pub const MAX_FILE_NAME: usize = 200;

/// How a key matches, best first: its rank in resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeyKind {
    /// `items/{id}`.
    Name = 1,
    /// The title, case-insensitively.
    Title = 2,
    /// The file name (the title as ExportItems names the file, without `.md`).
    File = 3,
    /// One of `metadata.aliases`.
    Alias = 4,
}

impl KeyKind {
    fn prefix(self) -> &'static str {
        match self {
            KeyKind::Name => "name:",
            KeyKind::Title => "title:",
            KeyKind::File => "file:",
            KeyKind::Alias => "alias:",
        }
    }

    /// The stored key: the kind's prefix and the folded value (`title:other note`).
    pub fn key(self, value: &str) -> String {
        format!("{}{}", self.prefix(), fold(value))
    }
}

/// Case folding of keys: trimmed and lower-cased (Unicode lower case, in Rust, never in SQL).
pub fn fold(value: &str) -> String {
    value.trim().to_lowercase()
}

/// A link found in content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedLink {
    /// LINK_TYPE_WIKILINK, LINK_TYPE_EMBED or LINK_TYPE_MARKDOWN.
    pub link_type: LinkType,
    /// The target as written, without brackets, alias or percent-encoding (ItemLink.text).
    pub text: String,
    /// The keys it may resolve by, best rank first (see [`KeyKind`]).
    pub keys: Vec<String>,
}

/// The lower-case name a link type is stored under in `item_links.link_type`.
pub fn link_type_name(link_type: LinkType) -> &'static str {
    match link_type {
        LinkType::Unspecified | LinkType::Wikilink => "wikilink",
        LinkType::Embed => "embed",
        LinkType::Markdown => "markdown",
        LinkType::Explicit => "explicit",
    }
}

/// The link type stored as `name`.
pub fn parse_link_type(name: &str) -> LinkType {
    match name {
        "wikilink" => LinkType::Wikilink,
        "embed" => LinkType::Embed,
        "markdown" => LinkType::Markdown,
        "explicit" => LinkType::Explicit,
        _ => LinkType::Unspecified,
    }
}

/// The keys `item` answers to: its name, title, file name and aliases (`metadata.aliases`, a
/// list of strings or one string), without duplicates.
pub fn item_keys(item: &Item) -> Vec<(KeyKind, String)> {
    let id = item.name.trim_start_matches("items/");
    let mut keys = vec![
        (KeyKind::Name, KeyKind::Name.key(id)),
        (KeyKind::Title, KeyKind::Title.key(&item.title)),
        (
            KeyKind::File,
            KeyKind::File.key(&file_name(&item.title, id)),
        ),
    ];
    for alias in aliases(item).into_iter().take(MAX_ALIASES) {
        if !alias.trim().is_empty() && alias.len() <= MAX_TEXT {
            keys.push((KeyKind::Alias, KeyKind::Alias.key(alias)));
        }
    }
    let mut seen = std::collections::HashSet::new();
    keys.retain(|(_, key)| seen.insert(key.clone()));
    keys
}

fn aliases(item: &Item) -> Vec<&str> {
    use prost_types::value::Kind;
    let Some(value) = item
        .metadata
        .as_ref()
        .and_then(|metadata| metadata.fields.get("aliases"))
        .and_then(|value| value.kind.as_ref())
    else {
        return Vec::new();
    };
    match value {
        Kind::StringValue(alias) => vec![alias.as_str()],
        Kind::ListValue(list) => list
            .values
            .iter()
            .filter_map(|value| match &value.kind {
                Some(Kind::StringValue(alias)) => Some(alias.as_str()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The file name (without `.md`) ExportItems gives an item titled `title`: `/ \ : * ? " < > | # ^
/// [ ]` and control characters replaced by `-`, leading and trailing spaces and dots removed, cut
/// to 200 bytes at a character boundary; the item id if nothing is left.
pub fn file_name(title: &str, id: &str) -> String {
    let replaced: String = title
        .chars()
        .map(|c| {
            if c.is_control() || "/\\:*?\"<>|#^[]".contains(c) {
                '-'
            } else {
                c
            }
        })
        .collect();
    let trimmed = replaced.trim_matches(|c| c == ' ' || c == '.');
    let mut end = trimmed.len().min(MAX_FILE_NAME);
    while !trimmed.is_char_boundary(end) {
        end -= 1;
    }
    // Cutting can leave a trailing space or dot, which a file name may not end with.
    let cut = trimmed[..end].trim_end_matches([' ', '.']);
    if cut.is_empty() {
        id.to_owned()
    } else {
        cut.to_owned()
    }
}

/// The links in `content`, in order of first appearance, each (type, keys) once with the text of
/// its first occurrence, at most [`MAX_LINKS`].
pub fn parse(content: &str) -> Vec<ParsedLink> {
    let mut links: Vec<ParsedLink> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for prose in prose_ranges(content) {
        scan(&content[prose], &mut |link| {
            if links.len() < MAX_LINKS && seen.insert((link.link_type, link.keys.clone())) {
                links.push(link);
            }
        });
        if links.len() >= MAX_LINKS {
            break;
        }
    }
    links
}

/// Byte ranges of `content` outside fenced code blocks (``` or ~~~, three or more, closed by a
/// fence of the same character at least as long; an unclosed fence runs to the end).
fn prose_ranges(content: &str) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    let mut fence: Option<(char, usize)> = None;
    for line in content.split_inclusive('\n') {
        let line_start = offset;
        offset += line.len();
        let marker = line.trim_start().trim_start_matches(['>', ' ', '\t']);
        let run = |c: char| marker.chars().take_while(|&m| m == c).count();
        match fence {
            None => {
                for c in ['`', '~'] {
                    let length = run(c);
                    // A backtick fence's info string may not contain backticks.
                    if length >= 3 && (c == '~' || !marker[length..].contains('`')) {
                        fence = Some((c, length));
                        ranges.push(start..line_start);
                        break;
                    }
                }
            }
            Some((c, length)) => {
                let closing = run(c);
                if closing >= length && marker[closing..].trim().is_empty() {
                    fence = None;
                    start = offset;
                }
            }
        }
    }
    if fence.is_none() {
        ranges.push(start..content.len());
    }
    ranges.retain(|range| !range.is_empty());
    ranges
}

/// Finds the links in `text` (prose without fenced code), skipping inline code and escapes.
fn scan(text: &str, found: &mut impl FnMut(ParsedLink)) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'`' => i = skip_code_span(text, i),
            b'!' if text[i..].starts_with("![[") => match wikilink(text, i + 1, true) {
                Some((end, link)) => {
                    if let Some(link) = link {
                        found(link);
                    }
                    i = end;
                }
                None => i += 1,
            },
            b'[' if text[i..].starts_with("[[") => match wikilink(text, i, false) {
                Some((end, link)) => {
                    if let Some(link) = link {
                        found(link);
                    }
                    i = end;
                }
                None => i += 1,
            },
            b'[' => match markdown::link(text, i) {
                Some((end, link)) => {
                    if let Some(link) = link {
                        found(link);
                    }
                    i = end;
                }
                None => i += 1,
            },
            _ => i += 1,
        }
    }
}

/// Past the code span opening at `start` (a run of backticks closed by a run of the same length
/// within the paragraph), or past the run when it is not closed (then it is literal text).
fn skip_code_span(text: &str, start: usize) -> usize {
    let bytes = text.as_bytes();
    let length = bytes[start..].iter().take_while(|&&b| b == b'`').count();
    let mut i = start + length;
    while i < bytes.len() {
        if bytes[i] == b'\n' && paragraph_ends_after(text, i) {
            break;
        }
        if bytes[i] == b'`' {
            let run = bytes[i..].iter().take_while(|&&b| b == b'`').count();
            if run == length {
                return i + run;
            }
            i += run;
        } else {
            i += 1;
        }
    }
    start + length
}

/// Whether the line after the newline at `newline` is blank (a paragraph break).
pub(crate) fn paragraph_ends_after(text: &str, newline: usize) -> bool {
    text[newline + 1..]
        .split('\n')
        .next()
        .is_none_or(|line| line.trim().is_empty())
}

/// The wikilink whose `[[` is at `start`: the offset after its `]]` and the link (`None` for a
/// link that is no link to a note: `[[#Heading]]`, an attachment embed, an over-long target).
/// `None` overall when there is no wikilink at `start`.
fn wikilink(text: &str, start: usize, embed: bool) -> Option<(usize, Option<ParsedLink>)> {
    let inner_start = start + 2;
    let close = text[inner_start..].find("]]")? + inner_start;
    let inner = &text[inner_start..close];
    if inner.contains('\n') || inner.contains("[[") {
        return None;
    }
    let end = close + 2;
    // `\|` separates the alias inside tables.
    let target = match inner.find('|') {
        Some(bar) => inner[..bar].strip_suffix('\\').unwrap_or(&inner[..bar]),
        None => inner,
    }
    .trim();
    let note = target.split('#').next().unwrap_or_default().trim();
    if note.is_empty() || target.len() > MAX_TEXT || (embed && is_attachment(note)) {
        return Some((end, None));
    }
    let mut keys = Vec::with_capacity(4);
    if let Some(id) = note
        .to_lowercase()
        .strip_prefix("items/")
        .filter(|id| valid_item_id(id))
    {
        keys.push(KeyKind::Name.key(id));
    }
    keys.push(KeyKind::Title.key(note));
    let last_segment = note.rsplit('/').next().unwrap_or(note);
    keys.push(KeyKind::File.key(strip_md(last_segment)));
    keys.push(KeyKind::Alias.key(note));
    let link_type = if embed {
        LinkType::Embed
    } else {
        LinkType::Wikilink
    };
    Some((
        end,
        Some(ParsedLink {
            link_type,
            text: target.to_owned(),
            keys,
        }),
    ))
}

/// `name` without a trailing `.md` (any case).
pub(crate) fn strip_md(name: &str) -> &str {
    let cut = name.len().saturating_sub(3);
    match (name.get(..cut), name.get(cut..)) {
        (Some(stem), Some(extension)) if extension.eq_ignore_ascii_case(".md") => stem,
        _ => name,
    }
}

/// Whether an embed target names an attachment: its last segment ends in an extension (1 to 10
/// ASCII letters and digits, at least one letter, after the last `.`) other than `md`.
fn is_attachment(target: &str) -> bool {
    let last_segment = target.rsplit('/').next().unwrap_or(target);
    let Some((_, extension)) = last_segment.rsplit_once('.') else {
        return false;
    };
    (1..=10).contains(&extension.len())
        && extension.chars().all(|c| c.is_ascii_alphanumeric())
        && extension.chars().any(|c| c.is_ascii_alphabetic())
        && !extension.eq_ignore_ascii_case("md")
}

#[cfg(test)]
#[path = "links_tests.rs"]
mod tests;
