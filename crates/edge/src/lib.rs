//! `pake-edge`: the grpc-gateway-style JSON edge that Kong routes to (SPEC §6).
//!
//! Driven by descriptors, not hand-written routes: given any FileDescriptorSet (PAKE's own,
//! `pake_api::FILE_DESCRIPTOR_SET`, by default) and an upstream address per gRPC service, it
//! serves every `google.api.http` binding, for services it has never seen.
//!
//! - [`descriptors`]: the pool and its `google.api.http` rules → [`descriptors::Binding`]s.
//! - [`template`] and [`router`]: path templates and the precedence-ordered routing table.
//! - [`transcode`]: JSON body, path variables and query parameters → request message; response
//!   message → JSON (the proto3 JSON mapping).
//! - [`upstream`]: generic gRPC calls with a pass-through codec; [`headers`]: metadata;
//!   [`api_keys`]: `Bearer pake_…` exchanged for a short-lived JWT before calls go upstream.
//! - [`streaming`]: NDJSON / SSE server streams, NDJSON client streams.
//! - [`errors`]: `google.rpc.Status` JSON and the gRPC→HTTP status table.
//! - [`metrics`]: Prometheus counters and histograms (`/metrics`).
//! - [`openapi`]: the OpenAPI 3.1 document generated from the bindings (`/openapi.json`);
//!   [`docs`]: the swagger-ui page rendering it (`/docs/`, vendored, embedded in the binary).
//! - [`server`]: options, start-up checks, `/healthz`, `/readyz`, serving and shutdown;
//!   [`compression`]: gzip / Brotli responses for clients that accept them.
//!
//! It depends only on `pake-core`, `pake-runtime` and `pake-api` — never on a service crate.

pub mod api_keys;
pub mod compression;
pub mod descriptors;
pub mod docs;
pub mod errors;
mod gateway;
pub mod headers;
pub mod metrics;
pub mod openapi;
pub mod router;
pub mod server;
pub mod streaming;
pub mod template;
pub mod transcode;
pub mod upstream;

pub use server::{Edge, EdgeHandle, EdgeOptions, Limits};
