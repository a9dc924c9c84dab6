//! The change feed under concurrent writers on several knowledge replicas sharing one database
//! (SPEC §4: "no event lost or reordered even with concurrent writers on several replicas").
//!
//! Two independent knowledge servers (`pake serve knowledge` twice, one identity server) share a
//! PostgreSQL database, and — in a second test — one SQLite file. Eight writers, spread over
//! both replicas, create, update, delete and undelete their items with random pauses. A consumer
//! watching as an admin from before the first write, and consumers resumed from every seventh
//! cursor it receives (on alternating replicas, while the writes go on), must each receive
//! exactly the committed writes after their start: every write's `feed_cursor` once, with the
//! write's event type, in strictly increasing, gap-free positions, and after the last write only
//! heartbeats. Every wait is bounded; nothing is timed.

use std::collections::BTreeMap;
use std::time::Duration;

use pake_api::knowledge::item_event::Type;
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::knowledge::{
    CreateItemRequest, DeleteItemRequest, Item, ItemEvent, UndeleteItemRequest, UpdateItemRequest,
};
use pake_core::config::{SecretString, ServiceRole};
use pake_testkit::feed::{
    event_type, is_change, jitter, next_event, position, random_below, read_more, read_through,
};
use pake_testkit::{SignedIn, TestApp, authorized, sign_in_admin, sign_up_and_in, spawn_app_with};
use tokio::sync::{mpsc, watch};
use tonic::codec::Streaming;
use tonic::transport::Channel;

const REPLICAS: usize = 2;
const WRITERS: usize = 8;
const WRITES_PER_WRITER: usize = 25;
const MAX_PAUSE: Duration = Duration::from_millis(20);
/// A consumer is resumed after every `RESUME_EVERY`-th cursor the first consumer receives.
const RESUME_EVERY: usize = 7;
const HEARTBEAT: Duration = Duration::from_millis(200);
/// Heartbeats read after the last write, in which no change event may appear.
const TRAILING_HEARTBEATS: usize = 3;
/// Bound of every wait (generous: a slow CI machine must not fail the test).
const PATIENCE: Duration = Duration::from_secs(120);

/// What a writer's write produced: its feed cursor and the event type it must appear as.
type Writes = BTreeMap<String, Type>;

struct Cluster {
    identity: TestApp,
    replicas: Vec<TestApp>,
}

async fn start_cluster(database_url: &str) -> Cluster {
    let identity = spawn_app_with(ServiceRole::Identity, |_| {}).await;
    let mut replicas = Vec::new();
    for _ in 0..REPLICAS {
        let (identity_url, database_url) = (identity.url.clone(), database_url.to_owned());
        replicas.push(
            spawn_app_with(ServiceRole::Knowledge, move |config| {
                config.upstream.identity = Some(identity_url);
                config.database_url = Some(SecretString::new(database_url));
            })
            .await,
        );
    }
    Cluster { identity, replicas }
}

impl Cluster {
    async fn stop(self) {
        for replica in self.replicas {
            replica.stop().await;
        }
        self.identity.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_on_one_postgres_database_feed_every_write_once_in_order() {
    let Some(database) = pake_testkit::postgres_database().await else {
        return;
    };
    let url = pake_testkit::feed::postgres_url(&database).await;
    run(&url).await;
    drop(database);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_on_one_sqlite_file_feed_every_write_once_in_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("shared.db").display());
    run(&url).await;
}

async fn run(database_url: &str) {
    let cluster = start_cluster(database_url).await;
    let admin = sign_in_admin(&cluster.identity, "feedadmin").await;
    let mut writers = Vec::new();
    for _ in 0..WRITERS {
        writers.push(sign_up_and_in(&cluster.identity, "writer").await);
    }
    let mut channels = Vec::new();
    for replica in &cluster.replicas {
        channels.push(replica.channel().await);
    }

    // The first consumer starts at the head before any write: its first event is a heartbeat
    // carrying the head cursor.
    let mut first_stream = watch_after(&channels[0], &admin.access_token, "").await;
    let start = next_event(&mut first_stream, PATIENCE)
        .await
        .expect("first event")
        .expect("stream open");
    assert_eq!(event_type(&start), Type::Heartbeat, "{start:?}");
    let (final_tx, final_rx) = watch::channel(None::<String>);
    let (cursor_tx, cursor_rx) = mpsc::unbounded_channel();
    let first = tokio::spawn(consume(first_stream, final_rx.clone(), Some(cursor_tx)));
    let resumed = tokio::spawn(resume_consumers(
        channels.clone(),
        admin.access_token.clone(),
        cursor_rx,
        final_rx,
    ));

    let mut writer_tasks = Vec::new();
    for (index, user) in writers.into_iter().enumerate() {
        let channel = channels[index % REPLICAS].clone();
        writer_tasks.push(tokio::spawn(write_randomly(index, user, channel)));
    }
    let mut writes = Writes::new();
    let mut write_count = 0;
    for task in writer_tasks {
        let own = bounded(task).await.expect("writer task").expect("writer");
        write_count += own.len();
        writes.extend(own);
    }
    assert_eq!(
        writes.len(),
        write_count,
        "two writes returned the same cursor"
    );
    let last = writes.keys().next_back().expect("writes").clone();
    final_tx.send(Some(last)).expect("consumers listening");

    let mut problems = Vec::new();
    let first_events = bounded(first).await.expect("first consumer task");
    check_stream(
        &format!("consumer from {}", start.cursor),
        &start.cursor,
        first_events,
        &writes,
        &mut problems,
    );
    let resumed = bounded(resumed).await.expect("resumed consumers");
    assert!(
        resumed.len() >= write_count / RESUME_EVERY,
        "only {} resumed consumers",
        resumed.len()
    );
    let during_writes = resumed.iter().filter(|r| r.during_writes).count();
    eprintln!(
        "{write_count} writes; {} resumed consumers, {during_writes} of them connected while the \
         writers were still writing",
        resumed.len()
    );
    for consumer in resumed {
        let (from, replica) = (&consumer.from, consumer.replica);
        let label = format!("consumer resumed after {from} on replica {replica}");
        check_stream(&label, from, consumer.events, &writes, &mut problems);
    }
    cluster.stop().await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

async fn bounded<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE * 2, future)
        .await
        .expect("finished within the test's patience")
}

async fn watch_after(channel: &Channel, token: &str, cursor: &str) -> Streaming<ItemEvent> {
    let token = Some(token.to_owned());
    let stream = pake_testkit::feed::watch(channel.clone(), &token, cursor, false, HEARTBEAT);
    stream.await.expect("watch")
}

/// Reads `stream` until the last write is known and a heartbeat at or past it arrived, then
/// `TRAILING_HEARTBEATS` more events; forwards every change cursor to `forward`.
async fn consume(
    mut stream: Streaming<ItemEvent>,
    mut last_write: watch::Receiver<Option<String>>,
    forward: Option<mpsc::UnboundedSender<String>>,
) -> Result<Vec<ItemEvent>, String> {
    let mut events = Vec::new();
    loop {
        let last = last_write.borrow_and_update().clone();
        if let Some(last) = last {
            let rest = read_through(&mut stream, &last, PATIENCE).await?;
            // A consumer that lags behind the writers still hands on every cursor, so the
            // number of resumed consumers does not depend on how far behind it was.
            if let Some(forward) = &forward {
                for event in rest.iter().filter(|event| is_change(event)) {
                    let _ = forward.send(event.cursor.clone());
                }
            }
            events.extend(rest);
            events.extend(read_more(&mut stream, TRAILING_HEARTBEATS, PATIENCE).await?);
            return Ok(events);
        }
        let event = tokio::select! {
            event = next_event(&mut stream, PATIENCE) => {
                event?.ok_or_else(|| "stream ended".to_owned())?
            }
            _ = last_write.changed() => continue,
        };
        if let Some(forward) = &forward
            && is_change(&event)
        {
            let _ = forward.send(event.cursor.clone());
        }
        events.push(event);
    }
}

/// A consumer resumed after a cursor of the first one.
struct Resumed {
    from: String,
    replica: usize,
    /// Whether it connected before the writers had finished.
    during_writes: bool,
    events: Result<Vec<ItemEvent>, String>,
}

/// Starts a consumer after every `RESUME_EVERY`-th cursor received on `cursors`, on alternating
/// replicas; returns each one's start cursor, replica and events.
async fn resume_consumers(
    channels: Vec<Channel>,
    token: String,
    mut cursors: mpsc::UnboundedReceiver<String>,
    last_write: watch::Receiver<Option<String>>,
) -> Vec<Resumed> {
    let mut consumers = Vec::new();
    let mut received = 0;
    while let Some(cursor) = cursors.recv().await {
        received += 1;
        if received % RESUME_EVERY != 0 {
            continue;
        }
        let replica = consumers.len() % channels.len();
        let stream = watch_after(&channels[replica], &token, &cursor).await;
        let during_writes = last_write.borrow().is_none();
        let task = tokio::spawn(consume(stream, last_write.clone(), None));
        consumers.push((cursor, replica, during_writes, task));
    }
    let mut results = Vec::new();
    for (from, replica, during_writes, task) in consumers {
        let events = task.await.expect("consumer task");
        results.push(Resumed {
            from,
            replica,
            during_writes,
            events,
        });
    }
    results
}

/// One writer: `WRITES_PER_WRITER` random writes to its own items, pausing 0–20 ms before each.
async fn write_randomly(writer: usize, user: SignedIn, channel: Channel) -> Result<Writes, String> {
    let mut client = KnowledgeServiceClient::new(channel);
    let token = user.access_token.as_str();
    let (mut live, mut deleted): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    let mut writes = Writes::new();
    for step in 0..WRITES_PER_WRITER {
        tokio::time::sleep(jitter(MAX_PAUSE)).await;
        let choice = if live.is_empty() { 0 } else { random_below(10) };
        let content = format!("writer {writer}, step {step}");
        let (item, kind) = match choice {
            0..=2 => {
                let request = CreateItemRequest {
                    item: Some(Item {
                        title: format!("Writer {writer} item {step}"),
                        content,
                        ..Item::default()
                    }),
                    ..CreateItemRequest::default()
                };
                let item = client.create_item(authorized(token, request)).await;
                let item = item.map_err(|s| format!("create: {s:?}"))?.into_inner();
                live.push(item.name.clone());
                (item, Type::Created)
            }
            9 if !deleted.is_empty() => {
                let name = deleted.swap_remove(random_below(deleted.len()));
                let request = UndeleteItemRequest {
                    name: name.clone(),
                    ..UndeleteItemRequest::default()
                };
                let item = client.undelete_item(authorized(token, request)).await;
                live.push(name);
                (
                    item.map_err(|s| format!("undelete: {s:?}"))?.into_inner(),
                    Type::Undeleted,
                )
            }
            7 | 8 => {
                let name = live.swap_remove(random_below(live.len()));
                let request = DeleteItemRequest {
                    name: name.clone(),
                    ..DeleteItemRequest::default()
                };
                let item = client.delete_item(authorized(token, request)).await;
                deleted.push(name);
                (
                    item.map_err(|s| format!("delete: {s:?}"))?.into_inner(),
                    Type::Deleted,
                )
            }
            _ => {
                let name = live[random_below(live.len())].clone();
                let request = UpdateItemRequest {
                    item: Some(Item {
                        name,
                        content,
                        ..Item::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["content".to_owned()],
                    }),
                };
                let item = client.update_item(authorized(token, request)).await;
                (
                    item.map_err(|s| format!("update: {s:?}"))?.into_inner(),
                    Type::Updated,
                )
            }
        };
        if position(&item.feed_cursor).is_none() {
            return Err(format!("{kind:?} returned cursor {:?}", item.feed_cursor));
        }
        if writes.insert(item.feed_cursor.clone(), kind).is_some() {
            return Err(format!(
                "{kind:?} returned a repeated cursor {}",
                item.feed_cursor
            ));
        }
    }
    Ok(writes)
}

/// Checks what one consumer that started after `from` received against the writes.
fn check_stream(
    label: &str,
    from: &str,
    events: Result<Vec<ItemEvent>, String>,
    writes: &Writes,
    problems: &mut Vec<String>,
) {
    let events = match events {
        Ok(events) => events,
        Err(error) => return problems.push(format!("{label}: {error}")),
    };
    let mut problem = |text: String| problems.push(format!("{label}: {text}"));
    let wanted: Vec<&str> = writes
        .keys()
        .map(String::as_str)
        .filter(|cursor| *cursor > from)
        .collect();
    let changes: Vec<&ItemEvent> = events.iter().filter(|e| is_change(e)).collect();
    let received: Vec<&str> = changes.iter().map(|e| e.cursor.as_str()).collect();
    if received != wanted {
        let missing: Vec<_> = wanted.iter().filter(|c| !received.contains(c)).collect();
        let extra: Vec<_> = received.iter().filter(|c| !wanted.contains(c)).collect();
        problem(format!(
            "received {} change events, expected {}; missing {missing:?}; unexpected {extra:?}; \
             received in order: {received:?}",
            received.len(),
            wanted.len()
        ));
    }
    let mut previous = position(from).unwrap_or(-1);
    for event in &changes {
        let at = position(&event.cursor).unwrap_or(-1);
        if at != previous + 1 {
            problem(format!(
                "position {at} follows {previous}: not strictly increasing without gaps"
            ));
        }
        previous = at;
        if let Some(kind) = writes.get(&event.cursor)
            && *kind != event_type(event)
        {
            problem(format!(
                "{} arrived as {:?}, the write was {kind:?}",
                event.cursor,
                event_type(event)
            ));
        }
        let item_cursor = event.item.as_ref().map(|item| item.feed_cursor.as_str());
        if item_cursor != Some(event.cursor.as_str()) {
            problem(format!(
                "event {} carries item.feed_cursor {item_cursor:?}",
                event.cursor
            ));
        }
    }
    // A heartbeat's cursor covers every write up to it: those were delivered before it, and
    // every change after it is later.
    for (index, event) in events.iter().enumerate() {
        if event_type(event) != Type::Heartbeat {
            continue;
        }
        let at = event.cursor.as_str();
        let delivered_before: Vec<&str> = events[..index]
            .iter()
            .filter(|e| is_change(e))
            .map(|e| e.cursor.as_str())
            .collect();
        let late: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|w| *w <= at && !delivered_before.contains(w))
            .collect();
        if !late.is_empty() {
            problem(format!(
                "heartbeat {at} passes events not delivered before it: {late:?}"
            ));
        }
    }
    let last_write = wanted.last().copied().unwrap_or(from);
    let trailing: Vec<&ItemEvent> = events
        .iter()
        .filter(|e| event_type(e) != Type::Heartbeat && e.cursor.as_str() > last_write)
        .collect();
    if !trailing.is_empty() {
        problem(format!("events after the last write: {trailing:?}"));
    }
}
