//! The `users` table (and the request ids of CreateUser).

use async_trait::async_trait;
use pake_core::auth::Role;
use pake_runtime::db::BeginWrite;
use pake_runtime::sql::{SqlFragment, SqlValue};
use pake_runtime::{bind_values, with_pool};

use super::audit::insert_audit;
use super::sessions::SESSION_COLUMNS;
use super::{
    AuditRecord, ListQuery, SessionRecord, SqlIdentityStore, StoreError, map_conflict, push_where,
};

/// A user row.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct UserRecord {
    pub id: String,
    pub username: String,
    pub username_key: String,
    pub email: Option<String>,
    pub email_key: Option<String>,
    pub display_name: String,
    /// Comma-separated role names.
    pub roles: String,
    pub disabled: bool,
    pub service_account: bool,
    pub password_hash: String,
    pub password_update_time: i64,
    pub last_sign_in_time: Option<i64>,
    pub revision: i64,
    pub create_time: i64,
    pub update_time: i64,
}

impl UserRecord {
    /// The roles, parsed; unknown names are dropped.
    pub fn role_list(&self) -> Vec<Role> {
        self.roles.split(',').filter_map(Role::parse).collect()
    }

    /// `users/{id}`.
    pub fn resource_name(&self) -> String {
        format!("users/{}", self.id)
    }
}

/// Users.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Inserts a new user; a taken username or email is [`StoreError::Conflict`]. With a
    /// `request` (caller, request id), records it in the same transaction, and so `audit`.
    async fn insert_user(
        &self,
        user: &UserRecord,
        request: Option<(&str, &str)>,
        audit: Option<&AuditRecord>,
    ) -> Result<(), StoreError>;
    /// The user created by `caller` with `request_id` since `since` (microseconds), if any.
    async fn user_by_request(
        &self,
        caller: &str,
        request_id: &str,
        since: i64,
    ) -> Result<Option<UserRecord>, StoreError>;
    /// A user by id.
    async fn user_by_id(&self, id: &str) -> Result<Option<UserRecord>, StoreError>;
    /// A user by normalised username or email.
    async fn user_by_login(&self, key: &str) -> Result<Option<UserRecord>, StoreError>;
    /// Records a successful sign-in, replacing the password hash if it was rehashed.
    async fn record_sign_in(
        &self,
        user_id: &str,
        now: i64,
        rehashed: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Stores `user` (its next version) if the stored revision is still `expected_revision`;
    /// with `revoke_sessions`, also revokes every live session, and inserts `audit`, in the
    /// same transaction; returns the revoked sessions. `Ok(None)` when the revision moved (a
    /// concurrent update won) and nothing was written.
    async fn update_user(
        &self,
        user: &UserRecord,
        expected_revision: i64,
        revoke_sessions: bool,
        audit: &[AuditRecord],
    ) -> Result<Option<Vec<SessionRecord>>, StoreError>;
    /// How many enabled users hold the admin role.
    async fn count_active_admins(&self) -> Result<i64, StoreError>;
    /// Replaces the password hash, revokes every live session and inserts `audit`, atomically;
    /// returns those sessions so their access tokens can be revoked too.
    async fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
        now: i64,
        audit: Option<&AuditRecord>,
    ) -> Result<Vec<SessionRecord>, StoreError>;
    /// A page of users (`condition` over `users`).
    async fn list_users(&self, query: &ListQuery<'_>) -> Result<Vec<UserRecord>, StoreError>;
    /// How many users match `condition` (over `users`; empty for all).
    async fn count_users(&self, condition: &SqlFragment) -> Result<i64, StoreError>;
}

const USER_COLUMNS: &str = "id, username, username_key, email, email_key, display_name, roles, \
    disabled, service_account, password_hash, password_update_time, last_sign_in_time, revision, \
    create_time, update_time";

#[async_trait]
impl UserStore for SqlIdentityStore {
    async fn insert_user(
        &self,
        user: &UserRecord,
        request: Option<(&str, &str)>,
        audit: Option<&AuditRecord>,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO users ({USER_COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        );
        let result = with_pool!(&self.database, pool => async {
            let mut tx = pool.begin_write().await?;
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(&user.id)
                .bind(&user.username)
                .bind(&user.username_key)
                .bind(&user.email)
                .bind(&user.email_key)
                .bind(&user.display_name)
                .bind(&user.roles)
                .bind(user.disabled)
                .bind(user.service_account)
                .bind(&user.password_hash)
                .bind(user.password_update_time)
                .bind(user.last_sign_in_time)
                .bind(user.revision)
                .bind(user.create_time)
                .bind(user.update_time)
                .execute(&mut *tx)
                .await?;
            if let Some((caller, request_id)) = request {
                sqlx::query(
                    "INSERT INTO create_user_requests (caller, request_id, user_id, create_time) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (caller, request_id) DO UPDATE \
                     SET user_id = excluded.user_id, create_time = excluded.create_time",
                )
                .bind(caller)
                .bind(request_id)
                .bind(&user.id)
                .bind(user.create_time)
                .execute(&mut *tx)
                .await?;
            }
            if let Some(record) = audit {
                insert_audit!(&mut *tx, record)?;
            }
            tx.commit().await
        }
        .await);
        result.map_err(map_conflict)
    }

    async fn user_by_request(
        &self,
        caller: &str,
        request_id: &str,
        since: i64,
    ) -> Result<Option<UserRecord>, StoreError> {
        let columns = USER_COLUMNS
            .split(", ")
            .map(|column| format!("u.{column}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {columns} FROM create_user_requests r JOIN users u ON u.id = r.user_id \
             WHERE r.caller = $1 AND r.request_id = $2 AND r.create_time >= $3"
        );
        Ok(with_pool!(&self.database, pool => {
            sqlx::query_as::<_, UserRecord>(sqlx::AssertSqlSafe(sql))
                .bind(caller)
                .bind(request_id)
                .bind(since)
                .fetch_optional(pool)
                .await?
        }))
    }

    async fn user_by_id(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        Ok(with_pool!(&self.database, pool => {
            sqlx::query_as::<_, UserRecord>(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?
        }))
    }

    async fn user_by_login(&self, key: &str) -> Result<Option<UserRecord>, StoreError> {
        let sql =
            format!("SELECT {USER_COLUMNS} FROM users WHERE username_key = $1 OR email_key = $2");
        Ok(with_pool!(&self.database, pool => {
            sqlx::query_as::<_, UserRecord>(sqlx::AssertSqlSafe(sql))
                .bind(key)
                .bind(key)
                .fetch_optional(pool)
                .await?
        }))
    }

    async fn record_sign_in(
        &self,
        user_id: &str,
        now: i64,
        rehashed: Option<&str>,
    ) -> Result<(), StoreError> {
        with_pool!(&self.database, pool => {
            sqlx::query(
                "UPDATE users SET last_sign_in_time = $1, \
                 password_hash = COALESCE($2, password_hash) WHERE id = $3",
            )
            .bind(now)
            .bind(rehashed)
            .bind(user_id)
            .execute(pool)
            .await
            .map(|_| ())?
        });
        Ok(())
    }

    async fn update_user(
        &self,
        user: &UserRecord,
        expected_revision: i64,
        revoke_sessions: bool,
        audit: &[AuditRecord],
    ) -> Result<Option<Vec<SessionRecord>>, StoreError> {
        let select = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = $1 AND revoke_time IS NULL"
        );
        let result: Result<Option<Vec<SessionRecord>>, sqlx::Error> = with_pool!(&self.database, pool => async {
            let mut tx = pool.begin_write().await?;
            let updated = sqlx::query(
                "UPDATE users SET username = $1, username_key = $2, email = $3, email_key = $4, \
                 display_name = $5, roles = $6, disabled = $7, revision = $8, update_time = $9 \
                 WHERE id = $10 AND revision = $11",
            )
            .bind(&user.username)
            .bind(&user.username_key)
            .bind(&user.email)
            .bind(&user.email_key)
            .bind(&user.display_name)
            .bind(&user.roles)
            .bind(user.disabled)
            .bind(user.revision)
            .bind(user.update_time)
            .bind(&user.id)
            .bind(expected_revision)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 0 {
                tx.rollback().await?;
                return Ok(None);
            }
            let mut ended = Vec::new();
            if revoke_sessions {
                ended = sqlx::query_as::<_, SessionRecord>(sqlx::AssertSqlSafe(select))
                    .bind(&user.id)
                    .fetch_all(&mut *tx)
                    .await?;
                sqlx::query("UPDATE sessions SET revoke_time = $1 WHERE user_id = $2 AND revoke_time IS NULL")
                    .bind(user.update_time)
                    .bind(&user.id)
                    .execute(&mut *tx)
                    .await?;
            }
            for record in audit {
                insert_audit!(&mut *tx, record)?;
            }
            tx.commit().await?;
            Ok(Some(ended))
        }
        .await);
        result.map_err(map_conflict)
    }

    async fn count_active_admins(&self) -> Result<i64, StoreError> {
        Ok(with_pool!(&self.database, pool => {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM users WHERE disabled = $1 AND (roles = 'admin' OR roles LIKE 'admin,%' \
                 OR roles LIKE '%,admin' OR roles LIKE '%,admin,%')",
            )
            .bind(false)
            .fetch_one(pool)
            .await?
        }))
    }

    async fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
        now: i64,
        audit: Option<&AuditRecord>,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let select = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = $1 AND revoke_time IS NULL"
        );
        with_pool!(&self.database, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "UPDATE users SET password_hash = $1, password_update_time = $2, update_time = $3, \
                 revision = revision + 1 WHERE id = $4",
            )
            .bind(password_hash)
            .bind(now)
            .bind(now)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
            let sessions = sqlx::query_as::<_, SessionRecord>(sqlx::AssertSqlSafe(select))
                .bind(user_id)
                .fetch_all(&mut *tx)
                .await?;
            sqlx::query("UPDATE sessions SET revoke_time = $1 WHERE user_id = $2 AND revoke_time IS NULL")
                .bind(now)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            if let Some(record) = audit {
                insert_audit!(&mut *tx, record)?;
            }
            tx.commit().await?;
            Ok(sessions)
        })
    }

    async fn list_users(&self, query: &ListQuery<'_>) -> Result<Vec<UserRecord>, StoreError> {
        let mut sql = SqlFragment::new();
        sql.sql("SELECT ").sql(USER_COLUMNS).sql(" FROM users");
        push_where(&mut sql, query.condition);
        sql.append(query.order_by)
            .sql(" LIMIT ")
            .value(SqlValue::Int(query.limit));
        let (text, values) = sql.render();
        Ok(with_pool!(&self.database, pool => {
            bind_values!(sqlx::query_as::<_, UserRecord>(sqlx::AssertSqlSafe(text)), &values)
                .fetch_all(pool)
                .await?
        }))
    }

    async fn count_users(&self, condition: &SqlFragment) -> Result<i64, StoreError> {
        let mut sql = SqlFragment::new();
        sql.sql("SELECT COUNT(*) FROM users");
        push_where(&mut sql, condition);
        let (text, values) = sql.render();
        Ok(with_pool!(&self.database, pool => {
            bind_values!(sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(text)), &values)
                .fetch_one(pool)
                .await?
        }))
    }
}
