//! Link reads: an item's links and backlinks, the links among a set of items, and item summaries.
//! Content links are read as stored: their `target_id` is kept resolved by every write (see
//! `write.rs`), so a link whose target is NULL is unresolved and never read here.

use pake_api::knowledge::{ItemSummary, LinkType};
use pake_runtime::db::timestamp;
use pake_runtime::with_pool;

use super::read::readable_matching;
use super::{Backlink, Link, ReadScope, SqlItemStore, StoreError};
use crate::links::parse_link_type;
use crate::model::names;
use crate::order::{ListPosition, Order, SortValue};
use crate::sql::{SqlFragment, SqlValue, bind_values};

/// Which end of the links the given ids are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Direction {
    /// The ids are the sources; the targets must be readable.
    From,
    /// The ids are the targets; the sources must be readable.
    To,
}

type LinkRow = (String, i64, String, String, String);
pub(super) type SummaryRow = (String, String, String, String, i64);

/// Link rows with their other end as `items`. `CROSS JOIN` makes SQLite drive the join from the
/// links (found by index on the given end) rather than from every live item; PostgreSQL plans it
/// as any inner join.
const LINK_COLUMNS: &str = "SELECT l.source_id, l.seq, l.link_type, l.text, l.target_id \
                            FROM item_links l CROSS JOIN items";

/// `column IN ($1, …)`.
fn in_list(column: &'static str, ids: &[String]) -> SqlFragment {
    let mut sql = SqlFragment::new();
    sql.sql(column).sql(" IN (");
    for (index, id) in ids.iter().enumerate() {
        if index > 0 {
            sql.sql(", ");
        }
        sql.value(SqlValue::Text(id.clone()));
    }
    sql.sql(")");
    sql
}

fn to_link((source_id, seq, link_type, text, target_id): LinkRow) -> Link {
    Link {
        source_id,
        seq,
        link_type: parse_link_type(&link_type),
        text,
        target_id,
    }
}

pub(super) fn to_summary((id, title, kind, status, update_time): SummaryRow) -> ItemSummary {
    ItemSummary {
        name: format!("items/{id}"),
        title,
        kind: names::parse_kind(&kind) as i32,
        status: names::parse_status(&status) as i32,
        update_time: Some(timestamp(update_time)),
    }
}

/// The condition "`items` links to `target` (and is not `target`)".
fn links_to_target(target: &str) -> SqlFragment {
    let mut sql = SqlFragment::new();
    sql.sql("items.id <> ")
        .value(SqlValue::Text(target.to_owned()))
        .sql(" AND items.id IN (SELECT l.source_id FROM item_links l WHERE l.target_id = ")
        .value(SqlValue::Text(target.to_owned()))
        .sql(")");
    sql
}

impl SqlItemStore {
    async fn fetch_links(&self, sql: &SqlFragment) -> Result<Vec<Link>, StoreError> {
        let (text, values) = sql.render();
        let rows: Vec<LinkRow> = with_pool!(&self.database, pool => {
            bind_values!(sqlx::query_as(sqlx::AssertSqlSafe(text.clone())), &values)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(to_link).collect())
    }

    pub(super) async fn readable_links(
        &self,
        scope: &ReadScope,
        direction: Direction,
        ids: &[String],
    ) -> Result<Vec<Link>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let (other_end, given_end) = match direction {
            Direction::From => ("items.id = l.target_id AND ", "l.source_id"),
            Direction::To => ("items.id = l.source_id AND ", "l.target_id"),
        };
        let mut condition = SqlFragment::new();
        condition.sql(other_end).append(&in_list(given_end, ids));
        let mut sql = SqlFragment::new();
        sql.sql(LINK_COLUMNS)
            .append(&readable_matching(scope, false, &condition))
            .sql(" ORDER BY l.source_id, l.seq");
        self.fetch_links(&sql).await
    }

    pub(super) async fn links_between(&self, ids: &[String]) -> Result<Vec<Link>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = SqlFragment::new();
        sql.sql(LINK_COLUMNS)
            .sql(" WHERE items.id = l.target_id AND ")
            .append(&in_list("l.source_id", ids))
            .sql(" AND ")
            .append(&in_list("l.target_id", ids))
            .sql(" ORDER BY l.source_id, l.seq");
        self.fetch_links(&sql).await
    }

    pub(super) async fn item_summaries(
        &self,
        ids: &[String],
    ) -> Result<Vec<ItemSummary>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = SqlFragment::new();
        sql.sql("SELECT id, title, kind, status, update_time FROM items WHERE ")
            .append(&in_list("id", ids));
        let (text, values) = sql.render();
        let rows: Vec<SummaryRow> = with_pool!(&self.database, pool => {
            bind_values!(sqlx::query_as(sqlx::AssertSqlSafe(text.clone())), &values)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(to_summary).collect())
    }

    pub(super) async fn backlink_page(
        &self,
        scope: &ReadScope,
        target: &str,
        after: Option<&ListPosition>,
        limit: i64,
    ) -> Result<Vec<Backlink>, StoreError> {
        let order = Order::default();
        let mut sql = SqlFragment::new();
        sql.sql(
            "SELECT items.id, items.title, items.kind, items.status, items.update_time FROM items",
        )
        .append(&readable_matching(scope, false, &links_to_target(target)));
        if let Some(after) = after {
            let after = order.after_sql(after).ok_or(StoreError::Position)?;
            sql.sql(" AND ").append(&after);
        }
        order.order_by_sql(&mut sql);
        sql.sql(" LIMIT ").value(SqlValue::Int(limit));
        let (text, values) = sql.render();
        let rows: Vec<SummaryRow> = with_pool!(&self.database, pool => {
            bind_values!(sqlx::query_as(sqlx::AssertSqlSafe(text.clone())), &values)
                .fetch_all(pool)
                .await?
        });
        let sources: Vec<String> = rows.iter().map(|row| row.0.clone()).collect();
        if sources.is_empty() {
            return Ok(Vec::new());
        }
        let mut types_sql = SqlFragment::new();
        types_sql
            .sql("SELECT l.source_id, l.link_type FROM item_links l WHERE l.target_id = ")
            .value(SqlValue::Text(target.to_owned()))
            .sql(" AND ")
            .append(&in_list("l.source_id", &sources));
        let (text, values) = types_sql.render();
        let types: Vec<(String, String)> = with_pool!(&self.database, pool => {
            bind_values!(sqlx::query_as(sqlx::AssertSqlSafe(text.clone())), &values)
                .fetch_all(pool)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(|row| {
                let position = ListPosition {
                    keys: vec![SortValue::Int(row.4)],
                    id: row.0.clone(),
                };
                let mut link_types: Vec<LinkType> = types
                    .iter()
                    .filter(|(source, _)| *source == row.0)
                    .map(|(_, link_type)| parse_link_type(link_type))
                    .collect();
                link_types.sort_by_key(|link_type| *link_type as i32);
                link_types.dedup();
                Backlink {
                    source: to_summary(row),
                    types: link_types,
                    position,
                }
            })
            .collect())
    }

    pub(super) async fn backlink_count(
        &self,
        scope: &ReadScope,
        target: &str,
    ) -> Result<i64, StoreError> {
        self.count_items(scope, false, &links_to_target(target))
            .await
    }
}
