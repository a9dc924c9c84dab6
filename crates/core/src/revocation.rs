//! The revoked-session set: sessions ended before their access tokens expire (logout, refresh
//! replay, password or role change, user deletion). The verifier consults it on every call, so a
//! revoked access token stops working at once where the set is shared (in-process when
//! embedded; Redis in production).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A set of revoked session names (`sid` claims) whose entries expire when the last access token
/// of the session would have expired anyway.
#[async_trait::async_trait]
pub trait RevokedSessions: Send + Sync + std::fmt::Debug + 'static {
    /// Marks `session` revoked for `ttl` (the access-token lifetime).
    async fn revoke(&self, session: &str, ttl: Duration);
    /// Whether `session` is revoked.
    async fn is_revoked(&self, session: &str) -> bool;
}

/// The in-process set, for the embedded all-in-one.
#[derive(Debug, Default)]
pub struct InProcessRevokedSessions {
    entries: Mutex<HashMap<String, Instant>>,
}

#[async_trait::async_trait]
impl RevokedSessions for InProcessRevokedSessions {
    async fn revoke(&self, session: &str, ttl: Duration) {
        let now = Instant::now();
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, until| *until > now);
            entries.insert(session.to_owned(), now + ttl);
        }
    }

    async fn is_revoked(&self, session: &str) -> bool {
        self.entries
            .lock()
            .map(|entries| {
                entries
                    .get(session)
                    .is_some_and(|until| *until > Instant::now())
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
        assert!(set.is_revoked("users/a/sessions/1").await);
        assert!(
            !set.is_revoked("users/a/sessions/2").await,
            "expired entries are gone"
        );
        assert!(!set.is_revoked("users/a/sessions/3").await);
    }
}
