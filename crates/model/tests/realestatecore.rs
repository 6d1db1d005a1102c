//! RealEstateCore, the building ontology in the public `opendigitaltwins-building`
//! repository, must load as ONE batch per DTDL version, exactly as published
//! (many files start with a UTF-8 byte-order mark). The loaded graph is then
//! probed: inheritance, inherited contents and value checks.

use std::path::{Path, PathBuf};

use model::{Dtmi, ModelSet, ModelSource};

fn corpora() -> PathBuf {
    std::env::var_os("TWINSPACE_CORPORA").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora"),
        PathBuf::from,
    )
}

/// Reads every `.json` file below `dir`, sorted by path so runs are repeatable.
fn sources(dir: &Path) -> Vec<ModelSource> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
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
            name: path.strip_prefix(dir).unwrap().display().to_string(),
            text: std::fs::read_to_string(&path).unwrap(),
        })
        .collect()
}

fn load(version: &str) -> Option<(ModelSet, usize)> {
    let dir = corpora().join("realestatecore").join(version);
    if !dir.is_dir() {
        eprintln!(
            "realestatecore/{version}: corpus not found at {}; set TWINSPACE_CORPORA to the shared corpora folder",
            dir.display()
        );
        return None;
    }
    let sources = sources(&dir);
    let mut set = ModelSet::new();
    match set.add(&sources) {
        Ok(added) => {
            eprintln!(
                "realestatecore/{version}: {} files, {} interfaces loaded in one batch",
                sources.len(),
                added.len()
            );
            Some((set, added.len()))
        }
        Err(problems) => panic!("realestatecore/{version} rejected:\n{problems}"),
    }
}

fn id(s: &str) -> Dtmi {
    Dtmi::parse(s).unwrap()
}

#[test]
fn realestatecore_v3_loads_as_one_batch() {
    let Some((set, added)) = load("v3") else {
        return;
    };
    assert_eq!(added, 767);
    let room = id("dtmi:digitaltwins:rec_3_3:core:Room;1");
    let space = id("dtmi:digitaltwins:rec_3_3:core:Space;1");
    assert!(set.is_of_model(&room, &space, false));
    assert!(!set.is_of_model(&room, &space, true));
    assert!(!set.is_of_model(&space, &room, false));
    // Space declares `name`-like properties that every room inherits.
    let inherited = set.contents(&room).count();
    assert!(inherited > set.get(&room).unwrap().contents.len());
}

#[test]
fn realestatecore_v2_loads_as_one_batch() {
    let Some((set, added)) = load("v2") else {
        return;
    };
    assert_eq!(added, 767);
    assert_eq!(set.len(), 767);
}

#[test]
fn batch_is_atomic_and_duplicates_are_refused() {
    let Some((mut set, _)) = load("v3") else {
        return;
    };
    let before = set.len();
    let dir = corpora().join("realestatecore").join("v3");
    let again = sources(&dir);
    let err = set.add(&again[..3]).unwrap_err();
    assert!(err.0.iter().all(|p| p.rule == "id-exists"), "{err}");
    assert_eq!(set.len(), before);
}
