//! Lenient import of the IDTA submodel templates
//! (`$TWINSPACE_CORPORA/aas/templates`, every `.json` file): each loads (with
//! the warnings lenient reading gives for 3.1 fields) or is refused with a
//! reason; none loads empty without saying so. Verification problems of the
//! loaded files are counted per constraint: the official templates are not all
//! valid, which is why import is lenient and export strict.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aas::{Environment, ReadOptions, verify};

fn corpora() -> PathBuf {
    match std::env::var_os("TWINSPACE_CORPORA") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora"),
    }
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("json"))
            {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn templates_import_leniently() {
    let root = corpora().join("aas/templates");
    if !root.is_dir() {
        eprintln!(
            "templates corpus not found at {}; set TWINSPACE_CORPORA to the folder holding aas/templates",
            root.display()
        );
        return;
    }
    let mut loaded = 0usize;
    let mut clean = 0usize;
    let mut refused = Vec::new();
    let mut empty = Vec::new();
    let mut warned = 0usize;
    let mut constraints: BTreeMap<&'static str, usize> = BTreeMap::new();
    let files = json_files(&root);
    for path in &files {
        let name = path
            .strip_prefix(&root)
            .unwrap_or(path)
            .display()
            .to_string();
        let bytes = std::fs::read(path).unwrap_or_default();
        // Bytes as an AASX part or request body would give them (some templates
        // start with a byte order mark, which the reader skips).
        match aas::json::from_slice_with::<Environment>(&bytes, ReadOptions::LENIENT) {
            Err(err) => refused.push(format!("{name}: {err}")),
            Ok((environment, warnings)) => {
                loaded += 1;
                if !warnings.is_empty() {
                    warned += 1;
                }
                let count = environment
                    .asset_administration_shells
                    .as_ref()
                    .map_or(0, Vec::len)
                    + environment.submodels.as_ref().map_or(0, Vec::len)
                    + environment
                        .concept_descriptions
                        .as_ref()
                        .map_or(0, Vec::len);
                if count == 0 {
                    empty.push(name.clone());
                }
                let problems = verify(&environment);
                if problems.is_empty() {
                    clean += 1;
                }
                for problem in problems {
                    *constraints.entry(problem.constraint).or_default() += 1;
                }
            }
        }
    }
    println!(
        "templates: {} JSON files, {loaded} loaded ({warned} with warnings, {clean} verify clean), {} refused, {} empty",
        files.len(),
        refused.len(),
        empty.len()
    );
    for reason in &refused {
        println!("    REFUSED {reason}");
    }
    for name in &empty {
        println!("    EMPTY {name}");
    }
    println!("    problems in loaded templates by constraint: {constraints:?}");
    // Every file is accounted for, and none loads empty unnoticed.
    assert_eq!(loaded + refused.len(), files.len());
    assert!(
        empty.is_empty(),
        "templates that load as empty environments: {empty:?}"
    );
    assert!(
        loaded >= 70,
        "fewer templates load than the 70 of 71 before: {loaded}"
    );
}
