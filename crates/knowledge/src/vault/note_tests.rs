use pake_api::knowledge::item::{Kind, Status, Verification, Visibility};
use prost_types::value::Kind as ValueKind;

use super::*;

fn metadata_string(note: &Note, key: &str) -> Option<String> {
    match &note.item.metadata.as_ref()?.fields.get(key)?.kind {
        Some(ValueKind::StringValue(text)) => Some(text.clone()),
        _ => None,
    }
}

fn aliases(note: &Note) -> Vec<String> {
    let Some(value) = note
        .item
        .metadata
        .as_ref()
        .and_then(|m| m.fields.get("aliases"))
    else {
        return Vec::new();
    };
    match &value.kind {
        Some(ValueKind::ListValue(list)) => list
            .values
            .iter()
            .filter_map(|v| match &v.kind {
                Some(ValueKind::StringValue(text)) => Some(text.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[test]
fn every_pake_key_maps_to_its_field_and_the_rest_to_metadata() {
    let file = "---\n\
        pake_id: ABC-123\n\
        title: The Title\n\
        type: Project\n\
        status: STATUS_VERIFIED\n\
        verification_status: rejected\n\
        visibility: internal\n\
        confidence_score: 0.75\n\
        source_uri: https://example.org/x\n\
        tags: [rust, \"#grpc\"]\n\
        connections:\n  - \"[[Other]]\"\n  - [[Unquoted]]\n  - items/xyz\n\
        ai_summary: Short.\n\
        human_notes: Checked.\n\
        created: 2024-01-01\n\
        modified: 2024-01-02\n\
        custom: 2024-05-01 10:00:00\n\
        nested: {a: [1, 2]}\n\
        ---\nBody with #inline tag.\n";
    let note = read("03-Projects/file.md", file.as_bytes()).expect("reads");
    let item = &note.item;
    assert_eq!(note.pake_id.as_deref(), Some("abc-123"));
    assert_eq!(item.title, "The Title");
    assert_eq!(item.kind, Kind::Project as i32);
    assert_eq!(item.status, Status::Verified as i32);
    assert_eq!(item.verification, Verification::Rejected as i32);
    assert_eq!(item.visibility, Visibility::Internal as i32);
    assert_eq!(item.confidence_score, Some(0.75));
    assert_eq!(item.source_uri, "https://example.org/x");
    assert_eq!(item.tags, vec!["rust", "#grpc", "inline"]);
    assert_eq!(
        note.connections,
        vec!["[[Other]]", "[[Unquoted]]", "items/xyz"]
    );
    assert_eq!(item.summary, "Short.");
    assert_eq!(item.human_notes, "Checked.");
    assert_eq!(item.content, "Body with #inline tag.\n");
    assert_eq!(
        item.folder, "03-Projects",
        "not the derived folder of verified"
    );
    let metadata = item.metadata.as_ref().expect("metadata");
    assert!(!metadata.fields.contains_key("created") && !metadata.fields.contains_key("modified"));
    assert_eq!(
        metadata_string(&note, "custom").as_deref(),
        Some("2024-05-01T10:00:00Z")
    );
    assert!(metadata.fields.contains_key("nested"));
    assert_eq!(aliases(&note), vec!["file"], "the file name is an alias");
}

#[test]
fn the_title_comes_from_frontmatter_then_heading_then_file_name() {
    let with_heading = read("a/Some File.md", b"intro\n# The Heading\n").expect("reads");
    assert_eq!(with_heading.item.title, "The Heading");
    assert_eq!(aliases(&with_heading), vec!["Some File"]);
    let bare = read("Caf\u{e9} \u{2615}.md", "no heading".as_bytes()).expect("reads");
    assert_eq!(bare.item.title, "Caf\u{e9} \u{2615}");
    assert!(
        bare.item.metadata.is_none(),
        "no alias when the file name is the title"
    );
    let empty_title = read("x/Name.md", b"---\ntitle: ''\n---\n# H\n").expect("reads");
    assert_eq!(empty_title.item.title, "H");
}

#[test]
fn bom_and_crlf_are_accepted() {
    let file = "\u{feff}---\r\ntitle: T\r\ntags: a, b\r\n---\r\nLine\r\n";
    let note = read("T.md", file.as_bytes()).expect("reads");
    assert_eq!(note.item.title, "T");
    assert_eq!(note.item.tags, vec!["a", "b"]);
    assert_eq!(note.item.content, "Line\r\n");
}

#[test]
fn the_folder_stays_derived_at_the_root_and_in_the_derived_folder() {
    assert_eq!(read("Root.md", b"x").expect("root").item.folder, "");
    assert_eq!(read("00-Inbox/N.md", b"x").expect("inbox").item.folder, "");
    let daily = read(
        "01-Daily/N.md",
        b"---\ntype: daily\nstatus: processing\n---\n",
    )
    .expect("daily");
    assert_eq!(daily.item.folder, "");
    assert_eq!(
        read("Areas/Sub/N.md", b"x").expect("sub").item.folder,
        "Areas/Sub"
    );
}

#[test]
fn invalid_files_fail_with_a_reason() {
    let cases: [(&[u8], &str); 8] = [
        (
            b"---\ntitle: [unclosed\n---\n",
            "malformed frontmatter at line ",
        ),
        (b"---\ntitle: A\n", "never closed"),
        (b"---\ntype: essay\n---\n", "type: unknown value `essay`"),
        (
            b"---\nconfidence_score: 1.5\n---\n",
            "confidence_score: must be between 0 and 1",
        ),
        (
            b"---\nconfidence_score: high\n---\n",
            "confidence_score: must be a number",
        ),
        (b"---\npake_id: Not Valid!\n---\n", "pake_id:"),
        (
            b"---\ntitle: {a: 1}\n---\n",
            "title: must be a single value",
        ),
        (b"\xff\xfe", "not valid UTF-8"),
    ];
    for (bytes, expected) in cases {
        let error = read("N.md", bytes).expect_err("fails");
        assert!(error.contains(expected), "{error} / {expected}");
    }
    let long_title = format!("---\ntitle: {}\n---\n", "x".repeat(600));
    let error = read("N.md", long_title.as_bytes()).expect_err("long title");
    assert!(error.starts_with("title:"), "{error}");
    let bad_tag = read("N.md", b"---\ntags: [has space]\n---\n").expect_err("tag");
    assert!(bad_tag.starts_with("tags[0]:"), "{bad_tag}");
}

#[test]
fn an_exported_file_name_adds_no_alias() {
    let suffixed =
        read("a/Note (abc).md", b"---\npake_id: abc\ntitle: Note\n---\n").expect("reads");
    assert!(suffixed.item.metadata.is_none());
    let replaced = read("a/Q&A- Why.md", b"---\ntitle: 'Q&A: Why'\n---\n").expect("reads");
    assert!(replaced.item.metadata.is_none());
    let listed = read("a/Other.md", b"---\ntitle: T\naliases: other\n---\n").expect("reads");
    assert_eq!(
        metadata_string(&listed, "aliases").as_deref(),
        Some("other")
    );
    let added = read("a/Other.md", b"---\ntitle: T\naliases: First\n---\n").expect("reads");
    assert_eq!(aliases(&added), vec!["First", "Other"]);
}
