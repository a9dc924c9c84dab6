//! UpdateUser: profile changes by the user, roles and the disabled flag by admins.

use std::time::Duration;

use pake_api::identity::{AuditEventType, UpdateUserRequest, User};
use pake_core::auth::{Caller, Role};
use pake_core::{Error, ErrorKind};
use pake_runtime::db::now_micros;

use crate::audit::{AuditEvent, RequestContext, actor_of};
use crate::service::IdentityService;
use crate::store::{AuditRecord, UserRecord};
use crate::{normalize, roles};

const UPDATABLE: &[&str] = &["username", "email", "display_name", "roles", "disabled"];
const ADMIN_ONLY: &[&str] = &["roles", "disabled"];

fn resolve_mask(patch: &User, paths: &[String]) -> Result<Vec<&'static str>, Error> {
    if paths.is_empty() {
        let set = |path: &str| match path {
            "username" => !patch.username.is_empty(),
            "email" => !patch.email.is_empty(),
            "display_name" => !patch.display_name.is_empty(),
            "roles" => !patch.roles.is_empty(),
            "disabled" => patch.disabled,
            _ => false,
        };
        return Ok(UPDATABLE.iter().copied().filter(|path| set(path)).collect());
    }
    if paths.iter().any(|path| path == "*") {
        if paths.len() > 1 {
            return Err(Error::invalid_field(
                "update_mask",
                "`*` cannot be combined with other paths",
            ));
        }
        return Ok(UPDATABLE.to_vec());
    }
    paths
        .iter()
        .map(|path| {
            let snake = if path == "displayName" {
                "display_name"
            } else {
                path.as_str()
            };
            UPDATABLE
                .iter()
                .copied()
                .find(|known| *known == snake)
                .ok_or_else(|| {
                    Error::invalid_field(
                        "update_mask",
                        format!(
                            "`{path}` is not updatable; updatable: {}",
                            UPDATABLE.join(", ")
                        ),
                    )
                })
        })
        .collect()
}

impl IdentityService {
    pub(crate) async fn update_user(
        &self,
        caller: &Caller,
        context: &RequestContext,
        request: UpdateUserRequest,
    ) -> Result<User, Error> {
        let patch = request
            .user
            .ok_or_else(|| Error::invalid_field("user", "is required"))?;
        let (principal, current) = self.readable_user(caller, &patch.name, "user.name").await?;
        let paths = resolve_mask(
            &patch,
            &request.update_mask.map(|m| m.paths).unwrap_or_default(),
        )?;
        if !principal.is_admin() && paths.iter().any(|path| ADMIN_ONLY.contains(path)) {
            return Err(
                Error::permission_denied("only admins change roles or disabled")
                    .with_reason("ADMIN_REQUIRED"),
            );
        }
        if !patch.etag.is_empty() && patch.etag != format!("\"{}\"", current.revision) {
            return Err(Error::new(
                ErrorKind::Aborted,
                "user.etag: the user changed since you read it",
            )
            .with_reason("ETAG_MISMATCH"));
        }
        let mut next = current.clone();
        for path in &paths {
            match *path {
                "username" => {
                    let name = normalize::username(&patch.username).map_err(|refusal| {
                        Error::invalid_field("user.username", refusal.to_string())
                    })?;
                    next.username = name.key.clone();
                    next.username_key = name.key;
                }
                "email" if patch.email.is_empty() => {
                    next.email = None;
                    next.email_key = None;
                }
                "email" => {
                    let email = normalize::email(&patch.email).map_err(|refusal| {
                        Error::invalid_field("user.email", refusal.to_string())
                    })?;
                    next.email = Some(email.key.clone());
                    next.email_key = Some(email.key);
                }
                "display_name" => {
                    if patch.display_name.len() > 256
                        || patch.display_name.chars().any(char::is_control)
                    {
                        return Err(Error::invalid_field(
                            "user.display_name",
                            "must be at most 256 bytes without control characters",
                        ));
                    }
                    next.display_name = patch.display_name.clone();
                }
                "roles" => {
                    let wanted = roles::from_proto(&patch.roles)?;
                    if wanted.is_empty() {
                        return Err(Error::invalid_field("user.roles", "must not be empty"));
                    }
                    if wanted.contains(&Role::Service) != current.service_account {
                        return Err(Error::new(
                            ErrorKind::FailedPrecondition,
                            "user.roles: ROLE_SERVICE cannot be added to a person or removed from a service account",
                        )
                        .with_reason("ACCOUNT_KIND_CHANGE"));
                    }
                    next.roles = roles::to_column(&wanted);
                }
                "disabled" => next.disabled = patch.disabled,
                _ => {}
            }
        }
        let was_admin = !current.disabled && current.role_list().contains(&Role::Admin);
        let still_admin = !next.disabled && next.role_list().contains(&Role::Admin);
        if was_admin && !still_admin && self.store.count_active_admins().await? <= 1 {
            return Err(Error::new(
                ErrorKind::FailedPrecondition,
                "this change would leave no active admin",
            )
            .with_reason("LAST_ADMIN"));
        }
        if next == current {
            return Ok(self.user_to_proto_for(Some(&principal), &current).await);
        }
        let rights_changed = next.roles != current.roles || (next.disabled && !current.disabled);
        next.revision = current.revision + 1;
        next.update_time = now_micros();
        let audit = self.update_events(&actor_of(&principal), &current, &next, context);
        let ended = self
            .store
            .update_user(&next, current.revision, rights_changed, &audit)
            .await?
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Aborted,
                    "the user changed concurrently; read it again",
                )
                .with_reason("ETAG_MISMATCH")
            })?;
        for session in &ended {
            self.end_session(session).await?;
        }
        if rights_changed {
            // Tokens obtained with the user's API keys carry the old roles: end them too.
            for key in self.store.api_keys_of(&next.id).await? {
                self.revoked
                    .revoke(
                        &key.resource_name(),
                        self.signer.ttl() + Duration::from_secs(60),
                    )
                    .await;
            }
        }
        tracing::info!(user = %next.resource_name(), by = %principal.subject, ?paths, "user updated");
        Ok(self.user_to_proto_for(Some(&principal), &next).await)
    }
}

/// Whether `path` differs between two versions of a user.
fn changed(path: &str, before: &UserRecord, after: &UserRecord) -> bool {
    match path {
        "username" => before.username_key != after.username_key,
        "email" => before.email_key != after.email_key,
        "display_name" => before.display_name != after.display_name,
        "roles" => before.roles != after.roles,
        "disabled" => before.disabled != after.disabled,
        _ => false,
    }
}

impl IdentityService {
    /// The audit events of changing `before` into `after`: USER_UPDATED with the changed
    /// profile paths as `update_mask`, ROLES_CHANGED with `old_roles` and `new_roles`.
    fn update_events(
        &self,
        actor: &str,
        before: &UserRecord,
        after: &UserRecord,
        context: &RequestContext,
    ) -> Vec<AuditRecord> {
        let target = after.resource_name();
        let mut events = Vec::new();
        let profile: Vec<&str> = UPDATABLE
            .iter()
            .copied()
            .filter(|path| *path != "roles" && changed(path, before, after))
            .collect();
        if !profile.is_empty() {
            let mut event = AuditEvent::new(AuditEventType::UserUpdated, actor, target.clone())
                .with("update_mask", profile.join(","));
            if before.disabled != after.disabled {
                event = event.with("disabled", after.disabled.to_string());
            }
            events.push(self.audit_record(event, context));
        }
        if changed("roles", before, after) {
            let event = AuditEvent::new(AuditEventType::RolesChanged, actor, target)
                .with("old_roles", before.roles.clone())
                .with("new_roles", after.roles.clone());
            events.push(self.audit_record(event, context));
        }
        events
    }
}
