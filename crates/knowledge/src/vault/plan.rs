//! The first half of an import: which files are notes, what each says, and which item each is.
//!
//! A file with `pake_id` is `items/{pake_id}`; one without is the item that an earlier import of
//! the same vault name by the same caller made from the same path (`vault_files`); anything else
//! is a new item (with a fresh id). A matched item the caller may write is updated (or left
//! unchanged), a soft-deleted one is SKIPPED, one the caller may not write is FAILED.

use std::collections::{HashMap, HashSet};

use pake_api::knowledge::import_file_result::Outcome;
use pake_api::knowledge::{ImportFileResult, Item};
use pake_core::Error;
use pake_core::auth::Principal;

use super::note::{self, Note};
use super::receive::Upload;
use crate::model::can_write;
use crate::store::ItemStore;

/// Most bytes of a result's message (ImportFileResult.message).
const MAX_MESSAGE: usize = 512;

/// The item a note file becomes.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Match {
    /// A new item with this id; `shown` when the id came from the file (`pake_id`), so a dry run
    /// may name it.
    New { id: String, shown: bool },
    /// An existing item the caller may write.
    Existing(Box<Item>),
}

/// A note file that will create, update or leave unchanged an item.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Planned {
    /// Its position in the request.
    pub index: usize,
    /// Its path.
    pub path: String,
    /// What it says.
    pub note: Note,
    /// Which item it is.
    pub target: Match,
}

impl Planned {
    /// The item id the file is (or becomes).
    pub(crate) fn id(&self) -> &str {
        match &self.target {
            Match::New { id, .. } => id,
            Match::Existing(item) => item.name.trim_start_matches("items/"),
        }
    }
}

/// Every file's fate as far as it is known before writing.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// One slot per file: filled for files already decided (skipped, failed).
    pub results: Vec<Option<ImportFileResult>>,
    /// The files to write, in request order.
    pub planned: Vec<Planned>,
    /// The `vault_files` rows of earlier imports of this vault by this caller, path → id.
    pub recorded: HashMap<String, String>,
}

/// A result line; the message is cut to its maximum at a character boundary.
pub(crate) fn result(path: &str, outcome: Outcome, item: &str, message: &str) -> ImportFileResult {
    let mut message = message.to_owned();
    if message.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE - '…'.len_utf8();
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    ImportFileResult {
        path: path.to_owned(),
        outcome: outcome as i32,
        item: item.to_owned(),
        message,
    }
}

/// Whether `path` is under a directory whose name starts with `.` (`.obsidian/`, `.trash/`).
fn hidden(path: &str) -> bool {
    let mut segments: Vec<&str> = path.split('/').collect();
    segments.pop();
    segments.iter().any(|segment| segment.starts_with('.'))
}

/// Whether `path` names a note (ends in `.md`, any case).
fn is_note(path: &str) -> bool {
    path.len() > 3
        && path
            .get(path.len() - 3..)
            .is_some_and(|extension| extension.eq_ignore_ascii_case(".md"))
}

/// Reads every file and matches the notes to items.
pub(crate) async fn plan(
    store: &dyn ItemStore,
    principal: &Principal,
    upload: &Upload,
) -> Result<Plan, Error> {
    let mut results: Vec<Option<ImportFileResult>> = vec![None; upload.files.len()];
    let mut notes: Vec<(usize, Note)> = Vec::new();
    let mut paths = HashSet::new();
    for (index, file) in upload.files.iter().enumerate() {
        let path = file.path.as_str();
        let decided = if !paths.insert(path) {
            Some((
                Outcome::Failed,
                "the path repeats an earlier file's".to_owned(),
            ))
        } else if hidden(path) {
            Some((Outcome::Skipped, "in a hidden folder".to_owned()))
        } else if !is_note(path) {
            Some((Outcome::Skipped, "attachment (not a .md note)".to_owned()))
        } else {
            match note::read(path, &file.content) {
                Ok(note) => {
                    notes.push((index, note));
                    None
                }
                Err(message) => Some((Outcome::Failed, message)),
            }
        };
        if let Some((outcome, message)) = decided {
            results[index] = Some(result(path, outcome, "", &message));
        }
    }
    let recorded = store
        .vault_files(&principal.subject, &upload.options.vault_name)
        .await?;
    let path_of = |index: usize| upload.files[index].path.as_str();
    let mut wanted: Vec<String> = notes
        .iter()
        .filter_map(|(index, note)| {
            note.pake_id
                .clone()
                .or_else(|| recorded.get(path_of(*index)).cloned())
        })
        .collect();
    wanted.sort();
    wanted.dedup();
    let existing: HashMap<String, Item> = store
        .items_by_id(&wanted)
        .await?
        .into_iter()
        .map(|item| (item.name.trim_start_matches("items/").to_owned(), item))
        .collect();
    let mut claimed: HashMap<String, usize> = HashMap::new();
    let mut planned = Vec::new();
    for (index, note) in notes {
        let path = path_of(index);
        let (id, from_file) = match (&note.pake_id, recorded.get(path)) {
            (Some(id), _) => (id.clone(), true),
            (None, Some(id)) => (id.clone(), false),
            (None, None) => (uuid::Uuid::now_v7().to_string(), false),
        };
        let name = format!("items/{id}");
        if let Some(&earlier) = claimed.get(&id) {
            let message = format!("resolves to the same item as `{}`", path_of(earlier));
            results[index] = Some(result(path, Outcome::Failed, "", &message));
            continue;
        }
        claimed.insert(id.clone(), index);
        let target = match existing.get(&id) {
            Some(item) if !can_write(principal, &item.owner) => {
                let message = if from_file {
                    format!("pake_id: {name} is not an item you may change")
                } else {
                    format!(
                        "{name}, which an earlier import made from this file, is not an item you may change"
                    )
                };
                results[index] = Some(result(path, Outcome::Failed, "", &message));
                continue;
            }
            Some(item) if item.delete_time.is_some() => {
                let message = format!("{name} is deleted; undelete it to import this file into it");
                results[index] = Some(result(path, Outcome::Skipped, &name, &message));
                continue;
            }
            Some(item) => Match::Existing(Box::new(item.clone())),
            None => Match::New {
                id,
                shown: from_file,
            },
        };
        planned.push(Planned {
            index,
            path: path.to_owned(),
            note,
            target,
        });
    }
    Ok(Plan {
        results,
        planned,
        recorded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_attachments_and_hidden_folders_are_told_apart() {
        assert!(is_note("a/B.md") && is_note("C.MD"));
        assert!(!is_note("image.png") && !is_note(".md") && !is_note("notes.mdx"));
        assert!(hidden(".obsidian/app.json") && hidden("a/.trash/x.md"));
        assert!(!hidden(".hidden-file.md") && !hidden("a/b.md"));
    }

    #[test]
    fn long_messages_are_cut_at_a_character_boundary() {
        let long = "é".repeat(400);
        let cut = result("p", Outcome::Failed, "", &long);
        assert!(cut.message.len() <= MAX_MESSAGE && cut.message.ends_with('…'));
    }
}
