//! Service-account tokens minted in-process: when identity runs in the same process as another
//! service (the all-in-one), that service gets its `service`-role token straight from the signer.
//! A service running alone gets one by exchanging its API key instead.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use pake_core::Error;
use pake_core::auth::Role;
use pake_core::token::ServiceTokenSource;
use tokio::sync::Mutex;

use crate::tokens::{AccessToken, Signer};

/// Renew a cached token when less than this much lifetime is left.
const RENEW_BEFORE: Duration = Duration::from_secs(60);

/// Mints `services/{name}` tokens holding the `service` role, cached until shortly before expiry.
#[derive(Debug)]
pub struct InProcessServiceTokens {
    signer: Signer,
    subject: String,
    cached: Mutex<Option<AccessToken>>,
}

impl InProcessServiceTokens {
    /// Tokens for the service `name` (e.g. `search`).
    pub fn new(signer: Signer, name: &str) -> Arc<Self> {
        Arc::new(InProcessServiceTokens {
            signer,
            subject: format!("services/{name}"),
            cached: Mutex::new(None),
        })
    }
}

#[async_trait::async_trait]
impl ServiceTokenSource for InProcessServiceTokens {
    async fn token(&self) -> Result<String, Error> {
        let mut cached = self.cached.lock().await;
        if let Some(token) = cached.as_ref()
            && token
                .expire_time
                .duration_since(SystemTime::now())
                .is_ok_and(|left| left > RENEW_BEFORE)
        {
            return Ok(token.token.clone());
        }
        let fresh = self
            .signer
            .access_token(&self.subject, "", &[Role::Service])?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }
}
