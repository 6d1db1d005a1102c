//! Keeps `COVERAGE.md` true: every element the reader ignores in the esmini
//! corpus and the test files is listed there as "not yet", and no element listed
//! as "supported" or "partial" is ever ignored.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use road::Network;

/// Rows of the coverage table: element (`parent/child`) → status.
fn table() -> BTreeMap<String, String> {
    let text = include_str!("../COVERAGE.md");
    let mut rows = BTreeMap::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | `parent/child` | status | notes |
        if cells.len() >= 4 && cells[1].starts_with('`') {
            rows.insert(cells[1].trim_matches('`').to_owned(), cells[2].to_owned());
        }
    }
    rows
}

fn documents() -> Vec<(String, String)> {
    let mut documents = vec![
        (
            "junction_chain.xodr".to_owned(),
            include_str!("data/junction_chain.xodr").to_owned(),
        ),
        (
            "shapes.xodr".to_owned(),
            include_str!("data/shapes.xodr").to_owned(),
        ),
    ];
    let root = std::env::var_os("TWINSPACE_CORPORA").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora"),
        PathBuf::from,
    );
    let mut found = false;
    for folder in [
        "esmini/resources/xodr",
        "esmini/EnvironmentSimulator/Unittest/xodr",
    ] {
        let Ok(entries) = std::fs::read_dir(root.join(folder)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|ext| ext == "xodr")
                && let Ok(text) = std::fs::read_to_string(&path)
            {
                found = true;
                documents.push((path.display().to_string(), text));
            }
        }
    }
    if !found {
        eprintln!(
            "esmini corpus not found under {}; checking the coverage table against the test files only \
             (set TWINSPACE_CORPORA to include the corpus)",
            root.display()
        );
    }
    documents
}

#[test]
fn coverage_table_matches_what_the_reader_ignores() {
    let table = table();
    assert!(
        table.len() > 40,
        "COVERAGE.md table has only {} rows",
        table.len()
    );
    for (element, status) in &table {
        assert!(
            ["supported", "partial", "not yet"].contains(&status.as_str()),
            "{element}: status {status:?} is not supported/partial/not yet"
        );
    }
    let mut ignored: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, text) in documents() {
        let network = Network::parse(&text).unwrap_or_else(|error| panic!("{name}: {error}"));
        for element in network.ignored_elements().keys() {
            ignored
                .entry(element.clone())
                .or_default()
                .insert(name.clone());
        }
    }
    let mut problems = Vec::new();
    for (element, files) in &ignored {
        match table.get(element).map(String::as_str) {
            Some("not yet") => {}
            Some(status) => problems.push(format!(
                "{element} is ignored (e.g. in {:?}) but listed as {status}",
                files.first()
            )),
            None => problems.push(format!(
                "{element} is ignored (e.g. in {:?}) but missing from COVERAGE.md",
                files.first()
            )),
        }
    }
    eprintln!(
        "coverage: {} elements listed, {} supported/partial, {} distinct ignored in the documents",
        table.len(),
        table
            .values()
            .filter(|status| status.as_str() != "not yet")
            .count(),
        ignored.len()
    );
    assert!(
        problems.is_empty(),
        "COVERAGE.md is out of date:\n{}",
        problems.join("\n")
    );
}
