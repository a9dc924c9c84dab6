//! Deleting users: the `users` row goes at once (its sessions, rotated refresh tokens and API
//! keys with it, by cascade), a `deleted_users` row keeps the id from being reused and carries the
//! item disposition until the knowledge service has carried it out.

use async_trait::async_trait;
use pake_runtime::db::BeginWrite;
use pake_runtime::with_pool;

use super::api_keys::ApiKeyRecord;
use super::audit::insert_audit;
use super::sessions::{SESSION_COLUMNS, SessionRecord};
use super::{AuditRecord, SqlIdentityStore, StoreError};

/// What deleting a user removed, so the caller can revoke its tokens everywhere.
#[derive(Clone, Debug, PartialEq)]
pub enum DeleteOutcome {
    /// The user is gone; these were its live sessions and its API keys.
    Deleted {
        /// Sessions not yet revoked.
        sessions: Vec<SessionRecord>,
        /// Every API key.
        api_keys: Vec<ApiKeyRecord>,
    },
    /// The user's revision was not the expected one (or it no longer exists).
    Stale,
}

/// A deleted user whose items still wait for the knowledge service.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct PendingDisposal {
    /// The deleted user's id.
    pub user_id: String,
    /// The new owner (`users/{id}`), or empty to delete the items.
    pub reassign_to: String,
    /// Failed attempts so far.
    pub disposal_attempts: i64,
}

/// Deleted users and their pending item dispositions.
#[async_trait]
pub trait DeletionStore: Send + Sync {
    /// Deletes user `id` if its revision is `expected_revision`, recording the disposition
    /// (`reassign_to` empty: delete the items) and `audit` in the same transaction.
    async fn delete_user(
        &self,
        id: &str,
        expected_revision: i64,
        reassign_to: &str,
        now: i64,
        audit: &AuditRecord,
    ) -> Result<DeleteOutcome, StoreError>;
    /// Whether `id` belonged to a deleted user (ids are never reused).
    async fn is_deleted_user(&self, id: &str) -> Result<bool, StoreError>;
    /// Up to `limit` dispositions not carried out yet, oldest first.
    async fn pending_disposals(&self, limit: i64) -> Result<Vec<PendingDisposal>, StoreError>;
    /// Marks a disposition carried out.
    async fn finish_disposal(&self, user_id: &str, now: i64) -> Result<(), StoreError>;
    /// Records a failed attempt (the message is from the knowledge service, never a secret).
    async fn fail_disposal(&self, user_id: &str, error: &str) -> Result<(), StoreError>;
}

#[async_trait]
impl DeletionStore for SqlIdentityStore {
    async fn delete_user(
        &self,
        id: &str,
        expected_revision: i64,
        reassign_to: &str,
        now: i64,
        audit: &AuditRecord,
    ) -> Result<DeleteOutcome, StoreError> {
        let sessions_sql = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = $1 AND revoke_time IS NULL \
             AND expire_time > $2"
        );
        let keys_sql = format!(
            "SELECT {} FROM api_keys WHERE user_id = $1",
            super::api_keys::API_KEY_COLUMNS
        );
        with_pool!(&self.database, pool => {
            let mut tx = pool.begin_write().await?;
            let sessions = sqlx::query_as::<_, SessionRecord>(sqlx::AssertSqlSafe(sessions_sql))
                .bind(id)
                .bind(now)
                .fetch_all(&mut *tx)
                .await?;
            let api_keys = sqlx::query_as::<_, ApiKeyRecord>(sqlx::AssertSqlSafe(keys_sql))
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
            let deleted = sqlx::query("DELETE FROM users WHERE id = $1 AND revision = $2")
                .bind(id)
                .bind(expected_revision)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if deleted == 0 {
                tx.rollback().await?;
                return Ok(DeleteOutcome::Stale);
            }
            sqlx::query(
                "INSERT INTO deleted_users (id, delete_time, reassign_to) VALUES ($1, $2, $3)",
            )
            .bind(id)
            .bind(now)
            .bind(reassign_to)
            .execute(&mut *tx)
            .await?;
            insert_audit!(&mut *tx, audit)?;
            tx.commit().await?;
            Ok(DeleteOutcome::Deleted { sessions, api_keys })
        })
    }

    async fn is_deleted_user(&self, id: &str) -> Result<bool, StoreError> {
        let found: Option<(String,)> = with_pool!(&self.database, pool => {
            sqlx::query_as("SELECT id FROM deleted_users WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        Ok(found.is_some())
    }

    async fn pending_disposals(&self, limit: i64) -> Result<Vec<PendingDisposal>, StoreError> {
        Ok(with_pool!(&self.database, pool => {
            sqlx::query_as::<_, PendingDisposal>(
                "SELECT id AS user_id, reassign_to, disposal_attempts FROM deleted_users \
                 WHERE items_done_time IS NULL ORDER BY delete_time, id LIMIT $1",
            )
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    async fn finish_disposal(&self, user_id: &str, now: i64) -> Result<(), StoreError> {
        with_pool!(&self.database, pool => {
            sqlx::query("UPDATE deleted_users SET items_done_time = $1 WHERE id = $2")
                .bind(now)
                .bind(user_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    async fn fail_disposal(&self, user_id: &str, error: &str) -> Result<(), StoreError> {
        let error: String = error.chars().take(1024).collect();
        with_pool!(&self.database, pool => {
            sqlx::query(
                "UPDATE deleted_users SET disposal_attempts = disposal_attempts + 1, \
                 last_disposal_error = $1 WHERE id = $2",
            )
            .bind(error)
            .bind(user_id)
            .execute(pool)
            .await?;
        });
        Ok(())
    }
}
