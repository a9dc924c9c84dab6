//! Signing up and in through the public API, as a client would.

use pake_api::identity::identity_service_client::IdentityServiceClient;
use pake_api::identity::{
    ApiKey, CreateApiKeyRequest, CreateSessionRequest, CreateUserRequest, Role, User,
};
use tonic::transport::Channel;

use crate::TestApp;

/// The password every test user gets (strong enough for the zxcvbn check).
pub const TEST_PASSWORD: &str = "correct horse battery staple 42!";

/// A signed-in test user.
#[derive(Clone, Debug)]
pub struct SignedIn {
    /// The user as created.
    pub user: User,
    /// `users/{id}`.
    pub name: String,
    /// The access token.
    pub access_token: String,
    /// The refresh token.
    pub refresh_token: String,
}

/// Registers `{prefix}_{random}` with [`TEST_PASSWORD`] and signs in.
pub async fn sign_up_and_in(app: &TestApp, prefix: &str) -> SignedIn {
    let username = format!("{prefix}_{:08x}", rand::random::<u32>());
    let mut client = IdentityServiceClient::new(app.channel().await);
    let user = client
        .create_user(CreateUserRequest {
            user: Some(User {
                username: username.clone(),
                ..User::default()
            }),
            password: TEST_PASSWORD.to_owned(),
            ..CreateUserRequest::default()
        })
        .await
        .expect("sign up")
        .into_inner();
    let session = client
        .create_session(CreateSessionRequest {
            username,
            password: TEST_PASSWORD.to_owned(),
        })
        .await
        .expect("sign in")
        .into_inner();
    SignedIn {
        name: user.name.clone(),
        user,
        access_token: session.access_token,
        refresh_token: session.refresh_token,
    }
}

/// Bootstraps an admin `{prefix}_{random}` the way an operator does (`pake user create --admin`,
/// straight against the database) and signs it in over gRPC.
pub async fn sign_in_admin(app: &TestApp, prefix: &str) -> SignedIn {
    let username = format!("{prefix}_{:08x}", rand::random::<u32>());
    let args = pake::args::UserCreateArgs {
        username: username.clone(),
        email: String::new(),
        display_name: String::new(),
        admin: true,
        data_dir: None,
        database_url: None,
    };
    let user = pake::users::create(&app.config, args, TEST_PASSWORD.to_owned())
        .await
        .expect("bootstrap admin");
    let session = IdentityServiceClient::new(app.channel().await)
        .create_session(CreateSessionRequest {
            username,
            password: TEST_PASSWORD.to_owned(),
        })
        .await
        .expect("admin sign-in")
        .into_inner();
    SignedIn {
        name: user.name.clone(),
        user,
        access_token: session.access_token,
        refresh_token: session.refresh_token,
    }
}

/// Creates the service account `username` (role `service`, as search's replicas use) with the
/// admin's `admin_token`.
pub async fn create_service_account(channel: Channel, admin_token: &str, username: &str) -> User {
    IdentityServiceClient::new(channel)
        .create_user(authorized(
            admin_token,
            CreateUserRequest {
                user: Some(User {
                    username: username.to_owned(),
                    roles: vec![Role::Service as i32],
                    ..User::default()
                }),
                ..CreateUserRequest::default()
            },
        ))
        .await
        .expect("create service account")
        .into_inner()
}

/// Creates an API key of `parent` (`users/{id}` or `users/me`) as `token`'s caller and returns
/// its secret (`pake_…`).
pub async fn create_api_key(
    channel: Channel,
    token: &str,
    parent: &str,
    display_name: &str,
) -> String {
    IdentityServiceClient::new(channel)
        .create_api_key(authorized(
            token,
            CreateApiKeyRequest {
                parent: parent.to_owned(),
                api_key: Some(ApiKey {
                    display_name: display_name.to_owned(),
                    ..ApiKey::default()
                }),
                ..CreateApiKeyRequest::default()
            },
        ))
        .await
        .expect("create api key")
        .into_inner()
        .secret
}

/// A request carrying `token` as `authorization: Bearer`.
pub fn authorized<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let value = format!("Bearer {token}").parse().expect("ascii token");
    request.metadata_mut().insert("authorization", value);
    request
}
