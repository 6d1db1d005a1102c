//! The host application's rules, one test per rule: births, aliases, deaths with
//! bdSeq, seq with wrap and reordering, rebirth requests and their rate limit, stale
//! marking, STATE messages, commands, and refusals that never panic.

mod common;

use common::*;
use prost::Message;
use sparkplug::pb;
use sparkplug::{Action, DataType, Event, Quality, REBIRTH_METRIC, RejectReason, Source, Value};

const N: &str = "spBv1.0/g/NBIRTH/e";
const ND: &str = "spBv1.0/g/NDATA/e";
const NX: &str = "spBv1.0/g/NDEATH/e";
const DB: &str = "spBv1.0/g/DBIRTH/e/d";
const DD: &str = "spBv1.0/g/DDATA/e/d";
const DX: &str = "spBv1.0/g/DDEATH/e/d";

fn rebirths(actions: &[Action]) -> usize {
    actions
        .iter()
        .filter(|a| {
            let Action::Publish { topic, payload, .. } = a;
            let p = pb::Payload::decode(&payload[..]).unwrap();
            topic == "spBv1.0/g/NCMD/e"
                && p.metrics.iter().any(|m| {
                    m.name.as_deref() == Some(REBIRTH_METRIC)
                        && m.value == Some(pb::payload::metric::Value::BooleanValue(true))
                })
        })
        .count()
}

#[test]
fn birth_declares_typed_metrics_and_data_by_alias_updates_them() {
    let mut h = host();
    let out = h.handle(N, &nbirth(7), 1000);
    let Event::Birth {
        twin,
        bd_seq,
        metrics,
        ..
    } = &out.events[0]
    else {
        panic!("{out:?}")
    };
    assert_eq!(twin, "g.e");
    assert_eq!(*bd_seq, Some(7));
    assert_eq!(
        metrics
            .iter()
            .map(|m| (m.name.as_str(), m.alias, m.datatype))
            .collect::<Vec<_>>(),
        [
            ("bdSeq", None, DataType::Int64),
            ("temp", Some(1), DataType::Double),
            ("rpm", Some(2), DataType::Double)
        ]
    );
    let out = h.handle(ND, &payload(Some(1), 2000, vec![by_alias(1, 21.5)]), 2000);
    assert_eq!(
        values(&out.events),
        [("g.e".into(), "temp".into(), Value::Double(21.5))]
    );
    // By name works too.
    let out = h.handle(
        ND,
        &payload(
            Some(2),
            3000,
            vec![double("rpm", 0, 99.0)]
                .into_iter()
                .map(|mut m| {
                    m.alias = None;
                    m
                })
                .collect(),
        ),
        3000,
    );
    assert_eq!(
        values(&out.events),
        [("g.e".into(), "rpm".into(), Value::Double(99.0))]
    );
    assert!(out.rejected.is_empty() && out.actions.is_empty());
}

#[test]
fn data_before_birth_is_rejected_with_one_rate_limited_rebirth() {
    let mut h = host();
    let out = h.handle(ND, &payload(Some(1), 0, vec![by_alias(1, 1.0)]), 1000);
    assert_eq!(out.rejected[0].reason, RejectReason::BeforeBirth);
    assert_eq!(rebirths(&out.actions), 1);
    // Within the interval: counted, no second request.
    let out = h.handle(ND, &payload(Some(2), 0, vec![by_alias(1, 1.0)]), 2000);
    assert_eq!(rebirths(&out.actions), 0);
    assert_eq!(h.counters().rejected(RejectReason::BeforeBirth), 2);
    assert_eq!(h.counters().rebirth_requests_suppressed, 1);
    // After it, another request.
    let out = h.handle(ND, &payload(Some(3), 0, vec![by_alias(1, 1.0)]), 7000);
    assert_eq!(rebirths(&out.actions), 1);
}

#[test]
fn unknown_alias_is_counted_and_asks_for_rebirth() {
    let mut h = host();
    h.handle(N, &nbirth(0), 0);
    let out = h.handle(
        ND,
        &payload(Some(1), 0, vec![by_alias(99, 1.0), by_alias(2, 5.0)]),
        10,
    );
    assert_eq!(out.rejected[0].reason, RejectReason::UnknownMetric);
    assert_eq!(rebirths(&out.actions), 1);
    // The known metric in the same message still applies.
    assert_eq!(
        values(&out.events),
        [("g.e".into(), "rpm".into(), Value::Double(5.0))]
    );
}

#[test]
fn death_counts_only_with_matching_bd_seq_and_marks_everything_stale() {
    let mut h = host();
    h.handle(N, &nbirth(3), 0);
    h.handle(DB, &dbirth(1), 0);
    let out = h.handle(NX, &payload(None, 0, vec![bd_seq(2)]), 10);
    assert_eq!(out.rejected[0].reason, RejectReason::DeathMismatch);
    assert!(out.events.is_empty());
    let out = h.handle(NX, &payload(None, 50, vec![bd_seq(3)]), 60);
    let stale: Vec<(String, Vec<String>)> = out
        .events
        .iter()
        .map(|e| match e {
            Event::Stale { twin, metrics, .. } => (twin.clone(), metrics.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        stale,
        [
            (
                "g.e".to_string(),
                vec!["bdSeq".to_string(), "rpm".into(), "temp".into()]
            ),
            ("g.e.d".to_string(), vec!["level".to_string()])
        ]
    );
    // After death, data is data before birth.
    let out = h.handle(ND, &payload(Some(2), 0, vec![by_alias(1, 1.0)]), 70);
    assert_eq!(out.rejected[0].reason, RejectReason::BeforeBirth);
}

#[test]
fn old_death_after_a_new_birth_is_ignored() {
    // The broker delivers the will of the previous session late: it must not kill
    // the new one.
    let mut h = host();
    h.handle(N, &nbirth(4), 0);
    h.handle(N, &nbirth(5), 10);
    let out = h.handle(NX, &payload(None, 0, vec![bd_seq(4)]), 20);
    assert_eq!(out.rejected[0].reason, RejectReason::DeathMismatch);
    let out = h.handle(ND, &payload(Some(1), 0, vec![by_alias(1, 2.0)]), 30);
    assert_eq!(values(&out.events).len(), 1);
}

#[test]
fn device_death_marks_only_that_device_stale() {
    let mut h = host();
    h.handle(N, &nbirth(0), 0);
    h.handle(DB, &dbirth(1), 0);
    let out = h.handle(DD, &payload(Some(2), 0, vec![by_alias(10, 3.0)]), 0);
    assert_eq!(
        values(&out.events),
        [("g.e.d".into(), "level".into(), Value::Double(3.0))]
    );
    let out = h.handle(DX, &payload(Some(3), 0, vec![]), 0);
    assert!(
        matches!(&out.events[..], [Event::Stale { twin, metrics, .. }] if twin == "g.e.d" && metrics == &["level"])
    );
    // Node data still flows; device data now asks for a rebirth.
    let out = h.handle(ND, &payload(Some(4), 0, vec![by_alias(1, 1.0)]), 0);
    assert_eq!(values(&out.events).len(), 1);
    let out = h.handle(DD, &payload(Some(5), 0, vec![by_alias(10, 3.0)]), 0);
    assert_eq!(out.rejected[0].reason, RejectReason::BeforeBirth);
    assert_eq!(rebirths(&out.actions), 1);
}

#[test]
fn seq_wraps_from_255_to_0() {
    let mut h = host();
    h.handle(N, &nbirth(0), 0);
    for i in 1..=600u64 {
        let out = h.handle(
            ND,
            &payload(Some(i % 256), 0, vec![by_alias(1, i as f64)]),
            i,
        );
        assert_eq!(values(&out.events).len(), 1, "seq {i}");
    }
    assert_eq!(h.counters().gaps, 0);
    assert!(h.counters().rejected.is_empty());
}

#[test]
fn reordered_messages_are_applied_in_seq_order() {
    let mut h = host();
    h.handle(N, &nbirth(0), 0);
    assert!(
        h.handle(ND, &payload(Some(3), 0, vec![by_alias(1, 3.0)]), 10)
            .events
            .is_empty()
    );
    assert!(
        h.handle(ND, &payload(Some(2), 0, vec![by_alias(1, 2.0)]), 20)
            .events
            .is_empty()
    );
    let out = h.handle(ND, &payload(Some(1), 0, vec![by_alias(1, 1.0)]), 30);
    let got: Vec<Value> = values(&out.events).into_iter().map(|v| v.2).collect();
    assert_eq!(
        got,
        [Value::Double(1.0), Value::Double(2.0), Value::Double(3.0)]
    );
    assert_eq!(h.counters().held_for_reorder, 2);
    assert!(out.actions.is_empty());
}

#[test]
fn a_gap_past_the_timeout_gives_exactly_one_rebirth_request() {
    let mut h = host();
    h.handle(N, &nbirth(0), 0);
    // seq 1 is lost; 2, 3 and 4 wait.
    for seq in 2..=4 {
        assert!(
            h.handle(
                ND,
                &payload(Some(seq), 0, vec![by_alias(1, seq as f64)]),
                100 * seq
            )
            .events
            .is_empty()
        );
    }
    assert_eq!(rebirths(&h.tick(900).actions), 0, "before the timeout");
    let out = h.tick(1200);
    assert_eq!(rebirths(&out.actions), 1);
    let got: Vec<Value> = values(&out.events).into_iter().map(|v| v.2).collect();
    assert_eq!(
        got,
        [Value::Double(2.0), Value::Double(3.0), Value::Double(4.0)]
    );
    assert_eq!(h.counters().gaps, 1);
    // Messages after the gap continue normally, with no second request.
    let out = h.handle(ND, &payload(Some(5), 0, vec![by_alias(1, 5.0)]), 1300);
    assert_eq!(values(&out.events).len(), 1);
    assert_eq!(rebirths(&out.actions) + rebirths(&h.tick(5000).actions), 0);
    assert_eq!(h.counters().rebirth_requests, 1);
    // A late seq 1 is refused, not applied over newer values.
    let out = h.handle(ND, &payload(Some(1), 0, vec![by_alias(1, 1.0)]), 1400);
    assert_eq!(out.rejected[0].reason, RejectReason::Sequence);
}

#[test]
fn a_new_birth_without_death_marks_old_devices_stale() {
    let mut h = host();
    h.handle(N, &nbirth(0), 0);
    h.handle(DB, &dbirth(1), 0);
    let out = h.handle(N, &nbirth(1), 10);
    assert!(matches!(&out.events[0], Event::Stale { twin, .. } if twin == "g.e.d"));
    assert!(matches!(&out.events[1], Event::Birth { twin, .. } if twin == "g.e"));
}

#[test]
fn births_with_duplicate_aliases_or_no_seq_are_refused() {
    let mut h = host();
    let dup = payload(
        Some(0),
        0,
        vec![bd_seq(0), double("a", 1, 0.0), double("b", 1, 0.0)],
    );
    assert_eq!(h.handle(N, &dup, 0).rejected[0].reason, RejectReason::Birth);
    let no_seq = payload(None, 0, vec![bd_seq(0)]);
    assert_eq!(
        h.handle(N, &no_seq, 0).rejected[0].reason,
        RejectReason::Birth
    );
}

#[test]
fn garbage_topics_and_payloads_are_counted_never_panic() {
    let mut h = host();
    assert_eq!(
        h.handle("spBv1.0/g/BOGUS/e", b"", 0).rejected[0].reason,
        RejectReason::Topic
    );
    assert_eq!(
        h.handle(N, b"\x0a\xff\xff\xff\xff\xff", 0).rejected[0].reason,
        RejectReason::Payload
    );
    assert_eq!(h.counters().rejected(RejectReason::Topic), 1);
    assert_eq!(h.counters().rejected(RejectReason::Payload), 1);
    // Wrong value field for the birth's type.
    h.handle(N, &nbirth(0), 0);
    let bad = sparkplug::pb::payload::Metric {
        alias: Some(1),
        value: Some(sparkplug::pb::payload::metric::Value::StringValue(
            "x".into(),
        )),
        ..Default::default()
    };
    let out = h.handle(ND, &payload(Some(1), 0, vec![bad]), 0);
    assert_eq!(out.rejected[0].reason, RejectReason::Value);
}

#[test]
fn quality_and_engineering_units_are_read_from_properties() {
    use sparkplug::pb::payload::{PropertySet, PropertyValue, property_value::Value as P};
    let mut m = double("temp", 1, 20.0);
    m.properties = Some(PropertySet {
        keys: vec!["engUnit".into(), "Quality".into()],
        values: vec![
            PropertyValue {
                r#type: Some(DataType::String.code()),
                value: Some(P::StringValue("degC".into())),
                ..Default::default()
            },
            PropertyValue {
                r#type: Some(DataType::Int32.code()),
                value: Some(P::IntValue(0)),
                ..Default::default()
            },
        ],
    });
    let mut h = host();
    let out = h.handle(N, &payload(Some(0), 0, vec![bd_seq(0), m]), 0);
    let Event::Birth { metrics, .. } = &out.events[0] else {
        panic!()
    };
    assert_eq!(metrics[1].engineering_unit.as_deref(), Some("degC"));
    assert_eq!(metrics[1].quality, Quality::Bad);
}

#[test]
fn state_birth_and_will_share_a_timestamp_and_are_retained() {
    let h = host();
    let (birth, will) = h.state_birth_and_will(1234);
    let Action::Publish {
        topic,
        payload,
        qos,
        retain,
    } = birth;
    assert_eq!(topic, "spBv1.0/STATE/twinspace");
    assert_eq!((qos, retain), (1, true));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&payload).unwrap(),
        serde_json::json!({"online": true, "timestamp": 1234})
    );
    let Action::Publish {
        payload, retain, ..
    } = will;
    assert!(retain);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&payload).unwrap(),
        serde_json::json!({"online": false, "timestamp": 1234})
    );
}

#[test]
fn commands_write_a_metric_by_name_and_alias() {
    let mut h = host();
    h.handle(N, &nbirth(0), 0);
    h.handle(DB, &dbirth(1), 0);
    let src = Source {
        group: "g".into(),
        edge: "e".into(),
        device: Some("d".into()),
    };
    let Action::Publish { topic, payload, .. } = h
        .command(&src, "level", &Value::Double(4.5), 99)
        .unwrap()
        .unwrap();
    assert_eq!(topic, "spBv1.0/g/DCMD/e/d");
    let p = pb::Payload::decode(&payload[..]).unwrap();
    assert_eq!(p.metrics[0].name.as_deref(), Some("level"));
    assert_eq!(p.metrics[0].alias, Some(10));
    assert_eq!(
        p.metrics[0].value,
        Some(pb::payload::metric::Value::DoubleValue(4.5))
    );
    assert!(h.command(&src, "nope", &Value::Double(1.0), 0).is_none());
    assert!(
        h.command(&src, "level", &Value::Bool(true), 0)
            .unwrap()
            .is_err()
    );
}

#[test]
fn compressed_data_decodes_through_the_host() {
    let mut h = host();
    h.handle(N, &sparkplug::payload::compress(&nbirth(0), true), 0);
    let out = h.handle(
        ND,
        &sparkplug::payload::compress(&payload(Some(1), 0, vec![by_alias(2, 7.0)]), false),
        0,
    );
    assert_eq!(
        values(&out.events),
        [("g.e".into(), "rpm".into(), Value::Double(7.0))]
    );
}
