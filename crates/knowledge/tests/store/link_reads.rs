//! Link reads on both backends: links into a set of items, backlinks (paged and counted),
//! links among items, summaries and statistics, each applying the reader's scope to both ends of
//! every link.

use pake_api::knowledge::item::{Kind, Status, Visibility};
use pake_api::knowledge::{Item, LinkType};
use pake_knowledge::filter::Filter;
use pake_knowledge::order::ListPosition;
use pake_knowledge::sql::SqlFragment;
use pake_knowledge::store::ReadScope;
use pake_runtime::db::timestamp;

use super::links::{BASE, put, user, write};
use super::{ALICE, BOB, CAROL, Fixture, complete, create_new};

pub(super) async fn backlinks_and_link_reads_apply_the_scope(fixture: Fixture) {
    use Visibility::{Private, Public};
    put(&fixture, 0, "hub", ALICE, Public, "Hub", "Me: [[Hub]]").await;
    put(&fixture, 1, "a1", ALICE, Private, "A1", "[[Hub]]").await;
    let mut b1 = Item {
        title: "B1".into(),
        content: "[[hub]] and [link](Hub.md)".into(),
        links: vec!["items/hub".into()],
        visibility: Public as i32,
        ..Item::default()
    };
    b1 = create_new(&fixture, complete(b1, "b1", BOB, BASE + 2000)).await;
    put(&fixture, 3, "b2", BOB, Private, "B2", "![[Hub]]").await;
    put(&fixture, 4, "c1", CAROL, Public, "C1", "[[Hub]]").await;
    let d1 = put(&fixture, 5, "d1", ALICE, Public, "D1", "[[Hub]]").await;
    write(&fixture, &d1, |item| {
        item.delete_time = Some(timestamp(BASE + 10_000));
    })
    .await;

    let sources = |links: Vec<pake_knowledge::store::Link>| {
        let mut ids: Vec<String> = links.into_iter().map(|link| link.source_id).collect();
        ids.dedup();
        ids
    };
    let hub = ["hub".to_owned()];
    let to = fixture
        .store
        .links_to(&user(ALICE), &hub)
        .await
        .expect("links_to");
    assert_eq!(
        sources(to),
        ["a1", "b1", "c1", "hub"],
        "no private b2, no deleted d1"
    );
    let to = fixture
        .store
        .links_to(&ReadScope::Public, &hub)
        .await
        .expect("links_to");
    assert_eq!(sources(to), ["b1", "c1", "hub"]);

    let backlinks = |scope: ReadScope| {
        let fixture = &fixture;
        async move {
            let mut found = Vec::new();
            let mut after: Option<ListPosition> = None;
            loop {
                let page = fixture
                    .store
                    .backlinks(&scope, "hub", after.as_ref(), 1)
                    .await
                    .expect("backlinks");
                let Some(last) = page.last() else { break };
                after = Some(last.position.clone());
                found.extend(page.into_iter().map(|b| (b.source.name, b.types)));
            }
            let count = fixture
                .store
                .count_backlinks(&scope, "hub")
                .await
                .expect("count");
            assert_eq!(usize::try_from(count).expect("count"), found.len());
            found
        }
    };
    use LinkType::{Embed, Explicit, Markdown, Wikilink};
    // Most recently updated first; each source once with its link types in enum order.
    assert_eq!(
        backlinks(user(ALICE)).await,
        [
            ("items/c1".to_owned(), vec![Wikilink]),
            ("items/b1".to_owned(), vec![Wikilink, Markdown, Explicit]),
            ("items/a1".to_owned(), vec![Wikilink]),
        ]
    );
    assert_eq!(
        backlinks(user(BOB)).await,
        [
            ("items/c1".to_owned(), vec![Wikilink]),
            ("items/b2".to_owned(), vec![Embed]),
            ("items/b1".to_owned(), vec![Wikilink, Markdown, Explicit]),
        ]
    );
    assert_eq!(backlinks(ReadScope::Public).await.len(), 2);
    assert_eq!(
        backlinks(ReadScope::All).await.len(),
        4,
        "deleted d1 never counts"
    );

    let among = fixture
        .store
        .links_among(&[
            "hub".to_owned(),
            b1.name.trim_start_matches("items/").to_owned(),
        ])
        .await
        .expect("links_among");
    let among: Vec<_> = among
        .into_iter()
        .map(|l| (l.source_id, l.link_type, l.target_id))
        .collect();
    assert_eq!(
        among,
        [
            ("b1".to_owned(), Explicit, "hub".to_owned()),
            ("b1".to_owned(), Wikilink, "hub".to_owned()),
            ("b1".to_owned(), Markdown, "hub".to_owned()),
            ("hub".to_owned(), Wikilink, "hub".to_owned()),
        ]
    );
    let mut summaries = fixture
        .store
        .summaries(&["b1".to_owned(), "hub".to_owned(), "absent".to_owned()])
        .await
        .expect("summaries");
    summaries.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(summaries.len(), 2);
    assert_eq!(
        (summaries[0].title.as_str(), summaries[1].title.as_str()),
        ("B1", "Hub")
    );
}

pub(super) async fn stats_count_only_readable_live_items(fixture: Fixture) {
    use Visibility::{Internal, Private, Public};
    let mut n = 0;
    let mut add = |id: &'static str,
                   owner: &'static str,
                   visibility: Visibility,
                   kind: Kind,
                   status: Status,
                   score: f64,
                   content: &'static str| {
        n += 1;
        let item = Item {
            title: id.to_uppercase(),
            content: content.to_owned(),
            kind: kind as i32,
            status: status as i32,
            confidence_score: Some(score),
            visibility: visibility as i32,
            ..Item::default()
        };
        complete(item, id, owner, BASE + n * 1000)
    };
    let items = [
        add(
            "n1",
            ALICE,
            Private,
            Kind::Note,
            Status::Draft,
            0.95,
            "[[P1]] [[R1]]",
        ),
        add(
            "p1",
            ALICE,
            Internal,
            Kind::Project,
            Status::Verified,
            0.75,
            "",
        ),
        add(
            "r1",
            ALICE,
            Private,
            Kind::Resource,
            Status::Processing,
            0.5,
            "",
        ),
        add(
            "d1",
            BOB,
            Private,
            Kind::Daily,
            Status::Draft,
            0.3,
            "[[P1]] [[R1]] [[S1]]",
        ),
        add("s1", BOB, Public, Kind::System, Status::Archived, 0.1, ""),
        add(
            "c1",
            CAROL,
            Internal,
            Kind::Note,
            Status::Draft,
            0.7,
            "[[P1]]",
        ),
        add(
            "x1",
            ALICE,
            Public,
            Kind::Note,
            Status::Draft,
            0.9,
            "[[P1]] [[S1]]",
        ),
    ];
    for item in items {
        let created = create_new(&fixture, item).await;
        if created.name == "items/x1" {
            write(&fixture, &created, |item| {
                item.delete_time = Some(timestamp(BASE + 100_000));
            })
            .await;
        }
    }
    let none = SqlFragment::new();
    let stats = fixture
        .store
        .stats(&user(ALICE), &none)
        .await
        .expect("stats");
    assert_eq!(
        stats.total, 5,
        "alice's three, bob's public s1, carol's internal c1"
    );
    assert_eq!(stats.kinds, [2, 1, 1, 0, 1]);
    assert_eq!(stats.statuses, [2, 1, 1, 1]);
    assert_eq!(stats.verifications, [5, 0, 0]);
    assert_eq!(
        stats.buckets,
        [1, 2, 1, 0, 1],
        "0.95 | 0.75 0.7 | 0.5 | - | 0.1"
    );
    let average = stats.average_confidence.expect("average");
    assert!(
        (average - (0.95 + 0.75 + 0.5 + 0.1 + 0.7) / 5.0).abs() < 1e-9,
        "{average}"
    );
    let ranked = |stats: &pake_knowledge::store::Stats| {
        stats
            .most_linked
            .iter()
            .map(|(item, count)| (item.name.clone(), *count))
            .collect::<Vec<_>>()
    };
    // d1 (bob's, private) and x1 (deleted) never count; n1 -> p1, r1; c1 -> p1.
    assert_eq!(
        ranked(&stats),
        [("items/p1".to_owned(), 2), ("items/r1".to_owned(), 1)]
    );
    let recent: Vec<&str> = stats.most_recent.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        recent,
        ["items/c1", "items/s1", "items/r1", "items/p1", "items/n1"]
    );

    let bob = fixture.store.stats(&user(BOB), &none).await.expect("stats");
    assert_eq!(bob.total, 4, "p1, d1, s1, c1");
    // d1's [[R1]] does not resolve (bob cannot read r1); n1 is alice's private item.
    assert_eq!(
        ranked(&bob),
        [("items/p1".to_owned(), 2), ("items/s1".to_owned(), 1)]
    );

    let public = fixture
        .store
        .stats(&ReadScope::Public, &none)
        .await
        .expect("stats");
    assert_eq!((public.total, public.kinds), (1, [0, 0, 0, 0, 1]));
    assert!(public.most_linked.is_empty(), "s1's only linker is private");

    let projects = Filter::parse("kind = project")
        .expect("filter")
        .to_sql(Some(ALICE));
    let filtered = fixture
        .store
        .stats(&user(ALICE), &projects)
        .await
        .expect("stats");
    assert_eq!((filtered.total, filtered.kinds), (1, [0, 1, 0, 0, 0]));
    assert_eq!(ranked(&filtered), [("items/p1".to_owned(), 2)]);

    let nothing = Filter::parse("tag = \"none\"")
        .expect("filter")
        .to_sql(Some(ALICE));
    let empty = fixture
        .store
        .stats(&user(ALICE), &nothing)
        .await
        .expect("stats");
    assert_eq!(empty.total, 0);
    assert_eq!(empty.average_confidence, None);
    assert_eq!(empty.buckets, [0; 5]);
    assert!(empty.most_linked.is_empty() && empty.most_recent.is_empty());
}
