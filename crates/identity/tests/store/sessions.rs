//! Sessions: insert, refresh-token rotation and replay, revocation.

use std::sync::Arc;

use pake_identity::store::{RefreshOutcome, SessionRecord};
use pake_identity::tokens::new_refresh_token;
use pake_runtime::db::now_micros;

use super::{Store, session, signed_in};

pub(super) async fn session_insert_and_rotate(store: Store) {
    let now = now_micros();
    let (record, first) = signed_in(&store, "s-1", now).await;
    assert_eq!(
        store.session("s-1").await.expect("get"),
        Some(record.clone())
    );
    assert_eq!(store.session("s-2").await.expect("get"), None);

    let (_, second) = new_refresh_token();
    let outcome = store
        .rotate_refresh_token(&first, &second, now + 5, None)
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
        .rotate_refresh_token(&second, &third, now + 6, None)
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
        .rotate_refresh_token(&first, &unused, now + 7, None)
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
        .rotate_refresh_token(&third, &unused, now + 8, None)
        .await
        .expect("rotate revoked");
    assert_eq!(outcome, RefreshOutcome::Rejected);
    // Replaying again keeps the first revocation time.
    let outcome = store
        .rotate_refresh_token(&second, &unused, now + 9, None)
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

pub(super) async fn rotate_unknown_token_is_rejected(store: Store) {
    let now = now_micros();
    let (record, _) = signed_in(&store, "s-1", now).await;
    let (_, unknown) = new_refresh_token();
    let (_, replacement) = new_refresh_token();
    assert_eq!(
        store
            .rotate_refresh_token(&unknown, &replacement, now, None)
            .await
            .expect("rotate"),
        RefreshOutcome::Rejected
    );
    assert_eq!(store.session("s-1").await.expect("get"), Some(record));
}

pub(super) async fn rotate_revoked_or_expired_session_is_rejected(store: Store) {
    let now = now_micros();

    // Revoked.
    let (_, revoked_hash) = signed_in(&store, "s-revoked", now).await;
    assert!(
        store
            .revoke_session("s-revoked", now + 1, None)
            .await
            .expect("revoke")
    );
    let (_, replacement) = new_refresh_token();
    assert_eq!(
        store
            .rotate_refresh_token(&revoked_hash, &replacement, now + 2, None)
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
        .insert_session(&expired, &expired_hash, None)
        .await
        .expect("insert");
    let (_, replacement) = new_refresh_token();
    assert_eq!(
        store
            .rotate_refresh_token(&expired_hash, &replacement, now + 100, None)
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
            .rotate_refresh_token(&expired_hash, &replacement, now + 99, None)
            .await
            .expect("rotate"),
        RefreshOutcome::Rotated(_)
    ));
}

pub(super) async fn revoke_session_once(store: Store) {
    let now = now_micros();
    signed_in(&store, "s-1", now).await;
    assert!(
        store
            .revoke_session("s-1", now + 1, None)
            .await
            .expect("revoke")
    );
    assert!(
        !store
            .revoke_session("s-1", now + 2, None)
            .await
            .expect("revoke"),
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
            .revoke_session("s-unknown", now, None)
            .await
            .expect("revoke")
    );
}

/// Two refreshes presenting the same token at once (a client retrying, or a stolen token racing
/// the owner): exactly one rotates; the other is a replay or a rejection, never a second rotation
/// and never a database error.
pub(super) async fn concurrent_refresh_rotates_once(store: Store) {
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
                    .rotate_refresh_token(&presented, &replacement, now + 1, None)
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
