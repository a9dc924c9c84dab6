//! HashiCorp Vault / OpenBao through vaultrs: logging in (token or Kubernetes auth) and reading
//! PAKE's start-up secrets from KV v2. The signing keys' store is [`crate::vault_key_store`].
//!
//! Layout under `<kv_mount>/<path>/`: the secret `config` with the optional fields
//! `database_url` and `redis_url`, and one secret per signing key under `signing-keys/`.
//! Tokens and secret values are [`SecretString`]s and never logged; errors name the setting
//! (`vault.address`, `vault.auth.*`) and the Vault path, never a value.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use pake_core::Error;
use pake_core::config::{SecretString, VaultAuthMethod, VaultConfig};
use serde::Deserialize;
use vaultrs::client::{VaultClient, VaultClientSettings, VaultClientSettingsBuilder};
use vaultrs::error::ClientError;

#[path = "hashicorp_renewal.rs"]
mod renewal;

/// A logged-in Vault client and where PAKE's secrets are. Clones share one session: one token,
/// kept alive by one renewal task (module `renewal`) that ends when the last clone is dropped.
#[derive(Clone)]
pub struct Vault {
    session: Arc<Session>,
    address: String,
    kv_mount: String,
    path: String,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // VaultClient's own Debug would show its token.
        f.debug_struct("Vault")
            .field("address", &self.address)
            .field("kv_mount", &self.kv_mount)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The client every reader uses, swapped when a Kubernetes login replaces the token, and how to
/// log in again.
struct Session {
    client: RwLock<Arc<VaultClient>>,
    /// The client settings without a token (logins are unauthenticated requests).
    settings: VaultClientSettings,
    /// The settings of a Kubernetes login; `None` with token auth.
    kubernetes: Option<VaultConfig>,
    address: String,
}

/// The start-up secrets read from `<path>/config`; absent fields leave the configuration as is.
#[derive(Default, Deserialize)]
pub struct RuntimeSecrets {
    /// Overrides `database_url`.
    pub database_url: Option<SecretString>,
    /// Overrides `redis_url`.
    pub redis_url: Option<SecretString>,
}

/// The request body of a Kubernetes auth login (what [`Vault::connect`] sends), built apart
/// from the HTTP call so it can be checked without a cluster.
#[derive(Debug, PartialEq, Eq)]
pub struct KubernetesLogin {
    /// Auth mount, e.g. `kubernetes` (`auth/<mount>/login`).
    pub mount: String,
    /// Vault role.
    pub role: String,
    /// The service-account JWT.
    pub jwt: SecretString,
}

impl KubernetesLogin {
    /// Reads the service-account token named by `vault.auth.jwt_path`.
    pub fn from_config(config: &VaultConfig) -> Result<KubernetesLogin, Error> {
        let auth = &config.auth;
        let jwt = std::fs::read_to_string(&auth.jwt_path).map_err(|error| {
            Error::internal(format!(
                "vault.auth.jwt_path: cannot read the Kubernetes service-account token {}: {error}",
                auth.jwt_path
            ))
        })?;
        let jwt = jwt.trim();
        if jwt.is_empty() {
            return Err(Error::internal(format!(
                "vault.auth.jwt_path: the Kubernetes service-account token {} is empty",
                auth.jwt_path
            )));
        }
        Ok(KubernetesLogin {
            mount: auth.mount.clone(),
            role: auth.role.clone().unwrap_or_default(),
            jwt: SecretString::new(jwt),
        })
    }
}

impl Vault {
    /// Logs in to `config.address` (validated by the configuration) with `token` or Kubernetes
    /// auth, checks that Vault accepts the token, and starts keeping the token alive in the
    /// background (module `renewal`; needs a Tokio runtime).
    pub async fn connect(
        config: &VaultConfig,
        token: Option<&SecretString>,
    ) -> Result<Vault, Error> {
        let address = config
            .address
            .clone()
            .ok_or_else(|| Error::internal("vault.address is not set"))?;
        let url = url::Url::parse(&address)
            .map_err(|_| Error::internal(format!("vault.address: '{address}' is not a URL")))?;
        let mut settings = VaultClientSettingsBuilder::default()
            .token("")
            .timeout(Some(Duration::from_secs(config.timeout_secs)))
            .verify(true)
            .build()
            .map_err(|e| Error::internal(format!("vault.address: {e}")))?;
        settings.address = url;
        let (token, kubernetes) = match config.auth.method {
            VaultAuthMethod::Token => {
                let token = token.ok_or_else(|| Error::internal("vault_token is not set"))?;
                (token.clone(), None)
            }
            VaultAuthMethod::Kubernetes => (
                kubernetes_login(&settings, &address, config).await?,
                Some(config.clone()),
            ),
        };
        let client = client_with_token(&settings, &address, &token)?;
        // Fails here, at start-up, when Vault is unreachable or the token is not accepted
        // (`token/lookup-self` is allowed by Vault's default policy).
        let lease = renewal::Lease::look_up(&client).await.map_err(|e| {
            Error::internal(format!(
                "vault.address {address}: cannot log in (is Vault reachable and the token valid?): {}",
                describe(&e)
            ))
        })?;
        let session = Arc::new(Session {
            client: RwLock::new(Arc::new(client)),
            settings,
            kubernetes,
            address: address.clone(),
        });
        renewal::spawn(Arc::downgrade(&session), lease);
        let vault = Vault {
            session,
            address,
            kv_mount: config.kv_mount.clone(),
            path: config.path.clone(),
        };
        tracing::info!(address = %vault.address, kv_mount = %vault.kv_mount, path = %vault.path, "connected to vault");
        Ok(vault)
    }

    /// Reads `<path>/config`; a missing secret yields no overrides.
    pub async fn runtime_secrets(&self) -> Result<RuntimeSecrets, Error> {
        let path = format!("{}/config", self.path);
        let client = self.client();
        match vaultrs::kv2::read::<RuntimeSecrets>(&*client, &self.kv_mount, &path).await {
            Ok(secrets) => Ok(secrets),
            Err(error) if is_not_found(&error) => Ok(RuntimeSecrets::default()),
            Err(error) => Err(self.error(&path, &error)),
        }
    }

    /// The client with the current token, for the key store. Take it per request: a
    /// Kubernetes login may replace it.
    pub(crate) fn client(&self) -> Arc<VaultClient> {
        self.session.client()
    }

    /// The KV v2 mount.
    pub(crate) fn kv_mount(&self) -> &str {
        &self.kv_mount
    }

    /// `<path>/<child>`.
    pub(crate) fn secret_path(&self, child: &str) -> String {
        format!("{}/{child}", self.path)
    }

    /// An error naming the address and the secret (never its value).
    pub(crate) fn error(&self, secret: &str, error: &ClientError) -> Error {
        Error::internal(format!(
            "vault.address {}: secret {}/{secret}: {}",
            self.address,
            self.kv_mount,
            describe(error)
        ))
    }
}

impl Session {
    fn client(&self) -> Arc<VaultClient> {
        self.client
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// A client of `settings` that sends `token`.
fn client_with_token(
    settings: &VaultClientSettings,
    address: &str,
    token: &SecretString,
) -> Result<VaultClient, Error> {
    let mut settings = settings.clone();
    settings.token = token.expose().to_owned();
    VaultClient::new(settings).map_err(|e| {
        Error::internal(format!(
            "vault.address {address}: cannot create a client: {}",
            describe(&e)
        ))
    })
}

/// Logs in with the service-account JWT (read again from `vault.auth.jwt_path` each time, as
/// the kubelet rotates it); the new token.
async fn kubernetes_login(
    settings: &VaultClientSettings,
    address: &str,
    config: &VaultConfig,
) -> Result<SecretString, Error> {
    let login = KubernetesLogin::from_config(config)?;
    let client = client_with_token(settings, address, &SecretString::new(""))?;
    let auth =
        vaultrs::auth::kubernetes::login(&client, &login.mount, &login.role, login.jwt.expose())
            .await
            .map_err(|e| {
                Error::internal(format!(
                    "vault.address {address}: Kubernetes login (vault.auth.mount {}, vault.auth.role {}) failed: {}",
                    login.mount,
                    login.role,
                    describe(&e)
                ))
            })?;
    Ok(SecretString::new(auth.client_token))
}

/// Whether Vault answered 404.
pub(crate) fn is_not_found(error: &ClientError) -> bool {
    matches!(error, ClientError::APIError { code: 404, .. })
}

/// A one-line description of a vaultrs error, with the transport cause when there is one.
fn describe(error: &ClientError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if let ClientError::APIError { code, errors } = error {
        text = format!("Vault answered {code}: {}", errors.join("; "));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_login_reads_the_service_account_token() {
        let dir = tempfile::tempdir().expect("temp dir");
        let jwt_path = dir.path().join("token");
        std::fs::write(&jwt_path, "eyJhbGciOi.secret-jwt.sig\n").expect("write token");
        let mut config = VaultConfig::default();
        config.auth.method = VaultAuthMethod::Kubernetes;
        config.auth.role = Some("pake".to_owned());
        config.auth.jwt_path = jwt_path.display().to_string();
        let login = KubernetesLogin::from_config(&config).expect("login request");
        assert_eq!(login.mount, "kubernetes");
        assert_eq!(login.role, "pake");
        assert_eq!(login.jwt.expose(), "eyJhbGciOi.secret-jwt.sig");
        assert!(!format!("{login:?}").contains("secret-jwt"));
    }

    #[test]
    fn a_missing_service_account_token_names_the_setting() {
        let mut config = VaultConfig::default();
        config.auth.method = VaultAuthMethod::Kubernetes;
        config.auth.jwt_path = "/nonexistent/token".to_owned();
        let error = KubernetesLogin::from_config(&config).expect_err("no token file");
        assert!(
            format!("{error:?}").contains("vault.auth.jwt_path"),
            "{error:?}"
        );
    }
}
