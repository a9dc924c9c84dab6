//! One vault file as an item: frontmatter keys to fields, title, tags and folder, as
//! ImportItemsRequest's comment describes. Pure: no store, no caller.

use std::collections::BTreeMap;

use pake_api::knowledge::Item;
use pake_api::knowledge::item::{Kind, Status, Verification, Visibility};
use prost_types::value::Kind as ValueKind;
use prost_types::{ListValue, Struct};
use serde_norway::Value as Yaml;

use super::{frontmatter, markdown, yaml};
use crate::links::{file_name, fold, strip_md};
use crate::model::{self, derived_folder, valid_item_id};

/// At most this many bytes of `human_notes` (resources.proto).
const MAX_HUMAN_NOTES: usize = 16_384;
/// At most this many `connections` (Item.links' maximum).
const MAX_CONNECTIONS: usize = 256;

/// A note file read into the fields it maps to.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Note {
    /// The frontmatter `pake_id`, lower-cased and valid.
    pub pake_id: Option<String>,
    /// Every field the file maps to; `folder` empty when it stays derived, `visibility`
    /// unspecified when the frontmatter has none, `links` empty (see `connections`).
    pub item: Item,
    /// The frontmatter `connections`, as written (resolved later).
    pub connections: Vec<String>,
    /// The file name without `.md`.
    pub stem: String,
}

/// Reads the file at `path` (a `.md` path that passed the request checks). Errors are the
/// file's FAILED message.
pub(crate) fn read(path: &str, bytes: &[u8]) -> Result<Note, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|error| format!("not valid UTF-8 (at byte {})", error.valid_up_to()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let split = frontmatter::split(text)?;
    let mapping = match split.yaml {
        Some(yaml) => frontmatter::parse(yaml)?,
        None => serde_norway::Mapping::new(),
    };
    let (directory, file) = path.rsplit_once('/').unwrap_or(("", path));
    let stem = strip_md(file).to_owned();
    let mut note = Note {
        pake_id: None,
        item: Item {
            content: split.body.to_owned(),
            ..Item::default()
        },
        connections: Vec::new(),
        stem,
    };
    let mut metadata = BTreeMap::new();
    for (key, value) in &mapping {
        let key = yaml::key_text(key)?;
        apply_key(&mut note, &mut metadata, &key, value)?;
    }
    let item = &mut note.item;
    if item.title.trim().is_empty() {
        item.title = markdown::first_heading(split.body).unwrap_or_else(|| note.stem.clone());
    }
    item.tags.extend(markdown::hashtags(split.body));
    let kind = Kind::try_from(item.kind).unwrap_or(Kind::Note);
    let status = match Status::try_from(item.status) {
        Ok(Status::Unspecified) | Err(_) => Status::Draft,
        Ok(status) => status,
    };
    let derived = derived_folder(kind, status);
    if !directory.is_empty() && directory != derived {
        item.folder = directory.to_owned();
    }
    add_file_name_alias(
        &mut metadata,
        &note.stem,
        &item.title,
        note.pake_id.as_deref(),
    );
    if !metadata.is_empty() {
        item.metadata = Some(Struct { fields: metadata });
    }
    check(&note)?;
    Ok(note)
}

/// Maps one frontmatter key. Null values count as absent.
fn apply_key(
    note: &mut Note,
    metadata: &mut BTreeMap<String, prost_types::Value>,
    key: &str,
    value: &Yaml,
) -> Result<(), String> {
    if matches!(value, Yaml::Null) && key != "tags" && key != "connections" {
        if !is_known(key) {
            metadata.insert(key.to_owned(), yaml::to_metadata(key, value)?);
        }
        return Ok(());
    }
    let text = || yaml::scalar_text(value).ok_or_else(|| format!("{key}: must be a single value"));
    let item = &mut note.item;
    match key {
        "pake_id" => {
            let id = text()?.trim().to_lowercase();
            if !valid_item_id(&id) {
                return Err(format!(
                    "pake_id: `{id}` is not an item id (1 to 63 characters of a-z, 0-9 and '-', \
                     not starting or ending with '-')"
                ));
            }
            note.pake_id = Some(id);
        }
        "title" => item.title = text()?,
        "type" => item.kind = parse_enum(key, &text()?, "kind_", KINDS)?,
        "status" => item.status = parse_enum(key, &text()?, "status_", STATUSES)?,
        "verification_status" => {
            item.verification = parse_enum(key, &text()?, "verification_", VERIFICATIONS)?;
        }
        "visibility" => {
            item.visibility = parse_enum(key, &text()?, "visibility_", VISIBILITIES)?;
        }
        "confidence_score" => {
            let score = match value {
                Yaml::Number(number) => number.as_f64(),
                _ => text()?.trim().parse::<f64>().ok(),
            };
            item.confidence_score = Some(score.ok_or("confidence_score: must be a number")?);
        }
        "source_uri" => item.source_uri = text()?,
        "tags" => item.tags = list(key, value, true)?,
        "connections" => note.connections = list(key, value, false)?,
        "ai_summary" => item.summary = text()?,
        "human_notes" => item.human_notes = text()?,
        "created" | "modified" => {}
        _ => {
            metadata.insert(key.to_owned(), yaml::to_metadata(key, value)?);
        }
    }
    Ok(())
}

/// Keys with a meaning of their own (never kept in metadata).
pub(crate) const KNOWN_KEYS: [&str; 14] = [
    "pake_id",
    "title",
    "type",
    "status",
    "verification_status",
    "visibility",
    "confidence_score",
    "source_uri",
    "tags",
    "connections",
    "ai_summary",
    "human_notes",
    "created",
    "modified",
];

fn is_known(key: &str) -> bool {
    KNOWN_KEYS.contains(&key)
}

const KINDS: &[(&str, i32)] = &[
    ("note", Kind::Note as i32),
    ("project", Kind::Project as i32),
    ("resource", Kind::Resource as i32),
    ("daily", Kind::Daily as i32),
    ("system", Kind::System as i32),
];
const STATUSES: &[(&str, i32)] = &[
    ("draft", Status::Draft as i32),
    ("processing", Status::Processing as i32),
    ("verified", Status::Verified as i32),
    ("archived", Status::Archived as i32),
];
const VERIFICATIONS: &[(&str, i32)] = &[
    ("pending", Verification::Pending as i32),
    ("verified", Verification::Verified as i32),
    ("rejected", Verification::Rejected as i32),
];
const VISIBILITIES: &[(&str, i32)] = &[
    ("private", Visibility::Private as i32),
    ("internal", Visibility::Internal as i32),
    ("public", Visibility::Public as i32),
];

/// An enum value by name, case-insensitive, with or without its prefix (`project`,
/// `KIND_PROJECT`).
fn parse_enum(key: &str, text: &str, prefix: &str, values: &[(&str, i32)]) -> Result<i32, String> {
    let lower = text.trim().to_lowercase();
    let name = lower.strip_prefix(prefix).unwrap_or(&lower);
    values
        .iter()
        .find(|(candidate, _)| *candidate == name)
        .map(|(_, value)| *value)
        .ok_or_else(|| {
            let names: Vec<&str> = values.iter().map(|(name, _)| *name).collect();
            format!("{key}: unknown value `{text}`; one of {}", names.join(", "))
        })
}

/// A list of strings: a YAML list, or one string (for tags: comma-separated). A connection
/// written unquoted, `- [[Note]]`, is a nested list in YAML and is read as `[[Note]]`.
fn list(key: &str, value: &Yaml, comma_separated: bool) -> Result<Vec<String>, String> {
    let one = |value: &Yaml| -> Result<Option<String>, String> {
        if !comma_separated && let Some(target) = bracketed(value) {
            return Ok(Some(format!("[[{target}]]")));
        }
        match value {
            Yaml::Null => Ok(None),
            other => yaml::scalar_text(other)
                .map(Some)
                .ok_or_else(|| format!("{key}: every entry must be a single value")),
        }
    };
    let entries: Vec<String> = match value {
        Yaml::Null => Vec::new(),
        Yaml::Sequence(values) => {
            let mut entries = Vec::new();
            for value in values {
                entries.extend(one(value)?);
            }
            entries
        }
        Yaml::String(text) if comma_separated => text.split(',').map(str::to_owned).collect(),
        other => one(other)?.into_iter().collect(),
    };
    Ok(entries
        .into_iter()
        .map(|entry| entry.trim().to_owned())
        .filter(|entry| !entry.is_empty())
        .collect())
}

/// The target of `[[Note]]` written without quotes, which YAML reads as a list holding a list
/// holding `Note` (or, inside a flow list, a list holding `Note`).
fn bracketed(value: &Yaml) -> Option<String> {
    let Yaml::Sequence(outer) = value else {
        return None;
    };
    match outer.as_slice() {
        [Yaml::Sequence(inner)] => match inner.as_slice() {
            [single] => yaml::scalar_text(single),
            _ => None,
        },
        [single] => yaml::scalar_text(single),
        _ => None,
    }
}

/// Adds the file's name to `aliases` when links by file name would not find the item otherwise
/// (its title, or the file name an export gives it, differs), so `[[file name]]` resolves as in
/// Obsidian.
fn add_file_name_alias(
    metadata: &mut BTreeMap<String, prost_types::Value>,
    stem: &str,
    title: &str,
    pake_id: Option<&str>,
) {
    let folded = fold(stem);
    let exported = file_name(title, pake_id.unwrap_or_default());
    let mut same = vec![fold(title), fold(&exported)];
    if let Some(id) = pake_id {
        same.push(fold(&format!("{exported} ({id})")));
    }
    if folded.is_empty() || same.contains(&folded) {
        return;
    }
    let string = |text: &str| prost_types::Value {
        kind: Some(ValueKind::StringValue(text.to_owned())),
    };
    let entry = metadata
        .entry("aliases".to_owned())
        .or_insert_with(|| prost_types::Value {
            kind: Some(ValueKind::ListValue(ListValue::default())),
        });
    match &mut entry.kind {
        Some(ValueKind::ListValue(list)) => {
            let present = list.values.iter().any(|value| {
                matches!(&value.kind, Some(ValueKind::StringValue(alias)) if fold(alias) == folded)
            });
            if !present {
                list.values.push(string(stem));
            }
        }
        Some(ValueKind::StringValue(alias)) if fold(alias) != folded => {
            let first = string(alias);
            entry.kind = Some(ValueKind::ListValue(ListValue {
                values: vec![first, string(stem)],
            }));
        }
        _ => {}
    }
}

/// The limits an item would be rejected for, as the file's message (fields named by their
/// frontmatter keys).
fn check(note: &Note) -> Result<(), String> {
    if note.item.human_notes.len() > MAX_HUMAN_NOTES {
        return Err("human_notes: must be at most 16384 bytes".into());
    }
    if note.connections.len() > MAX_CONNECTIONS {
        return Err(format!("connections: at most {MAX_CONNECTIONS} entries"));
    }
    let mut probe = note.item.clone();
    model::validate_and_complete(&mut probe).map_err(|error| describe(&error))
}

/// A validation error with the item's field names replaced by frontmatter keys.
pub(crate) fn describe(error: &pake_core::Error) -> String {
    let violations = error.field_violations();
    if violations.is_empty() {
        return error.to_string();
    }
    violations
        .iter()
        .map(|violation| {
            let field = violation.field.trim_start_matches("item.");
            let field = match field {
                "summary" => "ai_summary",
                "kind" => "type",
                "links" => "connections",
                "folder" => "folder (the file's directory)",
                other => other,
            };
            format!("{field}: {}", violation.description)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
#[path = "note_tests.rs"]
mod tests;
