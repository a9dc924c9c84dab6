//! `pake`: the binary's library half — command-line parsing and the composition root that
//! chooses stores and wires services together from configuration (the one place that does).
//!
//! Integration tests start the system in-process through [`app::start`] on port 0.

pub mod app;
pub mod args;
pub mod backup;
pub mod database;
pub mod migrate;
pub mod password_input;
pub mod remote;
pub mod token;
pub mod users;
pub mod vault;

pub use app::{AppHandle, start};
