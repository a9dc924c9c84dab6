//! The audit log table: append, list a page, prune past the retention.

use async_trait::async_trait;
use pake_runtime::sql::SqlFragment;
use pake_runtime::{bind_values, with_pool};

use super::{ListQuery, SqlIdentityStore, StoreError, push_where};

/// An audit event as stored. Built (and bounded) by `crate::audit`; the store keeps it as is.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditRecord {
    /// UUIDv7.
    pub id: String,
    /// The AuditEventType name without prefix, lower case: `sign_in_failed`.
    pub event_type: String,
    pub create_time: i64,
    pub actor: String,
    pub target: String,
    pub client_address: String,
    pub user_agent: String,
    pub trace_id: String,
    /// A JSON object of strings.
    pub attributes: String,
}

impl AuditRecord {
    /// `auditEvents/{id}`.
    pub fn resource_name(&self) -> String {
        format!("auditEvents/{}", self.id)
    }
}

/// The audit log. Events that accompany a write are inserted by that write, in its transaction
/// (the other stores take an `AuditRecord`); this trait appends the others, lists and prunes.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends one event.
    async fn append_audit_event(&self, event: &AuditRecord) -> Result<(), StoreError>;
    /// A page of events (`condition` over `audit_events`).
    async fn list_audit_events(
        &self,
        query: &ListQuery<'_>,
    ) -> Result<Vec<AuditRecord>, StoreError>;
    /// Deletes the events created before `cutoff` (microseconds); returns how many.
    async fn prune_audit_events(&self, cutoff: i64) -> Result<u64, StoreError>;
}

const AUDIT_COLUMNS: &str = "id, event_type, create_time, actor, target, client_address, \
    user_agent, trace_id, attributes";

/// Inserts an [`AuditRecord`] with `$executor` (a pool or `&mut *tx` of either backend);
/// evaluates to `Result<(), sqlx::Error>`.
macro_rules! insert_audit {
    ($executor:expr, $record:expr) => {{
        let record: &$crate::store::AuditRecord = $record;
        sqlx::query(
            "INSERT INTO audit_events (id, event_type, create_time, actor, target, \
             client_address, user_agent, trace_id, attributes) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&record.id)
        .bind(&record.event_type)
        .bind(record.create_time)
        .bind(&record.actor)
        .bind(&record.target)
        .bind(&record.client_address)
        .bind(&record.user_agent)
        .bind(&record.trace_id)
        .bind(&record.attributes)
        .execute($executor)
        .await
        .map(|_| ())
    }};
}
pub(super) use insert_audit;

#[async_trait]
impl AuditStore for SqlIdentityStore {
    async fn append_audit_event(&self, event: &AuditRecord) -> Result<(), StoreError> {
        with_pool!(&self.database, pool => insert_audit!(pool, event)?);
        Ok(())
    }

    async fn list_audit_events(
        &self,
        query: &ListQuery<'_>,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let mut sql = SqlFragment::new();
        sql.sql("SELECT ")
            .sql(AUDIT_COLUMNS)
            .sql(" FROM audit_events");
        push_where(&mut sql, query.condition);
        sql.append(query.order_by)
            .sql(" LIMIT ")
            .value(pake_runtime::sql::SqlValue::Int(query.limit));
        let (text, values) = sql.render();
        Ok(with_pool!(&self.database, pool => {
            bind_values!(sqlx::query_as::<_, AuditRecord>(sqlx::AssertSqlSafe(text)), &values)
                .fetch_all(pool)
                .await?
        }))
    }

    async fn prune_audit_events(&self, cutoff: i64) -> Result<u64, StoreError> {
        Ok(with_pool!(&self.database, pool => {
            sqlx::query("DELETE FROM audit_events WHERE create_time < $1")
                .bind(cutoff)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}
