//! Every esmini corpus scenario and catalog is validated against the ASAM
//! OpenSCENARIO XSD of its declared version (the schemas shipped in PyPI
//! `asam-qc-openscenarioxml`, through `tests/xsd/validate.py` and lxml), and the
//! verdict is set beside our parser's, so a refusal of ours can be told apart
//! from a broken file. Prints the split:
//! - valid and parsed: fine;
//! - valid and refused: our parser's gap (an unsupported element or a check
//!   stricter than the schema), listed by name;
//! - invalid and refused: the file is broken;
//! - invalid and parsed: we accept something the schema does not.
//!
//! Runs when a Python with `qc_openscenario` and `lxml` is found
//! (`$TWINSPACE_VENV/bin/python`, else `SIM_PYTHON`); `scripts/test` installs
//! them. Otherwise it says so and returns.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Corpus files valid under the XSD when this was last raised.
const VALID_REACHED: usize = 88;
/// Valid scenario files our parser accepts, when this was last raised.
const VALID_AND_PARSED_REACHED: usize = 55;

/// The venv's Python when it can import the validator's packages.
pub fn python() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(venv) = std::env::var_os("TWINSPACE_VENV") {
        candidates.push(PathBuf::from(venv).join("bin/python"));
    }
    if let Some(explicit) = std::env::var_os("SIM_PYTHON") {
        candidates.push(PathBuf::from(explicit));
    }
    candidates.into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import qc_openscenario, lxml"])
            .output()
            .is_ok_and(|output| output.status.success())
    })
}

fn files(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    // The corpus is a few folders deep; the bound guards against link loops.
    if depth > 8 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out, depth + 1);
        } else if path.extension().is_some_and(|e| e == "xosc") {
            out.push(path);
        }
    }
}

#[test]
fn corpus_files_validate_against_the_asam_schema() {
    let root = common::corpora().join("esmini");
    if !root.exists() {
        eprintln!(
            "esmini corpus not found at {}; set TWINSPACE_CORPORA to the corpora folder",
            root.display()
        );
        return;
    }
    let Some(python) = python() else {
        eprintln!(
            "no Python with asam-qc-openscenarioxml and lxml: set TWINSPACE_VENV to a venv that has them (scripts/test makes one); skipping"
        );
        return;
    };
    let mut all = Vec::new();
    files(&root, &mut all, 0);
    all.sort();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/xsd/validate.py");
    let output = Command::new(&python)
        .arg(&script)
        .args(&all)
        .output()
        .expect("the validator starts");
    assert!(
        output.status.success(),
        "validator failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let verdicts: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    assert_eq!(verdicts.len(), all.len(), "one verdict per file");

    let (mut valid, mut catalogs) = (0, 0);
    let mut valid_parsed = 0;
    // Valid files we refuse, by why: an element we do not run (our gap), or a
    // rule the XSD cannot express (a missing catalog or file, a value of the
    // wrong parameter type, an assignment to an undeclared parameter).
    let mut valid_unsupported = Vec::new();
    let mut valid_refused = Vec::new();
    let mut invalid_refused = Vec::new();
    let mut invalid_parsed = Vec::new();
    for (file, verdict) in all.iter().zip(&verdicts) {
        let name = file.strip_prefix(&root).unwrap().display().to_string();
        let is_valid = verdict.get("valid").and_then(Value::as_bool) == Some(true);
        if is_valid {
            valid += 1;
        }
        let why_invalid = || {
            verdict
                .get("errors")
                .and_then(Value::as_array)
                .and_then(|e| e.first())
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let text = std::fs::read_to_string(file).unwrap();
        let resolver = common::esmini_resolver(file, &root);
        match (sim::Scenario::parse(&text, &name, &resolver), is_valid) {
            (Err(sim::Error::CatalogFile { .. }), _) => catalogs += 1,
            (Ok(_), true) => valid_parsed += 1,
            (Ok(_), false) => invalid_parsed.push(format!("{name}: {}", why_invalid())),
            (Err(e @ sim::Error::Unsupported { .. }), true) => {
                valid_unsupported.push(e.to_string());
            }
            (Err(e), true) => valid_refused.push(e.to_string()),
            (Err(e), false) => invalid_refused.push(format!("{e} [XSD: {}]", why_invalid())),
        }
    }
    eprintln!(
        "esmini corpus vs ASAM XSD: {} files ({catalogs} catalogs), {valid} valid; scenarios: {valid_parsed} valid and parsed, {} valid but use an element we do not run, {} valid but break a rule the XSD cannot express (missing files, types), {} invalid and refused (broken files), {} invalid but parsed",
        all.len(),
        valid_unsupported.len(),
        valid_refused.len(),
        invalid_refused.len(),
        invalid_parsed.len()
    );
    for line in &valid_unsupported {
        eprintln!("  valid, unsupported by us: {line}");
    }
    for line in &valid_refused {
        eprintln!("  valid, refused: {line}");
    }
    for line in &invalid_refused {
        eprintln!("  broken: {line}");
    }
    for line in &invalid_parsed {
        eprintln!("  invalid, parsed: {line}");
    }
    assert!(
        valid >= VALID_REACHED,
        "{valid} files valid; {VALID_REACHED} were"
    );
    assert!(
        valid_parsed >= VALID_AND_PARSED_REACHED,
        "{valid_parsed} valid files parse; {VALID_AND_PARSED_REACHED} did"
    );
}
