//! Ordered listing on both backends: every order (each field, both directions, several keys)
//! pages through each matching item exactly once, in the order the contract defines, whatever
//! the page size, scope and `show_deleted`.

use std::cmp::Ordering;

use pake_api::knowledge::Item;
use pake_knowledge::filter::Filter;
use pake_knowledge::order::{Order, SortField};
use pake_knowledge::store::ReadScope;

use super::list_filter::{Data, has_tag, micros, varied_items};
use super::{BOB, Fixture, id_of, list_pages, listed};

#[derive(PartialEq, PartialOrd)]
enum Key {
    Int(i64),
    Float(f64),
    Text(String),
}

/// The item's value for a sort key, as the contract defines the order.
fn key(data: &Data, item: &Item, field: SortField, descending: bool) -> Key {
    match field {
        SortField::CreateTime => Key::Int(micros(&item.create_time)),
        SortField::UpdateTime => Key::Int(micros(&item.update_time)),
        // Live items last in either direction.
        SortField::DeleteTime => {
            Key::Int(
                data.delete_time(item)
                    .unwrap_or(if descending { -1 } else { i64::MAX }),
            )
        }
        SortField::Title => Key::Text(item.title.to_ascii_lowercase()),
        SortField::ConfidenceScore => Key::Float(item.confidence_score.unwrap_or_default()),
    }
}

fn sorted(data: &Data, items: Vec<&Item>, order: &Order) -> Vec<Item> {
    let mut items = items;
    items.sort_by(|a, b| {
        for sort_key in order.keys() {
            let (x, y) = (
                key(data, a, sort_key.field, sort_key.descending),
                key(data, b, sort_key.field, sort_key.descending),
            );
            let ordering = x.partial_cmp(&y).unwrap_or(Ordering::Equal);
            let ordering = if sort_key.descending {
                ordering.reverse()
            } else {
                ordering
            };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        let ordering = id_of(a).cmp(id_of(b));
        if order.id_descending() {
            ordering.reverse()
        } else {
            ordering
        }
    });
    items.into_iter().cloned().collect()
}

pub(super) async fn every_order_pages_each_matching_item_once(fixture: Fixture) {
    let data = varied_items(&fixture).await;
    let orders = [
        "",
        "create_time",
        "create_time desc",
        "update_time",
        "update_time desc",
        "delete_time",
        "delete_time desc",
        "title",
        "title desc",
        "confidence_score",
        "confidence_score desc",
        "confidence_score desc, title",
        "title desc, create_time",
        "delete_time desc, confidence_score, title desc",
        "update_time, confidence_score desc",
    ];
    let filters = ["", "confidence_score >= 0.5 OR tag = db"];
    let scopes = [ReadScope::All, ReadScope::User(BOB.to_owned())];
    for text in orders {
        let order = Order::parse(text).unwrap_or_else(|error| panic!("{text}: {error}"));
        for filter_text in filters {
            let filter = Filter::parse(filter_text).expect("filter");
            let condition = filter.to_sql(None);
            let matching = |item: &Item| {
                filter_text.is_empty()
                    || item.confidence_score.unwrap_or_default() >= 0.5
                    || has_tag(item, "db")
            };
            for scope in &scopes {
                for show_deleted in [false, true] {
                    let candidates: Vec<&Item> = data
                        .items
                        .iter()
                        .filter(|item| {
                            let deleted = data.delete_time(item).is_some();
                            listed(scope, item, deleted, show_deleted) && matching(item)
                        })
                        .collect();
                    let expected = sorted(&data, candidates, &order);
                    for page_size in [1_i64, 4, 100] {
                        let pages = list_pages(
                            fixture.store.as_ref(),
                            scope,
                            show_deleted,
                            &condition,
                            &order,
                            page_size,
                        )
                        .await;
                        let names = |items: &[Item]| -> Vec<String> {
                            items.iter().map(|item| item.name.clone()).collect()
                        };
                        assert_eq!(
                            names(&pages),
                            names(&expected),
                            "order `{text}`, filter `{filter_text}`, {scope:?}, show_deleted \
                             {show_deleted}, page size {page_size}"
                        );
                    }
                }
            }
        }
    }
}
