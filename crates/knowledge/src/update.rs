//! Applying an UpdateItem: field masks (AIP-134), and keeping derived values derived.

use pake_api::knowledge::Item;
use pake_core::Error;

use crate::model;

/// The paths a client may update.
pub const UPDATABLE: &[&str] = &[
    "title",
    "content",
    "kind",
    "status",
    "confidence_score",
    "source_uri",
    "tags",
    "links",
    "summary",
    "metadata",
    "folder",
    "visibility",
];

/// The paths an update touches: `*` → all, empty → those set in `patch`, else the mask's paths
/// (lowerCamel accepted), each checked.
pub fn resolve_mask(patch: &Item, paths: &[String]) -> Result<Vec<&'static str>, Error> {
    if paths.is_empty() {
        return Ok(UPDATABLE
            .iter()
            .copied()
            .filter(|path| is_set(patch, path))
            .collect());
    }
    if paths.iter().any(|path| path == "*") {
        if paths.len() > 1 {
            return Err(Error::invalid_field(
                "update_mask",
                "`*` cannot be combined with other paths",
            ));
        }
        return Ok(UPDATABLE.to_vec());
    }
    let mut resolved = Vec::new();
    for path in paths {
        let snake = to_snake_case(path);
        match UPDATABLE.iter().find(|candidate| **candidate == snake) {
            Some(known) if !resolved.contains(known) => resolved.push(*known),
            Some(_) => {}
            None if matches!(snake.as_str(), "verification" | "human_notes") => {
                return Err(Error::invalid_field(
                    "update_mask",
                    format!("`{path}` changes only through VerifyItem"),
                ));
            }
            None => {
                return Err(Error::invalid_field(
                    "update_mask",
                    format!(
                        "`{path}` is not an updatable field; updatable: {}",
                        UPDATABLE.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(resolved)
}

fn to_snake_case(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 4);
    for c in path.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn is_set(item: &Item, path: &str) -> bool {
    match path {
        "title" => !item.title.is_empty(),
        "content" => !item.content.is_empty(),
        "kind" => item.kind != 0,
        "status" => item.status != 0,
        "confidence_score" => item.confidence_score.is_some(),
        "source_uri" => !item.source_uri.is_empty(),
        "tags" => !item.tags.is_empty(),
        "links" => !item.links.is_empty(),
        "summary" => !item.summary.is_empty(),
        "metadata" => item.metadata.is_some(),
        "folder" => !item.folder.is_empty(),
        "visibility" => item.visibility != 0,
        _ => false,
    }
}

/// The item after applying `patch` on `paths` to `current`, validated, with derived values
/// (folder, confidence) recomputed where they are still derived. Output-only fields are kept.
pub fn apply(current: &Item, patch: Item, paths: &[&'static str]) -> Result<Item, Error> {
    let mut next = current.clone();
    let mut folder_set = !current.folder_derived;
    let mut confidence_set = !current.confidence_computed;
    for path in paths {
        match *path {
            "title" => next.title = patch.title.clone(),
            "content" => next.content = patch.content.clone(),
            "kind" => {
                if patch.kind == 0 {
                    return Err(Error::invalid_field(
                        "item.kind",
                        "must not be KIND_UNSPECIFIED",
                    ));
                }
                next.kind = patch.kind;
            }
            "status" => {
                if patch.status == 0 {
                    return Err(Error::invalid_field(
                        "item.status",
                        "must not be STATUS_UNSPECIFIED",
                    ));
                }
                next.status = patch.status;
            }
            "visibility" => {
                if patch.visibility == 0 {
                    return Err(Error::invalid_field(
                        "item.visibility",
                        "must not be VISIBILITY_UNSPECIFIED",
                    ));
                }
                next.visibility = patch.visibility;
            }
            "confidence_score" => {
                next.confidence_score = patch.confidence_score;
                confidence_set = patch.confidence_score.is_some();
            }
            "source_uri" => next.source_uri = patch.source_uri.clone(),
            "tags" => next.tags = patch.tags.clone(),
            "links" => next.links = patch.links.clone(),
            "summary" => next.summary = patch.summary.clone(),
            "metadata" => next.metadata = patch.metadata.clone(),
            "folder" => {
                next.folder = patch.folder.clone();
                folder_set = !patch.folder.is_empty();
            }
            _ => {}
        }
    }
    if !folder_set {
        next.folder = String::new();
    }
    if !confidence_set {
        next.confidence_score = None;
    }
    model::validate_and_complete(&mut next)?;
    Ok(next)
}

/// Whether two versions differ in anything a client can set.
pub fn changed(before: &Item, after: &Item) -> bool {
    fn client_view(item: &Item) -> impl PartialEq + '_ {
        (
            &item.title,
            &item.content,
            item.kind,
            item.status,
            item.confidence_score.map(f64::to_bits),
            &item.source_uri,
            &item.tags,
            &item.links,
            &item.summary,
            &item.metadata,
            &item.folder,
            item.visibility,
        )
    }
    client_view(before) != client_view(after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pake_api::knowledge::item::{Kind, Status, Visibility};

    fn current() -> Item {
        let mut item = Item {
            title: "Old".into(),
            content: "old content".into(),
            ..Item::default()
        };
        model::validate_and_complete(&mut item).expect("valid");
        item
    }

    #[test]
    fn the_mask_picks_fields_and_accepts_camel_case() {
        let patch = Item {
            title: "New".into(),
            ..Item::default()
        };
        assert_eq!(resolve_mask(&patch, &[]).expect("implied"), vec!["title"]);
        assert_eq!(
            resolve_mask(&patch, &["sourceUri".into()]).expect("camel"),
            vec!["source_uri"]
        );
        assert_eq!(
            resolve_mask(&patch, &["*".into()]).expect("star").len(),
            UPDATABLE.len()
        );
        for bad in [
            vec!["owner".to_owned()],
            vec!["*".into(), "title".into()],
            vec!["verification".into()],
        ] {
            let error = resolve_mask(&patch, &bad).expect_err("rejected");
            assert!(error.to_string().starts_with("update_mask:"), "{error}");
        }
    }

    #[test]
    fn derived_values_follow_changes_until_set() {
        let before = current();
        assert_eq!(before.folder, "00-Inbox");
        let patch = Item {
            status: Status::Verified as i32,
            ..Item::default()
        };
        let after = apply(&before, patch, &["status"]).expect("apply");
        assert_eq!(
            after.folder, "02-Permanent",
            "derived folder follows status"
        );
        assert!(after.folder_derived);

        let pinned = apply(
            &after,
            Item {
                folder: "Mine".into(),
                ..Item::default()
            },
            &["folder"],
        )
        .expect("pin");
        assert!(!pinned.folder_derived);
        let still = apply(
            &pinned,
            Item {
                kind: Kind::Project as i32,
                status: Status::Processing as i32,
                ..Item::default()
            },
            &["kind", "status"],
        )
        .expect("apply");
        assert_eq!(still.folder, "Mine", "a chosen folder stays");
        let back = apply(&still, Item::default(), &["folder"]).expect("unset");
        assert_eq!(back.folder, "03-Projects", "masked and empty derives again");

        let scored = apply(
            &before,
            Item {
                confidence_score: Some(0.9),
                ..Item::default()
            },
            &["confidence_score"],
        )
        .expect("score");
        assert_eq!(scored.confidence_score, Some(0.9));
        let recomputed = apply(&scored, Item::default(), &["confidence_score"]).expect("unset");
        assert!(recomputed.confidence_computed);
    }

    #[test]
    fn masked_fields_are_validated_like_create() {
        let before = current();
        let error = apply(&before, Item::default(), &["title"]).expect_err("empty title");
        assert!(error.to_string().contains("item.title"));
        let error = apply(&before, Item::default(), &["visibility"]).expect_err("unspecified");
        assert!(error.to_string().contains("item.visibility"));
        let public = apply(
            &before,
            Item {
                visibility: Visibility::Public as i32,
                ..Item::default()
            },
            &["visibility"],
        )
        .expect("ok");
        assert!(changed(&before, &public));
        assert!(!changed(
            &before,
            &apply(&before, Item::default(), &[]).expect("no-op")
        ));
    }
}
