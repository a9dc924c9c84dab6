use std::collections::BTreeMap;

use pake_api::knowledge::item::{Kind, Status, Verification, Visibility};
use prost_types::value::Kind as ValueKind;
use prost_types::{Struct, Timestamp};

use super::*;
use crate::model;
use crate::vault::note;

fn item(id: &str, title: &str, folder: &str, created: i64) -> Item {
    Item {
        name: format!("items/{id}"),
        title: title.into(),
        folder: folder.into(),
        create_time: Some(Timestamp {
            seconds: created,
            nanos: 0,
        }),
        ..Item::default()
    }
}

#[test]
fn paths_come_from_folder_and_title_and_collisions_get_the_id() {
    let files = layout(vec![
        item("b", "Note", "00-Inbox", 2),
        item("a", "note", "00-Inbox", 3),
        item("c", "Note", "Other", 1),
        item("d", "A: B / C", "00-Inbox", 1),
        item("e", "...", "00-Inbox", 1),
    ]);
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "00-Inbox/A- B - C.md",
            "00-Inbox/Note.md",
            "00-Inbox/e.md",
            "00-Inbox/note (a).md",
            "Other/Note.md",
        ]
    );
    let linker = Linker::new(&files);
    // `[[Note]]` finds the first of the files named Note, b; c needs its folder.
    assert_eq!(linker.connection("b"), "[[Note]]");
    assert_eq!(linker.connection("c"), "[[Other/Note]]");
    assert_eq!(linker.connection("a"), "[[note (a)]]");
    assert_eq!(linker.connection("d"), "[[A- B - C]]");
    assert_eq!(linker.connection("zzz"), "[[items/zzz]]");
}

fn string(text: &str) -> prost_types::Value {
    prost_types::Value {
        kind: Some(ValueKind::StringValue(text.into())),
    }
}

#[test]
fn a_rendered_item_reads_back_to_the_same_fields() {
    let tricky = [
        "yes",
        "null",
        "~",
        "1.0",
        "0x10",
        "2024-01-01",
        "- dash",
        "a: b",
        "#hash",
        "[[Link]]",
        " padded ",
        "line\nbreak",
        "quote's \"double\"",
        "",
        "@at",
        "*star",
        "!tag",
    ];
    for (n, text) in tricky.iter().enumerate() {
        let mut fields = BTreeMap::new();
        fields.insert("aliases".to_owned(), string(text));
        fields.insert("created".to_owned(), string("clash: not exported"));
        fields.insert(format!("k{n}"), string(text));
        let mut original = Item {
            name: format!("items/id-{n}"),
            title: format!("Title {text}"),
            // (Body `#tags` become tags on import: `x` keeps `#hash` from being one.)
            content: format!("---\nnot frontmatter\n---\nx{text}\n"),
            kind: Kind::Resource as i32,
            status: Status::Processing as i32,
            verification: Verification::Verified as i32,
            visibility: Visibility::Public as i32,
            confidence_score: Some(0.5),
            source_uri: "https://example.org/a b".replace(' ', "%20"),
            tags: vec!["one".into(), "two/three".into()],
            summary: (*text).to_owned(),
            human_notes: format!("{text}!"),
            metadata: Some(Struct { fields }),
            folder: "Projects/Sub".into(),
            create_time: Some(Timestamp {
                seconds: 1,
                nanos: 5000,
            }),
            ..Item::default()
        };
        model::validate_and_complete(&mut original).expect("valid");
        let bytes = render(&original, vec!["[[Other]]".into()]).expect("renders");
        let path = format!("{}/{}.md", original.folder, file_name(&original.title, "x"));
        let read = note::read(&path, &bytes).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        let mut back = read.item;
        model::validate_and_complete(&mut back).expect("valid");
        assert_eq!(
            read.pake_id.as_deref(),
            Some(original.name.trim_start_matches("items/"))
        );
        assert_eq!(read.connections, vec!["[[Other]]"]);
        assert_eq!(back.title, original.title, "{text:?}");
        assert_eq!(back.content, original.content, "{text:?}");
        assert_eq!(back.summary, original.summary, "{text:?}");
        assert_eq!(back.human_notes, original.human_notes, "{text:?}");
        let mut expected = original.metadata.clone().expect("metadata");
        expected.fields.remove("created");
        assert_eq!(back.metadata, Some(expected), "{text:?}");
        assert_eq!(
            (back.kind, back.status, back.verification, back.visibility),
            (
                original.kind,
                original.status,
                original.verification,
                original.visibility
            )
        );
        assert_eq!(back.confidence_score, original.confidence_score);
        assert!(!back.confidence_computed);
        assert_eq!(back.tags, original.tags);
        assert_eq!(back.source_uri, original.source_uri);
        assert_eq!(
            (back.folder.as_str(), back.folder_derived),
            ("Projects/Sub", false)
        );
    }
}

#[test]
fn a_computed_confidence_is_not_exported() {
    let mut computed = item("a", "T", "00-Inbox", 1);
    model::validate_and_complete(&mut computed).expect("valid");
    let text = String::from_utf8(render(&computed, Vec::new()).expect("renders")).expect("utf8");
    assert!(!text.contains("confidence_score"), "{text}");
    assert!(
        text.starts_with("---\npake_id: a\ntitle: T\ntype: note\nstatus: draft\n"),
        "{text}"
    );
    assert!(text.contains("created: 1970-01-01T00:00:01Z\n"), "{text}");
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Text with YAML's special characters, quotes, line breaks, unicode and spaces.
    fn text() -> impl Strategy<Value = String> {
        proptest::string::string_regex(
            "[ a-zA-Z0-9:#\\-\\[\\]{}'\"|>!&*%@`,?\n\t\r\u{e9}\u{2615}.~]{0,40}",
        )
        .expect("regex")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn any_values_render_and_read_back(
            title in text(),
            summary in text(),
            notes in text(),
            value in text(),
            content in "[^#]{0,60}",
        ) {
            let mut fields = BTreeMap::new();
            fields.insert("note".to_owned(), string(&value));
            let mut original = Item {
                name: "items/p".into(),
                title: format!("T{title}"),
                content,
                summary,
                human_notes: notes,
                metadata: Some(Struct { fields }),
                ..Item::default()
            };
            model::validate_and_complete(&mut original).expect("valid");
            let bytes = render(&original, Vec::new()).expect("renders");
            let read = note::read("00-Inbox/x.md", &bytes).expect("reads back");
            let back = read.item;
            prop_assert_eq!(&back.title, &original.title);
            prop_assert_eq!(&back.content, &original.content);
            prop_assert_eq!(&back.summary, &original.summary);
            prop_assert_eq!(&back.human_notes, &original.human_notes);
            let note = back.metadata.as_ref().and_then(|m| m.fields.get("note")).cloned();
            prop_assert_eq!(note, Some(string(&value)));
        }

        #[test]
        fn any_bytes_read_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = note::read("a/b.md", &bytes);
            let mut framed = b"---\n".to_vec();
            framed.extend_from_slice(&bytes);
            framed.extend_from_slice(b"\n---\n");
            let _ = note::read("a/b.md", &framed);
        }
    }
}
