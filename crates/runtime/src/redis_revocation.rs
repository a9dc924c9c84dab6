//! The revoked-session set in Redis, shared by every replica's verifier (SPEC §3: a revoked
//! access token stops working everywhere within 5 s — here at the next call, as every check
//! reads Redis).
//!
//! Key `{prefix}revoked:{session}` holds the revocation's second (tokens issued at or before it
//! are refused) and expires with the session's last access token.
//!
//! Degraded mode (ADR 15): every revocation is also kept in-process, and checks consult the
//! in-process set first, so a replica always enforces its own revocations — with or without
//! Redis. A revocation made while Redis is unreachable is kept in a pending list and written
//! to Redis when it returns; until then other replicas do not see it (their exposure is bounded
//! by the access-token lifetime, ≤ 5 min, and the refresh token is already dead in the
//! database). Checks while Redis is unreachable answer from the in-process set.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fred::interfaces::KeysInterface;
use fred::types::Expiration;
use pake_core::revocation::{InProcessRevokedSessions, RevokedSessions};

use crate::redis::Redis;

/// Pending revocations kept for a later write are bounded; the oldest go first.
const MAX_PENDING: usize = 100_000;

/// The Redis-backed set with its in-process copy.
#[derive(Debug)]
pub struct RedisRevokedSessions {
    redis: Redis,
    local: InProcessRevokedSessions,
    /// Revocations Redis has not seen yet: (session, revoked at, entry expires at).
    pending: Mutex<Vec<(String, u64, Instant)>>,
    /// `Redis::recoveries` when the pending list was last replayed.
    replayed_at: Mutex<u64>,
}

fn epoch_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default()
}

impl RedisRevokedSessions {
    /// The set over `redis`.
    pub fn new(redis: Redis) -> Self {
        let replayed_at = Mutex::new(redis.recoveries());
        RedisRevokedSessions {
            redis,
            local: InProcessRevokedSessions::default(),
            pending: Mutex::new(Vec::new()),
            replayed_at,
        }
    }

    fn key(&self, session: &str) -> String {
        self.redis.key(&format!("revoked:{session}"))
    }

    /// Writes one entry; false when Redis did not take it.
    async fn write(&self, session: &str, revoked_at: u64, ttl: Duration) -> bool {
        let key = self.key(session);
        let millis = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1);
        self.redis
            .call("revoked sessions", |client| async move {
                client
                    .set::<(), _, _>(
                        key,
                        revoked_at.to_string(),
                        Some(Expiration::PX(millis)),
                        None,
                        false,
                    )
                    .await
            })
            .await
            .is_some()
    }

    /// After an outage ended, writes the revocations Redis missed (cheap when none ended).
    async fn replay_if_recovered(&self) {
        let recoveries = self.redis.recoveries();
        {
            let Ok(mut replayed_at) = self.replayed_at.lock() else {
                return;
            };
            if *replayed_at == recoveries {
                return;
            }
            *replayed_at = recoveries;
        }
        let pending = match self.pending.lock() {
            Ok(mut pending) => std::mem::take(&mut *pending),
            Err(_) => return,
        };
        if pending.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut failed = Vec::new();
        for (session, revoked_at, until) in pending {
            let Some(ttl) = until.checked_duration_since(now) else {
                continue;
            };
            if !self.write(&session, revoked_at, ttl).await {
                failed.push((session, revoked_at, until));
            }
        }
        if !failed.is_empty() {
            self.keep_pending(failed);
            // Try again at the next call.
            if let Ok(mut replayed_at) = self.replayed_at.lock() {
                *replayed_at = replayed_at.wrapping_sub(1);
            }
        } else {
            tracing::info!("revocations made during the redis outage written to redis");
        }
    }

    fn keep_pending(&self, entries: Vec<(String, u64, Instant)>) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.extend(entries);
            let now = Instant::now();
            pending.retain(|(_, _, until)| *until > now);
            let excess = pending.len().saturating_sub(MAX_PENDING);
            pending.drain(..excess);
        }
    }
}

#[async_trait::async_trait]
impl RevokedSessions for RedisRevokedSessions {
    async fn revoke(&self, session: &str, ttl: Duration) {
        self.replay_if_recovered().await;
        let revoked_at = epoch_seconds();
        self.local.revoke(session, ttl).await;
        if !self.write(session, revoked_at, ttl).await {
            self.keep_pending(vec![(session.to_owned(), revoked_at, Instant::now() + ttl)]);
        }
    }

    async fn is_revoked(&self, session: &str, issued_at: u64) -> bool {
        self.replay_if_recovered().await;
        if self.local.is_revoked(session, issued_at).await {
            return true;
        }
        let key = self.key(session);
        let stored = self
            .redis
            .call("revoked sessions", |client| async move {
                client.get::<Option<String>, _>(key).await
            })
            .await;
        match stored {
            // A value we cannot read was still written as a revocation: refuse.
            Some(Some(revoked_at)) => revoked_at
                .parse::<u64>()
                .map_or(true, |revoked_at| issued_at <= revoked_at),
            // Absent, or Redis unreachable: the in-process answer (not revoked here).
            Some(None) | None => false,
        }
    }
}
