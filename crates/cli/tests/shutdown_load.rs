//! SPEC §7 "Shutdown" against the real binary under load: SIGTERM reaches `pake serve` while
//! several clients are calling it and a `WatchItems` consumer is following the feed.
//!
//! What counts as *in flight*: a call whose HTTP/2 stream the server accepted before it stopped
//! accepting. Each client starts calls one after another until its first failure and then stops,
//! so every call but a client's last one was answered; the server may refuse only calls it never
//! accepted, and the client sees those as errors of its own transport (connection refused once
//! the listener is closed, a stream refused, a request still queued on a connection that closed
//! after the server's GOAWAY) — never as a status the server sent. So the test asserts:
//!
//! 1. every call of every client returned OK, except its last one, which may only have been
//!    refused before the server took it ([`refused_before_sent`]: UNAVAILABLE from the client
//!    transport, or the CANCELLED tonic reports for a request hyper never sent) — no INTERNAL,
//!    UNKNOWN, reset, or UNAVAILABLE sent by a handler cut off by the drain; and the load was
//!    still running when the signal was sent (calls were answered after it);
//! 2. the `WatchItems` stream ends with UNAVAILABLE sent by the server (not a reset, not an end
//!    without status);
//! 3. the process exits with status 0 within 30 s (a hang catcher, not a timing assertion);
//! 4. a second instance on the same data dir, with the consumer resuming after the last cursor it
//!    received, delivers every write the first stream missed (those acknowledged just before the
//!    SIGTERM) and the writes made on the second instance: each acknowledged CreateItem appears
//!    exactly once over both streams, and cursors strictly increase (nothing lost or duplicated).

#[allow(dead_code)] // Shared with tests/commands.rs, which uses all of it.
#[path = "commands/support.rs"]
mod support;

use std::collections::BTreeSet;
use std::error::Error as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pake_api::knowledge::item_event::Type;
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::knowledge::{CreateItemRequest, GetItemRequest, Item, ItemEvent};
use pake_testkit::authorized;
use pake_testkit::feed::{event_type, is_change, position, read_through, watch};
use tonic::{Code, Status};

/// Concurrent unary clients, each on its own connection.
const CLIENTS: usize = 8;
/// Calls answered before the signal is sent, so that it lands in the middle of the load.
const CALLS_BEFORE_SIGNAL: usize = 200;

/// What one client saw: the items it created (name, feed cursor), how many calls succeeded, and
/// the status that ended it.
struct ClientRun {
    created: Vec<(String, String)>,
    ok_calls: usize,
    end: Status,
}

/// Calls CreateItem and GetItem (of its own last item) in turn until the first failure.
async fn client(url: String, token: String, id: usize, answered: Arc<AtomicUsize>) -> ClientRun {
    let channel = support::channel(&url).await;
    let mut knowledge = KnowledgeServiceClient::new(channel);
    let mut created: Vec<(String, String)> = Vec::new();
    let mut ok_calls = 0;
    loop {
        let result = match created.last() {
            Some((name, _)) if ok_calls % 2 == 1 => knowledge
                .get_item(authorized(&token, GetItemRequest { name: name.clone() }))
                .await
                .map(|response| {
                    assert_eq!(&response.get_ref().name, name);
                    None
                }),
            _ => knowledge
                .create_item(authorized(
                    &token,
                    CreateItemRequest {
                        item: Some(Item {
                            title: format!("client {id} note {ok_calls}"),
                            content: "written while the server may be shutting down".to_owned(),
                            ..Item::default()
                        }),
                        ..CreateItemRequest::default()
                    },
                ))
                .await
                .map(|response| Some(response.into_inner())),
        };
        match result {
            Ok(item) => {
                if let Some(item) = item {
                    created.push((item.name, item.feed_cursor));
                }
                ok_calls += 1;
                answered.fetch_add(1, Ordering::Relaxed);
            }
            Err(end) => {
                return ClientRun {
                    created,
                    ok_calls,
                    end,
                };
            }
        }
    }
}

/// Reads the stream to its end: the change events received, the last cursor (of any event that
/// carries one, heartbeats included: resuming after a heartbeat loses nothing) and how it ended.
async fn consume(
    mut stream: tonic::codec::Streaming<ItemEvent>,
    mut last_cursor: String,
) -> (Vec<ItemEvent>, String, Result<(), Status>) {
    let mut changes = Vec::new();
    loop {
        match stream.message().await {
            Ok(Some(event)) => {
                if !event.cursor.is_empty() {
                    last_cursor.clone_from(&event.cursor);
                }
                if is_change(&event) {
                    changes.push(event);
                }
            }
            Ok(None) => return (changes, last_cursor, Ok(())),
            Err(status) => return (changes, last_cursor, Err(status)),
        }
    }
}

/// Whether `status` was raised by the client's own transport (connect refused, stream refused
/// by GOAWAY) rather than sent by the server: tonic keeps the transport error as its source.
fn from_client_transport(status: &Status) -> bool {
    status.source().is_some()
}

/// Whether the call ended without the server ever taking it:
/// - UNAVAILABLE from the client's transport: the connection was refused (listener closed) or
///   the stream was refused (REFUSED_STREAM);
/// - CANCELLED whose cause is hyper's `Canceled` error: hyper raises it for HTTP/2 only when it
///   never handed the request to the connection ("connection closed": still queued when the
///   connection closed after the server's GOAWAY; "connection was not ready"), and gives the
///   request back. tonic reports that as CANCELLED, although the server never saw the call.
///
/// A call the server accepted and then abandoned (reset, cut by the drain timeout, a handler
/// failing because pools closed early) matches neither.
fn refused_before_sent(status: &Status) -> bool {
    match status.code() {
        Code::Unavailable => from_client_transport(status),
        Code::Cancelled => {
            let mut cause = status.source();
            while let Some(error) = cause {
                if let Some(hyper) = error.downcast_ref::<hyper::Error>() {
                    return hyper.is_canceled();
                }
                cause = error.source();
            }
            false
        }
        _ => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_loses_no_call_and_the_feed_resumes_on_a_new_instance() {
    let data_dir = tempfile::tempdir().expect("tempdir");
    // Writes unthrottled: the load is one user's, well above the default per-caller write rate.
    let config = data_dir.path().join("pake.toml");
    std::fs::write(
        &config,
        "[rate_limit]\nwrite_per_second = 0\nread_per_second = 0\n",
    )
    .expect("write config");
    let config = config.to_str().expect("utf-8 path").to_owned();
    let data = data_dir.path().join("data");

    let first = support::serve(&data, &["--config", &config]).await;
    support::sign_up(&first.url, "drain_watcher").await;
    let token = support::sign_in(&first.url, "drain_watcher").await;
    let start = support::create_item(&first.url, &token, "before the load", "seed").await;

    let stream = watch(
        support::channel(&first.url).await,
        &Some(token.clone()),
        &start.feed_cursor,
        false,
        Duration::from_millis(200),
    )
    .await
    .expect("watch");
    let consumer = tokio::spawn(consume(stream, start.feed_cursor.clone()));

    let answered = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|id| {
            tokio::spawn(client(
                first.url.clone(),
                token.clone(),
                id,
                answered.clone(),
            ))
        })
        .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while answered.load(Ordering::Relaxed) < CALLS_BEFORE_SIGNAL {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the load did not get going"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // (3) SIGTERM while calls are in flight; exit 0 within 30 s (asserted by `stop`).
    let answered_at_signal = answered.load(Ordering::Relaxed);
    first.stop().await;

    // (1) Every call but a client's last was answered OK; the last one was refused before the
    // server took it.
    let mut acknowledged: Vec<(String, String)> = Vec::new();
    for client in clients {
        let run = tokio::time::timeout(Duration::from_secs(30), client)
            .await
            .expect("a client hung after the server exited")
            .expect("client task");
        assert!(
            refused_before_sent(&run.end),
            "a call failed other than by being refused before the server took it \
             ({} calls had succeeded): {:?} (source: {:?})",
            run.ok_calls,
            run.end,
            run.end.source(),
        );
        acknowledged.extend(run.created);
    }
    let answered_after_signal = answered.load(Ordering::Relaxed) - answered_at_signal;
    assert!(
        answered_after_signal > 0,
        "no call was answered after the signal was sent: the load had stopped before it"
    );

    // (2) The stream ended with UNAVAILABLE, sent by the server.
    let (mut events, last_cursor, end) = tokio::time::timeout(Duration::from_secs(30), consumer)
        .await
        .expect("the WatchItems stream did not end")
        .expect("consumer task");
    let status = end.expect_err("the stream ended without a status");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        !from_client_transport(&status),
        "the stream was cut, not ended by the server: {status:?} (source: {:?})",
        status.source()
    );

    // (4) A new instance on the same data; the consumer resumes after its last cursor.
    let second = support::serve(&data, &["--config", &config]).await;
    let mut stream = watch(
        support::channel(&second.url).await,
        &Some(token.clone()),
        &last_cursor,
        false,
        Duration::from_millis(200),
    )
    .await
    .expect("resume watching");
    for n in 0..3 {
        let item =
            support::create_item(&second.url, &token, &format!("after {n}"), "resumed").await;
        acknowledged.push((item.name, item.feed_cursor));
    }
    let newest = acknowledged
        .iter()
        .map(|(_, cursor)| cursor.clone())
        .max_by_key(|cursor| position(cursor))
        .expect("writes");
    let resumed = read_through(&mut stream, &newest, Duration::from_secs(30))
        .await
        .expect("the resumed stream delivers the writes");
    events.extend(resumed.into_iter().filter(is_change));
    drop(stream);
    second.stop().await;

    let positions: Vec<i64> = events
        .iter()
        .map(|event| position(&event.cursor).expect("well-formed cursor"))
        .collect();
    assert!(
        positions.windows(2).all(|pair| pair[0] < pair[1]),
        "cursors do not strictly increase over both streams (duplicate or reordered): {positions:?}"
    );
    for event in &events {
        assert_eq!(event_type(event), Type::Created, "{event:?}");
    }
    let delivered: Vec<(String, String)> = events
        .into_iter()
        .map(|event| {
            let name = event.item.map(|item| item.name).unwrap_or_default();
            (name, event.cursor)
        })
        .collect();
    let delivered_set: BTreeSet<_> = delivered.iter().cloned().collect();
    assert_eq!(
        delivered_set.len(),
        delivered.len(),
        "an event was delivered twice"
    );
    let acknowledged_set: BTreeSet<_> = acknowledged.into_iter().collect();
    let missing: Vec<_> = acknowledged_set.difference(&delivered_set).collect();
    let unexpected: Vec<_> = delivered_set.difference(&acknowledged_set).collect();
    assert!(
        missing.is_empty(),
        "acknowledged writes never delivered: {missing:?}"
    );
    // A write the server committed whose response was lost would show up here; with no call
    // lost there is none.
    assert!(
        unexpected.is_empty(),
        "delivered writes nobody saw acknowledged: {unexpected:?}"
    );
}
