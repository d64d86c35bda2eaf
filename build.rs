//! Compiles `proto/` with protox (no system `protoc`), generates the tonic server and client code,
//! and writes the encoded descriptor set that gRPC reflection serves.

use prost::Message as _;
use std::path::{Path, PathBuf};

/// Where our own protos live (package `wazzup_gateway.v1`).
const PROTO_DIR: &str = "proto/wazzup_gateway/v1";
/// Include roots: our protos and the vendored `google.rpc` protos.
const INCLUDES: &[&str] = &["proto", "third_party/proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    println!("cargo:rerun-if-changed=third_party/proto");
    let proto_files = proto_files(Path::new(PROTO_DIR))?;
    let file_descriptors = protox::compile(&proto_files, INCLUDES)?;

    // Reflection (grpcurl) needs the encoded descriptor set at runtime.
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("wazzup_gateway_descriptor.bin"),
        file_descriptors.encode_to_vec(),
    )?;

    // Clients are generated too: the tests and the load tool use them. `google.rpc.Status` is the
    // one tonic-types already compiles, so the generated code reuses it. Malformed requests are
    // the caller's fault: the codec answers them INVALID_ARGUMENT (tonic-prost says INTERNAL).
    tonic_prost_build::configure()
        .extern_path(".google.rpc", "::tonic_types::pb")
        .codec_path("crate::proto::codec::ProtoCodec")
        .compile_fds(file_descriptors)?;
    Ok(())
}

/// Lists the `.proto` files of `dir`, sorted so the build is reproducible.
fn proto_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path
            .extension()
            .is_some_and(|extension| extension == "proto")
        {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
