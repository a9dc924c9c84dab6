//! Resolving frontmatter `connections` (`[[Other Note]]`, `[[items/ID]]`, `items/ID`) among the
//! files of one import, before the items the caller may read.
//!
//! A target matches a file by, best first: 1 item name, 2 title, 3 path without `.md`
//! (`[[Folder/Note]]`), 4 file name without `.md`, 5 alias (`aliases` in the frontmatter) — all case-insensitive. The file with the
//! best match wins; among equally good ones, the one matching in more ways, then the earliest
//! in the import. Export uses the same index to pick, for each connection, the shortest text
//! that resolves back to the same item.

use std::collections::HashMap;

use pake_api::knowledge::Item;

use crate::links::{KeyKind, fold, strip_md};
use crate::model::valid_item_id;

/// A connection's target, folded for comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    /// The item id of `[[items/ID]]`.
    id: Option<String>,
    /// The whole target (`folder/note`).
    text: String,
    /// The whole target without `.md`.
    path: String,
    /// The last segment without `.md`.
    file: String,
    /// The target as written (`Note#Heading` without the heading), for messages.
    pub written: String,
}

/// The target of a connection entry (brackets, `!`, `|shown text` and `#heading` removed);
/// `None` when nothing is left.
pub(crate) fn target(entry: &str) -> Option<Target> {
    let entry = entry.trim();
    let inner = entry
        .strip_prefix('!')
        .unwrap_or(entry)
        .strip_prefix("[[")
        .and_then(|rest| rest.strip_suffix("]]"))
        .unwrap_or(entry);
    let inner = inner.split('|').next().unwrap_or_default();
    let inner = inner.strip_suffix('\\').unwrap_or(inner);
    let written = inner.split('#').next().unwrap_or_default().trim();
    if written.is_empty() {
        return None;
    }
    let text = fold(written);
    let id = text
        .strip_prefix("items/")
        .filter(|id| valid_item_id(id))
        .map(str::to_owned);
    let path = fold(strip_md(written));
    let last = written.rsplit('/').next().unwrap_or(written);
    Some(Target {
        id,
        file: fold(strip_md(last)),
        path,
        text,
        written: written.to_owned(),
    })
}

impl Target {
    /// The item keys (`links::item_keys`) the target answers to among stored items, best first,
    /// as a content wikilink with the same text would.
    pub(crate) fn store_keys(&self) -> Vec<String> {
        let mut keys = Vec::with_capacity(4);
        if let Some(id) = &self.id {
            keys.push(KeyKind::Name.key(id));
        }
        keys.push(KeyKind::Title.key(&self.text));
        keys.push(KeyKind::File.key(&self.file));
        keys.push(KeyKind::Alias.key(&self.text));
        keys
    }
}

/// The files of one import (or export) as connection targets.
#[derive(Debug, Default)]
pub(crate) struct Index {
    ids: Vec<String>,
    /// Folded key → entries, one map per rank (name, title, path, file, alias).
    ranks: [HashMap<String, Vec<usize>>; 5],
}

impl Index {
    /// Adds the file at `path` that is item `id` with `item`'s title and aliases.
    pub(crate) fn add(&mut self, id: &str, path: &str, item: &Item) {
        let entry = self.ids.len();
        self.ids.push(id.to_owned());
        let stem = strip_md(path.rsplit('/').next().unwrap_or(path));
        let mut keys: Vec<(usize, String)> = vec![
            (0, id.to_owned()),
            (1, fold(&item.title)),
            (2, fold(strip_md(path))),
            (3, fold(stem)),
        ];
        keys.extend(aliases(item).into_iter().map(|alias| (4, fold(&alias))));
        for (rank, key) in keys {
            let entries = self.ranks[rank].entry(key).or_default();
            if entries.last() != Some(&entry) {
                entries.push(entry);
            }
        }
    }

    /// The id of the file `target` names best, if any.
    pub(crate) fn resolve(&self, target: &Target) -> Option<&str> {
        let lookups: [Option<&String>; 5] = [
            target.id.as_ref(),
            Some(&target.text),
            Some(&target.path),
            Some(&target.file),
            Some(&target.text),
        ];
        // Per entry: its best rank and how many ranks it matches.
        let mut scores: HashMap<usize, (usize, usize)> = HashMap::new();
        for (rank, key) in lookups.iter().enumerate() {
            let Some(entries) = key.and_then(|key| self.ranks[rank].get(key)) else {
                continue;
            };
            for &entry in entries {
                let score = scores.entry(entry).or_insert((rank, 0));
                score.1 += 1;
            }
        }
        scores
            .into_iter()
            .min_by_key(|&(entry, (best, count))| (best, usize::MAX - count, entry))
            .map(|(entry, _)| self.ids[entry].as_str())
    }
}

/// `metadata.aliases` (a list of strings, or one string).
fn aliases(item: &Item) -> Vec<String> {
    use prost_types::value::Kind;
    let value = item
        .metadata
        .as_ref()
        .and_then(|metadata| metadata.fields.get("aliases"))
        .and_then(|value| value.kind.as_ref());
    match value {
        Some(Kind::StringValue(alias)) => vec![alias.clone()],
        Some(Kind::ListValue(list)) => list
            .values
            .iter()
            .filter_map(|value| match &value.kind {
                Some(Kind::StringValue(alias)) => Some(alias.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(title: &str) -> Item {
        Item {
            title: title.into(),
            ..Item::default()
        }
    }

    #[test]
    fn targets_lose_brackets_shown_text_and_headings() {
        let parsed = target("![[Folder/Other Note.md#Part|shown]]").expect("target");
        assert_eq!(parsed.written, "Folder/Other Note.md");
        assert_eq!(parsed.path, "folder/other note");
        assert_eq!(parsed.file, "other note");
        assert_eq!(
            target("items/abc").expect("name").id.as_deref(),
            Some("abc")
        );
        assert!(target("[[#Heading]]").is_none());
        assert!(target("  ").is_none());
    }

    #[test]
    fn the_best_match_wins_then_the_most_matches_then_the_earliest() {
        let mut index = Index::default();
        index.add("a", "A/Note (a).md", &item("Note"));
        index.add("b", "B/Note.md", &item("Note"));
        index.add("c", "C/Note.md", &item("Note"));
        index.add("d", "Other.md", &item("Title of D"));
        let resolve = |text: &str| {
            index
                .resolve(&target(text).expect("target"))
                .map(str::to_owned)
        };
        // Title matches a, b and c; b and c also match by file name; b is earlier.
        assert_eq!(resolve("[[Note]]").as_deref(), Some("b"));
        assert_eq!(resolve("[[C/Note]]").as_deref(), Some("c"));
        assert_eq!(resolve("[[Note (a)]]").as_deref(), Some("a"));
        assert_eq!(resolve("[[other]]").as_deref(), Some("d"));
        assert_eq!(resolve("[[items/d]]").as_deref(), Some("d"));
        assert_eq!(resolve("[[Missing]]"), None);
    }
}
