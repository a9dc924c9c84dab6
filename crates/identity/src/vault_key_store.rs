//! The production key store: signing keys as KV v2 secrets in Vault / OpenBao, one per key
//! under `<kv_mount>/<path>/signing-keys/<name>`, with the fields
//! - `private_key_pem`: the PKCS#8 PEM private key (required);
//! - `algorithm`: `EdDSA` (the default) or `ES256`;
//! - `create_time`, `activate_time`: µs since the epoch (numbers or decimal strings), optional.
//!
//! Keys PAKE generates (first start, RotateSigningKey) are stored under their kid with both
//! times. An operator rotates by writing a new secret with only the key: its creation time is
//! the creation time of the secret's version in Vault, and it activates the publication delay
//! later — every replica derives the same times from Vault, and the key is in the JWKS before
//! it signs. The key set rereads this store periodically ([`crate::key_set::KeySet::reload`]).

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use pake_core::Error;
use serde::Deserialize;
use serde_json::Value;
use vaultrs::api::kv2::requests::ReadSecretRequest;
use vaultrs::api::kv2::responses::ReadSecretResponse;

use crate::hashicorp::{Vault, is_not_found};
use crate::key_set::{KeyStore, StoredKey};
use crate::signing_key::{Algorithm, SigningKey};

/// Folder of the key secrets below `vault.path`.
pub const KEYS_FOLDER: &str = "signing-keys";

/// One key secret's fields (every value a string when written with `bao kv put`).
#[derive(Deserialize)]
struct KeySecret {
    algorithm: Option<String>,
    private_key_pem: Option<String>,
    create_time: Option<Value>,
    activate_time: Option<Value>,
}

/// Signing keys in Vault.
pub struct VaultKeyStore {
    vault: Vault,
    publication_delay: Duration,
    /// kid → secret name (operators may name secrets freely), filled by `load`.
    names: RwLock<HashMap<String, String>>,
}

impl std::fmt::Debug for VaultKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultKeyStore")
            .field("vault", &self.vault)
            .field("publication_delay", &self.publication_delay)
            .finish_non_exhaustive()
    }
}

impl VaultKeyStore {
    /// The key store under `vault`; keys written without an activation time activate
    /// `publication_delay` after their creation in Vault.
    pub fn new(vault: Vault, publication_delay: Duration) -> VaultKeyStore {
        VaultKeyStore {
            vault,
            publication_delay,
            names: RwLock::new(HashMap::new()),
        }
    }

    fn folder(&self) -> String {
        self.vault.secret_path(KEYS_FOLDER)
    }

    async fn read(&self, name: &str) -> Result<StoredKey, Error> {
        let path = format!("{}/{name}", self.folder());
        let request = ReadSecretRequest::builder()
            .mount(self.vault.kv_mount())
            .path(&path)
            .build()
            .map_err(|e| Error::internal(format!("vault secret {path}: {e}")))?;
        let client = self.vault.client();
        let response: ReadSecretResponse = vaultrs::api::exec_with_result(&*client, request)
            .await
            .map_err(|e| self.vault.error(&path, &e))?;
        parse_key(
            &path,
            response.data,
            &response.metadata.created_time,
            self.publication_delay,
        )
    }
}

/// A key secret's data and its version's creation time (RFC 3339) as a [`StoredKey`].
fn parse_key(
    path: &str,
    data: Value,
    version_created: &str,
    publication_delay: Duration,
) -> Result<StoredKey, Error> {
    let malformed = |what: &str| {
        Error::internal(format!(
            "signing key secret {path} in Vault: {what}; fix or delete the secret"
        ))
    };
    let secret: KeySecret =
        serde_json::from_value(data).map_err(|_| malformed("unexpected fields"))?;
    let algorithm = match secret.algorithm.as_deref() {
        None => Algorithm::EdDsa,
        Some(name) => Algorithm::from_jose_name(name)
            .ok_or_else(|| malformed("algorithm is not EdDSA or ES256"))?,
    };
    let pem = secret
        .private_key_pem
        .ok_or_else(|| malformed("private_key_pem is missing"))?;
    let key = SigningKey::from_pkcs8_pem(algorithm, &pem).ok_or_else(|| {
        malformed("private_key_pem is not a PKCS#8 PEM private key of its algorithm")
    })?;
    let create_time = match &secret.create_time {
        Some(value) => micros_field(value).ok_or_else(|| malformed("create_time is not µs"))?,
        None => chrono::DateTime::parse_from_rfc3339(version_created)
            .map(|at| at.timestamp_micros())
            .map_err(|_| malformed("Vault's created_time is not RFC 3339"))?,
    };
    let activate_time = match &secret.activate_time {
        Some(value) => micros_field(value).ok_or_else(|| malformed("activate_time is not µs"))?,
        None => create_time
            .saturating_add(i64::try_from(publication_delay.as_micros()).unwrap_or(i64::MAX)),
    };
    Ok(StoredKey {
        key,
        create_time,
        activate_time,
    })
}

fn micros_field(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

#[async_trait::async_trait]
impl KeyStore for VaultKeyStore {
    async fn load(&self) -> Result<Vec<StoredKey>, Error> {
        let folder = self.folder();
        let client = self.vault.client();
        let names = match vaultrs::kv2::list(&*client, self.vault.kv_mount(), &folder).await {
            Ok(names) => names,
            Err(error) if is_not_found(&error) => Vec::new(),
            Err(error) => return Err(self.vault.error(&folder, &error)),
        };
        let mut keys = Vec::new();
        let mut by_kid = HashMap::new();
        // Sub-folders ("name/") are not keys.
        for name in names.iter().filter(|name| !name.ends_with('/')) {
            let key = self.read(name).await?;
            by_kid.insert(key.key.kid().to_owned(), name.clone());
            keys.push(key);
        }
        *self.names.write().unwrap_or_else(|p| p.into_inner()) = by_kid;
        Ok(keys)
    }

    async fn save(&self, key: &StoredKey) -> Result<(), Error> {
        let kid = key.key.kid().to_owned();
        let path = format!("{}/{kid}", self.folder());
        let data = HashMap::from([
            ("algorithm", key.key.algorithm().jose_name().to_owned()),
            ("private_key_pem", key.key.private_pem().expose().to_owned()),
            ("create_time", key.create_time.to_string()),
            ("activate_time", key.activate_time.to_string()),
        ]);
        let client = self.vault.client();
        vaultrs::kv2::set(&*client, self.vault.kv_mount(), &path, &data)
            .await
            .map_err(|e| self.vault.error(&path, &e))?;
        self.names
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(kid.clone(), kid);
        Ok(())
    }

    async fn remove(&self, kid: &str) -> Result<(), Error> {
        let name = self
            .names
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(kid)
            .cloned()
            .unwrap_or_else(|| kid.to_owned());
        let path = format!("{}/{name}", self.folder());
        // Every version and the metadata: the private key is destroyed.
        let client = self.vault.client();
        match vaultrs::kv2::delete_metadata(&*client, self.vault.kv_mount(), &path).await {
            Ok(()) => {}
            Err(error) if is_not_found(&error) => {}
            Err(error) => return Err(self.vault.error(&path, &error)),
        }
        self.names
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(kid);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem() -> String {
        let key = SigningKey::generate(Algorithm::EdDsa).expect("generate");
        key.private_pem().expose().to_owned()
    }

    #[test]
    fn an_operator_key_activates_after_the_publication_delay() {
        let data = serde_json::json!({ "private_key_pem": pem() });
        let key = parse_key(
            "secret/pake/signing-keys/next",
            data,
            "2026-01-02T03:04:05.5Z",
            Duration::from_secs(1500),
        )
        .expect("key");
        assert_eq!(key.create_time, 1_767_323_045_500_000);
        assert_eq!(key.activate_time, key.create_time + 1_500_000_000);
    }

    #[test]
    fn written_times_win_and_bad_fields_name_the_secret_without_the_value() {
        let data = serde_json::json!({
            "private_key_pem": pem(), "algorithm": "EdDSA",
            "create_time": "10", "activate_time": 20,
        });
        let key = parse_key("p", data, "bad", Duration::from_secs(1)).expect("key");
        assert_eq!((key.create_time, key.activate_time), (10, 20));
        let data = serde_json::json!({ "private_key_pem": "hunter2-not-a-key" });
        let error = parse_key("secret/pake/signing-keys/x", data, "", Duration::ZERO)
            .expect_err("malformed");
        let text = format!("{error:?}");
        assert!(text.contains("secret/pake/signing-keys/x"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}
