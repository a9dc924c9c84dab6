//! `pake-api`: PAKE's wire contract, generated from `proto/` by the root `build.rs`.
//!
//! Rust clients depend on this crate alone. It owns the protobuf messages, the tonic clients and
//! servers (every server trait method has a default body answering `UNIMPLEMENTED`; see
//! `UNIMPLEMENTED.md` for the methods that are not implemented yet), and the encoded
//! [`FILE_DESCRIPTOR_SET`] that reflection, the JSON edge and OpenAPI are driven by.
//! It depends on nothing else in the workspace.

#![allow(clippy::all, missing_docs, rust_2018_idioms)]

include!(concat!(env!("OUT_DIR"), "/pake_api.rs"));

/// The encoded `google.protobuf.FileDescriptorSet` of every file in `proto/` and its imports,
/// with source info (doc comments) and custom options (`google.api.http`) preserved.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/pake_descriptor.bin"));

/// Fully-qualified names of PAKE's gRPC services.
pub mod service_names {
    pub const IDENTITY: &str = "pake.identity.v1.IdentityService";
    pub const KNOWLEDGE: &str = "pake.knowledge.v1.KnowledgeService";
    pub const SEARCH: &str = "pake.search.v1.SearchService";
    pub const ALL: [&str; 3] = [IDENTITY, KNOWLEDGE, SEARCH];
}

/// `pake.identity.v1`.
pub use self::pake::identity::v1 as identity;
/// `pake.knowledge.v1`.
pub use self::pake::knowledge::v1 as knowledge;
/// `pake.search.v1`.
pub use self::pake::search::v1 as search;
