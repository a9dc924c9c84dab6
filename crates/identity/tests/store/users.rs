//! Users: insert, look up, request ids, sign-in records, and listing with filters and orders.

use pake_core::auth::Role;
use pake_identity::normalize;
use pake_identity::roles;
use pake_identity::store::{ListQuery, StoreError, UserRecord};
use pake_identity::user_filter;
use pake_identity::user_list::UserOrder;
use pake_runtime::db::now_micros;
use pake_runtime::sql::SqlFragment;

use super::{DAY_MICROS, Store, user};

pub(super) async fn insert_then_get_user(store: Store) {
    let now = now_micros();
    let alice = user("u-1", "Alice", Some("Alice@Example.org"), now);
    store.insert_user(&alice, None, None).await.expect("insert");
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
    store
        .insert_user(&bob, None, None)
        .await
        .expect("insert bob");
    assert_eq!(store.user_by_id("u-2").await.expect("get"), Some(bob));
    assert_eq!(store.user_by_id("u-1").await.expect("get"), Some(alice));
}

pub(super) async fn username_and_email_conflicts(store: Store) {
    let now = now_micros();
    store
        .insert_user(
            &user("u-1", "alice", Some("alice@example.org"), now),
            None,
            None,
        )
        .await
        .expect("insert");

    // Same username key (typed differently), other email.
    let error = store
        .insert_user(
            &user("u-2", "ALICE", Some("other@example.org"), now),
            None,
            None,
        )
        .await
        .expect_err("username taken");
    assert!(
        matches!(error, StoreError::Conflict("username")),
        "{error:?}"
    );

    // Same email key, other username.
    let error = store
        .insert_user(
            &user("u-3", "carol", Some("ALICE@example.org"), now),
            None,
            None,
        )
        .await
        .expect_err("email taken");
    assert!(matches!(error, StoreError::Conflict("email")), "{error:?}");

    // Nothing was written by the failed inserts; users without email do not collide on NULL.
    assert_eq!(store.user_by_id("u-2").await.expect("get"), None);
    assert_eq!(store.user_by_id("u-3").await.expect("get"), None);
    store
        .insert_user(&user("u-4", "dave", None, now), None, None)
        .await
        .expect("no email");
    store
        .insert_user(&user("u-5", "erin", None, now), None, None)
        .await
        .expect("no email either");
}

pub(super) async fn user_by_login_finds_username_and_email(store: Store) {
    let now = now_micros();
    let alice = user("u-1", "alice", Some("alice@example.org"), now);
    store.insert_user(&alice, None, None).await.expect("insert");
    let bob = user("u-2", "bob", None, now);
    store.insert_user(&bob, None, None).await.expect("insert");

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

pub(super) async fn request_id_dedupes_within_window(store: Store) {
    let now = now_micros();
    let alice = user("u-1", "alice", Some("alice@example.org"), now);
    store
        .insert_user(&alice, Some(("address:127.0.0.1", "req-1")), None)
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
        .insert_user(&user("u-2", "bob", None, now), None, None)
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
        .insert_user(&carol, Some(("address:127.0.0.1", "req-2")), None)
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
            None,
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

pub(super) async fn record_sign_in_with_and_without_rehash(store: Store) {
    let now = now_micros();
    let alice = user("u-1", "alice", None, now);
    store.insert_user(&alice, None, None).await.expect("insert");

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

/// The ids of the users `filter` selects, in username order, and the count the store gives.
async fn select(store: &Store, filter: &str) -> (Vec<String>, i64) {
    select_locked(store, filter, &user_filter::Lockouts::default()).await
}

/// [`select`] with the sign-in accounts `locked`.
async fn select_locked(
    store: &Store,
    filter: &str,
    locked: &user_filter::Lockouts,
) -> (Vec<String>, i64) {
    let parsed = user_filter::parse(filter).unwrap_or_else(|error| panic!("{filter}: {error}"));
    let condition = user_filter::to_sql(&parsed, locked);
    let order_by = UserOrder::parse("").expect("default order").order_by_sql();
    let users = store
        .list_users(&ListQuery {
            condition: &condition,
            order_by: &order_by,
            limit: 100,
        })
        .await
        .unwrap_or_else(|error| panic!("{filter}: {error}"));
    let count = store.count_users(&condition).await.expect("count");
    (users.into_iter().map(|user| user.id).collect(), count)
}

pub(super) async fn list_users_filters_every_field(store: Store) {
    let t0 = 1_750_000_000_000_000;
    let alice = UserRecord {
        display_name: "Alice A.".into(),
        last_sign_in_time: Some(t0 + 5),
        ..user("u-alice", "alice", Some("Alice@Example.org"), t0)
    };
    let bob = UserRecord {
        display_name: "Bob".into(),
        roles: roles::to_column(&[Role::Admin, Role::Editor]),
        disabled: true,
        ..user("u-bob", "bob", None, t0 + 1)
    };
    let carol = UserRecord {
        display_name: "carol".into(),
        roles: roles::to_column(&[Role::Viewer]),
        update_time: t0 + 9,
        ..user("u-carol", "carol", Some("carol@example.com"), t0 + 2)
    };
    let service = UserRecord {
        display_name: "Indexer".into(),
        roles: roles::to_column(&[Role::Service]),
        service_account: true,
        password_hash: String::new(),
        ..user("u-svc", "search-indexer", None, t0 + 3)
    };
    for record in [&alice, &bob, &carol, &service] {
        store.insert_user(record, None, None).await.expect("insert");
    }
    let at = |micros: i64| {
        let fraction = micros % 1_000_000;
        format!("\"{}.{fraction:06}Z\"", time_text(micros / 1_000_000))
    };
    let cases: Vec<(String, Vec<&str>)> = vec![
        ("".into(), vec!["u-alice", "u-bob", "u-carol", "u-svc"]),
        ("username = \"ＡＬＩＣＥ\"".into(), vec!["u-alice"]),
        (
            "username != alice".into(),
            vec!["u-bob", "u-carol", "u-svc"],
        ),
        ("username : \"O\"".into(), vec!["u-bob", "u-carol"]),
        ("email : \"EXAMPLE.org\"".into(), vec!["u-alice"]),
        ("email = \"carol@example.com\"".into(), vec!["u-carol"]),
        ("email = \"\"".into(), vec!["u-bob", "u-svc"]),
        (
            "email != \"carol@example.com\"".into(),
            vec!["u-alice", "u-bob", "u-svc"],
        ),
        ("display_name : \"A.\"".into(), vec!["u-alice"]),
        // Display names are compared as typed: case matters.
        ("display_name = Carol".into(), vec![]),
        ("display_name = carol".into(), vec!["u-carol"]),
        ("roles:ROLE_ADMIN".into(), vec!["u-bob"]),
        ("roles:editor".into(), vec!["u-alice", "u-bob"]),
        (
            "roles:viewer OR roles:service".into(),
            vec!["u-carol", "u-svc"],
        ),
        ("-roles:editor".into(), vec!["u-carol", "u-svc"]),
        ("state = STATE_DISABLED".into(), vec!["u-bob"]),
        ("state = active".into(), vec!["u-alice", "u-carol", "u-svc"]),
        ("state = STATE_LOCKED".into(), vec![]),
        (
            "state != STATE_LOCKED".into(),
            vec!["u-alice", "u-bob", "u-carol", "u-svc"],
        ),
        ("disabled = true".into(), vec!["u-bob"]),
        ("service_account = true".into(), vec!["u-svc"]),
        (
            "service_account = false AND disabled = false".into(),
            vec!["u-alice", "u-carol"],
        ),
        (
            format!("create_time >= {}", at(t0 + 2)),
            vec!["u-carol", "u-svc"],
        ),
        (format!("create_time = {}", at(t0 + 1)), vec!["u-bob"]),
        (format!("update_time > {}", at(t0 + 3)), vec!["u-carol"]),
        (format!("last_sign_in_time >= {}", at(t0)), vec!["u-alice"]),
        (
            format!("NOT last_sign_in_time >= {}", at(t0)),
            vec!["u-bob", "u-carol", "u-svc"],
        ),
        (
            format!(
                "(roles:editor OR email : example) AND create_time < {}",
                at(t0 + 2)
            ),
            vec!["u-alice", "u-bob"],
        ),
    ];
    for (filter, expected) in cases {
        let (ids, count) = select(&store, &filter).await;
        assert_eq!(ids, expected, "{filter}");
        assert_eq!(count, expected.len() as i64, "count of {filter}");
    }
    lockouts_filter_by_user(&store).await;
}

/// `state` against locked sign-in accounts: alice and carol locked, bob disabled (which wins),
/// plus a locked name that is nobody's.
async fn lockouts_filter_by_user(store: &Store) {
    let accounts = [
        "users/u-alice",
        "users/u-carol",
        "users/u-bob",
        "name:ghost",
    ]
    .map(String::from);
    let locked = user_filter::Lockouts::new(accounts);
    let only_alice = user_filter::Lockouts::new(["users/u-alice".to_owned()]);
    let cases: [(&str, &user_filter::Lockouts, &[&str]); 8] = [
        ("state = STATE_LOCKED", &locked, &["u-alice", "u-carol"]),
        ("state = STATE_ACTIVE", &locked, &["u-svc"]),
        ("NOT state = STATE_LOCKED", &locked, &["u-bob", "u-svc"]),
        ("state != active", &locked, &["u-alice", "u-bob", "u-carol"]),
        (
            "state = STATE_LOCKED OR state = STATE_DISABLED",
            &locked,
            &["u-alice", "u-bob", "u-carol"],
        ),
        (
            "state = STATE_LOCKED AND email : \"example.com\"",
            &locked,
            &["u-carol"],
        ),
        ("state = STATE_LOCKED", &only_alice, &["u-alice"]),
        ("state = active", &only_alice, &["u-carol", "u-svc"]),
    ];
    for (filter, locked, expected) in cases {
        let (ids, count) = select_locked(store, filter, locked).await;
        assert_eq!(ids, expected, "{filter} with {locked:?}");
        assert_eq!(count, expected.len() as i64, "count of {filter}");
    }
}

/// `seconds` since the epoch as `YYYY-MM-DDTHH:MM:SS` (UTC), for filters.
fn time_text(seconds: i64) -> String {
    let timestamp = prost_types::Timestamp { seconds, nanos: 0 };
    timestamp.to_string().trim_end_matches('Z').to_owned()
}

/// A deterministic spread of users with ties in every sort key.
fn varied_users(now: i64) -> Vec<UserRecord> {
    (0..13)
        .map(|index: i64| UserRecord {
            display_name: ["zed", "amy", "bea", "amy", ""][index as usize % 5].to_owned(),
            create_time: now + (index % 4),
            update_time: now + (index * 7) % 5,
            last_sign_in_time: (index % 3 != 0).then_some(now + index % 2),
            ..user(
                &format!("u-{:02}", (index * 5) % 13),
                &format!("user{:02}", (index * 8) % 13),
                None,
                now,
            )
        })
        .collect()
}

/// The sort key of `user` for `field`, as the store orders it.
fn sort_key(user: &UserRecord, field: &str) -> (i64, String) {
    match field {
        "username" => (0, user.username_key.clone()),
        "display_name" => (0, user.display_name.clone()),
        "create_time" => (user.create_time, String::new()),
        "update_time" => (user.update_time, String::new()),
        _ => (user.last_sign_in_time.unwrap_or(-1), String::new()),
    }
}

pub(super) async fn list_users_pages_in_every_order(store: Store) {
    let now = now_micros();
    let users = varied_users(now);
    for record in &users {
        store.insert_user(record, None, None).await.expect("insert");
    }
    let fields = [
        "username",
        "display_name",
        "create_time",
        "update_time",
        "last_sign_in_time",
    ];
    let mut orders: Vec<Vec<(&str, bool)>> = Vec::new();
    for field in fields {
        for descending in [false, true] {
            orders.push(vec![(field, descending)]);
            let second = if field == "display_name" {
                "create_time"
            } else {
                "display_name"
            };
            orders.push(vec![(field, descending), (second, !descending)]);
        }
    }
    orders.push(vec![
        ("create_time", true),
        ("update_time", false),
        ("username", true),
    ]);
    for keys in orders {
        let text = keys
            .iter()
            .map(|(field, descending)| format!("{field}{}", if *descending { " desc" } else { "" }))
            .collect::<Vec<_>>()
            .join(", ");
        let order = UserOrder::parse(&text).expect("order");
        let mut expected = users.clone();
        let id_descending = keys.last().is_some_and(|(_, descending)| *descending);
        expected.sort_by(|a, b| {
            for (field, descending) in &keys {
                let ordering = sort_key(a, field).cmp(&sort_key(b, field));
                let ordering = if *descending {
                    ordering.reverse()
                } else {
                    ordering
                };
                if ordering.is_ne() {
                    return ordering;
                }
            }
            let ordering = a.id.cmp(&b.id);
            if id_descending {
                ordering.reverse()
            } else {
                ordering
            }
        });
        let order_by = order.order_by_sql();
        let mut seen: Vec<String> = Vec::new();
        let mut after = SqlFragment::new();
        loop {
            let page = store
                .list_users(&ListQuery {
                    condition: &after,
                    order_by: &order_by,
                    limit: 3,
                })
                .await
                .unwrap_or_else(|error| panic!("{text}: {error}"));
            seen.extend(page.iter().map(|user| user.id.clone()));
            match page.last() {
                Some(last) if page.len() == 3 => after = order.after_sql(&order.position_of(last)),
                _ => break,
            }
        }
        let expected: Vec<String> = expected.into_iter().map(|user| user.id).collect();
        assert_eq!(seen, expected, "order {text}");
    }
}
