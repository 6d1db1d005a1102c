//! Conformance: every OpenDRIVE file of the esmini corpus parses, and every road
//! of it evaluates to finite positions along its whole length. The pass count is
//! printed and guarded against regression.

use std::path::PathBuf;

use road::Network;

/// Files that parsed when this guard was last raised; lower it never, raise it
/// when more pass.
const MIN_PASSES: usize = 24;

fn corpora() -> Option<PathBuf> {
    let root = std::env::var_os("TWINSPACE_CORPORA").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora"),
        PathBuf::from,
    );
    if root.join("esmini").is_dir() {
        Some(root)
    } else {
        eprintln!(
            "esmini corpus not found at {}; set TWINSPACE_CORPORA to the corpora folder to run this test",
            root.display()
        );
        None
    }
}

/// Every `.xodr` under the esmini corpus's road folders, sorted.
pub fn xodr_files(root: &std::path::Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for folder in [
        "esmini/resources/xodr",
        "esmini/EnvironmentSimulator/Unittest/xodr",
    ] {
        let Ok(entries) = std::fs::read_dir(root.join(folder)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|ext| ext == "xodr") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn every_esmini_road_network_parses_and_evaluates() {
    let Some(root) = corpora() else { return };
    let files = xodr_files(&root);
    let mut passes = 0;
    let mut failures = Vec::new();
    for path in &files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) => {
                failures.push(format!("{name}: unreadable: {error}"));
                continue;
            }
        };
        let network = match Network::parse(&text) {
            Ok(network) => network,
            Err(error) => {
                failures.push(format!("{name}: {error}"));
                continue;
            }
        };
        let mut bad = None;
        'roads: for road in network.roads() {
            let steps = (road.length / 2.0).ceil().max(1.0) as usize;
            for step in 0..=steps {
                let s = road.length * step as f64 / steps as f64;
                match network.road_to_world(&road.id, s, 1.0) {
                    Ok(pose) if pose.x.is_finite() && pose.y.is_finite() && pose.z.is_finite() => {}
                    other => {
                        bad = Some(format!("road {} at s = {s}: {other:?}", road.id));
                        break 'roads;
                    }
                }
            }
        }
        match bad {
            None => passes += 1,
            Some(problem) => failures.push(format!("{name}: {problem}")),
        }
    }
    eprintln!(
        "OpenDRIVE corpus: {passes} of {} files parse and evaluate",
        files.len()
    );
    for failure in &failures {
        eprintln!("  FAIL {failure}");
    }
    assert!(
        passes >= MIN_PASSES,
        "only {passes} files passed, expected at least {MIN_PASSES}"
    );
}
