//! Item writes and reads after create, over real gRPC: update with field masks and etags,
//! soft delete and undelete (also out of search), verify, batch get and revisions, and who may
//! do each.

use pake_api::knowledge::item::{Status, Verification, Visibility};
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::knowledge::{
    BatchGetItemsRequest, CreateItemRequest, DeleteItemRequest, GetItemRequest,
    GetItemRevisionRequest, Item, ItemView, ListItemRevisionsRequest, ListItemsRequest,
    UndeleteItemRequest, UpdateItemRequest, VerifyItemRequest,
};
use pake_api::search::SearchRequest;
use pake_api::search::search_service_client::SearchServiceClient;
use pake_testkit::{TestApp, authorized, sign_up_and_in, spawn_app};
use prost_types::FieldMask;
use tonic::Code;
use tonic::transport::Channel;

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

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

fn code<T: std::fmt::Debug>(result: Result<T, tonic::Status>) -> Code {
    result.expect_err("must fail").code()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_applies_the_mask_checks_the_etag_and_keeps_derived_values_derived() {
    let app = spawn_app().await;
    let alice = sign_up_and_in(&app, "alice").await;
    let token = alice.access_token.as_str();
    let item = create(
        &app,
        token,
        Item {
            title: "Draft".into(),
            content: "first".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(item.folder, "00-Inbox");
    let mut knowledge = client(&app).await;

    let patch = Item {
        name: item.name.clone(),
        status: Status::Verified as i32,
        title: "ignored".into(),
        ..Default::default()
    };
    let updated = knowledge
        .update_item(authorized(
            token,
            UpdateItemRequest {
                item: Some(patch),
                update_mask: mask(&["status"]),
            },
        ))
        .await
        .expect("update")
        .into_inner();
    assert_eq!(updated.title, "Draft", "unmasked fields stay");
    assert_eq!(
        updated.folder, "02-Permanent",
        "derived folder follows the status"
    );
    assert_eq!(updated.revision_id, "2");
    assert_ne!(updated.etag, item.etag);
    assert!(updated.feed_cursor > item.feed_cursor);

    // A stale etag is ABORTED; the current one works; an implied mask takes the set fields.
    let stale = Item {
        name: item.name.clone(),
        etag: item.etag.clone(),
        content: "x".into(),
        ..Default::default()
    };
    assert_eq!(
        code(
            knowledge
                .update_item(authorized(
                    token,
                    UpdateItemRequest {
                        item: Some(stale),
                        update_mask: None
                    }
                ))
                .await
        ),
        Code::Aborted
    );
    let fresh = Item {
        name: item.name.clone(),
        etag: updated.etag.clone(),
        content: "second".into(),
        ..Default::default()
    };
    let second = knowledge
        .update_item(authorized(
            token,
            UpdateItemRequest {
                item: Some(fresh),
                update_mask: None,
            },
        ))
        .await
        .expect("implied mask")
        .into_inner();
    assert_eq!(
        (second.content.as_str(), second.title.as_str()),
        ("second", "Draft")
    );

    // An update that changes nothing changes nothing.
    let same = Item {
        name: item.name.clone(),
        content: "second".into(),
        ..Default::default()
    };
    let unchanged = knowledge
        .update_item(authorized(
            token,
            UpdateItemRequest {
                item: Some(same),
                update_mask: mask(&["content"]),
            },
        ))
        .await
        .expect("no-op")
        .into_inner();
    assert_eq!(
        (unchanged.etag, unchanged.feed_cursor),
        (second.etag.clone(), second.feed_cursor.clone())
    );

    let bad = Item {
        name: item.name.clone(),
        ..Default::default()
    };
    let status = knowledge
        .update_item(authorized(
            token,
            UpdateItemRequest {
                item: Some(bad),
                update_mask: mask(&["owner"]),
            },
        ))
        .await
        .expect_err("owner is not updatable");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("update_mask"),
        "{}",
        status.message()
    );

    // Revisions: newest first, BASIC by default, and each one in full on request.
    let revisions = knowledge
        .list_item_revisions(authorized(
            token,
            ListItemRevisionsRequest {
                parent: item.name.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("revisions")
        .into_inner()
        .revisions;
    let numbers: Vec<&str> = revisions
        .iter()
        .map(|r| r.name.rsplit('/').next().unwrap_or(""))
        .collect();
    assert_eq!(numbers, vec!["3", "2", "1"]);
    assert!(
        revisions
            .iter()
            .all(|r| r.item.as_ref().is_some_and(|i| i.content.is_empty())),
        "BASIC view"
    );
    assert_eq!(revisions[0].author, alice.name);
    let first = knowledge
        .get_item_revision(authorized(
            token,
            GetItemRevisionRequest {
                name: format!("{}/revisions/1", item.name),
            },
        ))
        .await
        .expect("revision 1")
        .into_inner();
    assert_eq!(first.item.map(|i| i.content), Some("first".to_owned()));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_hides_the_item_everywhere_until_undeleted() {
    let app = spawn_app().await;
    let alice = sign_up_and_in(&app, "alice").await;
    let token = alice.access_token.as_str();
    let item = create(
        &app,
        token,
        Item {
            title: "Ephemeral".into(),
            content: "zanzibar".into(),
            ..Default::default()
        },
    )
    .await;
    let mut knowledge = client(&app).await;
    let deleted = knowledge
        .delete_item(authorized(
            token,
            DeleteItemRequest {
                name: item.name.clone(),
                etag: item.etag.clone(),
            },
        ))
        .await
        .expect("delete")
        .into_inner();
    assert!(deleted.delete_time.is_some());
    assert_eq!(
        code(
            knowledge
                .delete_item(authorized(
                    token,
                    DeleteItemRequest {
                        name: item.name.clone(),
                        etag: String::new()
                    }
                ))
                .await
        ),
        Code::NotFound
    );

    let listed = knowledge
        .list_items(authorized(token, ListItemsRequest::default()))
        .await
        .expect("list")
        .into_inner();
    assert!(listed.items.is_empty(), "deleted items leave lists");
    let with_deleted = knowledge
        .list_items(authorized(
            token,
            ListItemsRequest {
                show_deleted: true,
                ..Default::default()
            },
        ))
        .await
        .expect("list deleted")
        .into_inner();
    assert_eq!(with_deleted.items.len(), 1);
    let fetched = knowledge
        .get_item(authorized(
            token,
            GetItemRequest {
                name: item.name.clone(),
            },
        ))
        .await
        .expect("get")
        .into_inner();
    assert!(
        fetched.delete_time.is_some(),
        "Get still returns it, marked deleted"
    );

    let mut search = SearchServiceClient::new(app.channel().await);
    let query = |cursor: &str| {
        authorized(
            token,
            SearchRequest {
                query: "zanzibar".into(),
                min_cursor: cursor.to_owned(),
                ..Default::default()
            },
        )
    };
    assert_eq!(
        search
            .search(query(&deleted.feed_cursor))
            .await
            .expect("search")
            .into_inner()
            .total_size,
        0,
        "out of search"
    );

    let restored = knowledge
        .undelete_item(authorized(
            token,
            UndeleteItemRequest {
                name: item.name.clone(),
                etag: String::new(),
            },
        ))
        .await
        .expect("undelete")
        .into_inner();
    assert!(restored.delete_time.is_none());
    assert_eq!(
        code(
            knowledge
                .undelete_item(authorized(
                    token,
                    UndeleteItemRequest {
                        name: item.name.clone(),
                        etag: String::new()
                    }
                ))
                .await
        ),
        Code::AlreadyExists
    );
    assert_eq!(
        search
            .search(query(&restored.feed_cursor))
            .await
            .expect("search")
            .into_inner()
            .total_size,
        1,
        "back in search"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_records_the_review_and_recomputes_a_computed_confidence() {
    let app = spawn_app().await;
    let alice = sign_up_and_in(&app, "alice").await;
    let item = create(
        &app,
        &alice.access_token,
        Item {
            title: "Claim".into(),
            ..Default::default()
        },
    )
    .await;
    let verified = client(&app)
        .await
        .verify_item(authorized(
            &alice.access_token,
            VerifyItemRequest {
                name: item.name.clone(),
                verification: Verification::Verified as i32,
                human_notes: "checked against the source".into(),
                etag: item.etag.clone(),
            },
        ))
        .await
        .expect("verify")
        .into_inner();
    assert_eq!(verified.verification(), Verification::Verified);
    assert_eq!(verified.human_notes, "checked against the source");
    assert!(
        verified.confidence_score > item.confidence_score,
        "verification raises a computed score"
    );
    assert_eq!(verified.status, item.status, "status unchanged");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn others_may_read_what_visibility_allows_but_never_change_it() {
    let app = spawn_app().await;
    let alice = sign_up_and_in(&app, "alice").await;
    let bob = sign_up_and_in(&app, "bob").await;
    let internal = create(
        &app,
        &alice.access_token,
        Item {
            title: "Shared".into(),
            visibility: Visibility::Internal as i32,
            ..Default::default()
        },
    )
    .await;
    let private = create(
        &app,
        &alice.access_token,
        Item {
            title: "Mine".into(),
            ..Default::default()
        },
    )
    .await;
    let mut knowledge = client(&app).await;
    let bob_token = bob.access_token.as_str();
    let change = |name: &str| UpdateItemRequest {
        item: Some(Item {
            name: name.to_owned(),
            title: "Bob was here".into(),
            ..Default::default()
        }),
        update_mask: mask(&["title"]),
    };
    assert_eq!(
        code(
            knowledge
                .update_item(authorized(bob_token, change(&internal.name)))
                .await
        ),
        Code::PermissionDenied
    );
    assert_eq!(
        code(
            knowledge
                .update_item(authorized(bob_token, change(&private.name)))
                .await
        ),
        Code::NotFound
    );
    assert_eq!(
        code(
            knowledge
                .delete_item(authorized(
                    bob_token,
                    DeleteItemRequest {
                        name: private.name.clone(),
                        etag: String::new()
                    }
                ))
                .await
        ),
        Code::NotFound
    );
    assert_eq!(
        code(
            knowledge
                .list_item_revisions(authorized(
                    bob_token,
                    ListItemRevisionsRequest {
                        parent: internal.name.clone(),
                        ..Default::default()
                    }
                ))
                .await
        ),
        Code::PermissionDenied,
        "revisions are the owner's"
    );
    assert_eq!(
        code(
            knowledge
                .update_item(tonic::Request::new(change(&internal.name)))
                .await
        ),
        Code::Unauthenticated
    );

    // Batch get: in order, all or nothing, the first unreadable name reported.
    let batch = knowledge
        .batch_get_items(authorized(
            &alice.access_token,
            BatchGetItemsRequest {
                names: vec![private.name.clone(), internal.name.clone()],
                view: ItemView::Basic as i32,
            },
        ))
        .await
        .expect("batch")
        .into_inner();
    assert_eq!(
        batch
            .items
            .iter()
            .map(|i| i.name.clone())
            .collect::<Vec<_>>(),
        vec![private.name.clone(), internal.name.clone()]
    );
    let status = knowledge
        .batch_get_items(authorized(
            bob_token,
            BatchGetItemsRequest {
                names: vec![internal.name.clone(), private.name.clone()],
                view: 0,
            },
        ))
        .await
        .expect_err("bob cannot read the private one");
    assert_eq!(status.code(), Code::NotFound);
    assert!(
        status.message().contains(&private.name),
        "{}",
        status.message()
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_links_must_name_items_the_writer_can_read() {
    let app = spawn_app().await;
    let alice = sign_up_and_in(&app, "alice").await;
    let bob = sign_up_and_in(&app, "bob").await;
    let secret = create(
        &app,
        &alice.access_token,
        Item {
            title: "Alice's secret".into(),
            ..Default::default()
        },
    )
    .await;
    let open = create(
        &app,
        &alice.access_token,
        Item {
            title: "Open".into(),
            visibility: Visibility::Public as i32,
            ..Default::default()
        },
    )
    .await;
    let mut knowledge = client(&app).await;
    let linking = |links: Vec<String>| CreateItemRequest {
        item: Some(Item {
            title: "Bob's note".into(),
            links,
            ..Default::default()
        }),
        ..Default::default()
    };
    let status = knowledge
        .create_item(authorized(
            &bob.access_token,
            linking(vec![open.name.clone(), secret.name.clone()]),
        ))
        .await
        .expect_err("a private target");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("item.links[1]"),
        "{}",
        status.message()
    );
    let bobs = knowledge
        .create_item(authorized(
            &bob.access_token,
            linking(vec![open.name.clone()]),
        ))
        .await
        .expect("a public target")
        .into_inner();
    let update = UpdateItemRequest {
        item: Some(Item {
            name: bobs.name.clone(),
            links: vec![secret.name.clone()],
            ..Default::default()
        }),
        update_mask: mask(&["links"]),
    };
    let status = knowledge
        .update_item(authorized(&bob.access_token, update))
        .await
        .expect_err("update too");
    assert!(
        status.message().contains("item.links[0]"),
        "{}",
        status.message()
    );
    app.stop().await;
}
