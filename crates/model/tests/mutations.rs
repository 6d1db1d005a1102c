//! Property test: valid DTDL inputs with random nodes deleted, duplicated or
//! retyped must never make the parser panic; a rejected batch must leave the
//! set unchanged, and an accepted one must be internally consistent.
//!
//! Seeds are the valid cases of the DTDL specification suites when the
//! corpora are present, plus a few hand-written models that are always used.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use model::{Content, ModelSet, ParseOptions};
use proptest::prelude::*;
use serde_json::{Value, json};

fn corpora() -> PathBuf {
    std::env::var_os("TWINSPACE_CORPORA").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora"),
        PathBuf::from,
    )
}

/// Most spec seeds taken per version; every case file contributes its first
/// valid case, which already covers every class and property.
const SEEDS_PER_VERSION: usize = 400;

fn seeds() -> &'static Vec<Vec<Value>> {
    static SEEDS: OnceLock<Vec<Vec<Value>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let mut seeds = vec![vec![json!({
            "@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Machine;1", "@type": "Interface",
            "extends": {"@id": "dtmi:ex:Base;1", "@type": "Interface",
                "contents": [{"@type": "Property", "name": "serial", "schema": "string"}]},
            "schemas": [{"@id": "dtmi:ex:Mode;1", "@type": "Enum", "valueSchema": "string",
                "enumValues": [{"name": "auto", "enumValue": "auto"}]}],
            "contents": [
                {"@type": "Property", "name": "mode", "schema": "dtmi:ex:Mode;1", "writable": true},
                {"@type": "Telemetry", "name": "xs", "schema": {"@type": "Array", "elementSchema": {
                    "@type": "Map", "mapKey": {"name": "k", "schema": "string"},
                    "mapValue": {"name": "v", "schema": {"@type": "Object", "fields": [{"name": "f", "schema": "double"}]}}}}},
                {"@type": "Relationship", "name": "feeds", "target": "dtmi:ex:Machine;1", "maxMultiplicity": 3,
                    "properties": [{"@type": "Property", "name": "rate", "schema": "float"}]},
                {"@type": "Component", "name": "part", "schema": {"@id": "dtmi:ex:Part;1", "@type": "Interface"}},
                {"@type": "Command", "name": "run", "request": {"name": "speed", "schema": "integer"},
                    "response": {"name": "ok", "schema": "boolean"}}
            ]
        })]];
        for version in ["v2", "v3"] {
            let dir = corpora().join("dtdl-spec").join(version);
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            files.sort();
            for file in files.into_iter().take(SEEDS_PER_VERSION) {
                let Ok(text) = std::fs::read_to_string(&file) else { continue };
                let Ok(Value::Array(cases)) = serde_json::from_str::<Value>(text.trim_start_matches('\u{feff}')) else {
                    continue;
                };
                if let Some(case) = cases.iter().find(|c| c["valid"] == json!(true))
                    && let Some(input) = case["input"].as_array()
                {
                    seeds.push(input.clone());
                }
            }
        }
        seeds
    })
}

/// JSON pointer-like paths to every node below the documents.
fn node_paths(value: &Value, prefix: &mut Vec<PathStep>, out: &mut Vec<Vec<PathStep>>) {
    out.push(prefix.clone());
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                prefix.push(PathStep::Index(i));
                node_paths(item, prefix, out);
                prefix.pop();
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                prefix.push(PathStep::Key(key.clone()));
                node_paths(item, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum PathStep {
    Index(usize),
    Key(String),
}

fn parent_mut<'v>(root: &'v mut Value, path: &[PathStep]) -> Option<&'v mut Value> {
    let mut node = root;
    for step in path {
        node = match (step, node) {
            (PathStep::Index(i), Value::Array(items)) => items.get_mut(*i)?,
            (PathStep::Key(k), Value::Object(map)) => map.get_mut(k)?,
            _ => return None,
        };
    }
    Some(node)
}

#[derive(Clone, Debug)]
enum Mutation {
    Delete(usize),
    Duplicate(usize),
    Retype(usize, u8),
}

fn replacement(kind: u8) -> Value {
    match kind % 9 {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(-1),
        3 => json!(1.5),
        4 => json!(""),
        5 => json!("dtmi:ex:Other;1"),
        6 => json!([]),
        7 => json!({}),
        _ => json!({"@type": "Interface"}),
    }
}

fn mutate(docs: &mut Value, mutation: &Mutation) {
    let mut paths = Vec::new();
    node_paths(docs, &mut Vec::new(), &mut paths);
    // Never touch the root array itself: it is the batch, not a document.
    paths.retain(|p| !p.is_empty());
    if paths.is_empty() {
        return;
    }
    let (Mutation::Delete(n) | Mutation::Duplicate(n) | Mutation::Retype(n, _)) = mutation;
    let path = &paths[n % paths.len()];
    let (last, parent_path) = path.split_last().expect("non-empty path");
    let Some(parent) = parent_mut(docs, parent_path) else {
        return;
    };
    match (mutation, last, parent) {
        (Mutation::Delete(_), PathStep::Index(i), Value::Array(items)) => {
            items.remove(*i);
        }
        (Mutation::Delete(_), PathStep::Key(k), Value::Object(map)) => {
            map.shift_remove(k);
        }
        (Mutation::Duplicate(_), PathStep::Index(i), Value::Array(items)) => {
            let copy = items[*i].clone();
            items.insert(*i, copy);
        }
        (Mutation::Duplicate(_), PathStep::Key(k), Value::Object(map)) => {
            // Duplicate the value as an array of two, the JSON-LD way of
            // giving a property two values.
            if let Some(v) = map.get_mut(k) {
                *v = Value::Array(vec![v.clone(), v.clone()]);
            }
        }
        (Mutation::Retype(_, kind), PathStep::Index(i), Value::Array(items)) => {
            items[*i] = replacement(*kind)
        }
        (Mutation::Retype(_, kind), PathStep::Key(k), Value::Object(map)) => {
            map.insert(k.clone(), replacement(*kind));
        }
        _ => {}
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Duplicate),
        (any::<usize>(), any::<u8>()).prop_map(|(n, k)| Mutation::Retype(n, k)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_models_never_panic(seed in any::<usize>(), mutations in prop::collection::vec(mutation(), 1..4), allow in any::<bool>()) {
        let seeds = seeds();
        let mut docs = Value::Array(seeds[seed % seeds.len()].clone());
        for m in &mutations {
            mutate(&mut docs, m);
        }
        let Value::Array(docs) = docs else { unreachable!("the batch stays an array") };
        let mut set = ModelSet::with_options(ParseOptions { allow_undefined_extensions: allow });
        match set.add_values(&docs) {
            Err(problems) => {
                prop_assert!(set.is_empty());
                prop_assert!(!problems.0.is_empty());
                for p in &problems.0 {
                    prop_assert!(!p.message.is_empty() && !p.rule.is_empty());
                }
            }
            Ok(added) => {
                for id in &added {
                    prop_assert!(set.contains(id));
                }
                for interface in set.iter() {
                    for base in &interface.extends {
                        prop_assert!(set.contains(base), "{} extends missing {}", interface.id, base);
                        prop_assert!(set.is_of_model(&interface.id, base, false));
                    }
                    let mut names: Vec<&str> = set.contents(&interface.id).map(Content::name).collect();
                    let count = names.len();
                    names.sort_unstable();
                    names.dedup();
                    prop_assert_eq!(names.len(), count);
                    for content in &interface.contents {
                        if let Content::Property(p) = content {
                            // Must not panic whatever the value.
                            let _ = set.check_value(&p.schema, &json!({"a": [1, "x", null]}));
                        }
                    }
                }
            }
        }
    }
}
