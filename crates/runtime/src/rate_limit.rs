//! Per-caller rate limits (SPEC §2): a token bucket per caller and method class, checked by the
//! auth layer right after authentication, so every PAKE method of every service is covered and
//! a refused call costs no handler work. A refusal is RESOURCE_EXHAUSTED, reason
//! `RATE_LIMITED`, with `RetryInfo` saying when the next call will be accepted.
//!
//! The caller is the token's subject; anonymous calls are counted per client address. Service
//! accounts (the `service` role: search reading the feed, identity disposing of items) are not
//! limited. Buckets live in this process: behind a load balancer each replica limits on its
//! own (a shared Redis bucket is for production mode, issue 8).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use pake_core::auth::{Caller, Role};
use pake_core::config::RateLimitConfig;

/// Which budget a method spends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MethodClass {
    /// Methods that only read: Get*, List*, BatchGet*, Search, Suggest, Find*, Export*, Watch*.
    Read,
    /// Every other method.
    Write,
}

impl MethodClass {
    /// The class of a full gRPC path, `None` for what is not limited (health, reflection).
    pub fn of(path: &str) -> Option<MethodClass> {
        if !path.starts_with("/pake.") {
            return None;
        }
        let method = path.rsplit('/').next().unwrap_or_default();
        const READS: [&str; 8] = [
            "Get", "List", "BatchGet", "Search", "Suggest", "Find", "Export", "Watch",
        ];
        Some(if READS.iter().any(|prefix| method.starts_with(prefix)) {
            MethodClass::Read
        } else {
            MethodClass::Write
        })
    }
}

/// A bucket's rate and size; `None` when the class is unlimited.
#[derive(Clone, Copy, Debug)]
struct Budget {
    per_second: f64,
    burst: f64,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    /// The tokens at `now`: refilled at the budget's rate since the last update, up to its burst.
    fn tokens_at(&self, now: Instant, budget: Budget) -> f64 {
        let refilled =
            now.saturating_duration_since(self.updated).as_secs_f64() * budget.per_second;
        (self.tokens + refilled).min(budget.burst)
    }
}

/// The buckets of every caller seen recently.
#[derive(Debug)]
pub struct RateLimiter {
    read: Option<Budget>,
    write: Option<Budget>,
    max_callers: usize,
    buckets: Mutex<HashMap<(String, MethodClass), Bucket>>,
}

impl RateLimiter {
    /// A limiter with `config`'s budgets.
    pub fn new(config: &RateLimitConfig) -> Self {
        let budget = |per_second: u32, burst: u32| {
            (per_second > 0).then(|| Budget {
                per_second: f64::from(per_second),
                burst: f64::from(burst.max(1)),
            })
        };
        RateLimiter {
            read: budget(config.read_per_second, config.read_burst),
            write: budget(config.write_per_second, config.write_burst),
            max_callers: config.max_callers.max(1),
            buckets: Mutex::default(),
        }
    }

    /// Spends one call of `caller` (from `address`) on `path`: `Ok` when allowed, otherwise
    /// how long until the next call of that class will be.
    pub fn check(
        &self,
        caller: &Caller,
        address: Option<IpAddr>,
        path: &str,
    ) -> Result<(), Duration> {
        let Some(class) = MethodClass::of(path) else {
            return Ok(());
        };
        let budget = match class {
            MethodClass::Read => self.read,
            MethodClass::Write => self.write,
        };
        let Some(budget) = budget else {
            return Ok(());
        };
        let key = match caller {
            Caller::Authenticated(principal) if principal.roles.contains(&Role::Service) => {
                return Ok(());
            }
            Caller::Authenticated(principal) => format!("sub:{}", principal.subject),
            Caller::Anonymous => match address {
                Some(address) => format!("addr:{address}"),
                None => "addr:unknown".to_owned(),
            },
        };
        self.spend((key, class), budget, Instant::now())
    }

    fn spend(
        &self,
        key: (String, MethodClass),
        budget: Budget,
        now: Instant,
    ) -> Result<(), Duration> {
        // A poisoned map still holds valid buckets: nothing panics while it is held.
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= self.max_callers && !buckets.contains_key(&key) {
            forget_full_buckets(&mut buckets, now, self.read, self.write);
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: budget.burst,
            updated: now,
        });
        bucket.tokens = bucket.tokens_at(now, budget);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let missing = 1.0 - bucket.tokens;
        Err(Duration::from_secs_f64(missing / budget.per_second).max(Duration::from_millis(1)))
    }
}

/// Drops the buckets that have refilled completely (forgetting them changes nothing); when
/// every caller is busy, drops the half updated longest ago (they get a fresh bucket: the map's
/// bound wins over exactness for the idlest callers).
fn forget_full_buckets(
    buckets: &mut HashMap<(String, MethodClass), Bucket>,
    now: Instant,
    read: Option<Budget>,
    write: Option<Budget>,
) {
    let before = buckets.len();
    buckets.retain(|(_, class), bucket| {
        let budget = match class {
            MethodClass::Read => read,
            MethodClass::Write => write,
        };
        budget.is_some_and(|budget| bucket.tokens_at(now, budget) < budget.burst)
    });
    if buckets.len() < before {
        return;
    }
    let mut ages: Vec<Instant> = buckets.values().map(|bucket| bucket.updated).collect();
    ages.sort_unstable();
    if let Some(&cutoff) = ages.get(ages.len() / 2) {
        buckets.retain(|_, bucket| bucket.updated > cutoff);
    }
}

#[cfg(test)]
mod tests {
    use pake_core::auth::Principal;

    use super::*;

    fn limiter(read: u32, burst: u32) -> RateLimiter {
        RateLimiter::new(&RateLimitConfig {
            read_per_second: read,
            read_burst: burst,
            write_per_second: 0,
            write_burst: 0,
            max_callers: 4,
        })
    }

    fn user(subject: &str, roles: Vec<Role>) -> Caller {
        Caller::Authenticated(Principal {
            subject: subject.to_owned(),
            session_id: None,
            roles,
        })
    }

    const GET: &str = "/pake.knowledge.v1.KnowledgeService/GetItem";

    #[test]
    fn methods_are_classified_by_name() {
        assert_eq!(MethodClass::of(GET), Some(MethodClass::Read));
        assert_eq!(
            MethodClass::of("/pake.search.v1.SearchService/Search"),
            Some(MethodClass::Read)
        );
        assert_eq!(
            MethodClass::of("/pake.knowledge.v1.KnowledgeService/CreateItem"),
            Some(MethodClass::Write)
        );
        assert_eq!(MethodClass::of("/grpc.health.v1.Health/Check"), None);
    }

    #[test]
    fn a_bucket_allows_its_burst_then_says_when_to_retry() {
        let limiter = limiter(10, 3);
        let ada = user("users/ada", vec![Role::Editor]);
        for _ in 0..3 {
            assert_eq!(limiter.check(&ada, None, GET), Ok(()));
        }
        let wait = limiter
            .check(&ada, None, GET)
            .expect_err("the fourth call is refused");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(100),
            "{wait:?}"
        );
        // Another caller has a bucket of its own; writes are unlimited here.
        assert_eq!(limiter.check(&user("users/bob", vec![]), None, GET), Ok(()));
        assert_eq!(
            limiter.check(&ada, None, "/pake.knowledge.v1.KnowledgeService/CreateItem"),
            Ok(())
        );
    }

    #[test]
    fn buckets_refill_at_the_sustained_rate() {
        let limiter = limiter(10, 1);
        let key = ("sub:users/ada".to_owned(), MethodClass::Read);
        let budget = limiter.read.expect("limited");
        let start = Instant::now();
        assert_eq!(limiter.spend(key.clone(), budget, start), Ok(()));
        assert!(limiter.spend(key.clone(), budget, start).is_err());
        let later = start + Duration::from_millis(100);
        assert_eq!(limiter.spend(key, budget, later), Ok(()));
    }

    #[test]
    fn service_accounts_and_unlimited_classes_pass() {
        let limiter = limiter(1, 1);
        let search = user("services/search", vec![Role::Service]);
        for _ in 0..10 {
            assert_eq!(limiter.check(&search, None, GET), Ok(()));
        }
        let unlimited = limiter_with_no_limits();
        for _ in 0..10 {
            assert_eq!(unlimited.check(&Caller::Anonymous, None, GET), Ok(()));
        }
    }

    fn limiter_with_no_limits() -> RateLimiter {
        limiter(0, 0)
    }

    #[test]
    fn anonymous_callers_are_counted_per_address() {
        let limiter = limiter(1, 1);
        let one: IpAddr = [10, 0, 0, 1].into();
        let two: IpAddr = [10, 0, 0, 2].into();
        assert_eq!(limiter.check(&Caller::Anonymous, Some(one), GET), Ok(()));
        assert!(limiter.check(&Caller::Anonymous, Some(one), GET).is_err());
        assert_eq!(limiter.check(&Caller::Anonymous, Some(two), GET), Ok(()));
    }

    #[test]
    fn the_number_of_tracked_callers_is_bounded() {
        let limiter = limiter(1, 1);
        for index in 0..50 {
            let _ = limiter.check(&user(&format!("users/{index}"), vec![]), None, GET);
        }
        let tracked = limiter
            .buckets
            .lock()
            .map(|b| b.len())
            .unwrap_or(usize::MAX);
        assert!(tracked <= 4, "{tracked}");
    }
}
