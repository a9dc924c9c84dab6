//! The security audit log over real gRPC: a scenario of sign-ins, refreshes, API keys, profile,
//! role and password changes produces exactly the expected events; ListAuditEvents filters,
//! orders and pages them for admins only; no password, secret, token or typed unknown username
//! is ever stored; ExportUserData streams a user's data in order, to the user or an admin only.

#[path = "audit/scenario.rs"]
mod scenario;

use pake_api::identity::export_user_data_response::Record;
use pake_api::identity::identity_service_client::IdentityServiceClient;
use pake_api::identity::{
    AuditEvent, AuditEventType, ExportUserDataRequest, ExportUserDataResponse,
    ListAuditEventsRequest,
};
use pake_identity::audit_list;
use pake_identity::store::{AuditStore, ListQuery, SqlIdentityStore};
use pake_runtime::db::Database;
use pake_runtime::sql::SqlFragment;
use pake_testkit::{authorized, spawn_app};
use scenario::{Client, TRACE_ID, scenario};
use tonic::Code;
use tonic_types::StatusExt;

/// Every event matching `filter` in `order_by`, read in pages of `page_size`; checks that no
/// page repeats an event.
async fn list_all(
    identity: &mut Client,
    token: &str,
    filter: &str,
    order_by: &str,
    page_size: i32,
) -> Vec<AuditEvent> {
    let mut events: Vec<AuditEvent> = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = identity
            .list_audit_events(authorized(
                token,
                ListAuditEventsRequest {
                    page_size,
                    page_token: page_token.clone(),
                    filter: filter.into(),
                    order_by: order_by.into(),
                },
            ))
            .await
            .unwrap_or_else(|status| panic!("{filter}: {status:?}"))
            .into_inner();
        assert!(page.audit_events.len() <= usize::try_from(page_size).unwrap_or(50).max(1));
        events.extend(page.audit_events);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let mut names: Vec<&str> = events.iter().map(|event| event.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), events.len(), "no event twice");
    events
}

fn summary(events: &[AuditEvent]) -> Vec<(AuditEventType, String, String)> {
    events
        .iter()
        .map(|event| {
            (
                AuditEventType::try_from(event.r#type).expect("known type"),
                event.actor.clone(),
                event.target.clone(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_records_exactly_its_events_and_admins_list_them() {
    let app = spawn_app().await;
    let run = scenario(&app).await;
    let mut identity = IdentityServiceClient::new(app.channel().await);
    let admin = &run.admin.access_token;
    let since = format!("create_time >= \"{}\"", run.start);

    let ascending = list_all(&mut identity, admin, &since, "create_time", 4).await;
    assert_eq!(summary(&ascending), run.expected);
    let newest_first = list_all(&mut identity, admin, &since, "", 3).await;
    let mut reversed = run.expected.clone();
    reversed.reverse();
    assert_eq!(
        summary(&newest_first),
        reversed,
        "default order: newest first"
    );

    // Details: reasons, masks, roles, the request's context, the trace id.
    let attribute = |event: &AuditEvent, key: &str| event.attributes.get(key).cloned();
    let failures: Vec<&AuditEvent> = ascending
        .iter()
        .filter(|event| event.r#type == AuditEventType::SignInFailed as i32)
        .collect();
    assert_eq!(
        attribute(failures[0], "reason").as_deref(),
        Some("wrong_password")
    );
    assert_eq!(
        attribute(failures[1], "reason").as_deref(),
        Some("unknown_user")
    );
    let of_type = |event_type: AuditEventType| {
        ascending
            .iter()
            .find(|event| event.r#type == event_type as i32)
            .expect("event of type")
    };
    assert_eq!(
        attribute(of_type(AuditEventType::UserUpdated), "update_mask").as_deref(),
        Some("display_name")
    );
    let roles = of_type(AuditEventType::RolesChanged);
    assert_eq!(attribute(roles, "old_roles").as_deref(), Some("editor"));
    assert_eq!(attribute(roles, "new_roles").as_deref(), Some("viewer"));
    assert_eq!(
        attribute(of_type(AuditEventType::ApiKeyExchangeFailed), "reason").as_deref(),
        Some("wrong_secret")
    );
    assert_eq!(
        attribute(of_type(AuditEventType::SessionRevoked), "reason").as_deref(),
        Some("logout")
    );
    let traced = of_type(AuditEventType::SignInSucceeded);
    assert_eq!(traced.trace_id, TRACE_ID);
    for event in &ascending {
        assert!(event.name.starts_with("auditEvents/"), "{}", event.name);
        assert_eq!(event.client_address, "127.0.0.1");
        assert!(!event.user_agent.is_empty());
        assert!(event.create_time.is_some());
    }
    assert!(
        ascending[1..]
            .iter()
            .all(|event| event.trace_id.is_empty() || event.name == traced.name)
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_by_type_target_and_time_bound_tokens_and_admins_only() {
    let app = spawn_app().await;
    let run = scenario(&app).await;
    let mut identity = IdentityServiceClient::new(app.channel().await);
    let admin = &run.admin.access_token;

    let failed = list_all(
        &mut identity,
        admin,
        "type = AUDIT_EVENT_TYPE_SIGN_IN_FAILED",
        "",
        50,
    )
    .await;
    assert_eq!(
        summary(&failed),
        [
            (AuditEventType::SignInFailed, String::new(), String::new()),
            (
                AuditEventType::SignInFailed,
                String::new(),
                run.alice.clone()
            ),
        ]
    );
    let since_middle = format!("create_time >= \"{}\"", run.middle.1);
    let later = list_all(&mut identity, admin, &since_middle, "create_time", 2).await;
    assert_eq!(summary(&later), run.expected[run.middle.0..]);
    let keys_of_alice = format!(
        "target = \"{}/apiKeys/*\" AND type != API_KEY_EXCHANGE_FAILED",
        run.alice
    );
    let keys = list_all(&mut identity, admin, &keys_of_alice, "create_time", 50).await;
    let types: Vec<AuditEventType> = summary(&keys).into_iter().map(|(t, _, _)| t).collect();
    assert_eq!(
        types,
        [
            AuditEventType::ApiKeyCreated,
            AuditEventType::ApiKeyRevoked,
            AuditEventType::ApiKeyCreated
        ]
    );

    // A page token works only with the filter, order and caller that produced it.
    let first_page = identity
        .list_audit_events(authorized(
            admin,
            ListAuditEventsRequest {
                page_size: 1,
                filter: since_middle.clone(),
                ..ListAuditEventsRequest::default()
            },
        ))
        .await
        .expect("first page")
        .into_inner();
    assert!(!first_page.next_page_token.is_empty());
    for (filter, order_by) in [
        ("type = USER_UPDATED", ""),
        (since_middle.as_str(), "create_time"),
    ] {
        let status = identity
            .list_audit_events(authorized(
                admin,
                ListAuditEventsRequest {
                    page_size: 1,
                    page_token: first_page.next_page_token.clone(),
                    filter: filter.into(),
                    order_by: order_by.into(),
                },
            ))
            .await
            .expect_err("token bound to its filter and order");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("page_token"), "{status:?}");
    }
    for (request, field) in [
        (
            ListAuditEventsRequest {
                page_size: -1,
                ..ListAuditEventsRequest::default()
            },
            "page_size",
        ),
        (
            ListAuditEventsRequest {
                filter: "password = x".into(),
                ..ListAuditEventsRequest::default()
            },
            "filter",
        ),
        (
            ListAuditEventsRequest {
                order_by: "actor".into(),
                ..ListAuditEventsRequest::default()
            },
            "order_by",
        ),
    ] {
        let status = identity
            .list_audit_events(authorized(admin, request))
            .await
            .expect_err("invalid");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().starts_with(field), "{status:?}");
    }

    // Alice is no admin.
    let denied = identity
        .list_audit_events(authorized(
            &run.alice_token,
            ListAuditEventsRequest::default(),
        ))
        .await
        .expect_err("not an admin");
    assert_eq!(denied.code(), Code::PermissionDenied);
    let info = denied.get_error_details().error_info().cloned();
    assert_eq!(
        info.map(|info| info.reason).as_deref(),
        Some("ADMIN_REQUIRED")
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_secret_token_or_typed_username_is_ever_stored() {
    let app = spawn_app().await;
    let run = scenario(&app).await;
    // Export too, so that its event is scanned as well.
    let mut identity = IdentityServiceClient::new(app.channel().await);
    let exported = export(&mut identity, &run.alice_token, "users/me").await;
    assert!(exported.len() > run.expected.len() / 2);

    // Read every stored row straight from the database the server writes.
    let database = Database::open(None, &app.config.data_dir)
        .await
        .expect("open the server's database");
    let store = SqlIdentityStore::new(database);
    let stored = store
        .list_audit_events(&ListQuery {
            condition: &SqlFragment::new(),
            order_by: &audit_list::order_by_sql(false),
            limit: 10_000,
        })
        .await
        .expect("read the log");
    assert!(stored.len() > run.expected.len(), "{}", stored.len());
    for record in &stored {
        let row = format!("{record:?}");
        for secret in &run.secrets {
            assert!(!row.contains(secret.as_str()), "{secret:?} stored in {row}");
        }
        // No fragment of a secret either (e.g. the secret half of an API key).
        for secret in run.secrets.iter().filter(|secret| secret.len() >= 40) {
            let tail = &secret[secret.len() - 32..];
            assert!(!row.contains(tail), "part of a secret stored in {row}");
        }
    }
    app.stop().await;
}

async fn export(identity: &mut Client, token: &str, name: &str) -> Vec<ExportUserDataResponse> {
    let mut stream = identity
        .export_user_data(authorized(
            token,
            ExportUserDataRequest { name: name.into() },
        ))
        .await
        .expect("export")
        .into_inner();
    let mut records = Vec::new();
    while let Some(message) = stream.message().await.expect("stream") {
        records.push(message);
    }
    records
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_export_their_data_in_order_and_admins_may_too() {
    let app = spawn_app().await;
    let run = scenario(&app).await;
    let mut identity = IdentityServiceClient::new(app.channel().await);
    let records = export(&mut identity, &run.alice_token, "users/me").await;

    // The user first, then the live session, the unrevoked key, then the audit events.
    let kinds: Vec<&str> = records
        .iter()
        .map(|message| match message.record.as_ref().expect("record") {
            Record::User(_) => "user",
            Record::Session(_) => "session",
            Record::ApiKey(_) => "api_key",
            Record::AuditEvent(_) => "audit_event",
        })
        .collect();
    let events = kinds.iter().filter(|kind| **kind == "audit_event").count();
    let mut expected_kinds = vec!["user", "session", "api_key"];
    expected_kinds.extend(std::iter::repeat_n("audit_event", events));
    assert_eq!(kinds, expected_kinds);
    let Some(Record::User(user)) = &records[0].record else {
        panic!("user first");
    };
    assert_eq!(user.name, run.alice);
    let Some(Record::Session(session)) = &records[1].record else {
        panic!("then the session");
    };
    assert!(session.current);
    let Some(Record::ApiKey(key)) = &records[2].record else {
        panic!("then the key");
    };
    assert_eq!(key.display_name, "ci");

    // Every event concerning Alice, oldest first, ending with this export.
    let exported: Vec<AuditEvent> = records
        .iter()
        .filter_map(|message| match &message.record {
            Some(Record::AuditEvent(event)) => Some(event.clone()),
            _ => None,
        })
        .collect();
    let mut expected: Vec<(AuditEventType, String, String)> = run
        .expected
        .iter()
        .filter(|(_, actor, target)| {
            *actor == run.alice
                || *target == run.alice
                || target.starts_with(&format!("{}/", run.alice))
        })
        .cloned()
        .collect();
    assert_eq!(
        expected.len(),
        run.expected.len() - 1,
        "all but the unknown user's"
    );
    expected.push((
        AuditEventType::UserDataExported,
        run.alice.clone(),
        run.alice.clone(),
    ));
    assert_eq!(summary(&exported), expected);
    for message in &records {
        let text = format!("{message:?}");
        for secret in &run.secrets {
            assert!(!text.contains(secret.as_str()), "{secret:?} exported");
        }
    }

    // Someone else asking is told there is no such user; an admin may export it.
    let bob = pake_testkit::sign_up_and_in(&app, "bob").await;
    let hidden = identity
        .export_user_data(authorized(
            &bob.access_token,
            ExportUserDataRequest {
                name: run.alice.clone(),
            },
        ))
        .await
        .expect_err("not bob's");
    assert_eq!(hidden.code(), Code::NotFound);
    let info = hidden.get_error_details().error_info().cloned();
    assert_eq!(
        info.map(|info| info.reason).as_deref(),
        Some("USER_NOT_FOUND")
    );
    let by_admin = export(&mut identity, &run.admin.access_token, &run.alice).await;
    let Some(Record::AuditEvent(last)) = by_admin.last().and_then(|m| m.record.clone()) else {
        panic!("ends with an event");
    };
    assert_eq!(last.r#type, AuditEventType::UserDataExported as i32);
    assert_eq!(last.actor, run.admin.name);
    assert_eq!(
        by_admin.len(),
        records.len() + 1,
        "one more event: this export"
    );
    let malformed = identity
        .export_user_data(authorized(
            &run.alice_token,
            ExportUserDataRequest {
                name: "alice".into(),
            },
        ))
        .await
        .expect_err("malformed");
    assert_eq!(malformed.code(), Code::InvalidArgument);
    app.stop().await;
}
