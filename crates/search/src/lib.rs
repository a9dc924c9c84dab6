//! `pake-search`: the tantivy index kept current from the knowledge change feed —
//! `pake.search.v1.SearchService`.
//!
//! Owns the index directory and its feed checkpoint. Depends on `pake-core`, `pake-runtime` and
//! `pake-api`; never on another service crate (it reaches knowledge over gRPC only).

pub mod cache;
pub mod cache_redis;
pub mod consumer;
pub mod index;
mod paging;
pub mod progress;
mod progress_metrics;
mod related_rpc;
mod search_rpc;
pub mod service;

pub use service::SearchService;
