//! Hostile or broken input is refused with a problem, never a panic, a stack
//! overflow or unbounded work: nesting depth, document size and fan-out are
//! bounded by the named constants in `model::limits`.

use model::{MAX_JSON_DEPTH, MAX_SOURCE_BYTES, ModelSet, ModelSource};
use serde_json::{Value, json};

fn add_text(text: String) -> Vec<&'static str> {
    let mut set = ModelSet::new();
    match set.add(&[ModelSource {
        name: "input.json".into(),
        text,
    }]) {
        Ok(_) => vec![],
        Err(problems) => problems.0.iter().map(|p| p.rule).collect(),
    }
}

#[test]
fn deeply_nested_json_text_is_a_problem() {
    let depth = 200_000;
    let text = "[".repeat(depth) + &"]".repeat(depth);
    assert_eq!(add_text(text), ["json-syntax"]);
}

#[test]
fn deeply_nested_values_are_a_problem() {
    let mut value = json!({"@type": "Array", "elementSchema": "double"});
    for _ in 0..(MAX_JSON_DEPTH * 2) {
        value = json!({"@type": "Array", "elementSchema": value});
    }
    let doc = json!({"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Deep;1", "@type": "Interface",
        "contents": [{"@type": "Telemetry", "name": "t", "schema": value}]});
    let err = ModelSet::new().add_values(&[doc]).unwrap_err();
    assert_eq!(err.0.len(), 1);
    assert_eq!(err.0[0].rule, "max-json-depth");
}

#[test]
fn oversized_documents_are_a_problem() {
    let text = format!("{{\"comment\": \"{}\"}}", "x".repeat(MAX_SOURCE_BYTES));
    assert_eq!(add_text(text), ["max-source-size"]);
}

#[test]
fn bom_is_accepted_and_garbage_is_not() {
    let good = "\u{feff}{\"@context\": \"dtmi:dtdl:context;3\", \"@id\": \"dtmi:ex:A;1\", \"@type\": \"Interface\"}";
    assert!(add_text(good.to_owned()).is_empty());
    assert_eq!(add_text("\u{feff}\u{feff}{}".to_owned()), ["json-syntax"]);
    assert_eq!(add_text("42".to_owned()), ["root-array-or-object"]);
}

/// Wide diamond inheritance and schema reuse must stay cheap to validate and
/// expand: 40 layers of 2 interfaces, each extending both of the layer below.
#[test]
fn diamond_hierarchies_and_shared_schemas_stay_linear() {
    let mut docs: Vec<Value> = Vec::new();
    let layers = 40;
    for layer in 0..layers {
        for side in ["a", "b"] {
            let mut doc = json!({"@context": "dtmi:dtdl:context;3",
                "@id": format!("dtmi:ex:L{layer}{side};1"), "@type": "Interface",
                "contents": [{"@type": "Property", "name": format!("p{layer}{side}"), "schema": "double"}]});
            if layer > 0 {
                doc["extends"] = json!([
                    format!("dtmi:ex:L{}a;1", layer - 1),
                    format!("dtmi:ex:L{}b;1", layer - 1)
                ]);
            }
            docs.push(doc);
        }
    }
    let start = std::time::Instant::now();
    let err = ModelSet::new().add_values(&docs).unwrap_err();
    // Too deep for DTDL (at most 10 levels), reported, and quickly.
    assert!(err.0.iter().all(|p| p.rule == "extends-depth"), "{err}");
    assert!(start.elapsed().as_secs() < 5, "took {:?}", start.elapsed());
}
