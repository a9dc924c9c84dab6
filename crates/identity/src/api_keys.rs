//! API keys: personal and service-account tokens for programs.
//!
//! Format `pake_{id}_{secret}`: a visible prefix and key id (16 lower-case alphanumerics) to
//! recognise and look the key up, then 43 alphanumerics (~256 bits) of secret. Only
//! HMAC-SHA256(server key, secret) is stored and compared in constant time; the server key is a
//! 32-byte secret generated into the data dir (Vault in production). A key never has more rights
//! than its owner: at every exchange the token's roles are the key's roles intersected with the
//! owner's current roles.

use std::path::Path;
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use pake_api::identity::{
    ApiKey, AuditEventType, CreateApiKeyRequest, CreateApiKeyResponse, DeleteApiKeyRequest,
    ExchangeApiKeyRequest, ExchangeApiKeyResponse, ListApiKeysRequest, ListApiKeysResponse,
};
use pake_core::auth::{Caller, Role};
use pake_core::config::SecretString;
use pake_core::{Error, ErrorKind};
use pake_runtime::db::{now_micros, timestamp};
use rand::Rng;
use rand::distributions::Alphanumeric;
use sha2::Sha256;

use crate::audit::{AuditEvent, RequestContext, actor_of};
use crate::roles;
use crate::service::IdentityService;
use crate::store::ApiKeyRecord;

/// File of the HMAC key inside the data dir.
pub const HMAC_KEY_FILE: &str = "api-key-hmac.key";
/// Visible prefix of every API key.
pub const PREFIX: &str = "pake_";
const ID_LENGTH: usize = 16;
const SECRET_LENGTH: usize = 43;
const MAX_KEYS_PER_USER: usize = 100;
const MAX_DISPLAY_NAME: usize = 256;

/// The server-side key of the API-key hashes.
#[derive(Clone)]
pub struct KeyHasher {
    key: SecretString,
}

impl std::fmt::Debug for KeyHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyHasher([redacted])")
    }
}

impl KeyHasher {
    /// Loads `<data_dir>/api-key-hmac.key`, generating it on first start.
    pub fn load_or_generate(data_dir: &Path) -> Result<Self, Error> {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill(&mut bytes);
        crate::secret_file::create_once(data_dir, HMAC_KEY_FILE, STANDARD.encode(bytes).as_bytes())
            .map_err(|e| Error::internal(format!("{HMAC_KEY_FILE}: {e}")))?;
        let text = std::fs::read_to_string(data_dir.join(HMAC_KEY_FILE))
            .map_err(|e| Error::internal(format!("{HMAC_KEY_FILE}: {e}")))?;
        let decoded = STANDARD
            .decode(text.trim())
            .ok()
            .filter(|key| key.len() >= 32)
            .ok_or_else(|| {
                Error::internal(format!("{HMAC_KEY_FILE}: not a base64 key of 32+ bytes"))
            })?;
        Ok(KeyHasher {
            key: SecretString::new(STANDARD.encode(decoded)),
        })
    }

    fn mac(&self) -> Hmac<Sha256> {
        let key = STANDARD.decode(self.key.expose()).unwrap_or_default();
        // HMAC accepts keys of any length.
        <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap_or_else(|_| unreachable!())
    }

    fn hash(&self, secret: &str) -> Vec<u8> {
        let mut mac = self.mac();
        mac.update(secret.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    fn verify(&self, secret: &str, expected: &[u8]) -> bool {
        let mut mac = self.mac();
        mac.update(secret.as_bytes());
        mac.verify_slice(expected).is_ok()
    }
}

fn random_alphanumeric(length: usize, lowercase: bool) -> String {
    let text: String = rand::rngs::OsRng
        .sample_iter(&Alphanumeric)
        .take(length)
        .map(char::from)
        .collect();
    if lowercase {
        text.to_ascii_lowercase()
    } else {
        text
    }
}

/// Splits `pake_{id}_{secret}`.
fn parse(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let valid = id.len() == ID_LENGTH
        && secret.len() == SECRET_LENGTH
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && secret.chars().all(|c| c.is_ascii_alphanumeric());
    valid.then_some((id, secret))
}

pub(crate) fn to_proto(key: &ApiKeyRecord) -> ApiKey {
    ApiKey {
        name: key.resource_name(),
        display_name: key.display_name.clone(),
        roles: roles::to_proto(
            &key.roles
                .split(',')
                .filter_map(Role::parse)
                .collect::<Vec<_>>(),
        ),
        key_prefix: format!("{PREFIX}{}_", key.id),
        expire_time: key.expire_time.map(timestamp),
        create_time: Some(timestamp(key.create_time)),
        last_use_time: key.last_use_time.map(timestamp),
    }
}

fn invalid_api_key() -> Error {
    Error::unauthenticated("invalid API key").with_reason("INVALID_API_KEY")
}

impl IdentityService {
    pub(crate) async fn create_api_key(
        &self,
        caller: &Caller,
        context: &RequestContext,
        request: CreateApiKeyRequest,
    ) -> Result<CreateApiKeyResponse, Error> {
        let (principal, owner) = self
            .readable_user(caller, &request.parent, "parent")
            .await?;
        if principal
            .session_id
            .as_deref()
            .is_some_and(|sid| sid.contains("/apiKeys/"))
        {
            return Err(Error::permission_denied(
                "tokens obtained with an API key cannot create API keys",
            )
            .with_reason("API_KEY_NOT_ALLOWED"));
        }
        let own = principal.subject == owner.resource_name();
        let allowed = (own && !owner.service_account)
            || (!own && principal.is_admin() && owner.service_account);
        if !allowed {
            return Err(Error::permission_denied(
                "API keys are created by users for themselves, or by an admin for a service account",
            )
            .with_reason("API_KEY_NOT_ALLOWED"));
        }
        if owner.disabled {
            return Err(
                Error::new(ErrorKind::FailedPrecondition, "the owner is disabled")
                    .with_reason("USER_DISABLED"),
            );
        }
        let key = request
            .api_key
            .ok_or_else(|| Error::invalid_field("api_key", "is required"))?;
        let display_name = key.display_name.trim();
        if display_name.is_empty()
            || key.display_name.len() > MAX_DISPLAY_NAME
            || display_name.chars().any(char::is_control)
        {
            return Err(Error::invalid_field(
                "api_key.display_name",
                "must be 1 to 256 bytes without control characters",
            ));
        }
        let wanted = roles::from_proto(&key.roles).map_err(|e| {
            Error::invalid_field(
                "api_key.roles",
                e.to_string().trim_start_matches("user.roles: ").to_owned(),
            )
        })?;
        let held = owner.role_list();
        if let Some(missing) = wanted.iter().find(|role| !held.contains(role)) {
            return Err(Error::permission_denied(format!(
                "api_key.roles: the owner does not hold `{missing}`"
            ))
            .with_reason("ROLE_NOT_HELD"));
        }
        let now = now_micros();
        let expire_time = match &key.expire_time {
            None => None,
            Some(t) => {
                let micros = t.seconds.saturating_mul(1_000_000) + i64::from(t.nanos) / 1000;
                if micros <= now {
                    return Err(Error::invalid_field(
                        "api_key.expire_time",
                        "must be in the future",
                    ));
                }
                Some(micros)
            }
        };
        if self.store.api_keys_of(&owner.id).await?.len() >= MAX_KEYS_PER_USER {
            return Err(Error::new(
                ErrorKind::ResourceExhausted,
                "the owner already has 100 API keys; revoke one first",
            )
            .with_reason("API_KEY_LIMIT"));
        }
        let id = random_alphanumeric(ID_LENGTH, true);
        let secret = random_alphanumeric(SECRET_LENGTH, false);
        let record = ApiKeyRecord {
            id: id.clone(),
            user_id: owner.id.clone(),
            display_name: display_name.to_owned(),
            roles: roles::to_column(&wanted),
            create_time: now,
            expire_time,
            last_use_time: None,
            revoke_time: None,
        };
        let mut event = AuditEvent::new(
            AuditEventType::ApiKeyCreated,
            actor_of(&principal),
            record.resource_name(),
        )
        .with("roles", record.roles.clone());
        if let Some(expire_time) = record.expire_time {
            event = event.with("expire_time", timestamp(expire_time).to_string());
        }
        let audit = self.audit_record(event, context);
        self.store
            .insert_api_key(&record, &self.key_hasher.hash(&secret), Some(&audit))
            .await?;
        tracing::info!(key = %record.resource_name(), by = %principal.subject, "api key created");
        Ok(CreateApiKeyResponse {
            api_key: Some(to_proto(&record)),
            secret: format!("{PREFIX}{id}_{secret}"),
        })
    }

    pub(crate) async fn list_api_keys(
        &self,
        caller: &Caller,
        request: ListApiKeysRequest,
    ) -> Result<ListApiKeysResponse, Error> {
        if request.page_size < 0 {
            return Err(Error::invalid_field("page_size", "must not be negative"));
        }
        let (principal, owner) = self
            .readable_user(caller, &request.parent, "parent")
            .await?;
        let keys = self.store.api_keys_of(&owner.id).await?;
        let page_size = match request.page_size {
            0 => 50,
            n => (n as usize).min(MAX_KEYS_PER_USER),
        };
        let prefix = format!("{}|{}|", owner.resource_name(), principal.subject);
        let offset = if request.page_token.is_empty() {
            0
        } else {
            request
                .page_token
                .strip_prefix(&prefix)
                .and_then(|rest| rest.parse::<usize>().ok())
                .ok_or_else(|| {
                    Error::invalid_field("page_token", "was not issued for this parent and caller")
                })?
        };
        let page: Vec<ApiKey> = keys
            .iter()
            .skip(offset)
            .take(page_size)
            .map(to_proto)
            .collect();
        let next = offset + page.len();
        Ok(ListApiKeysResponse {
            next_page_token: if next < keys.len() {
                format!("{prefix}{next}")
            } else {
                String::new()
            },
            total_size: i32::try_from(keys.len()).unwrap_or(i32::MAX),
            api_keys: page,
        })
    }

    pub(crate) async fn delete_api_key(
        &self,
        caller: &Caller,
        context: &RequestContext,
        request: DeleteApiKeyRequest,
    ) -> Result<(), Error> {
        let not_found = || Error::not_found(&request.name).with_reason("API_KEY_NOT_FOUND");
        let (user_name, key_id) = request
            .name
            .split_once("/apiKeys/")
            .filter(|(user, id)| user.starts_with("users/") && !id.is_empty() && !id.contains('/'))
            .ok_or_else(|| {
                Error::invalid_field("name", "must be users/{user}/apiKeys/{api_key}")
            })?;
        let (principal, owner) = self
            .readable_user(caller, user_name, "name")
            .await
            .map_err(|error| {
                if error.kind() == ErrorKind::NotFound {
                    not_found()
                } else {
                    error
                }
            })?;
        let (key, _) = self
            .store
            .api_key(key_id)
            .await?
            .filter(|(key, _)| key.user_id == owner.id && key.revoke_time.is_none())
            .ok_or_else(not_found)?;
        let audit = self.audit_record(
            AuditEvent::new(
                AuditEventType::ApiKeyRevoked,
                actor_of(&principal),
                key.resource_name(),
            ),
            context,
        );
        self.store
            .revoke_api_key(&key.id, audit.create_time, Some(&audit))
            .await?;
        self.revoked
            .revoke(
                &key.resource_name(),
                self.signer.ttl() + Duration::from_secs(60),
            )
            .await;
        tracing::info!(key = %key.resource_name(), "api key revoked");
        Ok(())
    }

    /// Records a refused exchange of a well-formed key (best effort) and returns the one
    /// error every refusal gets. The target is the key when it exists.
    async fn exchange_refused(
        &self,
        key: Option<&ApiKeyRecord>,
        reason: &str,
        context: &RequestContext,
    ) -> Error {
        let target = key.map(ApiKeyRecord::resource_name).unwrap_or_default();
        let event = AuditEvent::new(AuditEventType::ApiKeyExchangeFailed, "", target)
            .with("reason", reason);
        self.audit(event, context).await;
        invalid_api_key()
    }

    pub(crate) async fn exchange_api_key(
        &self,
        context: &RequestContext,
        request: ExchangeApiKeyRequest,
    ) -> Result<ExchangeApiKeyResponse, Error> {
        if request.api_key.is_empty() {
            return Err(Error::invalid_field("api_key", "is required"));
        }
        let (id, secret) = parse(&request.api_key).ok_or_else(invalid_api_key)?;
        let now = now_micros();
        let Some((key, hash)) = self.store.api_key(id).await? else {
            return Err(self.exchange_refused(None, "unknown_key", context).await);
        };
        let refusal = if !self.key_hasher.verify(secret, &hash) {
            Some("wrong_secret")
        } else if key.revoke_time.is_some() {
            Some("revoked")
        } else if key.expire_time.is_some_and(|expire| expire <= now) {
            Some("expired")
        } else {
            None
        };
        if let Some(reason) = refusal {
            return Err(self.exchange_refused(Some(&key), reason, context).await);
        }
        let Some(owner) = self
            .store
            .user_by_id(&key.user_id)
            .await?
            .filter(|owner| !owner.disabled)
        else {
            return Err(self
                .exchange_refused(Some(&key), "owner_disabled", context)
                .await);
        };
        let held = owner.role_list();
        let granted: Vec<Role> = if key.roles.is_empty() {
            held
        } else {
            key.roles
                .split(',')
                .filter_map(Role::parse)
                .filter(|role| held.contains(role))
                .collect()
        };
        if granted.is_empty() {
            return Err(self.exchange_refused(Some(&key), "no_roles", context).await);
        }
        let mut access =
            self.signer
                .access_token(&owner.resource_name(), &key.resource_name(), &granted)?;
        if let Some(expire) = key.expire_time {
            let key_expiry = SystemTime::UNIX_EPOCH + Duration::from_micros(expire.max(0) as u64);
            if key_expiry < access.expire_time {
                // Tokens never outlive their key.
                access = self.signer.access_token_until(
                    &owner.resource_name(),
                    &key.resource_name(),
                    &granted,
                    key_expiry,
                )?;
            }
        }
        let minute = now - now.rem_euclid(60_000_000);
        self.store.touch_api_key(&key.id, minute).await?;
        Ok(ExchangeApiKeyResponse {
            access_token: access.token,
            expire_time: Some(access.expire_time.into()),
            token_type: "Bearer".to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_only_in_their_exact_format() {
        let id = random_alphanumeric(ID_LENGTH, true);
        let secret = random_alphanumeric(SECRET_LENGTH, false);
        let key = format!("{PREFIX}{id}_{secret}");
        assert_eq!(parse(&key), Some((id.as_str(), secret.as_str())));
        for bad in [
            "",
            "pake_",
            "pake_abc_def",
            &key.replace("pake_", "pak_"),
            &format!("{key}x"),
            &key.to_uppercase(),
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn hashes_are_keyed_and_verified() {
        let dir = tempfile::tempdir().expect("tempdir");
        let hasher = KeyHasher::load_or_generate(dir.path()).expect("key");
        let hash = hasher.hash("secret");
        assert!(hasher.verify("secret", &hash));
        assert!(!hasher.verify("secreT", &hash));
        let other = KeyHasher::load_or_generate(tempfile::tempdir().expect("tempdir").path())
            .expect("other");
        assert!(
            !other.verify("secret", &hash),
            "another server key gives another hash"
        );
        let again = KeyHasher::load_or_generate(dir.path()).expect("reload");
        assert!(again.verify("secret", &hash), "the key persists");
    }
}
