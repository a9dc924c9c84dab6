//! Secrets from HashiCorp Vault / OpenBao at start-up (`[vault]`): the values of
//! `<kv_mount>/<path>/config` override `database_url` and `redis_url`, and the signing keys live
//! under `<kv_mount>/<path>/signing-keys/` ([`pake_identity::vault_key_store`]). Without
//! `vault.address` nothing changes. No secret value is logged.
//!
//! [`resolve`] logs in once and hands the session on: the signing-key store reads with the same
//! token, which the session keeps renewed (or replaces, with Kubernetes auth) in the background.
//! `pake serve`, `pake migrate` and `pake user create` all resolve through here.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use pake_core::config::Config;
use pake_identity::hashicorp::Vault;
use pake_identity::key_set::KeyStore;

/// Logs in to Vault when `vault.address` is set. An unreachable Vault fails the start with a
/// message naming `vault.address`.
async fn connect(config: &Config) -> anyhow::Result<Option<Vault>> {
    let Some(address) = &config.vault.address else {
        return Ok(None);
    };
    // vaultrs' rustls uses the process-wide provider: the one PAKE installs (ring).
    pake_runtime::tls::install_crypto_provider();
    let vault = Vault::connect(&config.vault, config.vault_token.as_ref())
        .await
        .with_context(|| {
            format!("vault.address = {address}: cannot use Vault at start-up; check that it is reachable and the credentials")
        })?;
    Ok(Some(vault))
}

/// `config` with the start-up secrets from Vault applied (a copy of it without Vault), and the
/// Vault session for the other readers ([`key_store`]).
pub async fn resolve(config: &Config) -> anyhow::Result<(Config, Option<Vault>)> {
    let mut resolved = config.clone();
    let Some(vault) = connect(config).await? else {
        return Ok((resolved, None));
    };
    let secrets = vault
        .runtime_secrets()
        .await
        .context("reading database_url and redis_url from Vault")?;
    let mut from_vault = Vec::new();
    if let Some(url) = secrets.database_url {
        resolved.database_url = Some(url);
        from_vault.push("database_url");
    }
    if let Some(url) = secrets.redis_url {
        resolved.redis_url = Some(url);
        from_vault.push("redis_url");
    }
    tracing::info!(settings = ?from_vault, "start-up secrets read from vault");
    Ok((resolved, Some(vault)))
}

/// The signing-key store: Vault's KV over the session of [`resolve`] when there is one, else
/// `fallback` (the key files of the data dir).
pub fn key_store(
    vault: Option<&Vault>,
    publication_delay: Duration,
    fallback: impl FnOnce() -> anyhow::Result<Arc<dyn KeyStore>>,
) -> anyhow::Result<Arc<dyn KeyStore>> {
    match vault {
        Some(vault) => Ok(Arc::new(
            pake_identity::vault_key_store::VaultKeyStore::new(vault.clone(), publication_delay),
        )),
        None => fallback(),
    }
}

/// How often the key set rereads its store: `vault.refresh_secs` with Vault, else often (the
/// key files are local).
pub fn key_refresh_interval(config: &Config) -> Duration {
    if config.vault.address.is_some() {
        Duration::from_secs(config.vault.refresh_secs)
    } else {
        Duration::from_secs(config.auth.jwks_refresh_secs.clamp(1, 10))
    }
}
