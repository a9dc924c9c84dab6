//! Tests of the index library through its public API.

use super::tests_language::corpus;
use super::*;

pub(super) fn item(id: &str, title: &str, content: &str) -> IndexedItem {
    IndexedItem {
        name: format!("items/{id}"),
        title: title.to_owned(),
        content: content.to_owned(),
        tags: Vec::new(),
        kind: "note".to_owned(),
        status: "draft".to_owned(),
        owner: "users/alice".to_owned(),
        visibility: Visibility::Public,
        confidence_score: 0.5,
        create_time_us: 1_000,
        update_time_us: 1_000,
    }
}

pub(super) fn query(text: &str) -> Query {
    Query {
        text: text.to_owned(),
        ..Query::default()
    }
}

pub(super) fn names(page: &SearchPage) -> Vec<&str> {
    page.hits.iter().map(|h| h.name.as_str()).collect()
}

pub(super) fn search(index: &SearchIndex, text: &str) -> SearchPage {
    index
        .search(&query(text), &Access::Service)
        .expect("search")
}

#[test]
fn index_is_send_sync_clone() {
    fn check<T: Send + Sync + Clone + std::fmt::Debug + 'static>() {}
    check::<SearchIndex>();
}

#[test]
fn upsert_search_delete_and_replace() {
    let index = SearchIndex::open_in_ram().expect("open");
    index
        .upsert(item("a", "Tantivy notes", "An embedded search engine."))
        .expect("ok");
    assert_eq!(
        search(&index, "tantivy").total,
        0,
        "not visible before commit"
    );
    index.commit("1").expect("commit");
    assert_eq!(names(&search(&index, "tantivy")), vec!["items/a"]);
    assert_eq!(index.num_docs(), 1);

    // Replace by name: the old text no longer matches, the new one does.
    index
        .upsert(item("a", "Lucene notes", "A Java search engine."))
        .expect("ok");
    index.commit("2").expect("commit");
    assert_eq!(search(&index, "tantivy").total, 0);
    assert_eq!(names(&search(&index, "lucene")), vec!["items/a"]);
    assert_eq!(index.num_docs(), 1);

    index.delete("items/a").expect("delete");
    index.delete("items/absent").expect("delete");
    index.commit("3").expect("commit");
    assert_eq!(search(&index, "lucene").total, 0);
    assert_eq!(index.num_docs(), 0);
    assert_eq!(index.applied_cursor().as_deref(), Some("3"));

    let mut nameless = item("x", "t", "c");
    nameless.name.clear();
    assert!(matches!(index.upsert(nameless), Err(Error::InvalidItem(_))));
}

#[test]
fn clear_drops_earlier_items_only() {
    let index = corpus();
    index.clear().expect("clear");
    index
        .upsert(item("new", "Fresh", "after the snapshot"))
        .expect("ok");
    index.commit("snap").expect("commit");
    assert_eq!(index.num_docs(), 1);
    assert_eq!(names(&search(&index, "")), vec!["items/new"]);
}

#[test]
fn commit_payload_survives_reopen_and_corruption_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let index = SearchIndex::open_in_dir(dir.path()).expect("open");
        assert_eq!(index.applied_cursor(), None);
        index
            .upsert(item("a", "Persistent", "kept on disk"))
            .expect("ok");
        index.commit("cursor-42").expect("commit");
        assert_eq!(index.applied_cursor().as_deref(), Some("cursor-42"));
        // A second writer on the same directory is refused, not reported corrupt.
        assert!(matches!(
            SearchIndex::open_in_dir(dir.path()),
            Err(Error::Locked(_))
        ));
    }
    {
        let index = SearchIndex::open_in_dir(dir.path()).expect("open");
        assert_eq!(index.applied_cursor().as_deref(), Some("cursor-42"));
        assert_eq!(names(&search(&index, "persistent")), vec!["items/a"]);
    }
    std::fs::write(dir.path().join("meta.json"), b"{ not json").expect("fs");
    match SearchIndex::open_in_dir(dir.path()) {
        Err(Error::Corrupt(_)) => {}
        other => panic!("expected Corrupt, got {:?}", other.err()),
    }
    // Wipe and rebuild works.
    std::fs::remove_dir_all(dir.path()).expect("fs");
    let index = SearchIndex::open_in_dir(dir.path()).expect("open");
    assert_eq!(index.num_docs(), 0);
}

#[test]
fn an_index_built_with_another_analysis_is_incompatible() {
    let dir = tempfile::tempdir().expect("tempdir");
    let other = Analysis {
        stemming: !Analysis::default().stemming,
        ..Analysis::default()
    };
    {
        let index = SearchIndex::open_in_dir_with(dir.path(), other).expect("open");
        index
            .upsert(item("a", "Retrieval", "retrieving things"))
            .expect("ok");
        index.commit("c").expect("commit");
    }
    match SearchIndex::open_in_dir(dir.path()) {
        Err(Error::Corrupt(_)) => {}
        other => panic!("expected Corrupt, got {:?}", other.err()),
    }
    // The same analysis opens it.
    let index = SearchIndex::open_in_dir_with(dir.path(), other).expect("open");
    assert_eq!(index.analysis(), other);
    assert_eq!(index.applied_cursor().as_deref(), Some("c"));
}

#[test]
fn stop_words_are_not_searched_but_phrases_across_them_match() {
    let analysis = Analysis {
        stop_words: true,
        ..Analysis::default()
    };
    let index = SearchIndex::open_in_ram_with(analysis).expect("open");
    index
        .upsert(item("a", "Flows", "the angle of attack of a wing"))
        .expect("ok");
    index
        .upsert(item("b", "Flows", "a wing at the same attack angle"))
        .expect("ok");
    index.commit("1").expect("commit");
    // `of` is a stop word: it matches nothing, alone or with a typo clause.
    assert_eq!(search(&index, "of ").total, 0);
    assert_eq!(
        names(&search(&index, r#""angle of attack""#)),
        vec!["items/a"]
    );
    // The boosts of a handle change the scores, not the matches.
    let plain = search(&index, "angle flows ");
    let boosted = index.with_boosts(Boosts {
        title: 3.0 * Boosts::default().title,
        ..Boosts::default()
    });
    let boosted_page = boosted
        .search(&query("angle flows "), &Access::Service)
        .expect("search");
    assert_eq!(plain.total, boosted_page.total);
    assert!(boosted_page.hits[0].score > plain.hits[0].score);
}

#[test]
fn damaged_segment_file_is_corrupt() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let index = SearchIndex::open_in_dir(dir.path()).expect("open");
        index
            .upsert(item("a", "Persistent", "kept on disk"))
            .expect("ok");
        index.commit("c").expect("commit");
    }
    let store = std::fs::read_dir(dir.path())
        .expect("ok")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "store"))
        .expect("ok");
    let mut bytes = std::fs::read(&store).expect("fs");
    bytes[0] ^= 0xff;
    std::fs::write(&store, bytes).expect("fs");
    assert!(matches!(
        SearchIndex::open_in_dir(dir.path()),
        Err(Error::Corrupt(_))
    ));
}

#[test]
fn access_is_part_of_the_query_so_pages_are_full() {
    let index = SearchIndex::open_in_ram().expect("open");
    // 300 matches: alice may read 12 of her own, 10 internal and 3 public ones (25, < 10%).
    for i in 0..300 {
        let mut it = item(&format!("{i:03}"), "Retrieval", "retrieval everywhere");
        (it.owner, it.visibility) = match i % 12 {
            0 if i < 144 => ("users/alice".into(), Visibility::Private),
            1 if i < 120 => ("users/carol".into(), Visibility::Internal),
            2 if i < 36 => ("users/carol".into(), Visibility::Public),
            _ => ("users/bob".into(), Visibility::Private),
        };
        it.tags = vec![format!("t{}", i % 12)];
        index.upsert(it).expect("upsert");
    }
    index.commit("c").expect("commit");
    let alice = Access::User {
        subject: "users/alice".into(),
        admin: false,
    };
    let request = Query {
        limit: 10,
        facets: vec![FacetField::Tag],
        ..query("retrieval")
    };
    let page = index.search(&request, &alice).expect("search");
    assert_eq!(page.hits.len(), 10);
    assert_eq!(page.total, 25);
    assert!(
        page.hits
            .iter()
            .all(|h| h.owner == "users/alice" || h.visibility != Visibility::Private)
    );
    let tags = &page.facets[0].values;
    assert_eq!(
        tags,
        &vec![("t0".into(), 12), ("t1".into(), 10), ("t2".into(), 3)]
    );
    // The last page is partial, never beyond the readable matches.
    let last = index
        .search(
            &Query {
                offset: 20,
                ..request.clone()
            },
            &alice,
        )
        .expect("ok");
    assert_eq!(last.hits.len(), 5);

    let anonymous = index.search(&request, &Access::Anonymous).expect("search");
    assert_eq!((anonymous.total, anonymous.hits.len()), (3, 3));
    assert!(
        anonymous
            .hits
            .iter()
            .all(|h| h.visibility == Visibility::Public)
    );
    let admin = Access::User {
        subject: "users/dave".into(),
        admin: true,
    };
    assert_eq!(index.search(&request, &admin).expect("search").total, 300);
    assert_eq!(
        index
            .search(&request, &Access::Service)
            .expect("search")
            .total,
        300
    );
    // Access does not change scores: the same item scores the same for everyone.
    let score = |access: &Access| {
        let page = index
            .search(
                &Query {
                    limit: 300,
                    ..request.clone()
                },
                access,
            )
            .expect("ok");
        page.hits
            .iter()
            .find(|h| h.name == "items/002")
            .map(|h| h.score)
    };
    assert_eq!(score(&Access::Anonymous), score(&Access::Service));
}
