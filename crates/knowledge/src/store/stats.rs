//! GetItemStats in SQL: one aggregate scan for the counts, buckets and mean, one query for the
//! most linked items and one for the most recent.

use pake_api::knowledge::item::{Kind, Status, Verification};
use pake_runtime::with_pool;
use sqlx::Row;

use super::graph::to_summary;
use super::read::{Columns, readable, readable_matching};
use super::{ReadScope, SqlItemStore, Stats, StoreError};
use crate::model::names;
use crate::sql::{SqlFragment, SqlValue, bind_values};

/// Kinds, statuses and verifications in enum order (the order of the counts in [`Stats`]).
pub(crate) const KINDS: [Kind; 5] = [
    Kind::Note,
    Kind::Project,
    Kind::Resource,
    Kind::Daily,
    Kind::System,
];
pub(crate) const STATUSES: [Status; 4] = [
    Status::Draft,
    Status::Processing,
    Status::Verified,
    Status::Archived,
];
pub(crate) const VERIFICATIONS: [Verification; 3] = [
    Verification::Pending,
    Verification::Verified,
    Verification::Rejected,
];
/// The confidence bands as conditions, highest first.
const BUCKETS: [&str; 5] = [
    "items.confidence_score >= 0.9",
    "items.confidence_score >= 0.7 AND items.confidence_score < 0.9",
    "items.confidence_score >= 0.5 AND items.confidence_score < 0.7",
    "items.confidence_score >= 0.3 AND items.confidence_score < 0.5",
    "items.confidence_score < 0.3",
];
/// How many most linked and most recent items are returned.
const TOP: i64 = 10;

/// The linking items of "most linked", named `src`.
const SOURCES: Columns = Columns {
    owner: "src.owner",
    visibility: "src.visibility",
    delete_time: "src.delete_time",
};

/// `, CAST(COALESCE(SUM(CASE WHEN column = 'value' THEN 1 ELSE 0 END), 0) AS BIGINT)`.
fn count_where(sql: &mut SqlFragment, column: &'static str, value: &'static str) {
    sql.sql(", CAST(COALESCE(SUM(CASE WHEN ")
        .sql(column)
        .sql(" = '")
        .sql(value)
        .sql("' THEN 1 ELSE 0 END), 0) AS BIGINT)");
}

const SUMMARY_COLUMNS: &str =
    "SELECT items.id, items.title, items.kind, items.status, items.update_time";

impl SqlItemStore {
    pub(super) async fn item_stats(
        &self,
        scope: &ReadScope,
        filter: &SqlFragment,
    ) -> Result<Stats, StoreError> {
        let matching = readable_matching(scope, false, filter);
        let mut sql = SqlFragment::new();
        sql.sql("SELECT CAST(COUNT(*) AS BIGINT), AVG(items.confidence_score)");
        for kind in KINDS {
            count_where(&mut sql, "items.kind", names::kind(kind));
        }
        for status in STATUSES {
            count_where(&mut sql, "items.status", names::status(status));
        }
        for verification in VERIFICATIONS {
            count_where(
                &mut sql,
                "items.verification",
                names::verification(verification),
            );
        }
        for bucket in BUCKETS {
            sql.sql(", CAST(COALESCE(SUM(CASE WHEN ")
                .sql(bucket)
                .sql(" THEN 1 ELSE 0 END), 0) AS BIGINT)");
        }
        sql.sql(" FROM items").append(&matching);

        let mut recent = SqlFragment::new();
        recent
            .sql(SUMMARY_COLUMNS)
            .sql(" FROM items")
            .append(&matching)
            .sql(" ORDER BY items.update_time DESC, items.id DESC LIMIT ")
            .value(SqlValue::Int(TOP));

        // Backlink counts first (from live sources the reader may read), then the counted items
        // among them: a plan that stays linear in the links whatever the planner's estimates.
        let mut linked = SqlFragment::new();
        linked
            .sql(SUMMARY_COLUMNS)
            .sql(", counted.backlinks FROM items JOIN (")
            .sql("SELECT l.target_id, CAST(COUNT(DISTINCT l.source_id) AS BIGINT) AS backlinks")
            .sql(" FROM item_links l CROSS JOIN items src")
            .sql(" WHERE src.id = l.source_id AND l.source_id <> l.target_id AND ")
            .append(&readable(scope, false, &SOURCES))
            .sql(" GROUP BY l.target_id) counted ON counted.target_id = items.id")
            .append(&matching)
            .sql(" ORDER BY counted.backlinks DESC, items.update_time DESC, items.id DESC LIMIT ")
            .value(SqlValue::Int(TOP));

        let (text, values) = sql.render();
        let (recent_text, recent_values) = recent.render();
        let (linked_text, linked_values) = linked.render();
        let (row, recent_rows, linked_rows) = with_pool!(&self.database, pool => {
            let row = bind_values!(sqlx::query(sqlx::AssertSqlSafe(text.clone())), &values)
                .fetch_one(pool)
                .await?;
            let counts: Vec<i64> = (2..2 + 5 + 4 + 3 + 5)
                .map(|column| row.try_get::<i64, _>(column))
                .collect::<Result<_, _>>()?;
            let head: (i64, Option<f64>) = (row.try_get(0)?, row.try_get(1)?);
            let recent_rows: Vec<(String, String, String, String, i64)> = bind_values!(
                sqlx::query_as(sqlx::AssertSqlSafe(recent_text.clone())),
                &recent_values
            )
            .fetch_all(pool)
            .await?;
            let linked_rows: Vec<(String, String, String, String, i64, i64)> = bind_values!(
                sqlx::query_as(sqlx::AssertSqlSafe(linked_text.clone())),
                &linked_values
            )
            .fetch_all(pool)
            .await?;
            ((head, counts), recent_rows, linked_rows)
        });
        let ((total, average), counts) = row;
        let mut stats = Stats {
            total,
            average_confidence: if total > 0 { average } else { None },
            ..Stats::default()
        };
        let mut counts = counts.into_iter();
        for slot in stats
            .kinds
            .iter_mut()
            .chain(stats.statuses.iter_mut())
            .chain(stats.verifications.iter_mut())
            .chain(stats.buckets.iter_mut())
        {
            *slot = counts.next().unwrap_or_default();
        }
        stats.most_recent = recent_rows.into_iter().map(to_summary).collect();
        stats.most_linked = linked_rows
            .into_iter()
            .map(|(id, title, kind, status, update_time, count)| {
                (to_summary((id, title, kind, status, update_time)), count)
            })
            .collect();
        Ok(stats)
    }
}
