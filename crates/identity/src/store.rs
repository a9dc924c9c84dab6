//! The identity store: users and sessions, behind a trait with one SQL implementation that runs
//! on SQLite and PostgreSQL (the conformance suite in `tests/store.rs` runs it on both).

use async_trait::async_trait;
use pake_core::auth::Role;
use pake_runtime::db::{BeginWrite, Database};
use pake_runtime::with_pool;

/// Store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique column already holds the value (`username` or `email`).
    #[error("{0} is already taken")]
    Conflict(&'static str),
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<StoreError> for pake_core::Error {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(field) => {
                let (path, reason) = match field {
                    "email" => ("user.email", "EMAIL_TAKEN"),
                    "username" => ("user.username", "USERNAME_TAKEN"),
                    "request_id" => ("request_id", "REQUEST_IN_PROGRESS"),
                    _ => ("user_id", "USER_ID_TAKEN"),
                };
                pake_core::Error::new(
                    pake_core::ErrorKind::AlreadyExists,
                    format!("{path}: already taken"),
                )
                .with_reason(reason)
            }
            StoreError::Database(source) => {
                pake_core::Error::unavailable("the identity store is unavailable", source)
            }
        }
    }
}

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

/// Persistence of users and sessions.
#[async_trait]
pub trait IdentityStore: Send + Sync + std::fmt::Debug + 'static {
    /// Inserts a new user; a taken username or email is [`StoreError::Conflict`]. With a
    /// `request` (caller, request id), records it in the same transaction.
    async fn insert_user(
        &self,
        user: &UserRecord,
        request: Option<(&str, &str)>,
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
    /// Inserts a new session with the hash of its first refresh token.
    async fn insert_session(
        &self,
        session: &SessionRecord,
        refresh_hash: &[u8],
    ) -> Result<(), StoreError>;
    /// A session by id.
    async fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError>;
    /// Exchanges the refresh token `presented` for `replacement`, atomically.
    async fn rotate_refresh_token(
        &self,
        presented: &[u8],
        replacement: &[u8],
        now: i64,
    ) -> Result<RefreshOutcome, StoreError>;
    /// Revokes a session; false when it was unknown or already revoked.
    async fn revoke_session(&self, id: &str, now: i64) -> Result<bool, StoreError>;
    /// Stores `user` (its next version) if the stored revision is still `expected_revision`;
    /// with `revoke_sessions`, also revokes every live session in the same transaction and
    /// returns them. `Ok(None)` when the revision moved (a concurrent update won).
    async fn update_user(
        &self,
        user: &UserRecord,
        expected_revision: i64,
        revoke_sessions: bool,
    ) -> Result<Option<Vec<SessionRecord>>, StoreError>;
    /// How many enabled users hold the admin role.
    async fn count_active_admins(&self) -> Result<i64, StoreError>;
    /// Inserts an API key with the keyed hash of its secret.
    async fn insert_api_key(
        &self,
        key: &ApiKeyRecord,
        secret_hash: &[u8],
    ) -> Result<(), StoreError>;
    /// A key (revoked or not) and its secret hash.
    async fn api_key(&self, id: &str) -> Result<Option<(ApiKeyRecord, Vec<u8>)>, StoreError>;
    /// A user's keys that are not revoked, newest first.
    async fn api_keys_of(&self, user_id: &str) -> Result<Vec<ApiKeyRecord>, StoreError>;
    /// Revokes a key; false when it was unknown or already revoked.
    async fn revoke_api_key(&self, id: &str, now: i64) -> Result<bool, StoreError>;
    /// Records a use of the key (callers round `now` to the minute to bound writes).
    async fn touch_api_key(&self, id: &str, now: i64) -> Result<(), StoreError>;
    /// The user's live sessions (not revoked, not expired), most recently refreshed first.
    async fn live_sessions(
        &self,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<SessionRecord>, StoreError>;
    /// Replaces the password hash and revokes every live session, atomically; returns those
    /// sessions so their access tokens can be revoked too.
    async fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<Vec<SessionRecord>, StoreError>;
}

/// The SQL implementation for both backends.
#[derive(Clone, Debug)]
pub struct SqlIdentityStore {
    database: Database,
}

impl SqlIdentityStore {
    /// A store over an already migrated database.
    pub fn new(database: Database) -> Self {
        SqlIdentityStore { database }
    }
}

const USER_COLUMNS: &str = "id, username, username_key, email, email_key, display_name, roles, \
    disabled, service_account, password_hash, password_update_time, last_sign_in_time, revision, \
    create_time, update_time";
const API_KEY_COLUMNS: &str =
    "id, user_id, display_name, roles, create_time, expire_time, last_use_time, revoke_time";
const SESSION_COLUMNS: &str = "id, user_id, refresh_generation, client_address, user_agent, \
    create_time, last_refresh_time, expire_time, revoke_time";

fn conflict_field(error: &sqlx::Error) -> Option<&'static str> {
    let database_error = error.as_database_error()?;
    if !database_error.is_unique_violation() {
        return None;
    }
    let text = format!(
        "{} {}",
        database_error.message(),
        database_error.constraint().unwrap_or_default()
    );
    Some(if text.contains("email") {
        "email"
    } else if text.contains("create_user_requests") || text.contains("request_id") {
        "request_id"
    } else if text.contains("username") {
        "username"
    } else {
        "id"
    })
}

#[async_trait]
impl IdentityStore for SqlIdentityStore {
    async fn insert_user(
        &self,
        user: &UserRecord,
        request: Option<(&str, &str)>,
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
            tx.commit().await
        }
        .await);
        result.map_err(|error| match conflict_field(&error) {
            Some(field) => StoreError::Conflict(field),
            None => StoreError::Database(error),
        })
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

    async fn insert_session(
        &self,
        session: &SessionRecord,
        refresh_hash: &[u8],
    ) -> Result<(), StoreError> {
        with_pool!(&self.database, pool => {
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
            .execute(pool)
            .await
            .map(|_| ())?
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
                    let replayed: Option<String> = sqlx::query_scalar(
                        "SELECT session_id FROM rotated_refresh_tokens WHERE refresh_hash = $1",
                    )
                    .bind(presented)
                    .fetch_optional(&mut *tx)
                    .await?;
                    match replayed {
                        Some(session_id) => {
                            sqlx::query(
                                "UPDATE sessions SET revoke_time = $1 WHERE id = $2 AND revoke_time IS NULL",
                            )
                            .bind(now)
                            .bind(&session_id)
                            .execute(&mut *tx)
                            .await?;
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

    async fn update_user(
        &self,
        user: &UserRecord,
        expected_revision: i64,
        revoke_sessions: bool,
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
            tx.commit().await?;
            Ok(Some(ended))
        }
        .await);
        result.map_err(|error| match conflict_field(&error) {
            Some(field) => StoreError::Conflict(field),
            None => StoreError::Database(error),
        })
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

    async fn insert_api_key(
        &self,
        key: &ApiKeyRecord,
        secret_hash: &[u8],
    ) -> Result<(), StoreError> {
        with_pool!(&self.database, pool => {
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
            .execute(pool)
            .await
            .map(|_| ())?
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

    async fn revoke_api_key(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let affected = with_pool!(&self.database, pool => {
            sqlx::query("UPDATE api_keys SET revoke_time = $1 WHERE id = $2 AND revoke_time IS NULL")
                .bind(now)
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(affected > 0)
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

    async fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
        now: i64,
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
            tx.commit().await?;
            Ok(sessions)
        })
    }

    async fn revoke_session(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let affected = with_pool!(&self.database, pool => {
            sqlx::query("UPDATE sessions SET revoke_time = $1 WHERE id = $2 AND revoke_time IS NULL")
                .bind(now)
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(affected > 0)
    }
}
