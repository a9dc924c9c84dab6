//! The hot-query cache of Search (SPEC §5): encoded result pages keyed on everything that
//! decides them — the index's applied feed cursor, the caller's read scope and the query — so an
//! entry can never be stale (a newer cursor is another key) or foreign (another scope is another
//! key), even when replicas at different cursors share one cache (Redis in production; issue 8).
//! Page tokens are bound to the caller and are not cached: they are made per request.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

/// Entries kept by the default in-process cache.
pub const DEFAULT_ENTRIES: usize = 1024;
/// Largest page kept (bytes of the encoded response); bigger pages are not cached.
pub const MAX_ENTRY_BYTES: usize = 256 * 1024;

/// A cache of encoded Search pages.
#[async_trait::async_trait]
pub trait QueryCache: Send + Sync + std::fmt::Debug + 'static {
    /// The page stored under `key`, if any.
    async fn get(&self, key: &CacheKey) -> Option<Vec<u8>>;
    /// Stores `page` under `key`.
    async fn put(&self, key: CacheKey, page: Vec<u8>);
}

/// A digest of (applied cursor, read scope, normalised query).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CacheKey([u8; 32]);

impl CacheKey {
    /// The key of `query` (any stable rendering of every request field that shapes the page)
    /// answered for `scope` by an index at `applied_cursor`.
    pub fn new(applied_cursor: &str, scope: &str, query: &str) -> Self {
        let mut digest = Sha256::new();
        for part in [applied_cursor, scope, query] {
            digest.update((part.len() as u64).to_be_bytes());
            digest.update(part.as_bytes());
        }
        CacheKey(digest.finalize().into())
    }

    /// The key as hex, for an external cache.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

/// Pages by key, and keys in insertion order (the eviction order).
type Entries = (HashMap<CacheKey, Vec<u8>>, VecDeque<CacheKey>);

/// A bounded in-process cache that evicts the oldest entry first. Entries of older cursors age
/// out as new ones arrive; `capacity` 0 disables caching.
#[derive(Debug)]
pub struct InProcessQueryCache {
    capacity: usize,
    entries: Mutex<Entries>,
    metrics: pake_runtime::metrics::cache::CacheMetrics,
}

impl InProcessQueryCache {
    /// A cache of at most `capacity` pages.
    pub fn new(capacity: usize) -> Self {
        InProcessQueryCache {
            capacity,
            entries: Mutex::new((HashMap::new(), VecDeque::new())),
            metrics: pake_runtime::metrics::cache::CacheMetrics::new("search_query", "memory"),
        }
    }
}

#[async_trait::async_trait]
impl QueryCache for InProcessQueryCache {
    async fn get(&self, key: &CacheKey) -> Option<Vec<u8>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let page = entries.0.get(key).cloned();
        self.metrics.lookup(page.is_some());
        page
    }

    async fn put(&self, key: CacheKey, page: Vec<u8>) {
        if self.capacity == 0 || page.len() > MAX_ENTRY_BYTES {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let (map, order) = &mut *entries;
        if map.insert(key.clone(), page).is_none() {
            order.push_back(key);
            self.metrics.add_entries(1);
        }
        while map.len() > self.capacity {
            let Some(oldest) = order.pop_front() else {
                break;
            };
            if map.remove(&oldest).is_some() {
                self.metrics.add_entries(-1);
            }
        }
    }
}

impl Drop for InProcessQueryCache {
    fn drop(&mut self) {
        let entries = self.entries.get_mut().unwrap_or_else(|p| p.into_inner());
        self.metrics
            .add_entries(-i64::try_from(entries.0.len()).unwrap_or(0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keys_separate_cursor_scope_and_query() {
        let base = CacheKey::new("0000000000000001", "user:users/a", "q=rust");
        assert_ne!(
            base,
            CacheKey::new("0000000000000002", "user:users/a", "q=rust")
        );
        assert_ne!(
            base,
            CacheKey::new("0000000000000001", "user:users/b", "q=rust")
        );
        assert_ne!(
            base,
            CacheKey::new("0000000000000001", "user:users/a", "q=rusty")
        );
        // Length-prefixed parts: moving a boundary changes the key.
        assert_ne!(CacheKey::new("ab", "c", ""), CacheKey::new("a", "bc", ""));
        assert_eq!(base.to_hex().len(), 64);
    }

    #[tokio::test]
    async fn the_oldest_entries_are_evicted_beyond_capacity() {
        let cache = InProcessQueryCache::new(2);
        let key = |n: u8| CacheKey::new(&n.to_string(), "all", "q");
        for n in 0..3 {
            cache.put(key(n), vec![n]).await;
        }
        assert_eq!(cache.get(&key(0)).await, None);
        assert_eq!(cache.get(&key(1)).await, Some(vec![1]));
        assert_eq!(cache.get(&key(2)).await, Some(vec![2]));
        let disabled = InProcessQueryCache::new(0);
        disabled.put(key(0), vec![0]).await;
        assert_eq!(disabled.get(&key(0)).await, None);
    }
}
