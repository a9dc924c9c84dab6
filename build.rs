//! Compiles `proto/` into the `pake-api` crate without a system `protoc`.
//!
//! protox parses the files; tonic-prost-build generates messages, clients and servers; and the
//! raw FileDescriptorSet (with `google.api.http` options and doc comments, which prost-types
//! would drop) is written next to the generated code for reflection, the edge and OpenAPI.

use std::error::Error;
use std::path::{Path, PathBuf};

const PROTO_ROOT: &str = "proto";
/// Files that must be in the descriptor set even when nothing imports them: the rich error
/// details are packed in `Any` and can only be rendered (JSON, grpcurl) if their types are known.
const ALWAYS_INCLUDED: &[&str] = &[
    "google/rpc/error_details.proto",
    "google/rpc/status.proto",
    "google/rpc/code.proto",
];

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed={PROTO_ROOT}");
    let mut files = Vec::new();
    collect_protos(&Path::new(PROTO_ROOT).join("pake"), &mut files)?;
    files.sort();
    let mut relative: Vec<String> = files
        .iter()
        .map(|path| {
            path.strip_prefix(PROTO_ROOT)
                .map(|p| p.to_string_lossy().replace('\\', "/"))
        })
        .collect::<Result<_, _>>()?;
    relative.extend(ALWAYS_INCLUDED.iter().map(|s| s.to_string()));

    let mut compiler = protox::Compiler::new([PROTO_ROOT])?;
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(&relative)?;

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("pake_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;

    tonic_prost_build::configure()
        .generate_default_stubs(true)
        .include_file("pake_api.rs")
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}

fn collect_protos(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            println!("cargo:rerun-if-changed={}", path.display());
            out.push(path);
        }
    }
    Ok(())
}
