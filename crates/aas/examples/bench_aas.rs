//! Import rate of the AAS readers: every `Expected` file of the testgen corpus
//! (`$TWINSPACE_CORPORA/aas/testgen`, JSON and XML) read from memory and
//! verified, repeated for a few seconds; prints files/s and MB/s per format,
//! and the same for writing. Run it in release: `./scripts/bench aas`, i.e.
//! `cargo run --release -p aas --example bench_aas`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aas::Environment;

/// Each measurement repeats the corpus until this much time has passed, so
/// that the figure does not hinge on one pass's cache state.
const MEASURE_FOR: Duration = Duration::from_secs(3);

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// The corpus's expected environments of one format, as text.
fn load(root: &Path, format: &str) -> Vec<String> {
    let mut paths = Vec::new();
    files(
        &root.join(format).join("ContainedInEnvironment/Expected"),
        &mut paths,
    );
    paths.sort();
    paths
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .collect()
}

/// Runs `pass` over the corpus until [`MEASURE_FOR`] is up; returns files/s
/// and MB/s.
fn measure(texts: &[String], mut pass: impl FnMut(&str)) -> (f64, f64) {
    let bytes: usize = texts.iter().map(String::len).sum();
    let start = Instant::now();
    let mut passes = 0u32;
    while passes == 0 || start.elapsed() < MEASURE_FOR {
        for text in texts {
            pass(text);
        }
        passes += 1;
    }
    let seconds = start.elapsed().as_secs_f64();
    let files = f64::from(passes) * texts.len() as f64;
    let megabytes = f64::from(passes) * bytes as f64 / 1e6;
    (files / seconds, megabytes / seconds)
}

fn main() {
    let corpora = std::env::var_os("TWINSPACE_CORPORA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora"));
    let root = corpora.join("aas/testgen");
    let json = load(&root, "Json");
    let xml = load(&root, "Xml");
    if json.is_empty() || xml.is_empty() {
        eprintln!(
            "testgen corpus not found at {}; set TWINSPACE_CORPORA",
            root.display()
        );
        std::process::exit(2);
    }
    println!(
        "corpus: {} JSON files ({} KB), {} XML files ({} KB)",
        json.len(),
        json.iter().map(String::len).sum::<usize>() / 1000,
        xml.len(),
        xml.iter().map(String::len).sum::<usize>() / 1000
    );
    let mut problems = 0usize;
    let (files_s, mb_s) = measure(&json, |text| {
        let environment: Environment = aas::json::from_str(text).expect("expected file reads");
        problems += aas::verify(&environment).len();
    });
    println!("JSON deserialize+verify: {files_s:.0} files/s, {mb_s:.1} MB/s");
    let (files_s, mb_s) = measure(&xml, |text| {
        let environment: Environment = aas::xml::from_str(text).expect("expected file reads");
        problems += aas::verify(&environment).len();
    });
    println!("XML deserialize+verify:  {files_s:.0} files/s, {mb_s:.1} MB/s");
    assert_eq!(problems, 0, "expected files verify clean");

    let environments: Vec<Environment> = json
        .iter()
        .filter_map(|text| aas::json::from_str(text).ok())
        .collect();
    let indices: Vec<String> = (0..environments.len()).map(|i| i.to_string()).collect();
    let mut written = 0usize;
    let (files_s, _) = measure(&indices, |i| {
        written += aas::json::to_string(&environments[i.parse::<usize>().unwrap_or(0)]).len();
    });
    println!("JSON serialize:          {files_s:.0} files/s");
    let (files_s, _) = measure(&indices, |i| {
        written += aas::xml::to_string(&environments[i.parse::<usize>().unwrap_or(0)]).len();
    });
    println!("XML serialize:           {files_s:.0} files/s");
    std::hint::black_box(written);
}
