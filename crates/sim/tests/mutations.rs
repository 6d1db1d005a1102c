//! Property test: a scenario mutated at random (bytes cut out, text spliced in,
//! attribute values replaced by hostile ones) is either refused with an error or
//! runs; parsing and running never panic or hang.

mod common;

use std::path::Path;

use proptest::prelude::*;

/// Values that have broken parsers before: empty, non-numbers, huge, negative,
/// non-finite, expressions that fail, references to nothing, deep nesting.
const HOSTILE: &[&str] = &[
    "",
    "abc",
    "-1",
    "0",
    "1e309",
    "-1e309",
    "NaN",
    "inf",
    "${1/0}",
    "${",
    "${(((((1}",
    "$",
    "$Nope",
    "99999999999",
    "-0",
    "1e-320",
    "true",
    "<",
    "&amp;",
];

fn texts() -> (String, road::Network, common::DirResolver) {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let resolver = common::DirResolver {
        base: data.clone(),
        fallbacks: Vec::new(),
    };
    let text = std::fs::read_to_string(data.join("highway_cut_in.xosc")).unwrap();
    let network =
        road::Network::parse(&std::fs::read_to_string(data.join("highway.xodr")).unwrap()).unwrap();
    (text, network, resolver)
}

#[derive(Debug, Clone)]
enum Mutation {
    Cut { at: usize, len: usize },
    Splice { at: usize, text: String },
    Value { nth: usize, value: usize },
}

fn apply(text: &str, mutation: &Mutation) -> String {
    let clamp = |i: usize| {
        let mut i = i % (text.len() + 1);
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    match mutation {
        Mutation::Cut { at, len } => {
            let start = clamp(*at);
            let end = clamp(start + len);
            if end < start {
                text.to_string()
            } else {
                format!("{}{}", &text[..start], &text[end..])
            }
        }
        Mutation::Splice { at, text: insert } => {
            let at = clamp(*at);
            format!("{}{}{}", &text[..at], insert, &text[at..])
        }
        Mutation::Value { nth, value } => {
            // Replace the nth attribute value (between `="` and `"`).
            let starts: Vec<usize> = text.match_indices("=\"").map(|(i, _)| i + 2).collect();
            if starts.is_empty() {
                return text.to_string();
            }
            let start = starts[nth % starts.len()];
            let Some(end) = text[start..].find('"').map(|e| start + e) else {
                return text.to_string();
            };
            format!(
                "{}{}{}",
                &text[..start],
                HOSTILE[value % HOSTILE.len()],
                &text[end..]
            )
        }
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1usize..200).prop_map(|(at, len)| Mutation::Cut { at, len }),
        (any::<usize>(), "[<>/=\"$a-zA-Z0-9 {}().-]{1,12}")
            .prop_map(|(at, text)| Mutation::Splice { at, text }),
        (any::<usize>(), any::<usize>()).prop_map(|(nth, value)| Mutation::Value { nth, value }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn mutated_scenarios_never_panic(mutations in proptest::collection::vec(mutation(), 1..4)) {
        let (text, network, resolver) = texts();
        let mut mutated = text;
        for m in &mutations {
            mutated = apply(&mutated, m);
        }
        if let Ok(scenario) = sim::Scenario::parse(&mutated, "mutated.xosc", &resolver) {
            // Run a bounded stretch with and without the road; errors are fine.
            for network in [Some(network.clone()), None] {
                if let Ok(mut runner) = sim::Runner::new(scenario.clone(), network, 0.05) {
                    let _ = runner.run_to_end(5.0);
                    let report = runner.report();
                    let _ = sim::report_json(std::slice::from_ref(&report));
                    let _ = sim::junit_xml("m", &[report]);
                }
            }
        }
    }
}
