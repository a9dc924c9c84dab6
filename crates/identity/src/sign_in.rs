//! Sessions: password sign-in (throttled per account and client address, unknown user, wrong
//! password and lockout indistinguishable — same status, message and work), refresh-token
//! rotation, where presenting an already-rotated token revokes the whole session (RFC 9700), and
//! ending a session (logout, or an admin's revocation).

use pake_api::identity::{
    AuditEventType, CreateSessionRequest, CreateSessionResponse, RefreshSessionRequest,
    RefreshSessionResponse,
};
use pake_core::Error;
use pake_core::auth::Caller;
use pake_runtime::db::{now_micros, timestamp};

use crate::audit::{AuditEvent, RequestContext, actor_of};
use crate::normalize;
use crate::password::Verification;
use crate::service::{IdentityService, session_to_proto};
use crate::store::{RefreshOutcome, SessionRecord};
use crate::throttle::Verdict;
use crate::tokens::{hash_refresh_token, new_refresh_token};

const INVALID_CREDENTIALS: &str = "invalid username or password";

fn invalid_credentials() -> Error {
    Error::unauthenticated(INVALID_CREDENTIALS).with_reason("INVALID_CREDENTIALS")
}

impl IdentityService {
    pub(crate) async fn sign_in(
        &self,
        context: &RequestContext,
        request: CreateSessionRequest,
    ) -> Result<CreateSessionResponse, Error> {
        let client_address = context.client_address.as_str();
        if request.username.trim().is_empty() {
            return Err(Error::invalid_field("username", "is required"));
        }
        if request.password.is_empty() {
            return Err(Error::invalid_field("password", "is required"));
        }
        // Over-long input is refused before any lookup or hashing, the same for every account.
        if request.password.len() > crate::password::MAX_PASSWORD_BYTES {
            return Err(
                Error::invalid_field("password", "must be at most 1024 bytes")
                    .with_reason("FIELD_TOO_LONG"),
            );
        }
        if request.username.len() > normalize::MAX_EMAIL_BYTES {
            return Err(
                Error::invalid_field("username", "must be at most 254 bytes")
                    .with_reason("FIELD_TOO_LONG"),
            );
        }
        let key = if request.username.contains('@') {
            normalize::email(&request.username).map(|n| n.key)
        } else {
            normalize::username(&request.username).map(|n| n.key)
        };
        // One lookup whether or not the account exists (absence costs the same below).
        let found = match &key {
            Ok(key) => self.store.user_by_login(key).await?,
            Err(_) => None,
        };
        // Failures count per account — its resource name, whichever login it was typed as, so
        // a lockout holds for username and email alike — or per name (`name:…`) when no
        // account has it, so that unknown names are throttled and locked the same way.
        let account = match &found {
            Some(user) => crate::user_state::throttle_account(user),
            None => format!(
                "name:{}",
                key.unwrap_or_else(|_| request.username.trim().to_lowercase())
            ),
        };
        match self.throttle.check(&account, client_address).await {
            Verdict::Allowed => {}
            Verdict::Wait(wait) => {
                return Err(Error::resource_exhausted(
                    "too many failed sign-ins; wait before retrying",
                    wait,
                )
                .with_reason("SIGN_IN_THROTTLED"));
            }
            Verdict::Locked => {
                // Indistinguishable from a wrong password, including the work spent.
                self.hasher.verify_dummy(request.password).await?;
                self.record_sign_in_failure(found.as_ref(), "locked", false, context)
                    .await;
                return Err(invalid_credentials());
            }
        }
        let user = match found {
            Some(user) if !user.disabled && !user.service_account => user,
            refused => {
                // Same cost as a wrong password: exactly one verification at the same parameters.
                self.hasher.verify_dummy(request.password).await?;
                let locked = self.throttle.failed(&account, client_address).await;
                let reason = match &refused {
                    None => "unknown_user",
                    Some(user) if user.disabled => "disabled",
                    Some(_) => "service_account",
                };
                self.record_sign_in_failure(refused.as_ref(), reason, locked, context)
                    .await;
                return Err(invalid_credentials());
            }
        };
        let rehashed = match self
            .hasher
            .verify(request.password, user.password_hash.clone())
            .await?
        {
            Verification::Mismatch => {
                let locked = self.throttle.failed(&account, client_address).await;
                self.record_sign_in_failure(Some(&user), "wrong_password", locked, context)
                    .await;
                return Err(invalid_credentials());
            }
            Verification::Match => None,
            Verification::MatchRehashed(hash) => Some(hash),
        };
        self.throttle.succeeded(&account, client_address).await;
        let now = now_micros();
        self.store
            .record_sign_in(&user.id, now, rehashed.as_deref())
            .await?;
        let (refresh_token, refresh_hash) = new_refresh_token();
        let session = SessionRecord {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: user.id.clone(),
            refresh_generation: 1,
            client_address: client_address.to_owned(),
            user_agent: context.user_agent.chars().take(256).collect(),
            create_time: now,
            last_refresh_time: now,
            expire_time: now + (self.config.session_ttl_days as i64) * 86_400_000_000,
            revoke_time: None,
        };
        let audit = self.audit_record(
            AuditEvent::new(
                AuditEventType::SignInSucceeded,
                user.resource_name(),
                session.resource_name(),
            ),
            context,
        );
        self.store
            .insert_session(&session, &refresh_hash, Some(&audit))
            .await?;
        let access = self.signer.access_token(
            &user.resource_name(),
            &session.resource_name(),
            &user.role_list(),
        )?;
        tracing::info!(user = %user.resource_name(), session = %session.id, "signed in");
        Ok(CreateSessionResponse {
            access_token: access.token,
            access_token_expire_time: Some(access.expire_time.into()),
            refresh_token,
            refresh_token_expire_time: Some(timestamp(session.expire_time)),
            token_type: "Bearer".to_owned(),
            session: Some(session_to_proto(&session, true)),
        })
    }

    pub(crate) async fn refresh(
        &self,
        context: &RequestContext,
        request: RefreshSessionRequest,
    ) -> Result<RefreshSessionResponse, Error> {
        if request.refresh_token.is_empty() {
            return Err(Error::invalid_field("refresh_token", "is required"));
        }
        let invalid =
            || Error::unauthenticated("invalid refresh token").with_reason("INVALID_REFRESH_TOKEN");
        if request.refresh_token.len() > 256 {
            return Err(invalid());
        }
        let presented = hash_refresh_token(&request.refresh_token);
        let (refresh_token, replacement) = new_refresh_token();
        let now = now_micros();
        let session = match self
            .store
            .rotate_refresh_token(
                &presented,
                &replacement,
                now,
                // The store sets the target to the replayed session.
                Some(&self.audit_record(
                    AuditEvent::new(AuditEventType::RefreshTokenReused, "", ""),
                    context,
                )),
            )
            .await?
        {
            RefreshOutcome::Rotated(session) => session,
            RefreshOutcome::Replayed { session_id } => {
                tracing::warn!(session = %session_id, "refresh token replayed; session revoked");
                if let Some(session) = self.store.session(&session_id).await? {
                    self.end_session(&session).await?;
                }
                return Err(invalid());
            }
            RefreshOutcome::Rejected => return Err(invalid()),
        };
        let user = self
            .store
            .user_by_id(&session.user_id)
            .await?
            .filter(|user| !user.disabled)
            .ok_or_else(invalid)?;
        let access = self.signer.access_token(
            &user.resource_name(),
            &session.resource_name(),
            &user.role_list(),
        )?;
        Ok(RefreshSessionResponse {
            access_token: access.token,
            access_token_expire_time: Some(access.expire_time.into()),
            refresh_token,
            refresh_token_expire_time: Some(timestamp(session.expire_time)),
            token_type: "Bearer".to_owned(),
            session: Some(session_to_proto(&session, true)),
        })
    }

    pub(crate) async fn delete_session(
        &self,
        caller: &Caller,
        context: &RequestContext,
        name: &str,
    ) -> Result<(), Error> {
        let principal = match caller {
            Caller::Authenticated(principal) => principal,
            Caller::Anonymous => return Err(Error::unauthenticated("authorization: required")),
        };
        let not_found = || Error::not_found(name).with_reason("SESSION_NOT_FOUND");
        let session_id = if name == "users/me/sessions/current" {
            principal
                .session_id
                .as_deref()
                .and_then(|sid| sid.rsplit_once("/sessions/").map(|(_, id)| id.to_owned()))
                .ok_or_else(not_found)?
        } else {
            let mut parts = name.split('/');
            match (
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next(),
            ) {
                (Some("users"), Some(user), Some("sessions"), Some(id), None)
                    if !user.is_empty() && !id.is_empty() =>
                {
                    id.to_owned()
                }
                _ => {
                    return Err(Error::invalid_field(
                        "name",
                        "must be users/{user}/sessions/{session} or users/me/sessions/current",
                    ));
                }
            }
        };
        let session = self
            .store
            .session(&session_id)
            .await?
            .filter(|session| session.revoke_time.is_none())
            .ok_or_else(not_found)?;
        let own = principal.subject == format!("users/{}", session.user_id);
        let named_user_matches = name == "users/me/sessions/current"
            || name.starts_with(&format!("users/{}/", session.user_id))
            || (own && name.starts_with("users/me/"));
        if !(own || principal.is_admin()) || !named_user_matches {
            return Err(not_found());
        }
        let logout = principal.session_id.as_deref() == Some(session.resource_name().as_str());
        let event = AuditEvent::new(
            AuditEventType::SessionRevoked,
            actor_of(principal),
            session.resource_name(),
        )
        .with("reason", if logout { "logout" } else { "revoked" });
        let record = self.audit_record(event, context);
        self.end_session_recorded(&session, Some(&record)).await?;
        tracing::info!(session = %session.resource_name(), by = %principal.subject, "session ended");
        Ok(())
    }
}
