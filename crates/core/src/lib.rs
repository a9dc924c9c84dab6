//! `pake-core`: the pieces every PAKE service shares and none may copy.
//!
//! - [`config`]: layered configuration (defaults → TOML file → `PAKE_*` environment → flags),
//!   validated at start with messages that name the setting to fix.
//! - [`error`]: the one table from domain error kinds to gRPC codes and HTTP statuses, and the
//!   conversion into `tonic::Status` with `google.rpc` details (internal text never leaves).
//! - [`auth`]: roles, principals and the single allow-list of methods callable anonymously.
//! - [`telemetry`]: logging initialisation (human or JSON).
//! - [`filter`] and [`paging`]: the AIP-160 filter parser and AIP-158 pagination (page sizes,
//!   `order_by`, keyset positions, bound page tokens) that every list method shares.
//!
//! This crate depends on no other PAKE crate; services depend on it, never the reverse.

pub mod auth;
pub mod client_address;
pub mod config;
pub mod cursor;
pub mod error;
pub mod filter;
pub mod paging;
pub mod revocation;
pub mod telemetry;

pub use error::{Error, ErrorKind, Result};
pub mod token;
