//! `pake-bench`: benchmark programs that print throughput and latency percentiles next to a
//! baseline measured in the same run (a bare tonic echo server as the ceiling). Results are
//! recorded in `docs/performance.md`; nothing here is a timed assertion in `cargo test`.
//!
//! Nothing is implemented yet; the crate exists so the workspace has its final shape.
