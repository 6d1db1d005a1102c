//! Reads AAS environments (`.json`, `.xml` or `.aasx` packages, by extension),
//! prints every verification problem (and, for packages, the spec parts,
//! thumbnail, supplementary files and missing files), and with `--out DIR`
//! writes each as strict 3.0 JSON, XML and an AASX package with a JSON spec
//! part carrying the input package's thumbnail and files (`DIR/<n>.json`,
//! `DIR/<n>.xml`, `DIR/<n>.aasx`) so that independent tools (the PyPI
//! `aas-core3.0` verifier, `aas-test-engines check_file`) can judge what this
//! crate writes.
//!
//! `--xml-spec` gives the written package an XML spec part instead.
//!
//! `cargo run -p aas --example aas_check -- [--lenient] [--out DIR] [--xml-spec] FILE...`

use std::path::PathBuf;
use std::process::ExitCode;

use aas::{Environment, ReadOptions};

fn main() -> ExitCode {
    let mut options = ReadOptions::STRICT;
    let mut out: Option<PathBuf> = None;
    let mut spec_format = aas::aasx::SpecFormat::Json;
    let mut inputs = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--lenient" => options = ReadOptions::LENIENT,
            "--out" => out = args.next().map(PathBuf::from),
            "--xml-spec" => spec_format = aas::aasx::SpecFormat::Xml,
            _ => inputs.push(PathBuf::from(arg)),
        }
    }
    let mut failed = false;
    for (index, path) in inputs.iter().enumerate() {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(err) => {
                println!("{}: cannot read: {err}", path.display());
                failed = true;
                continue;
            }
        };
        let extension = path
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let mut package = None;
        let read = match extension.as_str() {
            "xml" => aas::xml::from_slice_with::<Environment>(&bytes, options)
                .map_err(|err| err.to_string()),
            "aasx" => match aas::aasx::read(&bytes, options) {
                Ok(read) => {
                    let environment = read.environment.clone();
                    let warnings = read.warnings.clone();
                    package = Some(read);
                    Ok((environment, warnings))
                }
                Err(err) => Err(err.to_string()),
            },
            _ => aas::json::from_slice_with::<Environment>(&bytes, options)
                .map_err(|err| err.to_string()),
        };
        if let Some(package) = &package {
            describe(path, package);
        }
        let (environment, warnings) = match read {
            Ok(read) => read,
            Err(err) => {
                println!("{}: refused: {err}", path.display());
                failed = true;
                continue;
            }
        };
        for warning in &warnings {
            println!("{}: warning: {warning}", path.display());
        }
        let problems = aas::verify(&environment);
        for problem in &problems {
            println!("{}: {problem}", path.display());
        }
        failed |= !problems.is_empty();
        if let Some(dir) = &out {
            let written = std::fs::create_dir_all(dir)
                .and_then(|()| {
                    std::fs::write(
                        dir.join(format!("{index}.json")),
                        aas::json::to_string_pretty(&environment),
                    )
                })
                .and_then(|()| {
                    std::fs::write(
                        dir.join(format!("{index}.xml")),
                        aas::xml::to_string(&environment),
                    )
                })
                .and_then(|()| {
                    let (thumbnail, files) = match &package {
                        Some(package) => (package.thumbnail.as_ref(), package.files.as_slice()),
                        None => (None, &[][..]),
                    };
                    let written = aas::aasx::write(
                        &environment,
                        &aas::aasx::WriteOptions {
                            format: spec_format,
                            thumbnail,
                            files,
                        },
                    )
                    .map_err(std::io::Error::other)?;
                    std::fs::write(dir.join(format!("{index}.aasx")), written)
                });
            if let Err(err) = written {
                println!(
                    "{}: cannot write to {}: {err}",
                    path.display(),
                    dir.display()
                );
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Prints what a package holds besides its environment.
fn describe(path: &std::path::Path, package: &aas::aasx::Package) {
    let path = path.display();
    for part in &package.spec_parts {
        println!("{path}: spec part {} ({:?})", part.path, part.format);
    }
    if package.deprecated_namespace {
        println!("{path}: uses the deprecated relationship namespace");
    }
    if let Some(thumbnail) = &package.thumbnail {
        println!(
            "{path}: thumbnail {} ({}, {} bytes)",
            thumbnail.path,
            thumbnail.content_type,
            thumbnail.bytes.len()
        );
    }
    for file in &package.files {
        println!(
            "{path}: file {} ({}, {} bytes)",
            file.path,
            file.content_type,
            file.bytes.len()
        );
    }
    for missing in &package.missing_files {
        println!("{path}: missing file {missing}");
    }
}
