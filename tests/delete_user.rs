//! DeleteUser over gRPC: the account, its sessions and API keys go at once; its items are then
//! deleted (and leave search) or reassigned through the knowledge service; every refusal has
//! its exact status.

use std::time::{Duration, Instant};

use pake_api::identity::delete_user_request::ItemDisposition;
use pake_api::identity::identity_service_client::IdentityServiceClient;
use pake_api::identity::{
    ApiKey, CreateApiKeyRequest, CreateSessionRequest, CreateUserRequest, DeleteUserRequest,
    ExchangeApiKeyRequest, GetUserRequest, ListAuditEventsRequest, RefreshSessionRequest, Role,
    User,
};
use pake_api::knowledge::dispose_owner_items_request::Disposition;
use pake_api::knowledge::item::Visibility;
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::knowledge::{
    CreateItemRequest, DeleteItemRequest, DisposeOwnerItemsRequest, GetItemRequest, Item,
    ListItemRevisionsRequest,
};
use pake_api::search::SearchRequest;
use pake_api::search::search_service_client::SearchServiceClient;
use pake_testkit::{
    SignedIn, TEST_PASSWORD, TestApp, authorized, sign_in_admin, sign_up_and_in, spawn_app,
};
use tonic::{Code, Status};
use tonic_types::StatusExt;

#[track_caller]
fn assert_status(status: Status, code: Code, reason: &str) {
    let got = status
        .get_error_details()
        .error_info()
        .map(|info| info.reason.clone())
        .unwrap_or_default();
    assert_eq!((status.code(), got.as_str()), (code, reason), "{status:?}");
}

fn delete(name: &str, disposition: ItemDisposition, reassign_to: &str) -> DeleteUserRequest {
    DeleteUserRequest {
        name: name.to_owned(),
        etag: String::new(),
        item_disposition: disposition as i32,
        reassign_to: reassign_to.to_owned(),
    }
}

async fn delete_user(app: &TestApp, token: &str, request: DeleteUserRequest) -> Result<(), Status> {
    IdentityServiceClient::new(app.channel().await)
        .delete_user(authorized(token, request))
        .await
        .map(|_| ())
}

async fn create_item(app: &TestApp, user: &SignedIn, title: &str, visibility: Visibility) -> Item {
    KnowledgeServiceClient::new(app.channel().await)
        .create_item(authorized(
            &user.access_token,
            CreateItemRequest {
                item: Some(Item {
                    title: title.to_owned(),
                    content: format!("{title} mentions the quokka"),
                    visibility: visibility as i32,
                    ..Item::default()
                }),
                ..CreateItemRequest::default()
            },
        ))
        .await
        .expect("create item")
        .into_inner()
}

async fn get_item(app: &TestApp, token: &str, name: &str) -> Item {
    KnowledgeServiceClient::new(app.channel().await)
        .get_item(authorized(
            token,
            GetItemRequest {
                name: name.to_owned(),
            },
        ))
        .await
        .expect("get item")
        .into_inner()
}

/// Polls `check` every 100 ms until it holds; panics with `what` after `limit`.
async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_user_is_gone_at_once_and_its_items_leave_search() {
    let app = spawn_app().await;
    let admin = sign_in_admin(&app, "del_admin").await;
    let alice = sign_up_and_in(&app, "alice").await;
    let private = create_item(&app, &alice, "Private quokka", Visibility::Private).await;
    let public = create_item(&app, &alice, "Public quokka", Visibility::Public).await;
    let already = create_item(&app, &alice, "Old quokka", Visibility::Private).await;
    KnowledgeServiceClient::new(app.channel().await)
        .delete_item(authorized(
            &alice.access_token,
            DeleteItemRequest {
                name: already.name.clone(),
                ..DeleteItemRequest::default()
            },
        ))
        .await
        .expect("soft delete");
    let key = IdentityServiceClient::new(app.channel().await)
        .create_api_key(authorized(
            &alice.access_token,
            CreateApiKeyRequest {
                parent: "users/me".into(),
                api_key: Some(ApiKey {
                    display_name: "laptop".into(),
                    ..ApiKey::default()
                }),
                ..CreateApiKeyRequest::default()
            },
        ))
        .await
        .expect("api key")
        .into_inner()
        .secret;

    delete_user(
        &app,
        &alice.access_token,
        delete("users/me", ItemDisposition::DeleteItems, ""),
    )
    .await
    .expect("self-deletion");

    let mut identity = IdentityServiceClient::new(app.channel().await);
    let me = identity
        .get_user(authorized(
            &alice.access_token,
            GetUserRequest {
                name: "users/me".into(),
            },
        ))
        .await
        .expect_err("the access token is revoked");
    assert_eq!(me.code(), Code::Unauthenticated);
    let refresh = identity
        .refresh_session(RefreshSessionRequest {
            refresh_token: alice.refresh_token.clone(),
        })
        .await
        .expect_err("the session is gone");
    assert_eq!(refresh.code(), Code::Unauthenticated);
    let sign_in = identity
        .create_session(CreateSessionRequest {
            username: alice.user.username.clone(),
            password: TEST_PASSWORD.into(),
        })
        .await
        .expect_err("the account is gone");
    assert_status(sign_in, Code::Unauthenticated, "INVALID_CREDENTIALS");
    let exchange = identity
        .exchange_api_key(ExchangeApiKeyRequest { api_key: key })
        .await
        .expect_err("the API key is gone");
    assert_status(exchange, Code::Unauthenticated, "INVALID_API_KEY");
    let gone = identity
        .get_user(authorized(
            &admin.access_token,
            GetUserRequest {
                name: alice.name.clone(),
            },
        ))
        .await
        .expect_err("admins no longer find it");
    assert_eq!(gone.code(), Code::NotFound);

    let events = identity
        .list_audit_events(authorized(
            &admin.access_token,
            ListAuditEventsRequest {
                filter: format!(
                    "type = AUDIT_EVENT_TYPE_USER_DELETED AND target = \"{}\"",
                    alice.name
                ),
                ..ListAuditEventsRequest::default()
            },
        ))
        .await
        .expect("audit events")
        .into_inner()
        .audit_events;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].actor, alice.name);
    assert_eq!(
        events[0]
            .attributes
            .get("item_disposition")
            .map(String::as_str),
        Some("delete_items")
    );

    // The username is free again; the new account is a different user.
    let again = identity
        .create_user(CreateUserRequest {
            user: Some(User {
                username: alice.user.username.clone(),
                ..User::default()
            }),
            password: TEST_PASSWORD.into(),
            ..CreateUserRequest::default()
        })
        .await
        .expect("username reusable")
        .into_inner();
    assert_ne!(again.name, alice.name);

    // The items are deleted asynchronously, then search no longer finds them.
    for item in [&private, &public] {
        eventually(Duration::from_secs(15), "items deleted", || async {
            get_item(&app, &admin.access_token, &item.name)
                .await
                .delete_time
                .is_some()
        })
        .await;
    }
    let old = get_item(&app, &admin.access_token, &already.name).await;
    assert_eq!(
        old.revision_id, "2",
        "an already deleted item is left alone"
    );
    // Items are disposed of one at a time, in no promised order: wait for the later deletion.
    let mut cursor = String::new();
    for item in [&private, &public] {
        let deleted = get_item(&app, &admin.access_token, &item.name)
            .await
            .feed_cursor;
        cursor = cursor.max(deleted);
    }
    let hits = SearchServiceClient::new(app.channel().await)
        .search(authorized(
            &admin.access_token,
            SearchRequest {
                query: "quokka".into(),
                min_cursor: cursor,
                ..SearchRequest::default()
            },
        ))
        .await
        .expect("search")
        .into_inner();
    assert_eq!(hits.total_size, 0, "{hits:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_reassigns_a_deleted_users_items_with_their_history() {
    let app = spawn_app().await;
    let admin = sign_in_admin(&app, "del_admin").await;
    let bob = sign_up_and_in(&app, "bob").await;
    let carol = sign_up_and_in(&app, "carol").await;
    let note = create_item(&app, &bob, "Bob's quokka", Visibility::Private).await;

    delete_user(
        &app,
        &admin.access_token,
        delete(&bob.name, ItemDisposition::ReassignItems, &carol.name),
    )
    .await
    .expect("delete with reassignment");
    eventually(Duration::from_secs(15), "item reassigned", || async {
        get_item(&app, &admin.access_token, &note.name).await.owner == carol.name
    })
    .await;
    let theirs = get_item(&app, &carol.access_token, &note.name).await;
    assert_eq!(theirs.content, note.content);
    assert_eq!(theirs.visibility, Visibility::Private as i32);
    assert!(theirs.delete_time.is_none());
    let revisions = KnowledgeServiceClient::new(app.channel().await)
        .list_item_revisions(authorized(
            &carol.access_token,
            ListItemRevisionsRequest {
                parent: note.name.clone(),
                ..ListItemRevisionsRequest::default()
            },
        ))
        .await
        .expect("revisions")
        .into_inner();
    assert_eq!(
        revisions.revisions.len(),
        2,
        "the history moves with the item"
    );
    assert_eq!(revisions.total_size, 2);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_refusals_have_their_exact_status() {
    let app = spawn_app().await;
    let admin = sign_in_admin(&app, "del_admin").await;
    let dave = sign_up_and_in(&app, "dave").await;
    let erin = sign_up_and_in(&app, "erin").await;
    let mut identity = IdentityServiceClient::new(app.channel().await);
    let viewer = identity
        .create_user(authorized(
            &admin.access_token,
            CreateUserRequest {
                user: Some(User {
                    username: "victor_viewer".into(),
                    roles: vec![Role::Viewer as i32],
                    ..User::default()
                }),
                password: TEST_PASSWORD.into(),
                ..CreateUserRequest::default()
            },
        ))
        .await
        .expect("viewer")
        .into_inner();

    let cases: Vec<(&str, &str, DeleteUserRequest, Code, &str)> = vec![
        (
            "no disposition",
            &dave.access_token,
            delete("users/me", ItemDisposition::Unspecified, ""),
            Code::InvalidArgument,
            "item_disposition",
        ),
        (
            "reassign_to with DELETE_ITEMS",
            &admin.access_token,
            delete(&dave.name, ItemDisposition::DeleteItems, &erin.name),
            Code::InvalidArgument,
            "reassign_to",
        ),
        (
            "a user reassigning",
            &dave.access_token,
            delete("users/me", ItemDisposition::ReassignItems, &erin.name),
            Code::PermissionDenied,
            "ADMIN_REQUIRED",
        ),
        (
            "reassign to the deleted user",
            &admin.access_token,
            delete(&dave.name, ItemDisposition::ReassignItems, &dave.name),
            Code::InvalidArgument,
            "reassign_to",
        ),
        (
            "reassign to a viewer",
            &admin.access_token,
            delete(&dave.name, ItemDisposition::ReassignItems, &viewer.name),
            Code::InvalidArgument,
            "reassign_to",
        ),
        (
            "reassign to nobody",
            &admin.access_token,
            delete(&dave.name, ItemDisposition::ReassignItems, "users/nobody"),
            Code::InvalidArgument,
            "reassign_to",
        ),
        (
            "another user's account",
            &dave.access_token,
            delete(&erin.name, ItemDisposition::DeleteItems, ""),
            Code::NotFound,
            "USER_NOT_FOUND",
        ),
        (
            "the last admin",
            &admin.access_token,
            delete("users/me", ItemDisposition::DeleteItems, ""),
            Code::FailedPrecondition,
            "LAST_ADMIN",
        ),
        (
            "a stale etag",
            &admin.access_token,
            DeleteUserRequest {
                etag: "\"999\"".into(),
                ..delete(&dave.name, ItemDisposition::DeleteItems, "")
            },
            Code::Aborted,
            "ETAG_MISMATCH",
        ),
    ];
    // The last column is the ErrorInfo reason, or for INVALID_ARGUMENT the field named by the
    // BadRequest violation.
    for (what, token, request, code, expected) in cases {
        let status = delete_user(&app, token, request).await.expect_err(what);
        let details = status.get_error_details();
        let got = if code == Code::InvalidArgument {
            details
                .bad_request()
                .and_then(|bad| bad.field_violations.first())
                .map(|violation| violation.field.clone())
        } else {
            details.error_info().map(|info| info.reason.clone())
        };
        assert_eq!(
            (status.code(), got.unwrap_or_default().as_str()),
            (code, expected),
            "{what}: {status:?}"
        );
    }

    // Nothing above deleted anyone; the current etag works.
    let current = identity
        .get_user(authorized(
            &admin.access_token,
            GetUserRequest {
                name: dave.name.clone(),
            },
        ))
        .await
        .expect("dave is still there")
        .into_inner();
    delete_user(
        &app,
        &admin.access_token,
        DeleteUserRequest {
            etag: current.etag,
            ..delete(&dave.name, ItemDisposition::DeleteItems, "")
        },
    )
    .await
    .expect("delete with the current etag");

    // A deleted user's id is never given out again.
    let chosen = |username: &str| CreateUserRequest {
        user: Some(User {
            username: username.to_owned(),
            ..User::default()
        }),
        password: TEST_PASSWORD.into(),
        user_id: "frank".into(),
        ..CreateUserRequest::default()
    };
    let frank = identity
        .create_user(chosen("frank"))
        .await
        .expect("a chosen id")
        .into_inner();
    delete_user(
        &app,
        &admin.access_token,
        delete(&frank.name, ItemDisposition::DeleteItems, ""),
    )
    .await
    .expect("delete frank");
    let reused = identity
        .create_user(chosen("frank_again"))
        .await
        .expect_err("a deleted id");
    assert_status(reused, Code::AlreadyExists, "USER_ID_TAKEN");

    // Only service accounts dispose of items directly.
    let direct = KnowledgeServiceClient::new(app.channel().await)
        .dispose_owner_items(authorized(
            &admin.access_token,
            DisposeOwnerItemsRequest {
                owner: erin.name.clone(),
                disposition: Disposition::DeleteItems as i32,
                new_owner: String::new(),
            },
        ))
        .await
        .expect_err("admins are not service accounts");
    assert_eq!(direct.code(), Code::PermissionDenied);
    app.stop().await;
}
