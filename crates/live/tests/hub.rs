//! Feature tests of the live hub over a real `World`: snapshots then deltas,
//! region and filter enter/leave, conflation for a slow reader, resume after a
//! reconnect, presence and chat, limits; and a model-based property test: a client
//! that applies the snapshot and every delta holds exactly what a fresh snapshot
//! at the same `Seq` holds, whatever the writes, moves and reading pace.

use std::collections::BTreeMap;

use live::{ConnId, Hub, HubLimits, Touched};
use proptest::prelude::*;
use prost::Message;
use serde_json::{Value, json};
use world::{Command, Condition, Seq, Timestamp, World, WorldId};

const MODEL: &str = "dtmi:test:Thing;1";

fn world() -> World {
    let mut w = World::new(WorldId::default_world());
    let model = json!({
        "@id": MODEL, "@type": "Interface", "@context": "dtmi:dtdl:context;3",
        "contents": [
            { "@type": "Property", "name": "temperature", "schema": "double", "writable": true },
            { "@type": "Property", "name": "label", "schema": "string", "writable": true }
        ]
    });
    w.apply(Command::AddModels(vec![model]), Timestamp(1))
        .expect("model loads");
    w
}

/// A world plus the changes not yet handed to the hub: what the server's write
/// path and tick task do.
struct Fixture {
    world: World,
    hub: Hub,
    inbox: Vec<Touched>,
    now: i64,
    /// Connections that take their frames only when the test says (`Hub::ready`);
    /// every other one takes each frame at once.
    manual: Vec<ConnId>,
}

impl Fixture {
    fn new(limits: HubLimits) -> Fixture {
        let world = world();
        let hub = Hub::new(world.seq(), limits);
        Fixture {
            world,
            hub,
            inbox: Vec::new(),
            now: 1_000,
            manual: Vec::new(),
        }
    }

    fn apply(&mut self, command: Command) {
        self.now += 1;
        let applied = self
            .world
            .apply(command, Timestamp(self.now))
            .expect("command applies");
        self.inbox.extend(live::touched(
            applied.seq,
            Timestamp(self.now),
            &applied.changes,
        ));
    }

    fn put(&mut self, id: &str, temperature: f64, position: Option<[f64; 3]>) {
        let mut body =
            json!({ "$metadata": { "$model": MODEL }, "temperature": temperature, "label": id });
        if let Some(p) = position {
            body["$placement"] = json!({ "position": p });
        }
        self.apply(Command::PutTwin {
            id: id.into(),
            body,
            condition: Condition::None,
        });
    }

    fn patch(&mut self, id: &str, ops: Value) {
        self.apply(Command::PatchTwin {
            id: id.into(),
            patch: serde_json::from_value(ops).expect("patch"),
            condition: Condition::None,
        });
    }

    fn delete(&mut self, id: &str) {
        self.apply(Command::DeleteTwin {
            id: id.into(),
            condition: Condition::None,
        });
    }

    /// Runs a tick and returns the decoded frames by connection.
    fn tick(&mut self) -> BTreeMap<ConnId, proto::ServerMessage> {
        self.now += 1;
        let touched = std::mem::take(&mut self.inbox);
        let out = self.hub.tick(&self.world, touched, Timestamp(self.now));
        assert!(out.too_slow.is_empty(), "{:?}", out.too_slow);
        for (conn, _) in &out.frames {
            if !self.manual.contains(conn) {
                self.hub.ready(*conn);
            }
        }
        out.frames
            .into_iter()
            .map(|(conn, bytes)| {
                (
                    conn,
                    proto::ServerMessage::decode(bytes.as_slice()).expect("frame decodes"),
                )
            })
            .collect()
    }
}

fn subscribe(query: &str, region: Option<proto::Region>, fields: &[&str]) -> proto::Subscribe {
    proto::Subscribe {
        subscription: 1,
        query: query.into(),
        model: String::new(),
        region,
        fields: fields.iter().map(|f| (*f).to_owned()).collect(),
        resume_after_seq: 0,
    }
}

fn sphere(center: [f64; 3], radius: f64) -> proto::Region {
    proto::Region {
        shape: Some(proto::region::Shape::Sphere(proto::Sphere {
            center: Some(proto::Vec3::from_array(center)),
            radius,
        })),
    }
}

fn boxed(min: [f64; 3], max: [f64; 3]) -> proto::Region {
    proto::Region {
        shape: Some(proto::region::Shape::Box(proto::Box {
            min: Some(proto::Vec3::from_array(min)),
            max: Some(proto::Vec3::from_array(max)),
        })),
    }
}

/// Numbers as doubles: the protocol carries every number as one, so `10` and
/// `10.0` are the same value on the wire.
fn norm(value: Value) -> Value {
    match value {
        Value::Number(n) => json!(n.as_f64()),
        Value::Array(a) => Value::Array(a.into_iter().map(norm).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, norm(v))).collect()),
        other => other,
    }
}

/// What a client holds: per subscription, per twin, its fields.
#[derive(Default, Debug, Clone, PartialEq)]
struct View {
    twins: BTreeMap<(u32, String), BTreeMap<String, Value>>,
    synced: Vec<(u32, bool)>,
    seq: u64,
}

impl View {
    fn apply(&mut self, message: &proto::ServerMessage) {
        assert!(message.seq >= self.seq, "seq went back");
        self.seq = message.seq;
        let Some(proto::server_message::Body::Tick(tick)) = &message.body else {
            panic!("not a tick: {message:?}");
        };
        for reset in &tick.resets {
            self.twins.retain(|(s, _), _| *s != reset.subscription);
        }
        for event in &tick.events {
            let key = (event.subscription, event.twin_id.clone());
            let fields = event.fields.iter().map(|f| {
                (
                    f.name.clone(),
                    f.value.as_ref().and_then(|v| v.to_json()).map(norm),
                )
            });
            match event.kind() {
                proto::TwinEventKind::Enter => {
                    assert!(!event.model.is_empty(), "ENTER carries the model");
                    self.twins
                        .insert(key, fields.filter_map(|(n, v)| Some((n, v?))).collect());
                }
                proto::TwinEventKind::Update => {
                    let twin = self
                        .twins
                        .get_mut(&key)
                        .unwrap_or_else(|| panic!("UPDATE for {key:?}, which is not held"));
                    for (name, value) in fields {
                        match value {
                            Some(v) => twin.insert(name, v),
                            None => twin.remove(&name),
                        };
                    }
                }
                proto::TwinEventKind::Leave => {
                    self.twins.remove(&key);
                }
                proto::TwinEventKind::Unspecified => panic!("event without a kind"),
            }
        }
        for closed in &tick.closed {
            self.twins.retain(|(s, _), _| *s != closed.subscription);
        }
        self.synced
            .extend(tick.synced.iter().map(|s| (s.subscription, s.resumed)));
    }

    fn ids(&self) -> Vec<String> {
        self.twins.keys().map(|(_, id)| id.clone()).collect()
    }
}

/// What a fresh snapshot of subscription 1 holds now: twins matching `keep`, with
/// the requested fields (all when `fields` is empty).
fn expected(
    world: &World,
    fields: &[&str],
    keep: impl Fn(&Value) -> bool,
) -> BTreeMap<(u32, String), BTreeMap<String, Value>> {
    let rows = world
        .query(
            "SELECT * FROM DIGITALTWINS",
            0,
            100_000,
            &query::Limits::default(),
        )
        .expect("query runs")
        .rows;
    rows.into_iter()
        .filter(|twin| keep(twin))
        .map(|twin| {
            let id = twin["$dtId"].as_str().unwrap().to_owned();
            let fields = twin
                .as_object()
                .unwrap()
                .iter()
                .filter(|(n, _)| !matches!(n.as_str(), "$dtId" | "$etag" | "$metadata"))
                .filter(|(n, _)| fields.is_empty() || fields.contains(&n.as_str()))
                .map(|(n, v)| (n.clone(), norm(v.clone())))
                .collect();
            ((1, id), fields)
        })
        .collect()
}

fn position(twin: &Value) -> Option<[f64; 3]> {
    let p = twin.pointer("/$placement/position")?.as_array()?;
    Some([p[0].as_f64()?, p[1].as_f64()?, p[2].as_f64()?])
}

#[test]
fn a_snapshot_then_only_changed_fields_reach_the_subscriber() {
    let mut f = Fixture::new(HubLimits::default());
    f.put("a", 20.0, Some([0.0, 0.0, 0.0]));
    f.put("b", 30.0, None);
    let conn = f.hub.connect("", "", vec![]).unwrap();
    f.hub.subscribe(conn, &subscribe("", None, &[])).unwrap();
    let mut view = View::default();
    let frames = f.tick();
    view.apply(&frames[&conn]);
    assert_eq!(view.ids(), ["a", "b"]);
    assert_eq!(view.synced, [(1, false)]);
    assert_eq!(view.seq, f.world.seq().0);

    f.patch(
        "a",
        json!([{ "op": "replace", "path": "/temperature", "value": 21.5 }]),
    );
    let frames = f.tick();
    let Some(proto::server_message::Body::Tick(tick)) = &frames[&conn].body else {
        panic!()
    };
    assert_eq!(tick.events.len(), 1);
    let event = &tick.events[0];
    assert_eq!(event.kind(), proto::TwinEventKind::Update);
    assert_eq!(event.fields.len(), 1, "only the changed field: {event:?}");
    assert_eq!(event.fields[0].name, "temperature");
    assert!(event.changed_at_unix_ns > 0);
    view.apply(&frames[&conn]);
    assert_eq!(view.twins, expected(&f.world, &[], |_| true));
    // Nothing changed: no frame at all.
    assert!(f.tick().is_empty());
}

#[test]
fn a_region_sees_twins_enter_and_leave_as_they_move_and_as_it_moves() {
    let mut f = Fixture::new(HubLimits::default());
    f.put("mover", 20.0, Some([50.0, 0.0, 0.0]));
    f.put("still", 20.0, Some([1.0, 1.0, 0.0]));
    let conn = f.hub.connect("", "", vec![]).unwrap();
    f.hub
        .subscribe(
            conn,
            &subscribe("", Some(sphere([0.0, 0.0, 0.0], 10.0)), &["$placement"]),
        )
        .unwrap();
    let mut view = View::default();
    view.apply(&f.tick()[&conn]);
    assert_eq!(view.ids(), ["still"]);

    f.patch(
        "mover",
        json!([{ "op": "replace", "path": "/$placement/position", "value": [3.0, 0.0, 0.0] }]),
    );
    let frames = f.tick();
    let Some(proto::server_message::Body::Tick(tick)) = &frames[&conn].body else {
        panic!()
    };
    assert_eq!(tick.events[0].kind(), proto::TwinEventKind::Enter);
    let pose = tick.events[0].world_pose.as_ref().expect("pose on enter");
    assert_eq!(pose.position.as_ref().unwrap().x, 3.0);
    view.apply(&frames[&conn]);
    assert_eq!(view.ids(), ["mover", "still"]);

    // A temperature change is not a requested field: nothing is sent.
    f.patch(
        "mover",
        json!([{ "op": "replace", "path": "/temperature", "value": 99.0 }]),
    );
    assert!(f.tick().is_empty());

    f.patch(
        "mover",
        json!([{ "op": "replace", "path": "/$placement/position", "value": [30.0, 0.0, 0.0] }]),
    );
    view.apply(&f.tick()[&conn]);
    assert_eq!(view.ids(), ["still"]);

    // The viewpoint moves to the mover: it enters, `still` leaves.
    f.hub
        .move_region(conn, 1, Some(&boxed([25.0, -5.0, -5.0], [35.0, 5.0, 5.0])))
        .unwrap();
    view.apply(&f.tick()[&conn]);
    assert_eq!(view.ids(), ["mover"]);
    assert_eq!(
        view.twins,
        expected(&f.world, &["$placement"], |t| position(t)
            .is_some_and(|p| p[0] >= 25.0))
    );
}

#[test]
fn a_filter_sees_twins_enter_and_leave_as_a_property_crosses_its_threshold() {
    let mut f = Fixture::new(HubLimits::default());
    f.put("hot", 80.0, None);
    f.put("cold", 10.0, None);
    let conn = f.hub.connect("", "", vec![]).unwrap();
    let sub = subscribe(
        "SELECT * FROM DIGITALTWINS T WHERE T.temperature > 50",
        None,
        &["temperature"],
    );
    f.hub.subscribe(conn, &sub).unwrap();
    let mut view = View::default();
    view.apply(&f.tick()[&conn]);
    assert_eq!(view.ids(), ["hot"]);
    f.patch(
        "cold",
        json!([{ "op": "replace", "path": "/temperature", "value": 60.0 }]),
    );
    f.patch(
        "hot",
        json!([{ "op": "replace", "path": "/temperature", "value": 40.0 }]),
    );
    view.apply(&f.tick()[&conn]);
    assert_eq!(view.ids(), ["cold"]);
    assert_eq!(view.twins[&(1, "cold".into())]["temperature"], json!(60.0));
    f.delete("cold");
    view.apply(&f.tick()[&conn]);
    assert!(view.ids().is_empty());
}

#[test]
fn a_slow_reader_gets_the_latest_value_once_and_is_dropped_when_hopeless() {
    let limits = HubLimits {
        behind_ns_max: 1_000,
        ..HubLimits::default()
    };
    let mut f = Fixture::new(limits);
    f.put("a", 0.0, None);
    let slow = f.hub.connect("", "", vec![]).unwrap();
    let quick = f.hub.connect("", "", vec![]).unwrap();
    f.manual = vec![slow, quick];
    for conn in [slow, quick] {
        f.hub.subscribe(conn, &subscribe("", None, &[])).unwrap();
    }
    let frames = f.tick();
    f.hub.ready(quick);
    assert_eq!(frames.len(), 2);
    for value in 1..=50 {
        f.patch(
            "a",
            json!([{ "op": "replace", "path": "/temperature", "value": f64::from(value) }]),
        );
        let frames = f.tick();
        // The quick reader gets every tick; the slow one has not taken its frame.
        assert_eq!(frames.keys().copied().collect::<Vec<_>>(), [quick]);
        f.hub.ready(quick);
    }
    // The slow reader comes back: one event, the newest value.
    f.hub.ready(slow);
    f.patch(
        "a",
        json!([{ "op": "replace", "path": "/label", "value": "x" }]),
    );
    let frames = f.tick();
    let Some(proto::server_message::Body::Tick(tick)) = &frames[&slow].body else {
        panic!()
    };
    assert_eq!(tick.events.len(), 1, "conflated: {tick:?}");
    let names: Vec<&str> = tick.events[0]
        .fields
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(names, ["temperature", "label"]);
    assert_eq!(
        tick.events[0].fields[0].value.as_ref().unwrap().to_json(),
        Some(json!(50.0))
    );
    // It stops reading again for longer than allowed: it is named too slow.
    f.patch(
        "a",
        json!([{ "op": "replace", "path": "/temperature", "value": 1.0 }]),
    );
    f.hub.ready(quick);
    f.now += 10_000;
    let out = f
        .hub
        .tick(&f.world, std::mem::take(&mut f.inbox), Timestamp(f.now));
    f.patch(
        "a",
        json!([{ "op": "replace", "path": "/temperature", "value": 2.0 }]),
    );
    f.now += 10_000;
    let out2 = f
        .hub
        .tick(&f.world, std::mem::take(&mut f.inbox), Timestamp(f.now));
    let slow_named: Vec<ConnId> = out
        .too_slow
        .iter()
        .chain(out2.too_slow.iter())
        .map(|(c, _)| *c)
        .collect();
    assert_eq!(slow_named, [slow]);
}

#[test]
fn a_large_snapshot_arrives_over_several_bounded_frames() {
    let limits = HubLimits {
        frame_bytes_max: 2_000,
        ..HubLimits::default()
    };
    let mut f = Fixture::new(limits);
    for n in 0..200 {
        f.put(&format!("t{n:03}"), f64::from(n), None);
    }
    let conn = f.hub.connect("", "", vec![]).unwrap();
    f.hub.subscribe(conn, &subscribe("", None, &[])).unwrap();
    let mut view = View::default();
    let mut frames = 0;
    for _ in 0..100 {
        let out = f.tick();
        let Some(message) = out.get(&conn) else { break };
        assert!(
            message.encoded_len() <= 2_000 + 200,
            "{}",
            message.encoded_len()
        );
        view.apply(message);
        f.hub.ready(conn);
        frames += 1;
    }
    assert!(frames > 5, "{frames} frames");
    assert_eq!(view.twins.len(), 200);
    assert_eq!(view.synced, [(1, false)]);
    assert_eq!(view.seq, f.world.seq().0);
}

#[test]
fn resume_after_a_reconnect_sends_only_what_changed_and_falls_back_to_a_snapshot() {
    let limits = HubLimits {
        history_changes_max: 4,
        ..HubLimits::default()
    };
    let mut f = Fixture::new(limits);
    for n in 0..5 {
        f.put(&format!("t{n}"), 10.0, None);
    }
    let query = "SELECT * FROM DIGITALTWINS T WHERE T.temperature < 50";
    let conn = f.hub.connect("", "", vec![]).unwrap();
    f.hub.subscribe(conn, &subscribe(query, None, &[])).unwrap();
    let mut view = View::default();
    view.apply(&f.tick()[&conn]);
    assert_eq!(view.twins.len(), 5);
    f.hub.disconnect(conn);

    // While away: one twin warms past the filter, one changes, one is added.
    f.patch(
        "t1",
        json!([{ "op": "replace", "path": "/temperature", "value": 90.0 }]),
    );
    f.patch(
        "t2",
        json!([{ "op": "replace", "path": "/label", "value": "two" }]),
    );
    f.put("t9", 5.0, None);
    f.tick();

    let conn = f.hub.connect("", "", vec![]).unwrap();
    let mut resume = subscribe(query, None, &[]);
    resume.resume_after_seq = view.seq;
    f.hub.subscribe(conn, &resume).unwrap();
    let frames = f.tick();
    let Some(proto::server_message::Body::Tick(tick)) = &frames[&conn].body else {
        panic!()
    };
    assert!(tick.resets.is_empty());
    let mut touched: Vec<&str> = tick.events.iter().map(|e| e.twin_id.as_str()).collect();
    touched.sort_unstable();
    assert_eq!(touched, ["t1", "t2", "t9"], "only the changed twins");
    view.apply(&frames[&conn]);
    assert_eq!(view.synced, [(1, false), (1, true)]);
    assert_eq!(
        view.twins,
        expected(&f.world, &[], |t| t["temperature"].as_f64() < Some(50.0))
    );
    f.hub.disconnect(conn);

    // Away for longer than the history holds: a fresh snapshot.
    let away = view.seq;
    for n in 0..6 {
        f.patch(
            "t0",
            json!([{ "op": "replace", "path": "/temperature", "value": f64::from(n) }]),
        );
    }
    f.tick();
    let conn = f.hub.connect("", "", vec![]).unwrap();
    resume.resume_after_seq = away;
    f.hub.subscribe(conn, &resume).unwrap();
    let frames = f.tick();
    let Some(proto::server_message::Body::Tick(tick)) = &frames[&conn].body else {
        panic!()
    };
    assert_eq!(tick.resets.len(), 1);
    view.apply(&frames[&conn]);
    assert_eq!(view.synced.last(), Some(&(1, false)));
    assert_eq!(
        view.twins,
        expected(&f.world, &[], |t| t["temperature"].as_f64() < Some(50.0))
    );
}

#[test]
fn presence_and_chat_reach_the_others() {
    let mut f = Fixture::new(HubLimits::default());
    let alice = f.hub.connect("alice", "#ff0000", vec![]).unwrap();
    let bob = f.hub.connect("bob", "#00ff00", vec![]).unwrap();
    let watcher = f.hub.connect("", "", vec![]).unwrap();
    assert_eq!(
        f.hub.set_presence(watcher, &proto::SetPresence::default()),
        Err(live::LiveError::NotAParticipant)
    );
    f.hub
        .set_presence(
            alice,
            &proto::SetPresence {
                head: Some(proto::Pose {
                    position: Some(proto::Vec3::from_array([1.0, 2.0, 3.0])),
                    ..proto::Pose::default()
                }),
                selected_twin_id: "pump-1".into(),
                ..proto::SetPresence::default()
            },
        )
        .unwrap();
    f.hub.chat(bob, "hello", Timestamp(5)).unwrap();
    let frames = f.tick();
    let Some(proto::server_message::Body::Tick(tick)) = &frames[&watcher].body else {
        panic!()
    };
    let names: Vec<&str> = tick
        .presence
        .iter()
        .map(|p| p.display_name.as_str())
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    assert_eq!(tick.presence[0].selected_twin_id, "pump-1");
    assert_eq!(
        tick.presence[0]
            .head
            .as_ref()
            .unwrap()
            .position
            .as_ref()
            .unwrap()
            .z,
        3.0
    );
    assert_eq!(tick.chat[0].text, "hello");
    assert_eq!(tick.chat[0].display_name, "bob");
    for conn in [alice, bob, watcher] {
        f.hub.ready(conn);
    }
    f.hub.disconnect(alice);
    let frames = f.tick();
    let Some(proto::server_message::Body::Tick(tick)) = &frames[&watcher].body else {
        panic!()
    };
    assert_eq!(tick.presence.len(), 1);
    assert_eq!(tick.presence[0].kind(), proto::presence_event::Kind::Leave);
}

#[test]
fn a_subscription_matching_too_many_twins_is_closed_with_the_limit() {
    let limits = HubLimits {
        twins_per_connection_max: 3,
        subscriptions_per_connection_max: 1,
        ..HubLimits::default()
    };
    let mut f = Fixture::new(limits);
    for n in 0..5 {
        f.put(&format!("t{n}"), 10.0, None);
    }
    let conn = f.hub.connect("", "", vec![]).unwrap();
    f.hub.subscribe(conn, &subscribe("", None, &[])).unwrap();
    let mut second = subscribe("", None, &[]);
    second.subscription = 2;
    assert_eq!(
        f.hub.subscribe(conn, &second).unwrap_err().code(),
        "LimitExceeded"
    );
    let frames = f.tick();
    let Some(proto::server_message::Body::Tick(tick)) = &frames[&conn].body else {
        panic!()
    };
    assert_eq!(tick.closed.len(), 1);
    assert_eq!(tick.closed[0].error.as_ref().unwrap().code, "LimitExceeded");
    assert!(tick.events.is_empty());
}

/// One step of the property test.
#[derive(Clone, Debug)]
enum Step {
    Put(u8, f64, Option<(i8, i8)>),
    Temperature(u8, f64),
    Move(u8, i8, i8),
    Delete(u8),
    MoveRegion(i8, i8),
    Tick { reads: bool },
}

fn step() -> impl Strategy<Value = Step> {
    let twin = 0u8..12;
    let temp = (0u8..100).prop_map(f64::from);
    prop_oneof![
        (
            twin.clone(),
            temp.clone(),
            proptest::option::of((-5i8..5, -5i8..5))
        )
            .prop_map(|(t, v, p)| Step::Put(t, v, p)),
        (twin.clone(), temp).prop_map(|(t, v)| Step::Temperature(t, v)),
        (twin.clone(), -5i8..5, -5i8..5).prop_map(|(t, x, y)| Step::Move(t, x, y)),
        twin.prop_map(Step::Delete),
        (-5i8..5, -5i8..5).prop_map(|(x, y)| Step::MoveRegion(x, y)),
        any::<bool>().prop_map(|reads| Step::Tick { reads }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// A client applying the snapshot and every delta (reading every tick or only
    /// now and then) holds what a fresh snapshot at the same `Seq` holds.
    #[test]
    fn snapshot_plus_deltas_equals_a_fresh_snapshot(steps in proptest::collection::vec(step(), 1..60)) {
        let mut f = Fixture::new(HubLimits { frame_bytes_max: 600, ..HubLimits::default() });
        let conn = f.hub.connect("", "", vec![]).unwrap();
        f.manual = vec![conn];
        let query = "SELECT * FROM DIGITALTWINS T WHERE T.temperature >= 40";
        let mut region = (0i8, 0i8);
        let radius = 3.0;
        let region_of = |(x, y): (i8, i8)| sphere([f64::from(x), f64::from(y), 0.0], radius);
        f.hub.subscribe(conn, &subscribe(query, Some(region_of(region)), &["temperature", "$placement"])).unwrap();
        let mut view = View::default();
        let mut waiting = false;
        for step in steps.iter().chain(std::iter::once(&Step::Tick { reads: true })) {
            let exists = |f: &Fixture, t: u8| f.world.twin_json(&format!("t{t}")).is_some();
            match step {
                Step::Put(t, v, p) => f.put(&format!("t{t}"), *v, p.map(|(x, y)| [f64::from(x), f64::from(y), 0.0])),
                Step::Temperature(t, v) if exists(&f, *t) => f.patch(&format!("t{t}"), json!([{ "op": "replace", "path": "/temperature", "value": v }])),
                Step::Move(t, x, y) if exists(&f, *t) => f.patch(&format!("t{t}"), json!([{ "op": "add", "path": "/$placement", "value": { "position": [f64::from(*x), f64::from(*y), 0.0] } }])),
                Step::Delete(t) if exists(&f, *t) => f.delete(&format!("t{t}")),
                Step::MoveRegion(x, y) => {
                    region = (*x, *y);
                    f.hub.move_region(conn, 1, Some(&region_of(region))).unwrap();
                }
                Step::Tick { reads } => {
                    if *reads && waiting {
                        f.hub.ready(conn);
                        waiting = false;
                    }
                    // Drain until the client is level with the world (bounded: the
                    // frame budget holds at least one event, and there are 12 twins).
                    for _ in 0..40 {
                        let frames = f.tick();
                        match frames.get(&conn) {
                            Some(message) => {
                                view.apply(message);
                                waiting = true;
                            }
                            None => break,
                        }
                        if !*reads { break; }
                        f.hub.ready(conn);
                        waiting = false;
                    }
                    if *reads {
                        let center = [f64::from(region.0), f64::from(region.1), 0.0];
                        let want = expected(&f.world, &["temperature", "$placement"], |t| {
                            t["temperature"].as_f64() >= Some(40.0)
                                && position(t).is_some_and(|p| {
                                    (0..3).map(|i| (p[i] - center[i]).powi(2)).sum::<f64>() <= radius * radius
                                })
                        });
                        prop_assert_eq!(&view.twins, &want);
                        // A tick with nothing for this client sends no frame, so its
                        // `seq` may lag the world's; its view is right all the same.
                        prop_assert!(view.seq <= f.world.seq().0);
                    }
                }
                _ => {}
            }
        }
        let _ = Seq(0);
    }
}
