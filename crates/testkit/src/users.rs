//! Signing up and in through the public API, as a client would.

use pake_api::identity::identity_service_client::IdentityServiceClient;
use pake_api::identity::{CreateSessionRequest, CreateUserRequest, User};

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

/// A request carrying `token` as `authorization: Bearer`.
pub fn authorized<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let value = format!("Bearer {token}").parse().expect("ascii token");
    request.metadata_mut().insert("authorization", value);
    request
}
