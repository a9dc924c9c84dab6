//! DeleteUser: the user, its sessions and API keys go at once (tokens revoked everywhere); the
//! disposition of its items is recorded in the same transaction and carried out by
//! [`crate::item_disposal::ItemDisposer`] through the knowledge service.

use std::time::Duration;

use pake_api::identity::delete_user_request::ItemDisposition;
use pake_api::identity::{AuditEventType, DeleteUserRequest};
use pake_core::auth::{Caller, Role};
use pake_core::{Error, ErrorKind};
use pake_runtime::db::now_micros;

use crate::audit::{AuditEvent, RequestContext, actor_of};
use crate::service::{IdentityService, parse_user_name};
use crate::store::DeleteOutcome;

const MAX_ETAG_BYTES: usize = 64;

impl IdentityService {
    pub(crate) async fn delete_user(
        &self,
        caller: &Caller,
        context: &RequestContext,
        request: DeleteUserRequest,
    ) -> Result<(), Error> {
        let disposition = ItemDisposition::try_from(request.item_disposition)
            .ok()
            .filter(|d| *d != ItemDisposition::Unspecified)
            .ok_or_else(|| {
                Error::invalid_field(
                    "item_disposition",
                    "is required: ITEM_DISPOSITION_DELETE_ITEMS or ITEM_DISPOSITION_REASSIGN_ITEMS",
                )
            })?;
        if request.etag.len() > MAX_ETAG_BYTES {
            return Err(Error::invalid_field("etag", "must be at most 64 bytes"));
        }
        let (principal, user) = self.readable_user(caller, &request.name, "name").await?;
        let reassign_to = match disposition {
            ItemDisposition::ReassignItems => {
                if !principal.is_admin() {
                    return Err(Error::permission_denied(
                        "only admins reassign a deleted user's items",
                    )
                    .with_reason("ADMIN_REQUIRED"));
                }
                self.check_new_owner(&request.reassign_to, &user.id).await?
            }
            _ if !request.reassign_to.is_empty() => {
                return Err(Error::invalid_field(
                    "reassign_to",
                    "must be empty with ITEM_DISPOSITION_DELETE_ITEMS",
                ));
            }
            _ => String::new(),
        };
        if !request.etag.is_empty() && request.etag != format!("\"{}\"", user.revision) {
            return Err(Error::new(
                ErrorKind::Aborted,
                "etag: the user changed since you read it",
            )
            .with_reason("ETAG_MISMATCH"));
        }
        let is_admin = !user.disabled && user.role_list().contains(&Role::Admin);
        if is_admin && self.store.count_active_admins().await? <= 1 {
            return Err(Error::new(
                ErrorKind::FailedPrecondition,
                "the last active admin cannot be deleted; make another user admin first",
            )
            .with_reason("LAST_ADMIN"));
        }
        let mut event = AuditEvent::new(
            AuditEventType::UserDeleted,
            actor_of(&principal),
            user.resource_name(),
        )
        .with(
            "item_disposition",
            if reassign_to.is_empty() {
                "delete_items"
            } else {
                "reassign_items"
            },
        );
        if !reassign_to.is_empty() {
            event = event.with("reassign_to", reassign_to.clone());
        }
        let audit = self.audit_record(event, context);
        let outcome = self
            .store
            .delete_user(&user.id, user.revision, &reassign_to, now_micros(), &audit)
            .await?;
        let DeleteOutcome::Deleted { sessions, api_keys } = outcome else {
            return Err(Error::new(
                ErrorKind::Aborted,
                "the user changed concurrently; read it again and retry",
            )
            .with_reason("ETAG_MISMATCH"));
        };
        // Every access token of the user carries one of these as its `sid`.
        let names = sessions
            .iter()
            .map(|session| session.resource_name())
            .chain(api_keys.iter().map(|key| key.resource_name()));
        for name in names {
            self.revoked
                .revoke(&name, self.signer.ttl() + Duration::from_secs(60))
                .await;
        }
        tracing::info!(user = %user.resource_name(), "user deleted");
        self.disposal_wake.notify_one();
        Ok(())
    }

    /// Checks `reassign_to` for a REASSIGN disposition and returns it.
    async fn check_new_owner(&self, reassign_to: &str, deleted_id: &str) -> Result<String, Error> {
        let invalid = |why: &str| Error::invalid_field("reassign_to", why);
        if reassign_to.is_empty() {
            return Err(invalid("is required with ITEM_DISPOSITION_REASSIGN_ITEMS"));
        }
        let id = parse_user_name(reassign_to, "reassign_to")?;
        if id == deleted_id {
            return Err(invalid("must not be the user being deleted"));
        }
        let owner = self
            .store
            .user_by_id(id)
            .await?
            .filter(|owner| {
                !owner.disabled
                    && owner
                        .role_list()
                        .iter()
                        .any(|role| matches!(role, Role::Admin | Role::Editor))
            })
            .ok_or_else(|| invalid("must be an existing, enabled admin or editor"))?;
        Ok(owner.resource_name())
    }
}
