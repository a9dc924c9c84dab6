//! Sign-in throttling in Redis, shared by identity replicas: a failure on one replica delays and
//! locks sign-ins on all of them (SPEC §3). The rules are `throttle`'s; a Lua script applies a
//! failure to both counters atomically, so concurrent failures on several replicas all count.
//!
//! Keys: `{prefix}throttle:user:{account}` and `{prefix}throttle:addr:{address}`, hashes with
//! `count`, `last` and `locked_until` (ms since the epoch, from the replica's clock — replicas
//! need synchronised clocks, as they have under NTP), expiring `FORGET_AFTER` after the last
//! failure.
//!
//! Degraded mode (ADR 15): every failure is also counted in-process, so while Redis is
//! unreachable this replica throttles and locks on what it has seen itself (including failures
//! from before the outage); when Redis answers again it is the authority again.

use fred::interfaces::{KeysInterface, LuaInterface};
use pake_runtime::redis::Redis;

use crate::throttle::{
    FORGET_AFTER, Failures, InProcessThrottle, LOCKOUT, LOCKOUT_FAILURES, Throttle, Verdict,
    verdict,
};

/// Reads both counters: six values, `false` (nil) where absent.
const READ_SCRIPT: &str = r"
local out = {}
for _, key in ipairs(KEYS) do
  local v = redis.call('HMGET', key, 'count', 'last', 'locked_until')
  out[#out + 1] = v[1]
  out[#out + 1] = v[2]
  out[#out + 1] = v[3]
end
return out
";

/// `throttle::after_failure` on both keys (KEYS[1] the account, KEYS[2] the address) at
/// ARGV[1] ms; ARGV: now, forget after, lockout failures, lockout (ms). Returns 1 when the
/// account locked.
const FAILURE_SCRIPT: &str = r"
local now = tonumber(ARGV[1])
local forget = tonumber(ARGV[2])
local lockout_failures = tonumber(ARGV[3])
local lockout = tonumber(ARGV[4])
local locked = 0
for i, key in ipairs(KEYS) do
  local count = tonumber(redis.call('HGET', key, 'count')) or 0
  local last = tonumber(redis.call('HGET', key, 'last')) or now
  local locked_until = redis.call('HGET', key, 'locked_until')
  if now - last >= forget then
    count = 0
    locked_until = false
  end
  count = count + 1
  if i == 1 and count >= lockout_failures then
    locked_until = string.format('%.0f', now + lockout)
    count = 0
    locked = 1
  end
  redis.call('HSET', key, 'count', count, 'last', string.format('%.0f', now))
  if locked_until then
    redis.call('HSET', key, 'locked_until', locked_until)
  else
    redis.call('HDEL', key, 'locked_until')
  end
  redis.call('PEXPIRE', key, forget)
end
return locked
";

/// Throttling state in Redis, with an in-process copy for outages.
#[derive(Debug)]
pub struct RedisThrottle {
    redis: Redis,
    local: InProcessThrottle,
}

impl RedisThrottle {
    /// The throttle over `redis`.
    pub fn new(redis: Redis) -> Self {
        RedisThrottle {
            redis,
            local: InProcessThrottle::default(),
        }
    }

    fn keys(&self, account: &str, address: &str) -> Vec<String> {
        vec![
            self.redis.key(&format!("throttle:user:{account}")),
            self.redis.key(&format!("throttle:addr:{address}")),
        ]
    }
}

/// One key's counters from the three values the read script returns for it.
fn parse_failures(values: &[Option<String>]) -> Option<Failures> {
    let number = |index: usize| {
        values
            .get(index)
            .and_then(Option::as_ref)
            .and_then(|value| value.parse::<u64>().ok())
    };
    let last_ms = number(1)?;
    Some(Failures {
        count: u32::try_from(number(0).unwrap_or(0)).unwrap_or(u32::MAX),
        last_ms,
        locked_until_ms: number(2),
    })
}

#[async_trait::async_trait]
impl Throttle for RedisThrottle {
    async fn check_at(&self, account: &str, address: &str, now_ms: u64) -> Verdict {
        let keys = self.keys(account, address);
        let stored = self
            .redis
            .call("sign-in throttling", |client| async move {
                client
                    .eval::<Vec<Option<String>>, _, _, _>(READ_SCRIPT, keys, Vec::<String>::new())
                    .await
            })
            .await;
        match stored {
            Some(values) if values.len() == 6 => verdict(
                parse_failures(&values[0..3]),
                parse_failures(&values[3..6]),
                now_ms,
            ),
            _ => self.local.verdict_at(account, address, now_ms),
        }
    }

    async fn failed_at(&self, account: &str, address: &str, now_ms: u64) -> bool {
        let locked_here = self.local.record_failure(account, address, now_ms);
        let keys = self.keys(account, address);
        let args = vec![
            now_ms.to_string(),
            FORGET_AFTER.as_millis().to_string(),
            LOCKOUT_FAILURES.to_string(),
            LOCKOUT.as_millis().to_string(),
        ];
        let locked = self
            .redis
            .call("sign-in throttling", |client| async move {
                client
                    .eval::<i64, _, _, _>(FAILURE_SCRIPT, keys, args)
                    .await
            })
            .await
            .map_or(locked_here, |locked| locked == 1);
        if locked {
            tracing::warn!(account, "account locked after repeated sign-in failures");
        }
        locked
    }

    async fn succeeded(&self, account: &str, address: &str) {
        self.local.clear(account, address);
        let keys = self.keys(account, address);
        self.redis
            .call("sign-in throttling", |client| async move {
                client.del::<i64, _>(keys).await
            })
            .await;
    }
}
