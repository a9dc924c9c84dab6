//! Sign-in throttling: per normalised username (whether or not the account exists) and per
//! client address, with a growing delay after a few free failures and a time-boxed lockout.
//!
//! - The first `FREE_FAILURES` failures cost nothing extra; after that each attempt must wait
//!   `2^(failures - FREE_FAILURES)` seconds (capped at `MAX_DELAY`) after the previous failure,
//!   or it is refused with RESOURCE_EXHAUSTED and a RetryInfo saying how long.
//! - `LOCKOUT_FAILURES` failures lock the account for `LOCKOUT`: every sign-in fails exactly like
//!   a wrong password, even with the right one, so a lockout reveals nothing.
//! - A successful sign-in clears the account's and the address's counters.
//! - Counters are forgotten `FORGET_AFTER` after the last failure.
//!
//! [`Throttle`] is the state behind these rules: [`InProcessThrottle`] (one identity replica,
//! the embedded mode) or `throttle_redis::RedisThrottle` (shared by replicas, falling back to
//! in-process state while Redis is unreachable). Both apply the rules below ([`verdict`],
//! [`after_failure`]); times are milliseconds since the Unix epoch, so replicas agree on them.
//! The same test suite ([`suite`]) runs against both.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Failures before any delay applies.
pub const FREE_FAILURES: u32 = 3;
/// Failures that lock the account.
pub const LOCKOUT_FAILURES: u32 = 10;
/// How long a lockout lasts.
pub const LOCKOUT: Duration = Duration::from_secs(15 * 60);
/// Longest delay between attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(60);
/// Counters are forgotten after this long without failures.
pub const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);
/// Bound on keys tracked in-process, so a spray of random usernames cannot exhaust memory.
const MAX_TRACKED: usize = 100_000;

/// The failure counters of one key (`user:<name>` or `addr:<ip>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failures {
    /// Failures counted (restarts at 0 when the account locks).
    pub count: u32,
    /// The last failure, ms since the epoch.
    pub last_ms: u64,
    /// End of the lockout, ms since the epoch.
    pub locked_until_ms: Option<u64>,
}

/// The verdict before checking a password.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead.
    Allowed,
    /// Too soon after the last failure: retry after this long.
    Wait(Duration),
    /// The account is locked: fail as a wrong password would (after spending the same work).
    Locked,
}

/// Now, in ms since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The delay owed after `count` failures.
pub fn delay_after(count: u32) -> Duration {
    if count < FREE_FAILURES {
        return Duration::ZERO;
    }
    let exponent = (count - FREE_FAILURES).min(16);
    Duration::from_secs(1u64 << exponent).min(MAX_DELAY)
}

/// The verdict from the account's and the address's counters at `now_ms`.
pub fn verdict(account: Option<Failures>, address: Option<Failures>, now_ms: u64) -> Verdict {
    if let Some(Failures {
        locked_until_ms: Some(until),
        ..
    }) = account
        && now_ms < until
    {
        return Verdict::Locked;
    }
    let wait_ms = [account, address]
        .into_iter()
        .flatten()
        .map(|failures| {
            let ready = failures
                .last_ms
                .saturating_add(millis(delay_after(failures.count)));
            ready.saturating_sub(now_ms)
        })
        .max()
        .unwrap_or(0);
    if wait_ms == 0 {
        Verdict::Allowed
    } else {
        Verdict::Wait(Duration::from_millis(wait_ms))
    }
}

/// One more failure on a key's counters at `now_ms`; true when it locks the account (only an
/// account key locks).
pub fn after_failure(
    previous: Option<Failures>,
    is_account: bool,
    now_ms: u64,
) -> (Failures, bool) {
    let mut failures = match previous {
        Some(previous) if now_ms.saturating_sub(previous.last_ms) < millis(FORGET_AFTER) => {
            previous
        }
        _ => Failures {
            count: 0,
            last_ms: now_ms,
            locked_until_ms: None,
        },
    };
    failures.count += 1;
    failures.last_ms = now_ms;
    if is_account && failures.count >= LOCKOUT_FAILURES {
        failures.locked_until_ms = Some(now_ms.saturating_add(millis(LOCKOUT)));
        failures.count = 0;
        return (failures, true);
    }
    (failures, false)
}

/// Where the failure counters live.
#[async_trait::async_trait]
pub trait Throttle: Send + Sync + std::fmt::Debug + 'static {
    /// Whether a sign-in for `account` from `address` may proceed at `now_ms`.
    async fn check_at(&self, account: &str, address: &str, now_ms: u64) -> Verdict;

    /// Records a failed sign-in at `now_ms`; true when this failure locked the account.
    async fn failed_at(&self, account: &str, address: &str, now_ms: u64) -> bool;

    /// Records a successful sign-in: both counters start over.
    async fn succeeded(&self, account: &str, address: &str);

    /// [`Throttle::check_at`] now.
    async fn check(&self, account: &str, address: &str) -> Verdict {
        self.check_at(account, address, now_ms()).await
    }

    /// [`Throttle::failed_at`] now.
    async fn failed(&self, account: &str, address: &str) -> bool {
        self.failed_at(account, address, now_ms()).await
    }
}

/// Failure counters per key in this process.
#[derive(Debug, Default)]
pub struct InProcessThrottle {
    state: Mutex<HashMap<String, Failures>>,
}

impl InProcessThrottle {
    /// The verdict from this process's counters.
    pub fn verdict_at(&self, account: &str, address: &str, now_ms: u64) -> Verdict {
        let Ok(state) = self.state.lock() else {
            return Verdict::Allowed;
        };
        verdict(
            state.get(&format!("user:{account}")).copied(),
            state.get(&format!("addr:{address}")).copied(),
            now_ms,
        )
    }

    /// Counts a failure in this process (without logging); true when it locked the account.
    pub fn record_failure(&self, account: &str, address: &str, now_ms: u64) -> bool {
        let Ok(mut state) = self.state.lock() else {
            return false;
        };
        if state.len() >= MAX_TRACKED {
            state.retain(|_, f| now_ms.saturating_sub(f.last_ms) < millis(FORGET_AFTER));
        }
        let mut locked = false;
        for (key, is_account) in [
            (format!("user:{account}"), true),
            (format!("addr:{address}"), false),
        ] {
            let (failures, locks) = after_failure(state.get(&key).copied(), is_account, now_ms);
            state.insert(key, failures);
            locked |= locks;
        }
        locked
    }

    /// Forgets both counters.
    pub fn clear(&self, account: &str, address: &str) {
        if let Ok(mut state) = self.state.lock() {
            state.remove(&format!("user:{account}"));
            state.remove(&format!("addr:{address}"));
        }
    }
}

#[async_trait::async_trait]
impl Throttle for InProcessThrottle {
    async fn check_at(&self, account: &str, address: &str, now_ms: u64) -> Verdict {
        self.verdict_at(account, address, now_ms)
    }

    async fn failed_at(&self, account: &str, address: &str, now_ms: u64) -> bool {
        let locked = self.record_failure(account, address, now_ms);
        if locked {
            tracing::warn!(account, "account locked after repeated sign-in failures");
        }
        locked
    }

    async fn succeeded(&self, account: &str, address: &str) {
        self.clear(account, address);
    }
}

/// The behaviour every [`Throttle`] must have, as one test suite (run against the in-process
/// state here and against Redis in `throttle_redis`). Account and address names are made
/// unique by `tag` so suites can share a Redis.
#[doc(hidden)]
pub async fn suite(throttle: &dyn Throttle, tag: &str) {
    let ada = format!("ada-{tag}");
    let bob = format!("bob-{tag}");
    let address = |n: u8| format!("10.0.{n}.1-{tag}");
    let start = now_ms();
    for i in 0..FREE_FAILURES {
        assert_eq!(
            throttle.check_at(&ada, &address(1), start).await,
            Verdict::Allowed,
            "free failure {i}"
        );
        assert!(!throttle.failed_at(&ada, &address(1), start).await);
    }
    assert_eq!(
        throttle.check_at(&ada, &address(1), start).await,
        Verdict::Wait(Duration::from_secs(1))
    );
    assert_eq!(
        throttle.check_at(&ada, &address(1), start + 400).await,
        Verdict::Wait(Duration::from_millis(600)),
        "the delay counts from the last failure"
    );
    // Another address for the same account is throttled too (per account)…
    assert!(matches!(
        throttle.check_at(&ada, &address(2), start).await,
        Verdict::Wait(_)
    ));
    // …and the same address for another account (per address).
    assert!(matches!(
        throttle.check_at(&bob, &address(1), start).await,
        Verdict::Wait(_)
    ));
    assert_eq!(
        throttle.check_at(&bob, &address(9), start).await,
        Verdict::Allowed
    );

    let mut now = start;
    let mut locks = Vec::new();
    for _ in FREE_FAILURES..LOCKOUT_FAILURES {
        now += millis(MAX_DELAY);
        locks.push(throttle.failed_at(&ada, &address(1), now).await);
    }
    assert_eq!(
        locks.iter().filter(|locked| **locked).count(),
        1,
        "only the failure that locks says so: {locks:?}"
    );
    assert_eq!(locks.last(), Some(&true));
    assert_eq!(
        throttle.check_at(&ada, &address(3), now).await,
        Verdict::Locked
    );
    assert_eq!(
        throttle
            .check_at(&ada, &address(3), now + millis(LOCKOUT))
            .await,
        Verdict::Allowed,
        "time-boxed"
    );

    throttle.succeeded(&ada, &address(1)).await;
    assert_eq!(
        throttle.check_at(&ada, &address(1), now).await,
        Verdict::Allowed,
        "success clears the lockout and both counters"
    );

    // Counters are forgotten an hour after the last failure.
    for _ in 0..FREE_FAILURES + 1 {
        throttle.failed_at(&bob, &address(4), start).await;
    }
    assert!(matches!(
        throttle.check_at(&bob, &address(4), start).await,
        Verdict::Wait(_)
    ));
    let later = start + millis(FORGET_AFTER);
    throttle.failed_at(&bob, &address(4), later).await;
    assert_eq!(
        throttle.check_at(&bob, &address(4), later).await,
        Verdict::Allowed,
        "one fresh failure after the counters were forgotten is free"
    );
    throttle.succeeded(&bob, &address(4)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_after_the_free_failures_and_are_capped() {
        assert_eq!(delay_after(2), Duration::ZERO);
        assert_eq!(delay_after(3), Duration::from_secs(1));
        assert_eq!(delay_after(5), Duration::from_secs(4));
        assert_eq!(delay_after(40), MAX_DELAY);
    }

    #[tokio::test]
    async fn in_process_failures_throttle_then_lock_and_success_resets() {
        suite(&InProcessThrottle::default(), "in-process").await;
    }
}
