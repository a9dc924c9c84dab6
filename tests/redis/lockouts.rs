//! Lockouts with the Redis throttle: GetUser, ListUsers' `state` filter and UpdateUser report
//! them as the in-process throttle does (`users_admin/lockout_checks.rs`), for an account locked
//! through its username and one locked through its email (which then refuses its username too);
//! an account locked only in Redis is listed through the `locked` sorted set; a name locked
//! before anyone had it does not lock the account registered under it later; and with Redis
//! gone the reads fall back to what the replica saw itself.

use pake_api::identity::identity_service_client::IdentityServiceClient;
use pake_api::identity::{CreateUserRequest, User};
use pake_core::config::ServiceRole;
use pake_identity::throttle::{LOCKOUT_FAILURES, Throttle, now_ms};
use pake_identity::throttle_redis::RedisThrottle;
use pake_testkit::redis::{
    PrivateRedis, connect, delete_keys, eval, keys, redis_url, unique_prefix,
};
use pake_testkit::{TEST_PASSWORD, TestApp, sign_in_admin, sign_up_and_in, spawn_app_with};
use tonic::Code;

use super::lockout_checks::{
    assert_active, check_locked_users, create_and_sign_in, editor, get_user,
};
use super::{sign_in, use_redis};

/// Records nine earlier failures for `account` in Redis (skipping the growing delays), so
/// that the next wrong password locks it.
async fn nine_failures(url: &str, prefix: &str, account: &str) {
    let earlier = now_ms() - 70_000;
    eval(
        url,
        "redis.call('HSET', KEYS[1], 'count', ARGV[1], 'last', ARGV[2]) \
         redis.call('PEXPIRE', KEYS[1], 3600000)",
        vec![format!("{prefix}throttle:user:{account}")],
        vec![(LOCKOUT_FAILURES - 1).to_string(), earlier.to_string()],
    )
    .await;
}

/// Locks `account` (as the throttle keys it: `users/{id}`, or `name:{name}` for a name nobody
/// has) by signing in as `login` with one wrong password.
async fn lock(app: &TestApp, url: &str, prefix: &str, login: &str, account: &str) {
    nine_failures(url, prefix, account).await;
    assert_eq!(
        sign_in(app, login, "wrong password, tenth time").await,
        Code::Unauthenticated
    );
    assert_eq!(
        sign_in(app, login, TEST_PASSWORD).await,
        Code::Unauthenticated,
        "locked: the right password fails like a wrong one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_lockouts_show_to_themselves_and_admins_only() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("lockout-state");
    let app = spawn_app_with(ServiceRole::All, |config| use_redis(config, &url, &prefix)).await;
    let admin = sign_in_admin(&app, "admin").await;
    let other = sign_up_and_in(&app, "other").await;
    let by_name = create_and_sign_in(&app, &admin, "ann", "", editor()).await;
    let by_email = create_and_sign_in(&app, &admin, "bea", "Bea@Example.org", editor()).await;
    lock(&app, &url, &prefix, "ANN", &by_name.user.name).await;
    lock(&app, &url, &prefix, "bea@EXAMPLE.org", &by_email.user.name).await;
    assert_eq!(
        sign_in(&app, "bea", TEST_PASSWORD).await,
        Code::Unauthenticated,
        "locked through the email, the username is refused too"
    );
    assert!(
        keys(&url, &prefix)
            .await
            .contains(&format!("{prefix}throttle:locked")),
        "the lock is listed in the sorted set"
    );

    // A name locked before anyone had it: the account registered under it later starts with
    // a budget of its own.
    lock(&app, &url, &prefix, "ghost", "name:ghost").await;
    let ghost = IdentityServiceClient::new(app.channel().await)
        .create_user(CreateUserRequest {
            user: Some(User {
                username: "ghost".to_owned(),
                ..User::default()
            }),
            password: TEST_PASSWORD.to_owned(),
            ..CreateUserRequest::default()
        })
        .await
        .expect("open registration")
        .into_inner();
    assert_active(&ghost, "ghost as its anonymous registrant sees it");
    let seen_by_admin = get_user(&app, &admin.access_token, &ghost.name)
        .await
        .expect("admin reads ghost");
    assert_active(&seen_by_admin, "ghost as the admin sees it");

    check_locked_users(
        &app,
        &admin,
        &other,
        &[&by_name, &by_email],
        &[&admin.user.username, &other.user.username, "ghost"],
    )
    .await;
    app.stop().await;
    delete_keys(&url, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockout_reads_fall_back_to_what_the_replica_saw_while_redis_is_down() {
    let Some(mut redis) = PrivateRedis::start().await else {
        return;
    };
    let url = redis.url();
    let prefix = unique_prefix("lockout-outage");
    let seen_here = RedisThrottle::new(connect(&url, &prefix).await);
    let elsewhere = RedisThrottle::new(connect(&url, &prefix).await);
    let now = now_ms();
    for _ in 0..LOCKOUT_FAILURES {
        seen_here.failed_at("cy", "10.3.0.1", now).await;
        elsewhere.failed_at("dee", "10.3.0.2", now).await;
    }
    let accounts = ["cy".to_owned(), "dee".to_owned()];
    let mut listed = seen_here.locked_accounts_at(now, 10).await;
    listed.sort();
    assert_eq!(listed, accounts, "from Redis: both replicas' locks");
    assert!(
        seen_here
            .lockouts_at(&accounts, now)
            .await
            .iter()
            .all(Option::is_some)
    );

    redis.kill();
    let ends = seen_here.lockouts_at(&accounts, now).await;
    assert!(ends[0].is_some() && ends[1].is_none(), "{ends:?}");
    assert_eq!(seen_here.locked_accounts_at(now, 10).await, ["cy"]);
}
