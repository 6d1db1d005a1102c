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

/// Primitive schemas of DTDL v2 and v3 (the v4 numeric types are left out).
const PRIMITIVES: &[&str] = &[
    "boolean",
    "date",
    "dateTime",
    "double",
    "duration",
    "float",
    "integer",
    "long",
    "string",
    "time",
    "point",
    "lineString",
    "polygon",
    "multiPoint",
    "multiLineString",
    "multiPolygon",
];

/// Semantic types with a unit that fits and one that does not.
const SEMANTIC: &[(&str, &str, &str)] = &[
    ("Temperature", "degreeCelsius", "metre"),
    ("Length", "kilometre", "kelvin"),
    ("Pressure", "kilopascal", "volt"),
    ("Humidity", "gramPerCubicMetre", "percent"),
    ("RelativeHumidity", "percent", "lux"),
    ("Power", "kilowatt", "joule"),
    ("Energy", "kilowattHour", "watt"),
    ("TimeSpan", "second", "hertz"),
    ("Velocity", "kilometrePerHour", "metre"),
    ("DataSize", "mebibyte", "bitPerSecond"),
    ("ApparentPower", "kilovoltAmpere", "watt"),
    ("Irradiance", "wattPerSquareMetre", "lux"),
];

/// Random well-formed DTDL, with a small chance per element of one
/// deliberate mistake, for comparing verdicts on valid-looking models.
pub(crate) struct Generator<'r> {
    pub(crate) rng: &'r mut Rng,
    pub(crate) version: u32,
    next_id: usize,
    /// Reusable schemas declared so far (by any interface of the batch).
    foreign_schemas: Vec<String>,
    /// Probability (per mille) that one element gets a deliberate mistake.
    pub(crate) mistakes_per_mille: usize,
}

impl<'r> Generator<'r> {
    pub(crate) fn new(rng: &'r mut Rng, version: u32, mistakes_per_mille: usize) -> Self {
        Generator {
            rng,
            version,
            next_id: 0,
            foreign_schemas: Vec::new(),
            mistakes_per_mille,
        }
    }

    fn mistake(&mut self) -> bool {
        self.rng.below(1000) < self.mistakes_per_mille
    }

    fn name(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        if self.mistake() {
            return ["1bad", "bad_", "has space", "", &"n".repeat(600)][self.rng.below(5)]
                .to_owned();
        }
        format!("{prefix}{}", self.next_id)
    }

    fn id(&mut self, what: &str) -> String {
        self.next_id += 1;
        format!("dtmi:gen:{what}{};1", self.next_id)
    }

    fn lang(&mut self) -> Value {
        match self.rng.below(5) {
            0 => json!("Some text"),
            1 => json!({"en": "Text", "de": "Text"}),
            2 => {
                json!([{"@value": "Text", "@language": "en"}, {"@value": "Texte", "@language": "fr"}])
            }
            3 => {
                let tags = [
                    "zh-Hant",
                    "sr-Latn-RS",
                    "fr-155",
                    "pt-BR",
                    "long",
                    "EN",
                    "en-us",
                    "english",
                    "de-CH-1901",
                ];
                let tag = tags[self.rng.below(tags.len())];
                json!({ tag: "x" })
            }
            _ => json!(["Plain", {"@value": "Texte", "@language": "fr"}]),
        }
    }

    fn decorate(&mut self, element: &mut Value) {
        if self.rng.below(3) == 0 {
            element["displayName"] = self.lang();
        }
        if self.rng.below(4) == 0 {
            element["description"] = self.lang();
        }
        if self.rng.below(6) == 0 {
            element["comment"] = json!("for authors");
        }
    }

    /// A schema value: a primitive, a reference to a reusable schema, or a
    /// nested complex schema.
    pub(crate) fn schema(&mut self, depth: usize, reusable: &[String]) -> Value {
        let choice = if depth >= 3 { 0 } else { self.rng.below(7) };
        let mut schema = match choice {
            0 | 1 => json!(PRIMITIVES[self.rng.below(PRIMITIVES.len())]),
            2 if !reusable.is_empty() => json!(reusable[self.rng.below(reusable.len())]),
            2 | 3 => {
                let string_values = self.rng.below(2) == 0;
                let count = 1 + self.rng.below(3);
                let values: Vec<Value> = (0..count)
                    .map(|i| {
                        let value = if string_values {
                            json!(format!("v{i}"))
                        } else {
                            json!(i)
                        };
                        json!({"name": self.name("ev"), "enumValue": value})
                    })
                    .collect();
                json!({"@type": "Enum", "valueSchema": if string_values { "string" } else { "integer" }, "enumValues": values})
            }
            4 => {
                let count = 1 + self.rng.below(3);
                let mut fields: Vec<Value> =
                    (0..count).map(|_| json!({"name": self.name("f"), "schema": self.schema(depth + 1, reusable)})).collect();
                if self.rng.below(4) == 0 {
                    // Semantic types on fields: DTDL v3 with quantitativeTypes only.
                    let (semantic, good, _) = SEMANTIC[self.rng.below(SEMANTIC.len())];
                    let context = if self.version == 3 {
                        json!("dtmi:dtdl:extension:quantitativeTypes;1")
                    } else {
                        json!([])
                    };
                    fields.push(json!({"@type": ["Field", semantic], "name": self.name("q"), "schema": "float",
                        "unit": good, "@context": context}));
                }
                if self.mistake() && fields.len() > 1 {
                    let first = fields[0]["name"].clone();
                    fields[1]["name"] = first;
                }
                json!({"@type": "Object", "fields": fields})
            }
            5 => {
                let mut map = json!({"@type": "Map",
                    "mapKey": {"name": self.name("k"), "schema": "string"},
                    "mapValue": {"name": self.name("v"), "schema": self.schema(depth + 1, reusable)}});
                if self.rng.below(5) == 0 {
                    let (semantic, good, _) = SEMANTIC[self.rng.below(SEMANTIC.len())];
                    map["mapValue"] = json!({"@type": ["MapValue", semantic], "name": self.name("v"), "schema": "double",
                        "unit": good, "@context": "dtmi:dtdl:extension:quantitativeTypes;1"});
                    if self.version == 2 {
                        map["mapValue"]["@context"] = json!([]);
                    }
                }
                map
            }
            _ => json!({"@type": "Array", "elementSchema": self.schema(depth + 1, reusable)}),
        };
        if schema.is_object() {
            self.decorate(&mut schema);
            if self.mistake() {
                schema["@type"] = json!("Telemetry");
            }
        }
        schema
    }

    fn content(&mut self, others: &[String], reusable: &[String]) -> Value {
        let mut content = match self.rng.below(6) {
            0 | 1 => {
                let mut p = json!({"@type": "Property", "name": self.name("p"), "schema": self.schema(0, reusable)});
                if self.rng.below(2) == 0 {
                    p["writable"] = json!(self.rng.below(2) == 0);
                }
                p
            }
            2 => {
                let mut t =
                    json!({"@type": "Telemetry", "name": self.name("t"), "schema": "double"});
                if self.rng.below(8) == 0 {
                    // Explicit ids on contents are allowed and must be unique.
                    t["@id"] = json!(self.id("T"));
                }
                if self.rng.below(2) == 0 {
                    let (semantic, good, bad) = SEMANTIC[self.rng.below(SEMANTIC.len())];
                    t["@type"] = json!(["Telemetry", semantic]);
                    t["unit"] = json!(if self.mistake() { bad } else { good });
                    if self.version == 3 {
                        t["@context"] = json!("dtmi:dtdl:extension:quantitativeTypes;1");
                    }
                } else {
                    t["schema"] = self.schema(0, reusable);
                }
                t
            }
            3 => {
                let mut r = json!({"@type": "Relationship", "name": self.name("r")});
                if !others.is_empty() && self.rng.below(2) == 0 {
                    r["target"] = json!(others[self.rng.below(others.len())]);
                }
                if self.rng.below(2) == 0 {
                    r["maxMultiplicity"] = json!(if self.mistake() {
                        501 + self.rng.below(10)
                    } else {
                        1 + self.rng.below(10)
                    });
                    r["minMultiplicity"] = json!(if self.mistake() { 1 } else { 0 });
                }
                if self.rng.below(2) == 0 {
                    r["properties"] =
                        json!([{"@type": "Property", "name": self.name("rp"), "schema": "string"}]);
                }
                r
            }
            4 if !others.is_empty() => {
                json!({"@type": "Component", "name": self.name("c"), "schema": others[self.rng.below(others.len())]})
            }
            _ => {
                let (request, response) = if self.version == 2 {
                    ("CommandPayload", "CommandPayload")
                } else {
                    ("CommandRequest", "CommandResponse")
                };
                let mut c = json!({"@type": "Command", "name": self.name("cmd")});
                if self.rng.below(2) == 0 {
                    c["request"] = json!({"@type": request, "name": self.name("req"), "schema": self.schema(1, reusable)});
                }
                if self.rng.below(2) == 0 {
                    c["response"] = json!({"@type": response, "name": self.name("res"), "schema": self.schema(1, reusable)});
                }
                c
            }
        };
        self.decorate(&mut content);
        content
    }

    /// A batch of 1 to 4 interfaces: leaves first (they may be component
    /// schemas), then interfaces that extend, embed and target earlier ones.
    pub(crate) fn batch(&mut self) -> Value {
        let count = 1 + self.rng.below(4);
        let mut leaves: Vec<String> = Vec::new();
        let mut docs = Vec::new();
        for i in 0..count {
            let id = self.id("I");
            let mut doc = json!({"@context": format!("dtmi:dtdl:context;{}", self.version), "@id": id, "@type": "Interface"});
            let mut reusable = Vec::new();
            if self.rng.below(3) == 0 {
                let sid = self.id("S");
                let mut schema = self.schema(1, &[]);
                if !schema.is_object() {
                    schema = json!({"@type": "Array", "elementSchema": schema});
                }
                schema["@id"] = json!(sid);
                doc["schemas"] = json!([schema]);
                reusable.push(sid.clone());
                self.foreign_schemas.push(sid);
            }
            // Components may only use interfaces without components: the leaves.
            let others: Vec<String> = if i > 0 { leaves.clone() } else { Vec::new() };
            // Now and then use a reusable schema of another interface, which
            // DTDL does not allow (schemas are local to their interface).
            if self.mistake() && !self.foreign_schemas.is_empty() {
                let foreign =
                    self.foreign_schemas[self.rng.below(self.foreign_schemas.len())].clone();
                reusable.push(foreign);
            }
            let n = self.rng.below(5);
            let mut contents: Vec<Value> =
                (0..n).map(|_| self.content(&others, &reusable)).collect();
            if i == 0 {
                contents.retain(|c| c["@type"] != json!("Component"));
            }
            doc["contents"] = json!(contents);
            if i > 0 && !leaves.is_empty() && self.rng.below(2) == 0 {
                let most = if self.mistake() { 4 } else { 2 };
                let count = 1 + self.rng.below(most);
                let bases: Vec<Value> = (0..count)
                    .map(|_| json!(leaves[self.rng.below(leaves.len())]))
                    .collect();
                doc["extends"] = json!(bases);
            } else if self.rng.below(6) == 0 {
                // An interface defined inline in `extends`, sometimes
                // clashing with a name of the extending interface.
                let inline_id = self.id("X");
                let name = match contents_names(&doc).into_iter().next() {
                    Some(taken) if self.mistake() => taken,
                    _ => self.name("inh"),
                };
                doc["extends"] = json!({"@id": inline_id, "@type": "Interface",
                    "contents": [{"@type": "Property", "name": name, "schema": "string"}]});
            }
            self.decorate(&mut doc);
            if i == 0 || self.rng.below(2) == 0 {
                leaves.push(id.clone());
            }
            let has_component = doc["contents"]
                .as_array()
                .is_some_and(|c| c.iter().any(|x| x["@type"] == json!("Component")));
            if has_component || doc.get("extends").is_some() {
                leaves.retain(|l| *l != id);
            }
            docs.push(doc);
        }
        // Order in the batch must not matter.
        if self.rng.below(2) == 0 {
            docs.reverse();
        }
        Value::Array(docs)
    }
}

fn contents_names(doc: &Value) -> Vec<String> {
    doc["contents"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter_map(|x| x["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
