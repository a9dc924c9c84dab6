//! `WatchItems` over real gRPC: snapshot then live events, resume after a cursor, heartbeats,
//! bad cursors, and the stream ending with UNAVAILABLE when the server shuts down.

use std::time::Duration;

use pake_api::knowledge::item_event::Type;
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::knowledge::{CreateItemRequest, Item, ItemEvent, WatchItemsRequest};
use pake_testkit::{TestApp, authorized, sign_up_and_in, spawn_app};
use tonic::Code;
use tonic::codec::Streaming;

async fn write(app: &TestApp, token: &str, title: &str) -> Item {
    KnowledgeServiceClient::new(app.channel().await)
        .create_item(authorized(
            token,
            CreateItemRequest {
                item: Some(Item {
                    title: title.to_owned(),
                    ..Item::default()
                }),
                ..CreateItemRequest::default()
            },
        ))
        .await
        .expect("create")
        .into_inner()
}

async fn watch(
    app: &TestApp,
    token: &str,
    request: WatchItemsRequest,
) -> Result<Streaming<ItemEvent>, tonic::Status> {
    KnowledgeServiceClient::new(app.channel().await)
        .watch_items(authorized(token, request))
        .await
        .map(tonic::Response::into_inner)
}

async fn next(stream: &mut Streaming<ItemEvent>) -> ItemEvent {
    tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("an event within 10 s")
        .expect("stream ok")
        .expect("stream open")
}

/// The next event that is not a heartbeat.
async fn next_change(stream: &mut Streaming<ItemEvent>) -> ItemEvent {
    loop {
        let event = next(stream).await;
        if event.r#type != Type::Heartbeat as i32 {
            return event;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_then_live_events_then_resume_after_a_cursor() {
    let app = spawn_app().await;
    let user = sign_up_and_in(&app, "watcher").await;
    let first = write(&app, &user.access_token, "First").await;

    let mut stream = watch(
        &app,
        &user.access_token,
        WatchItemsRequest {
            snapshot: true,
            ..Default::default()
        },
    )
    .await
    .expect("watch");
    let snapshot = next(&mut stream).await;
    assert_eq!(snapshot.r#type, Type::Snapshot as i32);
    assert_eq!(
        snapshot.item.as_ref().map(|i| i.name.clone()),
        Some(first.name.clone())
    );
    let end = next(&mut stream).await;
    assert_eq!(end.r#type, Type::SnapshotEnd as i32);
    assert_eq!(end.cursor, first.feed_cursor);

    let second = write(&app, &user.access_token, "Second").await;
    let live = next_change(&mut stream).await;
    assert_eq!(live.r#type, Type::Created as i32);
    assert_eq!(live.cursor, second.feed_cursor);
    assert_eq!(live.item.map(|i| i.title), Some("Second".to_owned()));
    drop(stream);

    // Resuming after the first cursor delivers exactly the later event.
    let mut resumed = watch(
        &app,
        &user.access_token,
        WatchItemsRequest {
            after_cursor: first.feed_cursor.clone(),
            ..Default::default()
        },
    )
    .await
    .expect("resume");
    let event = next_change(&mut resumed).await;
    assert_eq!(event.cursor, second.feed_cursor);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_carry_the_head_cursor_while_idle() {
    let app = spawn_app().await;
    let user = sign_up_and_in(&app, "idle").await;
    let item = write(&app, &user.access_token, "Only").await;
    let mut stream = watch(
        &app,
        &user.access_token,
        WatchItemsRequest {
            heartbeat_interval: Some(prost_types::Duration {
                seconds: 0,
                nanos: 200_000_000,
            }),
            ..Default::default()
        },
    )
    .await
    .expect("watch at head");
    let first = next(&mut stream).await;
    assert_eq!(
        first.r#type,
        Type::Heartbeat as i32,
        "starting at the head begins with a heartbeat"
    );
    assert_eq!(first.cursor, item.feed_cursor);
    let later = next(&mut stream).await;
    assert_eq!(later.r#type, Type::Heartbeat as i32);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_cursors_are_invalid_arguments() {
    let app = spawn_app().await;
    let user = sign_up_and_in(&app, "cursors").await;
    for (request, field) in [
        (
            WatchItemsRequest {
                after_cursor: "not-a-cursor".into(),
                ..Default::default()
            },
            "after_cursor",
        ),
        (
            WatchItemsRequest {
                after_cursor: "00000000000f4240".into(),
                ..Default::default()
            },
            "after_cursor",
        ),
        (
            WatchItemsRequest {
                after_cursor: "0000000000000000".into(),
                snapshot: true,
                ..Default::default()
            },
            "snapshot",
        ),
    ] {
        let status = watch(&app, &user.access_token, request)
            .await
            .expect_err("rejected");
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(status.message().contains(field), "{}", status.message());
    }
    let anonymous = KnowledgeServiceClient::new(app.channel().await)
        .watch_items(WatchItemsRequest::default())
        .await
        .expect_err("anonymous");
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_open_streams_with_unavailable_and_does_not_wait_for_them() {
    // A drain bound far beyond the test's patience: only ending the stream lets shutdown finish.
    let app = pake_testkit::spawn_app_with(pake_core::config::ServiceRole::All, |config| {
        config.shutdown.drain_timeout_secs = 3600;
    })
    .await;
    let user = sign_up_and_in(&app, "shutdown").await;
    let mut stream = watch(&app, &user.access_token, WatchItemsRequest::default())
        .await
        .expect("watch");
    next(&mut stream).await;
    let stopping = tokio::spawn(app.stop());
    let ended = loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.message()).await {
            Ok(Ok(Some(_))) => continue,
            Ok(Err(status)) => break status,
            other => panic!("expected UNAVAILABLE, got {other:?}"),
        }
    };
    assert_eq!(ended.code(), Code::Unavailable, "{ended:?}");
    assert!(ended.message().contains("resume"), "{}", ended.message());
    drop(stream);
    tokio::time::timeout(Duration::from_secs(120), stopping)
        .await
        .expect("shutdown finished instead of waiting for the stream")
        .expect("stopped");
}
