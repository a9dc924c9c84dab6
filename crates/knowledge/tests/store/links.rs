//! Link resolution on both backends: content links are stored with every write and resolve by
//! name, title, file name and alias, among the items the owner of the linking item may read,
//! preferring the owner's own items and then the oldest; they follow later writes of any item.

use pake_api::knowledge::item::Visibility;
use pake_api::knowledge::{Item, LinkType};
use pake_knowledge::store::{ReadScope, Replaced};
use pake_runtime::db::timestamp;

use super::{ALICE, BOB, CAROL, Fixture, complete, create_new};

/// 2024-01-01T00:00:00Z; item `n` of a test is created `n` ms later.
pub(super) const BASE: i64 = 1_704_067_200_000_000;

fn aliases(names: &[&str]) -> prost_types::Struct {
    use prost_types::value::Kind as ValueKind;
    let values = names
        .iter()
        .map(|name| prost_types::Value {
            kind: Some(ValueKind::StringValue((*name).to_owned())),
        })
        .collect();
    prost_types::Struct {
        fields: [(
            "aliases".to_owned(),
            prost_types::Value {
                kind: Some(ValueKind::ListValue(prost_types::ListValue { values })),
            },
        )]
        .into(),
    }
}

/// Creates item `id` at time `n`.
pub(super) async fn put(
    fixture: &Fixture,
    n: i64,
    id: &str,
    owner: &str,
    visibility: Visibility,
    title: &str,
    content: &str,
) -> Item {
    let item = Item {
        title: title.to_owned(),
        content: content.to_owned(),
        visibility: visibility as i32,
        ..Item::default()
    };
    create_new(fixture, complete(item, id, owner, BASE + n * 1000)).await
}

/// Stores `change` applied to `item` as its next version.
pub(super) async fn write(fixture: &Fixture, item: &Item, change: impl FnOnce(&mut Item)) -> Item {
    let revision: i64 = item.revision_id.parse().expect("revision");
    let mut next = item.clone();
    change(&mut next);
    next.revision_id = (revision + 1).to_string();
    let time = super::update_micros(item) + 1;
    next.update_time = Some(timestamp(time));
    match fixture
        .store
        .replace(next, revision, "updated", &item.owner)
        .await
        .expect("replace")
    {
        Replaced::Done(item) => *item,
        other => panic!("expected a replace, got {other:?}"),
    }
}

pub(super) fn user(subject: &str) -> ReadScope {
    ReadScope::User(subject.to_owned())
}

/// The links of `source` as `scope` reads them: (type, text, target id).
async fn links(
    fixture: &Fixture,
    scope: &ReadScope,
    source: &str,
) -> Vec<(LinkType, String, String)> {
    fixture
        .store
        .links_from(scope, &[source.to_owned()])
        .await
        .expect("links_from")
        .into_iter()
        .map(|link| (link.link_type, link.text, link.target_id))
        .collect()
}

/// The target of the one content link of `source` (read with every item readable).
async fn target(fixture: &Fixture, source: &str) -> Option<String> {
    let found = links(fixture, &ReadScope::All, source).await;
    assert!(found.len() <= 1, "{found:?}");
    found.into_iter().next().map(|(_, _, target)| target)
}

fn link(link_type: LinkType, text: &str, target: &str) -> (LinkType, String, String) {
    (link_type, text.to_owned(), target.to_owned())
}

pub(super) async fn content_links_resolve_by_name_title_file_and_alias(fixture: Fixture) {
    use LinkType::{Embed, Explicit, Markdown, Wikilink};
    let private = Visibility::Private;
    put(&fixture, 0, "t-name", ALICE, private, "Named", "").await;
    put(&fixture, 1, "book", ALICE, private, "Rust Book", "").await;
    put(&fixture, 2, "why", ALICE, private, "What? Why", "").await;
    let mut other = Item {
        title: "Other".into(),
        metadata: Some(aliases(&["RB"])),
        ..Item::default()
    };
    other = create_new(&fixture, complete(other, "other", ALICE, BASE + 3000)).await;
    let content = "[[items/t-name]] [[rust book#Ch 1|the book]] [[What- Why]] [[rb]] \
                   ![[Rust Book]] [m](Rust%20Book.md) ![[img.png]] [[Missing]] `[[Other]]`\n\
                   ```\n[[Named]]\n```\n";
    let mut source = Item {
        title: "Source".into(),
        content: content.into(),
        links: vec![other.name.clone()],
        ..Item::default()
    };
    source = create_new(&fixture, complete(source, "src", ALICE, BASE + 4000)).await;
    assert!(
        source.derived_links.is_empty(),
        "derived links are not stored"
    );
    let expected = vec![
        link(Explicit, "", "other"),
        link(Wikilink, "items/t-name", "t-name"),
        link(Wikilink, "rust book#Ch 1", "book"),
        link(Wikilink, "What- Why", "why"),
        link(Wikilink, "rb", "other"),
        link(Embed, "Rust Book", "book"),
        link(Markdown, "Rust Book.md", "book"),
    ];
    assert_eq!(links(&fixture, &user(ALICE), "src").await, expected);
    // Another reader sees none of them: every target is private to alice.
    assert_eq!(links(&fixture, &user(BOB), "src").await, vec![]);
    assert_eq!(links(&fixture, &ReadScope::Public, "src").await, vec![]);

    // A replace rewrites the links.
    write(&fixture, &source, |item| {
        item.content = "[Other](Other.md)".into();
        item.links.clear();
    })
    .await;
    assert_eq!(
        links(&fixture, &user(ALICE), "src").await,
        vec![link(Markdown, "Other.md", "other")]
    );
}

pub(super) async fn unresolved_links_resolve_later_and_follow_changes(fixture: Fixture) {
    let private = Visibility::Private;
    let source = put(
        &fixture,
        0,
        "src",
        ALICE,
        private,
        "Source",
        "See [[Later]].",
    )
    .await;
    assert_eq!(
        target(&fixture, "src").await,
        None,
        "nothing is titled Later yet"
    );

    let later = put(&fixture, 1, "later", ALICE, private, "Later", "").await;
    assert_eq!(target(&fixture, "src").await.as_deref(), Some("later"));

    write(&fixture, &later, |item| item.title = "Renamed".into()).await;
    assert_eq!(target(&fixture, "src").await, None, "renamed away");

    let mut holder = Item {
        title: "Holder".into(),
        metadata: Some(aliases(&["LATER"])),
        ..Item::default()
    };
    holder = create_new(&fixture, complete(holder, "holder", ALICE, BASE + 2000)).await;
    assert_eq!(
        target(&fixture, "src").await.as_deref(),
        Some("holder"),
        "by alias"
    );

    let titled = put(&fixture, 3, "titled", ALICE, private, "later", "").await;
    assert_eq!(
        target(&fixture, "src").await.as_deref(),
        Some("titled"),
        "title beats alias"
    );

    let deleted = write(&fixture, &titled, |item| {
        item.delete_time = Some(timestamp(BASE + 10_000));
    })
    .await;
    assert_eq!(
        target(&fixture, "src").await.as_deref(),
        Some("holder"),
        "deleted items drop out"
    );
    write(&fixture, &deleted, |item| item.delete_time = None).await;
    assert_eq!(
        target(&fixture, "src").await.as_deref(),
        Some("titled"),
        "undeleted: back"
    );

    write(&fixture, &holder, |item| item.metadata = None).await;
    write(&fixture, &source, |item| {
        item.content = "![[Holder]]".into()
    })
    .await;
    assert_eq!(
        target(&fixture, "src").await.as_deref(),
        Some("holder"),
        "new content"
    );
}

pub(super) async fn resolution_is_the_owners_and_prefers_own_then_oldest(fixture: Fixture) {
    use Visibility::{Internal, Private, Public};
    put(&fixture, 0, "bob-private", BOB, Private, "Shared", "").await;
    put(&fixture, 1, "src", ALICE, Public, "Source", "[[Shared]]").await;
    assert_eq!(
        target(&fixture, "src").await,
        None,
        "alice cannot read bob's private item"
    );

    let bob_internal = put(&fixture, 2, "bob-internal", BOB, Internal, "Shared", "").await;
    assert_eq!(
        target(&fixture, "src").await.as_deref(),
        Some("bob-internal")
    );
    put(&fixture, 3, "carol-public", CAROL, Public, "Shared", "").await;
    assert_eq!(
        target(&fixture, "src").await.as_deref(),
        Some("bob-internal"),
        "oldest first"
    );

    let own = put(&fixture, 4, "alice-own", ALICE, Private, "shared", "").await;
    assert_eq!(
        target(&fixture, "src").await.as_deref(),
        Some("alice-own"),
        "own first"
    );
    // The link is alice's resolution; carol may not read its target, so she sees no link (not
    // a link to the public item she could read).
    assert_eq!(links(&fixture, &user(CAROL), "src").await, vec![]);
    assert_eq!(links(&fixture, &ReadScope::Public, "src").await, vec![]);

    write(&fixture, &own, |item| {
        item.delete_time = Some(timestamp(BASE + 10_000));
    })
    .await;
    assert_eq!(
        target(&fixture, "src").await.as_deref(),
        Some("bob-internal")
    );
    write(&fixture, &bob_internal, |item| {
        item.visibility = Private as i32
    })
    .await;
    assert_eq!(
        target(&fixture, "src").await.as_deref(),
        Some("carol-public"),
        "narrowed away"
    );
    assert_eq!(
        links(&fixture, &ReadScope::Public, "src").await,
        vec![link(LinkType::Wikilink, "Shared", "carol-public")]
    );
}
