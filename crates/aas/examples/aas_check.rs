//! Reads AAS environments (`.json` or `.xml`, by extension), prints every
//! verification problem, and with `--out DIR` writes each as strict 3.0 JSON and
//! XML (`DIR/<n>.json`, `DIR/<n>.xml`) so that independent tools (the PyPI
//! `aas-core3.0` verifier, `aas-test-engines check_file`) can judge what this
//! crate writes.
//!
//! `cargo run -p aas --example aas_check -- [--lenient] [--out DIR] FILE...`

use std::path::PathBuf;
use std::process::ExitCode;

use aas::{Environment, ReadOptions};

fn main() -> ExitCode {
    let mut options = ReadOptions::STRICT;
    let mut out: Option<PathBuf> = None;
    let mut inputs = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--lenient" => options = ReadOptions::LENIENT,
            "--out" => out = args.next().map(PathBuf::from),
            _ => inputs.push(PathBuf::from(arg)),
        }
    }
    let mut failed = false;
    for (index, path) in inputs.iter().enumerate() {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) => {
                println!("{}: cannot read: {err}", path.display());
                failed = true;
                continue;
            }
        };
        let is_xml = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("xml"));
        let read = if is_xml {
            aas::xml::from_str_with::<Environment>(&text, options)
        } else {
            aas::json::from_str_with::<Environment>(&text, options)
        };
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
