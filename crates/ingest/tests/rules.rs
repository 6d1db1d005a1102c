//! The mapping rules as a user writes them: a rule (JSON, as in the config file
//! or the REST API), a message, and the update or rejection it becomes, checked
//! against snapshots. Property tests throw arbitrary topics and payloads at the
//! engine: it must answer, never panic, and never widen a topic's world.

use expect_test::{Expect, expect};
use ingest::{MapOutcome, Mapper, Rule};
use proptest::prelude::*;
use serde_json::json;
use world::Timestamp;

/// Arrival time used everywhere: 2024-01-01T00:00:00Z.
const ARRIVAL: Timestamp = Timestamp(1_704_067_200_000_000_000);

fn render(outcome: &MapOutcome) -> String {
    match outcome {
        MapOutcome::Unmatched => "unmatched".into(),
        MapOutcome::Mapped(update) => {
            let mut out = format!(
                "{} {}/{} at {}",
                update.rule,
                update.world,
                update.twin,
                update.source_time.to_rfc3339()
            );
            for value in &update.values {
                out.push_str(&format!(
                    "\n  {} = {} ({:?})",
                    value.name, value.value, value.kind
                ));
            }
            out
        }
        MapOutcome::Rejected(rejection) => format!(
            "rejected by {} ({}): {}\n  world {:?}, dead letter {:?}",
            rejection.rule,
            rejection.reason,
            rejection.detail,
            rejection.world.as_ref().map(|w| w.as_str().to_string()),
            rejection.dead_letter
        ),
    }
}

fn check(rules: serde_json::Value, topic: &str, payload: &str, expect: Expect) {
    let rules: Vec<Rule> = serde_json::from_value(rules).expect("rules deserialize");
    let mapper = Mapper::new(rules, true).expect("rules compile");
    expect.assert_eq(&render(&mapper.map(topic, payload.as_bytes(), ARRIVAL)));
}

fn check_default(topic: &str, payload: &str, expect: Expect) {
    check(json!([]), topic, payload, expect);
}

fn check_error(rules: serde_json::Value, expect: Expect) {
    let rules: Vec<Rule> = serde_json::from_value(rules).expect("rules deserialize");
    let error = Mapper::new(rules, true).expect_err("rules must be refused");
    expect.assert_eq(&error.to_string());
}

#[test]
fn default_rule_patches_the_twin_named_by_the_topic() {
    check_default(
        "twinspace/factory/press-7",
        r#"{"temperature": 21.37, "running": true, "mode": "auto"}"#,
        expect![[r#"
            default factory/press-7 at 2024-01-01T00:00:00.0000000Z
              temperature = 21.37 (Auto)
              running = true (Auto)
              mode = "auto" (Auto)"#]],
    );
}

#[test]
fn default_rule_matches_exactly_three_levels() {
    check_default("twinspace/factory", "{}", expect!["unmatched"]);
    check_default("twinspace/factory/a/b", "{}", expect!["unmatched"]);
    check_default("other/factory/a", "{}", expect!["unmatched"]);
    check_default("twinspace/factory/deadletter/x", "{}", expect!["unmatched"]);
}

#[test]
fn malformed_payloads_are_rejected_with_a_reason_and_a_dead_letter_topic() {
    check_default(
        "twinspace/factory/press-7",
        "{temperature: 21}",
        expect![[r#"
            rejected by default (not_json): payload is not JSON: key must be a string at line 1 column 2
              world Some("factory"), dead letter Some("twinspace/factory/deadletter/press-7")"#]],
    );
    check_default(
        "twinspace/factory/press-7",
        "[1, 2]",
        expect![[r#"
            rejected by default (not_object): payload is an array, the rule takes the members of a JSON object
              world Some("factory"), dead letter Some("twinspace/factory/deadletter/press-7")"#]],
    );
    check_default(
        "twinspace/factory/press-7",
        r#"{"$metadata": {}}"#,
        expect![[r#"
            rejected by default (bad_name): '$metadata' starts with '$', which marks fields the server keeps
              world Some("factory"), dead letter Some("twinspace/factory/deadletter/press-7")"#]],
    );
    check_default(
        "twinspace/Factory/press-7",
        "{}",
        expect![[r#"
            rejected by default (bad_id): invalid world id 'Factory': 1 to 63 characters of a-z, 0-9 and '-', starting with a letter or digit
              world None, dead letter Some("twinspace/Factory/deadletter/press-7")"#]],
    );
}

#[test]
fn declarative_rule_captures_levels_scales_and_reads_the_time() {
    let rules = json!([{
        "name": "lines",
        "topic": "plant/{line}/+/{machine}/#",
        "world": "factory",
        "twin": "{line}-{machine}",
        "values": [
            { "pointer": "/t", "name": "temperature", "factor": 0.1, "offset": -40 },
            { "pointer": "/count", "name": "parts", "kind": "telemetry" },
            { "pointer": "/note", "name": "note", "kind": "property", "optional": true }
        ],
        "timestamp": { "pointer": "/ts", "format": "rfc3339" },
        "deadLetter": "plant/{line}/rejected"
    }]);
    check(
        rules.clone(),
        "plant/l1/cell-a/press7/state/now",
        r#"{"t": 615, "count": 42, "ts": "2024-05-01T12:00:00.5+02:00"}"#,
        expect![[r#"
            lines factory/l1-press7 at 2024-05-01T10:00:00.5000000Z
              temperature = 21.5 (Auto)
              parts = 42 (Telemetry)"#]],
    );
    check(
        rules.clone(),
        "plant/l1/cell-a/press7",
        r#"{"t": "hot", "count": 1, "ts": "2024-05-01T12:00:00Z"}"#,
        expect![[r#"
            rejected by lines (not_number): '/t' is a string, and the rule scales it as a number
              world Some("factory"), dead letter Some("plant/l1/rejected")"#]],
    );
    check(
        rules.clone(),
        "plant/l1/cell-a/press7",
        r#"{"t": 1, "ts": "2024-05-01T12:00:00Z"}"#,
        expect![[r#"
            rejected by lines (missing_value): no value at '/count' for 'parts'
              world Some("factory"), dead letter Some("plant/l1/rejected")"#]],
    );
    check(
        rules,
        "plant/l1/cell-a/press7",
        r#"{"t": 1, "count": 1, "ts": 1714564800000}"#,
        expect![[r#"
            rejected by lines (bad_timestamp): '/ts' is no Rfc3339 time between 1970 and 9999: 1714564800000
              world Some("factory"), dead letter Some("plant/l1/rejected")"#]],
    );
}

#[test]
fn epoch_timestamps_in_seconds_and_milliseconds() {
    let rule = |format: &str| {
        json!([{ "name": "r", "topic": "s/{world}/{id}", "twin": "{id}",
                 "timestamp": { "pointer": "/at", "format": format } }])
    };
    check(
        rule("epochMs"),
        "s/w/t",
        r#"{"at": 1714564800123.5}"#,
        expect![[r#"
            r w/t at 2024-05-01T12:00:00.1235000Z
              at = 1714564800123.5 (Auto)"#]],
    );
    check(
        rule("epochS"),
        "s/w/t",
        r#"{"at": 1714564800}"#,
        expect![[r#"
            r w/t at 2024-05-01T12:00:00.0000000Z
              at = 1714564800 (Auto)"#]],
    );
    check(
        rule("auto"),
        "s/w/t",
        r#"{"at": 1714564800000}"#,
        expect![[r#"
            r w/t at 2024-05-01T12:00:00.0000000Z
              at = 1714564800000 (Auto)"#]],
    );
    check(
        rule("epochS"),
        "s/w/t",
        r#"{"at": -5}"#,
        expect![[r#"
            rejected by r (bad_timestamp): '/at' is no EpochS time between 1970 and 9999: -5
              world Some("w"), dead letter None"#]],
    );
}

#[test]
fn rules_are_tried_in_order_before_the_default() {
    let rules = json!([{ "name": "first", "topic": "twinspace/{world}/{id}", "twin": "x-{id}",
                         "values": [{ "pointer": "", "name": "raw" }] }]);
    check(
        rules,
        "twinspace/w/7",
        "3.5",
        expect![[r#"
            first w/x-7 at 2024-01-01T00:00:00.0000000Z
              raw = 3.5 (Auto)"#]],
    );
}

#[test]
fn every_problem_of_a_rule_set_is_reported() {
    check_error(
        json!([
            { "name": "a", "topic": "x/#/y", "twin": "{nope}" },
            { "name": "a", "topic": "x/{id}/{id}/pre+", "world": "Bad World", "twin": "{id}",
              "values": [{ "pointer": "no-slash", "name": "$x", "factor": -1.5 }] }
        ]),
        expect![
            "9 problem(s) in the mapping rules: rule 'a', topic: '#' may only be the last level, not level 2; rule 'a', world: '{world}' is not a capture of the topic filter (captures: none); rule 'a', twin: '{nope}' is not a capture of the topic filter (captures: none); rule 'a', name: two rules have this name; names identify rules in metrics; rule 'a', topic: capture '{id}' appears twice; rule 'a', topic: level 'pre+' mixes text with '+', '#', '{' or '}'; a wildcard or capture must be a whole level; rule 'a', world: invalid world id 'Bad World': 1 to 63 characters of a-z, 0-9 and '-', starting with a letter or digit; rule 'a', values[0].pointer: 'no-slash' is no JSON pointer: it must be empty or start with '/', at most 1024 bytes; rule 'a', values[0].name: '$x' starts with '$', which marks fields the server keeps"
        ],
    );
}

#[test]
fn rules_round_trip_through_json() {
    let rule: Rule = serde_json::from_value(json!({
        "name": "r", "topic": "a/{b}", "world": "w", "twin": "{b}",
        "values": [{ "pointer": "/v", "name": "v", "factor": 2.0 }],
        "timestamp": { "pointer": "/t" }, "deadLetter": "dead/{b}"
    }))
    .unwrap();
    let back: Rule = serde_json::from_value(serde_json::to_value(&rule).unwrap()).unwrap();
    assert_eq!(rule, back);
    let unknown = serde_json::from_value::<Rule>(
        json!({ "name": "r", "topic": "a", "twin": "t", "colour": 1 }),
    );
    assert!(
        unknown
            .unwrap_err()
            .to_string()
            .contains("unknown field `colour`")
    );
}

#[test]
fn property_patch_skips_telemetry_and_escapes_names() {
    let rules = json!([{ "name": "r", "topic": "t/{world}", "twin": "x",
        "values": [{ "pointer": "/a", "name": "a/b~c" }, { "pointer": "/b", "name": "tele", "kind": "telemetry" }] }]);
    let rules: Vec<Rule> = serde_json::from_value(rules).unwrap();
    let mapper = Mapper::new(rules, false).unwrap();
    let MapOutcome::Mapped(update) = mapper.map("t/w", br#"{"a": 1, "b": 2}"#, ARRIVAL) else {
        panic!("must map");
    };
    let patch = serde_json::to_value(update.property_patch()).unwrap();
    assert_eq!(
        patch,
        json!([{ "op": "add", "path": "/a~1b~0c", "value": 1 }])
    );
}

#[test]
fn a_batch_groups_per_twin_in_arrival_order() {
    let mapper = Mapper::new(Vec::new(), true).unwrap();
    let messages = [
        ("twinspace/w/a", r#"{"t": 1}"#, 5),
        ("twinspace/w/b", r#"{"t": 2}"#, 9),
        ("twinspace/w/a", r#"{"t": 3, "u": 4}"#, 7),
    ];
    let updates: Vec<_> = messages
        .iter()
        .map(
            |(topic, payload, at)| match mapper.map(topic, payload.as_bytes(), Timestamp(*at)) {
                MapOutcome::Mapped(update) => update,
                other => panic!("{other:?}"),
            },
        )
        .collect();
    let groups = ingest::group_by_twin(&updates);
    assert_eq!(groups.len(), 2);
    assert_eq!(
        (
            groups[0].twin.as_str(),
            &groups[0].members[..],
            groups[0].source_time
        ),
        ("a", &[0, 2][..], Timestamp(7))
    );
    assert_eq!(
        serde_json::to_value(&groups[0].patch).unwrap(),
        json!([{ "op": "add", "path": "/t", "value": 1 }, { "op": "add", "path": "/t", "value": 3 }, { "op": "add", "path": "/u", "value": 4 }])
    );
    assert_eq!(
        (groups[1].twin.as_str(), &groups[1].members[..]),
        ("b", &[1][..])
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Whatever arrives, the default rule answers without panicking, and an
    /// update's world is exactly the topic's second level.
    #[test]
    fn arbitrary_messages_never_panic_nor_change_world(
        levels in prop::collection::vec("[a-z0-9+#/{}$-]{0,6}", 0..6),
        payload in prop::collection::vec(any::<u8>(), 0..64),
        json_payload in prop::option::of(prop::collection::btree_map("[a-z$]{0,4}", -1e6f64..1e6, 0..4)),
    ) {
        let mapper = Mapper::new(Vec::new(), true).unwrap();
        let topic = levels.join("/");
        let bytes = match &json_payload {
            Some(map) => serde_json::to_vec(map).unwrap(),
            None => payload,
        };
        match mapper.map(&topic, &bytes, ARRIVAL) {
            MapOutcome::Mapped(update) => {
                let parts: Vec<&str> = topic.split('/').collect();
                prop_assert_eq!(parts.len(), 3);
                prop_assert_eq!(parts[0], "twinspace");
                prop_assert_eq!(update.world.as_str(), parts[1]);
                prop_assert_eq!(update.twin.as_str(), parts[2]);
            }
            MapOutcome::Rejected(rejection) => prop_assert!(!rejection.detail.is_empty()),
            MapOutcome::Unmatched => {}
        }
    }

    /// A rule's captures only ever hold whole topic levels: no capture contains '/'.
    #[test]
    fn captures_never_span_levels(levels in prop::collection::vec("[a-z/]{1,5}", 1..8)) {
        let rules: Vec<Rule> = serde_json::from_value(json!([{ "name": "r", "topic": "p/{a}/+/{b}/#",
            "world": "w", "twin": "{a}|{b}" }])).unwrap();
        let mapper = Mapper::new(rules, false).unwrap();
        let topic = format!("p/{}", levels.join("/"));
        if let MapOutcome::Mapped(update) = mapper.map(&topic, b"{}", ARRIVAL) {
            let twin = update.twin.as_str();
            prop_assert!(!twin.contains('/'), "{}", twin);
        }
    }
}
