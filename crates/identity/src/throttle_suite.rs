//! The behaviour every `Throttle` must have, as one test suite shared by the in-process state
//! (`throttle`'s tests) and Redis (`tests/redis/stores.rs`).

use std::time::Duration;

use super::{
    FORGET_AFTER, FREE_FAILURES, LOCKOUT, LOCKOUT_FAILURES, MAX_DELAY, Throttle, Verdict, millis,
    now_ms,
};

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
    lockouts_are_readable(throttle, &ada, &bob, now).await;
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
    assert_eq!(
        throttle.lockouts_at(std::slice::from_ref(&ada), now).await,
        [None]
    );
    assert!(
        !throttle.locked_accounts_at(now, 100).await.contains(&ada),
        "success unlists the account"
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

/// Part of [`suite`]: `ada` was locked at `locked_at`, `bob` is throttled but not locked.
async fn lockouts_are_readable(throttle: &dyn Throttle, ada: &str, bob: &str, locked_at: u64) {
    let end = locked_at + millis(LOCKOUT);
    let both = [ada.to_owned(), bob.to_owned()];
    assert_eq!(
        throttle.lockouts_at(&both, locked_at).await,
        [Some(end), None],
        "the lockout's end, per account, in order"
    );
    assert_eq!(throttle.lockouts_at(&[], locked_at).await, []);
    let locked = throttle.locked_accounts_at(locked_at, 100).await;
    assert!(
        locked.contains(&ada.to_owned()) && !locked.contains(&bob.to_owned()),
        "{locked:?}"
    );
    assert!(throttle.locked_accounts_at(locked_at, 0).await.len() <= 1);
    // Read when the lockout has ended (after the reads at `locked_at`: Redis prunes ended
    // lockouts from its list when asked).
    assert_eq!(throttle.lockouts_at(&both, end).await, [None, None]);
    assert!(
        !throttle
            .locked_accounts_at(end, 100)
            .await
            .contains(&ada.to_owned()),
        "an ended lockout is not listed"
    );
}
