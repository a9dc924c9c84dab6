//! Purging soft-deleted items — by an admin with PurgeItems, or automatically once the
//! configured retention has passed — and pruning change-feed history (SPEC §4).

use std::time::Duration;

use pake_api::knowledge::{PurgeItemsRequest, PurgeItemsResponse};
use pake_core::Error;
use pake_core::auth::Principal;
use pake_core::config::KnowledgeConfig;
use pake_runtime::Shutdown;
use pake_runtime::db::now_micros;

use crate::feed::encode_cursor;
use crate::filter::Filter;
use crate::order::{ListPosition, Order};
use crate::service::KnowledgeService;
use crate::sql::{SqlFragment, SqlValue};
use crate::store::{ListQuery, ReadScope};

const MAX_FILTER_BYTES: usize = 2048;
const MAX_SAMPLE: usize = 100;
const PAGE: i64 = 200;

/// How long deleted items and feed history are kept.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Retention {
    deleted: Duration,
    feed: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention::of(&KnowledgeConfig::default())
    }
}

impl Retention {
    pub(crate) fn of(config: &KnowledgeConfig) -> Self {
        const DAY: u64 = 24 * 3600;
        Retention {
            deleted: Duration::from_secs(config.deleted_retention_days * DAY),
            feed: Duration::from_secs(config.feed_retention_days * DAY),
        }
    }

    /// When an item deleted at `deleted` is purged (its `expire_time`).
    pub(crate) fn expire_time(&self, deleted: prost_types::Timestamp) -> prost_types::Timestamp {
        prost_types::Timestamp {
            seconds: deleted
                .seconds
                .saturating_add(i64::try_from(self.deleted.as_secs()).unwrap_or(i64::MAX)),
            nanos: deleted.nanos,
        }
    }
}

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

/// What a purge pass did.
#[derive(Debug, Default)]
struct Purged {
    count: i32,
    sample: Vec<String>,
    last_position: Option<i64>,
}

impl KnowledgeService {
    pub(crate) async fn purge_items(
        &self,
        principal: &Principal,
        request: PurgeItemsRequest,
    ) -> Result<PurgeItemsResponse, Error> {
        if !principal.is_admin() {
            return Err(Error::permission_denied("only admins purge items"));
        }
        if request.filter.len() > MAX_FILTER_BYTES {
            return Err(Error::invalid_field("filter", "must be at most 2048 bytes"));
        }
        let condition = match request.filter.trim() {
            "" => {
                return Err(Error::invalid_field(
                    "filter",
                    "is required: `*` for every soft-deleted item, or a ListItems filter",
                ));
            }
            "*" => SqlFragment::new(),
            text => Filter::parse(text)?.to_sql(Some(principal.subject.as_str())),
        };
        let purged = self
            .purge_matching(condition, None, request.force, &principal.subject)
            .await?;
        Ok(PurgeItemsResponse {
            purge_count: purged.count,
            purge_sample: purged.sample,
            feed_cursor: purged.last_position.map(encode_cursor).unwrap_or_default(),
        })
    }

    /// Purges (or with `force` false, counts) the soft-deleted items matching `condition` that
    /// were deleted before `deleted_before`, item by item.
    async fn purge_matching(
        &self,
        condition: SqlFragment,
        deleted_before: Option<i64>,
        force: bool,
        actor: &str,
    ) -> Result<Purged, Error> {
        let mut filter = SqlFragment::new();
        filter.sql("items.delete_time IS NOT NULL");
        if let Some(before) = deleted_before {
            filter
                .sql(" AND items.delete_time < ")
                .value(SqlValue::Int(before));
        }
        if !condition.is_empty() {
            filter.sql(" AND (").append(&condition).sql(")");
        }
        let order = Order::default();
        let mut after: Option<ListPosition> = None;
        let mut purged = Purged::default();
        loop {
            let page = self
                .store
                .list(&ListQuery {
                    scope: &ReadScope::All,
                    show_deleted: true,
                    filter: &filter,
                    order: &order,
                    after: after.as_ref(),
                    limit: PAGE,
                })
                .await?;
            let Some((_, last)) = page.last() else {
                break;
            };
            after = Some(last.clone());
            for (item, _) in page {
                let id = item.name.trim_start_matches("items/");
                let counted = if force {
                    match self.store.purge(id, deleted_before, now_micros()).await? {
                        Some(position) => {
                            self.feed.notify(position);
                            purged.last_position = Some(position);
                            true
                        }
                        None => false,
                    }
                } else {
                    true
                };
                if counted {
                    purged.count = purged.count.saturating_add(1);
                    if purged.sample.len() < MAX_SAMPLE {
                        purged.sample.push(item.name.clone());
                    }
                }
            }
        }
        if force && purged.count > 0 {
            tracing::info!(items = purged.count, actor, "purged soft-deleted items");
        }
        Ok(purged)
    }

    /// One maintenance pass: purges items deleted longer ago than the retention and prunes feed
    /// events older than the feed retention.
    pub async fn run_maintenance(&self) -> Result<(u64, u64), Error> {
        let now = now_micros();
        let purged = self
            .purge_matching(
                SqlFragment::new(),
                Some(now.saturating_sub(micros(self.retention.deleted))),
                true,
                "retention",
            )
            .await?;
        let (pruned, horizon) = self
            .store
            .prune_feed(now.saturating_sub(micros(self.retention.feed)))
            .await?;
        if pruned > 0 {
            tracing::info!(events = pruned, horizon, "pruned change-feed history");
        }
        Ok((u64::try_from(purged.count).unwrap_or(0), pruned))
    }

    /// Runs [`KnowledgeService::run_maintenance`] every `interval` until `shutdown`.
    pub fn spawn_maintenance(
        self,
        interval: Duration,
        shutdown: Shutdown,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(interval) => {}
                }
                if let Err(error) = self.run_maintenance().await {
                    tracing::warn!(error = %error, "knowledge maintenance failed");
                }
            }
        })
    }
}
