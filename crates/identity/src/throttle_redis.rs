//! Sign-in throttling in Redis, shared by identity replicas: a failure on one replica delays and
//! locks sign-ins on all of them (SPEC §3). The rules are `throttle`'s; a Lua script applies a
//! failure to both counters atomically, so concurrent failures on several replicas all count.
//!
//! Keys: `{prefix}throttle:user:{account}` and `{prefix}throttle:addr:{address}`, hashes with
//! `count`, `last` and `locked_until` (ms since the epoch, from the replica's clock — replicas
//! need synchronised clocks, as they have under NTP), expiring `FORGET_AFTER` after the last
//! failure. `{prefix}throttle:locked` is a sorted set of the locked accounts scored by their
//! lockout's end, written by the same script that locks (and expiring `LOCKOUT` after the last
//! lock), unlisted on success and pruned of ended lockouts when read: ListUsers' `state` filter
//! reads it instead of scanning keys.
//!
//! Degraded mode (ADR 15): every failure is also counted in-process, so while Redis is
//! unreachable this replica throttles and locks on what it has seen itself (including failures
//! from before the outage); when Redis answers again it is the authority again. Lockout reads
//! fall back the same way: what this replica has seen, never an error.

use fred::interfaces::LuaInterface;
use pake_runtime::redis::Redis;

use crate::throttle::{
    FORGET_AFTER, Failures, InProcessThrottle, LOCKOUT, LOCKOUT_FAILURES, Throttle, Verdict,
    lock_end, verdict,
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
/// ARGV[1] ms; ARGV: now, forget after, lockout failures, lockout (ms), the account. A lock
/// also lists the account in KEYS[3] (the `locked` sorted set). Returns 1 when the account
/// locked.
const FAILURE_SCRIPT: &str = r"
local now = tonumber(ARGV[1])
local forget = tonumber(ARGV[2])
local lockout_failures = tonumber(ARGV[3])
local lockout = tonumber(ARGV[4])
local locked = 0
for i = 1, 2 do
  local key = KEYS[i]
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
if locked == 1 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[1])
  redis.call('ZADD', KEYS[3], string.format('%.0f', now + lockout), ARGV[5])
  redis.call('PEXPIRE', KEYS[3], lockout)
end
return locked
";

/// A successful sign-in: deletes both counters (KEYS[1], KEYS[2]) and unlists the account
/// (ARGV[1]) from the `locked` set (KEYS[3]).
const SUCCESS_SCRIPT: &str = r"
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
return 0
";

/// The `locked_until` of each account key in KEYS (`false`, nil, where absent).
const LOCKOUTS_SCRIPT: &str = r"
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('HGET', key, 'locked_until')
end
return out
";

/// The accounts in the `locked` set (KEYS[1]) whose lockout ends after ARGV[1] ms, at most
/// ARGV[2] of them, after pruning the ended ones.
const LOCKED_SCRIPT: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'LIMIT', 0, tonumber(ARGV[2]))
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
            self.account_key(account),
            self.redis.key(&format!("throttle:addr:{address}")),
        ]
    }

    fn account_key(&self, account: &str) -> String {
        self.redis.key(&format!("throttle:user:{account}"))
    }

    /// The sorted set of locked accounts.
    fn locked_key(&self) -> String {
        self.redis.key("throttle:locked")
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
        let mut keys = self.keys(account, address);
        keys.push(self.locked_key());
        let args = vec![
            now_ms.to_string(),
            FORGET_AFTER.as_millis().to_string(),
            LOCKOUT_FAILURES.to_string(),
            LOCKOUT.as_millis().to_string(),
            account.to_owned(),
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
        let mut keys = self.keys(account, address);
        keys.push(self.locked_key());
        let args = vec![account.to_owned()];
        self.redis
            .call("sign-in throttling", |client| async move {
                client
                    .eval::<i64, _, _, _>(SUCCESS_SCRIPT, keys, args)
                    .await
            })
            .await;
    }

    async fn lockouts_at(&self, accounts: &[String], now_ms: u64) -> Vec<Option<u64>> {
        if accounts.is_empty() {
            return Vec::new();
        }
        let keys: Vec<String> = accounts
            .iter()
            .map(|account| self.account_key(account))
            .collect();
        let stored = self
            .redis
            .call("sign-in lockouts", |client| async move {
                client
                    .eval::<Vec<Option<String>>, _, _, _>(
                        LOCKOUTS_SCRIPT,
                        keys,
                        Vec::<String>::new(),
                    )
                    .await
            })
            .await;
        match stored {
            Some(values) if values.len() == accounts.len() => values
                .iter()
                .map(|value| {
                    let until = value.as_deref().and_then(|text| text.parse::<u64>().ok());
                    lock_end(until, now_ms)
                })
                .collect(),
            _ => self.local.lockouts_here(accounts, now_ms),
        }
    }

    async fn locked_accounts_at(&self, now_ms: u64, limit: usize) -> Vec<String> {
        let keys = vec![self.locked_key()];
        let args = vec![now_ms.to_string(), limit.saturating_add(1).to_string()];
        let stored = self
            .redis
            .call("sign-in lockouts", |client| async move {
                client
                    .eval::<Vec<String>, _, _, _>(LOCKED_SCRIPT, keys, args)
                    .await
            })
            .await;
        stored.unwrap_or_else(|| self.local.locked_here(now_ms, limit))
    }
}
