//! The one write path of items: `create_item` and `replace_item` store the item's row, then
//! (in the same transaction, `write_children!`) its tags, keys, links, link keys, revision and
//! feed event, and re-resolve the content links the write may have changed.
//!
//! Resolution (docs/knowledge.md, "Links"): a content link resolves to the live item, readable by
//! the linking item's owner (as any signed-in user: own, internal and public items), that answers
//! to the link's best-ranked key (name, title, file name, alias), preferring the owner's own items
//! and then the oldest. A write of item X can change the resolution of X's own links, of links
//! that resolve to X now, and of links X answers to by one of its new keys; `RESOLVE` recomputes
//! exactly those. Writes are serialised by the feed head lock, so the stored targets always match
//! what resolving from scratch would give.

use pake_api::knowledge::Item;
use pake_runtime::db::BeginWrite;
use pake_runtime::with_pool;
use prost::Message;

use super::read::decode;
use super::{Created, Replaced, SqlItemStore, StoreError};
use crate::feed::encode_cursor;
use crate::links::{self, link_type_name};
use crate::model::names;
use crate::sql::{SqlFragment, SqlValue, bind_values};

/// Rows per multi-row INSERT (at most 5 values each, well under both backends' limits).
const ROWS_PER_INSERT: usize = 200;

/// What a replace deletes before writing the children again.
const DELETE_CHILDREN: [&str; 4] = [
    "DELETE FROM item_tags WHERE item_id = $1",
    "DELETE FROM item_link_keys WHERE source_id = $1",
    "DELETE FROM item_links WHERE source_id = $1",
    "DELETE FROM item_keys WHERE item_id = $1",
];

/// Re-resolves the content links a write of item `$1` (= `$2` = `$3`) may have changed: its own,
/// those resolved to it, and those it answers to by a key. Run after the item's row and children
/// are written (and after a purge deletes them: links to the purged item then resolve anew).
/// The affected rows are joined (`UPDATE … FROM`), not matched with `(source_id, seq) IN
/// (… UNION …)`, which SQLite answers by scanning all of `item_links` on every write.
pub(crate) const RESOLVE: &str = "\
UPDATE item_links SET target_id = (\
    SELECT t.id FROM item_link_keys lk \
    JOIN items s ON s.id = lk.source_id \
    JOIN item_keys k ON k.key = lk.key \
    JOIN items t ON t.id = k.item_id \
    WHERE lk.source_id = item_links.source_id AND lk.seq = item_links.seq \
      AND t.delete_time IS NULL \
      AND (t.owner = s.owner OR t.visibility IN ('public', 'internal')) \
    ORDER BY k.rank, CASE WHEN t.owner = s.owner THEN 0 ELSE 1 END, t.create_time, t.id \
    LIMIT 1) \
FROM (\
    SELECT source_id, seq FROM item_links WHERE source_id = $1 \
    UNION SELECT source_id, seq FROM item_links WHERE target_id = $2 \
    UNION SELECT lk.source_id, lk.seq FROM item_link_keys lk \
        JOIN item_keys k ON k.key = lk.key WHERE k.item_id = $3) AS affected \
WHERE item_links.source_id = affected.source_id AND item_links.seq = affected.seq \
  AND item_links.link_type <> 'explicit'";

/// The rows a write stores besides `items` (tags, keys, explicit and content links, link keys)
/// as rendered INSERT statements, computed before the transaction starts.
struct Children {
    statements: Vec<(String, Vec<SqlValue>)>,
}

impl Children {
    fn of(id: &str, item: &Item) -> Children {
        let text = |value: &str| SqlValue::Text(value.to_owned());
        let mut tags: Vec<String> = item.tags.iter().map(|tag| tag.to_lowercase()).collect();
        tags.sort();
        tags.dedup();
        let tags = tags.iter().map(|tag| vec![text(id), text(tag)]).collect();
        let keys = links::item_keys(item)
            .into_iter()
            .map(|(kind, key)| vec![text(id), SqlValue::Text(key), SqlValue::Int(kind as i64)])
            .collect();
        let mut seq = 0_i64;
        let mut explicit = Vec::new();
        for link in &item.links {
            let target = link.trim_start_matches("items/");
            explicit.push(vec![text(id), SqlValue::Int(seq), text(target)]);
            seq += 1;
        }
        let mut content = Vec::new();
        let mut link_keys = Vec::new();
        for link in links::parse(&item.content) {
            content.push(vec![
                text(id),
                SqlValue::Int(seq),
                text(link_type_name(link.link_type)),
                SqlValue::Text(link.text),
            ]);
            for key in link.keys {
                link_keys.push(vec![text(id), SqlValue::Int(seq), SqlValue::Text(key)]);
            }
            seq += 1;
        }
        let mut statements = Vec::new();
        let mut add = |head: &'static str, row_end: &'static str, rows: Vec<Vec<SqlValue>>| {
            for chunk in rows.chunks(ROWS_PER_INSERT) {
                statements.push(insert(head, row_end, chunk).render());
            }
        };
        add("INSERT INTO item_tags (item_id, tag) VALUES ", ")", tags);
        add(
            "INSERT INTO item_keys (item_id, key, rank) VALUES ",
            ")",
            keys,
        );
        add(
            "INSERT INTO item_links (source_id, seq, target_id, link_type, text) VALUES ",
            ", 'explicit', '')",
            explicit,
        );
        add(
            "INSERT INTO item_links (source_id, seq, link_type, text) VALUES ",
            ")",
            content,
        );
        add(
            "INSERT INTO item_link_keys (source_id, seq, key) VALUES ",
            ")",
            link_keys,
        );
        Children { statements }
    }
}

/// `head ($1, …row_end, ($n, …row_end`: a multi-row INSERT (`row_end` closes each row, possibly
/// after constant columns).
fn insert(head: &'static str, row_end: &'static str, rows: &[Vec<SqlValue>]) -> SqlFragment {
    let mut sql = SqlFragment::new();
    sql.sql(head);
    for (index, row) in rows.iter().enumerate() {
        sql.sql(if index == 0 { "(" } else { ", (" });
        for (column, value) in row.iter().enumerate() {
            if column > 0 {
                sql.sql(", ");
            }
            sql.value(value.clone());
        }
        sql.sql(row_end);
    }
    sql
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}

fn time_micros(timestamp: &Option<prost_types::Timestamp>) -> i64 {
    timestamp
        .as_ref()
        .map_or(0, |t| t.seconds * 1_000_000 + i64::from(t.nanos) / 1000)
}

fn revision_of(item: &Item) -> i64 {
    item.revision_id.parse().unwrap_or(1)
}

/// The access-relevant state of an item row before a write: (owner, visibility, deleted).
pub(super) type BeforeRow = Option<(String, String, bool)>;

/// Appends the feed event of a write at `position`.
macro_rules! insert_feed_event {
    ($tx:expr, $position:expr, $id:expr, $event:expr, $time:expr, $encoded:expr, $before:expr) => {{
        let before: &BeforeRow = $before;
        sqlx::query(
            "INSERT INTO feed_events (position, item_id, event_type, event_time, item, \
             before_owner, before_visibility, before_deleted) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind($position)
        .bind($id)
        .bind($event)
        .bind($time)
        .bind($encoded)
        .bind(before.as_ref().map(|b| b.0.clone()))
        .bind(before.as_ref().map(|b| b.1.clone()))
        .bind(before.as_ref().map(|b| b.2))
        .execute(&mut *$tx)
        .await?;
    }};
}
pub(super) use insert_feed_event;

/// Everything a write stores besides the `items` row: the children (a replace deletes the old
/// ones first), the re-resolution of links, the revision and the feed event. A macro because the
/// transaction type differs per backend.
macro_rules! write_children {
    ($tx:expr, $id:expr, $children:expr, $encoded:expr, $revision:expr, $position:expr, $event:expr, $author:expr, $time:expr, $replace:expr, $before:expr) => {{
        if $replace {
            for statement in DELETE_CHILDREN {
                sqlx::query(statement).bind($id).execute(&mut *$tx).await?;
            }
        }
        for (text, values) in &$children.statements {
            bind_values!(sqlx::query(sqlx::AssertSqlSafe(text.clone())), values)
                .execute(&mut *$tx)
                .await?;
        }
        sqlx::query(RESOLVE)
            .bind($id)
            .bind($id)
            .bind($id)
            .execute(&mut *$tx)
            .await?;
        sqlx::query(
            "INSERT INTO item_revisions (item_id, revision, author, create_time, item) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind($id)
        .bind($revision)
        .bind($author)
        .bind($time)
        .bind($encoded)
        .execute(&mut *$tx)
        .await?;
        insert_feed_event!($tx, $position, $id, $event, $time, $encoded, $before);
    }};
}

impl SqlItemStore {
    pub(super) async fn create_item(
        &self,
        mut item: Item,
        author: &str,
        request: Option<(&str, &str, i64)>,
    ) -> Result<Created, StoreError> {
        let id = item.name.trim_start_matches("items/").to_owned();
        let create_time = time_micros(&item.create_time);
        item.derived_links.clear();
        let children = Children::of(&id, &item);
        with_pool!(&self.database, pool => {
            let mut tx = pool.begin_write().await?;
            // The feed head update serialises writers: from here to commit we hold its lock. It
            // comes before the request and id checks so that on PostgreSQL (READ COMMITTED) they
            // see every create committed before us: a concurrent retry of the same request then
            // finds the first attempt's item instead of failing on `create_requests`.
            let position: i64 = sqlx::query_scalar(
                "UPDATE feed_head SET position = position + 1 WHERE id = 1 RETURNING position",
            )
            .fetch_one(&mut *tx)
            .await?;
            if let Some((caller, request_id, since)) = request {
                let earlier: Option<Vec<u8>> = sqlx::query_scalar(
                    "SELECT i.item FROM create_requests r JOIN items i ON i.id = r.item_id \
                     WHERE r.caller = $1 AND r.request_id = $2 AND r.create_time >= $3",
                )
                .bind(caller)
                .bind(request_id)
                .bind(since)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(bytes) = earlier {
                    tx.rollback().await?;
                    return Ok(Created::Replayed(decode(&bytes)?));
                }
            }
            let exists: Option<String> = sqlx::query_scalar("SELECT id FROM items WHERE id = $1")
                .bind(&id)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_some() {
                tx.rollback().await?;
                return Err(StoreError::AlreadyExists);
            }
            item.feed_cursor = encode_cursor(position);
            let encoded = item.encode_to_vec();
            let inserted = sqlx::query(
                "INSERT INTO items (id, owner, visibility, kind, status, verification, folder, title, \
                 confidence_score, revision, create_time, update_time, delete_time, feed_position, item) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            )
            .bind(&id)
            .bind(&item.owner)
            .bind(names::visibility(item.visibility()))
            .bind(names::kind(item.kind()))
            .bind(names::status(item.status()))
            .bind(names::verification(item.verification()))
            .bind(&item.folder)
            .bind(&item.title)
            .bind(item.confidence_score.unwrap_or_default())
            .bind(1_i64)
            .bind(create_time)
            .bind(create_time)
            .bind(None::<i64>)
            .bind(position)
            .bind(&encoded)
            .execute(&mut *tx)
            .await;
            if let Err(error) = inserted {
                return Err(if is_unique_violation(&error) {
                    StoreError::AlreadyExists
                } else {
                    StoreError::Database(error)
                });
            }
            write_children!(tx, &id, children, &encoded, 1_i64, position, "created", author, create_time, false, &None);
            if let Some((caller, request_id, _)) = request {
                sqlx::query(
                    "INSERT INTO create_requests (caller, request_id, item_id, create_time) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (caller, request_id) DO UPDATE \
                     SET item_id = excluded.item_id, create_time = excluded.create_time",
                )
                .bind(caller)
                .bind(request_id)
                .bind(&id)
                .bind(create_time)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(Created::New(item))
        })
    }

    pub(super) async fn replace_item(
        &self,
        mut item: Item,
        expected_revision: i64,
        event_type: &str,
        author: &str,
    ) -> Result<Replaced, StoreError> {
        let id = item.name.trim_start_matches("items/").to_owned();
        let update_time = time_micros(&item.update_time);
        let revision = revision_of(&item);
        item.derived_links.clear();
        let children = Children::of(&id, &item);
        with_pool!(&self.database, pool => {
            let mut tx = pool.begin_write().await?;
            let position: i64 = sqlx::query_scalar(
                "UPDATE feed_head SET position = position + 1 WHERE id = 1 RETURNING position",
            )
            .fetch_one(&mut *tx)
            .await?;
            item.feed_cursor = encode_cursor(position);
            let encoded = item.encode_to_vec();
            let before: BeforeRow = sqlx::query_as(
                "SELECT owner, visibility, delete_time IS NOT NULL FROM items WHERE id = $1",
            )
            .bind(&id)
            .fetch_optional(&mut *tx)
            .await?;
            let updated = sqlx::query(
                "UPDATE items SET owner = $1, visibility = $2, kind = $3, status = $4, verification = $5, \
                 folder = $6, title = $7, confidence_score = $8, revision = $9, update_time = $10, \
                 delete_time = $11, feed_position = $12, item = $13 WHERE id = $14 AND revision = $15",
            )
            .bind(&item.owner)
            .bind(names::visibility(item.visibility()))
            .bind(names::kind(item.kind()))
            .bind(names::status(item.status()))
            .bind(names::verification(item.verification()))
            .bind(&item.folder)
            .bind(&item.title)
            .bind(item.confidence_score.unwrap_or_default())
            .bind(revision)
            .bind(update_time)
            .bind(item.delete_time.is_some().then(|| time_micros(&item.delete_time)))
            .bind(position)
            .bind(&encoded)
            .bind(&id)
            .bind(expected_revision)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 0 {
                let exists: Option<String> = sqlx::query_scalar("SELECT id FROM items WHERE id = $1")
                    .bind(&id)
                    .fetch_optional(&mut *tx)
                    .await?;
                tx.rollback().await?;
                return Ok(if exists.is_some() { Replaced::Conflict } else { Replaced::Missing });
            }
            write_children!(tx, &id, children, &encoded, revision, position, event_type, author, update_time, true, &before);
            tx.commit().await?;
            Ok(Replaced::Done(Box::new(item)))
        })
    }
}
