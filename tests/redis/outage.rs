//! Outages of a private `redis-server` (never the machine's): while it is gone, Search answers
//! from the index, sign-in works and throttles in-process, revocations hold on the replica that
//! made them; restarted on the same port, Redis is used again without a restart of PAKE — a
//! cache page appears in it, throttling written after the recovery is seen by the other
//! replica, and a revocation made during the outage reaches it.

use std::time::{Duration, Instant};

use pake_core::revocation::RevokedSessions;
use pake_runtime::redis_revocation::RedisRevokedSessions;
use pake_testkit::redis::{PrivateRedis, connect, keys};
use pake_testkit::{TEST_PASSWORD, TestApp, sign_up_and_in};
use tonic::Code;

use super::{sign_in, two_replicas, write_and_search};

/// Waits (bounded) until `probe` holds.
async fn eventually<F, Fut>(what: &str, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while !probe().await {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn has_key(url: &str, prefix: &str, part: &str) -> bool {
    keys(url, prefix)
        .await
        .iter()
        .any(|key| key.starts_with(&format!("{prefix}{part}")))
}

/// A failed sign-in of an unknown account on `app` left its counter in Redis.
async fn throttle_reaches_redis(app: &TestApp, url: &str, prefix: &str, probe: &str) -> bool {
    sign_in(app, probe, "no such account here").await;
    // A name no account has is counted as `name:{name}`.
    has_key(url, prefix, &format!("throttle:user:name:{probe}")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pake_degrades_while_redis_is_down_and_uses_it_again_when_it_returns() {
    let Some(mut redis) = PrivateRedis::start().await else {
        return;
    };
    let url = redis.url();
    let prefix = "pake-outage:";
    let (a, b) = two_replicas(&url, prefix).await;
    let user = sign_up_and_in(&a, "outage").await;
    write_and_search(&a, &user.access_token, "before")
        .await
        .expect("search with redis");
    assert!(has_key(&url, prefix, "search:cache:").await);

    redis.kill();
    let started = Instant::now();
    let found = write_and_search(&a, &user.access_token, "during")
        .await
        .expect("search answers without redis");
    assert_eq!(found.results.len(), 1);
    assert_eq!(
        sign_in(&a, &user.user.username, TEST_PASSWORD).await,
        Code::Ok,
        "sign-in works without redis"
    );
    let victim = sign_up_and_in(&a, "victim").await.user.username;
    for _ in 0..pake_identity::throttle::FREE_FAILURES {
        assert_eq!(
            sign_in(&a, &victim, "guessing without redis").await,
            Code::Unauthenticated
        );
    }
    assert_eq!(
        sign_in(&a, &victim, TEST_PASSWORD).await,
        Code::ResourceExhausted,
        "throttled in-process while redis is down"
    );
    // Generous: only catches calls that wait on the dead server instead of falling back.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    redis.restart().await;
    eventually("the search cache writes to redis again", || async {
        let word = format!("after{}", rand_word());
        write_and_search(&a, &user.access_token, &word)
            .await
            .is_ok()
            && has_key(&url, prefix, "search:cache:").await
    })
    .await;
    eventually("replica B writes to redis again", || {
        throttle_reaches_redis(&b, &url, prefix, "probe-b")
    })
    .await;
    eventually("replica A writes to redis again", || {
        throttle_reaches_redis(&a, &url, prefix, "probe-a")
    })
    .await;
    let after = sign_up_and_in(&a, "after").await.user.username;
    for _ in 0..pake_identity::throttle::FREE_FAILURES {
        sign_in(&a, &after, "guessing after the recovery").await;
    }
    assert_eq!(
        sign_in(&b, &after, TEST_PASSWORD).await,
        Code::ResourceExhausted,
        "failures on A after the recovery are seen by B"
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_revocation_made_during_an_outage_reaches_redis_when_it_returns() {
    let Some(mut redis) = PrivateRedis::start().await else {
        return;
    };
    let url = redis.url();
    let prefix = "pake-outage-revoked:";
    let identity = RedisRevokedSessions::new(connect(&url, prefix).await);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default();

    redis.kill();
    identity
        .revoke("users/a/sessions/1", Duration::from_secs(300))
        .await;
    assert!(
        identity.is_revoked("users/a/sessions/1", now).await,
        "kept in-process"
    );

    redis.restart().await;
    let verifier = RedisRevokedSessions::new(connect(&url, prefix).await);
    eventually("the pending revocation is written", || async {
        // Any check on the identity replica notices the recovery and writes what it kept.
        identity.is_revoked("users/a/sessions/other", now).await;
        verifier.is_revoked("users/a/sessions/1", now).await
    })
    .await;
}

/// Redis down when PAKE starts: it starts anyway (without waiting out Redis), serves sign-in
/// and search on in-process state, and uses Redis once it comes up — without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pake_starts_while_redis_is_down_and_uses_it_once_it_is_up() {
    let Some(mut redis) = PrivateRedis::start().await else {
        return;
    };
    let url = redis.url();
    let prefix = "pake-down-at-start:";
    redis.kill();

    let started = Instant::now();
    let app = pake_testkit::spawn_app_with(pake_core::config::ServiceRole::All, |config| {
        super::use_redis(config, &url, prefix);
    })
    .await;
    // Generous: catches a start-up that waits on the absent server instead of degrading.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "start-up took {:?}",
        started.elapsed()
    );
    let user = sign_up_and_in(&app, "downatstart").await;
    let found = write_and_search(&app, &user.access_token, "degraded")
        .await
        .expect("search answers without redis");
    assert_eq!(found.results.len(), 1);
    assert_eq!(
        sign_in(&app, &user.user.username, "a wrong password").await,
        Code::Unauthenticated
    );

    redis.restart().await;
    eventually("throttling writes to redis once it is up", || {
        throttle_reaches_redis(&app, &url, prefix, "probe-late")
    })
    .await;
    eventually("the search cache writes to redis once it is up", || async {
        let word = format!("late{}", rand_word());
        write_and_search(&app, &user.access_token, &word)
            .await
            .is_ok()
            && has_key(&url, prefix, "search:cache:").await
    })
    .await;
    app.stop().await;
}

fn rand_word() -> String {
    format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or_default()
    )
}
