//! ListItems `filter` (AIP-160) and `order_by` (AIP-132) end to end over real gRPC: filters
//! select, orders page through every match exactly once, page tokens stay bound to the filter,
//! order, `show_deleted` and caller, and no filter widens what the caller may read.

use std::collections::BTreeSet;

use pake_api::knowledge::item::{Kind, Status, Visibility};
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::knowledge::{
    CreateItemRequest, DeleteItemRequest, Item, ListItemsRequest, ListItemsResponse,
};
use pake_testkit::{TestApp, authorized, sign_up_and_in, spawn_app};
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

#[path = "list_filter/limits.rs"]
mod limits;

async fn client(app: &TestApp) -> KnowledgeServiceClient<Channel> {
    KnowledgeServiceClient::new(app.channel().await)
}

async fn create(app: &TestApp, token: &str, item: Item) -> Item {
    client(app)
        .await
        .create_item(authorized(
            token,
            CreateItemRequest {
                item: Some(item),
                ..Default::default()
            },
        ))
        .await
        .expect("create")
        .into_inner()
}

async fn list(
    app: &TestApp,
    token: Option<&str>,
    request: ListItemsRequest,
) -> Result<ListItemsResponse, tonic::Status> {
    let request = match token {
        Some(token) => authorized(token, request),
        None => tonic::Request::new(request),
    };
    client(app)
        .await
        .list_items(request)
        .await
        .map(tonic::Response::into_inner)
}

fn filtered(filter: &str) -> ListItemsRequest {
    ListItemsRequest {
        filter: filter.to_owned(),
        ..Default::default()
    }
}

/// Every page of a listing: the items in order, and the `total_size` of each page.
async fn all_pages(
    app: &TestApp,
    token: Option<&str>,
    mut request: ListItemsRequest,
) -> (Vec<String>, Vec<i32>) {
    let mut names = Vec::new();
    let mut totals = Vec::new();
    loop {
        let page = list(app, token, request.clone()).await.expect("list");
        if request.page_size > 0 {
            assert!(page.items.len() <= usize::try_from(request.page_size).expect("size"));
        }
        names.extend(page.items.into_iter().map(|item| item.name));
        totals.push(page.total_size);
        if page.next_page_token.is_empty() {
            return (names, totals);
        }
        assert!(names.len() <= 100, "paging does not end");
        request.page_token = page.next_page_token;
    }
}

fn set(names: &[&Item]) -> BTreeSet<String> {
    names.iter().map(|item| item.name.clone()).collect()
}

async fn names(app: &TestApp, token: Option<&str>, request: ListItemsRequest) -> BTreeSet<String> {
    let (names, totals) = all_pages(app, token, request).await;
    assert!(
        totals
            .iter()
            .all(|total| usize::try_from(*total).ok() == Some(names.len())),
        "total_size {totals:?} counts the {} matching items",
        names.len()
    );
    names.into_iter().collect()
}

fn assert_invalid(result: Result<ListItemsResponse, tonic::Status>, field: &str, text: &str) {
    let status = result.expect_err("must fail");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let violations = status
        .get_error_details()
        .bad_request()
        .cloned()
        .expect("BadRequest details");
    assert_eq!(violations.field_violations[0].field, field, "{status:?}");
    assert!(status.message().contains(text), "{}", status.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_select_and_orders_page_through_every_match_once() {
    let app = spawn_app().await;
    let alice = sign_up_and_in(&app, "alice").await;
    let token = alice.access_token.as_str();
    let note = |title: &str, kind: Kind, tags: &[&str], confidence: f64| Item {
        title: title.to_owned(),
        content: format!("About {title}."),
        kind: kind as i32,
        status: Status::Processing as i32,
        tags: tags.iter().map(|tag| (*tag).to_owned()).collect(),
        confidence_score: Some(confidence),
        ..Default::default()
    };
    let grpc = create(
        &app,
        token,
        note("Rust and gRPC", Kind::Project, &["rust", "grpc"], 0.9),
    )
    .await;
    let protobuf = create(
        &app,
        token,
        note("Protobuf notes", Kind::Note, &["protobuf"], 0.75),
    )
    .await;
    let archived = create(
        &app,
        token,
        Item {
            status: Status::Archived as i32,
            ..note("Archived project", Kind::Project, &["Rust"], 0.4)
        },
    )
    .await;
    let daily = create(&app, token, note("Daily log", Kind::Daily, &[], 0.2)).await;
    let beta = create(
        &app,
        token,
        Item {
            folder: "03-Projects/pake".to_owned(),
            ..note("beta", Kind::Project, &["RUST"], 0.9)
        },
    )
    .await;
    assert_eq!(grpc.folder, "03-Projects");

    // The proto comment's examples, and more.
    let cases: [(&str, Vec<&Item>); 7] = [
        (
            "kind = project AND tag = \"rust\"",
            vec![&grpc, &archived, &beta],
        ),
        (
            "(tag = \"grpc\" OR tag = \"protobuf\") AND confidence_score >= 0.7",
            vec![&grpc, &protobuf],
        ),
        (
            "NOT status = archived AND update_time > \"2025-01-01T00:00:00Z\" kind = KIND_PROJECT",
            vec![&grpc, &beta],
        ),
        (
            "owner = \"users/me\" folder = \"03-Projects*\" -verification = rejected",
            vec![&grpc, &beta],
        ),
        (
            "kind = project AND tag = grpc OR tag = protobuf",
            vec![&grpc],
        ),
        (
            "tag != rust confidence_score < 0.8",
            vec![&protobuf, &daily],
        ),
        ("tag = \"x' OR 1=1 --\"", vec![]),
    ];
    for (filter, expected) in cases {
        assert_eq!(
            names(&app, Some(token), filtered(filter)).await,
            set(&expected),
            "{filter}"
        );
    }

    // Orders, over pages of two: every item once, in order, the total on every page.
    let orders: [(&str, Vec<&Item>); 4] = [
        (
            "confidence_score desc, title",
            vec![&beta, &grpc, &protobuf, &archived, &daily],
        ),
        ("title", vec![&archived, &beta, &daily, &protobuf, &grpc]),
        (
            "title desc",
            vec![&grpc, &protobuf, &daily, &beta, &archived],
        ),
        (
            "create_time",
            vec![&grpc, &protobuf, &archived, &daily, &beta],
        ),
    ];
    for (order_by, expected) in orders {
        let (listed, totals) = all_pages(
            &app,
            Some(token),
            ListItemsRequest {
                order_by: order_by.to_owned(),
                page_size: 2,
                ..Default::default()
            },
        )
        .await;
        let expected: Vec<String> = expected.iter().map(|item| item.name.clone()).collect();
        assert_eq!(listed, expected, "{order_by}");
        assert_eq!(totals, [5, 5, 5], "{order_by}");
    }
    let (newest_first, _) = all_pages(&app, Some(token), ListItemsRequest::default()).await;
    assert_eq!(
        newest_first.first(),
        Some(&beta.name),
        "update_time desc by default"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_never_widen_what_the_caller_may_read() {
    let app = spawn_app().await;
    let alice = sign_up_and_in(&app, "alice").await;
    let bob = sign_up_and_in(&app, "bob").await;
    let item = |title: &str, visibility: Visibility| Item {
        title: title.to_owned(),
        tags: vec!["shared".to_owned()],
        visibility: visibility as i32,
        ..Default::default()
    };
    let bob_private = create(
        &app,
        &bob.access_token,
        item("Bob private", Visibility::Private),
    )
    .await;
    let bob_internal = create(
        &app,
        &bob.access_token,
        item("Bob internal", Visibility::Internal),
    )
    .await;
    let bob_public = create(
        &app,
        &bob.access_token,
        item("Bob public", Visibility::Public),
    )
    .await;
    let bob_gone = create(
        &app,
        &bob.access_token,
        item("Bob deleted", Visibility::Public),
    )
    .await;
    client(&app)
        .await
        .delete_item(authorized(
            &bob.access_token,
            DeleteItemRequest {
                name: bob_gone.name.clone(),
                etag: String::new(),
            },
        ))
        .await
        .expect("delete");
    let alice_private = create(
        &app,
        &alice.access_token,
        item("Alice private", Visibility::Private),
    )
    .await;
    let alice_token = Some(alice.access_token.as_str());
    let bob_owner = format!("owner = \"{}\"", bob.name);

    assert_eq!(
        names(&app, alice_token, filtered(&bob_owner)).await,
        set(&[&bob_internal, &bob_public]),
        "another user's private items stay hidden"
    );
    let with_deleted = ListItemsRequest {
        show_deleted: true,
        ..filtered(&bob_owner)
    };
    assert_eq!(
        names(&app, alice_token, with_deleted.clone()).await,
        set(&[&bob_internal, &bob_public]),
        "and so do their deleted items"
    );
    for filter in [
        "visibility = private",
        "visibility = private OR NOT visibility = private",
        "owner != \"users/me\" AND visibility = VISIBILITY_PRIVATE",
        "tag = shared OR tag != shared",
    ] {
        let seen = names(&app, alice_token, filtered(filter)).await;
        assert!(!seen.contains(&bob_private.name), "{filter}: {seen:?}");
        assert!(!seen.contains(&bob_gone.name), "{filter}: {seen:?}");
    }
    assert_eq!(
        names(&app, alice_token, filtered("visibility = private")).await,
        set(&[&alice_private])
    );
    assert_eq!(
        names(&app, alice_token, filtered("owner = \"users/me\"")).await,
        set(&[&alice_private])
    );

    // Anonymous callers: public items only; `users/me` is nobody.
    assert_eq!(
        names(&app, None, filtered(&bob_owner)).await,
        set(&[&bob_public])
    );
    assert_eq!(
        names(&app, None, filtered("owner = \"users/me\"")).await,
        set(&[])
    );
    assert_eq!(
        names(&app, None, filtered("visibility != public")).await,
        set(&[])
    );

    // The owner sees his deleted item with show_deleted; delete_time matches only it.
    let bob_token = Some(bob.access_token.as_str());
    assert_eq!(
        names(&app, bob_token, with_deleted).await,
        set(&[&bob_private, &bob_internal, &bob_public, &bob_gone])
    );
    let deleted_only = ListItemsRequest {
        show_deleted: true,
        ..filtered("delete_time > \"2000-01-01T00:00:00Z\"")
    };
    assert_eq!(
        names(&app, bob_token, deleted_only.clone()).await,
        set(&[&bob_gone])
    );
    assert_eq!(
        names(&app, alice_token, deleted_only).await,
        set(&[]),
        "nobody else's deleted items"
    );
    app.stop().await;
}
