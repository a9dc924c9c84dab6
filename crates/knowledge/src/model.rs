//! Items as stored, their validation, and the rules the server applies to them: PARA folder
//! derivation, PAKE's confidence heuristic, tag normalisation and who may read what.

use pake_api::knowledge::Item;
use pake_api::knowledge::item::{Kind, Status, Verification, Visibility};
use pake_core::Error;
use pake_core::auth::{Caller, Principal};
use pake_core::error::FieldViolation;
use prost::Message;

/// Limits from the contract (`proto/pake/knowledge/v1/resources.proto`).
pub mod limits {
    pub const TITLE: usize = 512;
    pub const CONTENT: usize = 1_048_576;
    pub const SOURCE_URI: usize = 2048;
    pub const TAGS: usize = 64;
    pub const TAG: usize = 128;
    pub const LINKS: usize = 256;
    pub const ITEM_NAME: usize = 69;
    pub const SUMMARY: usize = 4096;
    pub const METADATA: usize = 65_536;
    pub const FOLDER: usize = 256;
    pub const FOLDER_SEGMENT: usize = 128;
    pub const ITEM_ID: usize = 63;
    pub const REQUEST_ID: usize = 64;
}

/// The folder a new or changed item belongs in when the client does not choose one (SPEC §4):
/// status first, then kind.
pub fn derived_folder(kind: Kind, status: Status) -> &'static str {
    match status {
        Status::Draft => return "00-Inbox",
        Status::Verified => return "02-Permanent",
        Status::Archived => return "06-Archives",
        Status::Unspecified | Status::Processing => {}
    }
    match kind {
        Kind::Daily => "01-Daily",
        Kind::Project => "03-Projects",
        Kind::Resource => "05-Resources",
        Kind::System => "02-Permanent",
        Kind::Note | Kind::Unspecified => "04-Areas",
    }
}

/// PAKE's confidence heuristic (documented in docs/knowledge.md): a score in [0, 1] from how much
/// evidence a note carries.
pub fn computed_confidence(item: &Item) -> f64 {
    let content = item.content.as_str();
    let mut score = 0.3;
    // Length: up to +0.2 at 2000 bytes of content.
    score += 0.2 * (content.len() as f64 / 2000.0).min(1.0);
    // Structure: headings and lists.
    let lines = || content.lines().map(str::trim_start);
    if lines().any(|line| line.starts_with('#') && line.trim_start_matches('#').starts_with(' ')) {
        score += 0.1;
    }
    if lines()
        .any(|line| line.starts_with("- ") || line.starts_with("* ") || line.starts_with("1. "))
    {
        score += 0.05;
    }
    // A source to check it against.
    if !item.source_uri.is_empty() {
        score += 0.15;
    }
    // Connections: up to +0.1 for five links, up to +0.05 for five tags.
    score += 0.02 * (item.links.len().min(5) as f64);
    score += 0.01 * (item.tags.len().min(5) as f64);
    match Verification::try_from(item.verification) {
        Ok(Verification::Verified) => score += 0.2,
        Ok(Verification::Rejected) => score = score.min(0.1),
        _ => {}
    }
    (score.clamp(0.0, 1.0) * 1000.0).round() / 1000.0
}

/// Tags without `#`, de-duplicated case-insensitively (first spelling kept), order kept.
pub fn normalize_tags(tags: &[String], violations: &mut Vec<FieldViolation>) -> Vec<String> {
    let mut result: Vec<String> = Vec::new();
    if tags.len() > limits::TAGS {
        violations.push(violation(
            "item.tags",
            format!("at most {} tags", limits::TAGS),
        ));
        return result;
    }
    for (index, tag) in tags.iter().enumerate() {
        let tag = tag.trim().trim_start_matches('#');
        let valid = !tag.is_empty()
            && tag.len() <= limits::TAG
            && tag
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '/'));
        if !valid {
            violations.push(violation(
                &format!("item.tags[{index}]"),
                "must be 1 to 128 bytes of letters, digits, '_', '-' or '/'".to_owned(),
            ));
            continue;
        }
        if !result.iter().any(|existing| {
            existing.eq_ignore_ascii_case(tag) || existing.to_lowercase() == tag.to_lowercase()
        }) {
            result.push(tag.to_owned());
        }
    }
    result
}

fn violation(field: &str, description: String) -> FieldViolation {
    FieldViolation {
        field: field.to_owned(),
        description,
    }
}

/// Checks the client-settable fields of `item` and fills defaults and derived values. Every
/// problem is reported at once, each naming its field.
pub fn validate_and_complete(item: &mut Item) -> Result<(), Error> {
    let mut violations = Vec::new();
    let mut check_len = |field: &str, value: &str, max: usize| {
        if value.len() > max {
            violations.push(violation(field, format!("must be at most {max} bytes")));
        }
    };
    check_len("item.title", &item.title, limits::TITLE);
    check_len("item.content", &item.content, limits::CONTENT);
    check_len("item.source_uri", &item.source_uri, limits::SOURCE_URI);
    check_len("item.summary", &item.summary, limits::SUMMARY);
    check_len("item.folder", &item.folder, limits::FOLDER);
    if item.title.trim().is_empty() {
        violations.push(violation("item.title", "must not be empty".to_owned()));
    }
    if !item.source_uri.is_empty() && !looks_like_absolute_uri(&item.source_uri) {
        violations.push(violation(
            "item.source_uri",
            "must be an absolute URI with a scheme, e.g. https://example.org/paper.pdf".to_owned(),
        ));
    }
    if let Some(score) = item.confidence_score
        && !(score.is_finite() && (0.0..=1.0).contains(&score))
    {
        violations.push(violation(
            "item.confidence_score",
            "must be between 0 and 1".to_owned(),
        ));
    }
    if Kind::try_from(item.kind).is_err() {
        violations.push(violation("item.kind", "unknown kind".to_owned()));
    }
    if Status::try_from(item.status).is_err() {
        violations.push(violation("item.status", "unknown status".to_owned()));
    }
    if Visibility::try_from(item.visibility).is_err() {
        violations.push(violation(
            "item.visibility",
            "unknown visibility".to_owned(),
        ));
    }
    if item.links.len() > limits::LINKS {
        violations.push(violation(
            "item.links",
            format!("at most {} links", limits::LINKS),
        ));
    }
    for (index, link) in item.links.iter().enumerate() {
        if parse_item_name(link).is_none() {
            violations.push(violation(
                &format!("item.links[{index}]"),
                "must be items/{item}".to_owned(),
            ));
        }
    }
    if let Some(metadata) = &item.metadata
        && metadata.encoded_len() > limits::METADATA
    {
        violations.push(violation(
            "item.metadata",
            format!("must be at most {} bytes encoded", limits::METADATA),
        ));
    }
    if !item.folder.is_empty() {
        let bad_segment = item.folder.split('/').any(|segment| {
            segment.is_empty()
                || segment == "."
                || segment == ".."
                || segment.len() > limits::FOLDER_SEGMENT
                || segment.contains('\\')
                || segment.chars().any(char::is_control)
        });
        if bad_segment {
            violations.push(violation(
                "item.folder",
                "segments must be 1 to 128 bytes, not . or .., without \\ or control characters"
                    .to_owned(),
            ));
        }
    }
    item.tags = normalize_tags(&item.tags, &mut violations);
    if !violations.is_empty() {
        return Err(Error::invalid_fields(violations));
    }

    if item.kind == Kind::Unspecified as i32 {
        item.kind = Kind::Note as i32;
    }
    if item.status == Status::Unspecified as i32 {
        item.status = Status::Draft as i32;
    }
    if item.visibility == Visibility::Unspecified as i32 {
        item.visibility = Visibility::Private as i32;
    }
    if item.verification == Verification::Unspecified as i32 {
        item.verification = Verification::Pending as i32;
    }
    item.folder_derived = item.folder.is_empty();
    if item.folder_derived {
        item.folder = derived_folder(item.kind(), item.status()).to_owned();
    }
    item.confidence_computed = item.confidence_score.is_none();
    if item.confidence_computed {
        item.confidence_score = Some(computed_confidence(item));
    }
    Ok(())
}

fn looks_like_absolute_uri(value: &str) -> bool {
    let Some((scheme, rest)) = value.split_once(':') else {
        return false;
    };
    !rest.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The id of `items/{id}`, if `name` is a valid item name.
pub fn parse_item_name(name: &str) -> Option<&str> {
    name.strip_prefix("items/").filter(|id| valid_item_id(id))
}

/// `[a-z0-9]([a-z0-9-]*[a-z0-9])?`, at most 63 bytes (UUIDs fit).
pub fn valid_item_id(id: &str) -> bool {
    (1..=limits::ITEM_ID).contains(&id.len())
        && !id.starts_with('-')
        && !id.ends_with('-')
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// `items/{id}` in `field`, or INVALID_ARGUMENT naming `field`.
pub fn item_id_from_name<'a>(name: &'a str, field: &str) -> Result<&'a str, Error> {
    parse_item_name(name).ok_or_else(|| Error::invalid_field(field, "must be items/{item}"))
}

/// Whether `caller` may read an item owned by `owner` with `visibility`.
pub fn can_read(caller: &Caller, owner: &str, visibility: Visibility) -> bool {
    match caller {
        Caller::Anonymous => visibility == Visibility::Public,
        Caller::Authenticated(principal) => {
            principal.is_admin()
                || principal.is_service()
                || principal.subject == owner
                || matches!(visibility, Visibility::Public | Visibility::Internal)
        }
    }
}

/// Whether `caller` may read `item` as stored: visibility applies to live items; a soft-deleted
/// item is visible only to its owner, admins and service accounts (who may undelete or purge it).
pub fn can_read_item(caller: &Caller, item: &Item) -> bool {
    if item.delete_time.is_none() {
        return can_read(caller, &item.owner, item.visibility());
    }
    match caller {
        Caller::Anonymous => false,
        Caller::Authenticated(principal) => {
            principal.is_admin() || principal.is_service() || principal.subject == item.owner
        }
    }
}

/// Whether `principal` may change an item owned by `owner`.
pub fn can_write(principal: &Principal, owner: &str) -> bool {
    principal.is_admin() || (principal.subject == owner && principal.can_create_items())
}

/// Lower-case enum names as stored in the database.
pub mod names {
    use super::*;

    pub fn kind(kind: Kind) -> &'static str {
        match kind {
            Kind::Unspecified | Kind::Note => "note",
            Kind::Project => "project",
            Kind::Resource => "resource",
            Kind::Daily => "daily",
            Kind::System => "system",
        }
    }

    pub fn status(status: Status) -> &'static str {
        match status {
            Status::Unspecified | Status::Draft => "draft",
            Status::Processing => "processing",
            Status::Verified => "verified",
            Status::Archived => "archived",
        }
    }

    pub fn verification(verification: Verification) -> &'static str {
        match verification {
            Verification::Unspecified | Verification::Pending => "pending",
            Verification::Verified => "verified",
            Verification::Rejected => "rejected",
        }
    }

    pub fn visibility(visibility: Visibility) -> &'static str {
        match visibility {
            Visibility::Unspecified | Visibility::Private => "private",
            Visibility::Internal => "internal",
            Visibility::Public => "public",
        }
    }

    pub fn parse_kind(value: &str) -> Kind {
        match value {
            "project" => Kind::Project,
            "resource" => Kind::Resource,
            "daily" => Kind::Daily,
            "system" => Kind::System,
            _ => Kind::Note,
        }
    }

    pub fn parse_status(value: &str) -> Status {
        match value {
            "processing" => Status::Processing,
            "verified" => Status::Verified,
            "archived" => Status::Archived,
            _ => Status::Draft,
        }
    }

    pub fn parse_visibility(value: &str) -> Visibility {
        match value {
            "public" => Visibility::Public,
            "internal" => Visibility::Internal,
            _ => Visibility::Private,
        }
    }
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
