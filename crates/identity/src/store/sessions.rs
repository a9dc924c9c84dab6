//! The `sessions` table and its rotated refresh tokens.

use async_trait::async_trait;
use pake_runtime::db::BeginWrite;
use pake_runtime::with_pool;

use super::audit::insert_audit;
use super::{AuditRecord, SqlIdentityStore, StoreError};

/// A session row (without its refresh-token hash).
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct SessionRecord {
    pub id: String,
    pub user_id: String,
    pub refresh_generation: i64,
    pub client_address: String,
    pub user_agent: String,
    pub create_time: i64,
    pub last_refresh_time: i64,
    pub expire_time: i64,
    pub revoke_time: Option<i64>,
}

impl SessionRecord {
    /// `users/{user}/sessions/{id}`.
    pub fn resource_name(&self) -> String {
        format!("users/{}/sessions/{}", self.user_id, self.id)
    }
}

/// What presenting a refresh token did.
#[derive(Clone, Debug, PartialEq)]
pub enum RefreshOutcome {
    /// The token was current: it is replaced by the new one.
    Rotated(SessionRecord),
    /// The token was already rotated out: a replay. The session is now revoked.
    Replayed {
        /// The revoked session.
        session_id: String,
    },
    /// Unknown token, or the session is revoked or expired.
    Rejected,
}

/// Sign-in sessions.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Inserts a new session with the hash of its first refresh token, and `audit` in the same
    /// transaction.
    async fn insert_session(
        &self,
        session: &SessionRecord,
        refresh_hash: &[u8],
        audit: Option<&AuditRecord>,
    ) -> Result<(), StoreError>;
    /// A session by id.
    async fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError>;
    /// Exchanges the refresh token `presented` for `replacement`, atomically. When the token
    /// is a replay, the session is revoked and `on_replay` is inserted in the same transaction
    /// with the session's name as its target.
    async fn rotate_refresh_token(
        &self,
        presented: &[u8],
        replacement: &[u8],
        now: i64,
        on_replay: Option<&AuditRecord>,
    ) -> Result<RefreshOutcome, StoreError>;
    /// Revokes a session, inserting `audit` in the same transaction when it did; false when it
    /// was unknown or already revoked (and nothing was written).
    async fn revoke_session(
        &self,
        id: &str,
        now: i64,
        audit: Option<&AuditRecord>,
    ) -> Result<bool, StoreError>;
    /// The user's live sessions (not revoked, not expired), most recently refreshed first.
    async fn live_sessions(
        &self,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<SessionRecord>, StoreError>;
}

pub(super) const SESSION_COLUMNS: &str = "id, user_id, refresh_generation, client_address, \
    user_agent, create_time, last_refresh_time, expire_time, revoke_time";

#[async_trait]
impl SessionStore for SqlIdentityStore {
    async fn insert_session(
        &self,
        session: &SessionRecord,
        refresh_hash: &[u8],
        audit: Option<&AuditRecord>,
    ) -> Result<(), StoreError> {
        with_pool!(&self.database, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO sessions (id, user_id, refresh_hash, refresh_generation, client_address, \
                 user_agent, create_time, last_refresh_time, expire_time, revoke_time) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(&session.id)
            .bind(&session.user_id)
            .bind(refresh_hash)
            .bind(session.refresh_generation)
            .bind(&session.client_address)
            .bind(&session.user_agent)
            .bind(session.create_time)
            .bind(session.last_refresh_time)
            .bind(session.expire_time)
            .bind(session.revoke_time)
            .execute(&mut *tx)
            .await?;
            if let Some(record) = audit {
                insert_audit!(&mut *tx, record)?;
            }
            tx.commit().await?
        });
        Ok(())
    }

    async fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1");
        Ok(with_pool!(&self.database, pool => {
            sqlx::query_as::<_, SessionRecord>(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?
        }))
    }

    async fn rotate_refresh_token(
        &self,
        presented: &[u8],
        replacement: &[u8],
        now: i64,
        on_replay: Option<&AuditRecord>,
    ) -> Result<RefreshOutcome, StoreError> {
        let select = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE refresh_hash = $1");
        with_pool!(&self.database, pool => {
            let mut tx = pool.begin_write().await?;
            let current = sqlx::query_as::<_, SessionRecord>(sqlx::AssertSqlSafe(select))
                .bind(presented)
                .fetch_optional(&mut *tx)
                .await?;
            // The UPDATE re-checks the hash: on PostgreSQL a concurrent rotation of the same
            // token may commit between the SELECT and here; the UPDATE then waits for it, matches
            // no row, and this presentation is treated as the replay it is.
            let rotated = match current {
                Some(session) if session.revoke_time.is_none() && session.expire_time > now => {
                    let updated = sqlx::query(
                        "UPDATE sessions SET refresh_hash = $1, refresh_generation = refresh_generation + 1, \
                         last_refresh_time = $2 WHERE id = $3 AND refresh_hash = $4 AND revoke_time IS NULL",
                    )
                    .bind(replacement)
                    .bind(now)
                    .bind(&session.id)
                    .bind(presented)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if updated == 1 {
                        sqlx::query(
                            "INSERT INTO rotated_refresh_tokens (refresh_hash, session_id, rotate_time) \
                             VALUES ($1, $2, $3)",
                        )
                        .bind(presented)
                        .bind(&session.id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                        Some(RefreshOutcome::Rotated(SessionRecord {
                            refresh_generation: session.refresh_generation + 1,
                            last_refresh_time: now,
                            ..session
                        }))
                    } else {
                        None
                    }
                }
                Some(_) => Some(RefreshOutcome::Rejected),
                None => None,
            };
            let outcome = match rotated {
                Some(outcome) => outcome,
                None => {
                    let replayed: Option<(String, String)> = sqlx::query_as(
                        "SELECT r.session_id, s.user_id FROM rotated_refresh_tokens r \
                         JOIN sessions s ON s.id = r.session_id WHERE r.refresh_hash = $1",
                    )
                    .bind(presented)
                    .fetch_optional(&mut *tx)
                    .await?;
                    match replayed {
                        Some((session_id, user_id)) => {
                            sqlx::query(
                                "UPDATE sessions SET revoke_time = $1 WHERE id = $2 AND revoke_time IS NULL",
                            )
                            .bind(now)
                            .bind(&session_id)
                            .execute(&mut *tx)
                            .await?;
                            if let Some(template) = on_replay {
                                let record = AuditRecord {
                                    target: format!("users/{user_id}/sessions/{session_id}"),
                                    ..template.clone()
                                };
                                insert_audit!(&mut *tx, &record)?;
                            }
                            RefreshOutcome::Replayed { session_id }
                        }
                        None => RefreshOutcome::Rejected,
                    }
                }
            };
            tx.commit().await?;
            Ok(outcome)
        })
    }

    async fn revoke_session(
        &self,
        id: &str,
        now: i64,
        audit: Option<&AuditRecord>,
    ) -> Result<bool, StoreError> {
        let revoked = with_pool!(&self.database, pool => {
            let mut tx = pool.begin_write().await?;
            let affected = sqlx::query(
                "UPDATE sessions SET revoke_time = $1 WHERE id = $2 AND revoke_time IS NULL",
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

    async fn live_sessions(
        &self,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = $1 AND revoke_time IS NULL \
             AND expire_time > $2 ORDER BY last_refresh_time DESC, id DESC"
        );
        Ok(with_pool!(&self.database, pool => {
            sqlx::query_as::<_, SessionRecord>(sqlx::AssertSqlSafe(sql))
                .bind(user_id)
                .bind(now)
                .fetch_all(pool)
                .await?
        }))
    }
}
