//! Sign-in throttling: per account (`users/{id}`, whichever login — username or email — was
//! typed; a name no account has is counted as `name:{normalised name}`, so unknown names behave
//! the same) and per client address, with a growing delay after a few free failures and a
//! time-boxed lockout.
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
//! [`after_failure`], [`lock_end`]); times are milliseconds since the Unix epoch, so replicas
//! agree on them. The same test suite ([`suite`]) runs against both.
//!
//! Reads for `User.state` (`STATE_LOCKED`, `lockout_expire_time`): [`Throttle::lockouts_at`]
//! answers for a page of accounts at once, [`Throttle::locked_accounts_at`] lists the accounts
//! locked now (for ListUsers' `state` filter). Neither ever fails: without an answer an account
//! is not locked.

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

/// When a lockout ending at `locked_until_ms` ends, if it is still running at `now_ms`.
pub fn lock_end(locked_until_ms: Option<u64>, now_ms: u64) -> Option<u64> {
    locked_until_ms.filter(|until| now_ms < *until)
}

/// The verdict from the account's and the address's counters at `now_ms`.
pub fn verdict(account: Option<Failures>, address: Option<Failures>, now_ms: u64) -> Verdict {
    if lock_end(
        account.and_then(|failures| failures.locked_until_ms),
        now_ms,
    )
    .is_some()
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

    /// When the lockout of each of `accounts` ends (ms since the epoch), in order; `None` for
    /// an account not locked at `now_ms`. One round trip for all of them.
    async fn lockouts_at(&self, accounts: &[String], now_ms: u64) -> Vec<Option<u64>>;

    /// The accounts locked at `now_ms`: at most `limit + 1` of them, so that a caller can tell
    /// "more than `limit`" from "all of them".
    async fn locked_accounts_at(&self, now_ms: u64, limit: usize) -> Vec<String>;

    /// [`Throttle::lockouts_at`] now.
    async fn lockouts(&self, accounts: &[String]) -> Vec<Option<u64>> {
        self.lockouts_at(accounts, now_ms()).await
    }

    /// [`Throttle::locked_accounts_at`] now.
    async fn locked_accounts(&self, limit: usize) -> Vec<String> {
        self.locked_accounts_at(now_ms(), limit).await
    }

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

    /// [`Throttle::lockouts_at`] from this process's counters.
    pub fn lockouts_here(&self, accounts: &[String], now_ms: u64) -> Vec<Option<u64>> {
        let Ok(state) = self.state.lock() else {
            return vec![None; accounts.len()];
        };
        accounts
            .iter()
            .map(|account| {
                let failures = state.get(&format!("user:{account}"));
                lock_end(
                    failures.and_then(|failures| failures.locked_until_ms),
                    now_ms,
                )
            })
            .collect()
    }

    /// [`Throttle::locked_accounts_at`] from this process's counters (a scan of at most
    /// `MAX_TRACKED` keys).
    pub fn locked_here(&self, now_ms: u64, limit: usize) -> Vec<String> {
        let Ok(state) = self.state.lock() else {
            return Vec::new();
        };
        state
            .iter()
            .filter_map(|(key, failures)| {
                let account = key.strip_prefix("user:")?;
                lock_end(failures.locked_until_ms, now_ms)?;
                Some(account.to_owned())
            })
            .take(limit.saturating_add(1))
            .collect()
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

    async fn lockouts_at(&self, accounts: &[String], now_ms: u64) -> Vec<Option<u64>> {
        self.lockouts_here(accounts, now_ms)
    }

    async fn locked_accounts_at(&self, now_ms: u64, limit: usize) -> Vec<String> {
        self.locked_here(now_ms, limit)
    }
}

#[doc(hidden)]
#[path = "throttle_suite.rs"]
pub mod suite_impl;
#[doc(hidden)]
pub use suite_impl::suite;

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

    #[test]
    fn in_process_lockouts_are_listed_up_to_one_past_the_limit() {
        let throttle = InProcessThrottle::default();
        let now = now_ms();
        for account in ["ann", "ben", "cy"] {
            for _ in 0..LOCKOUT_FAILURES {
                throttle.record_failure(account, "10.2.0.1", now);
            }
        }
        throttle.record_failure("dot", "10.2.0.2", now);
        assert_eq!(throttle.locked_here(now, 10).len(), 3);
        assert_eq!(throttle.locked_here(now, 1).len(), 2, "limit + 1");
        assert!(!throttle.locked_here(now, 10).contains(&"dot".to_owned()));
        let accounts = ["ben".to_owned(), "dot".to_owned(), "nobody".to_owned()];
        assert_eq!(
            throttle.lockouts_here(&accounts, now),
            [Some(now + millis(LOCKOUT)), None, None]
        );
        // The address key is never an account, whatever it is called.
        throttle.record_failure("eve", "user:ann", now);
        assert_eq!(throttle.locked_here(now, 10).len(), 3);
    }

    #[tokio::test]
    async fn in_process_failures_throttle_then_lock_and_success_resets() {
        suite(&InProcessThrottle::default(), "in-process").await;
    }
}
