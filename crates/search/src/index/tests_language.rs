//! Tests of the query language, highlights, orders and facets through the public API.

use super::tests::{item, names, query, search};
use super::*;

/// A small corpus for the query-language tests.
pub(super) fn corpus() -> SearchIndex {
    let index = SearchIndex::open_in_ram().expect("open");
    let mut items = vec![
        item(
            "1",
            "Information retrieval",
            "Ranking documents with BM25 for retrieval.",
        ),
        item(
            "2",
            "Rust borrow checker",
            "The borrow checker enforces lifetime elision rules.",
        ),
        item(
            "3",
            "Async Rust",
            "Futures and the borrow of data across await points.",
        ),
        item("4", "Cooking", "A recipe for bread; checker board cake."),
        item(
            "5",
            "Work in progress",
            "Draft notes about retrieval, work in progress.",
        ),
    ];
    items[0].tags = vec!["IR".into(), "search".into()];
    items[1].tags = vec!["Rust".into(), "area/rust".into()];
    items[2].tags = vec!["rust".into()];
    items[1].kind = "project".into();
    items[3].kind = "daily".into();
    items[1].status = "verified".into();
    items[4].status = "archived".into();
    for (i, mut it) in items.into_iter().enumerate() {
        it.update_time_us = 1_000 * (i as i64 + 1);
        it.create_time_us = 10_000 - it.update_time_us;
        it.confidence_score = 0.1 * (i as f64 + 1.0);
        index.upsert(it).expect("upsert");
    }
    index.commit("c1").expect("commit");
    index
}

#[test]
fn phrases_exclusions_and_filters() {
    let index = corpus();
    assert_eq!(
        names(&search(&index, r#""borrow checker""#)),
        vec!["items/2"]
    );
    // A phrase is required; words beside it only rank.
    assert_eq!(
        names(&search(&index, r#"cooking "borrow checker""#)),
        vec!["items/2"]
    );
    let page = search(&index, "borrow checker ");
    let mut words = names(&page);
    words.sort();
    assert_eq!(words, vec!["items/2", "items/3", "items/4"]);
    assert_eq!(
        names(&search(&index, "borrow checker -cake ")),
        vec!["items/2", "items/3"]
    );
    assert_eq!(
        names(&search(&index, r#"retrieval -"work in progress""#)),
        vec!["items/1"]
    );
    assert_eq!(
        names(&search(&index, "borrow tag:rust ")),
        vec!["items/2", "items/3"]
    );
    // Several tags must all hold; tags compare whole and case-insensitively.
    assert_eq!(
        names(&search(&index, "tag:RUST tag:area/rust")),
        vec!["items/2"]
    );
    assert_eq!(search(&index, "tag:area ").total, 0);
    assert_eq!(
        names(&search(&index, "tag:are")),
        vec!["items/2"],
        "prefix on the last filter"
    );
    // kind:/status: are any-of; exclusions of filters.
    assert_eq!(
        names(&search(&index, "kind:project kind:daily")),
        vec!["items/4", "items/2"]
    );
    assert_eq!(
        names(&search(&index, "retrieval status:archiv")),
        vec!["items/5"]
    );
    assert_eq!(
        names(&search(&index, "retrieval -status:archived")),
        vec!["items/1"]
    );
    assert_eq!(search(&index, "-tag:rust -kind:daily").total, 2);
    // Words match tags too.
    assert_eq!(names(&search(&index, "ir ")), vec!["items/1"]);
}

#[test]
fn typos_and_prefixes() {
    let index = corpus();
    let typo = search(&index, "retreival ");
    assert_eq!(typo.total, 2);
    assert!(typo.hits.iter().all(|h| h.score > 0.0));
    // Exact matches rank above typo matches.
    let mixed = search(&index, "retrieval borow ");
    assert!(mixed.hits[0].name == "items/1" || mixed.hits[0].name == "items/5");
    let borrow_exact = search(&index, "borrow ").hits[0].score;
    let borrow_typo = search(&index, "borow ").hits[0].score;
    assert!(borrow_exact > borrow_typo);
    let typo_index = SearchIndex::open_in_ram().expect("open");
    typo_index
        .upsert(item("typo", "Notes", "a retreival system, misspelled"))
        .expect("ok");
    typo_index
        .upsert(item("exact", "Notes", "a retrieval system, spelled right"))
        .expect("ok");
    typo_index.commit("c").expect("commit");
    let page = search(&typo_index, "retrieval ");
    assert_eq!(names(&page), vec!["items/exact", "items/typo"]);
    assert!(page.hits[0].score > page.hits[1].score);
    // Short words are exact only.
    assert_eq!(search(&index, "rsut ").total, 0);

    let prefix = search(&index, "retr");
    assert_eq!(prefix.total, 2);
    assert_eq!(
        search(&index, "retr ").total,
        0,
        "no prefix after a trailing space"
    );
    assert_eq!(names(&search(&index, "rust asy")).first(), Some(&"items/3"));
}

#[test]
fn highlights_land_on_matched_words() {
    let index = SearchIndex::open_in_ram().expect("open");
    let long = format!(
        "{} The borrow checker and **information retrieval** meet here. {}",
        "Filler words before. ".repeat(30),
        "Trailing filler. ".repeat(30)
    );
    index
        .upsert(item("h", "Retrieval of borrowed things", &long))
        .expect("ok");
    index.commit("c").expect("commit");
    let request = Query {
        snippet_max_bytes: 80,
        ..query(r#""borrow checker" retreival"#)
    };
    let hit = &index
        .search(&request, &Access::Service)
        .expect("search")
        .hits[0];
    let marked = |text: &str, ranges: &[(usize, usize)]| -> Vec<String> {
        ranges.iter().map(|&(s, e)| text[s..e].to_owned()).collect()
    };
    assert!(hit.snippet.len() <= 80, "{:?}", hit.snippet);
    assert_eq!(
        marked(&hit.snippet, &hit.snippet_highlights),
        vec!["borrow checker", "retrieval"]
    );
    assert!(
        !hit.snippet.contains("**"),
        "markdown is removed: {:?}",
        hit.snippet
    );
    assert_eq!(marked(&hit.title, &hit.title_highlights), vec!["Retrieval"]);

    // No words: the snippet is the beginning of the content, nothing marked.
    let request = Query {
        snippet_max_bytes: 30,
        ..query("")
    };
    let hit = &index
        .search(&request, &Access::Service)
        .expect("search")
        .hits[0];
    assert_eq!(hit.snippet, "Filler words before. Filler");
    assert!(hit.snippet_highlights.is_empty() && hit.title_highlights.is_empty());
    assert_eq!(hit.score, 0.0);
}

#[test]
fn parse_errors_carry_offsets() {
    let index = corpus();
    match index.search(&query("rust kind:nope"), &Access::Anonymous) {
        Err(Error::InvalidQuery(e)) => assert_eq!(e.offset, 5),
        other => panic!("expected InvalidQuery, got {other:?}"),
    }
    assert_eq!(
        parse_query("a tag: b").expect_err("invalid query").offset,
        2
    );
}

#[test]
fn listing_orders_time_ranges_and_facets() {
    let index = corpus();
    // No words: everything readable, update time descending, score 0.
    let all = search(&index, "");
    assert_eq!(
        names(&all),
        vec!["items/5", "items/4", "items/3", "items/2", "items/1"]
    );
    assert!(all.hits.iter().all(|h| h.score == 0.0));
    let by = |order: Order| {
        let page = index
            .search(&Query { order, ..query("") }, &Access::Service)
            .expect("ok");
        names(&page)
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(by(Order::UpdateTimeAsc)[0], "items/1");
    assert_eq!(by(Order::CreateTimeAsc)[0], "items/5");
    assert_eq!(by(Order::CreateTimeDesc)[0], "items/1");
    assert_eq!(by(Order::ConfidenceDesc)[0], "items/5");
    assert_eq!(by(Order::ConfidenceAsc)[0], "items/1");
    // Equal keys fall back to the name.
    let twins = SearchIndex::open_in_ram().expect("open");
    for id in ["b", "c", "a"] {
        twins.upsert(item(id, "same", "same")).expect("upsert");
    }
    twins.commit("c").expect("commit");
    assert_eq!(
        names(&search(&twins, "same")),
        vec!["items/a", "items/b", "items/c"]
    );

    let ranged = Query {
        update_time_range: (Some(2_000), Some(4_000)),
        ..query("")
    };
    let page = index.search(&ranged, &Access::Service).expect("search");
    assert_eq!(names(&page), vec!["items/3", "items/2"]);
    let ranged = Query {
        create_time_range: (None, Some(6_001)),
        ..query("")
    };
    assert_eq!(
        index
            .search(&ranged, &Access::Service)
            .expect("search")
            .total,
        2
    );

    let request = Query {
        limit: 0,
        facets: vec![FacetField::Status, FacetField::Tag, FacetField::Kind],
        facet_limit: 2,
        ..query("")
    };
    let page = index.search(&request, &Access::Service).expect("search");
    assert!(page.hits.is_empty());
    assert_eq!(page.total, 5);
    let status = &page.facets[0];
    assert_eq!(status.field, FacetField::Status);
    assert_eq!(
        status.values,
        vec![("draft".into(), 3), ("archived".into(), 1)]
    );
    assert_eq!(status.distinct_values, 3);
    // `Rust` and `rust` are one value (2 items), in the most frequent spelling (a tie: byte order).
    assert_eq!(
        page.facets[1].values,
        vec![("Rust".into(), 2), ("IR".into(), 1)]
    );
    assert_eq!(page.facets[1].distinct_values, 4);
    assert_eq!(
        page.facets[2].values,
        vec![("note".into(), 3), ("daily".into(), 1)]
    );
}
