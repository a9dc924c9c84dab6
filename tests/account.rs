//! A user's own account over gRPC: sessions and password changes.

use pake_api::identity::identity_service_client::IdentityServiceClient;
use pake_api::identity::{
    ChangePasswordRequest, CreateSessionRequest, GetUserRequest, ListSessionsRequest,
};
use pake_testkit::{TEST_PASSWORD, authorized, sign_up_and_in, spawn_app};
use tonic::Code;

const NEW_PASSWORD: &str = "a completely different passphrase 77";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_list_their_sessions_and_nobody_elses() {
    let app = spawn_app().await;
    let alice = sign_up_and_in(&app, "alice").await;
    let bob = sign_up_and_in(&app, "bob").await;
    let mut identity = IdentityServiceClient::new(app.channel().await);
    identity
        .create_session(CreateSessionRequest {
            username: alice.user.username.clone(),
            password: TEST_PASSWORD.into(),
        })
        .await
        .expect("second sign-in");
    let sessions = identity
        .list_sessions(authorized(
            &alice.access_token,
            ListSessionsRequest {
                parent: "users/me".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(sessions.sessions.len(), 2);
    assert_eq!(
        sessions.sessions.iter().filter(|s| s.current).count(),
        1,
        "the caller's own session is marked"
    );
    assert!(
        sessions
            .sessions
            .iter()
            .all(|s| s.name.starts_with(&format!("{}/sessions/", alice.name)))
    );

    let page = identity
        .list_sessions(authorized(
            &alice.access_token,
            ListSessionsRequest {
                parent: "users/me".into(),
                page_size: 1,
                ..Default::default()
            },
        ))
        .await
        .expect("page")
        .into_inner();
    assert_eq!(page.sessions.len(), 1);
    let rest = identity
        .list_sessions(authorized(
            &alice.access_token,
            ListSessionsRequest {
                parent: "users/me".into(),
                page_size: 1,
                page_token: page.next_page_token.clone(),
            },
        ))
        .await
        .expect("next page")
        .into_inner();
    assert_eq!(rest.sessions.len(), 1);
    assert_ne!(rest.sessions[0].name, page.sessions[0].name);

    let status = identity
        .list_sessions(authorized(
            &bob.access_token,
            ListSessionsRequest {
                parent: alice.name.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("bob may not");
    assert_eq!(status.code(), Code::NotFound);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_password_needs_the_current_one_and_ends_every_session() {
    let app = spawn_app().await;
    let alice = sign_up_and_in(&app, "alice").await;
    let mut identity = IdentityServiceClient::new(app.channel().await);
    let change = |current: &str, new: &str| {
        authorized(
            &alice.access_token,
            ChangePasswordRequest {
                name: "users/me".into(),
                current_password: current.into(),
                new_password: new.into(),
            },
        )
    };
    let wrong = identity
        .change_password(change("not my password at all", NEW_PASSWORD))
        .await
        .expect_err("wrong");
    assert_eq!(wrong.code(), Code::InvalidArgument);
    assert!(
        wrong.message().contains("current_password"),
        "{}",
        wrong.message()
    );
    let weak = identity
        .change_password(change(TEST_PASSWORD, "password1234"))
        .await
        .expect_err("weak");
    assert!(
        weak.message().contains("new_password"),
        "{}",
        weak.message()
    );
    let missing = identity
        .change_password(change("", NEW_PASSWORD))
        .await
        .expect_err("missing");
    assert!(
        missing.message().contains("current_password"),
        "{}",
        missing.message()
    );

    identity
        .change_password(change(TEST_PASSWORD, NEW_PASSWORD))
        .await
        .expect("change");
    let after = identity
        .get_user(authorized(
            &alice.access_token,
            GetUserRequest {
                name: "users/me".into(),
            },
        ))
        .await
        .expect_err("the old session ended");
    assert_eq!(after.code(), Code::Unauthenticated);
    let old = identity
        .create_session(CreateSessionRequest {
            username: alice.user.username.clone(),
            password: TEST_PASSWORD.into(),
        })
        .await
        .expect_err("old password");
    assert_eq!(old.code(), Code::Unauthenticated);
    identity
        .create_session(CreateSessionRequest {
            username: alice.user.username.clone(),
            password: NEW_PASSWORD.into(),
        })
        .await
        .expect("new password works");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_are_throttled_alike_for_real_and_unknown_accounts() {
    use tonic_types::StatusExt;
    let attempt = |username: &str, password: &str| CreateSessionRequest {
        username: username.into(),
        password: password.into(),
    };
    // A fresh server per account, since failures from one address throttle every account.
    for real in [true, false] {
        let app = spawn_app().await;
        let alice = sign_up_and_in(&app, "alice").await;
        let username = if real {
            alice.user.username.clone()
        } else {
            "nobody_at_all".to_owned()
        };
        let mut identity = IdentityServiceClient::new(app.channel().await);
        for _ in 0..pake_identity::throttle::FREE_FAILURES {
            let status = identity
                .create_session(attempt(&username, "wrong password here"))
                .await
                .expect_err("wrong");
            assert_eq!(status.code(), Code::Unauthenticated);
        }
        // Even the right password must wait now; the answer says how long.
        let throttled = identity
            .create_session(attempt(&username, TEST_PASSWORD))
            .await
            .expect_err("throttled");
        assert_eq!(throttled.code(), Code::ResourceExhausted, "{username}");
        let retry = throttled
            .get_error_details()
            .retry_info()
            .cloned()
            .expect("RetryInfo");
        assert!(
            retry
                .retry_delay
                .is_some_and(|d| d > std::time::Duration::ZERO)
        );
        // The address is throttled for every account now.
        let other = identity
            .create_session(attempt("someone_else", TEST_PASSWORD))
            .await
            .expect_err("per address");
        assert_eq!(other.code(), Code::ResourceExhausted);
        app.stop().await;
    }
}
