//! Import rate of the AAS readers: every `Expected` file of the testgen corpus
//! (`$TWINSPACE_CORPORA/aas/testgen`, JSON and XML) read from memory and
//! verified, repeated for a few seconds; prints files/s and MB/s per format,
//! and the same for writing; then the AASX template packages
//! (`$TWINSPACE_CORPORA/aas/templates`, every `.aasx`) read leniently and
//! written again (JSON spec part, with their files), in packages/s and MB/s. Run it in release: `./scripts/bench aas`, i.e.
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
    bench_aasx(&corpora.join("aas/templates"));
}

/// Reads every template package leniently, then writes each again, for
/// [`MEASURE_FOR`] each.
fn bench_aasx(root: &Path) {
    let mut paths = Vec::new();
    files(root, &mut paths);
    paths.retain(|p| {
        p.extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("aasx"))
    });
    paths.sort();
    let packages: Vec<Vec<u8>> = paths.iter().filter_map(|p| std::fs::read(p).ok()).collect();
    if packages.is_empty() {
        eprintln!("no AASX templates under {}; skipping AASX", root.display());
        return;
    }
    let bytes: usize = packages.iter().map(Vec::len).sum();
    println!(
        "AASX corpus: {} packages ({} KB)",
        packages.len(),
        bytes / 1000
    );
    let timed = |pass: &mut dyn FnMut(&[u8])| {
        let start = Instant::now();
        let mut passes = 0u32;
        while passes == 0 || start.elapsed() < MEASURE_FOR {
            for package in &packages {
                pass(package);
            }
            passes += 1;
        }
        let seconds = start.elapsed().as_secs_f64();
        (
            f64::from(passes) * packages.len() as f64 / seconds,
            f64::from(passes) * bytes as f64 / 1e6 / seconds,
        )
    };
    let mut read = 0usize;
    let (packages_s, mb_s) = timed(&mut |bytes| {
        if aas::aasx::read(bytes, aas::ReadOptions::LENIENT).is_ok() {
            read += 1;
        }
    });
    println!("AASX read (lenient):     {packages_s:.0} packages/s, {mb_s:.1} MB/s (packed)");
    let read_packages: Vec<aas::aasx::Package> = packages
        .iter()
        .filter_map(|bytes| aas::aasx::read(bytes, aas::ReadOptions::LENIENT).ok())
        .collect();
    let mut written = 0usize;
    let mut index = 0usize;
    let (packages_s, _) = timed(&mut |_| {
        let package = &read_packages[index % read_packages.len()];
        index += 1;
        written += package
            .to_bytes(aas::aasx::SpecFormat::Json)
            .map_or(0, |bytes| bytes.len());
    });
    println!("AASX write (JSON spec):  {packages_s:.0} packages/s");
    std::hint::black_box((read, written));
}
