//! Lockouts with the in-process throttle (the embedded mode), made the way an attacker makes
//! them: wrong passwords over gRPC, waiting out every delay the server asks for (RetryInfo) —
//! about two minutes of waiting, spent asleep. The account is locked through its email, and the
//! lockout holds for its username too: failures count per account, whichever login was typed.

use std::time::Duration;

use pake_api::identity::CreateSessionRequest;
use pake_api::identity::identity_service_client::IdentityServiceClient;
use pake_identity::throttle::LOCKOUT_FAILURES;
use pake_testkit::{TEST_PASSWORD, TestApp, sign_in_admin, sign_up_and_in, spawn_app};
use tonic::Code;
use tonic_types::StatusExt;

use super::lockout_checks::{check_locked_users, create_and_sign_in, editor};

/// Fails sign-in as `login` until `LOCKOUT_FAILURES` failures counted (the last one locks),
/// sleeping through the delays in between.
async fn lock_by_failing(app: &TestApp, login: &str) {
    let mut identity = IdentityServiceClient::new(app.channel().await);
    let mut failures = 0;
    while failures < LOCKOUT_FAILURES {
        let status = identity
            .create_session(CreateSessionRequest {
                username: login.to_owned(),
                password: "not the password, again".to_owned(),
            })
            .await
            .expect_err("a wrong password");
        match status.code() {
            Code::Unauthenticated => failures += 1,
            Code::ResourceExhausted => {
                let wait = status
                    .get_details_retry_info()
                    .and_then(|info| info.retry_delay)
                    .expect("a throttled sign-in says how long to wait");
                tokio::time::sleep(wait + Duration::from_millis(20)).await;
            }
            other => panic!("sign-in as {login}: {other:?} {status:?}"),
        }
    }
    let refused = identity
        .create_session(CreateSessionRequest {
            username: login.to_owned(),
            password: TEST_PASSWORD.to_owned(),
        })
        .await
        .expect_err("locked: the right password fails like a wrong one");
    assert_eq!(refused.code(), Code::Unauthenticated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locked_accounts_show_to_themselves_and_admins_only() {
    let app = spawn_app().await;
    // Everyone signs in first: afterwards this address is throttled too.
    let admin = sign_in_admin(&app, "admin").await;
    let other = sign_up_and_in(&app, "other").await;
    let victim = create_and_sign_in(&app, &admin, "victim", "Victim@Example.org", editor()).await;
    lock_by_failing(&app, "VICTIM@example.ORG").await;
    let by_username = IdentityServiceClient::new(app.channel().await)
        .create_session(CreateSessionRequest {
            username: "victim".to_owned(),
            password: TEST_PASSWORD.to_owned(),
        })
        .await
        .expect_err("the lockout covers the username too");
    assert_eq!(by_username.code(), Code::Unauthenticated, "{by_username:?}");
    check_locked_users(
        &app,
        &admin,
        &other,
        &[&victim],
        &[&admin.user.username, &other.user.username],
    )
    .await;
    app.stop().await;
}
