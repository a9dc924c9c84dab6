//! `pake-knowledge`: knowledge items, links, revisions, vault import/export and the change feed —
//! `pake.knowledge.v1.KnowledgeService`.
//!
//! Owns the knowledge tables and the change feed. Depends on `pake-core`, `pake-runtime` and
//! `pake-api`; never on another service crate.

mod dispose;
pub mod feed;
mod feed_view;
pub mod filter;
mod graph;
mod history;
pub mod links;
mod list;
pub mod model;
pub mod order;
mod present;
mod purge;
pub mod service;
pub mod sql;
mod stats;
pub mod store;
pub mod update;
mod vault;
mod watch;
mod writes;

pub use service::KnowledgeService;

/// The knowledge service's embedded migrations for both backends.
pub fn migrations() -> pake_runtime::db::Migrations {
    pake_runtime::db::Migrations {
        service: "knowledge",
        sqlite: sqlx::migrate!("./migrations/sqlite"),
        postgres: sqlx::migrate!("./migrations/postgres"),
    }
}
