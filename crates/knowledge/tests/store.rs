//! Conformance suite of [`ItemStore`]: every case runs against SQLite and PostgreSQL, each on a
//! fresh database (PostgreSQL via `PAKE_TEST_DATABASE_URL`; skipped locally when unset).

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use pake_api::knowledge::Item;
use pake_api::knowledge::item::{Kind, Status, Visibility};
use pake_knowledge::feed::encode_cursor;
use pake_knowledge::model;
use pake_knowledge::order::{ListPosition, Order};
use pake_knowledge::sql::SqlFragment;
use pake_knowledge::store::{
    Created, FeedEvent, ItemStore, ListQuery, ReadScope, SqlItemStore, StoreError,
};
use pake_runtime::db::{Database, now_micros, timestamp};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::SqlitePoolOptions;

const DAY_MICROS: i64 = 86_400_000_000;
const ALICE: &str = "users/alice";
const BOB: &str = "users/bob";
const CAROL: &str = "users/carol";

/// The store and the database under it (to open more pools on it, and to set up states the
/// trait cannot write yet, such as deleted items).
struct Fixture {
    store: Arc<dyn ItemStore>,
    database: Database,
}

async fn open(database: Database) -> Fixture {
    database
        .migrate(pake_knowledge::migrations())
        .await
        .expect("knowledge migrations apply");
    Fixture {
        store: Arc::new(SqlItemStore::new(database.clone())),
        database,
    }
}

/// Another pool on the same database: separate connections, as another replica would have.
async fn separate_pool(database: &Database) -> Database {
    match database {
        Database::Sqlite(pool) => Database::Sqlite(
            SqlitePoolOptions::new()
                .max_connections(2)
                .connect_with((*pool.connect_options()).clone())
                .await
                .expect("another sqlite pool"),
        ),
        Database::Postgres(pool) => Database::Postgres(
            PgPoolOptions::new()
                .max_connections(2)
                .connect_with((*pool.connect_options()).clone())
                .await
                .expect("another postgres pool"),
        ),
    }
}

/// An item as `CreateItem` completes it: validated and defaulted, then name, owner, times, etag
/// and revision set by the server.
fn complete(mut item: Item, id: &str, owner: &str, time: i64) -> Item {
    model::validate_and_complete(&mut item).expect("valid item");
    item.name = format!("items/{id}");
    item.owner = owner.to_owned();
    item.create_time = Some(timestamp(time));
    item.update_time = Some(timestamp(time));
    item.delete_time = None;
    item.expire_time = None;
    item.etag = "\"1\"".to_owned();
    item.revision_id = "1".to_owned();
    item
}

fn item(id: &str, owner: &str, visibility: Visibility, time: i64) -> Item {
    let item = Item {
        title: format!("Item {id}"),
        content: format!("Content of {id}."),
        visibility: visibility as i32,
        ..Item::default()
    };
    complete(item, id, owner, time)
}

fn id_of(item: &Item) -> &str {
    item.name.trim_start_matches("items/")
}

fn update_micros(item: &Item) -> i64 {
    let time = item.update_time.as_ref().expect("update_time set");
    time.seconds * 1_000_000 + i64::from(time.nanos) / 1000
}

async fn create_new(fixture: &Fixture, item: Item) -> Item {
    let owner = item.owner.clone();
    match fixture.store.create(item, &owner, None).await {
        Ok(Created::New(item)) => item,
        other => panic!("expected a new item, got {other:?}"),
    }
}

/// Marks an item deleted in its columns (the store trait has no delete yet).
async fn mark_deleted(database: &Database, id: &str, time: i64) {
    pake_runtime::with_pool!(database, pool => {
        sqlx::query("UPDATE items SET delete_time = $1 WHERE id = $2")
            .bind(time)
            .bind(id)
            .execute(pool)
            .await
            .map(|done| assert_eq!(done.rows_affected(), 1))
    })
    .expect("mark deleted");
}

fn readable(scope: &ReadScope, item: &Item) -> bool {
    match scope {
        ReadScope::All => true,
        ReadScope::Public => item.visibility() == Visibility::Public,
        ReadScope::User(subject) => {
            item.owner == *subject
                || matches!(item.visibility(), Visibility::Public | Visibility::Internal)
        }
    }
}

/// Whether `scope` lists `item` (soft-deleted when `deleted`): soft-deleted items only with
/// `show_deleted`, and then only the reader's own (all of them for admins and services).
fn listed(scope: &ReadScope, item: &Item, deleted: bool, show_deleted: bool) -> bool {
    readable(scope, item)
        && (!deleted
            || (show_deleted
                && match scope {
                    ReadScope::All => true,
                    ReadScope::Public => false,
                    ReadScope::User(subject) => item.owner == *subject,
                }))
}

/// Every page of a listing, in order, each page at most `page_size` long.
async fn list_pages(
    store: &dyn ItemStore,
    scope: &ReadScope,
    show_deleted: bool,
    filter: &SqlFragment,
    order: &Order,
    page_size: i64,
) -> Vec<Item> {
    let mut items = Vec::new();
    let mut after: Option<ListPosition> = None;
    loop {
        let page = store
            .list(&ListQuery {
                scope,
                show_deleted,
                filter,
                order,
                after: after.as_ref(),
                limit: page_size,
            })
            .await
            .expect("list");
        assert!(page.len() <= usize::try_from(page_size).expect("small"));
        let Some((_, last)) = page.last() else {
            break;
        };
        after = Some(last.clone());
        items.extend(page.into_iter().map(|(item, _)| item));
        assert!(items.len() <= 1000, "paging does not terminate");
    }
    items
}

fn names(items: &[Item]) -> BTreeSet<String> {
    items.iter().map(|item| item.name.clone()).collect()
}

async fn create_then_get_round_trips(fixture: Fixture) {
    let now = now_micros();
    let first = Item {
        title: "First".to_owned(),
        content: "Some *markdown*, linking [[second]].".to_owned(),
        kind: Kind::Project as i32,
        status: Status::Verified as i32,
        visibility: Visibility::Internal as i32,
        tags: vec!["Rust".to_owned(), "rust".to_owned(), "databases".to_owned()],
        links: vec!["items/second".to_owned()],
        source_uri: "https://example.org/paper.pdf".to_owned(),
        summary: "A summary.".to_owned(),
        confidence_score: Some(0.75),
        metadata: Some(prost_types::Struct {
            fields: [(
                "pages".to_owned(),
                prost_types::Value {
                    kind: Some(prost_types::value::Kind::NumberValue(12.0)),
                },
            )]
            .into(),
        }),
        ..Item::default()
    };
    let first = complete(first, "first", ALICE, now);
    assert_eq!(first.tags, ["Rust", "databases"], "tags normalised");

    let created = match fixture
        .store
        .create(first.clone(), ALICE, None)
        .await
        .expect("create")
    {
        Created::New(item) => item,
        replayed => panic!("expected a new item, got {replayed:?}"),
    };
    assert_eq!(
        created,
        Item {
            feed_cursor: encode_cursor(1),
            ..first
        },
        "the store returns what it was given, plus the feed cursor"
    );
    assert_eq!(
        fixture.store.get("first").await.expect("get"),
        Some(created.clone())
    );
    assert_eq!(fixture.store.get("second").await.expect("get"), None);

    let second = create_new(&fixture, item("second", BOB, Visibility::Private, now + 1)).await;
    assert_eq!(second.feed_cursor, encode_cursor(2));
    assert_eq!(
        fixture.store.get("second").await.expect("get"),
        Some(second)
    );
    assert_eq!(
        fixture.store.get("first").await.expect("get"),
        Some(created)
    );
}

async fn taken_id_is_already_exists(fixture: Fixture) {
    let now = now_micros();
    let original = create_new(&fixture, item("taken", ALICE, Visibility::Public, now)).await;

    let mut again = item("taken", BOB, Visibility::Private, now + 1);
    again.title = "Another title".to_owned();
    let error = fixture
        .store
        .create(again.clone(), BOB, None)
        .await
        .expect_err("id taken");
    assert!(matches!(error, StoreError::AlreadyExists), "{error:?}");
    // Also with a request id; the failed create records no request.
    let error = fixture
        .store
        .create(again, BOB, Some((BOB, "req-taken", now - DAY_MICROS)))
        .await
        .expect_err("id taken");
    assert!(matches!(error, StoreError::AlreadyExists), "{error:?}");

    assert_eq!(
        fixture.store.get("taken").await.expect("get"),
        Some(original)
    );
    assert_eq!(
        fixture.store.head().await.expect("head"),
        1,
        "no feed event"
    );
    assert_eq!(
        fixture
            .store
            .events_after(0, 100)
            .await
            .expect("events")
            .len(),
        1
    );
    let fresh = item("fresh", BOB, Visibility::Private, now + 2);
    assert!(matches!(
        fixture
            .store
            .create(fresh, BOB, Some((BOB, "req-taken", now - DAY_MICROS)))
            .await
            .expect("create"),
        Created::New(_)
    ));
    assert_eq!(fixture.store.head().await.expect("head"), 2, "no gap");
}

async fn request_id_replay_returns_original(fixture: Fixture) {
    let now = now_micros();
    let since = now - DAY_MICROS;
    let first = item("first", ALICE, Visibility::Private, now);
    let created = match fixture
        .store
        .create(first, ALICE, Some((ALICE, "req-1", since)))
        .await
        .expect("create")
    {
        Created::New(item) => item,
        replayed => panic!("expected a new item, got {replayed:?}"),
    };

    // A retry (the service generates a new id each time) returns the original.
    let retry = item("retry", ALICE, Visibility::Public, now + 10);
    assert_eq!(
        fixture
            .store
            .create(retry, ALICE, Some((ALICE, "req-1", since)))
            .await
            .expect("retry"),
        Created::Replayed(created.clone())
    );
    assert_eq!(fixture.store.get("retry").await.expect("get"), None);
    assert_eq!(fixture.store.head().await.expect("head"), 1);
    let events = fixture.store.events_after(0, 100).await.expect("events");
    assert_eq!(events.len(), 1, "a replay writes no feed event");
    assert_eq!(events[0].item, created);

    // Request ids are per caller.
    let other_caller = item("other-caller", BOB, Visibility::Private, now + 20);
    assert!(matches!(
        fixture
            .store
            .create(other_caller, BOB, Some((BOB, "req-1", since)))
            .await
            .expect("create"),
        Created::New(_)
    ));
    assert_eq!(fixture.store.head().await.expect("head"), 2);
}

/// A request id older than the window is a new request: it creates, and later retries within
/// the new window return the new item.
async fn request_id_outside_window_creates_anew(fixture: Fixture) {
    let now = now_micros();
    let old = item("old", ALICE, Visibility::Private, now - 2 * DAY_MICROS);
    fixture
        .store
        .create(old, ALICE, Some((ALICE, "req-1", now - 3 * DAY_MICROS)))
        .await
        .expect("create");

    let since = now - DAY_MICROS;
    let new = item("new", ALICE, Visibility::Private, now);
    let created = match fixture
        .store
        .create(new, ALICE, Some((ALICE, "req-1", since)))
        .await
        .expect("the old request is outside the window")
    {
        Created::New(item) => item,
        replayed => panic!("expected a new item, got {replayed:?}"),
    };
    let retry = item("retry", ALICE, Visibility::Private, now + 1);
    assert_eq!(
        fixture
            .store
            .create(retry, ALICE, Some((ALICE, "req-1", since)))
            .await
            .expect("retry"),
        Created::Replayed(created)
    );
    assert_eq!(fixture.store.head().await.expect("head"), 2);
}

/// Retries of one request racing each other (separate pools, as separate replicas would be)
/// create one item; every other attempt returns it.
async fn concurrent_retries_create_once(fixture: Fixture) {
    const ATTEMPTS: usize = 6;
    const ROUNDS: usize = 5;
    let now = now_micros();
    let mut stores = Vec::new();
    for _ in 0..ATTEMPTS {
        let database = separate_pool(&fixture.database).await;
        let store: Arc<dyn ItemStore> = Arc::new(SqlItemStore::new(database.clone()));
        stores.push((database, store));
    }
    for round in 0..ROUNDS {
        let barrier = Arc::new(tokio::sync::Barrier::new(ATTEMPTS));
        let mut tasks = Vec::new();
        for (attempt, (_, store)) in stores.iter().enumerate() {
            let store = store.clone();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                let retry = item(
                    &format!("r{round}-a{attempt}"),
                    ALICE,
                    Visibility::Private,
                    now,
                );
                let request_id = format!("req-{round}");
                barrier.wait().await;
                store
                    .create(
                        retry,
                        ALICE,
                        Some((ALICE, request_id.as_str(), now - DAY_MICROS)),
                    )
                    .await
            }));
        }
        let mut new = Vec::new();
        let mut replayed = Vec::new();
        for task in tasks {
            match task.await.expect("task") {
                Ok(Created::New(item)) => new.push(item),
                Ok(Created::Replayed(item)) => replayed.push(item),
                Err(error) => panic!("round {round}: a retry failed: {error:?}"),
            }
        }
        assert_eq!(new.len(), 1, "round {round}: created {:?}", names(&new));
        assert!(
            replayed.iter().all(|item| *item == new[0]),
            "round {round}: replays return the created item"
        );
        assert_eq!(
            fixture.store.head().await.expect("head"),
            i64::try_from(round + 1).expect("small"),
            "round {round}: one feed event per request"
        );
    }
    for (database, _) in stores {
        database.close().await;
    }
}

async fn list_applies_visibility(fixture: Fixture) {
    let now = now_micros();
    let mut all = Vec::new();
    let mut time = now;
    for owner in [ALICE, BOB] {
        for visibility in [
            Visibility::Private,
            Visibility::Internal,
            Visibility::Public,
        ] {
            let id = format!(
                "{}-{}",
                owner.trim_start_matches("users/"),
                model::names::visibility(visibility)
            );
            time += 1;
            all.push(create_new(&fixture, item(&id, owner, visibility, time)).await);
        }
    }
    let expect =
        |ids: &[&str]| -> BTreeSet<String> { ids.iter().map(|id| format!("items/{id}")).collect() };
    let list = |scope: ReadScope| {
        let store = fixture.store.clone();
        async move {
            list_pages(
                store.as_ref(),
                &scope,
                false,
                &SqlFragment::new(),
                &Order::default(),
                100,
            )
            .await
        }
    };

    assert_eq!(names(&list(ReadScope::All).await), names(&all));
    assert_eq!(
        names(&list(ReadScope::Public).await),
        expect(&["alice-public", "bob-public"]),
        "anonymous callers see public items only"
    );
    assert_eq!(
        names(&list(ReadScope::User(ALICE.to_owned())).await),
        expect(&[
            "alice-private",
            "alice-internal",
            "alice-public",
            "bob-internal",
            "bob-public"
        ]),
        "a user sees own items and everyone's internal and public items"
    );
    assert_eq!(
        names(&list(ReadScope::User(BOB.to_owned())).await),
        expect(&[
            "alice-internal",
            "alice-public",
            "bob-private",
            "bob-internal",
            "bob-public"
        ])
    );
    assert_eq!(
        names(&list(ReadScope::User(CAROL.to_owned())).await),
        expect(&[
            "alice-internal",
            "alice-public",
            "bob-internal",
            "bob-public"
        ]),
        "a user without items sees internal and public ones"
    );
    // Newest update first.
    let listed = list(ReadScope::All).await;
    let mut expected = all.clone();
    expected.reverse();
    assert_eq!(listed, expected);
}

/// Keyset paging by (update_time desc, id desc) over items with tied update times covers every
/// readable item exactly once, in order, for every scope, with and without deleted items (a
/// reader sees only its own deleted items, all of them if it reads everything).
async fn keyset_paging_covers_every_item_once(fixture: Fixture) {
    const ITEMS: usize = 23;
    let base = now_micros();
    let mut all = Vec::new();
    for i in 0..ITEMS {
        // Ids out of creation order; update times in groups of three (ties are broken by id).
        let id = format!("item-{:02}", (i * 7) % ITEMS);
        let owner = [ALICE, BOB, CAROL][i % 3];
        let visibility = [
            Visibility::Public,
            Visibility::Private,
            Visibility::Internal,
            Visibility::Private,
        ][i % 4];
        let time = base + i64::try_from(i / 3).expect("small") * 1000;
        all.push(create_new(&fixture, item(&id, owner, visibility, time)).await);
    }
    let deleted: HashSet<&str> = ["item-03", "item-10", "item-14"].into();
    for id in &deleted {
        mark_deleted(&fixture.database, id, base + 1_000_000).await;
    }

    for scope in [
        ReadScope::All,
        ReadScope::Public,
        ReadScope::User(ALICE.to_owned()),
        ReadScope::User("users/nobody".to_owned()),
    ] {
        for show_deleted in [false, true] {
            let mut expected: Vec<Item> = all
                .iter()
                .filter(|item| listed(&scope, item, deleted.contains(id_of(item)), show_deleted))
                .cloned()
                .collect();
            expected
                .sort_by(|a, b| (update_micros(b), id_of(b)).cmp(&(update_micros(a), id_of(a))));
            for page_size in [1_i64, 4, 5, 100] {
                let pages = list_pages(
                    fixture.store.as_ref(),
                    &scope,
                    show_deleted,
                    &SqlFragment::new(),
                    &Order::default(),
                    page_size,
                )
                .await;
                assert_eq!(
                    pages, expected,
                    "{scope:?}, show_deleted {show_deleted}, page size {page_size}"
                );
            }
        }
    }
}

async fn head_and_events_after_in_order(fixture: Fixture) {
    assert_eq!(fixture.store.head().await.expect("head"), 0);
    assert!(
        fixture
            .store
            .events_after(0, 10)
            .await
            .expect("events")
            .is_empty()
    );
    let now = now_micros();
    let mut created = Vec::new();
    for i in 0..7 {
        let id = format!("item-{}", 7 - i);
        created.push(create_new(&fixture, item(&id, ALICE, Visibility::Private, now + i)).await);
    }
    assert_eq!(fixture.store.head().await.expect("head"), 7);

    let events = fixture.store.events_after(0, 100).await.expect("events");
    let expected: Vec<FeedEvent> = created
        .iter()
        .enumerate()
        .map(|(index, item)| FeedEvent {
            position: i64::try_from(index).expect("small") + 1,
            event_type: "created".to_owned(),
            event_time: update_micros(item),
            item: item.clone(),
            before: None,
        })
        .collect();
    assert_eq!(events, expected);
    for item in &created {
        let position = events
            .iter()
            .find(|event| event.item.name == item.name)
            .expect("event")
            .position;
        assert_eq!(item.feed_cursor, encode_cursor(position));
    }

    // Windows of the feed.
    let window = fixture.store.events_after(2, 3).await.expect("events");
    assert_eq!(window, expected[2..5].to_vec());
    assert_eq!(
        fixture.store.events_after(5, 100).await.expect("events"),
        expected[5..].to_vec()
    );
    assert!(
        fixture
            .store
            .events_after(7, 100)
            .await
            .expect("events")
            .is_empty()
    );
    assert!(
        fixture
            .store
            .events_after(1000, 100)
            .await
            .expect("events")
            .is_empty()
    );
}

async fn snapshot_returns_live_items_and_head(fixture: Fixture) {
    let (items, head) = fixture.store.snapshot().await.expect("snapshot");
    assert!(items.is_empty());
    assert_eq!(head, 0);

    let now = now_micros();
    let mut created = Vec::new();
    for (i, id) in ["delta", "alpha", "charlie", "bravo"].iter().enumerate() {
        let time = now + i64::try_from(i).expect("small");
        created.push(create_new(&fixture, item(id, BOB, Visibility::Private, time)).await);
    }
    mark_deleted(&fixture.database, "charlie", now + 10).await;

    let (items, head) = fixture.store.snapshot().await.expect("snapshot");
    assert_eq!(head, 4);
    let mut expected: Vec<Item> = created
        .into_iter()
        .filter(|item| item.name != "items/charlie")
        .collect();
    expected.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(items, expected, "live items, by id");
}

/// Many writers on separate pools while a reader follows the feed: the reader sees every
/// position exactly once, contiguously and in order, and snapshots stay consistent with the
/// head. This is what catches positions that commit out of order.
async fn feed_is_gap_free_and_ordered_under_concurrent_writers(fixture: Fixture) {
    const WRITERS: usize = 8;
    const PER_WRITER: usize = 25;
    const TOTAL: i64 = (WRITERS * PER_WRITER) as i64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let now = now_micros();

    let mut pools = Vec::new();
    let mut writers = Vec::new();
    let start = Arc::new(tokio::sync::Barrier::new(WRITERS + 2));
    for writer in 0..WRITERS {
        let database = separate_pool(&fixture.database).await;
        pools.push(database.clone());
        let store = SqlItemStore::new(database);
        let start = start.clone();
        writers.push(tokio::spawn(async move {
            start.wait().await;
            let mut written = Vec::new();
            for i in 0..PER_WRITER {
                let id = format!("w{writer}-{i}");
                let time = now + i64::try_from(i).expect("small");
                let owner = format!("users/writer-{writer}");
                let created = store
                    .create(item(&id, &owner, Visibility::Private, time), &owner, None)
                    .await
                    .unwrap_or_else(|error| panic!("writer {writer}: {error:?}"));
                let Created::New(created) = created else {
                    panic!("writer {writer}: a create without request id was replayed");
                };
                written.push((created.feed_cursor.clone(), created.name.clone()));
            }
            written
        }));
    }

    let reader_database = separate_pool(&fixture.database).await;
    pools.push(reader_database.clone());
    let reader_store = SqlItemStore::new(reader_database);
    let reader_start = start.clone();
    let reader = tokio::spawn(async move {
        reader_start.wait().await;
        let mut last = 0_i64;
        let mut seen = Vec::new();
        while last < TOTAL {
            assert!(
                tokio::time::Instant::now() < deadline,
                "reader stuck at {last} of {TOTAL}"
            );
            let events = reader_store
                .events_after(last, 16)
                .await
                .expect("events_after");
            if events.is_empty() {
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
            for event in events {
                assert_eq!(
                    event.position,
                    last + 1,
                    "the feed skipped or reordered a position after {last}"
                );
                assert_eq!(event.item.feed_cursor, encode_cursor(event.position));
                last = event.position;
                seen.push(event.item.name);
            }
        }
        seen
    });

    let snapshot_database = separate_pool(&fixture.database).await;
    pools.push(snapshot_database.clone());
    let snapshot_store = SqlItemStore::new(snapshot_database);
    let snapshot_start = start.clone();
    let snapshots = tokio::spawn(async move {
        snapshot_start.wait().await;
        let mut taken = 0;
        loop {
            let (items, head) = snapshot_store.snapshot().await.expect("snapshot");
            // Every write creates one item and one position: a consistent read has as many
            // items as the head, and the newest of them carries the head's cursor.
            assert_eq!(
                i64::try_from(items.len()).expect("small"),
                head,
                "snapshot inconsistent with its head"
            );
            if head > 0 {
                let newest = items.iter().map(|item| &item.feed_cursor).max();
                assert_eq!(newest, Some(&encode_cursor(head)));
            }
            taken += 1;
            if head == TOTAL {
                return taken;
            }
            assert!(tokio::time::Instant::now() < deadline, "snapshots stuck");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });

    let mut written = Vec::new();
    for writer in writers {
        written.extend(writer.await.expect("writer"));
    }
    let seen = reader.await.expect("reader");
    let taken = snapshots.await.expect("snapshots");
    assert!(taken > 0);

    let mut cursors: Vec<&String> = written.iter().map(|(cursor, _)| cursor).collect();
    cursors.sort();
    let expected: Vec<String> = (1..=TOTAL).map(encode_cursor).collect();
    assert_eq!(
        cursors,
        expected.iter().collect::<Vec<_>>(),
        "writers got every position once"
    );
    let written_names: BTreeSet<String> = written.into_iter().map(|(_, name)| name).collect();
    assert_eq!(seen.len(), written_names.len(), "no event seen twice");
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), written_names);
    assert_eq!(fixture.store.head().await.expect("head"), TOTAL);

    for pool in pools {
        pool.close().await;
    }
}

#[path = "store/link_reads.rs"]
mod link_reads;
#[path = "store/links.rs"]
mod links;
#[path = "store/list_filter.rs"]
mod list_filter;
#[path = "store/list_order.rs"]
mod list_order;
use link_reads::{backlinks_and_link_reads_apply_the_scope, stats_count_only_readable_live_items};
use links::{
    content_links_resolve_by_name_title_file_and_alias,
    resolution_is_the_owners_and_prefers_own_then_oldest,
    unresolved_links_resolve_later_and_follow_changes,
};
use list_filter::filters_select_what_the_reference_model_selects;
use list_order::every_order_pages_each_matching_item_once;

pake_testkit::store_conformance_suite!(open;
    create_then_get_round_trips,
    taken_id_is_already_exists,
    request_id_replay_returns_original,
    request_id_outside_window_creates_anew,
    concurrent_retries_create_once,
    list_applies_visibility,
    keyset_paging_covers_every_item_once,
    head_and_events_after_in_order,
    snapshot_returns_live_items_and_head,
    feed_is_gap_free_and_ordered_under_concurrent_writers,
    filters_select_what_the_reference_model_selects,
    every_order_pages_each_matching_item_once,
    content_links_resolve_by_name_title_file_and_alias,
    unresolved_links_resolve_later_and_follow_changes,
    resolution_is_the_owners_and_prefers_own_then_oldest,
    backlinks_and_link_reads_apply_the_scope,
    stats_count_only_readable_live_items,
);
