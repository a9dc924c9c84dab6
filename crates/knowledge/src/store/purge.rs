//! Removing data for good: purging a soft-deleted item (with its revisions, tags and links, a
//! PURGED feed event, and link resolution re-run) and pruning change-feed history.

use pake_runtime::db::BeginWrite;
use pake_runtime::with_pool;
use prost::Message;

use super::read::decode;
use super::write::{BeforeRow, RESOLVE, insert_feed_event};
use super::{SqlItemStore, StoreError};
use crate::feed::encode_cursor;

impl SqlItemStore {
    /// Purges item `id` if it is soft-deleted (and, with `deleted_before`, was deleted before
    /// that time). Returns the PURGED event's position, or `None` when the item is absent or
    /// not eligible (then nothing is written and no position is used).
    pub(super) async fn purge_deleted_item(
        &self,
        id: &str,
        deleted_before: Option<i64>,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        with_pool!(&self.database, pool => {
            let mut tx = pool.begin_write().await?;
            // The head lock first, as every write: it serialises commits (rolled back below when
            // there is nothing to purge, so positions stay gap-free).
            let position: i64 = sqlx::query_scalar(
                "UPDATE feed_head SET position = position + 1 WHERE id = 1 RETURNING position",
            )
            .fetch_one(&mut *tx)
            .await?;
            let row: Option<(Vec<u8>, String, String, Option<i64>)> = sqlx::query_as(
                "SELECT item, owner, visibility, delete_time FROM items WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let eligible = row.filter(|(_, _, _, deleted)| {
                deleted.is_some_and(|at| deleted_before.is_none_or(|before| at < before))
            });
            let Some((bytes, owner, visibility, _)) = eligible else {
                tx.rollback().await?;
                return Ok(None);
            };
            let mut last = decode(&bytes)?;
            last.feed_cursor = encode_cursor(position);
            let encoded = last.encode_to_vec();
            // Children and revisions go by cascade.
            sqlx::query("DELETE FROM items WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM create_requests WHERE item_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            // Links that could resolve to the purged item resolve anew (docs/knowledge.md).
            sqlx::query(RESOLVE)
                .bind(id)
                .bind(id)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let before: BeforeRow = Some((owner, visibility, true));
            insert_feed_event!(tx, position, id, "purged", now, &encoded, &before);
            tx.commit().await?;
            Ok(Some(position))
        })
    }

    /// Deletes the feed events older than `before` (µs), keeping the newest event always, and
    /// raises the pruned horizon. Returns (events deleted, horizon).
    pub(super) async fn prune_feed_before(&self, before: i64) -> Result<(u64, i64), StoreError> {
        with_pool!(&self.database, pool => {
            let mut tx = pool.begin_write().await?;
            // Lock the head row first: concurrent pruners (replicas) then run one after the
            // other and the horizon only ever rises.
            let horizon: i64 = sqlx::query_scalar(
                "UPDATE feed_head SET pruned_through = pruned_through WHERE id = 1 \
                 RETURNING pruned_through",
            )
            .fetch_one(&mut *tx)
            .await?;
            let cut: Option<i64> = sqlx::query_scalar(
                "SELECT MAX(position) FROM feed_events WHERE event_time < $1 \
                 AND position < (SELECT MAX(position) FROM feed_events)",
            )
            .bind(before)
            .fetch_one(&mut *tx)
            .await?;
            let Some(cut) = cut.filter(|cut| *cut > horizon) else {
                tx.rollback().await?;
                return Ok((0, horizon));
            };
            let deleted = sqlx::query("DELETE FROM feed_events WHERE position <= $1")
                .bind(cut)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("UPDATE feed_head SET pruned_through = $1 WHERE id = 1")
                .bind(cut)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok((deleted, cut))
        })
    }

    /// The pruned horizon: events at or below it are gone.
    pub(super) async fn feed_pruned_through(&self) -> Result<i64, StoreError> {
        Ok(with_pool!(&self.database, pool => {
            sqlx::query_scalar("SELECT pruned_through FROM feed_head WHERE id = 1")
                .fetch_one(pool)
                .await?
        }))
    }
}
