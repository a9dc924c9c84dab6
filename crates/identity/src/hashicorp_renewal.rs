//! Keeping PAKE's Vault token alive. After a login, [`spawn`] starts one task per session that
//! renews the token (`auth/token/renew-self`) at about 2/3 of its remaining TTL. When the token
//! cannot be renewed any more — not renewable, at its maximum TTL, or refused by Vault — a
//! Kubernetes session logs in again with the (re-read) service-account JWT and swaps the
//! session's client, so every reader uses the new token; a token-auth session warns once with
//! the expiry time (nothing can replace a static token). Transient errors are retried with
//! backoff. Tokens that never expire (TTL 0, e.g. root) need nothing. The task ends when the
//! session's last [`super::Vault`] is dropped. Outcomes are counted in
//! `pake_vault_token_renewals_total{result}`; the token itself is never logged.

use std::sync::{Arc, Weak};
use std::time::Duration;

use pake_core::Error;
use vaultrs::client::VaultClient;
use vaultrs::error::ClientError;

use super::{Session, client_with_token, describe, kubernetes_login};

/// First and longest wait between attempts after a transient error.
const BACKOFF: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(30));
/// A renewal that moves the expiry by less than this has hit a maximum TTL.
const MIN_EXTENSION: Duration = Duration::from_secs(1);

/// What Vault says about the session's token.
#[derive(Clone, Copy, Debug)]
pub(super) struct Lease {
    /// Remaining lifetime; zero: never expires.
    ttl: Duration,
    renewable: bool,
}

impl Lease {
    /// Looks the client's token up (`auth/token/lookup-self`).
    pub(super) async fn look_up(client: &VaultClient) -> Result<Lease, ClientError> {
        // The response holds the token itself (`id`): only two fields leave this function.
        let token = vaultrs::token::lookup_self(client).await?;
        Ok(Lease {
            ttl: Duration::from_secs(token.ttl),
            renewable: token.renewable.unwrap_or(false),
        })
    }
}

/// Why the token cannot be renewed.
#[derive(Clone, Copy, Debug)]
enum Stuck {
    NotRenewable,
    MaxTtlReached,
    Refused,
    /// Nothing uses the session any more.
    Unused,
}

impl Stuck {
    fn reason(self) -> &'static str {
        match self {
            Stuck::NotRenewable => "the token is not renewable",
            Stuck::MaxTtlReached => "the token reached its maximum ttl",
            Stuck::Refused => "vault refused to renew the token",
            Stuck::Unused => "the session is no longer used",
        }
    }
}

/// Starts keeping `session`'s token (currently `lease`) alive.
pub(super) fn spawn(session: Weak<Session>, lease: Lease) -> tokio::task::JoinHandle<()> {
    tokio::spawn(keep_alive(session, lease))
}

async fn keep_alive(session: Weak<Session>, mut lease: Lease) {
    loop {
        if lease.ttl.is_zero() {
            tracing::debug!("vault token never expires; no renewal needed");
            return;
        }
        let expires = Expiry::after(lease.ttl);
        let kubernetes = session.upgrade().is_some_and(|s| s.kubernetes.is_some());
        if !lease.renewable && !kubernetes {
            warn_expiry(Stuck::NotRenewable, &expires);
            return;
        }
        tokio::time::sleep(lease.ttl * 2 / 3).await;
        let Some(live) = session.upgrade() else {
            return;
        };
        let stuck = if lease.renewable {
            match renew(&live, &expires).await {
                Ok(renewed) => {
                    lease = renewed;
                    continue;
                }
                Err(Stuck::Unused) => return,
                Err(stuck) => stuck,
            }
        } else {
            Stuck::NotRenewable
        };
        if live.kubernetes.is_none() {
            warn_expiry(stuck, &expires);
            return;
        }
        match log_in_again(&live, stuck).await {
            Some(renewed) => lease = renewed,
            None => return,
        }
    }
}

/// When the current token expires, in monotonic and wall-clock time.
struct Expiry {
    at: tokio::time::Instant,
    wall: chrono::DateTime<chrono::Utc>,
}

impl Expiry {
    fn after(ttl: Duration) -> Expiry {
        Expiry {
            at: tokio::time::Instant::now() + ttl,
            wall: chrono::Utc::now()
                + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX),
        }
    }

    fn rfc3339(&self) -> String {
        self.wall.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }
}

/// Token auth: nothing can replace the token, so say once when Vault access ends.
fn warn_expiry(stuck: Stuck, expires: &Expiry) {
    count("expiring");
    tracing::warn!(
        reason = stuck.reason(),
        expires_at = %expires.rfc3339(),
        "vault token cannot be renewed; vault reads (signing keys) fail after it expires — give pake a renewable or periodic token"
    );
}

/// Renews the token, retrying transient errors with backoff; the new lease, or why renewing
/// cannot help.
async fn renew(session: &Arc<Session>, expires: &Expiry) -> Result<Lease, Stuck> {
    let mut backoff = BACKOFF.0;
    loop {
        let client = session.client();
        match vaultrs::token::renew_self(&*client, None).await {
            Ok(auth) => {
                let lease = Lease {
                    ttl: Duration::from_secs(auth.lease_duration),
                    renewable: auth.renewable,
                };
                let renewed = Expiry::after(lease.ttl);
                if renewed.at < expires.at + MIN_EXTENSION {
                    return Err(Stuck::MaxTtlReached);
                }
                count("renewed");
                tracing::info!(
                    ttl_secs = lease.ttl.as_secs(),
                    expires_at = %renewed.rfc3339(),
                    "renewed vault token"
                );
                return Ok(lease);
            }
            Err(ClientError::APIError { code, errors }) if matches!(code, 400 | 403) => {
                count("refused");
                tracing::warn!(
                    address = %session.address,
                    code,
                    errors = %errors.join("; "),
                    "vault refused to renew the token"
                );
                return Err(Stuck::Refused);
            }
            Err(error) => {
                count("error");
                tracing::warn!(
                    address = %session.address,
                    error = %describe(&error),
                    retry_in_secs = backoff.as_secs(),
                    expires_at = %expires.rfc3339(),
                    "cannot renew the vault token; retrying"
                );
                tokio::time::sleep(backoff).await;
                if unused(session) {
                    return Err(Stuck::Unused);
                }
                backoff = (backoff * 2).min(BACKOFF.1);
            }
        }
    }
}

/// Whether only the renewal task still holds `session`.
fn unused(session: &Arc<Session>) -> bool {
    Arc::strong_count(session) == 1
}

/// Kubernetes auth: logs in again until it works and swaps the session's client; the new
/// token's lease (`None` once nothing uses the session).
async fn log_in_again(session: &Arc<Session>, stuck: Stuck) -> Option<Lease> {
    let config = session.kubernetes.as_ref()?;
    let mut backoff = BACKOFF.0;
    loop {
        match log_in(session, config).await {
            Ok((client, lease)) => {
                *session
                    .client
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(client);
                count("login");
                tracing::info!(
                    reason = stuck.reason(),
                    ttl_secs = lease.ttl.as_secs(),
                    expires_at = %Expiry::after(lease.ttl).rfc3339(),
                    "logged in to vault again with the kubernetes service-account token"
                );
                return Some(lease);
            }
            Err(error) => {
                count("error");
                tracing::warn!(
                    reason = stuck.reason(),
                    error = %error,
                    retry_in_secs = backoff.as_secs(),
                    "cannot log in to vault again; retrying"
                );
                tokio::time::sleep(backoff).await;
                if unused(session) {
                    return None;
                }
                backoff = (backoff * 2).min(BACKOFF.1);
            }
        }
    }
}

async fn log_in(
    session: &Session,
    config: &pake_core::config::VaultConfig,
) -> Result<(VaultClient, Lease), Error> {
    let token = kubernetes_login(&session.settings, &session.address, config).await?;
    let client = client_with_token(&session.settings, &session.address, &token)?;
    let lease = Lease::look_up(&client).await.map_err(|e| {
        Error::internal(format!(
            "vault.address {}: the new token is not accepted: {}",
            session.address,
            describe(&e)
        ))
    })?;
    Ok((client, lease))
}

/// `pake_vault_token_renewals_total{result}`: renewed, login, refused, error, expiring.
fn count(result: &'static str) {
    pake_runtime::metrics::counter_family(
        "pake_vault_token_renewals",
        "Vault token renewals and re-logins by result (renewed, login, refused, error, expiring)",
    )
    .get_or_create(&vec![("result", result.to_owned())])
    .inc();
}
