//! A user's own account: listing sessions and changing the password.

use pake_api::identity::{
    AuditEventType, ChangePasswordRequest, ListSessionsRequest, ListSessionsResponse,
};
use pake_core::auth::{Caller, Principal};
use pake_core::{Error, ErrorKind};
use pake_runtime::db::now_micros;

use crate::audit::{AuditEvent, RequestContext, actor_of};
use crate::password::{Verification, check_new_password};
use crate::service::{IdentityService, parse_user_name, session_to_proto};
use crate::store::UserRecord;

const DEFAULT_SESSIONS_PAGE: usize = 50;
const MAX_SESSIONS_PAGE: usize = 100;

impl IdentityService {
    /// The user named `name` (`users/me` allowed) if the caller is that user or an admin.
    pub(crate) async fn readable_user(
        &self,
        caller: &Caller,
        name: &str,
        field: &str,
    ) -> Result<(Principal, UserRecord), Error> {
        let principal = match caller {
            Caller::Authenticated(principal) => principal.clone(),
            Caller::Anonymous => return Err(Error::unauthenticated("authorization: required")),
        };
        let id = parse_user_name(name, field)?;
        let id = if id == "me" {
            principal
                .subject
                .strip_prefix("users/")
                .unwrap_or_default()
                .to_owned()
        } else {
            id.to_owned()
        };
        let not_found = || Error::not_found(name).with_reason("USER_NOT_FOUND");
        if principal.subject != format!("users/{id}") && !principal.is_admin() {
            return Err(not_found());
        }
        let user = self.store.user_by_id(&id).await?.ok_or_else(not_found)?;
        Ok((principal, user))
    }

    pub(crate) async fn list_sessions(
        &self,
        caller: &Caller,
        request: ListSessionsRequest,
    ) -> Result<ListSessionsResponse, Error> {
        if request.page_size < 0 {
            return Err(Error::invalid_field("page_size", "must not be negative"));
        }
        let (principal, user) = self
            .readable_user(caller, &request.parent, "parent")
            .await?;
        let page_size = match request.page_size {
            0 => DEFAULT_SESSIONS_PAGE,
            n => (n as usize).min(MAX_SESSIONS_PAGE),
        };
        let token_prefix = format!("{}|{}|", user.resource_name(), principal.subject);
        let offset = if request.page_token.is_empty() {
            0
        } else {
            request
                .page_token
                .strip_prefix(&token_prefix)
                .and_then(|rest| rest.parse::<usize>().ok())
                .ok_or_else(|| {
                    Error::invalid_field("page_token", "was not issued for this parent and caller")
                })?
        };
        let sessions = self.store.live_sessions(&user.id, now_micros()).await?;
        let page: Vec<_> = sessions.iter().skip(offset).take(page_size).collect();
        let next = offset + page.len();
        Ok(ListSessionsResponse {
            sessions: page
                .iter()
                .map(|session| {
                    let current =
                        principal.session_id.as_deref() == Some(session.resource_name().as_str());
                    session_to_proto(session, current)
                })
                .collect(),
            next_page_token: if next < sessions.len() {
                format!("{token_prefix}{next}")
            } else {
                String::new()
            },
            total_size: i32::try_from(sessions.len()).unwrap_or(i32::MAX),
        })
    }

    pub(crate) async fn change_password(
        &self,
        caller: &Caller,
        request_context: &RequestContext,
        request: ChangePasswordRequest,
    ) -> Result<(), Error> {
        let (principal, user) = self.readable_user(caller, &request.name, "name").await?;
        if user.service_account {
            return Err(Error::new(
                ErrorKind::FailedPrecondition,
                "service accounts have no password",
            )
            .with_reason("SERVICE_ACCOUNT"));
        }
        let own = principal.subject == user.resource_name();
        if own || !principal.is_admin() {
            if request.current_password.is_empty() {
                return Err(Error::invalid_field(
                    "current_password",
                    "is required to change your own password",
                ));
            }
            if request.current_password.len() > crate::password::MAX_PASSWORD_BYTES
                || self
                    .hasher
                    .verify(request.current_password.clone(), user.password_hash.clone())
                    .await?
                    == Verification::Mismatch
            {
                return Err(Error::invalid_field("current_password", "does not match")
                    .with_reason("CURRENT_PASSWORD_MISMATCH"));
            }
            if request.current_password == request.new_password {
                return Err(Error::invalid_field(
                    "new_password",
                    "must differ from the current password",
                ));
            }
        }
        let mut context = vec![user.username.as_str(), user.display_name.as_str()];
        if let Some(email) = &user.email {
            context.push(email.as_str());
        }
        check_new_password(&request.new_password, "new_password", &context)?;
        let hash = self.hasher.hash(request.new_password).await?;
        let audit = self.audit_record(
            AuditEvent::new(
                AuditEventType::PasswordChanged,
                actor_of(&principal),
                user.resource_name(),
            ),
            request_context,
        );
        let ended = self
            .store
            .set_password(&user.id, &hash, audit.create_time, Some(&audit))
            .await?;
        for session in &ended {
            self.end_session(session).await?;
        }
        tracing::info!(user = %user.resource_name(), by = %principal.subject, sessions_ended = ended.len(), "password changed");
        Ok(())
    }
}
