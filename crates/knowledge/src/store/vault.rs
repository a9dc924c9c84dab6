//! What vault import and export need from the store beyond [`ItemStore`](super::ItemStore):
//! the `vault_files` record of earlier imports (which item each file became), items by id in
//! bulk, resolving a connection among the items a caller may read, and the consistent snapshot
//! an export is rendered from.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use pake_api::knowledge::Item;
use pake_runtime::db::{BeginWrite, Database};
use pake_runtime::with_pool;

use super::read::{Columns, ITEMS, decode, readable, readable_matching};
use super::{ReadScope, SqlItemStore, StoreError};
use crate::sql::{SqlFragment, SqlValue, bind_values};

/// Ids per `IN (…)` list and rows per multi-row INSERT (well under both backends' limits).
const CHUNK: usize = 500;

/// The items an export writes and, for their explicit links, which targets the reader may see.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExportSnapshot {
    /// The live items the reader may read that match the filter, by id.
    pub items: Vec<Item>,
    /// `(source id, target id)` of the explicit links of those items whose target is a live
    /// item the reader may read.
    pub readable_links: HashSet<(String, String)>,
}

/// Persistence for ImportItems and ExportItems.
#[async_trait]
pub trait VaultStore: Send + Sync {
    /// The item each path of earlier imports of `vault_name` by `owner` became, by path.
    async fn vault_files(
        &self,
        owner: &str,
        vault_name: &str,
    ) -> Result<HashMap<String, String>, StoreError>;
    /// Records, in one transaction, which item each `(path, item id)` file is: `added` only where
    /// the path has no row yet (a concurrent import's row wins), `replaced` over any row.
    async fn record_vault_files(
        &self,
        owner: &str,
        vault_name: &str,
        added: &[(String, String)],
        replaced: &[(String, String)],
    ) -> Result<(), StoreError>;
    /// The items with these ids that exist, deleted or not, in no order.
    async fn items_by_id(&self, ids: &[String]) -> Result<Vec<Item>, StoreError>;
    /// The live item `scope` may read that answers to the best-ranked of `keys` (item keys as in
    /// `links::item_keys`), preferring `owner`'s own items, then the oldest.
    async fn resolve_keys(
        &self,
        scope: &ReadScope,
        owner: &str,
        keys: &[String],
    ) -> Result<Option<String>, StoreError>;
    /// The live items `scope` may read that match `filter`, and their readable explicit links,
    /// read in one consistent snapshot.
    async fn export_snapshot(
        &self,
        scope: &ReadScope,
        filter: &SqlFragment,
    ) -> Result<ExportSnapshot, StoreError>;
}

/// The link target's columns in the export's link query.
const TARGETS: Columns = Columns {
    owner: "t.owner",
    visibility: "t.visibility",
    delete_time: "t.delete_time",
};

fn export_items_sql(scope: &ReadScope, filter: &SqlFragment) -> (String, Vec<SqlValue>) {
    let mut sql = SqlFragment::new();
    sql.sql("SELECT items.item FROM items")
        .append(&readable_matching(scope, false, filter))
        .sql(" ORDER BY items.id");
    sql.render()
}

fn export_links_sql(scope: &ReadScope, filter: &SqlFragment) -> (String, Vec<SqlValue>) {
    let mut sql = SqlFragment::new();
    sql.sql(
        "SELECT l.source_id, l.target_id FROM item_links l \
         JOIN items ON items.id = l.source_id JOIN items t ON t.id = l.target_id \
         WHERE l.link_type = 'explicit' AND ",
    )
    .append(&readable(scope, false, &ITEMS))
    .sql(" AND ")
    .append(&readable(scope, false, &TARGETS));
    if !filter.is_empty() {
        sql.sql(" AND (").append(filter).sql(")");
    }
    sql.render()
}

/// Runs the export's two queries on `$tx` (a read transaction of either backend).
macro_rules! read_export {
    ($tx:expr, $items:expr, $links:expr) => {{
        let (text, values) = $items;
        let rows: Vec<Vec<u8>> =
            bind_values!(sqlx::query_scalar(sqlx::AssertSqlSafe(text)), &values)
                .fetch_all(&mut *$tx)
                .await?;
        let (text, values) = $links;
        let links: Vec<(String, String)> =
            bind_values!(sqlx::query_as(sqlx::AssertSqlSafe(text)), &values)
                .fetch_all(&mut *$tx)
                .await?;
        (rows, links)
    }};
}

#[async_trait]
impl VaultStore for SqlItemStore {
    async fn vault_files(
        &self,
        owner: &str,
        vault_name: &str,
    ) -> Result<HashMap<String, String>, StoreError> {
        let rows: Vec<(String, String)> = with_pool!(&self.database, pool => {
            sqlx::query_as(
                "SELECT path, item_id FROM vault_files WHERE owner = $1 AND vault_name = $2",
            )
            .bind(owner)
            .bind(vault_name)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().collect())
    }

    async fn record_vault_files(
        &self,
        owner: &str,
        vault_name: &str,
        added: &[(String, String)],
        replaced: &[(String, String)],
    ) -> Result<(), StoreError> {
        let mut statements = Vec::new();
        for (files, on_conflict) in [
            (added, " ON CONFLICT (owner, vault_name, path) DO NOTHING"),
            (
                replaced,
                " ON CONFLICT (owner, vault_name, path) DO UPDATE SET item_id = excluded.item_id",
            ),
        ] {
            for chunk in files.chunks(CHUNK / 4) {
                let mut sql = SqlFragment::new();
                sql.sql("INSERT INTO vault_files (owner, vault_name, path, item_id) VALUES ");
                for (index, (path, item_id)) in chunk.iter().enumerate() {
                    sql.sql(if index == 0 { "(" } else { ", (" })
                        .value(SqlValue::Text(owner.to_owned()))
                        .sql(", ")
                        .value(SqlValue::Text(vault_name.to_owned()))
                        .sql(", ")
                        .value(SqlValue::Text(path.clone()))
                        .sql(", ")
                        .value(SqlValue::Text(item_id.clone()))
                        .sql(")");
                }
                sql.sql(on_conflict);
                statements.push(sql.render());
            }
        }
        if statements.is_empty() {
            return Ok(());
        }
        with_pool!(&self.database, pool => {
            let mut tx = pool.begin_write().await?;
            for (text, values) in statements {
                bind_values!(sqlx::query(sqlx::AssertSqlSafe(text)), &values)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    async fn items_by_id(&self, ids: &[String]) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            let mut sql = SqlFragment::new();
            sql.sql("SELECT item FROM items WHERE id IN (");
            for (index, id) in chunk.iter().enumerate() {
                if index > 0 {
                    sql.sql(", ");
                }
                sql.value(SqlValue::Text(id.clone()));
            }
            sql.sql(")");
            let (text, values) = sql.render();
            let rows: Vec<Vec<u8>> = with_pool!(&self.database, pool => {
                bind_values!(sqlx::query_scalar(sqlx::AssertSqlSafe(text)), &values)
                    .fetch_all(pool)
                    .await?
            });
            for bytes in rows {
                items.push(decode(&bytes)?);
            }
        }
        Ok(items)
    }

    async fn resolve_keys(
        &self,
        scope: &ReadScope,
        owner: &str,
        keys: &[String],
    ) -> Result<Option<String>, StoreError> {
        if keys.is_empty() {
            return Ok(None);
        }
        let mut sql = SqlFragment::new();
        sql.sql(
            "SELECT k.item_id FROM item_keys k JOIN items ON items.id = k.item_id WHERE k.key IN (",
        );
        for (index, key) in keys.iter().enumerate() {
            if index > 0 {
                sql.sql(", ");
            }
            sql.value(SqlValue::Text(key.clone()));
        }
        sql.sql(") AND ")
            .append(&readable(scope, false, &ITEMS))
            .sql(" ORDER BY k.rank, CASE WHEN items.owner = ")
            .value(SqlValue::Text(owner.to_owned()))
            .sql(" THEN 0 ELSE 1 END, items.create_time, items.id LIMIT 1");
        let (text, values) = sql.render();
        Ok(with_pool!(&self.database, pool => {
            bind_values!(sqlx::query_scalar(sqlx::AssertSqlSafe(text)), &values)
                .fetch_optional(pool)
                .await?
        }))
    }

    async fn export_snapshot(
        &self,
        scope: &ReadScope,
        filter: &SqlFragment,
    ) -> Result<ExportSnapshot, StoreError> {
        let items_sql = export_items_sql(scope, filter);
        let links_sql = export_links_sql(scope, filter);
        let (rows, links) = match &self.database {
            Database::Sqlite(pool) => {
                // A WAL read transaction sees one consistent snapshot from its first read on.
                let mut tx = pool.begin().await?;
                let read = read_export!(tx, items_sql, links_sql);
                tx.commit().await?;
                read
            }
            Database::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .execute(&mut *tx)
                    .await?;
                let read = read_export!(tx, items_sql, links_sql);
                tx.commit().await?;
                read
            }
        };
        Ok(ExportSnapshot {
            items: rows
                .iter()
                .map(|bytes| decode(bytes))
                .collect::<Result<_, _>>()?,
            readable_links: links.into_iter().collect(),
        })
    }
}
