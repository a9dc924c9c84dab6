//! The edges of ListItems: page tokens bound to their listing, malformed filters and orders
//! (INVALID_ARGUMENT naming the field), and pages that end early to stay under 4 MiB.

use pake_api::knowledge::item::Visibility;
use pake_api::knowledge::{Item, ListItemsRequest};
use pake_testkit::{sign_up_and_in, spawn_app};

use super::{all_pages, assert_invalid, create, filtered, list};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_tokens_are_bound_to_filter_order_show_deleted_and_caller() {
    let app = spawn_app().await;
    let alice = sign_up_and_in(&app, "alice").await;
    let bob = sign_up_and_in(&app, "bob").await;
    let token = alice.access_token.as_str();
    for title in ["One", "Two", "Three"] {
        let item = Item {
            title: title.to_owned(),
            tags: vec!["x".to_owned(), "y".to_owned()],
            visibility: Visibility::Internal as i32,
            ..Default::default()
        };
        create(&app, token, item).await;
    }
    let first = ListItemsRequest {
        filter: "tag = x".to_owned(),
        order_by: "title desc".to_owned(),
        page_size: 1,
        ..Default::default()
    };
    let page = list(&app, Some(token), first.clone()).await.expect("list");
    assert_eq!(page.items[0].title, "Two");
    let next = ListItemsRequest {
        page_token: page.next_page_token.clone(),
        ..first.clone()
    };
    let second = list(&app, Some(token), next.clone())
        .await
        .expect("next page");
    assert_eq!(second.items[0].title, "Three");
    // One order spelled differently is the same order.
    let respelled = ListItemsRequest {
        order_by: " title  DESC ".to_owned(),
        ..next.clone()
    };
    assert_eq!(
        list(&app, Some(token), respelled)
            .await
            .expect("same order")
            .items,
        second.items
    );

    // Another filter (even one matching the same items), order or show_deleted, or another
    // caller: INVALID_ARGUMENT naming page_token.
    let misuses = [
        ListItemsRequest {
            filter: "tag = y".to_owned(),
            ..next.clone()
        },
        ListItemsRequest {
            order_by: "title".to_owned(),
            ..next.clone()
        },
        ListItemsRequest {
            show_deleted: true,
            ..next.clone()
        },
    ];
    for request in misuses {
        assert_invalid(
            list(&app, Some(token), request).await,
            "page_token",
            "page_token",
        );
    }
    assert_invalid(
        list(&app, Some(&bob.access_token), next.clone()).await,
        "page_token",
        "page_token",
    );
    assert_invalid(
        list(&app, None, next.clone()).await,
        "page_token",
        "page_token",
    );
    for garbage in ["garbage", "AAAA", "x".repeat(1025).as_str()] {
        let request = ListItemsRequest {
            page_token: garbage.to_owned(),
            ..first.clone()
        };
        assert_invalid(
            list(&app, Some(token), request).await,
            "page_token",
            "page_token",
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_filters_and_orders_are_invalid_argument_naming_the_field() {
    let app = spawn_app().await;
    let alice = sign_up_and_in(&app, "alice").await;
    let token = Some(alice.access_token.as_str());
    let cases = [
        ("title = \"x' OR 1=1 --\"", "unknown field `title`"),
        ("tag = x AND", "(at byte 11)"),
        ("kind = banana", "(at byte 7)"),
        ("tag < x", "(at byte 4)"),
        ("create_time > 2025-01-01", "(at byte 14)"),
    ];
    for (filter, text) in cases {
        assert_invalid(list(&app, token, filtered(filter)).await, "filter", text);
    }
    let long = format!("tag = \"{}\"", "x".repeat(2048));
    assert_invalid(
        list(&app, token, filtered(&long)).await,
        "filter",
        "2048 bytes",
    );
    let deep = format!("{}tag = x{}", "(".repeat(17), ")".repeat(17));
    assert_invalid(
        list(&app, token, filtered(&deep)).await,
        "filter",
        "deeper than 16",
    );
    let many = vec!["tag = x"; 65].join(" OR ");
    assert_invalid(
        list(&app, token, filtered(&many)).await,
        "filter",
        "64 comparisons",
    );
    for order_by in [
        "name",
        "title, title",
        "title sideways",
        "update_time desc;",
    ] {
        let request = ListItemsRequest {
            order_by: order_by.to_owned(),
            ..Default::default()
        };
        assert_invalid(list(&app, token, request).await, "order_by", "order_by");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_end_early_to_stay_under_the_message_limit() {
    let app = spawn_app().await;
    let alice = sign_up_and_in(&app, "alice").await;
    let token = alice.access_token.as_str();
    let mut created = Vec::new();
    for i in 0..6 {
        let item = Item {
            title: format!("Big {i}"),
            content: "x".repeat(1_000_000),
            ..Default::default()
        };
        created.push(create(&app, token, item).await.name);
    }
    let request = ListItemsRequest {
        page_size: 100,
        order_by: "title".to_owned(),
        ..Default::default()
    };
    let first = list(&app, Some(token), request.clone())
        .await
        .expect("a page under the 4 MiB limit");
    assert!(
        (1..=4).contains(&first.items.len()) && !first.next_page_token.is_empty(),
        "{} items, token {:?}",
        first.items.len(),
        first.next_page_token
    );
    let (names, totals) = all_pages(&app, Some(token), request).await;
    assert_eq!(names, created, "every item once, in order");
    assert!(totals.iter().all(|total| *total == 6), "{totals:?}");
    app.stop().await;
}
