//! Every `.xosc` scenario in the esmini corpus either parses or fails with a
//! named error (an unsupported element with its location, or a reference the
//! corpus cannot satisfy) — never a panic. Prints the counts.

mod common;

use std::path::{Path, PathBuf};

fn scenarios(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) {
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
            scenarios(&path, out, depth + 1);
        } else if path.extension().is_some_and(|e| e == "xosc") {
            out.push(path);
        }
    }
}

/// Files that parsed when this was last raised; a change that parses fewer fails.
const PARSED_REACHED: usize = 57;

#[test]
fn every_esmini_scenario_parses_or_names_what_is_unsupported() {
    let root = common::corpora().join("esmini");
    if !root.exists() {
        eprintln!(
            "esmini corpus not found at {}; set TWINSPACE_CORPORA to the corpora folder",
            root.display()
        );
        return;
    }
    let mut files = Vec::new();
    scenarios(&root, &mut files, 0);
    files.sort();
    let (mut parsed, mut unsupported, mut other, mut catalogs) = (0, 0, 0, 0);
    let mut by_element = std::collections::BTreeMap::<String, usize>::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let resolver = common::esmini_resolver(file, &root);
        let name = file.strip_prefix(&root).unwrap().display().to_string();
        match sim::Scenario::parse(&text, &name, &resolver) {
            Ok(_) => parsed += 1,
            Err(sim::Error::CatalogFile { .. }) => catalogs += 1,
            Err(sim::Error::Unsupported { element, .. }) => {
                unsupported += 1;
                *by_element.entry(element).or_default() += 1;
            }
            Err(err) => {
                other += 1;
                eprintln!("  {err}");
                assert!(
                    err.to_string().contains(".xosc"),
                    "error does not name a file: {err}"
                );
            }
        }
    }
    eprintln!(
        "esmini corpus: {} scenario files: {parsed} parse, {unsupported} stop at an unsupported element, {other} other errors ({catalogs} catalog files skipped)",
        files.len() - catalogs
    );
    eprintln!("unsupported elements (files): {by_element:?}");
    assert!(
        parsed >= PARSED_REACHED,
        "{parsed} files parse; {PARSED_REACHED} did before"
    );
}
