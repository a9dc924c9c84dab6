//! Mapping roles between the wire enum, the token claim and the database column, and the
//! admin check of admin-only methods.

use pake_api::identity::Role as WireRole;
use pake_core::Error;
use pake_core::auth::{Caller, Principal, Role};

/// The caller, when it is an admin; otherwise PERMISSION_DENIED (`ADMIN_REQUIRED`), or
/// UNAUTHENTICATED for an anonymous caller.
pub fn require_admin(caller: &Caller) -> Result<&Principal, Error> {
    match caller {
        Caller::Authenticated(principal) if principal.is_admin() => Ok(principal),
        Caller::Authenticated(_) => {
            Err(Error::permission_denied("only admins may call this method")
                .with_reason("ADMIN_REQUIRED"))
        }
        Caller::Anonymous => Err(Error::unauthenticated("authorization: required")),
    }
}

/// Wire roles to domain roles: no UNSPECIFIED, no duplicates, `service` alone.
pub fn from_proto(values: &[i32]) -> Result<Vec<Role>, Error> {
    let mut roles = Vec::new();
    for value in values {
        let role = match WireRole::try_from(*value) {
            Ok(WireRole::Admin) => Role::Admin,
            Ok(WireRole::Editor) => Role::Editor,
            Ok(WireRole::Viewer) => Role::Viewer,
            Ok(WireRole::Service) => Role::Service,
            Ok(WireRole::Unspecified) | Err(_) => {
                return Err(Error::invalid_field(
                    "user.roles",
                    "contains an unknown role",
                ));
            }
        };
        if roles.contains(&role) {
            return Err(Error::invalid_field("user.roles", "contains a duplicate"));
        }
        roles.push(role);
    }
    if roles.contains(&Role::Service) && roles.len() > 1 {
        return Err(Error::invalid_field(
            "user.roles",
            "ROLE_SERVICE cannot be combined with other roles",
        ));
    }
    Ok(roles)
}

/// Domain roles to wire roles.
pub fn to_proto(roles: &[Role]) -> Vec<i32> {
    roles
        .iter()
        .map(|role| match role {
            Role::Admin => WireRole::Admin as i32,
            Role::Editor => WireRole::Editor as i32,
            Role::Viewer => WireRole::Viewer as i32,
            Role::Service => WireRole::Service as i32,
        })
        .collect()
}

/// The `users.roles` column.
pub fn to_column(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|role| role.as_str())
        .collect::<Vec<_>>()
        .join(",")
}
