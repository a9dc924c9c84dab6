//! The identity store: users, sessions, API keys and the audit log, behind traits with one SQL
//! implementation that runs on SQLite and PostgreSQL (the conformance suite in `tests/store.rs`
//! runs it on both).
//!
//! One trait per concern, each in its own file — [`UserStore`], [`SessionStore`],
//! [`ApiKeyStore`], [`AuditStore`] — and [`IdentityStore`], which is all of them, for
//! `Arc<dyn IdentityStore>`. Writes that make a security event take the event's
//! [`AuditRecord`] and insert it in the same transaction, so the log holds an event exactly when
//! the change committed (ADR 7).

mod api_keys;
mod audit;
mod deletions;
mod sessions;
mod users;

pub use api_keys::{ApiKeyRecord, ApiKeyStore};
pub use audit::{AuditRecord, AuditStore};
pub use deletions::{DeleteOutcome, DeletionStore, PendingDisposal};
use pake_runtime::db::Database;
use pake_runtime::sql::SqlFragment;
pub use sessions::{RefreshOutcome, SessionRecord, SessionStore};
pub use users::{UserRecord, UserStore};

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

/// One page of a list: the rows matching `condition` (SQL over the listed table, built from
/// fixed text and bound values: the filter and the keyset position), in `order_by` order, at
/// most `limit` of them.
#[derive(Clone, Copy, Debug)]
pub struct ListQuery<'a> {
    /// A condition; empty for all rows.
    pub condition: &'a SqlFragment,
    /// ` ORDER BY …` (see `pake_runtime::sql::order_by`).
    pub order_by: &'a SqlFragment,
    /// The most rows returned.
    pub limit: i64,
}

/// Persistence of everything identity owns.
pub trait IdentityStore:
    UserStore + SessionStore + ApiKeyStore + AuditStore + DeletionStore + std::fmt::Debug + 'static
{
}

impl<T> IdentityStore for T where
    T: UserStore
        + SessionStore
        + ApiKeyStore
        + AuditStore
        + DeletionStore
        + std::fmt::Debug
        + 'static
{
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

/// ` WHERE condition` unless the condition is empty, for `sql`.
fn push_where(sql: &mut SqlFragment, condition: &SqlFragment) {
    if !condition.is_empty() {
        sql.sql(" WHERE ").append(condition);
    }
}

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

/// A database error, or the conflict it means.
fn map_conflict(error: sqlx::Error) -> StoreError {
    match conflict_field(&error) {
        Some(field) => StoreError::Conflict(field),
        None => StoreError::Database(error),
    }
}
