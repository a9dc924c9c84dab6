//! Purging and feed retention over gRPC: PurgeItems (admin, dry run, force, PURGED events),
//! `expire_time` of deleted items, CURSOR_EXPIRED after history is pruned, and the change feed
//! as a non-admin reader sees it when an item becomes readable or unreadable to them.

use std::time::Duration;

use pake_api::knowledge::item::Visibility;
use pake_api::knowledge::item_event::Type;
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::knowledge::{
    CreateItemRequest, DeleteItemRequest, GetItemRequest, Item, ItemEvent, PurgeItemsRequest,
    UpdateItemRequest, WatchItemsRequest,
};
use pake_knowledge::store::{ItemStore, SqlItemStore};
use pake_runtime::db::{Database, now_micros};
use pake_testkit::{TestApp, authorized, sign_in_admin, sign_up_and_in, spawn_app};
use prost_types::FieldMask;
use tonic::Code;
use tonic::Streaming;
use tonic::transport::Channel;
use tonic_types::StatusExt;

async fn knowledge(app: &TestApp) -> KnowledgeServiceClient<Channel> {
    KnowledgeServiceClient::new(app.channel().await)
}

async fn create(app: &TestApp, token: &str, title: &str, visibility: Visibility) -> Item {
    knowledge(app)
        .await
        .create_item(authorized(
            token,
            CreateItemRequest {
                item: Some(Item {
                    title: title.to_owned(),
                    tags: vec![title.to_lowercase().replace(' ', "-")],
                    visibility: visibility as i32,
                    ..Item::default()
                }),
                ..CreateItemRequest::default()
            },
        ))
        .await
        .expect("create")
        .into_inner()
}

async fn delete(app: &TestApp, token: &str, name: &str) -> Item {
    knowledge(app)
        .await
        .delete_item(authorized(
            token,
            DeleteItemRequest {
                name: name.to_owned(),
                ..DeleteItemRequest::default()
            },
        ))
        .await
        .expect("delete")
        .into_inner()
}

async fn set_visibility(app: &TestApp, token: &str, name: &str, visibility: Visibility) -> Item {
    knowledge(app)
        .await
        .update_item(authorized(
            token,
            UpdateItemRequest {
                item: Some(Item {
                    name: name.to_owned(),
                    visibility: visibility as i32,
                    ..Item::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["visibility".into()],
                }),
            },
        ))
        .await
        .expect("update")
        .into_inner()
}

async fn purge(
    app: &TestApp,
    token: &str,
    filter: &str,
    force: bool,
) -> Result<pake_api::knowledge::PurgeItemsResponse, tonic::Status> {
    knowledge(app)
        .await
        .purge_items(authorized(
            token,
            PurgeItemsRequest {
                filter: filter.to_owned(),
                force,
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

/// The next event that is not a heartbeat.
async fn next_change(stream: &mut Streaming<ItemEvent>) -> ItemEvent {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), stream.message())
            .await
            .expect("an event within 10 s")
            .expect("stream ok")
            .expect("stream open");
        if event.r#type != Type::Heartbeat as i32 {
            return event;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_purge_soft_deleted_items_after_a_dry_run() {
    let app = spawn_app().await;
    let admin = sign_in_admin(&app, "purge_admin").await;
    let alice = sign_up_and_in(&app, "alice").await;
    let keep = create(&app, &alice.access_token, "Keep me", Visibility::Private).await;
    let gone = create(&app, &alice.access_token, "Gone", Visibility::Private).await;
    let other = create(&app, &alice.access_token, "Other", Visibility::Private).await;
    let deleted = delete(&app, &alice.access_token, &gone.name).await;
    delete(&app, &alice.access_token, &other.name).await;
    let expire = deleted
        .expire_time
        .expect("a deleted item says when it is purged");
    let deleted_at = deleted.delete_time.expect("delete_time");
    assert_eq!(
        expire.seconds - deleted_at.seconds,
        30 * 86_400,
        "the default retention"
    );

    let denied = purge(&app, &alice.access_token, "*", true)
        .await
        .expect_err("editors do not purge");
    assert_eq!(denied.code(), Code::PermissionDenied);
    let empty = purge(&app, &admin.access_token, " ", true)
        .await
        .expect_err("filter required");
    assert_eq!(empty.code(), Code::InvalidArgument);
    let field = empty
        .get_error_details()
        .bad_request()
        .and_then(|bad| bad.field_violations.first().map(|v| v.field.clone()));
    assert_eq!(field.as_deref(), Some("filter"));
    let malformed = purge(&app, &admin.access_token, "title = (", true)
        .await
        .expect_err("malformed");
    assert_eq!(malformed.code(), Code::InvalidArgument);

    let filter = "tag = \"gone\"";
    let dry = purge(&app, &admin.access_token, filter, false)
        .await
        .expect("dry run");
    assert_eq!(
        (dry.purge_count, dry.purge_sample.clone()),
        (1, vec![gone.name.clone()])
    );
    assert!(dry.feed_cursor.is_empty());
    assert_eq!(
        admin_get(&app, &admin.access_token, &gone.name)
            .await
            .map(|i| i.name),
        Ok(gone.name.clone()),
        "a dry run purges nothing"
    );
    let done = purge(&app, &admin.access_token, filter, true)
        .await
        .expect("purge");
    assert_eq!(done.purge_count, 1);
    assert!(!done.feed_cursor.is_empty());
    assert_eq!(
        admin_get(&app, &admin.access_token, &gone.name).await,
        Err(Code::NotFound)
    );
    assert!(
        admin_get(&app, &admin.access_token, &other.name)
            .await
            .is_ok(),
        "filter respected"
    );
    assert!(
        admin_get(&app, &admin.access_token, &keep.name)
            .await
            .is_ok()
    );

    // The feed carries the purge, with the name only.
    let mut stream = knowledge(&app)
        .await
        .watch_items(authorized(
            &admin.access_token,
            WatchItemsRequest {
                after_cursor: deleted.feed_cursor.clone(),
                ..WatchItemsRequest::default()
            },
        ))
        .await
        .expect("watch")
        .into_inner();
    let mut seen = Vec::new();
    while seen
        .last()
        .is_none_or(|(_, cursor)| *cursor != done.feed_cursor)
    {
        let event = next_change(&mut stream).await;
        seen.push((event.r#type, event.cursor.clone()));
        if event.r#type == Type::Purged as i32 {
            let item = event.item.expect("item");
            assert_eq!(item.name, gone.name);
            assert!(item.title.is_empty(), "a purge carries the name only");
        }
    }
    assert_eq!(
        seen.last().map(|(kind, _)| *kind),
        Some(Type::Purged as i32)
    );

    // `*` purges every remaining soft-deleted item, and only those.
    assert_eq!(
        purge(&app, &admin.access_token, "*", true)
            .await
            .expect("purge")
            .purge_count,
        1
    );
    assert!(
        admin_get(&app, &admin.access_token, &keep.name)
            .await
            .is_ok()
    );
    app.stop().await;
}

async fn admin_get(app: &TestApp, token: &str, name: &str) -> Result<Item, Code> {
    knowledge(app)
        .await
        .get_item(authorized(
            token,
            GetItemRequest {
                name: name.to_owned(),
            },
        ))
        .await
        .map(tonic::Response::into_inner)
        .map_err(|status| status.code())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_behind_pruned_history_is_cursor_expired() {
    let app = spawn_app().await;
    let alice = sign_up_and_in(&app, "alice").await;
    let first = create(&app, &alice.access_token, "One", Visibility::Private).await;
    create(&app, &alice.access_token, "Two", Visibility::Private).await;
    create(&app, &alice.access_token, "Three", Visibility::Private).await;

    // Prune as the maintenance task would after the retention, through a second pool on the
    // same database (another replica).
    let database = Database::open(None, &app.config.data_dir)
        .await
        .expect("database");
    let store = SqlItemStore::new(database);
    let (_, horizon) = store
        .prune_feed(now_micros() + 1_000_000)
        .await
        .expect("prune");
    assert!(horizon >= 2, "{horizon}");

    let expired = knowledge(&app)
        .await
        .watch_items(authorized(
            &alice.access_token,
            WatchItemsRequest {
                after_cursor: first.feed_cursor.clone(),
                ..WatchItemsRequest::default()
            },
        ))
        .await;
    let status = match expired {
        Err(status) => status,
        Ok(response) => response
            .into_inner()
            .message()
            .await
            .expect_err("the stream fails"),
    };
    assert_eq!(status.code(), Code::FailedPrecondition);
    let reason = status
        .get_error_details()
        .error_info()
        .map(|i| i.reason.clone());
    assert_eq!(reason.as_deref(), Some("CURSOR_EXPIRED"));

    // A snapshot still works.
    let mut stream = knowledge(&app)
        .await
        .watch_items(authorized(
            &alice.access_token,
            WatchItemsRequest {
                snapshot: true,
                ..WatchItemsRequest::default()
            },
        ))
        .await
        .expect("snapshot")
        .into_inner();
    let mut snapshot = 0;
    loop {
        let event = next_change(&mut stream).await;
        if event.r#type == Type::SnapshotEnd as i32 {
            break;
        }
        snapshot += 1;
    }
    assert_eq!(snapshot, 3);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_sees_items_arrive_and_leave_as_their_access_changes() {
    let app = spawn_app().await;
    let alice = sign_up_and_in(&app, "alice").await;
    let bob = sign_up_and_in(&app, "bob").await;
    let mut stream = knowledge(&app)
        .await
        .watch_items(authorized(&bob.access_token, WatchItemsRequest::default()))
        .await
        .expect("watch")
        .into_inner();

    let item = create(
        &app,
        &alice.access_token,
        "Secret plan",
        Visibility::Private,
    )
    .await;
    set_visibility(&app, &alice.access_token, &item.name, Visibility::Internal).await;
    set_visibility(&app, &alice.access_token, &item.name, Visibility::Private).await;
    set_visibility(&app, &alice.access_token, &item.name, Visibility::Public).await;
    let last = delete(&app, &alice.access_token, &item.name).await;

    let mut seen = Vec::new();
    while seen.len() < 4 {
        let event = next_change(&mut stream).await;
        let item = event.item.expect("item");
        seen.push((
            Type::try_from(event.r#type).expect("type"),
            !item.title.is_empty(),
            event.cursor,
        ));
    }
    let kinds: Vec<(Type, bool)> = seen.iter().map(|(kind, full, _)| (*kind, *full)).collect();
    assert_eq!(
        kinds,
        vec![
            (Type::Created, true),  // widened to internal: arrives whole
            (Type::Purged, false),  // narrowed to private: leaves, name only
            (Type::Created, true),  // public: arrives again
            (Type::Deleted, false), // soft-deleted by its owner: name only
        ],
        "the private create is never sent"
    );
    assert_eq!(seen[3].2, last.feed_cursor);
    app.stop().await;
}
