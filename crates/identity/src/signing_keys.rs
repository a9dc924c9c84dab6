//! RotateSigningKey and ListSigningKeys: the admin face of [`crate::key_set`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pake_api::identity::signing_key::State as ProtoState;
use pake_api::identity::{
    AuditEventType, ListSigningKeysRequest, ListSigningKeysResponse, RotateSigningKeyRequest,
    SigningAlgorithm, SigningKey as ProtoSigningKey,
};
use pake_core::Error;
use pake_core::auth::Principal;
use pake_runtime::db::{now_micros, timestamp};

use crate::IdentityService;
use crate::audit::{AuditEvent, RequestContext, actor_of};
use crate::key_set::{KeyView, RotateError, State};
use crate::signing_key::Algorithm;

const REQUEST_ID_WINDOW: Duration = Duration::from_secs(24 * 3600);
const MAX_REQUEST_ID_BYTES: usize = 64;
const MAX_PAGE_SIZE: usize = 1000;

/// Rotations already made per (caller, request_id), so a retry returns the first result.
/// In-process: a retry that reaches another replica, or this one after a restart, rotates again
/// (harmless: it fails with ROTATION_IN_PROGRESS unless the first key already activated).
#[derive(Debug, Default)]
pub(crate) struct RotationRequests {
    seen: Mutex<HashMap<(String, String), (Instant, String)>>,
}

impl RotationRequests {
    fn get(&self, caller: &str, request_id: &str) -> Option<String> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.retain(|_, (at, _)| at.elapsed() < REQUEST_ID_WINDOW);
        seen.get(&(caller.to_owned(), request_id.to_owned()))
            .map(|(_, kid)| kid.clone())
    }

    fn put(&self, caller: &str, request_id: &str, kid: &str) {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).insert(
            (caller.to_owned(), request_id.to_owned()),
            (Instant::now(), kid.to_owned()),
        );
    }
}

impl IdentityService {
    pub(crate) async fn rotate_signing_key(
        &self,
        principal: &Principal,
        context: &RequestContext,
        request: RotateSigningKeyRequest,
    ) -> Result<ProtoSigningKey, Error> {
        require_admin(principal)?;
        if request.request_id.len() > MAX_REQUEST_ID_BYTES {
            return Err(Error::invalid_field(
                "request_id",
                "must be at most 64 bytes",
            ));
        }
        let algorithm = match SigningAlgorithm::try_from(request.algorithm) {
            Ok(SigningAlgorithm::Unspecified) => None,
            Ok(SigningAlgorithm::Eddsa) => Some(Algorithm::EdDsa),
            Ok(SigningAlgorithm::Es256) => Some(Algorithm::Es256),
            Err(_) => {
                return Err(Error::invalid_field(
                    "algorithm",
                    format!("{} is not a SigningAlgorithm", request.algorithm),
                ));
            }
        };
        let keys = self.signer.key_set();
        let now = now_micros();
        if !request.request_id.is_empty()
            && let Some(kid) = self.rotations.get(&principal.subject, &request.request_id)
        {
            return keys
                .views(now)
                .iter()
                .find(|view| view.kid == kid)
                .map(to_proto)
                .ok_or_else(|| Error::not_found(&format!("signingKeys/{kid}")));
        }
        let view = keys
            .rotate(algorithm, request.emergency, now)
            .await
            .map_err(|error| match error {
                RotateError::AlgorithmDisabled(_) => {
                    Error::invalid_field("algorithm", error.to_string())
                }
                RotateError::InProgress => {
                    Error::new(pake_core::ErrorKind::FailedPrecondition, error.to_string())
                        .with_reason("ROTATION_IN_PROGRESS")
                }
                RotateError::Store(error) => error,
            })?;
        if !request.request_id.is_empty() {
            self.rotations
                .put(&principal.subject, &request.request_id, &view.kid);
        }
        let mut event = AuditEvent::new(
            AuditEventType::SigningKeyRotated,
            actor_of(principal),
            format!("signingKeys/{}", view.kid),
        )
        .with("algorithm", view.algorithm.jose_name());
        if request.emergency {
            event = event.with("emergency", "true");
        }
        self.audit(event, context).await;
        tracing::warn!(
            kid = %view.kid,
            emergency = request.emergency,
            actor = %principal.subject,
            "signing key rotation started"
        );
        Ok(to_proto(&view))
    }

    pub(crate) fn list_signing_keys(
        &self,
        principal: &Principal,
        request: ListSigningKeysRequest,
    ) -> Result<ListSigningKeysResponse, Error> {
        require_admin(principal)?;
        if request.page_size < 0 {
            return Err(Error::invalid_field("page_size", "must not be negative"));
        }
        let page_size = match request.page_size {
            0 => 50,
            n => usize::try_from(n)
                .unwrap_or(MAX_PAGE_SIZE)
                .min(MAX_PAGE_SIZE),
        };
        let views = self.signer.key_set().views(now_micros());
        let start = if request.page_token.is_empty() {
            0
        } else {
            decode_page_token(&request.page_token, &principal.subject).ok_or_else(|| {
                Error::invalid_field("page_token", "was not issued to this caller by this method")
            })?
        };
        let end = (start + page_size).min(views.len());
        Ok(ListSigningKeysResponse {
            signing_keys: views
                .get(start..end)
                .unwrap_or_default()
                .iter()
                .map(to_proto)
                .collect(),
            next_page_token: if end < views.len() {
                encode_page_token(end, &principal.subject)
            } else {
                String::new()
            },
            total_size: i32::try_from(views.len()).unwrap_or(i32::MAX),
        })
    }
}

fn require_admin(principal: &Principal) -> Result<(), Error> {
    if principal.is_admin() {
        Ok(())
    } else {
        Err(Error::permission_denied("only admins manage signing keys")
            .with_reason("ADMIN_REQUIRED"))
    }
}

fn encode_page_token(offset: usize, caller: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("signingKeys\n{caller}\n{offset}"))
}

fn decode_page_token(token: &str, caller: &str) -> Option<usize> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    let mut parts = text.split('\n');
    (parts.next()? == "signingKeys" && parts.next()? == caller)
        .then(|| parts.next()?.parse().ok())
        .flatten()
}

fn to_proto(view: &KeyView) -> ProtoSigningKey {
    ProtoSigningKey {
        name: format!("signingKeys/{}", view.kid),
        kid: view.kid.clone(),
        algorithm: match view.algorithm {
            Algorithm::EdDsa => SigningAlgorithm::Eddsa,
            Algorithm::Es256 => SigningAlgorithm::Es256,
        } as i32,
        state: match view.state {
            State::Pending => ProtoState::Pending,
            State::Active => ProtoState::Active,
            State::Retiring => ProtoState::Retiring,
        } as i32,
        create_time: Some(timestamp(view.create_time)),
        activate_time: Some(timestamp(view.activate_time)),
        retire_time: view.retire_time.map(timestamp),
        expire_time: view.expire_time.map(timestamp),
    }
}
