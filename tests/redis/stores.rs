//! The Redis stores on the machine's Redis: throttling passes the same suite as the in-process
//! state; cache pages and revocations written through one replica's connection are read through
//! another's; TTLs and the page size bound hold.

use std::time::Duration;

use pake_core::revocation::RevokedSessions;
use pake_identity::throttle_redis::RedisThrottle;
use pake_runtime::redis_revocation::RedisRevokedSessions;
use pake_search::cache::{CacheKey, QueryCache};
use pake_search::cache_redis::RedisQueryCache;
use pake_testkit::redis::{connect, delete_keys, keys, redis_url, unique_prefix};

fn epoch_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default()
}

#[tokio::test]
async fn redis_throttling_passes_the_in_process_suite() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("throttle");
    let throttle = RedisThrottle::new(connect(&url, &prefix).await);
    pake_identity::throttle::suite(&throttle, "redis").await;
    // The counters live in Redis, under the prefix (the suite cleared its own).
    use pake_identity::throttle::Throttle;
    throttle.failed("zed-redis", "10.0.0.1-redis").await;
    assert_eq!(
        keys(&url, &prefix).await,
        vec![
            format!("{prefix}throttle:addr:10.0.0.1-redis"),
            format!("{prefix}throttle:user:zed-redis"),
        ]
    );
    delete_keys(&url, &prefix).await;
}

#[tokio::test]
async fn concurrent_failures_on_two_replicas_all_count() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("throttle-race");
    let a = std::sync::Arc::new(RedisThrottle::new(connect(&url, &prefix).await));
    let b = std::sync::Arc::new(RedisThrottle::new(connect(&url, &prefix).await));
    use pake_identity::throttle::{LOCKOUT_FAILURES, Throttle, Verdict};
    let now = pake_identity::throttle::now_ms();
    let mut tasks = Vec::new();
    for i in 0..LOCKOUT_FAILURES {
        let replica = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            replica.failed_at("eve", &format!("10.1.0.{i}"), now).await
        }));
    }
    let mut locks = 0;
    for task in tasks {
        locks += u32::from(task.await.expect("task"));
    }
    assert_eq!(locks, 1, "exactly one failure locks: the script is atomic");
    assert_eq!(a.check_at("eve", "10.9.9.9", now).await, Verdict::Locked);
    assert_eq!(b.check_at("eve", "10.9.9.9", now).await, Verdict::Locked);
    delete_keys(&url, &prefix).await;
}

#[tokio::test]
async fn cache_pages_are_shared_bounded_in_size_and_expire() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("cache");
    let ttl = Duration::from_secs(1);
    let a = RedisQueryCache::new(connect(&url, &prefix).await, ttl, 1024);
    let b = RedisQueryCache::new(connect(&url, &prefix).await, ttl, 1024);
    let key = CacheKey::new("0000000000000007", "user:users/a", "q=rust");
    let other_scope = CacheKey::new("0000000000000007", "user:users/b", "q=rust");
    assert_eq!(b.get(&key).await, None);
    a.put(key.clone(), b"page".to_vec()).await;
    assert_eq!(
        b.get(&key).await,
        Some(b"page".to_vec()),
        "another replica hits"
    );
    assert_eq!(b.get(&other_scope).await, None, "another scope misses");
    assert_eq!(
        keys(&url, &prefix).await,
        vec![format!("{prefix}search:cache:{}", key.to_hex())]
    );

    let big = CacheKey::new("0000000000000007", "all", "q=big");
    a.put(big.clone(), vec![7; 1025]).await;
    assert_eq!(
        b.get(&big).await,
        None,
        "pages over the bound are not stored"
    );

    tokio::time::sleep(ttl + Duration::from_millis(300)).await;
    assert_eq!(b.get(&key).await, None, "entries expire");
    assert!(keys(&url, &prefix).await.is_empty());
}

#[tokio::test]
async fn a_revocation_on_one_replica_is_seen_by_another_until_it_expires() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("revoked");
    let identity = RedisRevokedSessions::new(connect(&url, &prefix).await);
    let verifier = RedisRevokedSessions::new(connect(&url, &prefix).await);
    let now = epoch_seconds();
    assert!(!verifier.is_revoked("users/a/sessions/1", now).await);
    identity
        .revoke("users/a/sessions/1", Duration::from_secs(60))
        .await;
    identity
        .revoke("users/a/sessions/2", Duration::from_secs(1))
        .await;
    assert!(verifier.is_revoked("users/a/sessions/1", now).await);
    assert!(verifier.is_revoked("users/a/sessions/1", now - 60).await);
    assert!(
        !verifier.is_revoked("users/a/sessions/1", now + 5).await,
        "tokens issued after the revocation are not revoked"
    );
    assert!(!verifier.is_revoked("users/a/sessions/3", now).await);
    assert!(verifier.is_revoked("users/a/sessions/2", now).await);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert!(
        !verifier.is_revoked("users/a/sessions/2", now).await,
        "entries expire with the session's last access token"
    );
    delete_keys(&url, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_redis_costs_a_request_at_most_about_one_command_timeout() {
    let Some(server) = pake_testkit::redis::PrivateRedis::start().await else {
        return;
    };
    let settings = pake_core::config::RedisConfig {
        key_prefix: unique_prefix("silent"),
        command_timeout_ms: 50,
        ..pake_core::config::RedisConfig::default()
    };
    let url = pake_core::config::SecretString::new(server.url());
    let redis = pake_runtime::redis::Redis::connect(&url, &settings).expect("client");
    assert!(redis.wait_connected(Duration::from_secs(5)).await);
    let cache = RedisQueryCache::new(redis, Duration::from_secs(60), 1024);
    let key = CacheKey::new("1", "all", "q");
    cache.put(key.clone(), b"page".to_vec()).await;
    assert_eq!(cache.get(&key).await, Some(b"page".to_vec()));

    // Connections stay open, nothing answers: a black hole, not a refusal.
    server.freeze(true);
    let started = std::time::Instant::now();
    for _ in 0..20 {
        let call = std::time::Instant::now();
        assert_eq!(cache.get(&key).await, None, "a miss");
        cache.put(key.clone(), b"page".to_vec()).await;
        // Generous bounds: they catch waiting on the server, not scheduling noise.
        assert!(
            call.elapsed() < Duration::from_millis(400),
            "{:?}",
            call.elapsed()
        );
    }
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "40 calls must not each wait for the 50 ms timeout: {:?}",
        started.elapsed()
    );
    server.freeze(false);
}
