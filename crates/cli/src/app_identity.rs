//! The identity service as the composition root builds it: its store, signing keys (a key file
//! set in the data dir, or Vault), hashing pool and token signer.

use std::sync::Arc;
use std::time::Duration;

use pake_core::config::Config;
use pake_core::revocation::RevokedSessions;
use pake_runtime::db::Database;

use super::secrets;

/// Builds the identity service over `database` (migrating it first) and returns it with its
/// token signer; `vault` is the session of [`secrets::resolve`], when Vault is configured.
pub async fn identity_service(
    config: &Config,
    vault: Option<&pake_identity::hashicorp::Vault>,
    database: &Database,
    revoked: Arc<dyn RevokedSessions>,
) -> anyhow::Result<(
    pake_identity::IdentityService,
    pake_identity::tokens::Signer,
)> {
    database.migrate(pake_identity::migrations()).await?;
    let identity = &config.identity;
    let signer = pake_identity::tokens::Signer::new(
        signing_keys(config, vault).await?,
        config.auth.issuer.clone(),
        config.auth.audience.clone(),
        Duration::from_secs(identity.access_token_ttl_secs),
    );
    let hasher = pake_identity::password::Hasher::new(
        identity.argon2_memory_kib,
        identity.argon2_iterations,
        identity.hashing_concurrency,
        identity.hashing_queue,
    )?;
    let store = Arc::new(pake_identity::store::SqlIdentityStore::new(
        database.clone(),
    ));
    let service = pake_identity::IdentityService::new(
        store,
        hasher,
        signer.clone(),
        revoked,
        pake_identity::api_keys::KeyHasher::load_or_generate(&config.data_dir)?,
        identity.clone(),
    );
    Ok((service, signer))
}

/// Opens the signing-key set (a key file per key in the data dir when embedded, Vault's KV
/// when `vault.address` is set).
async fn signing_keys(
    config: &Config,
    vault: Option<&pake_identity::hashicorp::Vault>,
) -> anyhow::Result<Arc<pake_identity::key_set::KeySet>> {
    use pake_identity::key_set::{KeySet, Policy};
    use pake_identity::signing_key::Algorithm;
    let identity = &config.identity;
    // `validate()` has checked the names.
    let algorithm = |name: &String| Algorithm::from_jose_name(name);
    let policy = Policy {
        default_algorithm: algorithm(&identity.signing_algorithm).unwrap_or(Algorithm::EdDsa),
        enabled: identity
            .signing_algorithms
            .iter()
            .filter_map(algorithm)
            .collect(),
        publication_delay: Duration::from_secs(identity.key_publication_delay_secs),
        token_lifetime: Duration::from_secs(identity.access_token_ttl_secs)
            + pake_core::token::LEEWAY,
    };
    let now = pake_runtime::db::now_micros();
    let store = secrets::key_store(vault, policy.publication_delay, || {
        let store = pake_identity::key_store::FileKeyStore::open(&config.data_dir, now)?;
        Ok(Arc::new(store))
    })?;
    let keys = KeySet::open(store, policy, now).await?;
    tracing::info!(kid = %keys.active(now)?.kid, "signing keys loaded");
    Ok(keys)
}
