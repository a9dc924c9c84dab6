use proptest::prelude::*;

use super::*;

/// (type, text) of each link found.
fn found(content: &str) -> Vec<(LinkType, String)> {
    parse(content)
        .into_iter()
        .map(|link| (link.link_type, link.text))
        .collect()
}

fn wiki(text: &str) -> (LinkType, String) {
    (LinkType::Wikilink, text.to_owned())
}

#[test]
fn wikilinks_in_every_form() {
    assert_eq!(
        found("See [[Other Note]], [[Other|shown]] and [[Third#Part two]] or [[items/abc-1]]."),
        [
            wiki("Other Note"),
            wiki("Other"),
            wiki("Third#Part two"),
            wiki("items/abc-1")
        ]
    );
    let links = parse("[[Other Note#Heading|alias]] [[ITEMS/Abc]]");
    assert_eq!(
        links[0].keys,
        ["title:other note", "file:other note", "alias:other note"]
    );
    assert_eq!(
        links[1].keys,
        ["name:abc", "title:items/abc", "file:abc", "alias:items/abc"],
        "items/ID ranks its name first, case-insensitively"
    );
    // A path or `.md` in a wikilink: the file name is the last segment without `.md`.
    assert_eq!(
        parse("[[Folder/Sub Note.md]]")[0].keys[1],
        "file:sub note".to_owned()
    );
    // In a table the alias separator is escaped.
    assert_eq!(found("| [[Note\\|alias]] |"), [wiki("Note")]);
}

#[test]
fn what_is_not_a_wikilink() {
    for content in [
        "[[#Heading in this note]]",
        "[[]]",
        "[[ | alias]]",
        "[[broken\nacross lines]]",
        "\\[[escaped]]",
        "[[unclosed",
        "![[picture.png]] ![[Scan.PDF]] ![[folder/clip.mp4|300]] ![[a.tar.gz]]",
    ] {
        assert_eq!(found(content), [], "{content:?}");
    }
    let long = format!("[[{}]]", "x".repeat(MAX_TEXT + 1));
    assert_eq!(found(&long), []);
}

#[test]
fn embeds_of_notes_are_links() {
    assert_eq!(
        found("![[Other Note]] ![[Version 1.2]] ![[Dr. Who#Intro]] ![[Note.md]]"),
        [
            (LinkType::Embed, "Other Note".to_owned()),
            (LinkType::Embed, "Version 1.2".to_owned()),
            (LinkType::Embed, "Dr. Who#Intro".to_owned()),
            (LinkType::Embed, "Note.md".to_owned()),
        ]
    );
    // A wikilink (not an embed) to a name with an extension still resolves by title.
    assert_eq!(found("[[report.pdf]]"), [wiki("report.pdf")]);
}

#[test]
fn markdown_links_to_notes() {
    let links = parse(
        "[a](Other%20Note.md) [b](../notes/Deep%20Dive.MD#Part%202) [c](<With Spaces.md> \"t\") \
         [d](./Plain.md 'title') ![e](Embedded.md)",
    );
    let texts: Vec<&str> = links.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "Other Note.md",
            "../notes/Deep Dive.MD#Part 2",
            "With Spaces.md",
            "./Plain.md",
            "Embedded.md"
        ]
    );
    assert!(links.iter().all(|l| l.link_type == LinkType::Markdown));
    assert_eq!(
        links[1].keys,
        ["title:deep dive", "file:deep dive", "alias:deep dive"]
    );
    for content in [
        "[web](https://example.org/Note.md)",
        "[mail](mailto:someone@example.org)",
        "[proto](//example.org/Note.md)",
        "[image](picture.png)",
        "[anchor](#heading)",
        "[no destination]",
        "[text] (Note.md)",
        "[.md](.md)",
        "[bad](%FF%FE.md)",
    ] {
        assert_eq!(found(content), [], "{content:?}");
    }
}

#[test]
fn code_is_not_scanned() {
    let content = "\
Before [[Kept]].
```rust
let x = [[NotALink]];
```
~~~~
[[Nor This]]
~~~
[[Still fenced]]
~~~~
Inline `[[Code]]` and ``[[Double `tick`]]`` but `unclosed [[After Tick]]
> ```
> [[Quoted fence]]
> ```
[[End]]
";
    assert_eq!(
        found(content),
        [wiki("Kept"), wiki("After Tick"), wiki("End")]
    );
    // An unclosed fence runs to the end.
    assert_eq!(found("[[A]]\n```\n[[B]]\n"), [wiki("A")]);
    // An inline code span does not cross a blank line.
    assert_eq!(found("`open\n\n[[C]] `"), [wiki("C")]);
}

#[test]
fn links_are_distinct_and_bounded() {
    let content = "[[A]] [[a#x]] ![[A]] [[A|other alias]] [a](A.md)";
    assert_eq!(
        found(content),
        [
            wiki("A"),
            (LinkType::Embed, "A".to_owned()),
            (LinkType::Markdown, "A.md".to_owned())
        ],
        "the first text of each (type, keys) is kept"
    );
    let many: String = (0..MAX_LINKS + 10).map(|n| format!("[[n{n}]] ")).collect();
    assert_eq!(parse(&many).len(), MAX_LINKS);
}

#[test]
fn item_keys_cover_name_title_file_and_aliases() {
    let mut item = Item {
        name: "items/abc".into(),
        title: "  What? A/B: Test. ".into(),
        ..Item::default()
    };
    item.metadata = Some(prost_types::Struct {
        fields: [(
            "aliases".to_owned(),
            prost_types::Value {
                kind: Some(prost_types::value::Kind::ListValue(
                    prost_types::ListValue {
                        values: ["WAT", "what? a/b: test.", ""]
                            .map(|alias| prost_types::Value {
                                kind: Some(prost_types::value::Kind::StringValue(alias.into())),
                            })
                            .to_vec(),
                    },
                )),
            },
        )]
        .into(),
    });
    assert_eq!(
        item_keys(&item),
        [
            (KeyKind::Name, "name:abc".to_owned()),
            (KeyKind::Title, "title:what? a/b: test.".to_owned()),
            (KeyKind::File, "file:what- a-b- test".to_owned()),
            (KeyKind::Alias, "alias:wat".to_owned()),
            (KeyKind::Alias, "alias:what? a/b: test.".to_owned()),
        ]
    );
    assert_eq!(file_name(" . . ", "the-id"), "the-id");
    assert_eq!(file_name("a/b", "x"), "a-b");
    assert_eq!(file_name(&"é".repeat(150), "x").len(), 200);
}

#[test]
fn link_type_names_round_trip() {
    for link_type in [
        LinkType::Wikilink,
        LinkType::Embed,
        LinkType::Markdown,
        LinkType::Explicit,
    ] {
        assert_eq!(parse_link_type(link_type_name(link_type)), link_type);
    }
}

/// Titles without link syntax: letters, digits, spaces and harmless punctuation.
fn title() -> impl Strategy<Value = String> {
    "[A-Za-z0-9äöüÉ][A-Za-z0-9äöüÉ ,;'()!&-]{0,30}".prop_map(|title| title.trim_end().to_owned())
}

proptest! {
    #[test]
    fn parsing_never_panics_and_stays_bounded(content in "(?s).{0,400}") {
        for link in parse(&content) {
            prop_assert!(link.text.len() <= MAX_TEXT);
            prop_assert!(!link.keys.is_empty());
        }
    }

    #[test]
    fn parsing_never_panics_on_link_syntax_soup(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("[["), Just("]]"), Just("!"), Just("["), Just("]"), Just("("), Just(")"),
                Just("`"), Just("```\n"), Just("\n"), Just("\\"), Just("|"), Just("#"),
                Just(".md"), Just("%2"), Just("%20"), Just("é"), Just("<"), Just(">"), Just("\""),
                Just("a"), Just(" "),
            ],
            0..80,
        )
    ) {
        let content: String = parts.concat();
        let _ = parse(&content);
    }

    #[test]
    fn a_wikilink_resolves_by_its_folded_title(title in title(), heading in "[a-z ]{0,10}") {
        let links = parse(&format!("x [[{title}#{heading}|shown]] y"));
        prop_assert_eq!(links.len(), 1);
        prop_assert_eq!(&links[0].keys[0], &format!("title:{}", fold(&title)));
        let expected = format!("{title}#{heading}");
        prop_assert_eq!(links[0].text.as_str(), expected.trim());
    }

    #[test]
    fn percent_encoded_markdown_links_decode_to_the_title(title in title()) {
        let encoded: String = title
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() { char::from(b).to_string() } else { format!("%{b:02X}") })
            .collect();
        let links = parse(&format!("[text]({encoded}.md)"));
        prop_assert_eq!(links.len(), 1);
        prop_assert_eq!(&links[0].text, &format!("{title}.md"));
        prop_assert_eq!(&links[0].keys[0], &format!("title:{}", fold(&title)));
    }

    #[test]
    fn nothing_inside_code_is_a_link(title in title(), ticks in 1_usize..4) {
        let span = "`".repeat(ticks);
        let content = format!("{span}[[{title}]]{span}\n\n```\n[[{title}]] [x]({title}.md)\n```\n");
        prop_assert_eq!(parse(&content), vec![]);
    }

    #[test]
    fn file_names_are_safe(title in "(?s).{0,300}", id in "[a-z0-9]{1,10}") {
        let name = file_name(&title, &id);
        prop_assert!(!name.is_empty() && name.len() <= MAX_FILE_NAME);
        prop_assert!(!name.contains(['/', '\\', ':', '*', '?', '"', '<', '>', '|', '#', '^', '[', ']']));
        prop_assert!(!name.starts_with([' ', '.']) && !name.ends_with([' ', '.']));
    }
}
