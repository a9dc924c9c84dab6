//! Obsidian vault import (`ImportItems`, client streaming) and export (`ExportItems`, server
//! streaming), as `proto/pake/knowledge/v1/streaming.proto` specifies; the mapping is
//! documented in docs/knowledge.md ("Vault import and export").
//!
//! - `receive.rs`: reading the request stream within the contract's limits;
//! - `frontmatter.rs`, `yaml.rs`, `markdown.rs`, `note.rs`: one file → the fields it maps to;
//! - `plan.rs`: which item each file is (`pake_id`, or the path of an earlier import);
//! - `connections.rs`: resolving `connections` among the import's files, then stored items;
//! - `import.rs`: comparing and writing, one transaction per file;
//! - `render.rs`, `export.rs`: the exported files and the stream.

mod connections;
mod export;
mod frontmatter;
mod import;
mod markdown;
mod note;
mod plan;
mod receive;
mod render;
mod yaml;

pub(crate) use export::ExportStream;
