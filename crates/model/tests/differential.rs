//! Differential test against Microsoft's own DTDL parser (DTDLParser for .NET
//! compiled to WebAssembly, npm `@digicatapult/dtdl-parser`, run by
//! `tests/differential/oracle.mjs` under Node 20): valid specification cases
//! are mutated at random (nodes deleted, duplicated, retyped, keys renamed to
//! other DTDL words) and both parsers must reach the same verdict.
//!
//! Set up once: `npm install --prefix crates/model/tests/differential`.
//! Run: `cargo test -p model --test differential -- --nocapture`
//! (`DTDL_DIFF_CASES=20000` for a longer run; `DTDL_DIFF_SEED` to vary).
//! Without Node or the package the test says so and passes.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use model::ModelSet;
use serde_json::Value;
use support::{Generator, Rng, mutate, spec_cases};

/// Mutated batches per run by default: about two seconds of the oracle.
const DEFAULT_CASES: usize = 600;

/// Differences that are understood and kept on purpose:
/// - DTDLParser expands a bare DTDL term given as a relationship `target`
///   (`"target": "long"`) into the term's DTMI and accepts it; we refuse it,
///   since a relationship to a DTDL meta-element is never what was meant.
/// - DTDL v2 elements may carry JSON-LD keywords such as `@value`, which
///   are ignored; when `@value` holds an array or object, DTDLParser's
///   JSON-LD expansion gives erratic verdicts (refusing the document, or
///   accepting a duplicate definition), so such inputs are not compared.
/// - DTDLParser accepts a DTDL class or property DTMI (`dtmi:dtdl:class:...`)
///   as a nested `@context`; we accept only DTDL contexts and extensions.
fn known_difference(input: &str, ours: &str) -> bool {
    let term_as_target =
        ours.contains("[target-is-dtmi]") && ours.contains("must start with \"dtmi:\"");
    let value_object = input.contains("\"@value\":[") || input.contains("\"@value\":{");
    let meta_context =
        ours.contains("[context-unknown-dtdl]") && !ours.contains("dtmi:dtdl:context;");
    term_as_target || value_object || meta_context
}

fn flatten(input: &[Value]) -> Vec<Value> {
    let mut docs = Vec::new();
    for doc in input {
        match doc {
            Value::Array(items) => docs.extend(items.iter().cloned()),
            other => docs.push(other.clone()),
        }
    }
    docs
}

fn oracle(batches: &[Value]) -> Option<Vec<(bool, String)>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential");
    if !dir.join("node_modules/@digicatapult/dtdl-parser").is_dir() {
        eprintln!(
            "differential: oracle not installed; run `npm install --prefix {}` (needs Node 20)",
            dir.display()
        );
        return None;
    }
    let mut child = match Command::new("node")
        .arg(dir.join("oracle.mjs"))
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
    {
        Ok(child) => child,
        Err(err) => {
            eprintln!("differential: cannot start node ({err}); install Node 20 to run this test");
            return None;
        }
    };
    let mut stdin = child.stdin.take()?;
    let lines: Vec<String> = batches.iter().map(Value::to_string).collect();
    // Write from another thread so a full stdout pipe cannot deadlock us.
    let writer = std::thread::spawn(move || {
        for line in lines {
            if writeln!(stdin, "{line}").is_err() {
                break;
            }
        }
    });
    let stdout = child.stdout.take()?;
    let mut verdicts = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.ok()?;
        let v: Value = serde_json::from_str(&line).ok()?;
        verdicts.push((
            v["valid"] == Value::Bool(true),
            v["error"].as_str().unwrap_or("").to_owned(),
        ));
    }
    writer.join().ok()?;
    child.wait().ok()?;
    (verdicts.len() == batches.len()).then_some(verdicts)
}

#[test]
fn same_verdicts_as_microsofts_parser_on_mutated_models() {
    let seeds: Vec<Vec<Value>> = ["v2", "v3"]
        .iter()
        .flat_map(|v| spec_cases(v))
        .filter(|c| c.valid && !c.allow_undefined)
        .map(|c| flatten(&c.input))
        .collect();
    if seeds.is_empty() {
        eprintln!("differential: dtdl-spec corpus not found; set TWINSPACE_CORPORA");
        return;
    }
    let count: usize = std::env::var("DTDL_DIFF_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    let seed: u64 = std::env::var("DTDL_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let mut rng = Rng(seed);
    let batches: Vec<Value> = (0..count)
        .map(|_| {
            let mut batch = Value::Array(seeds[rng.below(seeds.len())].clone());
            for _ in 0..=rng.below(3) {
                mutate(&mut batch, &mut rng);
            }
            batch
        })
        .collect();
    let Some(theirs) = oracle(&batches) else {
        return;
    };
    let mut disagreements = Vec::new();
    let mut known = 0;
    let mut valid = 0;
    for (batch, (their_ok, their_err)) in batches.iter().zip(&theirs) {
        let docs = batch.as_array().cloned().unwrap_or_default();
        let ours = ModelSet::new().add_values(&docs);
        if ours.is_ok() {
            valid += 1;
        }
        if ours.is_ok() != *their_ok {
            let our_err = ours.err().map(|p| p.to_string()).unwrap_or_default();
            if known_difference(&batch.to_string(), &our_err) {
                known += 1;
            } else {
                disagreements.push((batch, *their_ok, their_err.clone(), our_err));
            }
        }
    }
    for (batch, their_ok, their_err, our_err) in &disagreements {
        let text = batch.to_string();
        eprintln!(
            "DIFF ours={} theirs={}\n  input: {}\n  ours: {}\n  theirs: {}",
            if *their_ok { "invalid" } else { "valid" },
            if *their_ok { "valid" } else { "invalid" },
            &text[..text.len().min(600)],
            our_err.lines().next().unwrap_or(""),
            their_err
        );
    }
    eprintln!(
        "differential: {} of {count} mutated batches agree with DTDLParser ({valid} valid by ours), \
         {known} differ in known ways, {} differ otherwise",
        count - disagreements.len() - known,
        disagreements.len()
    );
    assert!(
        disagreements.is_empty(),
        "{} unexplained disagreements with DTDLParser",
        disagreements.len()
    );
}

/// Batches of random, mostly valid models (all classes, nested schemas,
/// reusable schemas, semantic types and units, inheritance, components,
/// relationships), with a few deliberate mistakes: verdicts must agree.
#[test]
fn same_verdicts_as_microsofts_parser_on_generated_models() {
    let count: usize = std::env::var("DTDL_DIFF_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    let seed: u64 = std::env::var("DTDL_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let mut rng = Rng(seed);
    let batches: Vec<Value> = (0..count)
        .map(|i| {
            let version = if i % 2 == 0 { 2 } else { 3 };
            Generator::new(&mut rng, version, 30).batch()
        })
        .collect();
    let Some(theirs) = oracle(&batches) else {
        return;
    };
    let mut differ = Vec::new();
    let mut valid = 0;
    for (batch, (their_ok, their_err)) in batches.iter().zip(&theirs) {
        let docs = batch.as_array().cloned().unwrap_or_default();
        let ours = ModelSet::new().add_values(&docs);
        valid += usize::from(ours.is_ok());
        if ours.is_ok() != *their_ok {
            let text = batch.to_string();
            eprintln!(
                "DIFF theirs={}\n  input: {}\n  ours: {}\n  theirs: {their_err}",
                if *their_ok { "valid" } else { "invalid" },
                &text[..text.len().min(1500)],
                ours.err()
                    .map(|p| p.to_string())
                    .unwrap_or_default()
                    .lines()
                    .next()
                    .unwrap_or("")
            );
            differ.push(batch);
        }
    }
    eprintln!(
        "differential: {} of {count} generated batches agree with DTDLParser ({valid} valid by ours), {} differ",
        count - differ.len(),
        differ.len()
    );
    assert!(
        differ.is_empty(),
        "{} disagreements with DTDLParser on generated models",
        differ.len()
    );
}
