//! Signing-key rotation over gRPC: publication before signing, old tokens valid while their key
//! retires, ES256 keys, emergency rotation, idempotent retries and admin-only access.

use std::time::{Duration, Instant};

use pake_api::identity::identity_service_client::IdentityServiceClient;
use pake_api::identity::signing_key::State;
use pake_api::identity::{
    CreateSessionRequest, GetJwksRequest, GetUserRequest, ListAuditEventsRequest,
    ListSigningKeysRequest, RotateSigningKeyRequest, SigningAlgorithm, SigningKey,
};
use pake_core::config::ServiceRole;
use pake_testkit::{
    TEST_PASSWORD, TestApp, authorized, sign_in_admin, sign_up_and_in, spawn_app_with,
};
use tonic::Code;

const PUBLICATION_DELAY_SECS: u64 = 2;

async fn app(algorithms: &[&str]) -> TestApp {
    let algorithms: Vec<String> = algorithms.iter().map(|a| (*a).to_owned()).collect();
    spawn_app_with(ServiceRole::All, move |config| {
        config.auth.jwks_refresh_secs = 1;
        config.identity.key_publication_delay_secs = PUBLICATION_DELAY_SECS;
        config.identity.signing_algorithms = algorithms;
    })
    .await
}

fn header_of(token: &str) -> jsonwebtoken::Header {
    jsonwebtoken::decode_header(token).expect("jwt header")
}

async fn sign_in(app: &TestApp, username: &str) -> String {
    IdentityServiceClient::new(app.channel().await)
        .create_session(CreateSessionRequest {
            username: username.to_owned(),
            password: TEST_PASSWORD.to_owned(),
        })
        .await
        .expect("sign in")
        .into_inner()
        .access_token
}

/// Whether `token` is accepted by the verifier (GetUser `users/me` needs a valid token).
async fn accepted(app: &TestApp, token: &str) -> Result<(), tonic::Status> {
    IdentityServiceClient::new(app.channel().await)
        .get_user(authorized(
            token,
            GetUserRequest {
                name: "users/me".into(),
            },
        ))
        .await
        .map(|_| ())
}

async fn list_keys(app: &TestApp, admin: &str) -> Vec<SigningKey> {
    IdentityServiceClient::new(app.channel().await)
        .list_signing_keys(authorized(admin, ListSigningKeysRequest::default()))
        .await
        .expect("list signing keys")
        .into_inner()
        .signing_keys
}

async fn jwks_kids(app: &TestApp) -> Vec<String> {
    IdentityServiceClient::new(app.channel().await)
        .get_jwks(GetJwksRequest::default())
        .await
        .expect("jwks")
        .into_inner()
        .keys
        .into_iter()
        .map(|key| key.kid)
        .collect()
}

async fn rotate(
    app: &TestApp,
    token: &str,
    request: RotateSigningKeyRequest,
) -> Result<SigningKey, tonic::Status> {
    IdentityServiceClient::new(app.channel().await)
        .rotate_signing_key(authorized(token, request))
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_key_is_published_before_it_signs_and_old_tokens_outlive_the_rotation() {
    let app = app(&["EdDSA", "ES256"]).await;
    let admin = sign_in_admin(&app, "keys_admin").await;
    let old_token = admin.access_token.clone();
    let old_kid = header_of(&old_token).kid.expect("kid");
    let editor = sign_up_and_in(&app, "keys_editor").await;

    let denied = rotate(
        &app,
        &editor.access_token,
        RotateSigningKeyRequest::default(),
    )
    .await
    .expect_err("editors do not rotate keys");
    assert_eq!(denied.code(), Code::PermissionDenied);
    let denied = IdentityServiceClient::new(app.channel().await)
        .list_signing_keys(authorized(
            &editor.access_token,
            ListSigningKeysRequest::default(),
        ))
        .await
        .expect_err("editors do not list keys");
    assert_eq!(denied.code(), Code::PermissionDenied);

    let new = rotate(&app, &old_token, RotateSigningKeyRequest::default())
        .await
        .expect("rotate");
    assert_eq!(new.state(), State::Pending);
    assert_eq!(new.algorithm(), SigningAlgorithm::Eddsa);
    assert_eq!(new.name, format!("signingKeys/{}", new.kid));
    let created = new.create_time.expect("create_time");
    let activates = new.activate_time.expect("activate_time");
    assert_eq!(
        activates.seconds - created.seconds,
        PUBLICATION_DELAY_SECS as i64
    );
    let again = rotate(&app, &old_token, RotateSigningKeyRequest::default())
        .await
        .expect_err("one rotation at a time");
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert!(again.message().contains("pending"), "{}", again.message());

    let events = IdentityServiceClient::new(app.channel().await)
        .list_audit_events(authorized(
            &old_token,
            ListAuditEventsRequest {
                filter: "type = AUDIT_EVENT_TYPE_SIGNING_KEY_ROTATED".into(),
                ..ListAuditEventsRequest::default()
            },
        ))
        .await
        .expect("audit events")
        .into_inner()
        .audit_events;
    let targets: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.target.as_str(), e.actor.as_str()))
        .collect();
    assert_eq!(targets, vec![(new.name.as_str(), admin.name.as_str())]);

    // Published at once; the old key still signs.
    assert_eq!(jwks_kids(&app).await.len(), 2);
    assert!(jwks_kids(&app).await.contains(&new.kid));
    let username = admin.user.username.clone();
    let during = sign_in(&app, &username).await;
    assert_eq!(header_of(&during).kid.as_deref(), Some(old_kid.as_str()));

    // After the publication delay the new key signs; tokens of the old key stay valid.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let token = sign_in(&app, &username).await;
        if header_of(&token).kid.as_deref() == Some(new.kid.as_str()) {
            accepted(&app, &token)
                .await
                .expect("a token of the new key");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new key never started signing"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    accepted(&app, &old_token)
        .await
        .expect("a token of the retiring key stays valid");
    let keys = list_keys(&app, &old_token).await;
    let states: Vec<(String, State)> = keys.iter().map(|k| (k.kid.clone(), k.state())).collect();
    assert_eq!(
        states,
        vec![(new.kid.clone(), State::Active), (old_kid, State::Retiring)],
        "newest first"
    );
    let retiring = &keys[1];
    let retired = retiring.retire_time.expect("retire_time");
    let expires = retiring.expire_time.expect("expire_time");
    assert_eq!(
        expires.seconds - retired.seconds,
        app.config.identity.access_token_ttl_secs as i64 + 60,
        "kept for the longest token lifetime plus the leeway"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emergency_rotation_to_es256_invalidates_every_earlier_token() {
    let app = app(&["EdDSA", "ES256"]).await;
    let admin = sign_in_admin(&app, "keys_admin").await;
    let username = admin.user.username.clone();
    let request = RotateSigningKeyRequest {
        algorithm: SigningAlgorithm::Es256 as i32,
        emergency: true,
        request_id: "incident-42".into(),
    };
    let new = rotate(&app, &admin.access_token, request.clone())
        .await
        .expect("emergency rotation");
    assert_eq!(new.state(), State::Active);
    assert_eq!(new.algorithm(), SigningAlgorithm::Es256);
    assert_eq!(
        jwks_kids(&app).await,
        vec![new.kid.clone()],
        "every other key removed"
    );

    // Earlier tokens stop working once the verifier refreshes its keys (1 s here).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match accepted(&app, &admin.access_token).await {
            Err(status) => {
                assert_eq!(status.code(), Code::Unauthenticated);
                break;
            }
            Ok(()) => assert!(Instant::now() < deadline, "an old token still works"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let fresh = sign_in(&app, &username).await;
    let header = header_of(&fresh);
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    assert_eq!(header.kid.as_deref(), Some(new.kid.as_str()));
    accepted(&app, &fresh).await.expect("an ES256 token");

    // A retry with the same request id (by the same admin, with a fresh token) returns the
    // same key instead of rotating again.
    let retried = rotate(&app, &fresh, request).await.expect("retry");
    assert_eq!(retried.kid, new.kid);
    assert_eq!(jwks_kids(&app).await.len(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_enabled_algorithms_rotate_and_pages_are_bound_to_the_caller() {
    let app = app(&["EdDSA"]).await;
    let admin = sign_in_admin(&app, "keys_admin").await;
    let refused = rotate(
        &app,
        &admin.access_token,
        RotateSigningKeyRequest {
            algorithm: SigningAlgorithm::Es256 as i32,
            ..RotateSigningKeyRequest::default()
        },
    )
    .await
    .expect_err("ES256 is disabled");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("algorithm"),
        "{}",
        refused.message()
    );

    rotate(
        &app,
        &admin.access_token,
        RotateSigningKeyRequest::default(),
    )
    .await
    .expect("rotate");
    let mut identity = IdentityServiceClient::new(app.channel().await);
    let first = identity
        .list_signing_keys(authorized(
            &admin.access_token,
            ListSigningKeysRequest {
                page_size: 1,
                ..ListSigningKeysRequest::default()
            },
        ))
        .await
        .expect("page 1")
        .into_inner();
    assert_eq!(first.total_size, 2);
    assert_eq!(first.signing_keys.len(), 1);
    let second = identity
        .list_signing_keys(authorized(
            &admin.access_token,
            ListSigningKeysRequest {
                page_size: 1,
                page_token: first.next_page_token.clone(),
            },
        ))
        .await
        .expect("page 2")
        .into_inner();
    assert_eq!(second.signing_keys.len(), 1);
    assert_ne!(second.signing_keys[0].kid, first.signing_keys[0].kid);
    assert!(second.next_page_token.is_empty());

    let other_admin = sign_in_admin(&app, "other_admin").await;
    let stolen = identity
        .list_signing_keys(authorized(
            &other_admin.access_token,
            ListSigningKeysRequest {
                page_size: 1,
                page_token: first.next_page_token,
            },
        ))
        .await
        .expect_err("a page token of another caller");
    assert_eq!(stolen.code(), Code::InvalidArgument);
    let negative = identity
        .list_signing_keys(authorized(
            &admin.access_token,
            ListSigningKeysRequest {
                page_size: -1,
                ..ListSigningKeysRequest::default()
            },
        ))
        .await
        .expect_err("negative page size");
    assert_eq!(negative.code(), Code::InvalidArgument);
    app.stop().await;
}
