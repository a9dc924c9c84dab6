//! Conformance of the purge and feed-retention part of [`ItemStore`], on SQLite and PostgreSQL:
//! purging only soft-deleted items (gap-free positions, history gone, links re-resolved, a PURGED
//! event carrying who could read the item), recording the before-state of every write, and
//! pruning feed history behind a horizon that only rises.

use std::sync::Arc;

use pake_api::knowledge::Item;
use pake_api::knowledge::item::Visibility;
use pake_knowledge::model;
use pake_knowledge::store::{Before, Created, ItemStore, Replaced, SqlItemStore};
use pake_runtime::db::{Database, timestamp};

const T0: i64 = 1_700_000_000_000_000;
const SECOND: i64 = 1_000_000;
const ALICE: &str = "users/alice";

async fn open(database: Database) -> Arc<dyn ItemStore> {
    database
        .migrate(pake_knowledge::migrations())
        .await
        .expect("knowledge migrations apply");
    Arc::new(SqlItemStore::new(database))
}

fn note(id: &str, title: &str, content: &str, time: i64) -> Item {
    let mut item = Item {
        title: title.to_owned(),
        content: content.to_owned(),
        visibility: Visibility::Internal as i32,
        ..Item::default()
    };
    model::validate_and_complete(&mut item).expect("valid item");
    item.name = format!("items/{id}");
    item.owner = ALICE.to_owned();
    item.create_time = Some(timestamp(time));
    item.update_time = Some(timestamp(time));
    item.etag = "\"1\"".to_owned();
    item.revision_id = "1".to_owned();
    item
}

async fn create(store: &Arc<dyn ItemStore>, item: Item) -> Item {
    match store.create(item, ALICE, None).await.expect("create") {
        Created::New(item) => item,
        other => panic!("expected a new item, got {other:?}"),
    }
}

/// Writes the next version of `current` with `change` applied.
async fn write(
    store: &Arc<dyn ItemStore>,
    current: &Item,
    event: &str,
    time: i64,
    change: impl FnOnce(&mut Item),
) -> Item {
    let revision: i64 = current.revision_id.parse().expect("revision");
    let mut next = current.clone();
    change(&mut next);
    next.revision_id = (revision + 1).to_string();
    next.update_time = Some(timestamp(time));
    match store
        .replace(next, revision, event, ALICE)
        .await
        .expect("replace")
    {
        Replaced::Done(item) => *item,
        other => panic!("expected a write, got {other:?}"),
    }
}

async fn link_target(store: &Arc<dyn ItemStore>, source: &str) -> Option<String> {
    store
        .links_from(&pake_knowledge::store::ReadScope::All, &[source.to_owned()])
        .await
        .expect("links")
        .into_iter()
        .find(|link| !link.target_id.is_empty())
        .map(|link| link.target_id)
}

async fn only_soft_deleted_items_are_purged_with_their_history(store: Arc<dyn ItemStore>) {
    let older = create(&store, note("t1", "Target", "first", T0)).await;
    let newer = create(&store, note("t2", "Target", "second", T0 + SECOND)).await;
    create(
        &store,
        note("src", "Source", "see [[Target]]", T0 + 2 * SECOND),
    )
    .await;
    assert_eq!(
        link_target(&store, "src").await.as_deref(),
        Some("t1"),
        "oldest wins"
    );

    let head = store.head().await.expect("head");
    assert_eq!(
        store.purge("t1", None, T0).await.expect("purge"),
        None,
        "live items stay"
    );
    assert_eq!(store.purge("nope", None, T0).await.expect("purge"), None);
    assert_eq!(
        store.head().await.expect("head"),
        head,
        "a refused purge uses no position"
    );

    let deleted = write(&store, &older, "deleted", T0 + 10 * SECOND, |item| {
        item.delete_time = Some(timestamp(T0 + 10 * SECOND));
    })
    .await;
    assert_eq!(link_target(&store, "src").await.as_deref(), Some("t2"));
    assert_eq!(
        store
            .purge("t1", Some(T0 + 10 * SECOND), T0)
            .await
            .expect("purge"),
        None,
        "deleted too recently for this cutoff"
    );
    let position = store
        .purge("t1", Some(T0 + 11 * SECOND), T0 + 20 * SECOND)
        .await
        .expect("purge")
        .expect("purged");
    assert_eq!(position, head + 2, "gap-free: the delete, then the purge");
    assert!(store.get("t1").await.expect("get").is_none());
    assert!(
        store
            .revisions("t1", None, 10)
            .await
            .expect("revisions")
            .is_empty()
    );
    assert_eq!(link_target(&store, "src").await.as_deref(), Some("t2"));
    assert!(store.get(&newer.name[6..]).await.expect("get").is_some());

    let events = store.events_after(head, 10).await.expect("events");
    let kinds: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(kinds, vec!["deleted", "purged"]);
    let purged = &events[1];
    assert_eq!(purged.item.name, deleted.name);
    assert_eq!(
        purged.before,
        Some(Before {
            owner: ALICE.to_owned(),
            visibility: Visibility::Internal,
            deleted: true,
        })
    );
    assert_eq!(
        store.purge("t1", None, T0).await.expect("purge"),
        None,
        "only once"
    );
}

async fn every_write_records_who_could_read_the_item_before(store: Arc<dyn ItemStore>) {
    let item = create(&store, note("x", "X", "x", T0)).await;
    write(&store, &item, "updated", T0 + SECOND, |item| {
        item.visibility = Visibility::Private as i32;
    })
    .await;
    let events = store.events_after(0, 10).await.expect("events");
    assert_eq!(events[0].before, None, "a create has no before");
    assert_eq!(
        events[1].before,
        Some(Before {
            owner: ALICE.to_owned(),
            visibility: Visibility::Internal,
            deleted: false,
        })
    );
    assert_eq!(events[1].item.visibility(), Visibility::Private);
}

async fn pruning_removes_old_history_behind_a_rising_horizon(store: Arc<dyn ItemStore>) {
    for i in 0..5 {
        create(&store, note(&format!("n{i}"), "N", "n", T0 + i * SECOND)).await;
    }
    assert_eq!(store.pruned_through().await.expect("horizon"), 0);
    let (deleted, horizon) = store.prune_feed(T0 + 2 * SECOND).await.expect("prune");
    assert_eq!((deleted, horizon), (2, 2), "events at T0 and T0+1s");
    assert_eq!(store.pruned_through().await.expect("horizon"), 2);
    let left: Vec<i64> = store
        .events_after(0, 10)
        .await
        .expect("events")
        .iter()
        .map(|e| e.position)
        .collect();
    assert_eq!(left, vec![3, 4, 5]);
    // An older cutoff never lowers the horizon; the newest event is always kept.
    assert_eq!(store.prune_feed(T0).await.expect("prune"), (0, 2));
    assert_eq!(
        store.prune_feed(T0 + 100 * SECOND).await.expect("prune"),
        (2, 4)
    );
    assert_eq!(store.events_after(0, 10).await.expect("events").len(), 1);
    assert_eq!(store.head().await.expect("head"), 5);
}

pake_testkit::store_conformance_suite!(open;
    only_soft_deleted_items_are_purged_with_their_history,
    every_write_records_who_could_read_the_item_before,
    pruning_removes_old_history_behind_a_rising_horizon,
);
