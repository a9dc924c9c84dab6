//! Per-caller rate limits of every gRPC service (SPEC §2): a token bucket per principal and
//! method class, because Kong only sees the HTTP side.

use serde::{Deserialize, Serialize};

/// Rate limits per caller: a signed-in principal (its subject), or, for anonymous calls, the
/// client address. Service accounts are not limited. A rate of 0 turns a class's limit off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Sustained reads per second per caller (Get, List, BatchGet, Search, Suggest, Find,
    /// Export, Watch methods), 0..=1000000; 0 = unlimited.
    pub read_per_second: u32,
    /// Reads a caller may make at once above the sustained rate (the bucket's size).
    pub read_burst: u32,
    /// Sustained writes (every other method) per second per caller, 0..=1000000; 0 = unlimited.
    pub write_per_second: u32,
    /// Writes a caller may make at once above the sustained rate.
    pub write_burst: u32,
    /// Callers tracked at once; beyond it the idlest are forgotten (their buckets refill).
    pub max_callers: usize,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            read_per_second: 2000,
            read_burst: 4000,
            write_per_second: 200,
            write_burst: 400,
            max_callers: 100_000,
        }
    }
}

impl RateLimitConfig {
    /// Problems as (key, message) pairs.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        for (key, rate, burst_key, burst) in [
            (
                "rate_limit.read_per_second",
                self.read_per_second,
                "rate_limit.read_burst",
                self.read_burst,
            ),
            (
                "rate_limit.write_per_second",
                self.write_per_second,
                "rate_limit.write_burst",
                self.write_burst,
            ),
        ] {
            if rate > 1_000_000 {
                problems.push((key, format!("{rate} is out of range; expected 0..=1000000")));
            }
            if rate > 0 && burst == 0 {
                problems.push((
                    burst_key,
                    "must be at least 1 when the rate is limited".to_owned(),
                ));
            }
        }
        if self.max_callers == 0 {
            problems.push(("rate_limit.max_callers", "must be at least 1".to_owned()));
        }
        problems
    }
}
