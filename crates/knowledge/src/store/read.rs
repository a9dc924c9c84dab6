//! Reads of items, revisions and the feed.

use pake_api::knowledge::Item;
use pake_runtime::db::Database;
use pake_runtime::with_pool;
use prost::Message;
use sqlx::Row;

use super::{FeedEvent, ListQuery, ReadScope, Revision, SqlItemStore, StoreError};
use crate::order::{ListPosition, SortValue, SortValueType};
use crate::sql::{SqlFragment, SqlValue, bind_values};

pub(super) fn decode(bytes: &[u8]) -> Result<Item, StoreError> {
    Ok(Item::decode(bytes)?)
}

fn decode_all(rows: Vec<Vec<u8>>) -> Result<Vec<Item>, StoreError> {
    rows.iter().map(|bytes| decode(bytes)).collect()
}

/// Columns of one `items` row in a query: `items` itself, or another alias of the table.
pub(super) struct Columns {
    pub(super) owner: &'static str,
    pub(super) visibility: &'static str,
    pub(super) delete_time: &'static str,
}

/// The `items` table as most queries name it (and as filters refer to it).
pub(super) const ITEMS: Columns = Columns {
    owner: "items.owner",
    visibility: "items.visibility",
    delete_time: "items.delete_time",
};

/// The condition "`scope` may read the row of `columns`" (soft-deleted rows only with
/// `show_deleted`, and then only the reader's own unless it reads everything).
pub(super) fn readable(scope: &ReadScope, show_deleted: bool, columns: &Columns) -> SqlFragment {
    let mut sql = SqlFragment::new();
    match scope {
        ReadScope::All if show_deleted => {
            sql.sql("1 = 1");
        }
        ReadScope::All => {
            sql.sql(columns.delete_time).sql(" IS NULL");
        }
        ReadScope::Public => {
            sql.sql(columns.visibility)
                .sql(" = 'public' AND ")
                .sql(columns.delete_time)
                .sql(" IS NULL");
        }
        ReadScope::User(subject) => {
            sql.sql("(")
                .sql(columns.owner)
                .sql(" = ")
                .value(SqlValue::Text(subject.clone()))
                .sql(" OR ")
                .sql(columns.visibility)
                .sql(" IN ('public', 'internal'))");
            if show_deleted {
                sql.sql(" AND (")
                    .sql(columns.delete_time)
                    .sql(" IS NULL OR ")
                    .sql(columns.owner)
                    .sql(" = ")
                    .value(SqlValue::Text(subject.clone()))
                    .sql(")");
            } else {
                sql.sql(" AND ").sql(columns.delete_time).sql(" IS NULL");
            }
        }
    }
    sql
}

/// ` WHERE …`: the items `scope` may read (see [`readable`]) that match `filter`.
pub(super) fn readable_matching(
    scope: &ReadScope,
    show_deleted: bool,
    filter: &SqlFragment,
) -> SqlFragment {
    let mut sql = SqlFragment::new();
    sql.sql(" WHERE ")
        .append(&readable(scope, show_deleted, &ITEMS));
    if !filter.is_empty() {
        sql.sql(" AND (").append(filter).sql(")");
    }
    sql
}

impl SqlItemStore {
    pub(super) async fn list_revisions(
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

    pub(super) async fn get_revision(
        &self,
        id: &str,
        revision: i64,
    ) -> Result<Option<Revision>, StoreError> {
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

    pub(super) async fn get_item(&self, id: &str) -> Result<Option<Item>, StoreError> {
        let bytes: Option<Vec<u8>> = with_pool!(&self.database, pool => {
            sqlx::query_scalar("SELECT item FROM items WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        bytes.map(|bytes| decode(&bytes)).transpose()
    }

    pub(super) async fn list_items(
        &self,
        query: &ListQuery<'_>,
    ) -> Result<Vec<(Item, ListPosition)>, StoreError> {
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

    pub(super) async fn count_items(
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

    pub(super) async fn feed_head(&self) -> Result<i64, StoreError> {
        Ok(with_pool!(&self.database, pool => {
            sqlx::query_scalar("SELECT position FROM feed_head WHERE id = 1")
                .fetch_one(pool)
                .await?
        }))
    }

    pub(super) async fn feed_events_after(
        &self,
        position: i64,
        limit: i64,
    ) -> Result<Vec<FeedEvent>, StoreError> {
        type Row = (
            i64,
            String,
            i64,
            Vec<u8>,
            Option<String>,
            Option<String>,
            Option<bool>,
        );
        let rows: Vec<Row> = with_pool!(&self.database, pool => {
            sqlx::query_as(
                "SELECT position, event_type, event_time, item, before_owner, before_visibility, \
                 before_deleted FROM feed_events WHERE position > $1 ORDER BY position LIMIT $2",
            )
            .bind(position)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(
                |(position, event_type, event_time, bytes, owner, visibility, deleted)| {
                    let before = match (owner, visibility) {
                        (Some(owner), Some(visibility)) => Some(super::Before {
                            owner,
                            visibility: crate::model::names::parse_visibility(&visibility),
                            deleted: deleted.unwrap_or(false),
                        }),
                        _ => None,
                    };
                    Ok(FeedEvent {
                        position,
                        event_type,
                        event_time,
                        item: decode(&bytes)?,
                        before,
                    })
                },
            )
            .collect()
    }

    pub(super) async fn live_snapshot(&self) -> Result<(Vec<Item>, i64), StoreError> {
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
