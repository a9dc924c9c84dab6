//! Sign-in throttling: per normalised username (whether or not the account exists) and per
//! client address, with a growing delay after a few free failures and a time-boxed lockout.
//!
//! - The first `FREE_FAILURES` failures cost nothing extra; after that each attempt must wait
//!   `2^(failures - FREE_FAILURES)` seconds (capped at `MAX_DELAY`) after the previous failure,
//!   or it is refused with RESOURCE_EXHAUSTED and a RetryInfo saying how long.
//! - `LOCKOUT_FAILURES` failures lock the account for `LOCKOUT`: every sign-in fails exactly like
//!   a wrong password, even with the right one, so a lockout reveals nothing.
//! - A successful sign-in clears the account's and the address's counters.
//!
//! The state is in-process (one identity replica, the embedded mode); Redis-backed state for
//! several replicas implements the same checks.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures before any delay applies.
pub const FREE_FAILURES: u32 = 3;
/// Failures that lock the account.
pub const LOCKOUT_FAILURES: u32 = 10;
/// How long a lockout lasts.
pub const LOCKOUT: Duration = Duration::from_secs(15 * 60);
/// Longest delay between attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(60);
/// Counters are forgotten after this long without failures.
const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);
/// Bound on tracked keys, so a spray of random usernames cannot exhaust memory.
const MAX_TRACKED: usize = 100_000;

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    last: Instant,
    locked_until: Option<Instant>,
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

/// Failure counters per key (`user:<name>` / `addr:<ip>`).
#[derive(Debug, Default)]
pub struct Throttle {
    state: Mutex<HashMap<String, Failures>>,
}

fn delay_after(count: u32) -> Duration {
    if count < FREE_FAILURES {
        return Duration::ZERO;
    }
    let exponent = (count - FREE_FAILURES).min(16);
    Duration::from_secs(1u64 << exponent).min(MAX_DELAY)
}

impl Throttle {
    /// Whether a sign-in for `account` from `address` may proceed now.
    pub fn check(&self, account: &str, address: &str) -> Verdict {
        self.check_at(account, address, Instant::now())
    }

    fn check_at(&self, account: &str, address: &str, now: Instant) -> Verdict {
        let Ok(state) = self.state.lock() else {
            return Verdict::Allowed;
        };
        let account_state = state.get(&format!("user:{account}")).copied();
        if let Some(Failures {
            locked_until: Some(until),
            ..
        }) = account_state
            && now < until
        {
            return Verdict::Locked;
        }
        let mut wait = Duration::ZERO;
        for key in [format!("user:{account}"), format!("addr:{address}")] {
            if let Some(failures) = state.get(&key) {
                let ready = failures.last + delay_after(failures.count);
                wait = wait.max(ready.saturating_duration_since(now));
            }
        }
        if wait.is_zero() {
            Verdict::Allowed
        } else {
            Verdict::Wait(wait)
        }
    }

    /// Records a failed sign-in; true when this failure locked the account.
    pub fn failed(&self, account: &str, address: &str) -> bool {
        self.failed_at(account, address, Instant::now())
    }

    fn failed_at(&self, account: &str, address: &str, now: Instant) -> bool {
        let Ok(mut state) = self.state.lock() else {
            return false;
        };
        let mut locked = false;
        if state.len() >= MAX_TRACKED {
            state.retain(|_, f| now.saturating_duration_since(f.last) < FORGET_AFTER);
        }
        for key in [format!("user:{account}"), format!("addr:{address}")] {
            let entry = state.entry(key.clone()).or_insert(Failures {
                count: 0,
                last: now,
                locked_until: None,
            });
            if now.saturating_duration_since(entry.last) >= FORGET_AFTER {
                *entry = Failures {
                    count: 0,
                    last: now,
                    locked_until: None,
                };
            }
            entry.count += 1;
            entry.last = now;
            if key.starts_with("user:") && entry.count >= LOCKOUT_FAILURES {
                entry.locked_until = Some(now + LOCKOUT);
                entry.count = 0;
                locked = true;
                tracing::warn!(account, "account locked after repeated sign-in failures");
            }
        }
        locked
    }

    /// Records a successful sign-in: both counters start over.
    pub fn succeeded(&self, account: &str, address: &str) {
        if let Ok(mut state) = self.state.lock() {
            state.remove(&format!("user:{account}"));
            state.remove(&format!("addr:{address}"));
        }
    }
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

    #[test]
    fn failures_throttle_then_lock_and_success_resets() {
        let throttle = Throttle::default();
        let start = Instant::now();
        for i in 0..FREE_FAILURES {
            assert_eq!(
                throttle.check_at("ada", "10.0.0.1", start),
                Verdict::Allowed,
                "free failure {i}"
            );
            throttle.failed_at("ada", "10.0.0.1", start);
        }
        assert_eq!(
            throttle.check_at("ada", "10.0.0.1", start),
            Verdict::Wait(Duration::from_secs(1))
        );
        // Another address for the same account is throttled too (per account)…
        assert!(matches!(
            throttle.check_at("ada", "10.0.0.2", start),
            Verdict::Wait(_)
        ));
        // …and the same address for another account (per address).
        assert!(matches!(
            throttle.check_at("bob", "10.0.0.1", start),
            Verdict::Wait(_)
        ));
        assert_eq!(
            throttle.check_at("bob", "10.0.0.9", start),
            Verdict::Allowed
        );

        let mut now = start;
        let mut locks = Vec::new();
        for _ in FREE_FAILURES..LOCKOUT_FAILURES {
            now += MAX_DELAY;
            locks.push(throttle.failed_at("ada", "10.0.0.1", now));
        }
        assert_eq!(
            locks.iter().filter(|locked| **locked).count(),
            1,
            "only the failure that locks says so: {locks:?}"
        );
        assert_eq!(locks.last(), Some(&true));
        assert_eq!(throttle.check_at("ada", "10.0.0.3", now), Verdict::Locked);
        assert_eq!(
            throttle.check_at("ada", "10.0.0.3", now + LOCKOUT),
            Verdict::Allowed,
            "time-boxed"
        );

        throttle.succeeded("ada", "10.0.0.1");
        assert_eq!(throttle.check_at("ada", "10.0.0.1", now), Verdict::Allowed);
    }
}
