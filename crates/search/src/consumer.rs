//! Keeps the index current from the knowledge change feed (`WatchItems` over gRPC, as a service
//! account) — the same code path in the all-in-one and in the mesh.
//!
//! On start it resumes after the cursor committed with the index, or rebuilds from a SNAPSHOT
//! when the index is empty (or its cursor has expired). A task receives the feed into a buffer
//! while the consumer applies it, so a commit being written never stalls the stream. Changes are
//! committed in batches together with the cursor they reach: `COMMIT_INTERVAL` after the first
//! change of a batch, or later when the last commit took longer than that (see
//! [`Batch::commit_at`]). Heartbeats advance the applied cursor when nothing is pending. Lost
//! connections are retried with backoff.

use std::sync::Arc;
use std::time::Duration;

use pake_api::knowledge::item_event::Type;
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::knowledge::{Item, ItemEvent, WatchItemsRequest};
use pake_core::token::ServiceTokenSource;
use pake_runtime::Shutdown;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until};
use tonic::transport::Channel;

use crate::index::{IndexedItem, SearchIndex, Visibility};
use crate::progress::Progress;

#[path = "consumer_batch.rs"]
mod batch;
use batch::{Batch, commit_metrics};

/// Events received ahead of indexing (the feed keeps flowing during a commit).
const RECEIVE_BUFFER: usize = 4096;
/// A commit slower than this is logged as a warning.
const SLOW_COMMIT: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// An item should be searchable within this long of its write (SPEC §5).
const FRESHNESS_TARGET: Duration = Duration::from_secs(1);

/// Options → Service → Handle: configure, then [`FeedConsumer::spawn`].
#[derive(Debug)]
pub struct FeedConsumer {
    index: SearchIndex,
    channel: Channel,
    tokens: Arc<dyn ServiceTokenSource>,
    applied: watch::Sender<String>,
    progress: Progress,
    shutdown: Shutdown,
    /// Held by a commit's blocking task until it has finished with the index, so that shutdown
    /// can wait for a commit the cancelled feed loop left running (and the index writer is free
    /// once the consumer has returned).
    commit_in_flight: Arc<tokio::sync::Mutex<()>>,
}

impl FeedConsumer {
    /// A consumer of the feed at `knowledge_url` into `index`, publishing the applied cursor.
    pub fn new(
        index: SearchIndex,
        knowledge_url: &str,
        tokens: Arc<dyn ServiceTokenSource>,
        applied: watch::Sender<String>,
        progress: Progress,
        shutdown: Shutdown,
    ) -> Result<Self, tonic::transport::Error> {
        // `https://`: the process's client TLS (pake_runtime::tls).
        let channel = pake_runtime::tls::client_endpoint(knowledge_url)?
            .connect_timeout(Duration::from_secs(5))
            .http2_keep_alive_interval(Duration::from_secs(30))
            .connect_lazy();
        Ok(FeedConsumer {
            index,
            channel,
            tokens,
            applied,
            progress,
            shutdown,
            commit_in_flight: Arc::default(),
        })
    }

    /// Runs until shutdown.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move { self.run().await })
    }

    async fn run(self) {
        let mut backoff = Duration::from_millis(100);
        let mut force_snapshot = false;
        loop {
            let outcome = tokio::select! {
                outcome = self.follow(force_snapshot) => outcome,
                () = self.shutdown.cancelled() => {
                    // Dropping `follow` does not stop a commit already handed to the blocking
                    // pool; wait for it, so nothing writes to the index after we return.
                    let _finished = self.commit_in_flight.lock().await;
                    return;
                }
            };
            match outcome {
                Ok(()) => backoff = Duration::from_millis(100),
                Err(FollowError::Rebuild(reason)) => {
                    tracing::warn!(%reason, "rebuilding the search index from a feed snapshot");
                    force_snapshot = true;
                    continue;
                }
                Err(FollowError::Retry(status)) => {
                    self.progress.feed_connected(false);
                    tracing::warn!(code = ?status.code(), message = status.message(), ?backoff, "change feed interrupted; retrying");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = self.shutdown.cancelled() => return,
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// One feed connection, until it fails.
    async fn follow(&self, force_snapshot: bool) -> Result<(), FollowError> {
        let committed = self.index.applied_cursor().unwrap_or_default();
        let rebuilding = force_snapshot || committed.is_empty();
        let applied = if rebuilding { String::new() } else { committed };
        // The feed connection's own trace: the service-token exchange and knowledge's
        // WatchItems span are its children.
        let connect = tracing::info_span!(
            "search.feed.connect",
            otel.kind = "client",
            snapshot = rebuilding
        );
        let token = tracing::Instrument::instrument(self.tokens.token(), connect.clone())
            .await
            .map_err(|e| FollowError::Retry(e.into()))?;
        let mut request = tonic::Request::new(WatchItemsRequest {
            after_cursor: applied.clone(),
            snapshot: rebuilding,
            heartbeat_interval: Some(prost_types::Duration {
                seconds: 1,
                nanos: 0,
            }),
        });
        let header = format!("Bearer {token}").parse().map_err(|_| {
            FollowError::Retry(tonic::Status::internal("service token is not ASCII"))
        })?;
        request.metadata_mut().insert("authorization", header);
        let mut client = KnowledgeServiceClient::new(self.channel.clone())
            .max_decoding_message_size(8 * 1024 * 1024);
        let opened = {
            let _entered = connect.enter();
            pake_core::telemetry::inject_metadata(request.metadata_mut());
            client.watch_items(request)
        };
        let stream = match tracing::Instrument::instrument(opened, connect).await {
            Ok(response) => response.into_inner(),
            Err(status) => return Err(classify(status, rebuilding)),
        };
        // Rebuilding first: health must not flick to SERVING between the two.
        if rebuilding {
            self.progress.rebuilding();
            self.index.clear().map_err(index_error)?;
        }
        self.progress.feed_connected(true);
        self.applied.send_replace(applied);
        // Receiving runs beside indexing, so the feed keeps flowing while a commit is written.
        let (events, mut received) = mpsc::channel(RECEIVE_BUFFER);
        let _receiver = AbortOnDrop(tokio::spawn(receive(stream, events)));
        let mut batch = Batch::default();
        let mut in_snapshot = rebuilding;
        loop {
            let commit_at = if in_snapshot { None } else { batch.commit_at() };
            tokio::select! {
                message = received.recv() => {
                    let event = match message {
                        Some(Ok(event)) => event,
                        Some(Err(status)) => {
                            if !in_snapshot && let Some(cursor) = batch.take() {
                                self.commit(cursor, &mut batch).await?;
                            }
                            return Err(classify(status, false));
                        }
                        None => {
                            return Err(FollowError::Retry(tonic::Status::internal(
                                "change feed receiver stopped",
                            )));
                        }
                    };
                    self.apply(event, &mut batch, &mut in_snapshot).await?;
                }
                () = sleep_until(commit_at.unwrap_or_else(Instant::now)), if commit_at.is_some() => {
                    if let Some(cursor) = batch.take() {
                        self.commit(cursor, &mut batch).await?;
                    }
                }
            }
        }
    }

    async fn apply(
        &self,
        event: ItemEvent,
        batch: &mut Batch,
        in_snapshot: &mut bool,
    ) -> Result<(), FollowError> {
        let kind = Type::try_from(event.r#type).unwrap_or(Type::Unspecified);
        if !matches!(
            kind,
            Type::Heartbeat | Type::SnapshotEnd | Type::Unspecified
        ) {
            let written = event
                .event_time
                .and_then(|t| std::time::SystemTime::try_from(t).ok());
            self.progress.received(written);
        }
        let span = apply_span(kind, &event);
        match kind {
            Type::Snapshot | Type::Created | Type::Updated | Type::Undeleted => {
                if let Some(item) = event.item {
                    if item.delete_time.is_some() {
                        span.in_scope(|| self.index.delete(&item.name))
                            .map_err(index_error)?;
                    } else {
                        span.in_scope(|| self.index.upsert(to_indexed(item)))
                            .map_err(index_error)?;
                    }
                }
            }
            Type::Deleted | Type::Purged => {
                if let Some(item) = event.item {
                    span.in_scope(|| self.index.delete(&item.name))
                        .map_err(index_error)?;
                }
            }
            Type::SnapshotEnd => {
                *in_snapshot = false;
                // The snapshot's own changes are committed with the cursor it ends at.
                batch.take();
                self.commit(event.cursor, batch).await?;
                return Ok(());
            }
            Type::Heartbeat => {
                if batch.is_empty() && !*in_snapshot {
                    if event.cursor > *self.applied.borrow() {
                        // Nothing pending: everything up to the head is in the index already.
                        self.applied.send_replace(event.cursor);
                    }
                    self.progress.caught_up();
                }
                return Ok(());
            }
            Type::Unspecified => return Ok(()),
        }
        batch.add(event.cursor);
        Ok(())
    }

    /// Commits the index at `cursor` and publishes it; `batch` learns what the commit cost.
    async fn commit(&self, cursor: String, batch: &mut Batch) -> Result<(), FollowError> {
        let index = self.index.clone();
        let committed = cursor.clone();
        let started = Instant::now();
        let in_flight = Arc::clone(&self.commit_in_flight).lock_owned().await;
        tokio::task::spawn_blocking(move || {
            let result = index.commit(&committed);
            drop(index);
            drop(in_flight);
            result
        })
        .await
        .map_err(|e| FollowError::Retry(tonic::Status::internal(e.to_string())))?
        .map_err(index_error)?;
        let cost = started.elapsed();
        batch.committed(cost);
        commit_metrics().record(cost, batch.events_committed);
        // Behind when what was just committed had waited longer than the freshness target.
        let waited = self
            .progress
            .snapshot()
            .oldest_pending
            .and_then(|oldest| oldest.elapsed().ok());
        let behind = waited.is_some_and(|waited| waited > FRESHNESS_TARGET);
        if cost > SLOW_COMMIT {
            tracing::warn!(
                events = batch.events_committed,
                commit_ms = cost.as_millis(),
                waited_ms = waited.map(|w| w.as_millis()),
                "slow search index commit"
            );
        } else {
            tracing::debug!(
                events = batch.events_committed,
                commit_ms = cost.as_millis(),
                waited_ms = waited.map(|w| w.as_millis()),
                "search index committed"
            );
        }
        self.progress.committed(behind);
        self.applied.send_replace(cursor);
        Ok(())
    }
}

/// Reads the feed into `events` until it ends, fails or nobody listens.
async fn receive(
    mut stream: tonic::Streaming<ItemEvent>,
    events: mpsc::Sender<Result<ItemEvent, tonic::Status>>,
) {
    loop {
        let next = match stream.message().await {
            Ok(Some(event)) => Ok(event),
            Ok(None) => Err(tonic::Status::unavailable("change feed ended")),
            Err(status) => Err(status),
        };
        let last = next.is_err();
        if events.send(next).await.is_err() || last {
            return;
        }
    }
}

/// Stops a task when dropped (the receiver when its connection is given up).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

enum FollowError {
    /// Start over from a snapshot.
    Rebuild(String),
    /// Reconnect after a pause.
    Retry(tonic::Status),
}

/// The span of applying one change event to the index: `search.index.apply`, a child of the
/// write's trace when the event carries its `traceparent` (none for snapshot items).
fn apply_span(kind: Type, event: &ItemEvent) -> tracing::Span {
    if !matches!(
        kind,
        Type::Created | Type::Updated | Type::Deleted | Type::Undeleted | Type::Purged
    ) {
        return tracing::Span::none();
    }
    let span = tracing::info_span!(
        "search.index.apply",
        otel.kind = "consumer",
        event = kind.as_str_name(),
        cursor = %event.cursor,
    );
    if !event.traceparent.is_empty() {
        pake_core::telemetry::set_parent_from_traceparent(&span, &event.traceparent);
    }
    span
}

fn classify(status: tonic::Status, rebuilding: bool) -> FollowError {
    let cursor_rejected = matches!(
        status.code(),
        tonic::Code::FailedPrecondition | tonic::Code::InvalidArgument
    );
    if cursor_rejected && !rebuilding {
        FollowError::Rebuild(status.message().to_owned())
    } else {
        FollowError::Retry(status)
    }
}

fn index_error(error: crate::index::Error) -> FollowError {
    tracing::error!(%error, "search index write failed");
    FollowError::Retry(tonic::Status::internal("search index write failed"))
}

/// The lower-case name of a prost enum value: `KIND_NOTE` → `note`.
pub(crate) fn enum_word(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix)
        .unwrap_or(name)
        .to_ascii_lowercase()
}

fn to_indexed(item: Item) -> IndexedItem {
    use pake_api::knowledge::item::Visibility as Wire;
    let micros = |t: &Option<prost_types::Timestamp>| {
        t.as_ref()
            .map_or(0, |t| t.seconds * 1_000_000 + i64::from(t.nanos) / 1000)
    };
    IndexedItem {
        kind: enum_word(item.kind().as_str_name(), "KIND_"),
        status: enum_word(item.status().as_str_name(), "STATUS_"),
        visibility: match item.visibility() {
            Wire::Public => Visibility::Public,
            Wire::Internal => Visibility::Internal,
            Wire::Private | Wire::Unspecified => Visibility::Private,
        },
        confidence_score: item.confidence_score.unwrap_or_default(),
        create_time_us: micros(&item.create_time),
        update_time_us: micros(&item.update_time),
        name: item.name,
        title: item.title,
        content: item.content,
        tags: item.tags,
        owner: item.owner,
    }
}
