//! The knowledge store: items, their tags and links, revisions and the change feed, behind a
//! trait with one SQL implementation that runs on SQLite and PostgreSQL.
//!
//! Every write is one transaction that also appends to the feed. The feed position comes from the
//! single `feed_head` row (`UPDATE … RETURNING`), whose row lock serialises writers, so positions
//! are gap-free and visible in commit order (ADR 3).

use async_trait::async_trait;
use pake_api::knowledge::Item;
use pake_runtime::db::{BeginWrite, Database};
use pake_runtime::with_pool;
use prost::Message;
use sqlx::Row;

use crate::feed::encode_cursor;
use crate::model::names;
use crate::order::{ListPosition, Order, SortValue, SortValueType};
use crate::sql::{SqlFragment, SqlValue, bind_values};

/// Store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An item with that id exists (or existed).
    #[error("item already exists")]
    AlreadyExists,
    /// A list position that does not fit the list's order.
    #[error("list position does not fit the order")]
    Position,
    /// A stored item could not be decoded.
    #[error("corrupt item record: {0}")]
    Corrupt(#[from] prost::DecodeError),
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<StoreError> for pake_core::Error {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::AlreadyExists => pake_core::Error::new(
                pake_core::ErrorKind::AlreadyExists,
                "item_id: an item with this id already exists",
            )
            .with_reason("ITEM_ID_TAKEN"),
            StoreError::Position => pake_core::Error::internal(StoreError::Position),
            StoreError::Corrupt(source) => pake_core::Error::internal(source),
            StoreError::Database(source) => {
                pake_core::Error::unavailable("the knowledge store is unavailable", source)
            }
        }
    }
}

/// Which items a reader may see, as a SQL condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadScope {
    /// Admins and service accounts.
    All,
    /// Anonymous callers: public items.
    Public,
    /// A signed-in user: own, internal and public items.
    User(String),
}

/// One change-feed event.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedEvent {
    /// Feed position.
    pub position: i64,
    /// `created`, `updated`, `deleted`, `undeleted` or `purged`.
    pub event_type: String,
    /// Microseconds since the epoch.
    pub event_time: i64,
    /// The item after the event.
    pub item: Item,
}

/// What a create did.
#[derive(Clone, Debug, PartialEq)]
pub enum Created {
    /// A new item, with its feed cursor.
    New(Item),
    /// A retry of an earlier request: the item it created (as it is now).
    Replayed(Item),
}

/// What a replace did.
#[derive(Clone, Debug, PartialEq)]
pub enum Replaced {
    /// Stored, with its feed cursor.
    Done(Box<Item>),
    /// The item changed since it was read (another writer won).
    Conflict,
    /// The item does not exist (any more).
    Missing,
}

/// A stored version of an item.
#[derive(Clone, Debug, PartialEq)]
pub struct Revision {
    /// The revision number (1 for the first version).
    pub revision: i64,
    /// Who wrote it.
    pub author: String,
    /// When, in microseconds.
    pub create_time: i64,
    /// The item as it was.
    pub item: Item,
}

/// What to list: which items (as `scope` may read them), in which order, from where.
#[derive(Clone, Copy, Debug)]
pub struct ListQuery<'a> {
    /// Who reads.
    pub scope: &'a ReadScope,
    /// Also soft-deleted items (those `scope` may read: its own, or all for [`ReadScope::All`]).
    pub show_deleted: bool,
    /// A condition over `items` (a compiled filter); empty for every item.
    pub filter: &'a SqlFragment,
    /// The order.
    pub order: &'a Order,
    /// Resume after this position (of the previous page's last item).
    pub after: Option<&'a ListPosition>,
    /// At most this many items.
    pub limit: i64,
}

/// Persistence of items and the feed.
#[async_trait]
pub trait ItemStore: Send + Sync + std::fmt::Debug + 'static {
    /// Creates `item` (complete: name, owner, times set). With `request` (caller, request id,
    /// oldest time still deduplicated), a retry returns the earlier item instead.
    async fn create(
        &self,
        item: Item,
        author: &str,
        request: Option<(&str, &str, i64)>,
    ) -> Result<Created, StoreError>;
    /// Stores `item` as the next version of an existing item whose current revision is
    /// `expected_revision` (optimistic concurrency), with a revision record and a feed event of
    /// `event_type`. The item's `feed_cursor` is set here.
    async fn replace(
        &self,
        item: Item,
        expected_revision: i64,
        event_type: &str,
        author: &str,
    ) -> Result<Replaced, StoreError>;
    /// An item by id, deleted or not.
    async fn get(&self, id: &str) -> Result<Option<Item>, StoreError>;
    /// Revisions of an item, newest first, older than `before` (a revision number) if given.
    async fn revisions(
        &self,
        id: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Revision>, StoreError>;
    /// One revision.
    async fn revision(&self, id: &str, revision: i64) -> Result<Option<Revision>, StoreError>;
    /// A page of the items `query` selects, in its order, each with its position (to resume
    /// after it).
    async fn list(&self, query: &ListQuery<'_>) -> Result<Vec<(Item, ListPosition)>, StoreError>;
    /// How many items `scope` may read match `filter` (a condition over `items`).
    async fn count(
        &self,
        scope: &ReadScope,
        show_deleted: bool,
        filter: &SqlFragment,
    ) -> Result<i64, StoreError>;
    /// The feed head position.
    async fn head(&self) -> Result<i64, StoreError>;
    /// Up to `limit` events after `position`, in order.
    async fn events_after(&self, position: i64, limit: i64) -> Result<Vec<FeedEvent>, StoreError>;
    /// Every live item and the head position, read consistently.
    async fn snapshot(&self) -> Result<(Vec<Item>, i64), StoreError>;
}

/// The SQL implementation for both backends.
#[derive(Clone, Debug)]
pub struct SqlItemStore {
    database: Database,
}

impl SqlItemStore {
    /// A store over an already migrated database.
    pub fn new(database: Database) -> Self {
        SqlItemStore { database }
    }
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}

fn decode(bytes: &[u8]) -> Result<Item, StoreError> {
    Ok(Item::decode(bytes)?)
}

fn decode_all(rows: Vec<Vec<u8>>) -> Result<Vec<Item>, StoreError> {
    rows.iter().map(|bytes| decode(bytes)).collect()
}

fn time_micros(timestamp: &Option<prost_types::Timestamp>) -> i64 {
    timestamp
        .as_ref()
        .map_or(0, |t| t.seconds * 1_000_000 + i64::from(t.nanos) / 1000)
}

/// The rows every write stores besides `items`: tags, explicit links, the revision and the feed
/// event. A macro because the transaction type differs per backend.
macro_rules! write_children {
    ($tx:expr, $id:expr, $item:expr, $encoded:expr, $revision:expr, $position:expr, $event:expr, $author:expr, $time:expr, $replace:expr) => {{
        if $replace {
            sqlx::query("DELETE FROM item_tags WHERE item_id = $1").bind($id).execute(&mut *$tx).await?;
            sqlx::query("DELETE FROM item_links WHERE source_id = $1 AND link_type = 'explicit'")
                .bind($id)
                .execute(&mut *$tx)
                .await?;
        }
        let mut lowered: Vec<String> = $item.tags.iter().map(|tag| tag.to_lowercase()).collect();
        lowered.sort();
        lowered.dedup();
        for tag in lowered {
            sqlx::query("INSERT INTO item_tags (item_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind($id)
                .bind(tag)
                .execute(&mut *$tx)
                .await?;
        }
        for link in &$item.links {
            sqlx::query(
                "INSERT INTO item_links (source_id, target_id, link_type) VALUES ($1, $2, 'explicit') \
                 ON CONFLICT DO NOTHING",
            )
            .bind($id)
            .bind(link.trim_start_matches("items/"))
            .execute(&mut *$tx)
            .await?;
        }
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
        sqlx::query(
            "INSERT INTO feed_events (position, item_id, event_type, event_time, item) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind($position)
        .bind($id)
        .bind($event)
        .bind($time)
        .bind($encoded)
        .execute(&mut *$tx)
        .await?;
    }};
}

/// ` WHERE …`: the items `scope` may read (soft-deleted ones only with `show_deleted`, and
/// then only the reader's own unless it reads everything) that match `filter`.
fn readable_matching(scope: &ReadScope, show_deleted: bool, filter: &SqlFragment) -> SqlFragment {
    let mut sql = SqlFragment::new();
    sql.sql(" WHERE ");
    match scope {
        ReadScope::All if show_deleted => {
            sql.sql("1 = 1");
        }
        ReadScope::All => {
            sql.sql("items.delete_time IS NULL");
        }
        ReadScope::Public => {
            sql.sql("items.visibility = 'public' AND items.delete_time IS NULL");
        }
        ReadScope::User(subject) => {
            sql.sql("(items.owner = ")
                .value(SqlValue::Text(subject.clone()))
                .sql(" OR items.visibility IN ('public', 'internal'))");
            if show_deleted {
                sql.sql(" AND (items.delete_time IS NULL OR items.owner = ")
                    .value(SqlValue::Text(subject.clone()))
                    .sql(")");
            } else {
                sql.sql(" AND items.delete_time IS NULL");
            }
        }
    }
    if !filter.is_empty() {
        sql.sql(" AND (").append(filter).sql(")");
    }
    sql
}

fn revision_of(item: &Item) -> i64 {
    item.revision_id.parse().unwrap_or(1)
}

#[async_trait]
impl ItemStore for SqlItemStore {
    async fn create(
        &self,
        mut item: Item,
        author: &str,
        request: Option<(&str, &str, i64)>,
    ) -> Result<Created, StoreError> {
        let id = item.name.trim_start_matches("items/").to_owned();
        let create_time = time_micros(&item.create_time);
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
            write_children!(tx, &id, item, &encoded, 1_i64, position, "created", author, create_time, false);
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

    async fn replace(
        &self,
        mut item: Item,
        expected_revision: i64,
        event_type: &str,
        author: &str,
    ) -> Result<Replaced, StoreError> {
        let id = item.name.trim_start_matches("items/").to_owned();
        let update_time = time_micros(&item.update_time);
        let revision = revision_of(&item);
        with_pool!(&self.database, pool => {
            let mut tx = pool.begin_write().await?;
            let position: i64 = sqlx::query_scalar(
                "UPDATE feed_head SET position = position + 1 WHERE id = 1 RETURNING position",
            )
            .fetch_one(&mut *tx)
            .await?;
            item.feed_cursor = encode_cursor(position);
            let encoded = item.encode_to_vec();
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
            .bind(item.delete_time.as_ref().map(|t| t.seconds * 1_000_000 + i64::from(t.nanos) / 1000))
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
            write_children!(tx, &id, item, &encoded, revision, position, event_type, author, update_time, true);
            tx.commit().await?;
            Ok(Replaced::Done(Box::new(item)))
        })
    }

    async fn revisions(
        &self,
        id: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Revision>, StoreError> {
        let rows: Vec<(i64, String, i64, Vec<u8>)> = with_pool!(&self.database, pool => {
            sqlx::query_as(
                "SELECT revision, author, create_time, item FROM item_revisions \
                 WHERE item_id = $1 AND revision < $2 ORDER BY revision DESC LIMIT $3",
            )
            .bind(id)
            .bind(before.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|(revision, author, create_time, bytes)| {
                Ok(Revision {
                    revision,
                    author,
                    create_time,
                    item: decode(&bytes)?,
                })
            })
            .collect()
    }

    async fn revision(&self, id: &str, revision: i64) -> Result<Option<Revision>, StoreError> {
        let row: Option<(i64, String, i64, Vec<u8>)> = with_pool!(&self.database, pool => {
            sqlx::query_as(
                "SELECT revision, author, create_time, item FROM item_revisions \
                 WHERE item_id = $1 AND revision = $2",
            )
            .bind(id)
            .bind(revision)
            .fetch_optional(pool)
            .await?
        });
        row.map(|(revision, author, create_time, bytes)| {
            Ok(Revision {
                revision,
                author,
                create_time,
                item: decode(&bytes)?,
            })
        })
        .transpose()
    }

    async fn get(&self, id: &str) -> Result<Option<Item>, StoreError> {
        let bytes: Option<Vec<u8>> = with_pool!(&self.database, pool => {
            sqlx::query_scalar("SELECT item FROM items WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        bytes.map(|bytes| decode(&bytes)).transpose()
    }

    async fn list(&self, query: &ListQuery<'_>) -> Result<Vec<(Item, ListPosition)>, StoreError> {
        let mut sql = SqlFragment::new();
        sql.sql("SELECT items.item, items.id");
        query.order.select_sql(&mut sql);
        sql.sql(" FROM items");
        sql.append(&readable_matching(
            query.scope,
            query.show_deleted,
            query.filter,
        ));
        if let Some(after) = query.after {
            let after = query.order.after_sql(after).ok_or(StoreError::Position)?;
            sql.sql(" AND ").append(&after);
        }
        query.order.order_by_sql(&mut sql);
        sql.sql(" LIMIT ").value(SqlValue::Int(query.limit));
        let (text, values) = sql.render();
        let types: Vec<SortValueType> = query
            .order
            .keys()
            .iter()
            .map(|key| key.value_type())
            .collect();
        with_pool!(&self.database, pool => {
            let rows = bind_values!(sqlx::query(sqlx::AssertSqlSafe(text.clone())), &values)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| {
                    let item = decode(&row.try_get::<Vec<u8>, _>(0)?)?;
                    let id: String = row.try_get(1)?;
                    let mut keys = Vec::with_capacity(types.len());
                    for (index, value_type) in types.iter().enumerate() {
                        let column = index + 2;
                        keys.push(match value_type {
                            SortValueType::Int => SortValue::Int(row.try_get(column)?),
                            SortValueType::Float => SortValue::Float(row.try_get(column)?),
                            SortValueType::Text => SortValue::Text(row.try_get(column)?),
                        });
                    }
                    Ok((item, ListPosition { keys, id }))
                })
                .collect()
        })
    }

    async fn count(
        &self,
        scope: &ReadScope,
        show_deleted: bool,
        filter: &SqlFragment,
    ) -> Result<i64, StoreError> {
        let mut sql = SqlFragment::new();
        sql.sql("SELECT COUNT(*) FROM items");
        sql.append(&readable_matching(scope, show_deleted, filter));
        let (text, values) = sql.render();
        Ok(with_pool!(&self.database, pool => {
            bind_values!(sqlx::query_scalar(sqlx::AssertSqlSafe(text.clone())), &values)
                .fetch_one(pool)
                .await?
        }))
    }

    async fn head(&self) -> Result<i64, StoreError> {
        Ok(with_pool!(&self.database, pool => {
            sqlx::query_scalar("SELECT position FROM feed_head WHERE id = 1")
                .fetch_one(pool)
                .await?
        }))
    }

    async fn events_after(&self, position: i64, limit: i64) -> Result<Vec<FeedEvent>, StoreError> {
        let rows: Vec<(i64, String, i64, Vec<u8>)> = with_pool!(&self.database, pool => {
            sqlx::query_as(
                "SELECT position, event_type, event_time, item FROM feed_events \
                 WHERE position > $1 ORDER BY position LIMIT $2",
            )
            .bind(position)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|(position, event_type, event_time, bytes)| {
                Ok(FeedEvent {
                    position,
                    event_type,
                    event_time,
                    item: decode(&bytes)?,
                })
            })
            .collect()
    }

    async fn snapshot(&self) -> Result<(Vec<Item>, i64), StoreError> {
        let (rows, head): (Vec<Vec<u8>>, i64) = match &self.database {
            Database::Sqlite(pool) => {
                // A WAL read transaction sees one consistent snapshot.
                let mut tx = pool.begin().await?;
                let head = sqlx::query_scalar("SELECT position FROM feed_head WHERE id = 1")
                    .fetch_one(&mut *tx)
                    .await?;
                let rows = sqlx::query_scalar(
                    "SELECT item FROM items WHERE delete_time IS NULL ORDER BY id",
                )
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                (rows, head)
            }
            Database::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .execute(&mut *tx)
                    .await?;
                let head = sqlx::query_scalar("SELECT position FROM feed_head WHERE id = 1")
                    .fetch_one(&mut *tx)
                    .await?;
                let rows = sqlx::query_scalar(
                    "SELECT item FROM items WHERE delete_time IS NULL ORDER BY id",
                )
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                (rows, head)
            }
        };
        Ok((decode_all(rows)?, head))
    }
}
