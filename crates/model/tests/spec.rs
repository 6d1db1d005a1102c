//! DTDL conformance: every case of the DTDL specification's own test suites
//! (`dtdl-spec/v2` and `dtdl-spec/v3` in the shared corpora) must get the
//! verdict it expects. Each case is `{valid, options, input}`; `input` is a
//! list of documents uploaded as one batch, and the `AllowUndefinedExtensions`
//! option is honoured through `ParseOptions`.

use std::path::{Path, PathBuf};

use model::{ModelSet, ParseOptions};
use serde_json::Value;

/// Passes reached so far per version; the test fails below these so a change
/// that loses conformance is caught.
const MIN_PASSES_V2: usize = 6624;
const MIN_PASSES_V3: usize = 6760;

fn corpora() -> PathBuf {
    std::env::var_os("TWINSPACE_CORPORA").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora"),
        PathBuf::from,
    )
}

struct Case {
    name: String,
    valid: bool,
    allow_undefined: bool,
    input: Vec<Value>,
}

fn load(dir: &Path) -> Vec<Case> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let value: Value = serde_json::from_str(text).unwrap();
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        for (i, case) in value.as_array().unwrap().iter().enumerate() {
            let options: Vec<&str> = case["options"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for option in &options {
                assert!(
                    matches!(
                        *option,
                        "AllowUndefinedExtensions" | "DisallowUndefinedExtensions"
                    ),
                    "{stem}[{i}]: unknown option {option}"
                );
            }
            cases.push(Case {
                name: format!("{stem}[{i}]"),
                valid: case["valid"].as_bool().unwrap(),
                allow_undefined: options.contains(&"AllowUndefinedExtensions"),
                input: case["input"].as_array().unwrap().clone(),
            });
        }
    }
    cases
}

fn verdict(case: &Case) -> (bool, String) {
    let mut set = ModelSet::with_options(ParseOptions {
        allow_undefined_extensions: case.allow_undefined,
    });
    match set.add_values(&case.input) {
        Ok(_) => (true, String::new()),
        Err(problems) => (false, problems.to_string()),
    }
}

fn run(version: &str, min: usize) {
    let dir = corpora().join("dtdl-spec").join(version);
    if !dir.is_dir() {
        eprintln!(
            "dtdl-spec/{version}: corpus not found at {}; set TWINSPACE_CORPORA to the shared corpora folder",
            dir.display()
        );
        return;
    }
    let cases = load(&dir);
    let half = cases.len() / 2;
    let failures: Vec<(String, bool, String)> = std::thread::scope(|s| {
        let parts: Vec<_> = [&cases[..half], &cases[half..]]
            .into_iter()
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .filter_map(|case| {
                            let (ok, why) = verdict(case);
                            (ok != case.valid).then(|| (case.name.clone(), case.valid, why))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let passes = cases.len() - failures.len();
    for (name, valid, why) in &failures {
        let why = why.lines().next().unwrap_or("");
        eprintln!(
            "FAIL {version} {name}: expected {}, {why}",
            if *valid { "valid" } else { "invalid" }
        );
    }
    eprintln!(
        "dtdl-spec/{version}: {passes} of {} cases pass",
        cases.len()
    );
    assert!(
        passes >= min,
        "dtdl-spec/{version}: {passes} passes, below the {min} reached before"
    );
}

#[test]
fn dtdl_v2_spec_cases() {
    run("v2", MIN_PASSES_V2);
}

#[test]
fn dtdl_v3_spec_cases() {
    run("v3", MIN_PASSES_V3);
}
