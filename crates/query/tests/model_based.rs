//! Model-based property test of the evaluator: random conditions over a JOIN are
//! run by the engine (which splits them into conjuncts, pushes them down to the
//! join level that binds them, and may use indexes) and by a naive reference
//! written here from the documented semantics (three-valued logic, evaluated on
//! every joined row). Both must return the same rows.

mod common;

use std::collections::BTreeSet;

use proptest::prelude::*;
use query::{Limits, TwinGraph, execute, parse};
use serde_json::{Value, json};

#[derive(Debug, Clone)]
enum Cond {
    Compare {
        alias: usize,
        prop: usize,
        op: usize,
        literal: usize,
        flipped: bool,
    },
    In {
        alias: usize,
        prop: usize,
        literals: Vec<usize>,
        negated: bool,
    },
    Defined {
        alias: usize,
        prop: usize,
    },
    StartsWith {
        alias: usize,
        prop: usize,
        prefix: usize,
    },
    OfModel {
        alias: usize,
        model: usize,
        exact: bool,
    },
    Not(Box<Cond>),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
}

/// F: the FROM twin, C: the related twin, Rel: the relationship.
const ALIASES: [&str; 3] = ["F", "C", "Rel"];
const PROPS: [&str; 8] = [
    "name",
    "area",
    "temperature",
    "level",
    "occupied",
    "since",
    "$dtId",
    "seats",
];
const OPS: [&str; 6] = ["=", "!=", "<", "<=", ">", ">="];
const MODELS: [&str; 4] = [
    "dtmi:ex:Space;1",
    "dtmi:ex:Room;1",
    "dtmi:ex:Floor;1",
    "dtmi:ex:Sensor;1",
];
const PREFIXES: [&str; 4] = ["r", "f", "Lo", ""];

fn literals() -> Vec<Value> {
    vec![
        json!(0),
        json!(1),
        json!(30),
        json!(45.0),
        json!(21.5),
        json!(2020),
        json!("Lobby"),
        json!("r3"),
        json!("K"),
        json!(true),
        json!(false),
        json!(null),
    ]
}

fn literal_text(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    }
}

fn cond() -> impl Strategy<Value = Cond> {
    let n = literals().len();
    let leaf = prop_oneof![
        (0..3usize, 0..PROPS.len(), 0..OPS.len(), 0..n, any::<bool>()).prop_map(
            |(alias, prop, op, literal, flipped)| {
                Cond::Compare {
                    alias,
                    prop,
                    op,
                    literal,
                    flipped,
                }
            }
        ),
        (
            0..3usize,
            0..PROPS.len(),
            prop::collection::vec(0..n, 0..4),
            any::<bool>()
        )
            .prop_map(|(alias, prop, literals, negated)| Cond::In {
                alias,
                prop,
                literals,
                negated
            }),
        (0..3usize, 0..PROPS.len()).prop_map(|(alias, prop)| Cond::Defined { alias, prop }),
        (0..3usize, 0..PROPS.len(), 0..PREFIXES.len()).prop_map(|(alias, prop, prefix)| {
            Cond::StartsWith {
                alias,
                prop,
                prefix,
            }
        }),
        // IS_OF_MODEL takes twin aliases only.
        (0..2usize, 0..MODELS.len(), any::<bool>()).prop_map(|(alias, model, exact)| {
            Cond::OfModel {
                alias,
                model,
                exact,
            }
        }),
    ];
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|c| Cond::Not(Box::new(c))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Cond::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| Cond::Or(Box::new(a), Box::new(b))),
        ]
    })
}

fn render(c: &Cond) -> String {
    let lits = literals();
    match c {
        Cond::Compare {
            alias,
            prop,
            op,
            literal,
            flipped,
        } => {
            let path = format!("{}.{}", ALIASES[*alias], PROPS[*prop]);
            let lit = literal_text(&lits[*literal]);
            if *flipped {
                // `lit op path` means `path op' lit` with the operator mirrored.
                format!("{lit} {} {path}", OPS[*op])
            } else {
                format!("{path} {} {lit}", OPS[*op])
            }
        }
        Cond::In {
            alias,
            prop,
            literals: items,
            negated,
        } => format!(
            "{}.{} {} [{}]",
            ALIASES[*alias],
            PROPS[*prop],
            if *negated { "NIN" } else { "IN" },
            items
                .iter()
                .map(|i| literal_text(&lits[*i]))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Cond::Defined { alias, prop } => {
            format!("IS_DEFINED({}.{})", ALIASES[*alias], PROPS[*prop])
        }
        Cond::StartsWith {
            alias,
            prop,
            prefix,
        } => {
            format!(
                "STARTSWITH({}.{}, '{}')",
                ALIASES[*alias], PROPS[*prop], PREFIXES[*prefix]
            )
        }
        Cond::OfModel {
            alias,
            model,
            exact,
        } => format!(
            "IS_OF_MODEL({}, '{}'{})",
            ALIASES[*alias],
            MODELS[*model],
            if *exact { ", exact" } else { "" }
        ),
        Cond::Not(inner) => format!("NOT ({})", render(inner)),
        Cond::And(a, b) => format!("({}) AND ({})", render(a), render(b)),
        Cond::Or(a, b) => format!("({}) OR ({})", render(a), render(b)),
    }
}

// ---- the reference ---------------------------------------------------------------

fn number(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn equal(a: &Value, b: &Value) -> bool {
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn order(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => number(a)?.partial_cmp(&number(b)?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Null, Value::Null) => Some(std::cmp::Ordering::Equal),
        _ => None,
    }
}

struct Row<'a> {
    docs: [Value; 3],
    twins: [usize; 2],
    graph: &'a common::MemGraph,
}

fn reference(c: &Cond, row: &Row<'_>) -> Option<bool> {
    let lits = literals();
    let get = |alias: usize, prop: usize| row.docs[alias].get(PROPS[prop]).cloned();
    match c {
        Cond::Compare {
            alias,
            prop,
            op,
            literal,
            flipped,
        } => {
            let value = get(*alias, *prop)?;
            let lit = &lits[*literal];
            let (a, b) = if *flipped {
                (lit, &value)
            } else {
                (&value, lit)
            };
            match OPS[*op] {
                "=" => Some(equal(a, b)),
                "!=" => Some(!equal(a, b)),
                other => {
                    let o = order(a, b)?;
                    Some(match other {
                        "<" => o.is_lt(),
                        "<=" => o.is_le(),
                        ">" => o.is_gt(),
                        _ => o.is_ge(),
                    })
                }
            }
        }
        Cond::In {
            alias,
            prop,
            literals: items,
            negated,
        } => {
            let value = get(*alias, *prop)?;
            let found = items.iter().any(|i| equal(&value, &lits[*i]));
            Some(found != *negated)
        }
        Cond::Defined { alias, prop } => Some(get(*alias, *prop).is_some()),
        Cond::StartsWith {
            alias,
            prop,
            prefix,
        } => {
            let value = get(*alias, *prop)?;
            Some(value.as_str()?.starts_with(PREFIXES[*prefix]))
        }
        Cond::OfModel {
            alias,
            model,
            exact,
        } => Some(
            row.graph
                .is_of_model(row.twins[*alias], MODELS[*model], *exact),
        ),
        Cond::Not(inner) => reference(inner, row).map(|b| !b),
        Cond::And(a, b) => match (reference(a, row), reference(b, row)) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        Cond::Or(a, b) => match (reference(a, row), reference(b, row)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
    }
}

fn reference_rows(graph: &common::MemGraph, c: &Cond) -> BTreeSet<(String, String)> {
    let mut rows = BTreeSet::new();
    for f in graph.twins() {
        for (rel, target) in graph.outgoing(f, "contains") {
            let row = Row {
                docs: [
                    graph.twin_json(f),
                    graph.twin_json(target),
                    graph.relationship_json(rel),
                ],
                twins: [f, target],
                graph,
            };
            if reference(c, &row) == Some(true) {
                rows.insert((
                    graph.twin_id(f).to_owned(),
                    graph.twin_id(target).to_owned(),
                ));
            }
        }
    }
    rows
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn engine_agrees_with_the_reference(c in cond(), indexes in any::<bool>()) {
        let graph = common::building(indexes);
        let text = format!(
            "SELECT F.$dtId AS f, C.$dtId AS c FROM DIGITALTWINS F JOIN C RELATED F.contains Rel WHERE {}",
            render(&c)
        );
        let query = parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let page = execute(&query, &graph, 0, 1000, &Limits::default()).unwrap_or_else(|e| panic!("{text}: {e}"));
        let got: BTreeSet<(String, String)> = page
            .rows
            .iter()
            .map(|r| (r["f"].as_str().unwrap_or("").to_owned(), r["c"].as_str().unwrap_or("").to_owned()))
            .collect();
        prop_assert_eq!(got.len(), page.rows.len(), "duplicate rows for {}", text);
        prop_assert_eq!(got, reference_rows(&graph, &c), "{}", text);
    }
}
