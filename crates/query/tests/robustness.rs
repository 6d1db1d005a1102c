//! Property tests: no input makes the parser or the evaluator panic, every error
//! span lies inside the input on character boundaries, and every query that parses
//! re-prints to text that parses back to the same query and gives the same rows.

mod common;

use proptest::prelude::*;
use query::{Limits, execute, parse};

/// Valid queries to mutate; together they use every construct.
const SEEDS: &[&str] = &[
    "SELECT * FROM DIGITALTWINS",
    "SELECT T FROM DIGITALTWINS T WHERE T.$dtId = 'r1'",
    "SELECT TOP(3) T.name AS n FROM DIGITALTWINS T WHERE T.area > 20 OR NOT T.occupied = true",
    "SELECT COUNT() FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:ex:Room;1', exact)",
    "SELECT B, F FROM DIGITALTWINS B JOIN F RELATED B.contains R WHERE R.since IN [2019, 2020] AND B.$dtId = 'b1'",
    "SELECT * FROM RELATIONSHIPS R WHERE STARTSWITH(R.$sourceId, 'r') AND R.$targetId NIN ['s1']",
    "SELECT * FROM DIGITALTWINS T WHERE WITHIN_BOX(T, 0, 0, 0, 2, 2, 3) AND IS_DEFINED(T['display name'])",
    "SELECT * FROM DIGITALTWINS T WHERE WITHIN_SPHERE(1, 1, 0, 2.5) AND (IS_NULL(T.x) OR IS_NUMBER(T.y))",
    "SELECT T.$metadata.$model AS m, COUNT(), AVG(T.area) FROM DIGITALTWINS T GROUP BY T.$metadata.$model",
    "SELECT R.name, S.kind FROM DIGITALTWINS R JOIN S RELATED R.hasSensor WHERE ARRAY_CONTAINS(R.tags, 'staff') AND CONTAINS(S.kind, \"o\")",
];

/// Pieces to build token soup and to splice into seeds.
const TOKENS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "JOIN",
    "RELATED",
    "AND",
    "OR",
    "NOT",
    "IN",
    "NIN",
    "AS",
    "TOP",
    "GROUP",
    "BY",
    "DIGITALTWINS",
    "RELATIONSHIPS",
    "COUNT",
    "MIN",
    "IS_OF_MODEL",
    "WITHIN_BOX",
    "WITHIN_SPHERE",
    "STARTSWITH",
    "IS_DEFINED",
    "exact",
    "T",
    "R",
    "T.name",
    "T.$dtId",
    "$metadata",
    ".",
    ",",
    "(",
    ")",
    "[",
    "]",
    "*",
    "=",
    "!=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "'x'",
    "\"y\"",
    "'",
    "\\",
    "1",
    "-2.5",
    "1e3",
    "true",
    "null",
    "é",
    "\u{0}",
    "--",
    ";",
];

fn check_error_span(text: &str, offset: usize, len: usize) {
    assert!(
        offset + len <= text.len(),
        "span {offset}+{len} outside {text:?}"
    );
    assert!(
        text.is_char_boundary(offset) && text.is_char_boundary(offset + len),
        "span splits a character in {text:?}"
    );
}

/// Parses; on success checks the re-print round trip and runs the query on the
/// building graph (with and without indexes) without panicking.
fn exercise(text: &str) {
    match parse(text) {
        Err(err) => check_error_span(text, err.offset, err.len),
        Ok(query) => {
            let printed = query.to_string();
            let again = parse(&printed)
                .unwrap_or_else(|e| panic!("re-print {printed:?} of {text:?} fails: {e}"));
            assert_eq!(
                again.to_string(),
                printed,
                "re-print is not stable for {text:?}"
            );
            let limits = Limits::default();
            let with_index = execute(&query, &common::building(true), 0, 50, &limits);
            let without = execute(&again, &common::building(false), 0, 50, &limits);
            match (with_index, without) {
                (Ok(a), Ok(b)) => {
                    let mut a: Vec<String> = a.rows.iter().map(|r| r.to_string()).collect();
                    let mut b: Vec<String> = b.rows.iter().map(|r| r.to_string()).collect();
                    a.sort();
                    b.sort();
                    assert_eq!(a, b, "index and scan disagree for {printed:?}");
                }
                (a, b) => assert_eq!(a.is_ok(), b.is_ok(), "{printed:?}"),
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, token: usize },
    Replace { at: usize, len: usize, token: usize },
    Duplicate { at: usize, len: usize },
}

fn floor_boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn mutate(seed: &str, mutations: &[Mutation]) -> String {
    let mut text = seed.to_owned();
    for mutation in mutations {
        match *mutation {
            Mutation::Delete { at, len } => {
                let a = floor_boundary(&text, at);
                let b = floor_boundary(&text, a + len);
                text.replace_range(a..b, "");
            }
            Mutation::Insert { at, token } => {
                let a = floor_boundary(&text, at);
                text.insert_str(a, &format!(" {} ", TOKENS[token % TOKENS.len()]));
            }
            Mutation::Replace { at, len, token } => {
                let a = floor_boundary(&text, at);
                let b = floor_boundary(&text, a + len);
                text.replace_range(a..b, TOKENS[token % TOKENS.len()]);
            }
            Mutation::Duplicate { at, len } => {
                let a = floor_boundary(&text, at);
                let b = floor_boundary(&text, a + len);
                let piece = text[a..b].to_owned();
                text.insert_str(b, &piece);
            }
        }
    }
    text
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0..200usize, 1..8usize).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (0..200usize, 0..100usize).prop_map(|(at, token)| Mutation::Insert { at, token }),
        (0..200usize, 1..6usize, 0..100usize).prop_map(|(at, len, token)| Mutation::Replace {
            at,
            len,
            token
        }),
        (0..200usize, 1..30usize).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,120}") {
        exercise(&text);
    }

    #[test]
    fn arbitrary_bytes_as_lossy_text_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..120)) {
        exercise(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn token_soup_never_panics(tokens in prop::collection::vec(0..TOKENS.len(), 0..30)) {
        let text: Vec<&str> = tokens.iter().map(|i| TOKENS[*i]).collect();
        exercise(&text.join(" "));
    }

    #[test]
    fn mutated_valid_queries_never_panic(
        seed in 0..SEEDS.len(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        exercise(&mutate(SEEDS[seed], &mutations));
    }
}

#[test]
fn seeds_are_valid() {
    for seed in SEEDS {
        parse(seed).unwrap_or_else(|e| panic!("{seed}: {e}"));
        exercise(seed);
    }
}

/// The mutation property test is only worth something if mutations leave a fair
/// share of queries valid (exercising the evaluator) and break the rest.
#[test]
fn mutations_exercise_both_valid_and_invalid_queries() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = (0..SEEDS.len(), prop::collection::vec(mutation(), 1..4));
    let (mut valid, mut invalid) = (0, 0);
    for _ in 0..500 {
        let Ok(tree) = strategy.new_tree(&mut runner) else {
            continue;
        };
        let (seed, mutations) = tree.current();
        match parse(&mutate(SEEDS[seed], &mutations)) {
            Ok(_) => valid += 1,
            Err(_) => invalid += 1,
        }
    }
    eprintln!("mutated queries: {valid} valid, {invalid} invalid");
    assert!(
        valid >= 50 && invalid >= 50,
        "{valid} valid, {invalid} invalid"
    );
}

/// A long flat condition (a chain of ANDs and ORs, which the depth limit does not
/// bound) parses, re-prints flat, runs and drops on a test thread's small stack.
/// Regression: the re-print used to wrap every link of a chain in parentheses,
/// which nested past MAX_EXPR_DEPTH when parsed again.
#[test]
fn long_flat_condition_round_trips_and_fits_the_stack() {
    let mut text = String::from("SELECT * FROM DIGITALTWINS WHERE a = 1");
    // Half the size limit: the re-print adds spaces and parentheses around ANDs.
    while text.len() + 16 < query::MAX_QUERY_BYTES / 2 {
        text.push_str(" OR a=1 AND b<2");
    }
    let query = parse(&text).unwrap();
    let printed = query.to_string();
    assert!(printed.starts_with("SELECT * FROM DIGITALTWINS WHERE a = 1 OR (a = 1 AND b < 2) OR"));
    assert_eq!(parse(&printed).map(|q| q.to_string()).ok(), Some(printed));
    let page = execute(&query, &common::building(false), 0, 10, &Limits::default()).unwrap();
    assert!(page.rows.is_empty());
    let q2 = query.clone();
    assert_eq!(q2, query);
}
