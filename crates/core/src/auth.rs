//! Roles, principals and the one allow-list of methods that may be called without a token.
//!
//! Permissions derive from roles and are checked through [`Principal`]'s methods only, so the
//! rules live in one place. Token verification produces a [`Principal`]; services never parse
//! tokens themselves.

use std::fmt;

/// The roles of SPEC §3. `Service` is held only by service accounts (services calling services).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Everything, including other users' resources.
    Admin,
    /// Creates and changes own items.
    Editor,
    /// Reads what visibility allows.
    Viewer,
    /// A service account: may call inter-service methods such as the all-items change feed.
    Service,
}

impl Role {
    /// The claim value (`roles` in the JWT).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::Viewer => "viewer",
            Role::Service => "service",
        }
    }

    /// Parses a claim value; unknown roles are ignored by callers, never widened.
    pub fn parse(value: &str) -> Option<Role> {
        match value {
            "admin" => Some(Role::Admin),
            "editor" => Some(Role::Editor),
            "viewer" => Some(Role::Viewer),
            "service" => Some(Role::Service),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// Resource name of the user or service account, `users/{id}`.
    pub subject: String,
    /// The session the token belongs to (`sid`), used for revocation.
    pub session_id: Option<String>,
    /// Roles granted by the token.
    pub roles: Vec<Role>,
}

impl Principal {
    /// Whether the principal holds `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Admins read and change everything.
    pub fn is_admin(&self) -> bool {
        self.has_role(Role::Admin)
    }

    /// Editors and admins create items.
    pub fn can_create_items(&self) -> bool {
        self.has_role(Role::Admin) || self.has_role(Role::Editor)
    }

    /// Only service accounts read the all-items change feed and other inter-service methods.
    pub fn is_service(&self) -> bool {
        self.has_role(Role::Service)
    }
}

/// Who is calling: a verified principal, or nobody.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// No `authorization` metadata was sent (allowed only for [`ANONYMOUS_METHODS`]).
    Anonymous,
    /// A verified token.
    Authenticated(Principal),
}

/// Full gRPC paths of the methods that may be called without a token — the single allow-list.
/// Anonymous callers of the read methods see public items only.
/// Each of these methods' doc comments in `proto/` says "Callers: anonymous"; a contract test
/// keeps the two in step. Every other method requires a valid token before its handler runs.
pub const ANONYMOUS_METHODS: &[&str] = &[
    "/pake.identity.v1.IdentityService/CreateUser",
    "/pake.identity.v1.IdentityService/CreateSession",
    "/pake.identity.v1.IdentityService/RefreshSession",
    "/pake.identity.v1.IdentityService/GetJwks",
    "/pake.identity.v1.IdentityService/ExchangeApiKey",
    "/pake.knowledge.v1.KnowledgeService/GetItem",
    "/pake.knowledge.v1.KnowledgeService/BatchGetItems",
    "/pake.knowledge.v1.KnowledgeService/ListItems",
    "/pake.knowledge.v1.KnowledgeService/GetItemStats",
    "/pake.knowledge.v1.KnowledgeService/ListBacklinks",
    "/pake.knowledge.v1.KnowledgeService/GetItemGraph",
    "/pake.search.v1.SearchService/Search",
    "/pake.search.v1.SearchService/Suggest",
    "/pake.search.v1.SearchService/FindRelated",
];

/// Methods whose credential is in the request body (a password, a refresh token, an API key) or
/// that publish public data: an `authorization` header on them is ignored, so a stale token a
/// client attaches everywhere cannot break signing in again.
pub const TOKEN_IGNORED_METHODS: &[&str] = &[
    "/pake.identity.v1.IdentityService/CreateSession",
    "/pake.identity.v1.IdentityService/RefreshSession",
    "/pake.identity.v1.IdentityService/GetJwks",
    "/pake.identity.v1.IdentityService/ExchangeApiKey",
];

/// Whether `path` (`/package.Service/Method`) may be called without a token.
pub fn allows_anonymous(path: &str) -> bool {
    ANONYMOUS_METHODS.contains(&path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_unknown_roles_are_not_granted() {
        for role in [Role::Admin, Role::Editor, Role::Viewer, Role::Service] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
        assert_eq!(Role::parse("Admin"), None);
    }

    #[test]
    fn permissions_derive_from_roles() {
        let viewer = Principal {
            subject: "users/v".into(),
            session_id: None,
            roles: vec![Role::Viewer],
        };
        assert!(!viewer.can_create_items() && !viewer.is_admin() && !viewer.is_service());
        let service = Principal {
            roles: vec![Role::Service],
            ..viewer.clone()
        };
        assert!(service.is_service() && !service.can_create_items());
    }
}
