//! The hot-query cache in Redis, shared by search replicas: `{prefix}search:cache:{key}` holds an
//! encoded page for `redis.cache_ttl_secs`. Keys include the applied feed cursor and the read
//! scope (`cache::CacheKey`), so replicas at different cursors never serve each other stale or
//! foreign pages; the TTL only bounds memory, and pages over `redis.cache_max_entry_bytes` are
//! not stored.
//!
//! While Redis is unreachable (or slow) every lookup is a miss and every store is skipped: a
//! Search is answered from the index and never fails because of the cache (ADR 15).

use std::time::Duration;

use fred::interfaces::KeysInterface;
use fred::types::Expiration;
use pake_runtime::metrics::cache::CacheMetrics;
use pake_runtime::redis::Redis;

use crate::cache::{CacheKey, QueryCache};

/// Search pages in Redis.
#[derive(Debug)]
pub struct RedisQueryCache {
    redis: Redis,
    ttl: Duration,
    max_entry_bytes: usize,
    /// Hits and misses (`backend="redis"`; an unreachable Redis counts as a miss).
    metrics: CacheMetrics,
}

impl RedisQueryCache {
    /// Pages live `ttl`; bigger pages than `max_entry_bytes` are not cached.
    pub fn new(redis: Redis, ttl: Duration, max_entry_bytes: usize) -> Self {
        RedisQueryCache {
            redis,
            ttl,
            max_entry_bytes,
            metrics: CacheMetrics::new("search_query", "redis"),
        }
    }

    fn redis_key(&self, key: &CacheKey) -> String {
        self.redis.key(&format!("search:cache:{}", key.to_hex()))
    }
}

#[async_trait::async_trait]
impl QueryCache for RedisQueryCache {
    async fn get(&self, key: &CacheKey) -> Option<Vec<u8>> {
        let redis_key = self.redis_key(key);
        let page = self
            .redis
            .call("search cache", |client| async move {
                client.get::<Option<Vec<u8>>, _>(redis_key).await
            })
            .await
            .flatten()
            // Never trust a size we would not have stored.
            .filter(|page| page.len() <= self.max_entry_bytes);
        self.metrics.lookup(page.is_some());
        page
    }

    async fn put(&self, key: CacheKey, page: Vec<u8>) {
        if page.len() > self.max_entry_bytes {
            return;
        }
        let redis_key = self.redis_key(&key);
        let millis = i64::try_from(self.ttl.as_millis())
            .unwrap_or(i64::MAX)
            .max(1);
        self.redis
            .call("search cache", |client| async move {
                client
                    .set::<(), _, _>(
                        redis_key,
                        page.as_slice(),
                        Some(Expiration::PX(millis)),
                        None,
                        false,
                    )
                    .await
            })
            .await;
    }
}
