//! Compiles `proto/twinspace/live/v1/*.proto` into Rust with prost. `protox` parses
//! the schema in pure Rust, so building needs no system `protoc`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from("proto");
    let file = root.join("twinspace/live/v1/live.proto");
    println!("cargo:rerun-if-changed={}", root.display());
    let descriptors = protox::compile([&file], [&root])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
