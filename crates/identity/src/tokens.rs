//! Issuing tokens: signed access JWTs and opaque refresh tokens.
//!
//! Access tokens are EdDSA or ES256 JWTs, signed by the key set's active key, with `kid` and
//! `typ: at+jwt` and the claims `iss sub aud exp iat nbf jti sid roles` (see
//! `pake_core::token::Claims`). Refresh tokens are
//! 256 random bits, shown once; only their SHA-256 is stored.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::sync::Arc;

use jsonwebtoken::Header;
use pake_core::Error;
use pake_core::auth::Role;
use pake_core::token::{ACCESS_TOKEN_TYPE, Claims};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::key_set::KeySet;

/// Prefix that makes refresh tokens recognisable in logs and secret scanners.
pub const REFRESH_TOKEN_PREFIX: &str = "pakert_";

/// Signs access tokens with the key set's active key.
#[derive(Clone)]
pub struct Signer {
    keys: Arc<KeySet>,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// A signed access token and when it expires.
#[derive(Clone, Debug)]
pub struct AccessToken {
    /// The compact JWT.
    pub token: String,
    /// Its `exp`.
    pub expire_time: SystemTime,
}

impl Signer {
    /// A signer over `keys`, issuing tokens valid for `ttl`.
    pub fn new(
        keys: Arc<KeySet>,
        issuer: impl Into<String>,
        audience: impl Into<String>,
        ttl: Duration,
    ) -> Self {
        Signer {
            keys,
            issuer: issuer.into(),
            audience: audience.into(),
            ttl,
        }
    }

    /// The key set this signer signs with.
    pub fn key_set(&self) -> &Arc<KeySet> {
        &self.keys
    }

    /// Signs an access token for `subject` in session `session` with `roles`.
    pub fn access_token(
        &self,
        subject: &str,
        session: &str,
        roles: &[Role],
    ) -> Result<AccessToken, Error> {
        let now = SystemTime::now();
        let issued = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: subject.to_owned(),
            aud: self.audience.clone(),
            exp: issued + self.ttl.as_secs(),
            iat: issued,
            nbf: issued,
            jti: uuid::Uuid::new_v4().to_string(),
            sid: session.to_owned(),
            roles: roles.iter().map(|role| role.as_str().to_owned()).collect(),
        };
        let key = self.keys.active(pake_runtime::db::now_micros())?;
        let mut header = Header::new(key.algorithm.jwt_algorithm());
        header.kid = Some(key.kid);
        header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
        let token = jsonwebtoken::encode(&header, &claims, &key.encoding)
            .map_err(|e| Error::internal(format!("signing an access token: {e}")))?;
        Ok(AccessToken {
            token,
            expire_time: now + self.ttl,
        })
    }

    /// Signs an access token that expires at `expire_time` (earlier than the usual lifetime).
    pub fn access_token_until(
        &self,
        subject: &str,
        session: &str,
        roles: &[Role],
        expire_time: SystemTime,
    ) -> Result<AccessToken, Error> {
        let ttl = expire_time
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .min(self.ttl);
        let shorter = Signer {
            ttl,
            ..self.clone()
        };
        shorter.access_token(subject, session, roles)
    }

    /// The lifetime of access tokens.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }
}

/// A new refresh token: (token shown to the client, hash to store).
pub fn new_refresh_token() -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = format!("{REFRESH_TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash_refresh_token(&token);
    (token, hash)
}

/// The stored form of a refresh token.
pub fn hash_refresh_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}
