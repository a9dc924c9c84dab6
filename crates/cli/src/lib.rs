//! `pake`: the binary's library half — command-line parsing and the composition root that
//! chooses stores and wires services together from configuration (the one place that does).
//!
//! Integration tests start the system in-process through [`app::start`] on port 0.

pub mod app;
pub mod args;
pub mod users;

pub use app::{AppHandle, start};
