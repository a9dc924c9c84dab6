//! An exported vault's files (ExportItemsResponse): where each item goes, how its connections are
//! written, and the markdown with its frontmatter.
//!
//! Path: `{folder}/{file name}.md`, the file name from the title (`links::file_name`); items that
//! would share a path (case-insensitively) all but the earliest created get ` ({id})` before
//! `.md`. A connection to an item in the export is `[[{file name}]]` when that resolves back to
//! it on import (`connections.rs`), else `[[{folder}/{file name}]]` (two files with one name in
//! different folders), else `[[items/{id}]]`; to any other item `[[items/{id}]]`.

use std::collections::{BTreeMap, HashMap};

use pake_api::knowledge::Item;
use pake_api::knowledge::item::{Kind, Status, Verification, Visibility};
use serde_norway::{Mapping, Number, Value as Yaml};

use super::connections::{Index, target};
use super::note::KNOWN_KEYS;
use super::{frontmatter, yaml};
use crate::links::file_name;
use crate::model::names;

/// One file of the export.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ExportFile {
    /// Vault-relative path.
    pub path: String,
    /// The item.
    pub item: Item,
}

fn id_of(item: &Item) -> &str {
    item.name.trim_start_matches("items/")
}

fn micros(item: &Item) -> i64 {
    item.create_time
        .as_ref()
        .map_or(0, |t| t.seconds * 1_000_000 + i64::from(t.nanos) / 1000)
}

/// The files for `items`, in path order.
pub(crate) fn layout(items: Vec<Item>) -> Vec<ExportFile> {
    let mut by_path: BTreeMap<String, Vec<Item>> = BTreeMap::new();
    for item in items {
        let base = format!("{}/{}", item.folder, file_name(&item.title, id_of(&item)));
        by_path.entry(base.to_lowercase()).or_default().push(item);
    }
    let mut files = Vec::new();
    for (_, mut sharing) in by_path {
        sharing.sort_by(|a, b| (micros(a), id_of(a)).cmp(&(micros(b), id_of(b))));
        for (rank, item) in sharing.into_iter().enumerate() {
            let stem = file_name(&item.title, id_of(&item));
            let path = if rank == 0 {
                format!("{}/{stem}.md", item.folder)
            } else {
                format!("{}/{stem} ({}).md", item.folder, id_of(&item))
            };
            files.push(ExportFile { path, item });
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

/// Writes connections so that an import of the same files resolves them to the same items.
#[derive(Debug, Default)]
pub(crate) struct Linker {
    index: Index,
    paths: HashMap<String, String>,
}

impl Linker {
    /// The linker for an export of `files`.
    pub(crate) fn new(files: &[ExportFile]) -> Linker {
        let mut linker = Linker::default();
        for file in files {
            let id = id_of(&file.item);
            linker.index.add(id, &file.path, &file.item);
            linker.paths.insert(id.to_owned(), file.path.clone());
        }
        linker
    }

    /// The connection entry for item `id`.
    pub(crate) fn connection(&self, id: &str) -> String {
        if let Some(path) = self.paths.get(id) {
            let without_md = &path[..path.len() - 3];
            let stem = without_md.rsplit('/').next().unwrap_or(without_md);
            for text in [stem, without_md] {
                let entry = format!("[[{text}]]");
                let back = target(&entry)
                    .and_then(|parsed| self.index.resolve(&parsed).map(str::to_owned));
                if back.as_deref() == Some(id) {
                    return entry;
                }
            }
        }
        format!("[[items/{id}]]")
    }
}

fn text(value: &str) -> Yaml {
    Yaml::String(value.to_owned())
}

/// The file's bytes: frontmatter (keys as ExportItemsResponse lists them), then the content.
pub(crate) fn render(
    item: &Item,
    connections: Vec<String>,
) -> Result<Vec<u8>, serde_norway::Error> {
    let mut mapping = Mapping::new();
    let mut put = |key: &str, value: Yaml| {
        mapping.insert(text(key), value);
    };
    put("pake_id", text(id_of(item)));
    put("title", text(&item.title));
    put(
        "type",
        text(names::kind(Kind::try_from(item.kind).unwrap_or(Kind::Note))),
    );
    put(
        "status",
        text(names::status(
            Status::try_from(item.status).unwrap_or(Status::Draft),
        )),
    );
    let verification = Verification::try_from(item.verification).unwrap_or(Verification::Pending);
    put(
        "verification_status",
        text(names::verification(verification)),
    );
    let visibility = Visibility::try_from(item.visibility).unwrap_or(Visibility::Private);
    put("visibility", text(names::visibility(visibility)));
    if let Some(score) = item.confidence_score.filter(|_| !item.confidence_computed) {
        put("confidence_score", Yaml::Number(Number::from(score)));
    }
    if !item.source_uri.is_empty() {
        put("source_uri", text(&item.source_uri));
    }
    if !item.tags.is_empty() {
        put(
            "tags",
            Yaml::Sequence(item.tags.iter().map(|tag| text(tag)).collect()),
        );
    }
    if !connections.is_empty() {
        put(
            "connections",
            Yaml::Sequence(connections.into_iter().map(Yaml::String).collect()),
        );
    }
    if !item.summary.is_empty() {
        put("ai_summary", text(&item.summary));
    }
    if !item.human_notes.is_empty() {
        put("human_notes", text(&item.human_notes));
    }
    if let Some(metadata) = &item.metadata {
        for (key, value) in &metadata.fields {
            if !KNOWN_KEYS.contains(&key.as_str()) {
                put(key, yaml::from_metadata(value));
            }
        }
    }
    for (key, time) in [
        ("created", &item.create_time),
        ("modified", &item.update_time),
    ] {
        if let Some(time) = time {
            put(key, text(&time.to_string()));
        }
    }
    let mut bytes = frontmatter::emit(mapping)?.into_bytes();
    bytes.extend_from_slice(item.content.as_bytes());
    Ok(bytes)
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
