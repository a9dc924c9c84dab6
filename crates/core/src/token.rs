//! Access tokens: the claims PAKE puts in a JWT, and the verifier every service uses.
//!
//! The verifier checks, in this order: size (≤ 8 KiB, before parsing), header (`typ: at+jwt`, a
//! `kid`, none of `jku`/`x5u`/`jwk`/`x5c`, no `crit` extensions), the key (looked up by `kid` in
//! the identity service's JWKS; an unknown `kid` refetches the JWKS at most once per refresh
//! interval), the signature with the algorithm pinned to that key, then `iss`, `aud`, `exp`, `nbf`
//! with at most 60 s leeway. Only then does a token become a [`Principal`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, RwLock};

use crate::auth::{Principal, Role};
use crate::error::Error;

/// Largest token accepted; larger ones are rejected before any parsing.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// The `typ` header of PAKE access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";
/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY: Duration = Duration::from_secs(60);
/// The default `iss` and `aud` of PAKE tokens.
pub const DEFAULT_ISSUER: &str = "pake";
/// The default audience.
pub const DEFAULT_AUDIENCE: &str = "pake";

/// The claims of a PAKE access token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Subject: `users/{id}` (or `services/{name}` for in-process service tokens).
    pub sub: String,
    /// Audience.
    pub aud: String,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Issued at.
    pub iat: u64,
    /// Not before.
    pub nbf: u64,
    /// Unique token id.
    pub jti: String,
    /// Session (or API key) resource name; empty for service tokens.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sid: String,
    /// Role names.
    pub roles: Vec<String>,
}

/// A public key as published in the JWKS (the members PAKE uses).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicJwk {
    /// `OKP` or `EC`.
    pub kty: String,
    /// `Ed25519` or `P-256`.
    pub crv: String,
    /// base64url public key (OKP) or x coordinate (EC).
    pub x: String,
    /// base64url y coordinate (EC only).
    pub y: String,
    /// Key id.
    pub kid: String,
    /// `EdDSA` or `ES256`.
    pub alg: String,
}

/// Where the verifier gets the current key set (identity's `GetJwks`, over gRPC).
#[async_trait::async_trait]
pub trait JwksSource: Send + Sync + 'static {
    /// Fetches the current public keys.
    async fn fetch(&self) -> Result<Vec<PublicJwk>, Error>;
}

/// Where a service gets the access token it presents when calling another service as a service
/// account (role `service`).
#[async_trait::async_trait]
pub trait ServiceTokenSource: Send + Sync + std::fmt::Debug + 'static {
    /// A currently valid access token.
    async fn token(&self) -> Result<String, Error>;
}

struct VerifyingKey {
    key: DecodingKey,
    algorithm: Algorithm,
}

struct KeyCache {
    keys: HashMap<String, Arc<VerifyingKey>>,
    fetched_at: Option<Instant>,
}

/// Verifies access tokens against the identity service's published keys.
pub struct Verifier {
    source: Arc<dyn JwksSource>,
    issuer: String,
    audience: String,
    refresh_interval: Duration,
    cache: RwLock<KeyCache>,
    refresh_lock: Mutex<()>,
    revoked: Option<Arc<dyn crate::revocation::RevokedSessions>>,
    verified: VerifiedTokens,
}

/// Tokens whose header, signature and claims were verified, by SHA-256 of the whole token. A
/// token seen again skips header parsing, the signature check and claim parsing — most of
/// verification's CPU (~50 µs of Ed25519 per call) — since the same bytes pass the same checks;
/// never its key still being in the current key set with the same algorithm, its expiry, or
/// revocation.
#[derive(Default)]
struct VerifiedTokens {
    entries: std::sync::Mutex<HashMap<[u8; 32], Arc<VerifiedToken>>>,
}

/// What verification established about a token.
struct VerifiedToken {
    kid: String,
    algorithm: Algorithm,
    claims: Claims,
}

/// Verified tokens remembered at most; when full, expired ones go first, then all.
const MAX_VERIFIED_TOKENS: usize = 10_000;

impl VerifiedTokens {
    fn get(&self, digest: &[u8; 32]) -> Option<Arc<VerifiedToken>> {
        self.entries
            .lock()
            .ok()
            .and_then(|entries| entries.get(digest).cloned())
    }

    fn insert(&self, digest: [u8; 32], verified: Arc<VerifiedToken>) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= MAX_VERIFIED_TOKENS {
            let now = epoch_seconds();
            entries.retain(|_, verified| !expired(&verified.claims, now));
            if entries.len() >= MAX_VERIFIED_TOKENS {
                entries.clear();
            }
        }
        entries.insert(digest, verified);
    }
}

fn epoch_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default()
}

/// Past `exp` by more than the leeway, as jsonwebtoken judges it (`nbf` only gets easier).
fn expired(claims: &Claims, now: u64) -> bool {
    claims.exp.saturating_add(LEEWAY.as_secs()) < now
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier for tokens issued by `issuer` for `audience`. Unknown key ids refetch the key
    /// set at most once per `refresh_interval`; known keys are refetched after it too, so
    /// withdrawn keys stop verifying.
    pub fn new(
        source: Arc<dyn JwksSource>,
        issuer: impl Into<String>,
        audience: impl Into<String>,
        refresh_interval: Duration,
    ) -> Self {
        Verifier {
            source,
            issuer: issuer.into(),
            audience: audience.into(),
            refresh_interval,
            cache: RwLock::new(KeyCache {
                keys: HashMap::new(),
                fetched_at: None,
            }),
            refresh_lock: Mutex::new(()),
            revoked: None,
            verified: VerifiedTokens::default(),
        }
    }

    /// Also rejects tokens whose session is in `revoked`.
    pub fn with_revocation(mut self, revoked: Arc<dyn crate::revocation::RevokedSessions>) -> Self {
        self.revoked = Some(revoked);
        self
    }

    /// Verifies `token` and returns its principal, or UNAUTHENTICATED (UNAVAILABLE when the key
    /// set cannot be fetched at all).
    pub async fn verify(&self, token: &str) -> Result<Principal, Error> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(invalid_token("token is larger than 8 KiB"));
        }
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let verified = match self.verified.get(&digest) {
            Some(verified) => {
                // Same bytes, same header: only what can change since is checked again.
                let key = self.key(&verified.kid).await?;
                if key.algorithm != verified.algorithm {
                    return Err(invalid_token("token algorithm does not match its key"));
                }
                if expired(&verified.claims, epoch_seconds()) {
                    return Err(invalid_token("token has expired"));
                }
                verified
            }
            None => {
                let verified = Arc::new(self.verify_uncached(token).await?);
                self.verified.insert(digest, verified.clone());
                verified
            }
        };
        let claims = &verified.claims;
        if let Some(revoked) = &self.revoked
            && !claims.sid.is_empty()
            && revoked.is_revoked(&claims.sid, claims.iat).await
        {
            return Err(invalid_token("the session of this token has ended"));
        }
        Ok(Principal {
            subject: claims.sub.clone(),
            session_id: (!claims.sid.is_empty()).then(|| claims.sid.clone()),
            roles: claims.roles.iter().filter_map(|r| Role::parse(r)).collect(),
        })
    }

    /// Every check of a token not seen before: header, key, signature and claims.
    async fn verify_uncached(&self, token: &str) -> Result<VerifiedToken, Error> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| invalid_token("malformed token"))?;
        if header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE) {
            return Err(invalid_token("not an access token (typ must be at+jwt)"));
        }
        if header.jku.is_some()
            || header.x5u.is_some()
            || header.jwk.is_some()
            || header.x5c.is_some()
        {
            return Err(invalid_token("token header carries a key reference"));
        }
        // RFC 7515 §4.1.11: extensions listed in `crit` must be understood; we support none.
        if header.crit.is_some() {
            return Err(invalid_token("token header lists critical extensions"));
        }
        let kid = header
            .kid
            .ok_or_else(|| invalid_token("token has no kid"))?;
        let key = self.key(&kid).await?;
        if header.alg != key.algorithm {
            return Err(invalid_token("token algorithm does not match its key"));
        }
        let claims = self.decode(token, &key)?;
        Ok(VerifiedToken {
            kid,
            algorithm: key.algorithm,
            claims,
        })
    }

    /// Checks the signature and the claims of `token` with `key`.
    fn decode(&self, token: &str, key: &VerifyingKey) -> Result<Claims, Error> {
        let mut validation = Validation::new(key.algorithm);
        validation.leeway = LEEWAY.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        let data =
            jsonwebtoken::decode::<Claims>(token, &key.key, &validation).map_err(|error| {
                use jsonwebtoken::errors::ErrorKind as Jwt;
                match error.kind() {
                    Jwt::ExpiredSignature => invalid_token("token has expired"),
                    Jwt::ImmatureSignature => invalid_token("token is not valid yet"),
                    Jwt::InvalidIssuer => invalid_token("token has the wrong issuer"),
                    Jwt::InvalidAudience => invalid_token("token has the wrong audience"),
                    Jwt::InvalidSignature => invalid_token("token signature is invalid"),
                    _ => invalid_token("token is invalid"),
                }
            })?;
        Ok(data.claims)
    }

    async fn key(&self, kid: &str) -> Result<Arc<VerifyingKey>, Error> {
        {
            let cache = self.cache.read().await;
            let fresh = cache
                .fetched_at
                .is_some_and(|at| at.elapsed() < self.refresh_interval);
            if let Some(key) = cache.keys.get(kid)
                && fresh
            {
                return Ok(key.clone());
            }
        }
        // Unknown kid or stale cache: refetch, at most once per interval, one caller at a time.
        let _guard = self.refresh_lock.lock().await;
        let due = {
            let cache = self.cache.read().await;
            if let Some(key) = cache.keys.get(kid)
                && cache
                    .fetched_at
                    .is_some_and(|at| at.elapsed() < self.refresh_interval)
            {
                return Ok(key.clone());
            }
            cache
                .fetched_at
                .is_none_or(|at| at.elapsed() >= self.refresh_interval)
        };
        if due {
            match self.source.fetch().await {
                Ok(jwks) => {
                    let keys = jwks
                        .iter()
                        .filter_map(|jwk| Some((jwk.kid.clone(), Arc::new(verifying_key(jwk)?))))
                        .collect();
                    *self.cache.write().await = KeyCache {
                        keys,
                        fetched_at: Some(Instant::now()),
                    };
                }
                Err(error) => {
                    tracing::warn!(error = %error, "fetching the jwks failed");
                    // Keep verifying with the keys we have; fail only if we have none.
                    let cache = self.cache.read().await;
                    if cache.keys.is_empty() {
                        return Err(Error::unavailable(
                            "cannot verify tokens: the identity service's keys are unavailable",
                            error,
                        ));
                    }
                }
            }
        }
        self.cache
            .read()
            .await
            .keys
            .get(kid)
            .cloned()
            .ok_or_else(|| invalid_token("token is signed by an unknown key"))
    }
}

fn verifying_key(jwk: &PublicJwk) -> Option<VerifyingKey> {
    match (jwk.kty.as_str(), jwk.crv.as_str(), jwk.alg.as_str()) {
        ("OKP", "Ed25519", "EdDSA") => Some(VerifyingKey {
            key: DecodingKey::from_ed_components(&jwk.x).ok()?,
            algorithm: Algorithm::EdDSA,
        }),
        ("EC", "P-256", "ES256") => Some(VerifyingKey {
            key: DecodingKey::from_ec_components(&jwk.x, &jwk.y).ok()?,
            algorithm: Algorithm::ES256,
        }),
        _ => None,
    }
}

fn invalid_token(message: &str) -> Error {
    Error::unauthenticated(message).with_reason("INVALID_TOKEN")
}

#[cfg(test)]
#[path = "token_tests.rs"]
mod tests;
