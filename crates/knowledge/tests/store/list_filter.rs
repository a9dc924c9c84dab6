//! Filtered listing on both backends: every filter selects what a reference model in Rust
//! selects, for every scope, and `count` agrees.

use std::collections::HashMap;

use pake_api::knowledge::Item;
use pake_api::knowledge::item::{Kind, Status, Verification, Visibility};
use pake_knowledge::filter::Filter;
use pake_knowledge::order::Order;
use pake_knowledge::store::{ReadScope, Replaced};
use pake_runtime::db::timestamp;

use super::{
    ALICE, BOB, CAROL, Fixture, complete, create_new, id_of, list_pages, listed, mark_deleted,
    update_micros,
};

const ITEMS: usize = 30;
/// 2025-01-01T00:00:00Z, so that filters can name times.
const BASE: i64 = 1_735_689_600_000_000;
const TITLES: [&str; 6] = ["alpha", "Alpha", "beta", "Gamma", "gamma", "delta"];
const FOLDERS: [&str; 6] = [
    "03-Projects",
    "03-Projects/pake",
    "03-ProjectsX",
    "04-Areas",
    "Über/straße",
    "03-projects",
];
const SCORES: [f64; 5] = [0.1, 0.3, 0.5, 0.7, 0.9];

pub(super) struct Data {
    pub(super) items: Vec<Item>,
    /// Delete times (microseconds) of the soft-deleted items, by id.
    pub(super) deleted: HashMap<String, i64>,
}

impl Data {
    pub(super) fn delete_time(&self, item: &Item) -> Option<i64> {
        self.deleted.get(id_of(item)).copied()
    }
}

pub(super) fn micros(time: &Option<prost_types::Timestamp>) -> i64 {
    time.as_ref()
        .map_or(0, |t| t.seconds * 1_000_000 + i64::from(t.nanos) / 1000)
}

fn small(value: usize) -> i64 {
    i64::try_from(value).expect("small")
}

/// Items with every field varied and ties in every sort key; ids out of creation order; some
/// soft-deleted (with tied delete times).
pub(super) async fn varied_items(fixture: &Fixture) -> Data {
    let mut items = Vec::new();
    let mut deleted = HashMap::new();
    for i in 0..ITEMS {
        let tags: &[&str] = match i % 4 {
            0 => &["Rust"],
            1 => &["rust", "DB"],
            2 => &["db"],
            _ => &[],
        };
        let item = Item {
            title: TITLES[i % 6].to_owned(),
            content: format!("Item {i}."),
            kind: [
                Kind::Note,
                Kind::Project,
                Kind::Resource,
                Kind::Daily,
                Kind::System,
            ][i % 5] as i32,
            status: [
                Status::Draft,
                Status::Processing,
                Status::Verified,
                Status::Archived,
            ][i % 4] as i32,
            verification: [
                Verification::Pending,
                Verification::Verified,
                Verification::Rejected,
            ][(i / 2) % 3] as i32,
            visibility: [
                Visibility::Private,
                Visibility::Internal,
                Visibility::Public,
            ][(i / 3) % 3] as i32,
            tags: tags.iter().map(|tag| (*tag).to_owned()).collect(),
            folder: FOLDERS[(i / 5) % 6].to_owned(),
            confidence_score: Some(SCORES[(i / 6) % 5]),
            ..Item::default()
        };
        let id = format!("item-{:02}", (i * 7) % ITEMS);
        let create_time = BASE + small(i / 2) * 1000;
        let owner = [ALICE, BOB, CAROL][i % 3];
        let mut item = create_new(fixture, complete(item, &id, owner, create_time)).await;
        if i % 3 != 0 {
            // A second version, updated later.
            item.update_time = Some(timestamp(create_time + small(i % 3) * 500));
            item.revision_id = "2".to_owned();
            item.etag = "\"2\"".to_owned();
            item = match fixture
                .store
                .replace(item, 1, "updated", owner)
                .await
                .expect("replace")
            {
                Replaced::Done(item) => *item,
                other => panic!("expected an update, got {other:?}"),
            };
        }
        if i % 7 == 3 {
            let delete_time = BASE + 10_000_000 + small(i % 2) * 1000;
            mark_deleted(&fixture.database, &id, delete_time).await;
            deleted.insert(id, delete_time);
        }
        items.push(item);
    }
    Data { items, deleted }
}

pub(super) fn has_tag(item: &Item, tag: &str) -> bool {
    item.tags.iter().any(|t| t.to_lowercase() == tag)
}

type Predicate = Box<dyn Fn(&Item, Option<i64>, Option<&str>) -> bool>;

fn filter_cases() -> Vec<(&'static str, Predicate)> {
    let create = |item: &Item| micros(&item.create_time);
    let update = |item: &Item| micros(&item.update_time);
    let score = |item: &Item| item.confidence_score.unwrap_or_default();
    vec![
        ("", Box::new(|_, _, _| true)),
        (
            "kind = project",
            Box::new(|i, _, _| i.kind() == Kind::Project),
        ),
        (
            "kind != KIND_NOTE",
            Box::new(|i, _, _| i.kind() != Kind::Note),
        ),
        (
            "status = verified OR status = Archived",
            Box::new(|i, _, _| matches!(i.status(), Status::Verified | Status::Archived)),
        ),
        (
            "verification = rejected",
            Box::new(|i, _, _| i.verification() == Verification::Rejected),
        ),
        (
            "visibility = internal",
            Box::new(|i, _, _| i.visibility() == Visibility::Internal),
        ),
        (
            "visibility = private",
            Box::new(|i, _, _| i.visibility() == Visibility::Private),
        ),
        ("tag = \"RUST\"", Box::new(|i, _, _| has_tag(i, "rust"))),
        ("tag != rust", Box::new(|i, _, _| !has_tag(i, "rust"))),
        (
            "tag = rust tag = db",
            Box::new(|i, _, _| has_tag(i, "rust") && has_tag(i, "db")),
        ),
        (
            "confidence_score >= 0.7",
            Box::new(move |i, _, _| score(i) >= 0.7),
        ),
        (
            "confidence_score < 0.3",
            Box::new(move |i, _, _| score(i) < 0.3),
        ),
        (
            "confidence_score = 0.5",
            Box::new(move |i, _, _| score(i) == 0.5),
        ),
        (
            "confidence_score != 0.5",
            Box::new(move |i, _, _| score(i) != 0.5),
        ),
        (
            "confidence_score > 0.5 AND confidence_score <= 0.9",
            Box::new(move |i, _, _| score(i) > 0.5 && score(i) <= 0.9),
        ),
        ("owner = \"users/bob\"", Box::new(|i, _, _| i.owner == BOB)),
        (
            "owner = \"users/me\"",
            Box::new(|i, _, me| Some(i.owner.as_str()) == me),
        ),
        (
            "owner != users/me",
            Box::new(|i, _, me| Some(i.owner.as_str()) != me),
        ),
        (
            "folder = \"03-Projects\"",
            Box::new(|i, _, _| i.folder == "03-Projects"),
        ),
        (
            "folder = \"03-Projects*\"",
            Box::new(|i, _, _| i.folder.starts_with("03-Projects")),
        ),
        (
            "folder != \"03-Projects/*\"",
            Box::new(|i, _, _| !i.folder.starts_with("03-Projects/")),
        ),
        (
            "folder = \"Über*\"",
            Box::new(|i, _, _| i.folder.starts_with("Über")),
        ),
        ("folder = \"*\"", Box::new(|_, _, _| true)),
        (
            "create_time < \"2025-01-01T00:00:00.005Z\"",
            Box::new(move |i, _, _| create(i) < BASE + 5000),
        ),
        (
            "create_time = \"2025-01-01T00:00:00.003Z\"",
            Box::new(move |i, _, _| create(i) == BASE + 3000),
        ),
        (
            "update_time >= \"2025-01-01T00:00:00.004500Z\"",
            Box::new(move |i, _, _| update(i) >= BASE + 4500),
        ),
        (
            "update_time > \"2025-01-01T01:00:00.0000005+01:00\"",
            Box::new(move |i, _, _| update(i) > BASE),
        ),
        (
            "delete_time >= \"2025-01-01T00:00:10Z\"",
            Box::new(|_, deleted, _| deleted.is_some_and(|t| t >= BASE + 10_000_000)),
        ),
        (
            "NOT delete_time > \"2025-01-01T00:00:10Z\"",
            Box::new(|_, deleted, _| deleted.is_none_or(|t| t <= BASE + 10_000_000)),
        ),
        (
            "NOT (kind = project OR tag = rust)",
            Box::new(|i, _, _| !(i.kind() == Kind::Project || has_tag(i, "rust"))),
        ),
        (
            "kind = project AND tag = rust OR tag = db",
            Box::new(|i, _, _| {
                i.kind() == Kind::Project && (has_tag(i, "rust") || has_tag(i, "db"))
            }),
        ),
        (
            "-visibility = public (owner = \"users/bob\" OR owner = \"users/carol\")",
            Box::new(|i, _, _| i.visibility() != Visibility::Public && i.owner != ALICE),
        ),
        ("tag = \"x' OR 1=1 --\"", Box::new(|_, _, _| false)),
    ]
}

pub(super) async fn filters_select_what_the_reference_model_selects(fixture: Fixture) {
    let data = varied_items(&fixture).await;
    let scopes = [
        (ReadScope::All, Some("users/admin")),
        (ReadScope::User(ALICE.to_owned()), Some(ALICE)),
        (ReadScope::Public, None),
    ];
    let order = Order::default();
    for (text, predicate) in filter_cases() {
        let filter = Filter::parse(text).unwrap_or_else(|error| panic!("{text}: {error}"));
        for (scope, caller) in &scopes {
            let condition = filter.to_sql(*caller);
            for show_deleted in [false, true] {
                let mut expected: Vec<&Item> = data
                    .items
                    .iter()
                    .filter(|item| {
                        let deleted = data.delete_time(item);
                        listed(scope, item, deleted.is_some(), show_deleted)
                            && predicate(item, deleted, *caller)
                    })
                    .collect();
                expected.sort_by(|a, b| {
                    (update_micros(b), id_of(b)).cmp(&(update_micros(a), id_of(a)))
                });
                let expected: Vec<Item> = expected.into_iter().cloned().collect();
                let context = format!("`{text}`, {scope:?}, show_deleted {show_deleted}");
                let pages = list_pages(
                    fixture.store.as_ref(),
                    scope,
                    show_deleted,
                    &condition,
                    &order,
                    7,
                )
                .await;
                assert_eq!(pages, expected, "{context}");
                let count = fixture
                    .store
                    .count(scope, show_deleted, &condition)
                    .await
                    .expect("count");
                assert_eq!(count, small(expected.len()), "count: {context}");
            }
        }
    }
}
