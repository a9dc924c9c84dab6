//! `pake-runtime`: how a PAKE service process runs — the gRPC server bootstrap (health,
//! reflection v1 and v1alpha, graceful shutdown), signal handling, and database pools with
//! per-service embedded migrations, SQL assembled from fixed text and bound values (`sql`), and
//! the process's Prometheus metrics (`metrics`: one registry, the RPC layer, pool gauges, the
//! metrics listener).
//!
//! Native TLS and mTLS (`tls`: rustls with ring, certificate reload, client TLS of
//! service-to-service endpoints).
//!
//! Also the one Redis connection of a process (`redis`: short timeouts, degrade and recover) and
//! the Redis-backed revoked-session set (`redis_revocation`).
//!
//! Every component follows *Options → Service → Handle*: build options, start, and get a handle
//! that reports the bound address and shuts down in a tested order. Depends on `pake-core` and
//! `pake-api` only; services depend on it, never the reverse.

pub mod auth;
mod call_end;
pub mod db;
pub mod db_health;
mod db_write;
pub mod metrics;
pub mod rate_limit;
pub mod redis;
pub mod redis_revocation;
pub mod server;
pub mod shutdown;
pub mod sql;
pub mod tls;
pub mod trace;

pub use server::{GrpcServer, ServerHandle};
pub use shutdown::Shutdown;
