//! CreateUser: self-registration under the registration policy, admins creating users (any
//! role), and `pake user create` (an operator's authority, how the first admin comes to exist);
//! usernames and emails normalised, passwords checked for strength, `request_id` deduplicating
//! retries for 24 h.

use std::time::Duration;

use pake_api::identity::{AuditEventType, CreateUserRequest, User};
use pake_core::Error;
use pake_core::auth::{Caller, Role};
use pake_core::config::RegistrationPolicy;
use pake_runtime::db::now_micros;

use crate::audit::{AuditEvent, RequestContext, actor_of_caller};
use crate::password::check_new_password;
use crate::service::{IdentityService, validate_user_id};
use crate::store::UserRecord;
use crate::{normalize, roles};

/// How long a `request_id` deduplicates a CreateUser.
const REQUEST_ID_WINDOW: Duration = Duration::from_secs(24 * 3600);
const MAX_REQUEST_ID_BYTES: usize = 64;
const MAX_DISPLAY_NAME_BYTES: usize = 256;

impl IdentityService {
    pub(crate) async fn create_user(
        &self,
        caller: &Caller,
        request_context: &RequestContext,
        request: CreateUserRequest,
    ) -> Result<User, Error> {
        let principal = match caller {
            Caller::Authenticated(principal) => Some(principal),
            Caller::Anonymous => None,
        };
        let is_admin = principal.is_some_and(|p| p.is_admin());
        if self.config.registration == RegistrationPolicy::Closed && !is_admin {
            return Err(match principal {
                None => Error::unauthenticated("registration is closed; an admin creates users")
                    .with_reason("REGISTRATION_CLOSED"),
                Some(_) => {
                    Error::permission_denied("registration is closed; an admin creates users")
                        .with_reason("ADMIN_REQUIRED")
                }
            });
        }
        let user = request
            .user
            .ok_or_else(|| Error::invalid_field("user", "is required"))?;
        if (!user.roles.is_empty() || user.disabled) && !is_admin {
            let message = "user.roles: only admins set roles or disabled";
            return Err(match principal {
                None => Error::unauthenticated(message),
                Some(_) => Error::permission_denied(message),
            }
            .with_reason("ADMIN_REQUIRED"));
        }
        if request.request_id.len() > MAX_REQUEST_ID_BYTES {
            return Err(Error::invalid_field(
                "request_id",
                "must be at most 64 bytes",
            ));
        }
        let caller_key = match principal {
            Some(principal) => principal.subject.clone(),
            None => format!("address:{}", request_context.client_address),
        };
        let now = now_micros();
        if !request.request_id.is_empty() {
            let since = now - REQUEST_ID_WINDOW.as_micros() as i64;
            if let Some(existing) = self
                .store
                .user_by_request(&caller_key, &request.request_id, since)
                .await?
            {
                return Ok(self.user_to_proto_for(principal, &existing).await);
            }
        }

        let username = normalize::username(&user.username)
            .map_err(|refusal| Error::invalid_field("user.username", refusal.to_string()))?;
        let email = if user.email.is_empty() {
            None
        } else {
            Some(
                normalize::email(&user.email)
                    .map_err(|refusal| Error::invalid_field("user.email", refusal.to_string()))?,
            )
        };
        if user.display_name.len() > MAX_DISPLAY_NAME_BYTES {
            return Err(Error::invalid_field(
                "user.display_name",
                "must be at most 256 bytes",
            ));
        }
        if user.display_name.chars().any(char::is_control) {
            return Err(Error::invalid_field(
                "user.display_name",
                "must not contain control characters",
            ));
        }
        let granted = if user.roles.is_empty() {
            vec![Role::parse(&self.config.default_role).unwrap_or(Role::Editor)]
        } else {
            roles::from_proto(&user.roles)?
        };
        let service_account = granted.contains(&Role::Service);
        let user_id = if request.user_id.is_empty() {
            uuid::Uuid::now_v7().to_string()
        } else {
            validate_user_id(&request.user_id)?;
            if self.store.is_deleted_user(&request.user_id).await? {
                return Err(crate::store::StoreError::Conflict("user_id").into());
            }
            request.user_id.clone()
        };
        let password_hash = if service_account {
            if !request.password.is_empty() {
                return Err(Error::invalid_field(
                    "password",
                    "must be empty for a service account (it signs in with API keys)",
                ));
            }
            String::new()
        } else {
            let mut context = vec![username.key.as_str(), user.display_name.as_str()];
            if let Some(email) = &email {
                context.push(email.key.as_str());
            }
            check_new_password(&request.password, "password", &context)?;
            self.hasher.hash(request.password).await?
        };
        let record = UserRecord {
            id: user_id,
            username: username.key.clone(),
            username_key: username.key,
            email: email.as_ref().map(|e| e.key.clone()),
            email_key: email.map(|e| e.key),
            display_name: user.display_name,
            roles: roles::to_column(&granted),
            disabled: user.disabled,
            service_account,
            password_hash,
            password_update_time: now,
            last_sign_in_time: None,
            revision: 1,
            create_time: now,
            update_time: now,
        };
        let request_key = (!request.request_id.is_empty())
            .then_some((caller_key.as_str(), request.request_id.as_str()));
        let mut event = AuditEvent::new(
            AuditEventType::UserCreated,
            actor_of_caller(caller),
            record.resource_name(),
        )
        .with("roles", record.roles.clone());
        if principal.is_some_and(|p| p.subject == "operator") {
            event = event.with("origin", "command_line");
        }
        let audit = self.audit_record(event, request_context);
        self.store
            .insert_user(&record, request_key, Some(&audit))
            .await?;
        tracing::info!(user = %record.resource_name(), "user created");
        Ok(self.user_to_proto_for(principal, &record).await)
    }
}
