//! `WatchItems`: the change feed as a server stream.
//!
//! Start after a cursor, from a consistent snapshot, or at the head; then events in feed order,
//! HEARTBEATs carrying the head cursor while idle. Readers wake on in-process commits and poll the
//! database at least every `POLL_INTERVAL` (writes by other replicas). The stream ends with
//! UNAVAILABLE on shutdown so clients resume from their cursor.

use std::pin::Pin;
use std::time::Duration;

use pake_api::knowledge::item_event::Type;
use pake_api::knowledge::{ItemEvent, WatchItemsRequest};
use pake_core::Error;
use pake_core::auth::{Caller, Principal};
use pake_runtime::Shutdown;
use pake_runtime::db::timestamp;
use tokio::sync::mpsc;
use tonic::Status;

use crate::feed::{decode_cursor, encode_cursor};
use crate::model::can_read;
use crate::present::Links;
use crate::service::KnowledgeService;

const BATCH: i64 = 500;
const POLL_INTERVAL: Duration = Duration::from_millis(500);
const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(10);
const MIN_HEARTBEAT: Duration = Duration::from_millis(100);

type EventStream = Pin<Box<dyn tokio_stream::Stream<Item = Result<ItemEvent, Status>> + Send>>;

/// Validates the request and starts the stream's producer task.
pub(crate) async fn start(
    service: KnowledgeService,
    principal: Principal,
    request: WatchItemsRequest,
) -> Result<EventStream, Error> {
    if !request.after_cursor.is_empty() && request.snapshot {
        return Err(Error::invalid_field(
            "snapshot",
            "cannot be combined with after_cursor",
        ));
    }
    if request.after_cursor.len() > 64 {
        return Err(Error::invalid_field(
            "after_cursor",
            "must be at most 64 bytes",
        ));
    }
    let heartbeat = match request.heartbeat_interval {
        None => DEFAULT_HEARTBEAT,
        Some(duration) if duration.seconds < 0 || duration.nanos < 0 => {
            return Err(Error::invalid_field(
                "heartbeat_interval",
                "must not be negative",
            ));
        }
        Some(duration) => Duration::new(duration.seconds as u64, duration.nanos as u32)
            .clamp(MIN_HEARTBEAT, Duration::from_secs(300)),
    };
    let start_after = if request.after_cursor.is_empty() {
        None
    } else {
        Some(decode_cursor(&request.after_cursor, "after_cursor")?)
    };
    if let Some(position) = start_after {
        let head = service.store.head().await?;
        if position > head {
            return Err(Error::invalid_field(
                "after_cursor",
                "is ahead of this feed (was it issued by another deployment?)",
            ));
        }
        if position < service.store.pruned_through().await? {
            return Err(cursor_expired());
        }
    }
    let (sender, receiver) = mpsc::channel(256);
    let shutdown = service.shutdown.clone();
    tokio::spawn(async move {
        let caller = Caller::Authenticated(principal);
        let producer = produce(
            &service,
            &caller,
            request.snapshot,
            start_after,
            heartbeat,
            &sender,
        );
        let result = tokio::select! {
            result = producer => result,
            () = shutdown.cancelled() => Err(Shutdown::stream_status()),
            () = sender.closed() => Ok(()),
        };
        if let Err(status) = result {
            let _ = sender.send(Err(status)).await;
        }
    });
    Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(
        receiver,
    )))
}

async fn produce(
    service: &KnowledgeService,
    caller: &Caller,
    snapshot: bool,
    start_after: Option<i64>,
    heartbeat: Duration,
    sender: &mpsc::Sender<Result<ItemEvent, Status>>,
) -> Result<(), Status> {
    let mut position = match start_after {
        Some(position) => position,
        None if snapshot => {
            let (mut items, head) = service.store.snapshot().await.map_err(Error::from)?;
            items.retain(|item| can_read(caller, &item.owner, item.visibility()));
            for chunk in items.chunks_mut(BATCH as usize) {
                service.present(caller, chunk, Links::ExplicitOnly).await?;
                for item in chunk.iter_mut() {
                    let item = std::mem::take(item);
                    send(
                        sender,
                        event(Type::Snapshot, String::new(), Some(item), None),
                    )
                    .await?;
                }
            }
            send(
                sender,
                event(Type::SnapshotEnd, encode_cursor(head), None, None),
            )
            .await?;
            head
        }
        None => {
            let head = service.store.head().await.map_err(Error::from)?;
            send(
                sender,
                event(Type::Heartbeat, encode_cursor(head), None, None),
            )
            .await?;
            head
        }
    };
    let mut wake = service.feed.subscribe();
    let mut last_sent = tokio::time::Instant::now();
    loop {
        let events = service
            .store
            .events_after(position, BATCH)
            .await
            .map_err(Error::from)?;
        let full_batch = events.len() as i64 == BATCH;
        // The events this caller receives, redacted, with their items' links filtered.
        // Events after `position` may have been pruned meanwhile: read the horizon after the
        // events, so a prune between the two reads is still seen.
        let horizon = service.store.pruned_through().await.map_err(Error::from)?;
        if position < horizon {
            return Err(cursor_expired().into());
        }
        let mut outgoing: Vec<(Type, i64, i64, pake_api::knowledge::Item)> = Vec::new();
        for feed_event in events {
            position = feed_event.position;
            let time = feed_event.event_time;
            if let Some((kind, item)) = crate::feed_view::view(caller, feed_event) {
                outgoing.push((kind, position, time, item));
            }
        }
        let mut items: Vec<_> = outgoing
            .iter_mut()
            .map(|(_, _, _, item)| std::mem::take(item))
            .collect();
        service
            .present(caller, &mut items, Links::ExplicitOnly)
            .await?;
        for ((kind, at, time, _), item) in outgoing.into_iter().zip(items) {
            let mut change = event(kind, encode_cursor(at), Some(item), Some(time));
            change.traceparent = service.feed.traceparent(at);
            send(sender, change).await?;
            last_sent = tokio::time::Instant::now();
        }
        if full_batch {
            continue;
        }
        let until_heartbeat = heartbeat.saturating_sub(last_sent.elapsed());
        if until_heartbeat.is_zero() {
            send(
                sender,
                event(Type::Heartbeat, encode_cursor(position), None, None),
            )
            .await?;
            last_sent = tokio::time::Instant::now();
            continue;
        }
        let _ = tokio::time::timeout(until_heartbeat.min(POLL_INTERVAL), wake.changed()).await;
    }
}

/// A resume point older than the feed's retention.
fn cursor_expired() -> Error {
    Error::new(
        pake_core::ErrorKind::FailedPrecondition,
        "after_cursor: older than the change feed's retention; restart with snapshot",
    )
    .with_reason("CURSOR_EXPIRED")
}

fn event(
    kind: Type,
    cursor: String,
    item: Option<pake_api::knowledge::Item>,
    time: Option<i64>,
) -> ItemEvent {
    ItemEvent {
        cursor,
        r#type: kind as i32,
        item,
        event_time: Some(timestamp(time.unwrap_or_else(pake_runtime::db::now_micros))),
        traceparent: String::new(),
    }
}

async fn send(
    sender: &mpsc::Sender<Result<ItemEvent, Status>>,
    event: ItemEvent,
) -> Result<(), Status> {
    sender
        .send(Ok(event))
        .await
        .map_err(|_| Status::cancelled("the client went away"))
}
