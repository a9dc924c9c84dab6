//! API keys at the edge: `Authorization: Bearer pake_…` is exchanged with identity
//! (`IdentityService/ExchangeApiKey`) for a short-lived access token, which replaces the key
//! before anything goes upstream — inside the mesh only JWTs travel.
//!
//! Tokens are cached per key (keyed by a SHA-256 digest, never the key itself) until
//! [`RENEW_BEFORE`] before they expire, so a revoked key stops working within one token
//! lifetime (≤ 5 minutes) at the latest; the verifier's revoked-session set usually ends it
//! sooner. A refused key is never cached. The exchange is on only when the descriptor set has
//! PAKE's identity service and an upstream for it.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use crate::errors::Error;

/// The prefix that marks an API key in a bearer token.
pub const API_KEY_PREFIX: &str = "pake_";
/// The service that exchanges keys.
pub const IDENTITY_SERVICE: &str = "pake.identity.v1.IdentityService";
/// A cached token is renewed this long before it expires.
pub const RENEW_BEFORE: Duration = Duration::from_secs(30);
/// At most this many keys are cached; expired entries are dropped first, then all.
const MAX_ENTRIES: usize = 10_000;

/// Exchanges API keys for access tokens, with a cache.
#[derive(Debug)]
pub struct ApiKeyExchange {
    channel: crate::upstream::Upstream,
    cache: Mutex<HashMap<[u8; 32], (String, SystemTime)>>,
}

impl ApiKeyExchange {
    /// An exchange against identity at `channel`.
    pub fn new(channel: crate::upstream::Upstream) -> Self {
        ApiKeyExchange {
            channel,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The access token for `api_key` (from the cache, or exchanged now).
    pub async fn token(&self, api_key: &str) -> Result<String, Error> {
        let digest: [u8; 32] = Sha256::digest(api_key.as_bytes()).into();
        let now = SystemTime::now();
        if let Some((token, expire)) = self.cache.lock().await.get(&digest)
            && expire
                .duration_since(now)
                .is_ok_and(|left| left > RENEW_BEFORE)
        {
            return Ok(token.clone());
        }
        let mut client = pake_api::identity::identity_service_client::IdentityServiceClient::new(
            self.channel.clone(),
        );
        let mut request = tonic::Request::new(pake_api::identity::ExchangeApiKeyRequest {
            api_key: api_key.to_owned(),
        });
        pake_core::telemetry::inject_metadata(request.metadata_mut());
        let response = client
            .exchange_api_key(request)
            .await
            .map_err(|status| Error::Upstream(Box::new(status)))?
            .into_inner();
        let expire = response
            .expire_time
            .and_then(|time| SystemTime::try_from(time).ok())
            .unwrap_or(now);
        let mut cache = self.cache.lock().await;
        if cache.len() >= MAX_ENTRIES {
            cache.retain(|_, (_, expire)| expire.duration_since(now).is_ok());
            if cache.len() >= MAX_ENTRIES {
                cache.clear();
            }
        }
        cache.insert(digest, (response.access_token.clone(), expire));
        Ok(response.access_token)
    }
}

/// The API key in an `authorization` value, if it carries one.
pub fn api_key(authorization: &str) -> Option<&str> {
    let token = authorization
        .strip_prefix("Bearer ")
        .or_else(|| authorization.strip_prefix("bearer "))?
        .trim();
    token.starts_with(API_KEY_PREFIX).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bearer_pake_tokens_are_api_keys() {
        assert_eq!(api_key("Bearer pake_abc_def"), Some("pake_abc_def"));
        assert_eq!(api_key("bearer pake_abc_def"), Some("pake_abc_def"));
        assert_eq!(api_key("Bearer eyJhbGciOi"), None);
        assert_eq!(api_key("Basic pake_x"), None);
    }
}
