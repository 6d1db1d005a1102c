//! Compiles `proto/sparkplug_b.proto` (the Sparkplug B payload schema) into Rust
//! with prost. `protox` parses the schema in pure Rust, so no system `protoc`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from("proto");
    let file = root.join("sparkplug_b.proto");
    println!("cargo:rerun-if-changed={}", root.display());
    let descriptors = protox::compile([&file], [&root])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
