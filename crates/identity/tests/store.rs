//! Conformance suite of [`IdentityStore`]: every case runs against SQLite and PostgreSQL, each on
//! a fresh database (PostgreSQL via `PAKE_TEST_DATABASE_URL`; skipped locally when unset).

use std::sync::Arc;

use pake_core::auth::Role;
use pake_identity::normalize;
use pake_identity::roles;
use pake_identity::store::{
    IdentityStore, RefreshOutcome, SessionRecord, SqlIdentityStore, StoreError, UserRecord,
};
use pake_identity::tokens::new_refresh_token;
use pake_runtime::db::{Database, now_micros};

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
            .insert_user(&user("u-1", "alice", Some("alice@example.org"), now), None)
            .await
            .expect("insert user");
    }
    let record = session(session_id, "u-1", now);
    let (_, hash) = new_refresh_token();
    store
        .insert_session(&record, &hash)
        .await
        .expect("insert session");
    (record, hash)
}

async fn insert_then_get_user(store: Store) {
    let now = now_micros();
    let alice = user("u-1", "Alice", Some("Alice@Example.org"), now);
    store.insert_user(&alice, None).await.expect("insert");
    assert_eq!(
        store.user_by_id("u-1").await.expect("get"),
        Some(alice.clone())
    );
    assert_eq!(store.user_by_id("u-2").await.expect("get"), None);

    // A user without an email (email columns NULL) round-trips too, and several may exist.
    let bob = UserRecord {
        disabled: true,
        service_account: true,
        password_hash: String::new(),
        roles: roles::to_column(&[Role::Service, Role::Viewer]),
        ..user("u-2", "bob", None, now + 1)
    };
    store.insert_user(&bob, None).await.expect("insert bob");
    assert_eq!(store.user_by_id("u-2").await.expect("get"), Some(bob));
    assert_eq!(store.user_by_id("u-1").await.expect("get"), Some(alice));
}

async fn username_and_email_conflicts(store: Store) {
    let now = now_micros();
    store
        .insert_user(&user("u-1", "alice", Some("alice@example.org"), now), None)
        .await
        .expect("insert");

    // Same username key (typed differently), other email.
    let error = store
        .insert_user(&user("u-2", "ALICE", Some("other@example.org"), now), None)
        .await
        .expect_err("username taken");
    assert!(
        matches!(error, StoreError::Conflict("username")),
        "{error:?}"
    );

    // Same email key, other username.
    let error = store
        .insert_user(&user("u-3", "carol", Some("ALICE@example.org"), now), None)
        .await
        .expect_err("email taken");
    assert!(matches!(error, StoreError::Conflict("email")), "{error:?}");

    // Nothing was written by the failed inserts; users without email do not collide on NULL.
    assert_eq!(store.user_by_id("u-2").await.expect("get"), None);
    assert_eq!(store.user_by_id("u-3").await.expect("get"), None);
    store
        .insert_user(&user("u-4", "dave", None, now), None)
        .await
        .expect("no email");
    store
        .insert_user(&user("u-5", "erin", None, now), None)
        .await
        .expect("no email either");
}

async fn user_by_login_finds_username_and_email(store: Store) {
    let now = now_micros();
    let alice = user("u-1", "alice", Some("alice@example.org"), now);
    store.insert_user(&alice, None).await.expect("insert");
    let bob = user("u-2", "bob", None, now);
    store.insert_user(&bob, None).await.expect("insert");

    let by_username = normalize::username("Alice").expect("valid").key;
    let by_email = normalize::email("ALICE@example.org").expect("valid").key;
    assert_eq!(
        store.user_by_login(&by_username).await.expect("login"),
        Some(alice.clone())
    );
    assert_eq!(
        store.user_by_login(&by_email).await.expect("login"),
        Some(alice)
    );
    assert_eq!(store.user_by_login("bob").await.expect("login"), Some(bob));
    assert_eq!(store.user_by_login("nobody").await.expect("login"), None);
    assert_eq!(
        store
            .user_by_login("nobody@example.org")
            .await
            .expect("login"),
        None
    );
}

async fn request_id_dedupes_within_window(store: Store) {
    let now = now_micros();
    let alice = user("u-1", "alice", Some("alice@example.org"), now);
    store
        .insert_user(&alice, Some(("address:127.0.0.1", "req-1")))
        .await
        .expect("insert with request");

    let window_start = now - DAY_MICROS;
    assert_eq!(
        store
            .user_by_request("address:127.0.0.1", "req-1", window_start)
            .await
            .expect("lookup"),
        Some(alice.clone())
    );
    // `since` is inclusive of the original create time and excludes anything older.
    assert_eq!(
        store
            .user_by_request("address:127.0.0.1", "req-1", now)
            .await
            .expect("lookup"),
        Some(alice)
    );
    assert_eq!(
        store
            .user_by_request("address:127.0.0.1", "req-1", now + 1)
            .await
            .expect("lookup"),
        None
    );
    // Request ids are per caller.
    assert_eq!(
        store
            .user_by_request("users/u-9", "req-1", window_start)
            .await
            .expect("lookup"),
        None
    );
    assert_eq!(
        store
            .user_by_request("address:127.0.0.1", "req-2", window_start)
            .await
            .expect("lookup"),
        None
    );
    // Without a request, nothing is recorded.
    store
        .insert_user(&user("u-2", "bob", None, now), None)
        .await
        .expect("insert without request");
    assert_eq!(
        store
            .user_by_request("address:127.0.0.1", "", window_start)
            .await
            .expect("lookup"),
        None
    );

    // The same caller's second request id records the second user.
    let carol = user("u-3", "carol", None, now);
    store
        .insert_user(&carol, Some(("address:127.0.0.1", "req-2")))
        .await
        .expect("insert with another request");
    assert_eq!(
        store
            .user_by_request("address:127.0.0.1", "req-2", window_start)
            .await
            .expect("lookup"),
        Some(carol)
    );
    // A conflicting insert records no request.
    let error = store
        .insert_user(
            &user("u-4", "carol", None, now),
            Some(("address:127.0.0.1", "req-3")),
        )
        .await
        .expect_err("username taken");
    assert!(
        matches!(error, StoreError::Conflict("username")),
        "{error:?}"
    );
    assert_eq!(
        store
            .user_by_request("address:127.0.0.1", "req-3", window_start)
            .await
            .expect("lookup"),
        None
    );
}

async fn record_sign_in_with_and_without_rehash(store: Store) {
    let now = now_micros();
    let alice = user("u-1", "alice", None, now);
    store.insert_user(&alice, None).await.expect("insert");

    store
        .record_sign_in("u-1", now + 10, None)
        .await
        .expect("sign in");
    let after = store.user_by_id("u-1").await.expect("get").expect("exists");
    assert_eq!(after.last_sign_in_time, Some(now + 10));
    assert_eq!(after.password_hash, alice.password_hash, "hash kept");

    let rehashed = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$rehashed";
    store
        .record_sign_in("u-1", now + 20, Some(rehashed))
        .await
        .expect("sign in with rehash");
    let after = store.user_by_id("u-1").await.expect("get").expect("exists");
    assert_eq!(after.last_sign_in_time, Some(now + 20));
    assert_eq!(after.password_hash, rehashed);
    // Nothing else changed.
    assert_eq!(
        after,
        UserRecord {
            last_sign_in_time: Some(now + 20),
            password_hash: rehashed.to_owned(),
            ..alice
        }
    );
}

async fn session_insert_and_rotate(store: Store) {
    let now = now_micros();
    let (record, first) = signed_in(&store, "s-1", now).await;
    assert_eq!(
        store.session("s-1").await.expect("get"),
        Some(record.clone())
    );
    assert_eq!(store.session("s-2").await.expect("get"), None);

    let (_, second) = new_refresh_token();
    let outcome = store
        .rotate_refresh_token(&first, &second, now + 5)
        .await
        .expect("rotate");
    let expected = SessionRecord {
        refresh_generation: 2,
        last_refresh_time: now + 5,
        ..record.clone()
    };
    assert_eq!(outcome, RefreshOutcome::Rotated(expected.clone()));
    assert_eq!(
        store.session("s-1").await.expect("get"),
        Some(expected.clone())
    );

    // The new token rotates again.
    let (_, third) = new_refresh_token();
    let outcome = store
        .rotate_refresh_token(&second, &third, now + 6)
        .await
        .expect("rotate");
    assert_eq!(
        outcome,
        RefreshOutcome::Rotated(SessionRecord {
            refresh_generation: 3,
            last_refresh_time: now + 6,
            ..record.clone()
        })
    );

    // Presenting a rotated-out token is a replay: the session is revoked.
    let (_, unused) = new_refresh_token();
    let outcome = store
        .rotate_refresh_token(&first, &unused, now + 7)
        .await
        .expect("replay");
    assert_eq!(
        outcome,
        RefreshOutcome::Replayed {
            session_id: "s-1".to_owned()
        }
    );
    let revoked = store.session("s-1").await.expect("get").expect("exists");
    assert_eq!(revoked.revoke_time, Some(now + 7));
    assert_eq!(revoked.refresh_generation, 3);

    // After the replay even the current token is refused.
    let outcome = store
        .rotate_refresh_token(&third, &unused, now + 8)
        .await
        .expect("rotate revoked");
    assert_eq!(outcome, RefreshOutcome::Rejected);
    // Replaying again keeps the first revocation time.
    let outcome = store
        .rotate_refresh_token(&second, &unused, now + 9)
        .await
        .expect("replay again");
    assert_eq!(
        outcome,
        RefreshOutcome::Replayed {
            session_id: "s-1".to_owned()
        }
    );
    assert_eq!(
        store
            .session("s-1")
            .await
            .expect("get")
            .expect("exists")
            .revoke_time,
        Some(now + 7)
    );
}

async fn rotate_unknown_token_is_rejected(store: Store) {
    let now = now_micros();
    let (record, _) = signed_in(&store, "s-1", now).await;
    let (_, unknown) = new_refresh_token();
    let (_, replacement) = new_refresh_token();
    assert_eq!(
        store
            .rotate_refresh_token(&unknown, &replacement, now)
            .await
            .expect("rotate"),
        RefreshOutcome::Rejected
    );
    assert_eq!(store.session("s-1").await.expect("get"), Some(record));
}

async fn rotate_revoked_or_expired_session_is_rejected(store: Store) {
    let now = now_micros();

    // Revoked.
    let (_, revoked_hash) = signed_in(&store, "s-revoked", now).await;
    assert!(
        store
            .revoke_session("s-revoked", now + 1)
            .await
            .expect("revoke")
    );
    let (_, replacement) = new_refresh_token();
    assert_eq!(
        store
            .rotate_refresh_token(&revoked_hash, &replacement, now + 2)
            .await
            .expect("rotate"),
        RefreshOutcome::Rejected
    );
    let revoked = store
        .session("s-revoked")
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(revoked.refresh_generation, 1);
    assert_eq!(revoked.revoke_time, Some(now + 1));

    // Expired (expire_time is exclusive: a session is dead at its expire time).
    let expired = SessionRecord {
        expire_time: now + 100,
        ..session("s-expired", "u-1", now)
    };
    let (_, expired_hash) = new_refresh_token();
    store
        .insert_session(&expired, &expired_hash)
        .await
        .expect("insert");
    let (_, replacement) = new_refresh_token();
    assert_eq!(
        store
            .rotate_refresh_token(&expired_hash, &replacement, now + 100)
            .await
            .expect("rotate"),
        RefreshOutcome::Rejected
    );
    assert_eq!(
        store.session("s-expired").await.expect("get"),
        Some(expired.clone())
    );
    // One microsecond earlier it was still live.
    assert!(matches!(
        store
            .rotate_refresh_token(&expired_hash, &replacement, now + 99)
            .await
            .expect("rotate"),
        RefreshOutcome::Rotated(_)
    ));
}

async fn revoke_session_once(store: Store) {
    let now = now_micros();
    signed_in(&store, "s-1", now).await;
    assert!(store.revoke_session("s-1", now + 1).await.expect("revoke"));
    assert!(
        !store.revoke_session("s-1", now + 2).await.expect("revoke"),
        "second revoke is a no-op"
    );
    assert_eq!(
        store
            .session("s-1")
            .await
            .expect("get")
            .expect("exists")
            .revoke_time,
        Some(now + 1)
    );
    assert!(
        !store
            .revoke_session("s-unknown", now)
            .await
            .expect("revoke")
    );
}

/// Two refreshes presenting the same token at once (a client retrying, or a stolen token racing
/// the owner): exactly one rotates; the other is a replay or a rejection, never a second rotation
/// and never a database error.
async fn concurrent_refresh_rotates_once(store: Store) {
    const ROUNDS: usize = 25;
    let now = now_micros();
    for round in 0..ROUNDS {
        let (_, presented) = signed_in(&store, &format!("s-{round}"), now).await;
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let mut tasks = Vec::new();
        for _ in 0..2 {
            let store = store.clone();
            let presented = presented.clone();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                let (_, replacement) = new_refresh_token();
                barrier.wait().await;
                store
                    .rotate_refresh_token(&presented, &replacement, now + 1)
                    .await
            }));
        }
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.expect("task").unwrap_or_else(|error| {
                panic!("round {round}: a concurrent refresh failed: {error:?}")
            }));
        }
        let rotated = outcomes
            .iter()
            .filter(|outcome| matches!(outcome, RefreshOutcome::Rotated(_)))
            .count();
        assert_eq!(rotated, 1, "round {round}: {outcomes:?}");
        let loser = outcomes
            .iter()
            .find(|outcome| !matches!(outcome, RefreshOutcome::Rotated(_)))
            .expect("one did not rotate");
        assert!(
            matches!(
                loser,
                RefreshOutcome::Replayed { .. } | RefreshOutcome::Rejected
            ),
            "round {round}: {outcomes:?}"
        );
        let stored = store
            .session(&format!("s-{round}"))
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(stored.refresh_generation, 2, "round {round}: rotated once");
    }
}

pake_testkit::store_conformance_suite!(open;
    insert_then_get_user,
    username_and_email_conflicts,
    user_by_login_finds_username_and_email,
    request_id_dedupes_within_window,
    record_sign_in_with_and_without_rehash,
    session_insert_and_rotate,
    rotate_unknown_token_is_rejected,
    rotate_revoked_or_expired_session_is_rejected,
    revoke_session_once,
    concurrent_refresh_rotates_once,
);
