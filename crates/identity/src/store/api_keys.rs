//! The `api_keys` table.

use async_trait::async_trait;
use pake_runtime::db::BeginWrite;
use pake_runtime::with_pool;

use super::audit::insert_audit;
use super::{AuditRecord, SqlIdentityStore, StoreError};

/// An API key row (without its secret hash).
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct ApiKeyRecord {
    pub id: String,
    pub user_id: String,
    pub display_name: String,
    /// Comma-separated role names; empty means all of the owner's roles.
    pub roles: String,
    pub create_time: i64,
    pub expire_time: Option<i64>,
    pub last_use_time: Option<i64>,
    pub revoke_time: Option<i64>,
}

impl ApiKeyRecord {
    /// `users/{user}/apiKeys/{id}`.
    pub fn resource_name(&self) -> String {
        format!("users/{}/apiKeys/{}", self.user_id, self.id)
    }
}

/// API keys.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Inserts an API key with the keyed hash of its secret, and `audit` in the same
    /// transaction.
    async fn insert_api_key(
        &self,
        key: &ApiKeyRecord,
        secret_hash: &[u8],
        audit: Option<&AuditRecord>,
    ) -> Result<(), StoreError>;
    /// A key (revoked or not) and its secret hash.
    async fn api_key(&self, id: &str) -> Result<Option<(ApiKeyRecord, Vec<u8>)>, StoreError>;
    /// A user's keys that are not revoked, newest first.
    async fn api_keys_of(&self, user_id: &str) -> Result<Vec<ApiKeyRecord>, StoreError>;
    /// Revokes a key, inserting `audit` in the same transaction when it did; false when it was
    /// unknown or already revoked (and nothing was written).
    async fn revoke_api_key(
        &self,
        id: &str,
        now: i64,
        audit: Option<&AuditRecord>,
    ) -> Result<bool, StoreError>;
    /// Records a use of the key (callers round `now` to the minute to bound writes).
    async fn touch_api_key(&self, id: &str, now: i64) -> Result<(), StoreError>;
}

pub(super) const API_KEY_COLUMNS: &str =
    "id, user_id, display_name, roles, create_time, expire_time, last_use_time, revoke_time";

#[async_trait]
impl ApiKeyStore for SqlIdentityStore {
    async fn insert_api_key(
        &self,
        key: &ApiKeyRecord,
        secret_hash: &[u8],
        audit: Option<&AuditRecord>,
    ) -> Result<(), StoreError> {
        with_pool!(&self.database, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO api_keys (id, user_id, display_name, roles, secret_hash, create_time, \
                 expire_time, last_use_time, revoke_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&key.id)
            .bind(&key.user_id)
            .bind(&key.display_name)
            .bind(&key.roles)
            .bind(secret_hash)
            .bind(key.create_time)
            .bind(key.expire_time)
            .bind(key.last_use_time)
            .bind(key.revoke_time)
            .execute(&mut *tx)
            .await?;
            if let Some(record) = audit {
                insert_audit!(&mut *tx, record)?;
            }
            tx.commit().await?
        });
        Ok(())
    }

    async fn api_key(&self, id: &str) -> Result<Option<(ApiKeyRecord, Vec<u8>)>, StoreError> {
        let sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE id = $1");
        let hash_sql = "SELECT secret_hash FROM api_keys WHERE id = $1";
        with_pool!(&self.database, pool => {
            let key = sqlx::query_as::<_, ApiKeyRecord>(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .fetch_optional(pool)
                .await?;
            let Some(key) = key else { return Ok(None) };
            let hash: Vec<u8> = sqlx::query_scalar(hash_sql).bind(id).fetch_one(pool).await?;
            Ok(Some((key, hash)))
        })
    }

    async fn api_keys_of(&self, user_id: &str) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let sql = format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE user_id = $1 AND revoke_time IS NULL \
             ORDER BY create_time DESC, id DESC"
        );
        Ok(with_pool!(&self.database, pool => {
            sqlx::query_as::<_, ApiKeyRecord>(sqlx::AssertSqlSafe(sql))
                .bind(user_id)
                .fetch_all(pool)
                .await?
        }))
    }

    async fn revoke_api_key(
        &self,
        id: &str,
        now: i64,
        audit: Option<&AuditRecord>,
    ) -> Result<bool, StoreError> {
        let revoked = with_pool!(&self.database, pool => {
            let mut tx = pool.begin_write().await?;
            let affected = sqlx::query(
                "UPDATE api_keys SET revoke_time = $1 WHERE id = $2 AND revoke_time IS NULL",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if affected > 0
                && let Some(record) = audit
            {
                insert_audit!(&mut *tx, record)?;
            }
            tx.commit().await?;
            affected > 0
        });
        Ok(revoked)
    }

    async fn touch_api_key(&self, id: &str, now: i64) -> Result<(), StoreError> {
        with_pool!(&self.database, pool => {
            sqlx::query(
                "UPDATE api_keys SET last_use_time = $1 WHERE id = $2 \
                 AND (last_use_time IS NULL OR last_use_time < $3)",
            )
            .bind(now)
            .bind(id)
            .bind(now)
            .execute(pool)
            .await
            .map(|_| ())?
        });
        Ok(())
    }
}
