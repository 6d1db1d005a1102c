//! Shared helpers of the integration tests: where the corpora are, seed
//! models taken from the DTDL specification suites, and DTDL-aware random
//! mutations of JSON documents (driven by a tiny deterministic generator so
//! every run and every failure is reproducible).

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

pub(crate) fn corpora() -> PathBuf {
    std::env::var_os("TWINSPACE_CORPORA").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora"),
        PathBuf::from,
    )
}

/// One case of the specification suites.
pub(crate) struct SpecCase {
    pub(crate) name: String,
    pub(crate) valid: bool,
    pub(crate) allow_undefined: bool,
    /// The documents of the batch, each an object or an array of objects.
    pub(crate) input: Vec<Value>,
}

/// Every case of `dtdl-spec/<version>`, or none when the corpus is missing.
pub(crate) fn spec_cases(version: &str) -> Vec<SpecCase> {
    let dir = corpora().join("dtdl-spec").join(version);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.retain(|p| p.extension().is_some_and(|x| x == "json"));
    files.sort();
    let mut cases = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let Ok(Value::Array(items)) =
            serde_json::from_str::<Value>(text.trim_start_matches('\u{feff}'))
        else {
            continue;
        };
        let stem = file
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        for (i, case) in items.iter().enumerate() {
            let allow_undefined = case["options"]
                .as_array()
                .is_some_and(|o| o.iter().any(|x| x == "AllowUndefinedExtensions"));
            cases.push(SpecCase {
                name: format!("{stem}[{i}]"),
                valid: case["valid"] == json!(true),
                allow_undefined,
                input: case["input"].as_array().cloned().unwrap_or_default(),
            });
        }
    }
    cases
}

/// A small deterministic generator (SplitMix64).
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Step {
    Index(usize),
    Key(String),
}

fn paths(value: &Value, prefix: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(prefix.clone());
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                prefix.push(Step::Index(i));
                paths(item, prefix, out);
                prefix.pop();
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                prefix.push(Step::Key(key.clone()));
                paths(item, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn node_mut<'v>(root: &'v mut Value, path: &[Step]) -> Option<&'v mut Value> {
    let mut node = root;
    for step in path {
        node = match (step, node) {
            (Step::Index(i), Value::Array(items)) => items.get_mut(*i)?,
            (Step::Key(k), Value::Object(map)) => map.get_mut(k)?,
            _ => return None,
        };
    }
    Some(node)
}

/// Words of the DTDL language and near misses, used to replace values and keys.
const VOCABULARY: &[&str] = &[
    "Interface",
    "Telemetry",
    "Property",
    "Command",
    "Relationship",
    "Component",
    "Array",
    "Enum",
    "EnumValue",
    "Map",
    "MapKey",
    "MapValue",
    "Object",
    "Field",
    "CommandPayload",
    "CommandRequest",
    "CommandResponse",
    "Temperature",
    "double",
    "integer",
    "string",
    "boolean",
    "date",
    "dateTime",
    "duration",
    "point",
    "uuid",
    "bytes",
    "long",
    "name",
    "schema",
    "contents",
    "extends",
    "schemas",
    "fields",
    "enumValues",
    "mapKey",
    "mapValue",
    "target",
    "writable",
    "unit",
    "degreeCelsius",
    "displayName",
    "description",
    "comment",
    "elementSchema",
    "valueSchema",
    "minMultiplicity",
    "maxMultiplicity",
    "properties",
    "request",
    "response",
    "enumValue",
    "commandType",
    "@id",
    "@type",
    "@context",
    "@value",
    "@language",
    "@graph",
    "dtmi:dtdl:context;2",
    "dtmi:dtdl:context;3",
    "dtmi:dtdl:extension:quantitativeTypes;1",
    "dtmi:ex:Other;1",
    "dtmi:ex:Other",
    "dtmi:ex:Other;1.2",
    "dtmi:ex:bad_;1",
    "dtmi:dtdl:class:Property;3",
    "dtmi:dtdl:property:name;3",
    "urn:x",
    "",
    "x y",
    "_x",
    "a",
    "en",
    "de-CH",
];

fn vocabulary_value(rng: &mut Rng) -> Value {
    match rng.below(12) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(0),
        3 => json!(-3),
        4 => json!(2.5),
        5 => json!([]),
        6 => json!({}),
        7 => json!("x".repeat(rng.below(600))),
        _ => json!(VOCABULARY[rng.below(VOCABULARY.len())]),
    }
}

/// Applies one random mutation somewhere below the batch array.
pub(crate) fn mutate(batch: &mut Value, rng: &mut Rng) {
    let mut all = Vec::new();
    paths(batch, &mut Vec::new(), &mut all);
    all.retain(|p| !p.is_empty());
    if all.is_empty() {
        return;
    }
    let path = all[rng.below(all.len())].clone();
    let Some((last, parent_path)) = path.split_last() else {
        return;
    };
    let op = rng.below(5);
    let replacement = vocabulary_value(rng);
    let new_key = VOCABULARY[rng.below(VOCABULARY.len())];
    let Some(parent) = node_mut(batch, parent_path) else {
        return;
    };
    match (op, last, parent) {
        (0, Step::Index(i), Value::Array(items)) => {
            items.remove(*i);
        }
        (0, Step::Key(k), Value::Object(map)) => {
            map.shift_remove(k);
        }
        (1, Step::Index(i), Value::Array(items)) => {
            let copy = items[*i].clone();
            items.insert(*i, copy);
        }
        (1, Step::Key(k), Value::Object(map)) => {
            if let Some(v) = map.get_mut(k) {
                *v = Value::Array(vec![v.clone(), v.clone()]);
            }
        }
        (2 | 3, Step::Index(i), Value::Array(items)) => items[*i] = replacement,
        (2 | 3, Step::Key(k), Value::Object(map)) => {
            map.insert(k.clone(), replacement);
        }
        (_, Step::Key(k), Value::Object(map)) => {
            // Rename the key, keeping the value.
            if let Some(v) = map.shift_remove(k) {
                map.insert(new_key.to_owned(), v);
            }
        }
        _ => {}
    }
}
