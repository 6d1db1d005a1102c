//! Benchmark: how many DTDL models per second `ModelSet::add` parses,
//! validates and resolves, measured on the RealEstateCore ontology (767
//! interfaces per version) loaded as one batch, as the REST API would.
//!
//! Run: `cargo run --release -p model --example bench_rec`
//! (reads `$TWINSPACE_CORPORA/realestatecore`, default `../shared/corpora`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use model::{ModelSet, ModelSource};

/// Timed repetitions per version; the median is reported so one slow run
/// (another process on the two shared cores) does not skew the figure.
const RUNS: usize = 15;

fn corpora() -> PathBuf {
    std::env::var_os("TWINSPACE_CORPORA").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora"),
        PathBuf::from,
    )
}

fn sources(dir: &Path) -> Vec<ModelSource> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("readable corpus folder") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|path| ModelSource {
            name: path.display().to_string(),
            text: std::fs::read_to_string(&path).expect("readable model file"),
        })
        .collect()
}

fn main() {
    let root = corpora().join("realestatecore");
    if !root.is_dir() {
        eprintln!(
            "RealEstateCore not found at {}; set TWINSPACE_CORPORA to the shared corpora folder",
            root.display()
        );
        std::process::exit(2);
    }
    for version in ["v3", "v2"] {
        let sources = sources(&root.join(version));
        let bytes: usize = sources.iter().map(|s| s.text.len()).sum();
        let mut times = Vec::with_capacity(RUNS);
        let mut count = 0;
        for _ in 0..RUNS {
            let mut set = ModelSet::new();
            let start = Instant::now();
            let added = set
                .add(&sources)
                .unwrap_or_else(|problems| panic!("{version} rejected:\n{problems}"));
            times.push(start.elapsed().as_secs_f64());
            count = added.len();
        }
        times.sort_by(f64::total_cmp);
        let median = times[RUNS / 2];
        println!(
            "dtdl {version}: {count} interfaces ({:.1} MiB) in {median:.3} s = {:.0} models/s (median of {RUNS}, best {:.3} s)",
            bytes as f64 / (1024.0 * 1024.0),
            count as f64 / median,
            times[0],
        );
    }
}
