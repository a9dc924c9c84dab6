//! API keys over gRPC: the secret shown once, exchange for a short-lived JWT, roles never above
//! the owner's, revocation, and who may do what.

use pake_api::identity::identity_service_client::IdentityServiceClient;
use pake_api::identity::{
    ApiKey, CreateApiKeyRequest, DeleteApiKeyRequest, ExchangeApiKeyRequest, GetUserRequest,
    ListApiKeysRequest, Role,
};
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::knowledge::{CreateItemRequest, Item};
use pake_testkit::{TestApp, authorized, sign_up_and_in, spawn_app};
use tonic::Code;
use tonic::transport::Channel;

async fn identity(app: &TestApp) -> IdentityServiceClient<Channel> {
    IdentityServiceClient::new(app.channel().await)
}

fn key_request(roles: Vec<Role>) -> CreateApiKeyRequest {
    CreateApiKeyRequest {
        parent: "users/me".into(),
        api_key: Some(ApiKey {
            display_name: "backup script".into(),
            roles: roles.into_iter().map(|r| r as i32).collect(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn exchange(app: &TestApp, secret: &str) -> Result<String, tonic::Status> {
    identity(app)
        .await
        .exchange_api_key(ExchangeApiKeyRequest {
            api_key: secret.to_owned(),
        })
        .await
        .map(|response| response.into_inner().access_token)
}

async fn create_item(app: &TestApp, token: &str) -> Result<Item, tonic::Status> {
    KnowledgeServiceClient::new(app.channel().await)
        .create_item(authorized(
            token,
            CreateItemRequest {
                item: Some(Item {
                    title: "From a script".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_is_shown_once_and_exchanges_for_a_working_token() {
    let app = spawn_app().await;
    let alice = sign_up_and_in(&app, "alice").await;
    let created = identity(&app)
        .await
        .create_api_key(authorized(&alice.access_token, key_request(vec![])))
        .await
        .expect("create")
        .into_inner();
    let key = created.api_key.expect("key");
    assert!(
        created.secret.starts_with(&key.key_prefix),
        "{} / {}",
        created.secret,
        key.key_prefix
    );
    assert!(
        key.key_prefix.starts_with("pake_")
            && key.name.starts_with(&format!("{}/apiKeys/", alice.name))
    );

    let listed = identity(&app)
        .await
        .list_api_keys(authorized(
            &alice.access_token,
            ListApiKeysRequest {
                parent: "users/me".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.api_keys.len(), 1);
    assert!(
        !format!("{:?}", listed).contains(&created.secret[key.key_prefix.len()..]),
        "secrets are never listed"
    );

    let token = exchange(&app, &created.secret).await.expect("exchange");
    let item = create_item(&app, &token)
        .await
        .expect("the key's token works");
    assert_eq!(item.owner, alice.name, "acting as the owner");
    let me = identity(&app)
        .await
        .get_user(authorized(
            &token,
            GetUserRequest {
                name: "users/me".into(),
            },
        ))
        .await
        .expect("users/me")
        .into_inner();
    assert!(me.last_sign_in_time.is_some());

    // Tokens from a key cannot mint more keys.
    let status = identity(&app)
        .await
        .create_api_key(authorized(&token, key_request(vec![])))
        .await
        .expect_err("no keys from keys");
    assert_eq!(status.code(), Code::PermissionDenied);

    // Wrong or malformed secrets all look alike.
    let mut wrong = created.secret.clone();
    wrong.pop();
    wrong.push(if created.secret.ends_with('a') {
        'b'
    } else {
        'a'
    });
    for bad in [wrong.as_str(), "pake_nope", "garbage"] {
        let status = exchange(&app, bad).await.expect_err("rejected");
        assert_eq!(
            (status.code(), status.message()),
            (Code::Unauthenticated, "invalid API key")
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_never_has_more_rights_than_its_owner() {
    let app = spawn_app().await;
    let alice = sign_up_and_in(&app, "alice").await;
    let status = identity(&app)
        .await
        .create_api_key(authorized(
            &alice.access_token,
            key_request(vec![Role::Admin]),
        ))
        .await
        .expect_err("an editor cannot mint an admin key");
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(
        status.message().contains("api_key.roles"),
        "{}",
        status.message()
    );

    let viewer_only = identity(&app)
        .await
        .create_api_key(authorized(
            &alice.access_token,
            key_request(vec![Role::Viewer]),
        ))
        .await
        .expect_err("alice is not a viewer either");
    assert_eq!(viewer_only.code(), Code::PermissionDenied);

    let editor = identity(&app)
        .await
        .create_api_key(authorized(
            &alice.access_token,
            key_request(vec![Role::Editor]),
        ))
        .await
        .expect("editor key")
        .into_inner();
    let token = exchange(&app, &editor.secret).await.expect("exchange");
    create_item(&app, &token).await.expect("editor rights");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_key_stops_exchanges_and_its_tokens_at_once() {
    let app = spawn_app().await;
    let alice = sign_up_and_in(&app, "alice").await;
    let bob = sign_up_and_in(&app, "bob").await;
    let created = identity(&app)
        .await
        .create_api_key(authorized(&alice.access_token, key_request(vec![])))
        .await
        .expect("create")
        .into_inner();
    let name = created.api_key.expect("key").name;
    let token = exchange(&app, &created.secret).await.expect("exchange");

    let status = identity(&app)
        .await
        .delete_api_key(authorized(
            &bob.access_token,
            DeleteApiKeyRequest { name: name.clone() },
        ))
        .await
        .expect_err("not bob's");
    assert_eq!(status.code(), Code::NotFound);
    let status = identity(&app)
        .await
        .list_api_keys(authorized(
            &bob.access_token,
            ListApiKeysRequest {
                parent: alice.name.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("not bob's");
    assert_eq!(status.code(), Code::NotFound);

    identity(&app)
        .await
        .delete_api_key(authorized(
            &alice.access_token,
            DeleteApiKeyRequest { name: name.clone() },
        ))
        .await
        .expect("revoke");
    assert_eq!(
        exchange(&app, &created.secret)
            .await
            .expect_err("revoked")
            .code(),
        Code::Unauthenticated
    );
    assert_eq!(
        create_item(&app, &token)
            .await
            .expect_err("token revoked")
            .code(),
        Code::Unauthenticated
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_validate_their_fields() {
    let app = spawn_app().await;
    let alice = sign_up_and_in(&app, "alice").await;
    let mut request = key_request(vec![]);
    if let Some(key) = request.api_key.as_mut() {
        key.display_name = String::new();
    }
    let status = identity(&app)
        .await
        .create_api_key(authorized(&alice.access_token, request))
        .await
        .expect_err("empty name");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("api_key.display_name"));

    let mut request = key_request(vec![]);
    if let Some(key) = request.api_key.as_mut() {
        key.expire_time = Some(prost_types::Timestamp {
            seconds: 1,
            nanos: 0,
        });
    }
    let status = identity(&app)
        .await
        .create_api_key(authorized(&alice.access_token, request))
        .await
        .expect_err("past");
    assert!(status.message().contains("api_key.expire_time"));
    let empty = identity(&app)
        .await
        .exchange_api_key(ExchangeApiKeyRequest::default())
        .await
        .expect_err("empty");
    assert_eq!(empty.code(), Code::InvalidArgument);
    app.stop().await;
}
