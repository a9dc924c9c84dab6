//! The audit log: append, filter, order and page; prune past the retention; and security events
//! written in the same transaction as the change they record.

use pake_identity::audit_list;
use pake_identity::store::{ApiKeyRecord, AuditRecord, ListQuery, RefreshOutcome, UserRecord};
use pake_identity::tokens::new_refresh_token;
use pake_runtime::db::now_micros;
use pake_runtime::sql::{SqlFragment, all_of};

use super::{Store, signed_in, user};

/// An event with a deterministic UUID-shaped id (`n` orders ids).
fn event(n: u32, event_type: &str, create_time: i64, actor: &str, target: &str) -> AuditRecord {
    AuditRecord {
        id: format!("00000000-0000-7000-8000-{n:012x}"),
        event_type: event_type.to_owned(),
        create_time,
        actor: actor.to_owned(),
        target: target.to_owned(),
        client_address: format!("10.0.0.{}", n % 3),
        user_agent: "store-test/1".to_owned(),
        trace_id: String::new(),
        attributes: format!("{{\"n\":\"{n}\"}}"),
    }
}

/// The ids of the events matching `filter`, in `create_time` order (descending when asked),
/// read in pages of `page` through the keyset.
async fn ids(store: &Store, filter: &str, descending: bool, page: i64) -> Vec<String> {
    let parsed = audit_list::parse(filter).unwrap_or_else(|error| panic!("{filter}: {error}"));
    let filter_sql = audit_list::to_sql(&parsed);
    let order_by = audit_list::order_by_sql(descending);
    let mut after = SqlFragment::new();
    let mut seen = Vec::new();
    loop {
        let condition = all_of(&[&filter_sql, &after]);
        let events = store
            .list_audit_events(&ListQuery {
                condition: &condition,
                order_by: &order_by,
                limit: page,
            })
            .await
            .unwrap_or_else(|error| panic!("{filter}: {error}"));
        seen.extend(events.iter().map(|event| event.id.clone()));
        match events.last() {
            Some(last) if events.len() as i64 == page => {
                after = audit_list::after_sql(&audit_list::position_of(last), descending);
            }
            _ => return seen,
        }
    }
}

fn id(n: u32) -> String {
    format!("00000000-0000-7000-8000-{n:012x}")
}

pub(super) async fn audit_events_filter_order_and_page(store: Store) {
    let t = 1_750_000_000_000_000;
    let events = [
        event(1, "sign_in_failed", t, "", ""),
        event(2, "sign_in_failed", t, "", "users/alice"),
        event(
            3,
            "sign_in_succeeded",
            t + 1,
            "users/alice",
            "users/alice/sessions/s1",
        ),
        event(4, "user_updated", t + 1, "users/admin", "users/alice"),
        event(5, "roles_changed", t + 2, "users/admin", "users/alice2"),
        event(
            6,
            "api_key_created",
            t + 3,
            "users/alice",
            "users/alice/apiKeys/k1",
        ),
    ];
    // Appended out of order: the order comes from the query, not the insertion.
    for index in [3, 0, 5, 1, 4, 2] {
        store
            .append_audit_event(&events[index])
            .await
            .expect("append");
    }
    let all_ascending: Vec<String> = (1..=6).map(id).collect();
    for page in [1, 2, 4, 100] {
        assert_eq!(
            ids(&store, "", false, page).await,
            all_ascending,
            "page {page}"
        );
        let mut descending = all_ascending.clone();
        descending.reverse();
        assert_eq!(ids(&store, "", true, page).await, descending, "page {page}");
    }
    let second = |micros: i64| format!("\"2025-06-15T15:06:40.{:06}Z\"", micros - t);
    assert_eq!(second(t), "\"2025-06-15T15:06:40.000000Z\"");
    let cases: Vec<(String, Vec<u32>)> = vec![
        ("type = AUDIT_EVENT_TYPE_SIGN_IN_FAILED".into(), vec![1, 2]),
        ("type != sign_in_failed".into(), vec![3, 4, 5, 6]),
        ("actor = \"\"".into(), vec![1, 2]),
        ("actor = \"users/admin\"".into(), vec![4, 5]),
        ("actor != \"users/admin\"".into(), vec![1, 2, 3, 6]),
        ("target = \"users/alice\"".into(), vec![2, 4]),
        ("target = \"users/alice*\"".into(), vec![2, 3, 4, 5, 6]),
        ("target = \"users/alice/*\"".into(), vec![3, 6]),
        ("target != \"users/alice*\"".into(), vec![1]),
        ("client_address = \"10.0.0.1\"".into(), vec![1, 4]),
        (format!("create_time > {}", second(t)), vec![3, 4, 5, 6]),
        (
            format!("create_time <= {}", second(t + 1)),
            vec![1, 2, 3, 4],
        ),
        (
            format!(
                "create_time >= {} AND create_time < {}",
                second(t + 1),
                second(t + 3)
            ),
            vec![3, 4, 5],
        ),
        (
            "(type = roles_changed OR type = user_updated) AND NOT target = \"users/alice\"".into(),
            vec![5],
        ),
    ];
    for (filter, expected) in cases {
        let expected: Vec<String> = expected.into_iter().map(id).collect();
        assert_eq!(ids(&store, &filter, false, 2).await, expected, "{filter}");
    }
    // Stored as given, attributes included.
    let listed = store
        .list_audit_events(&ListQuery {
            condition: &SqlFragment::new(),
            order_by: &audit_list::order_by_sql(false),
            limit: 1,
        })
        .await
        .expect("list");
    assert_eq!(listed, [events[0].clone()]);
}

pub(super) async fn audit_events_are_pruned_before_the_cutoff(store: Store) {
    let t = 1_750_000_000_000_000;
    for n in 1..=5 {
        store
            .append_audit_event(&event(n, "user_created", t + i64::from(n), "", ""))
            .await
            .expect("append");
    }
    assert_eq!(store.prune_audit_events(t + 1).await.expect("prune"), 0);
    assert_eq!(store.prune_audit_events(t + 3).await.expect("prune"), 2);
    assert_eq!(ids(&store, "", false, 10).await, [id(3), id(4), id(5)]);
    assert_eq!(store.prune_audit_events(t + 3).await.expect("prune"), 0);
    assert_eq!(store.prune_audit_events(i64::MAX).await.expect("prune"), 3);
    assert!(ids(&store, "", false, 10).await.is_empty());
}

pub(super) async fn security_events_commit_with_their_writes(store: Store) {
    let now = now_micros();
    let count = |store: Store, event_type: &'static str| async move {
        let filter = format!("type = {event_type}");
        ids(&store, &filter, false, 100).await.len()
    };

    // A user and its event commit together; a conflicting insert writes neither.
    let alice = user("u-1", "alice", None, now);
    store
        .insert_user(
            &alice,
            None,
            Some(&event(1, "user_created", now, "", "users/u-1")),
        )
        .await
        .expect("insert");
    let duplicate = user("u-2", "alice", None, now);
    assert!(
        store
            .insert_user(
                &duplicate,
                None,
                Some(&event(2, "user_created", now, "", "users/u-2"))
            )
            .await
            .is_err()
    );
    assert_eq!(count(store.clone(), "user_created").await, 1);

    // A stale update writes no event; a current one writes all of its events.
    let next = UserRecord {
        display_name: "A".into(),
        revision: 2,
        ..alice.clone()
    };
    let updated = event(3, "user_updated", now, "users/u-1", "users/u-1");
    let roles = event(4, "roles_changed", now, "users/u-1", "users/u-1");
    assert_eq!(
        store
            .update_user(&next, 7, false, &[updated.clone(), roles.clone()])
            .await
            .expect("stale update"),
        None
    );
    assert_eq!(count(store.clone(), "user_updated").await, 0);
    store
        .update_user(&next, 1, false, &[updated, roles])
        .await
        .expect("update")
        .expect("current");
    assert_eq!(count(store.clone(), "user_updated").await, 1);
    assert_eq!(count(store.clone(), "roles_changed").await, 1);

    // Sign-in, revocation (once), password change.
    let (session, _) = signed_in(&store, "s-1", now).await;
    let (_, hash) = new_refresh_token();
    let second = super::session("s-2", "u-1", now);
    store
        .insert_session(
            &second,
            &hash,
            Some(&event(5, "sign_in_succeeded", now, "", "")),
        )
        .await
        .expect("insert session");
    assert_eq!(count(store.clone(), "sign_in_succeeded").await, 1);
    let revoked = event(6, "session_revoked", now, "users/u-1", "");
    assert!(
        store
            .revoke_session(&session.id, now, Some(&revoked))
            .await
            .expect("revoke")
    );
    let again = event(7, "session_revoked", now, "users/u-1", "");
    assert!(
        !store
            .revoke_session(&session.id, now, Some(&again))
            .await
            .expect("revoke again")
    );
    assert_eq!(count(store.clone(), "session_revoked").await, 1);
    store
        .set_password(
            "u-1",
            "$argon2id$new",
            now,
            Some(&event(8, "password_changed", now, "", "")),
        )
        .await
        .expect("set password");
    assert_eq!(count(store.clone(), "password_changed").await, 1);

    // A replayed refresh token records the reuse with the session as its target.
    let (replayed, first) = signed_in(&store, "s-3", now).await;
    let (_, rotated) = new_refresh_token();
    let reuse = event(9, "refresh_token_reused", now, "", "");
    assert!(matches!(
        store
            .rotate_refresh_token(&first, &rotated, now + 1, Some(&reuse))
            .await
            .expect("rotate"),
        RefreshOutcome::Rotated(_)
    ));
    assert_eq!(count(store.clone(), "refresh_token_reused").await, 0);
    let (_, unused) = new_refresh_token();
    assert!(matches!(
        store
            .rotate_refresh_token(&first, &unused, now + 2, Some(&reuse))
            .await
            .expect("replay"),
        RefreshOutcome::Replayed { .. }
    ));
    let reuses = ids(&store, "type = refresh_token_reused", false, 10).await;
    assert_eq!(reuses, [id(9)]);
    let target = format!("target = \"{}\"", replayed.resource_name());
    assert_eq!(ids(&store, &target, false, 10).await, [id(9)]);

    // API keys: created and revoked (once) with their events.
    let key = ApiKeyRecord {
        id: "k1".into(),
        user_id: "u-1".into(),
        display_name: "ci".into(),
        roles: String::new(),
        create_time: now,
        expire_time: None,
        last_use_time: None,
        revoke_time: None,
    };
    store
        .insert_api_key(
            &key,
            b"hash",
            Some(&event(10, "api_key_created", now, "", "")),
        )
        .await
        .expect("insert key");
    assert!(
        store
            .revoke_api_key("k1", now, Some(&event(11, "api_key_revoked", now, "", "")))
            .await
            .expect("revoke key")
    );
    assert!(
        !store
            .revoke_api_key("k1", now, Some(&event(12, "api_key_revoked", now, "", "")))
            .await
            .expect("revoke key again")
    );
    assert_eq!(count(store.clone(), "api_key_created").await, 1);
    assert_eq!(count(store.clone(), "api_key_revoked").await, 1);
}
