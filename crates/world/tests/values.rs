//! The batched value path (`World::set_values`): properties, component
//! properties and telemetry of many twins in one call, each update refused on
//! its own, and the same records and changes `apply` produces.

use serde_json::{Value, json};
use world::{
    Change, Command, Condition, FieldValue, Record, Seq, Timestamp, TwinId, ValueKind, ValueUpdate,
    World, WorldError, WorldId,
};

const NOW: Timestamp = Timestamp(1_700_000_000_000_000_000);
const LATER: Timestamp = Timestamp(1_700_000_060_000_000_000);

fn world() -> World {
    let mut w = World::new(WorldId::default_world());
    let docs = json!([
        {
            "@id": "dtmi:test:Pump;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
            "contents": [
                { "@type": "Property", "name": "rpm", "schema": "double", "writable": true },
                { "@type": "Property", "name": "mode", "writable": true, "schema": {
                    "@type": "Enum", "valueSchema": "string",
                    "enumValues": [{ "name": "auto", "enumValue": "auto" }, { "name": "manual", "enumValue": "manual" }] } },
                { "@type": "Telemetry", "name": "pressure", "schema": "double" },
                { "@type": "Relationship", "name": "feeds" },
                { "@type": "Component", "name": "motor", "schema": "dtmi:test:Motor;1" }
            ]
        },
        {
            "@id": "dtmi:test:Motor;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
            "contents": [
                { "@type": "Property", "name": "temperature", "schema": "double", "writable": true },
                { "@type": "Telemetry", "name": "current", "schema": "double" }
            ]
        }
    ]);
    w.apply(Command::AddModels(docs.as_array().unwrap().clone()), NOW)
        .unwrap();
    for id in ["p1", "p2"] {
        w.apply(
            Command::PutTwin {
                id: id.into(),
                body: json!({"$metadata": {"$model": "dtmi:test:Pump;1"}, "rpm": 1.0, "motor": {"temperature": 20.0}}),
                condition: Condition::None,
            },
            NOW,
        )
        .unwrap();
    }
    w
}

fn update(twin: &str, values: &[(&str, Value)]) -> ValueUpdate {
    ValueUpdate {
        twin: TwinId::parse(twin).unwrap(),
        values: values
            .iter()
            .map(|(name, value)| FieldValue {
                name: (*name).into(),
                value: value.clone(),
                kind: ValueKind::Auto,
            })
            .collect(),
        source_time: Timestamp(NOW.0 + 5),
    }
}

#[test]
fn properties_components_and_telemetry_of_many_twins_in_one_seq() {
    let mut w = world();
    let before = w.seq();
    let out = w.set_values(
        vec![
            update("p1", &[("rpm", json!(1500.5)), ("pressure", json!(2.5))]),
            update(
                "p2",
                &[
                    ("motor/temperature", json!(71.0)),
                    ("mode", json!("manual")),
                ],
            ),
            update("p1", &[("motor/current", json!(3.0))]),
        ],
        LATER,
    );
    assert!(out.refused.is_empty(), "{:?}", out.refused);
    let applied = out.applied.expect("twins changed");
    assert_eq!(applied.seq, Seq(before.0 + 1));
    assert_eq!(w.seq(), applied.seq);
    assert_eq!(applied.records.len(), 2);
    assert_eq!(
        applied.changes,
        vec![
            Change::TwinUpdated {
                id: TwinId::parse("p1").unwrap(),
                fields: vec!["rpm".into()]
            },
            Change::TwinUpdated {
                id: TwinId::parse("p2").unwrap(),
                fields: vec!["motor".into(), "mode".into()]
            },
        ]
    );
    let p1 = w.twin_json("p1").unwrap();
    assert_eq!(p1["rpm"], json!(1500.5));
    assert!(p1.get("pressure").is_none(), "telemetry is not state");
    assert_eq!(
        p1["$metadata"]["rpm"]["lastUpdateTime"],
        json!(LATER.to_rfc3339())
    );
    assert_eq!(
        p1["$metadata"]["motor"]["lastUpdateTime"],
        json!(NOW.to_rfc3339())
    );
    let p2 = w.twin_json("p2").unwrap();
    assert_eq!(p2["motor"]["temperature"], json!(71.0));
    assert_eq!(p2["mode"], json!("manual"));
    assert_eq!(p2["$etag"], json!(world::Etag(applied.seq).to_string()));
    // The records are the twins' stored form, as `apply` writes them.
    match &applied.records[1] {
        Record::Twin { id, value } => {
            assert_eq!(id.as_str(), "p2");
            assert_eq!(value, &p2);
        }
        other => panic!("{other:?}"),
    }
    let fields: Vec<(&str, bool)> = out
        .accepted
        .iter()
        .map(|a| (a.field.as_str(), a.telemetry))
        .collect();
    assert_eq!(
        fields,
        [
            ("rpm", false),
            ("pressure", true),
            ("motor/temperature", false),
            ("mode", false),
            ("motor/current", true)
        ]
    );
    assert!(out.accepted.iter().all(|a| a.time == Timestamp(NOW.0 + 5)));
}

#[test]
fn bad_updates_are_refused_one_by_one() {
    let mut w = world();
    let out = w.set_values(
        vec![
            update("nobody", &[("rpm", json!(1.0))]),
            update("p1", &[("rpm", json!("fast"))]),
            update("p1", &[("colour", json!(1))]),
            update("p1", &[("feeds", json!(1))]),
            update("p1", &[("mode", json!("turbo")), ("rpm", json!(2.0))]),
            update("p1", &[("gearbox/rpm", json!(2.0))]),
            update("p1", &[("motor", json!({"temperature": 1.0}))]),
            update("p1", &[("pressure", json!(true))]),
            update("p2", &[("rpm", json!(9.0))]),
        ],
        LATER,
    );
    let refused: Vec<usize> = out.refused.iter().map(|(i, _)| *i).collect();
    assert_eq!(refused, [0, 1, 2, 3, 4, 5, 6, 7]);
    assert!(matches!(out.refused[0].1, WorldError::TwinNotFound(_)));
    let text: Vec<String> = out.refused.iter().map(|(_, e)| e.to_string()).collect();
    assert!(text[2].contains("'colour' is not defined"), "{}", text[2]);
    assert!(text[3].contains("a relationship"), "{}", text[3]);
    assert!(
        text[5].contains("'gearbox' is not a component"),
        "{}",
        text[5]
    );
    assert!(text[6].contains("component/name"), "{}", text[6]);
    // An update with one bad value changes nothing of its twin.
    assert_eq!(w.twin_json("p1").unwrap()["rpm"], json!(1.0));
    assert_eq!(w.twin_json("p2").unwrap()["rpm"], json!(9.0));
    assert_eq!(out.accepted.len(), 1);
}

#[test]
fn kinds_are_enforced_and_equal_values_change_no_twin() {
    let mut w = world();
    let seq = w.seq();
    let mut as_telemetry = update("p1", &[("rpm", json!(1.0))]);
    as_telemetry.values[0].kind = ValueKind::Telemetry;
    let same = update(
        "p1",
        &[("rpm", json!(1.0)), ("motor/temperature", json!(20.0))],
    );
    let out = w.set_values(vec![as_telemetry, same], LATER);
    assert_eq!(out.refused.len(), 1);
    assert!(out.refused[0].1.to_string().contains("only a telemetry"));
    assert!(out.applied.is_none(), "nothing changed");
    assert_eq!(w.seq(), seq, "no change, no new Seq");
    assert_eq!(out.accepted.len(), 2, "same readings are still samples");
}

#[test]
fn a_component_missing_on_the_twin_is_created() {
    let mut w = world();
    w.apply(
        Command::PutTwin {
            id: "bare".into(),
            body: json!({"$metadata": {"$model": "dtmi:test:Pump;1"}}),
            condition: Condition::None,
        },
        NOW,
    )
    .unwrap();
    let out = w.set_values(
        vec![update("bare", &[("motor/temperature", json!(5.5))])],
        LATER,
    );
    assert!(out.refused.is_empty());
    let twin = w.twin_json("bare").unwrap();
    assert_eq!(twin["motor"]["temperature"], json!(5.5));
    // A restart from the records rebuilds the same twin.
    let records: Vec<Value> = out
        .applied
        .unwrap()
        .records
        .into_iter()
        .map(|r| match r {
            Record::Twin { value, .. } => value,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(records, [twin]);
}
