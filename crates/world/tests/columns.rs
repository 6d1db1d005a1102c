//! The model tables answer property filters exactly as a full scan does: random
//! worlds (two models sharing property names, numbers up to and beyond 2^53,
//! short and long strings, booleans, components, twins deleted, re-created and
//! moved between models) are queried through `World::query`, which uses the
//! tables, and through a view of the same world that hides them, so the engine
//! scans and tests every twin itself. Both must return the same rows in the
//! same order.

use std::borrow::Cow;

use proptest::prelude::*;
use query::TwinGraph;
use serde_json::{Value, json};
use world::{Command, Condition, Timestamp, World, WorldId};

const NOW: Timestamp = Timestamp(1_700_000_000_000_000_000);

fn models() -> Vec<Value> {
    let contents = |extra: Value| {
        let mut list = vec![
            json!({ "@type": "Property", "name": "x", "schema": "double", "writable": true }),
            json!({ "@type": "Property", "name": "n", "schema": "long", "writable": true }),
            json!({ "@type": "Property", "name": "s", "schema": "string", "writable": true }),
            json!({ "@type": "Property", "name": "b", "schema": "boolean", "writable": true }),
        ];
        list.push(extra);
        list
    };
    vec![
        json!({ "@id": "dtmi:test:Motor;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
                "contents": [{ "@type": "Property", "name": "x", "schema": "double", "writable": true }] }),
        json!({ "@id": "dtmi:test:A;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
                "contents": contents(json!({ "@type": "Component", "name": "c", "schema": "dtmi:test:Motor;1" })) }),
        json!({ "@id": "dtmi:test:B;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
                "extends": "dtmi:test:Base;1",
                "contents": contents(json!({ "@type": "Property", "name": "c", "schema": "double", "writable": true })) }),
        json!({ "@id": "dtmi:test:Base;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3" }),
    ]
}

/// The same world with only the model and spatial indexes: the engine scans.
struct Scanned<'w>(&'w World);

impl TwinGraph for Scanned<'_> {
    type Twin = u32;
    type Rel = u32;
    fn twins(&self) -> Box<dyn Iterator<Item = u32> + '_> {
        TwinGraph::twins(self.0)
    }
    fn twins_of_model(&self, model: &str, exact: bool) -> Option<Vec<u32>> {
        TwinGraph::twins_of_model(self.0, model, exact)
    }
    fn twins_in_box(&self, min: [f64; 3], max: [f64; 3]) -> Option<Vec<u32>> {
        TwinGraph::twins_in_box(self.0, min, max)
    }
    fn twin_by_id(&self, id: &str) -> Option<u32> {
        TwinGraph::twin_by_id(self.0, id)
    }
    fn twin_id(&self, twin: u32) -> &str {
        TwinGraph::twin_id(self.0, twin)
    }
    fn is_of_model(&self, twin: u32, model: &str, exact: bool) -> bool {
        TwinGraph::is_of_model(self.0, twin, model, exact)
    }
    fn twin_value(&self, twin: u32, path: &[&str]) -> Option<Cow<'_, Value>> {
        TwinGraph::twin_value(self.0, twin, path)
    }
    fn twin_json(&self, twin: u32) -> Value {
        TwinGraph::twin_json(self.0, twin)
    }
    fn outgoing(&self, twin: u32, name: &str) -> Vec<(u32, u32)> {
        TwinGraph::outgoing(self.0, twin, name)
    }
    fn relationships(&self) -> Box<dyn Iterator<Item = u32> + '_> {
        TwinGraph::relationships(self.0)
    }
    fn relationship_value(&self, rel: u32, path: &[&str]) -> Option<Cow<'_, Value>> {
        TwinGraph::relationship_value(self.0, rel, path)
    }
    fn relationship_json(&self, rel: u32) -> Value {
        TwinGraph::relationship_json(self.0, rel)
    }
    fn world_position(&self, twin: u32) -> Option<[f64; 3]> {
        TwinGraph::world_position(self.0, twin)
    }
}

/// Values near the edges the cells care about.
const NUMBERS: [f64; 7] = [-1.5, 0.0, -0.0, 1.0, 2.5, 80.0, 1e300];
const LONGS: [i64; 6] = [-3, 0, 1, 80, 9_007_199_254_740_993, -9_007_199_254_740_993];
const STRINGS: [&str; 8] = [
    "", "a", "ab", "line-a", "line-ab", "offline", "offlinf", "a\u{e9}",
];

fn twin_body(model: bool, fields: &[(u8, usize)]) -> Value {
    let model_id = if model {
        "dtmi:test:A;1"
    } else {
        "dtmi:test:B;1"
    };
    let mut body = json!({ "$metadata": { "$model": model_id } });
    for (field, pick) in fields {
        match field {
            0 => body["x"] = json!(NUMBERS[pick % NUMBERS.len()]),
            1 => body["n"] = json!(LONGS[pick % LONGS.len()]),
            2 => body["s"] = json!(STRINGS[pick % STRINGS.len()]),
            3 => body["b"] = json!(pick % 2 == 0),
            _ if model => body["c"] = json!({ "x": NUMBERS[pick % NUMBERS.len()] }),
            _ => body["c"] = json!(NUMBERS[pick % NUMBERS.len()]),
        }
    }
    body
}

fn literal(pick: usize) -> String {
    match pick % 12 {
        0..=3 => format!("{}", NUMBERS[pick % NUMBERS.len()]),
        4..=5 => format!("{}", LONGS[pick % LONGS.len()]),
        6..=9 => format!("'{}'", STRINGS[pick % STRINGS.len()]),
        10 => "true".into(),
        _ => "null".into(),
    }
}

fn condition(parts: &[(u8, u8, usize)]) -> String {
    const PROPS: [&str; 6] = ["x", "n", "s", "b", "c", "nothing"];
    const OPS: [&str; 6] = ["=", "!=", "<", "<=", ">", ">="];
    parts
        .iter()
        .map(|(prop, op, pick)| match prop % 8 {
            6 => "IS_OF_MODEL(T, 'dtmi:test:Base;1')".to_owned(),
            7 => format!("{} {} T.x", literal(*pick), OPS[*op as usize % 6]),
            p => format!(
                "T.{} {} {}",
                PROPS[p as usize],
                OPS[*op as usize % 6],
                literal(*pick)
            ),
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn rows(graph: &impl TwinGraph, text: &str) -> Vec<Value> {
    let query = query::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    query::execute(&query, graph, 0, 10_000, &query::Limits::default())
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .rows
}

fn apply(world: &mut World, command: Command) {
    let _ = world.apply(command, NOW);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn filters_from_the_tables_equal_a_scan(
        twins in proptest::collection::vec((any::<bool>(), proptest::collection::vec((0u8..5, 0usize..64), 0..5)), 1..40),
        deletes in proptest::collection::vec(0usize..40, 0..10),
        queries in proptest::collection::vec(proptest::collection::vec((0u8..8, 0u8..6, 0usize..64), 1..4), 1..8),
    ) {
        let mut w = World::new(WorldId::default_world());
        w.apply(Command::AddModels(models()), NOW).expect("models load");
        for (i, (model, fields)) in twins.iter().enumerate() {
            let id = format!("t{}", i % 25);
            apply(&mut w, Command::PutTwin { id, body: twin_body(*model, fields), condition: Condition::None });
        }
        for d in &deletes {
            apply(&mut w, Command::DeleteTwin { id: format!("t{d}"), condition: Condition::None });
        }
        // Re-created twins take freed slots: rows now come out of twin order.
        for (i, (model, fields)) in twins.iter().enumerate().take(8) {
            apply(&mut w, Command::PutTwin { id: format!("u{i}"), body: twin_body(!model, fields), condition: Condition::None });
        }
        for parts in &queries {
            let text = format!("SELECT T.$dtId AS id FROM DIGITALTWINS T WHERE {}", condition(parts));
            prop_assert_eq!(rows(&w, &text), rows(&Scanned(&w), &text), "{}", text);
            let count = format!("SELECT COUNT() FROM DIGITALTWINS T WHERE {}", condition(parts));
            prop_assert_eq!(rows(&w, &count), rows(&Scanned(&w), &count), "{}", count);
        }
    }
}

#[test]
fn tables_stay_exact_through_compaction() {
    // Enough twins that deleting most of them compacts the tables, and
    // re-creating them in freed slots reorders and compacts them again.
    let mut w = World::new(WorldId::default_world());
    w.apply(Command::AddModels(models()), NOW)
        .expect("models load");
    let body = |i: usize| twin_body(!i.is_multiple_of(3), &[(0, i), (2, i / 3), (1, i / 7)]);
    for i in 0..3_000 {
        apply(
            &mut w,
            Command::PutTwin {
                id: format!("t{i}"),
                body: body(i),
                condition: Condition::None,
            },
        );
    }
    for i in (0..3_000).filter(|i| i % 4 != 1) {
        apply(
            &mut w,
            Command::DeleteTwin {
                id: format!("t{i}"),
                condition: Condition::None,
            },
        );
    }
    for i in 0..1_500 {
        apply(
            &mut w,
            Command::PutTwin {
                id: format!("u{i}"),
                body: body(i + 1),
                condition: Condition::None,
            },
        );
    }
    // Move some twins to the other model.
    for i in (1..3_000usize).step_by(40) {
        apply(
            &mut w,
            Command::PutTwin {
                id: format!("t{i}"),
                body: twin_body(i.is_multiple_of(3), &[(0, i)]),
                condition: Condition::None,
            },
        );
    }
    for text in [
        "SELECT T.$dtId AS id FROM DIGITALTWINS T WHERE T.x > 1",
        "SELECT T.$dtId AS id FROM DIGITALTWINS T WHERE T.s = 'offline' AND T.x >= 0",
        "SELECT T.$dtId AS id FROM DIGITALTWINS T WHERE T.n != 80",
        "SELECT T.$dtId AS id FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:test:A;1') AND T.s < 'line-a'",
        "SELECT COUNT() FROM DIGITALTWINS T WHERE T.x = 2.5",
    ] {
        let fast = rows(&w, text);
        assert_eq!(fast, rows(&Scanned(&w), text), "{text}");
        assert!(!fast.is_empty(), "{text} should match something");
    }
}
