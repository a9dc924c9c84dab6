//! Keeps the index current from the knowledge change feed (`WatchItems` over gRPC, as a service
//! account) — the same code path in the all-in-one and in the mesh.
//!
//! On start it resumes after the cursor committed with the index, or rebuilds from a SNAPSHOT
//! when the index is empty (or its cursor has expired). Changes are committed in batches (at most
//! every `COMMIT_INTERVAL`) together with the cursor they reach; heartbeats advance the applied
//! cursor when nothing is pending. Lost connections are retried with backoff.

use std::sync::Arc;
use std::time::Duration;

use pake_api::knowledge::item_event::Type;
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::knowledge::{Item, ItemEvent, WatchItemsRequest};
use pake_core::token::ServiceTokenSource;
use pake_runtime::Shutdown;
use tokio::sync::watch;
use tonic::transport::Channel;

use crate::index::{IndexedItem, SearchIndex, Visibility};
use crate::progress::Progress;

const COMMIT_INTERVAL: Duration = Duration::from_millis(200);
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
        let channel = tonic::transport::Endpoint::from_shared(knowledge_url.to_owned())?
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
                () = self.shutdown.cancelled() => return,
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
        let token = self
            .tokens
            .token()
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
        let mut stream = match client.watch_items(request).await {
            Ok(response) => response.into_inner(),
            Err(status) => return Err(classify(status, rebuilding)),
        };
        self.progress.feed_connected(true);
        if rebuilding {
            self.progress.rebuilding();
            self.index.clear().map_err(index_error)?;
        }
        self.applied.send_replace(applied);
        let mut pending: Option<String> = None;
        let mut in_snapshot = rebuilding;
        let mut ticker = tokio::time::interval(COMMIT_INTERVAL);
        loop {
            tokio::select! {
                message = stream.message() => {
                    let event = match message {
                        Ok(Some(event)) => event,
                        Ok(None) => return Err(FollowError::Retry(tonic::Status::unavailable("feed ended"))),
                        Err(status) => {
                            if let Some(cursor) = pending.take() {
                                self.commit(cursor).await?;
                            }
                            return Err(classify(status, false));
                        }
                    };
                    self.apply(event, &mut pending, &mut in_snapshot).await?;
                }
                _ = ticker.tick() => {
                    if !in_snapshot && let Some(cursor) = pending.take() {
                        self.commit(cursor).await?;
                    }
                }
            }
        }
    }

    async fn apply(
        &self,
        event: ItemEvent,
        pending: &mut Option<String>,
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
        match kind {
            Type::Snapshot | Type::Created | Type::Updated | Type::Undeleted => {
                if let Some(item) = event.item {
                    if item.delete_time.is_some() {
                        self.index.delete(&item.name).map_err(index_error)?;
                    } else {
                        self.index.upsert(to_indexed(item)).map_err(index_error)?;
                    }
                }
            }
            Type::Deleted | Type::Purged => {
                if let Some(item) = event.item {
                    self.index.delete(&item.name).map_err(index_error)?;
                }
            }
            Type::SnapshotEnd => {
                *in_snapshot = false;
                self.commit(event.cursor).await?;
                return Ok(());
            }
            Type::Heartbeat => {
                if pending.is_none() && !*in_snapshot {
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
        if !event.cursor.is_empty() {
            *pending = Some(event.cursor);
        }
        Ok(())
    }

    async fn commit(&self, cursor: String) -> Result<(), FollowError> {
        let index = self.index.clone();
        let committed = cursor.clone();
        tokio::task::spawn_blocking(move || index.commit(&committed))
            .await
            .map_err(|e| FollowError::Retry(tonic::Status::internal(e.to_string())))?
            .map_err(index_error)?;
        // Behind when what was just committed had waited longer than the freshness target.
        let behind = self
            .progress
            .snapshot()
            .oldest_pending
            .and_then(|oldest| oldest.elapsed().ok())
            .is_some_and(|waited| waited > FRESHNESS_TARGET);
        self.progress.committed(behind);
        self.applied.send_replace(cursor);
        Ok(())
    }
}

enum FollowError {
    /// Start over from a snapshot.
    Rebuild(String),
    /// Reconnect after a pause.
    Retry(tonic::Status),
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
