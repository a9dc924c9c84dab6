//! The revoked-session set: sessions ended before their access tokens expire (logout, refresh
//! replay, password or role change, user deletion). The verifier consults it on every call, so a
//! revoked access token stops working at once where the set is shared (in-process when
//! embedded; Redis in production).
//!
//! An entry revokes the tokens *issued at or before* the revocation (`iat` ≤ the revocation's
//! second): a session that lives on — an API key whose owner lost a role — gets fresh tokens at
//! once, while every token minted before the change is refused.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A set of revoked session names (`sid` claims) whose entries expire when the last access token
/// of the session would have expired anyway.
#[async_trait::async_trait]
pub trait RevokedSessions: Send + Sync + std::fmt::Debug + 'static {
    /// Revokes the tokens of `session` issued until now; the entry is kept for `ttl` (the
    /// access-token lifetime plus leeway).
    async fn revoke(&self, session: &str, ttl: Duration);
    /// Whether a token of `session` issued at `issued_at` (seconds since the epoch) is revoked.
    async fn is_revoked(&self, session: &str, issued_at: u64) -> bool;
}

/// Seconds since the epoch now.
fn epoch_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default()
}

/// The in-process set, for the embedded all-in-one.
#[derive(Debug, Default)]
pub struct InProcessRevokedSessions {
    /// Session → (revoked at, seconds since the epoch; entry expires at).
    entries: Mutex<HashMap<String, (u64, Instant)>>,
}

#[async_trait::async_trait]
impl RevokedSessions for InProcessRevokedSessions {
    async fn revoke(&self, session: &str, ttl: Duration) {
        let now = Instant::now();
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, (_, until)| *until > now);
            entries.insert(session.to_owned(), (epoch_seconds(), now + ttl));
        }
    }

    async fn is_revoked(&self, session: &str, issued_at: u64) -> bool {
        self.entries
            .lock()
            .map(|entries| {
                entries.get(session).is_some_and(|(revoked_at, until)| {
                    issued_at <= *revoked_at && *until > Instant::now()
                })
            })
            .unwrap_or(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_are_revoked_until_they_expire() {
        let set = InProcessRevokedSessions::default();
        set.revoke("users/a/sessions/1", Duration::from_secs(60))
            .await;
        set.revoke("users/a/sessions/2", Duration::ZERO).await;
        let now = epoch_seconds();
        assert!(set.is_revoked("users/a/sessions/1", now).await);
        assert!(set.is_revoked("users/a/sessions/1", now - 60).await);
        assert!(
            !set.is_revoked("users/a/sessions/1", now + 2).await,
            "tokens issued after the revocation are not revoked"
        );
        assert!(
            !set.is_revoked("users/a/sessions/2", now).await,
            "expired entries are gone"
        );
        assert!(!set.is_revoked("users/a/sessions/3", now).await);
    }
}
