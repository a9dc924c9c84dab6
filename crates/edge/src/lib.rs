//! `pake-edge`: the grpc-gateway-style JSON edge that Kong routes to (SPEC §6).
//!
//! It will serve every `google.api.http` binding of a FileDescriptorSet (PAKE's own,
//! `pake_api::FILE_DESCRIPTOR_SET`, by default) against upstream gRPC services. Nothing is
//! implemented yet; the crate exists so the workspace has its final shape. It must depend only
//! on `pake-core`, `pake-runtime` and `pake-api` — never on a service crate.
