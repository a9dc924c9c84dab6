//! The scenario the audit tests run: sign-ins (one refused for a wrong password, one for an
//! unknown username, one traced), a refresh and its replay, API keys (a forged secret, an
//! exchange, a revocation), a profile update, a role change by the admin, a password change and a
//! logout — with the events each step must record and every secret it used.

use std::time::SystemTime;

use pake_api::identity::identity_service_client::IdentityServiceClient;
use pake_api::identity::{
    ApiKey, AuditEventType, ChangePasswordRequest, CreateApiKeyRequest, CreateSessionRequest,
    CreateSessionResponse, CreateUserRequest, DeleteApiKeyRequest, DeleteSessionRequest,
    ExchangeApiKeyRequest, RefreshSessionRequest, Role, UpdateUserRequest, User,
};
use pake_testkit::{SignedIn, TEST_PASSWORD, TestApp, authorized, sign_in_admin};
use prost_types::FieldMask;
use tonic::Code;
use tonic::transport::Channel;

pub const WRONG_PASSWORD: &str = "not the password at all 1!";
pub const NEW_PASSWORD: &str = "another rather long passphrase 77?";
pub const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

pub type Client = IdentityServiceClient<Channel>;

/// What the scenario did: the events it must have produced, the secrets it used, and where.
pub struct Scenario {
    pub admin: SignedIn,
    pub alice: String,
    /// Alice's access token of her last, live session.
    pub alice_token: String,
    /// When the scenario started (after the admin signed in), RFC 3339.
    pub start: String,
    /// When the second half started (index into `expected`, RFC 3339).
    pub middle: (usize, String),
    pub expected: Vec<(AuditEventType, String, String)>,
    /// Passwords, tokens, key secrets and the typed unknown username.
    pub secrets: Vec<String>,
}

/// Appends an expected event.
fn event(
    expected: &mut Vec<(AuditEventType, String, String)>,
    event_type: AuditEventType,
    actor: &str,
    target: &str,
) {
    expected.push((event_type, actor.to_owned(), target.to_owned()));
}

fn now_rfc3339() -> String {
    prost_types::Timestamp::from(SystemTime::now()).to_string()
}

async fn sign_in(identity: &mut Client, username: &str, password: &str) -> CreateSessionResponse {
    identity
        .create_session(CreateSessionRequest {
            username: username.into(),
            password: password.into(),
        })
        .await
        .expect("sign in")
        .into_inner()
}

fn session_of(response: &CreateSessionResponse) -> String {
    response.session.as_ref().expect("session").name.clone()
}

async fn create_key(identity: &mut Client, token: &str, label: &str) -> (ApiKey, String) {
    let created = identity
        .create_api_key(authorized(
            token,
            CreateApiKeyRequest {
                parent: "users/me".into(),
                api_key: Some(ApiKey {
                    display_name: label.into(),
                    ..ApiKey::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect("create key")
        .into_inner();
    (created.api_key.expect("key"), created.secret)
}

/// Runs the scenario against `app`; returns what it expects to find in the log.
pub async fn scenario(app: &TestApp) -> Scenario {
    use AuditEventType::*;
    let admin = sign_in_admin(app, "root").await;
    let mut identity = IdentityServiceClient::new(app.channel().await);
    let start = now_rfc3339();
    let mut expected = Vec::new();
    let mut secrets = vec![
        TEST_PASSWORD.to_owned(),
        WRONG_PASSWORD.to_owned(),
        NEW_PASSWORD.to_owned(),
        admin.access_token.clone(),
        admin.refresh_token.clone(),
    ];

    let username = "alice_liddell".to_owned();
    let alice = identity
        .create_user(CreateUserRequest {
            user: Some(User {
                username: username.clone(),
                display_name: "Alice".into(),
                ..User::default()
            }),
            password: TEST_PASSWORD.into(),
            ..CreateUserRequest::default()
        })
        .await
        .expect("register")
        .into_inner()
        .name;
    event(&mut expected, UserCreated, "", &alice);

    let refused = identity
        .create_session(CreateSessionRequest {
            username: username.to_uppercase(),
            password: WRONG_PASSWORD.into(),
        })
        .await
        .expect_err("wrong password");
    assert_eq!(refused.code(), Code::Unauthenticated);
    event(&mut expected, SignInFailed, "", &alice);
    let ghost = "Ghost_Wanderer_42".to_owned();
    secrets.push(ghost.clone());
    secrets.push(ghost.to_lowercase());
    let refused = identity
        .create_session(CreateSessionRequest {
            username: ghost,
            password: TEST_PASSWORD.into(),
        })
        .await
        .expect_err("unknown user");
    assert_eq!(refused.code(), Code::Unauthenticated);
    event(&mut expected, SignInFailed, "", "");

    // A traced sign-in; then a refresh, and the replay of the spent refresh token.
    let mut traced = tonic::Request::new(CreateSessionRequest {
        username: username.clone(),
        password: TEST_PASSWORD.into(),
    });
    let traceparent = format!("00-{TRACE_ID}-00f067aa0ba902b7-01");
    traced
        .metadata_mut()
        .insert("traceparent", traceparent.parse().expect("ascii"));
    let first = identity
        .create_session(traced)
        .await
        .expect("sign in")
        .into_inner();
    event(&mut expected, SignInSucceeded, &alice, &session_of(&first));
    let refreshed = identity
        .refresh_session(RefreshSessionRequest {
            refresh_token: first.refresh_token.clone(),
        })
        .await
        .expect("refresh")
        .into_inner();
    let replay = identity
        .refresh_session(RefreshSessionRequest {
            refresh_token: first.refresh_token.clone(),
        })
        .await
        .expect_err("replay");
    assert_eq!(replay.code(), Code::Unauthenticated);
    event(&mut expected, RefreshTokenReused, "", &session_of(&first));
    secrets.extend([
        first.access_token,
        first.refresh_token,
        refreshed.access_token,
        refreshed.refresh_token,
    ]);

    // API keys: created, a wrong secret for a real key id, a good exchange, revoked, another.
    let second = sign_in(&mut identity, &username, TEST_PASSWORD).await;
    event(&mut expected, SignInSucceeded, &alice, &session_of(&second));
    let token = second.access_token.clone();
    let (revoked_key, revoked_secret) = create_key(&mut identity, &token, "laptop").await;
    event(&mut expected, ApiKeyCreated, &alice, &revoked_key.name);
    let forged = format!("{}{}", revoked_key.key_prefix, "A".repeat(43));
    let refused = identity
        .exchange_api_key(ExchangeApiKeyRequest {
            api_key: forged.clone(),
        })
        .await
        .expect_err("wrong secret");
    assert_eq!(refused.code(), Code::Unauthenticated);
    event(&mut expected, ApiKeyExchangeFailed, "", &revoked_key.name);
    let exchanged = identity
        .exchange_api_key(ExchangeApiKeyRequest {
            api_key: revoked_secret.clone(),
        })
        .await
        .expect("exchange")
        .into_inner();
    identity
        .delete_api_key(authorized(
            &token,
            DeleteApiKeyRequest {
                name: revoked_key.name.clone(),
            },
        ))
        .await
        .expect("revoke key");
    event(&mut expected, ApiKeyRevoked, &alice, &revoked_key.name);
    let middle = (expected.len(), now_rfc3339());
    let (kept_key, kept_secret) = create_key(&mut identity, &token, "ci").await;
    event(&mut expected, ApiKeyCreated, &alice, &kept_key.name);
    secrets.extend([
        second.access_token,
        second.refresh_token,
        revoked_secret,
        kept_secret,
        forged,
        exchanged.access_token,
    ]);

    // Profile, roles (by the admin), password, logout.
    identity
        .update_user(authorized(
            &token,
            UpdateUserRequest {
                user: Some(User {
                    name: "users/me".into(),
                    display_name: "Alice L.".into(),
                    ..User::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["display_name".into()],
                }),
            },
        ))
        .await
        .expect("update profile");
    event(&mut expected, UserUpdated, &alice, &alice);
    identity
        .update_user(authorized(
            &admin.access_token,
            UpdateUserRequest {
                user: Some(User {
                    name: alice.clone(),
                    roles: vec![Role::Viewer as i32],
                    ..User::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["roles".into()],
                }),
            },
        ))
        .await
        .expect("change roles");
    event(&mut expected, RolesChanged, &admin.name, &alice);
    let third = sign_in(&mut identity, &username, TEST_PASSWORD).await;
    event(&mut expected, SignInSucceeded, &alice, &session_of(&third));
    identity
        .change_password(authorized(
            &third.access_token,
            ChangePasswordRequest {
                name: "users/me".into(),
                current_password: TEST_PASSWORD.into(),
                new_password: NEW_PASSWORD.into(),
            },
        ))
        .await
        .expect("change password");
    event(&mut expected, PasswordChanged, &alice, &alice);
    let fourth = sign_in(&mut identity, &username, NEW_PASSWORD).await;
    event(&mut expected, SignInSucceeded, &alice, &session_of(&fourth));
    identity
        .delete_session(authorized(
            &fourth.access_token,
            DeleteSessionRequest {
                name: "users/me/sessions/current".into(),
            },
        ))
        .await
        .expect("logout");
    event(&mut expected, SessionRevoked, &alice, &session_of(&fourth));
    let last = sign_in(&mut identity, &username, NEW_PASSWORD).await;
    event(&mut expected, SignInSucceeded, &alice, &session_of(&last));
    secrets.extend([
        third.access_token,
        third.refresh_token,
        fourth.access_token,
        fourth.refresh_token,
        last.refresh_token,
        last.access_token.clone(),
    ]);
    Scenario {
        admin,
        alice,
        alice_token: last.access_token,
        start,
        middle,
        expected,
        secrets,
    }
}
