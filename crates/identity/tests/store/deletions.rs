//! Deleting users: the row, its sessions and API keys go in one transaction with the audit
//! event; the id stays taken; the item disposition waits until it is marked done.

use pake_identity::store::{AuditRecord, DeleteOutcome, PendingDisposal};

use super::{Store, signed_in, user};

fn deleted_event(id: &str, now: i64) -> AuditRecord {
    AuditRecord {
        id: format!("0190a000-0000-7000-8000-{id:0>12}"),
        event_type: "user_deleted".to_owned(),
        create_time: now,
        actor: "users/admin".to_owned(),
        target: format!("users/{id}"),
        client_address: String::new(),
        user_agent: String::new(),
        trace_id: String::new(),
        attributes: "{}".to_owned(),
    }
}

pub async fn deleting_a_user_removes_it_and_queues_its_items(store: Store) {
    let now = 1_700_000_000_000_000;
    let (session, _) = signed_in(&store, "s-1", now).await;
    let stale = store
        .delete_user("u-1", 7, "", now, &deleted_event("1", now))
        .await
        .expect("delete");
    assert_eq!(
        stale,
        DeleteOutcome::Stale,
        "a stale revision deletes nothing"
    );
    assert!(store.user_by_id("u-1").await.expect("get").is_some());
    assert!(!store.is_deleted_user("u-1").await.expect("deleted?"));

    let outcome = store
        .delete_user("u-1", 1, "users/u-2", now + 1, &deleted_event("2", now))
        .await
        .expect("delete");
    let DeleteOutcome::Deleted { sessions, api_keys } = outcome else {
        panic!("expected a deletion, got {outcome:?}");
    };
    assert_eq!(
        sessions,
        vec![session.clone()],
        "its live sessions, to revoke"
    );
    assert!(api_keys.is_empty());
    assert!(store.user_by_id("u-1").await.expect("get").is_none());
    assert!(store.session(&session.id).await.expect("session").is_none());
    assert!(store.is_deleted_user("u-1").await.expect("deleted?"));
    let again = store
        .delete_user("u-1", 1, "", now + 2, &deleted_event("3", now))
        .await
        .expect("delete again");
    assert_eq!(again, DeleteOutcome::Stale, "a deleted user is gone");

    // The username is free again.
    store
        .insert_user(
            &user("u-3", "alice", Some("alice@example.org"), now),
            None,
            None,
        )
        .await
        .expect("the username and email are free");

    assert_eq!(
        store.pending_disposals(10).await.expect("pending"),
        vec![PendingDisposal {
            user_id: "u-1".to_owned(),
            reassign_to: "users/u-2".to_owned(),
            disposal_attempts: 0,
        }]
    );
    store
        .fail_disposal("u-1", "knowledge unavailable")
        .await
        .expect("fail");
    assert_eq!(
        store.pending_disposals(10).await.expect("pending")[0].disposal_attempts,
        1
    );
    store.finish_disposal("u-1", now + 3).await.expect("finish");
    assert!(
        store
            .pending_disposals(10)
            .await
            .expect("pending")
            .is_empty()
    );
    assert!(
        store.is_deleted_user("u-1").await.expect("deleted?"),
        "the id stays taken after the disposal"
    );
}
