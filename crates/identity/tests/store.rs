//! Conformance suite of [`IdentityStore`]: every case runs against SQLite and PostgreSQL, each on
//! a fresh database (PostgreSQL via `PAKE_TEST_DATABASE_URL`; skipped locally when unset).
//! Cases live by concern in `store/`: users (and listing them), sessions, the audit log.

use std::sync::Arc;

use pake_core::auth::Role;
use pake_identity::normalize;
use pake_identity::roles;
use pake_identity::store::{IdentityStore, SessionRecord, SqlIdentityStore, UserRecord};
use pake_identity::tokens::new_refresh_token;
use pake_runtime::db::Database;

type Store = Arc<dyn IdentityStore>;

async fn open(database: Database) -> Store {
    database
        .migrate(pake_identity::migrations())
        .await
        .expect("identity migrations apply");
    Arc::new(SqlIdentityStore::new(database))
}

const DAY_MICROS: i64 = 86_400_000_000;

/// A user as `CreateUser` builds it: keys normalised, roles as a column, times set.
fn user(id: &str, username: &str, email: Option<&str>, now: i64) -> UserRecord {
    let username = normalize::username(username).expect("valid username");
    let email = email.map(|email| normalize::email(email).expect("valid email"));
    UserRecord {
        id: id.to_owned(),
        username: username.key.clone(),
        username_key: username.key,
        email: email.as_ref().map(|e| e.key.clone()),
        email_key: email.map(|e| e.key),
        display_name: format!("User {id}"),
        roles: roles::to_column(&[Role::Editor]),
        disabled: false,
        service_account: false,
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$hash-of-{id}"),
        password_update_time: now,
        last_sign_in_time: None,
        revision: 1,
        create_time: now,
        update_time: now,
    }
}

/// A session as sign-in builds it, with the hash of its first refresh token.
fn session(id: &str, user_id: &str, now: i64) -> SessionRecord {
    SessionRecord {
        id: id.to_owned(),
        user_id: user_id.to_owned(),
        refresh_generation: 1,
        client_address: "127.0.0.1:50000".to_owned(),
        user_agent: "store-test/1".to_owned(),
        create_time: now,
        last_refresh_time: now,
        expire_time: now + 30 * DAY_MICROS,
        revoke_time: None,
    }
}

async fn signed_in(store: &Store, session_id: &str, now: i64) -> (SessionRecord, Vec<u8>) {
    if store.user_by_id("u-1").await.expect("get").is_none() {
        store
            .insert_user(
                &user("u-1", "alice", Some("alice@example.org"), now),
                None,
                None,
            )
            .await
            .expect("insert user");
    }
    let record = session(session_id, "u-1", now);
    let (_, hash) = new_refresh_token();
    store
        .insert_session(&record, &hash, None)
        .await
        .expect("insert session");
    (record, hash)
}

#[path = "store/audit.rs"]
mod audit;
#[path = "store/deletions.rs"]
mod deletions;
#[path = "store/sessions.rs"]
mod sessions;
#[path = "store/users.rs"]
mod users;

use audit::{
    audit_events_are_pruned_before_the_cutoff, audit_events_filter_order_and_page,
    security_events_commit_with_their_writes,
};
use deletions::deleting_a_user_removes_it_and_queues_its_items;
use sessions::{
    concurrent_refresh_rotates_once, revoke_session_once,
    rotate_revoked_or_expired_session_is_rejected, rotate_unknown_token_is_rejected,
    session_insert_and_rotate,
};
use users::{
    insert_then_get_user, list_users_filters_every_field, list_users_pages_in_every_order,
    record_sign_in_with_and_without_rehash, request_id_dedupes_within_window,
    user_by_login_finds_username_and_email, username_and_email_conflicts,
};

pake_testkit::store_conformance_suite!(open;
    insert_then_get_user,
    username_and_email_conflicts,
    user_by_login_finds_username_and_email,
    request_id_dedupes_within_window,
    record_sign_in_with_and_without_rehash,
    list_users_filters_every_field,
    list_users_pages_in_every_order,
    session_insert_and_rotate,
    rotate_unknown_token_is_rejected,
    rotate_revoked_or_expired_session_is_rejected,
    revoke_session_once,
    concurrent_refresh_rotates_once,
    audit_events_filter_order_and_page,
    audit_events_are_pruned_before_the_cutoff,
    security_events_commit_with_their_writes,
    deleting_a_user_removes_it_and_queues_its_items,
);
