//! Change-feed helpers for end-to-end tests: reading `WatchItems` streams within a bound, feed
//! positions from cursors, randomness for concurrent writers and unguessable ids, and the URL of
//! a fresh PostgreSQL database (to run several servers on one database).

use std::time::Duration;

use pake_api::knowledge::item_event::Type;
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::knowledge::{ItemEvent, WatchItemsRequest};
use pake_runtime::db::Database;
use rand::Rng;
use tonic::Status;
use tonic::codec::Streaming;
use tonic::transport::Channel;

use crate::TestDatabase;
use crate::prerequisites::DATABASE_URL_ENV;

/// Opens `WatchItems` after `after_cursor` (empty: at the head, starting with a heartbeat), or
/// from a snapshot, as `token` (or anonymously), with heartbeats every `heartbeat`.
pub async fn watch(
    channel: Channel,
    token: &Option<String>,
    after_cursor: &str,
    snapshot: bool,
    heartbeat: Duration,
) -> Result<Streaming<ItemEvent>, Status> {
    let mut request = WatchItemsRequest {
        after_cursor: after_cursor.to_owned(),
        snapshot,
        heartbeat_interval: Some(Default::default()),
    };
    if let Some(interval) = &mut request.heartbeat_interval {
        interval.seconds = i64::try_from(heartbeat.as_secs()).unwrap_or(i64::MAX);
        interval.nanos = i32::try_from(heartbeat.subsec_nanos()).unwrap_or(0);
    }
    let response = KnowledgeServiceClient::new(channel)
        .watch_items(crate::leak::request(token, request))
        .await?;
    Ok(response.into_inner())
}

/// The feed's current head as `token` sees it: the cursor of the heartbeat a stream opened at
/// the head starts with.
pub async fn head_cursor(channel: Channel, token: &Option<String>) -> Result<String, String> {
    let mut stream = watch(channel, token, "", false, Duration::from_secs(1))
        .await
        .map_err(|status| format!("watch at the head: {status:?}"))?;
    let first = next_event(&mut stream, Duration::from_secs(60)).await?;
    match first {
        Some(event) if event_type(&event) == Type::Heartbeat => Ok(event.cursor),
        other => Err(format!("a stream at the head began with {other:?}")),
    }
}

/// Reads a snapshot stream up to SNAPSHOT_END and returns the SNAPSHOT events' items (with any
/// other event before the end described in place).
pub async fn read_snapshot(
    stream: &mut Streaming<ItemEvent>,
    within: Duration,
) -> Result<Vec<String>, String> {
    let mut items = Vec::new();
    loop {
        let event = next_event(stream, within)
            .await?
            .ok_or_else(|| "the stream ended before SNAPSHOT_END".to_owned())?;
        match event_type(&event) {
            Type::Snapshot => items.push(format!("{:?}", event.item)),
            Type::SnapshotEnd => return Ok(items),
            other => items.push(format!("unexpected {other:?}: {event:?}")),
        }
    }
}

/// The feed position a cursor encodes (16 lower-case hex digits), or `None` for anything else.
pub fn position(cursor: &str) -> Option<i64> {
    let well_formed = cursor.len() == 16
        && cursor
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    well_formed
        .then(|| i64::from_str_radix(cursor, 16).ok())
        .flatten()
}

/// The event's type, `TYPE_UNSPECIFIED` for an unknown value.
pub fn event_type(event: &ItemEvent) -> Type {
    Type::try_from(event.r#type).unwrap_or(Type::Unspecified)
}

/// Whether `event` reports a write (CREATED, UPDATED, DELETED, UNDELETED, PURGED), not a
/// heartbeat or a snapshot.
pub fn is_change(event: &ItemEvent) -> bool {
    matches!(
        event_type(event),
        Type::Created | Type::Updated | Type::Deleted | Type::Undeleted | Type::Purged
    )
}

/// The next message of `stream`: `Ok(None)` when it ended cleanly; an error describing a stream
/// error or `within` passing without a message.
pub async fn next_event(
    stream: &mut Streaming<ItemEvent>,
    within: Duration,
) -> Result<Option<ItemEvent>, String> {
    match tokio::time::timeout(within, stream.message()).await {
        Ok(Ok(event)) => Ok(event),
        Ok(Err(status)) => Err(format!("stream failed: {status:?}")),
        Err(_) => Err(format!("no event within {within:?}")),
    }
}

/// Reads `stream` until a HEARTBEAT whose cursor is at least `cursor` (so every event up to
/// `cursor` has been offered to this reader) and returns every event read, that heartbeat
/// included. Fails on a stream error, an end of stream, or when `within` passes first.
pub async fn read_through(
    stream: &mut Streaming<ItemEvent>,
    cursor: &str,
    within: Duration,
) -> Result<Vec<ItemEvent>, String> {
    let deadline = tokio::time::Instant::now() + within;
    let mut events = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let event = next_event(stream, left)
            .await
            .map_err(|error| format!("{error} (waiting for cursor {cursor}, read {events:?})"))?
            .ok_or_else(|| format!("stream ended before cursor {cursor}"))?;
        let done = event_type(&event) == Type::Heartbeat && event.cursor.as_str() >= cursor;
        events.push(event);
        if done {
            return Ok(events);
        }
    }
}

/// Reads exactly `count` more events (each within `within`).
pub async fn read_more(
    stream: &mut Streaming<ItemEvent>,
    count: usize,
    within: Duration,
) -> Result<Vec<ItemEvent>, String> {
    let mut events = Vec::with_capacity(count);
    for _ in 0..count {
        let event = next_event(stream, within)
            .await?
            .ok_or_else(|| "stream ended".to_owned())?;
        events.push(event);
    }
    Ok(events)
}

/// A random duration from zero to `max` inclusive.
pub fn jitter(max: Duration) -> Duration {
    let micros = u64::try_from(max.as_micros()).unwrap_or(u64::MAX);
    Duration::from_micros(rand::thread_rng().gen_range(0..=micros))
}

/// A random number below `bound` (which must be positive).
pub fn random_below(bound: usize) -> usize {
    rand::thread_rng().gen_range(0..bound)
}

/// An unguessable id in the layout of a lower-case UUID v4 (a valid item id).
pub fn random_item_id() -> String {
    let bits: u128 = rand::random();
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

/// The URL of `database`, a PostgreSQL database from [`crate::postgres_database`]: the server
/// URL in `PAKE_TEST_DATABASE_URL` with `dbname` naming it. Servers started with it as their
/// `database_url` share the database (it is still dropped with `database`).
pub async fn postgres_url(database: &TestDatabase) -> String {
    let Database::Postgres(pool) = &database.database else {
        panic!("postgres_url needs a PostgreSQL test database");
    };
    let name: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(pool)
        .await
        .expect("name of the test database");
    let server = std::env::var(DATABASE_URL_ENV).expect("PAKE_TEST_DATABASE_URL");
    let separator = if server.contains('?') { '&' } else { '?' };
    format!("{server}{separator}dbname={name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_parse_only_well_formed_cursors() {
        assert_eq!(position("000000000000002a"), Some(42));
        assert_eq!(position("000000000000002A"), None);
        assert_eq!(position("2a"), None);
    }

    #[test]
    fn random_ids_are_valid_item_ids() {
        let id = random_item_id();
        assert_eq!(id.len(), 36);
        assert!(
            id.bytes()
                .all(|b| b == b'-' || b.is_ascii_digit() || b.is_ascii_lowercase())
        );
        assert_ne!(id, random_item_id());
    }
}
