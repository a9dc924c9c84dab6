//! Metrics every cache in the process reports the same way, told apart by labels:
//!
//! - `pake_cache_hits_total{cache,backend}` — lookups that found an entry;
//! - `pake_cache_misses_total{cache,backend}` — lookups that found nothing;
//! - `pake_cache_entries{cache,backend}` — entries held (summed over instances).
//!
//! `cache` names what is cached (`search_query`, `jwks`), `backend` where (`memory`, `redis`).

use super::{Counter, Gauge, Labels};

/// One cache's series; cheap to clone, updates are atomic.
#[derive(Clone, Debug)]
pub struct CacheMetrics {
    hits: Counter,
    misses: Counter,
    entries: Gauge,
}

impl CacheMetrics {
    /// The series of `cache` kept in `backend` (both from a fixed set of names).
    pub fn new(cache: &'static str, backend: &'static str) -> Self {
        let labels: Labels = vec![("cache", cache.to_owned()), ("backend", backend.to_owned())];
        CacheMetrics {
            hits: super::counter_family("pake_cache_hits", "Cache lookups that found an entry")
                .get_or_create_owned(&labels),
            misses: super::counter_family("pake_cache_misses", "Cache lookups that found nothing")
                .get_or_create_owned(&labels),
            entries: super::gauge_family("pake_cache_entries", "Entries held in caches")
                .get_or_create_owned(&labels),
        }
    }

    /// Counts one lookup.
    pub fn lookup(&self, hit: bool) {
        if hit {
            self.hits.inc();
        } else {
            self.misses.inc();
        }
    }

    /// Adds `delta` entries (negative when entries went away).
    pub fn add_entries(&self, delta: i64) {
        self.entries.inc_by(delta);
    }
}
