//! `pake-identity`: users, sessions, signing keys, API keys and the security audit log —
//! `pake.identity.v1.IdentityService`.
//!
//! Owns the identity tables (migrations under `migrations/`) and the signing key set. Depends on
//! `pake-core`, `pake-runtime` and `pake-api`; never on another service crate.

pub mod hashicorp;
pub mod key_set;
pub mod key_store;
mod secret_file;
pub mod service;
mod sign_in;
pub mod signing_key;
mod signing_keys;
pub mod vault_key_store;

pub use service::IdentityService;
pub use signing_key::SigningKey;

/// The identity service's embedded migrations for both backends.
pub fn migrations() -> pake_runtime::db::Migrations {
    pake_runtime::db::Migrations {
        service: "identity",
        sqlite: sqlx::migrate!("./migrations/sqlite"),
        postgres: sqlx::migrate!("./migrations/postgres"),
    }
}
mod account;
pub mod api_keys;
pub mod audit;
pub mod audit_list;
mod create_user;
mod delete_user;
mod export;
pub mod hashing_pool;
pub mod item_disposal;
pub mod normalize;
pub mod password;
pub mod roles;
pub mod service_tokens;
pub mod store;
pub mod throttle;
pub mod throttle_redis;
pub mod tokens;
mod update_user;
pub mod user_filter;
pub mod user_list;
mod user_state;
