//! The process's one Redis connection (fred), shared by the Redis-backed search cache, sign-in
//! throttling and revoked-session set, and how they degrade (SPEC §7, ADR 15).
//!
//! Redis is an accelerator, never a dependency of a request: every command runs with a short
//! timeout (`redis.command_timeout_ms`, default 50 ms), fails at once without waiting while the
//! client is disconnected, and a failure makes the caller fall back (a cache miss, in-process
//! throttling and revocation). The client reconnects in the background with a capped
//! exponential backoff, so service returns to Redis by itself. One warning is logged when an
//! outage starts and one line when it ends — not one per call.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use fred::clients::{Client, WithOptions};
use fred::error::{Error as FredError, ErrorKind};
use fred::interfaces::ClientLike;
use fred::types::Builder;
use fred::types::config::{Config, Options, ReconnectPolicy, UnresponsiveConfig};
use pake_core::config::{RedisConfig, SecretString};

/// Bounds of the reconnect backoff: Redis is used again at most this long after it returns.
const RECONNECT_MIN_DELAY_MS: u32 = 100;
const RECONNECT_MAX_DELAY_MS: u32 = 2000;
/// During an outage, at most one call per interval tries Redis (and may wait up to the command
/// timeout); the others fall back at once. Bounds what a silent, still "connected" server costs.
const PROBE_INTERVAL: Duration = Duration::from_millis(500);

/// Redis could not be set up (a malformed URL); reachability problems are not errors.
#[derive(Debug, thiserror::Error)]
#[error("redis_url: {0}")]
pub struct Error(String);

/// A connection to Redis with PAKE's key prefix; cheap to clone.
#[derive(Clone)]
pub struct Redis {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    prefix: String,
    options: Options,
    timeout: Duration,
    /// Whether an outage is going on (set by the first failed call, cleared by a success).
    down: AtomicBool,
    /// Outages that ended: callers compare it to replay what they kept locally meanwhile.
    recoveries: AtomicU64,
    /// When a call last tried Redis during an outage (ms since `started`).
    last_probe_ms: AtomicU64,
    started: std::time::Instant,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the URL: it may carry a password.
        f.debug_struct("Redis")
            .field("prefix", &self.inner.prefix)
            .field("down", &self.inner.down.load(Ordering::Relaxed))
            .finish()
    }
}

impl Redis {
    /// A client for `url` that starts connecting in the background at once; an unreachable
    /// server is not an error (calls fall back until it answers).
    pub fn connect(url: &SecretString, options: &RedisConfig) -> Result<Redis, Error> {
        let timeout = Duration::from_millis(options.command_timeout_ms);
        let mut config = Config::from_url(url.expose())
            .map_err(|error| Error(format!("not a valid Redis URL ({})", error.kind().to_str())))?;
        // Keep retrying the first connection too: the process starts without Redis.
        config.fail_fast = false;
        let policy = ReconnectPolicy::new_exponential(
            0, // unlimited attempts
            RECONNECT_MIN_DELAY_MS,
            RECONNECT_MAX_DELAY_MS,
            2,
        );
        let connect_timeout = timeout.max(Duration::from_millis(500));
        let client = Builder::from_config(config)
            .set_policy(policy)
            .with_connection_config(|connection| {
                connection.connection_timeout = connect_timeout;
                connection.internal_command_timeout = connect_timeout;
                connection.max_command_attempts = 1;
                // A silent (black-holed) server is noticed and reconnected, not waited on.
                connection.unresponsive = UnresponsiveConfig {
                    max_timeout: Some(Duration::from_secs(2)),
                    interval: Duration::from_millis(500),
                };
            })
            .with_performance_config(|performance| {
                performance.default_command_timeout = timeout;
            })
            .build()
            .map_err(|error| Error(format!("cannot build a client ({})", error.kind().to_str())))?;
        // The task drives the connection and its reconnects for the life of the client.
        let _connection_task = client.connect();
        Ok(Redis {
            inner: Arc::new(Inner {
                client,
                prefix: options.key_prefix.clone(),
                options: Options {
                    timeout: Some(timeout),
                    fail_fast: true,
                    max_attempts: Some(1),
                    ..Options::default()
                },
                timeout,
                down: AtomicBool::new(false),
                recoveries: AtomicU64::new(0),
                last_probe_ms: AtomicU64::new(0),
                started: std::time::Instant::now(),
            }),
        })
    }

    /// Waits up to `limit` for the first connection; logs how it went. Start-up uses it so
    /// the first requests do not report an outage that is only a connection being made.
    pub async fn wait_connected(&self, limit: Duration) -> bool {
        let connected = tokio::time::timeout(limit, self.inner.client.wait_for_connect())
            .await
            .is_ok_and(|result| result.is_ok());
        if connected {
            tracing::info!(prefix = %self.inner.prefix, "redis connected");
        } else {
            self.mark_down("not reachable at start");
        }
        connected
    }

    /// `prefix` + `suffix`: the name of one of PAKE's keys.
    pub fn key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.inner.prefix)
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// Whether the last call found Redis working (and the client is connected).
    pub fn is_available(&self) -> bool {
        !self.inner.down.load(Ordering::Relaxed) && self.inner.client.is_connected()
    }

    /// How many outages have ended so far.
    pub fn recoveries(&self) -> u64 {
        self.inner.recoveries.load(Ordering::Relaxed)
    }

    /// Runs `command` with the short timeout. `None` when Redis is disconnected (without
    /// waiting), slow or failing — the caller falls back. `what` names the use in logs.
    pub async fn call<T, F, Fut>(&self, what: &'static str, command: F) -> Option<T>
    where
        F: FnOnce(WithOptions<Client>) -> Fut,
        Fut: Future<Output = Result<T, FredError>>,
    {
        if !self.inner.client.is_connected() {
            self.mark_down("disconnected");
            return None;
        }
        if self.inner.down.load(Ordering::Relaxed) && !self.take_probe_turn() {
            return None;
        }
        let client = self.inner.client.with_options(&self.inner.options);
        // fred's own timeout covers the command; this one also covers queueing in the client.
        let limit = self.inner.timeout + Duration::from_millis(5);
        match tokio::time::timeout(limit, command(client)).await {
            Ok(Ok(value)) => {
                self.mark_up();
                Some(value)
            }
            Ok(Err(error)) if is_outage(&error) => {
                self.mark_down(&error.to_string());
                None
            }
            Ok(Err(error)) => {
                // Reachable but refused (a bug, or foreign data under our prefix).
                tracing::warn!(what, error = %error, "redis command failed; using the fallback");
                None
            }
            Err(_) => {
                self.mark_down("command timed out");
                None
            }
        }
    }

    /// During an outage: whether this call may try Redis (one per `PROBE_INTERVAL`).
    fn take_probe_turn(&self) -> bool {
        let now = u64::try_from(self.inner.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.inner.last_probe_ms.load(Ordering::Relaxed);
        let interval = u64::try_from(PROBE_INTERVAL.as_millis()).unwrap_or(u64::MAX);
        now.saturating_sub(last) >= interval
            && self
                .inner
                .last_probe_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    fn mark_down(&self, reason: &str) {
        if !self.inner.down.swap(true, Ordering::Relaxed) {
            let now = u64::try_from(self.inner.started.elapsed().as_millis()).unwrap_or(u64::MAX);
            self.inner.last_probe_ms.store(now, Ordering::Relaxed);
            tracing::warn!(
                reason,
                prefix = %self.inner.prefix,
                "redis unreachable: search cache off, throttling and revocation in-process until it returns"
            );
        }
    }

    fn mark_up(&self) {
        if self.inner.down.swap(false, Ordering::Relaxed) {
            self.inner.recoveries.fetch_add(1, Ordering::Relaxed);
            tracing::info!(prefix = %self.inner.prefix, "redis reachable again; using it");
        }
    }

    /// Closes the connection (at shutdown).
    pub async fn quit(&self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.inner.client.quit()).await;
    }
}

/// Errors that mean "Redis is not there" rather than "Redis said no".
fn is_outage(error: &FredError) -> bool {
    matches!(
        error.kind(),
        ErrorKind::IO
            | ErrorKind::Timeout
            | ErrorKind::Canceled
            | ErrorKind::Routing
            | ErrorKind::Backpressure
            | ErrorKind::Auth
            | ErrorKind::Unknown
    )
}
