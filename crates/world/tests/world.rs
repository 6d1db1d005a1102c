//! Feature tests of a world: twins and relationships validated against real DTDL
//! models, ETags, placement and the scene graph, queries, and restore from records.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use world::{Command, Condition, Etag, Record, Seq, Timestamp, World, WorldError, WorldId};

const NOW: Timestamp = Timestamp(1_700_000_000_000_000_000);

fn models() -> Value {
    json!([
        {
            "@id": "dtmi:test:Asset;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
            "contents": [
                { "@type": "Property", "name": "name", "schema": "string", "writable": true },
                { "@type": "Relationship", "name": "feeds", "target": "dtmi:test:Asset;1" },
                { "@type": "Relationship", "name": "locatedIn", "target": "dtmi:test:Room;1", "maxMultiplicity": 1,
                  "properties": [{ "@type": "Property", "name": "since", "schema": "dateTime" }] }
            ]
        },
        {
            "@id": "dtmi:test:Pump;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
            "extends": "dtmi:test:Asset;1",
            "contents": [
                { "@type": "Property", "name": "rpm", "schema": "double", "writable": true },
                { "@type": "Property", "name": "count", "schema": "integer", "writable": true },
                { "@type": "Property", "name": "mode", "writable": true, "schema": {
                    "@type": "Enum", "valueSchema": "string",
                    "enumValues": [{ "name": "auto", "enumValue": "auto" }, { "name": "manual", "enumValue": "manual" }] } },
                { "@type": "Telemetry", "name": "pressure", "schema": "double" },
                { "@type": "Component", "name": "motor", "schema": "dtmi:test:Motor;1" }
            ]
        },
        {
            "@id": "dtmi:test:Motor;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
            "contents": [{ "@type": "Property", "name": "temperature", "schema": "double", "writable": true }]
        },
        {
            "@id": "dtmi:test:Room;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
            "contents": [{ "@type": "Property", "name": "area", "schema": "double", "writable": true }]
        }
    ])
}

fn world() -> World {
    let mut w = World::new(WorldId::default_world());
    let docs = models().as_array().unwrap().clone();
    w.apply(Command::AddModels(docs), NOW).expect("models load");
    w
}

fn put(w: &mut World, id: &str, body: Value) -> Result<world::Applied, WorldError> {
    w.apply(
        Command::PutTwin {
            id: id.into(),
            body,
            condition: Condition::None,
        },
        NOW,
    )
}

fn pump(rpm: f64) -> Value {
    json!({ "$metadata": { "$model": "dtmi:test:Pump;1" }, "rpm": rpm, "mode": "auto", "motor": { "$metadata": {}, "temperature": 40.5 } })
}

fn patch(ops: Value) -> json_patch::Patch {
    serde_json::from_value(ops).unwrap()
}

fn rel(
    w: &mut World,
    source: &str,
    id: &str,
    target: &str,
    name: &str,
) -> Result<world::Applied, WorldError> {
    w.apply(
        Command::PutRelationship {
            source: source.into(),
            id: id.into(),
            body: json!({ "$targetId": target, "$relationshipName": name }),
            condition: Condition::None,
        },
        NOW,
    )
}

#[test]
fn twins_are_created_in_the_shape_adt_returns() {
    let mut w = world();
    let applied = put(&mut w, "pump-1", pump(1200.0)).unwrap();
    assert_eq!(applied.seq, Seq(2));
    let twin = w.twin_json("pump-1").unwrap();
    assert_eq!(twin, applied.body);
    assert_eq!(twin["$dtId"], "pump-1");
    assert_eq!(twin["$etag"], "W/\"2\"");
    assert_eq!(twin["rpm"], 1200.0);
    assert_eq!(twin["$metadata"]["$model"], "dtmi:test:Pump;1");
    assert_eq!(twin["$metadata"]["rpm"]["lastUpdateTime"], NOW.to_rfc3339());
    assert_eq!(twin["motor"]["temperature"], 40.5);
    assert_eq!(
        twin["motor"]["$metadata"]["temperature"]["lastUpdateTime"],
        NOW.to_rfc3339()
    );
}

#[test]
fn invalid_twins_are_refused_with_every_problem_and_leave_the_world_unchanged() {
    let mut w = world();
    let seq = w.seq();
    let body = json!({
        "$metadata": { "$model": "dtmi:test:Pump;1" },
        "rpm": "fast", "count": 2.5, "mode": "turbo", "pressure": 3.0, "colour": "red",
        "motor": { "$metadata": {}, "temperature": true }
    });
    let err = put(&mut w, "pump-1", body).unwrap_err();
    let WorldError::Invalid(invalid) = &err else {
        panic!("{err}")
    };
    let paths: Vec<&str> = invalid.problems.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/rpm",
            "/count",
            "/mode",
            "/pressure",
            "/colour",
            "/motor/temperature"
        ],
        "{err}"
    );
    assert!(err.to_string().contains("telemetry"), "{err}");
    assert_eq!(err.status(), 400);
    assert_eq!(w.seq(), seq, "a refused command takes no Seq");
    assert!(w.twin_json("pump-1").is_none());

    let unknown = put(
        &mut w,
        "x",
        json!({ "$metadata": { "$model": "dtmi:test:Nope;1" } }),
    )
    .unwrap_err();
    assert!(matches!(unknown, WorldError::ModelNotFound(_)), "{unknown}");
    let no_model = put(&mut w, "x", json!({ "rpm": 1 })).unwrap_err();
    assert!(
        no_model.to_string().contains("$metadata.$model"),
        "{no_model}"
    );
}

#[test]
fn patches_update_values_and_only_their_own_timestamps() {
    let mut w = world();
    put(&mut w, "pump-1", pump(1200.0)).unwrap();
    let later = Timestamp(NOW.0 + 5_000_000_000);
    let applied = w
        .apply(
            Command::PatchTwin {
                id: "pump-1".into(),
                patch: patch(json!([
                    { "op": "replace", "path": "/rpm", "value": 900.0 },
                    { "op": "add", "path": "/name", "value": "P1" },
                    { "op": "replace", "path": "/motor/temperature", "value": 41.0 }
                ])),
                condition: Condition::IfMatch(Etag(Seq(2))),
            },
            later,
        )
        .unwrap();
    let twin = w.twin_json("pump-1").unwrap();
    assert_eq!(twin["rpm"], 900.0);
    assert_eq!(twin["name"], "P1");
    assert_eq!(
        twin["$metadata"]["rpm"]["lastUpdateTime"],
        later.to_rfc3339()
    );
    assert_eq!(
        twin["$metadata"]["mode"]["lastUpdateTime"],
        NOW.to_rfc3339()
    );
    assert_eq!(
        twin["motor"]["$metadata"]["temperature"]["lastUpdateTime"],
        later.to_rfc3339()
    );
    let world::Change::TwinUpdated { fields, .. } = &applied.changes[0] else {
        panic!()
    };
    assert_eq!(fields, &["rpm", "motor", "name"]);

    // Stale ETag, a patch that breaks the model, and a patch of a missing path.
    let stale = w.apply(
        Command::PatchTwin {
            id: "pump-1".into(),
            patch: patch(json!([{ "op": "replace", "path": "/rpm", "value": 1 }])),
            condition: Condition::IfMatch(Etag(Seq(2))),
        },
        later,
    );
    assert!(
        matches!(stale, Err(WorldError::PreconditionFailed { .. })),
        "{stale:?}"
    );
    let bad = w.apply(
        Command::PatchTwin {
            id: "pump-1".into(),
            patch: patch(json!([{ "op": "replace", "path": "/rpm", "value": "x" }])),
            condition: Condition::None,
        },
        later,
    );
    assert!(matches!(bad, Err(WorldError::Invalid(_))), "{bad:?}");
    let missing = w.apply(
        Command::PatchTwin {
            id: "pump-1".into(),
            patch: patch(json!([{ "op": "replace", "path": "/count", "value": 1 }])),
            condition: Condition::None,
        },
        later,
    );
    assert!(
        matches!(missing, Err(WorldError::Patch { .. })),
        "{missing:?}"
    );
    let system = w.apply(
        Command::PatchTwin {
            id: "pump-1".into(),
            patch: patch(json!([{ "op": "replace", "path": "/$dtId", "value": "y" }])),
            condition: Condition::None,
        },
        later,
    );
    assert!(
        matches!(system, Err(WorldError::Patch { .. })),
        "{system:?}"
    );
    assert_eq!(
        w.twin_json("pump-1").unwrap(),
        twin,
        "refused patches change nothing"
    );
}

#[test]
fn replacing_a_twin_reports_only_the_fields_that_changed() {
    let mut w = world();
    put(&mut w, "pump-1", pump(1.0)).unwrap();
    let mut body = pump(2.0);
    body["$dtId"] = json!("pump-1");
    body["$etag"] = json!("W/\"2\"");
    let applied = put(&mut w, "pump-1", body).unwrap();
    assert_eq!(
        applied.changes,
        vec![world::Change::TwinUpdated {
            id: world::TwinId::parse("pump-1").unwrap(),
            fields: vec!["rpm".into()]
        }]
    );
}

#[test]
fn decommissioned_models_stay_decommissioned_after_a_restore() {
    let mut w = World::new(WorldId::default_world());
    let mut stored = Stored::default();
    stored.keep(
        w.apply(
            Command::AddModels(models().as_array().unwrap().clone()),
            NOW,
        )
        .unwrap()
        .records,
    );
    let room = model::Dtmi::parse("dtmi:test:Room;1").unwrap();
    stored.keep(
        w.apply(Command::DecommissionModel(room.clone()), NOW)
            .unwrap()
            .records,
    );
    let restored = stored.restore(w.seq());
    assert_eq!(
        restored.model_json(&room, false).unwrap()["decommissioned"],
        true
    );
    assert!(restored.models().is_decommissioned(&room));
}

/// Found by the `patch` fuzz target: json-patch's own rollback panicked on this
/// failing sequence; a refused patch must be an error that changes nothing.
#[test]
fn fuzz_patch_whose_rollback_panicked_in_json_patch_is_refused() {
    let mut w = world();
    put(&mut w, "pump-1", pump(1.0)).unwrap();
    let before = w.twin_json("pump-1");
    let ops = json!([
        { "op": "move", "from": "/mode", "path": "/rpm" },
        { "op": "copy", "from": "/rpm", "path": "/a" },
        { "op": "copy", "from": "/rpm", "path": "/w" },
        { "op": "copy", "from": "/rpm", "path": "/b" },
        { "op": "copy", "from": "/rpm", "path": "/c" },
        { "op": "copy", "from": "/rpm", "path": "/d" },
        { "op": "move", "from": "/w", "path": "//w" }
    ]);
    let result = w.apply(
        Command::PatchTwin {
            id: "pump-1".into(),
            patch: patch(ops),
            condition: Condition::None,
        },
        NOW,
    );
    assert!(
        matches!(result, Err(WorldError::Patch { .. })),
        "{result:?}"
    );
    assert_eq!(w.twin_json("pump-1"), before);
}

#[test]
fn patches_that_copy_a_twin_into_itself_are_capped() {
    // The fuzzer's out-of-memory find: each copy doubles the document, so 64
    // of them would ask for 2^64 values before validation could refuse them.
    let mut w = world();
    put(&mut w, "pump-1", pump(1.0)).unwrap();
    let before = w.twin_json("pump-1");
    let mut ops = vec![json!({ "op": "add", "path": "/x", "value": { "y": [1, 2, 3] } })];
    ops.extend((0..64).map(|_| json!({ "op": "copy", "from": "/x", "path": "/x/y/-" })));
    let result = w.apply(
        Command::PatchTwin {
            id: "pump-1".into(),
            patch: patch(json!(ops)),
            condition: Condition::None,
        },
        NOW,
    );
    match result {
        Err(WorldError::Patch { reason, .. }) => {
            assert!(
                reason.contains(&world::PATCHED_NODES_MAX.to_string()),
                "{reason}"
            )
        }
        other => panic!("expected the copy cap, got {other:?}"),
    }
    assert_eq!(w.twin_json("pump-1"), before);
}

#[test]
fn if_none_match_refuses_to_overwrite() {
    let mut w = world();
    put(&mut w, "pump-1", pump(1.0)).unwrap();
    let again = w.apply(
        Command::PutTwin {
            id: "pump-1".into(),
            body: pump(2.0),
            condition: Condition::IfNotExists,
        },
        NOW,
    );
    assert!(matches!(again, Err(WorldError::AlreadyExists { .. })));
    assert_eq!(again.unwrap_err().status(), 412);
}

#[test]
fn relationships_follow_their_definitions() {
    let mut w = world();
    put(&mut w, "pump-1", pump(1.0)).unwrap();
    put(&mut w, "pump-2", pump(2.0)).unwrap();
    put(
        &mut w,
        "room-1",
        json!({ "$metadata": { "$model": "dtmi:test:Room;1" }, "area": 12.5 }),
    )
    .unwrap();
    put(
        &mut w,
        "room-2",
        json!({ "$metadata": { "$model": "dtmi:test:Room;1" } }),
    )
    .unwrap();

    let r = rel(&mut w, "pump-1", "r1", "pump-2", "feeds").unwrap();
    assert_eq!(r.body["$sourceId"], "pump-1");
    assert_eq!(r.body["$targetId"], "pump-2");
    rel(&mut w, "pump-1", "in", "room-1", "locatedIn").unwrap();

    let wrong_target = rel(&mut w, "pump-1", "r2", "room-1", "feeds").unwrap_err();
    assert!(
        wrong_target
            .to_string()
            .contains("not dtmi:test:Asset;1 or a subtype"),
        "{wrong_target}"
    );
    let second_room = rel(&mut w, "pump-1", "in2", "room-2", "locatedIn").unwrap_err();
    assert!(
        second_room.to_string().contains("at most 1"),
        "{second_room}"
    );
    // Replacing the one allowed relationship is not a second one.
    rel(&mut w, "pump-1", "in", "room-2", "locatedIn").unwrap();
    let unknown_name = rel(&mut w, "pump-1", "r3", "pump-2", "drives").unwrap_err();
    assert!(
        unknown_name.to_string().contains("not a relationship"),
        "{unknown_name}"
    );
    let bad_prop = w
        .apply(
            Command::PutRelationship {
                source: "pump-2".into(),
                id: "in".into(),
                body: json!({ "$targetId": "room-1", "$relationshipName": "locatedIn", "since": "yesterday" }),
                condition: Condition::None,
            },
            NOW,
        )
        .unwrap_err();
    assert!(bad_prop.to_string().contains("/since"), "{bad_prop}");

    let out = w.outgoing_relationships("pump-1", None).unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(
        w.outgoing_relationships("pump-1", Some("feeds"))
            .unwrap()
            .len(),
        1
    );
    let incoming = w.incoming_relationships("room-2").unwrap();
    assert_eq!(
        incoming,
        vec![json!({
            "$relationshipId": "in", "$sourceId": "pump-1", "$relationshipName": "locatedIn",
            "$relationshipLink": "/digitaltwins/pump-1/relationships/in"
        })]
    );

    let busy = w
        .apply(
            Command::DeleteTwin {
                id: "pump-2".into(),
                condition: Condition::None,
            },
            NOW,
        )
        .unwrap_err();
    assert!(busy.to_string().contains("1 incoming"), "{busy}");
    w.apply(
        Command::DeleteRelationship {
            source: "pump-1".into(),
            id: "r1".into(),
            condition: Condition::None,
        },
        NOW,
    )
    .unwrap();
    w.apply(
        Command::DeleteTwin {
            id: "pump-2".into(),
            condition: Condition::None,
        },
        NOW,
    )
    .unwrap();
    assert!(w.twin_json("pump-2").is_none());
}

#[test]
fn placements_compose_through_parents_and_feed_the_spatial_index() {
    let mut w = world();
    let mut room = json!({ "$metadata": { "$model": "dtmi:test:Room;1" } });
    room["$placement"] = json!({ "position": [100.0, 0.0, 0.0] });
    put(&mut w, "hall", room).unwrap();
    let mut p = pump(1.0);
    p["$placement"] =
        json!({ "parent": "hall", "position": [1.0, 2.0, 0.0], "asset": "asset:pump" });
    put(&mut w, "pump-1", p).unwrap();
    assert_eq!(
        w.twin_pose("pump-1").unwrap().position.to_array(),
        [101.0, 2.0, 0.0]
    );
    assert_eq!(
        w.twins_in_box([100.5, 1.0, -1.0], [102.0, 3.0, 1.0]).len(),
        1
    );

    // Moving the parent moves the child, in the index too.
    w.apply(
        Command::PatchTwin { id: "hall".into(), patch: patch(json!([{ "op": "replace", "path": "/$placement/position", "value": [0.0, 0.0, 0.0] }])), condition: Condition::None },
        NOW,
    )
    .unwrap();
    assert_eq!(
        w.twin_pose("pump-1").unwrap().position.to_array(),
        [1.0, 2.0, 0.0]
    );
    assert!(
        w.twins_in_box([100.5, 1.0, -1.0], [102.0, 3.0, 1.0])
            .is_empty()
    );
    assert_eq!(w.twins_in_box([0.5, 1.0, -1.0], [2.0, 3.0, 1.0]).len(), 1);

    // A cycle of parents and a missing parent are refused.
    let cycle = w.apply(
        Command::PatchTwin {
            id: "hall".into(),
            patch: patch(json!([{ "op": "add", "path": "/$placement/parent", "value": "pump-1" }])),
            condition: Condition::None,
        },
        NOW,
    );
    assert!(matches!(cycle, Err(WorldError::Conflict(_))), "{cycle:?}");
    let mut orphan = pump(1.0);
    orphan["$placement"] = json!({ "parent": "nowhere" });
    let missing = put(&mut w, "pump-2", orphan).unwrap_err();
    assert!(
        missing.to_string().contains("no twin 'nowhere'"),
        "{missing}"
    );
    assert!(w.twin_json("pump-2").is_none());
    let parent_busy = w
        .apply(
            Command::DeleteTwin {
                id: "hall".into(),
                condition: Condition::None,
            },
            NOW,
        )
        .unwrap_err();
    assert!(
        parent_busy.to_string().contains("placement parent"),
        "{parent_busy}"
    );
}

#[test]
fn queries_run_over_the_world() {
    let mut w = world();
    for i in 0..20 {
        let mut p = pump(f64::from(i) * 100.0);
        p["$placement"] = json!({ "position": [f64::from(i), 0.0, 0.0] });
        put(&mut w, &format!("pump-{i}"), p).unwrap();
    }
    put(
        &mut w,
        "room-1",
        json!({ "$metadata": { "$model": "dtmi:test:Room;1" }, "area": 3.0 }),
    )
    .unwrap();
    rel(&mut w, "pump-1", "in", "room-1", "locatedIn").unwrap();
    let limits = query::Limits::default();
    let fast = w
        .query(
            "SELECT * FROM DIGITALTWINS T WHERE T.rpm >= 1500",
            0,
            100,
            &limits,
        )
        .unwrap();
    assert_eq!(fast.rows.len(), 5);
    let assets = w
        .query(
            "SELECT COUNT() FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:test:Asset;1')",
            0,
            100,
            &limits,
        )
        .unwrap();
    assert_eq!(assets.rows, vec![json!({ "COUNT": 20 })]);
    let near = w
        .query(
            "SELECT T.$dtId AS id FROM DIGITALTWINS T WHERE WITHIN_BOX(T, 2.5, -1, -1, 4.5, 1, 1)",
            0,
            100,
            &limits,
        )
        .unwrap();
    assert_eq!(
        near.rows,
        vec![json!({ "id": "pump-3" }), json!({ "id": "pump-4" })]
    );
    let joined = w
        .query(
            "SELECT R FROM DIGITALTWINS P JOIN R RELATED P.locatedIn WHERE P.$dtId = 'pump-1'",
            0,
            100,
            &limits,
        )
        .unwrap();
    assert_eq!(joined.rows.len(), 1);
    assert_eq!(joined.rows[0]["R"]["$dtId"], "room-1");
    let component = w
        .query(
            "SELECT T.motor.temperature AS t FROM DIGITALTWINS T WHERE T.$dtId = 'pump-0'",
            0,
            10,
            &limits,
        )
        .unwrap();
    assert_eq!(component.rows, vec![json!({ "t": 40.5 })]);
    let paged = w
        .query("SELECT * FROM DIGITALTWINS", 5, 10, &limits)
        .unwrap();
    assert_eq!(paged.rows.len(), 10);
    assert!(paged.more);
    assert!(w.query("SELECT * FROM", 0, 10, &limits).is_err());
}

#[test]
fn models_in_use_cannot_be_deleted_and_decommissioned_ones_take_no_new_twins() {
    let mut w = world();
    put(
        &mut w,
        "room-1",
        json!({ "$metadata": { "$model": "dtmi:test:Room;1" } }),
    )
    .unwrap();
    let room = model::Dtmi::parse("dtmi:test:Room;1").unwrap();
    let in_use = w
        .apply(Command::DeleteModel(room.clone()), NOW)
        .unwrap_err();
    assert!(in_use.to_string().contains("used by 1 twin"), "{in_use}");
    w.apply(Command::DecommissionModel(room.clone()), NOW)
        .unwrap();
    assert_eq!(w.model_json(&room, false).unwrap()["decommissioned"], true);
    let refused = put(
        &mut w,
        "room-2",
        json!({ "$metadata": { "$model": "dtmi:test:Room;1" } }),
    )
    .unwrap_err();
    assert!(refused.to_string().contains("decommissioned"), "{refused}");
    w.apply(
        Command::DeleteTwin {
            id: "room-1".into(),
            condition: Condition::None,
        },
        NOW,
    )
    .unwrap();
    let motor = model::Dtmi::parse("dtmi:test:Motor;1").unwrap();
    assert!(
        w.apply(Command::DeleteModel(motor), NOW).is_err(),
        "Pump still uses Motor as a component"
    );
}

/// The latest record per key, as a store keeps them: as values, and as the
/// bytes of `Record::encode`.
#[derive(Default)]
struct Stored {
    models: BTreeMap<String, Value>,
    twins: BTreeMap<String, Value>,
    rels: BTreeMap<(String, String), Value>,
    encoded_twins: BTreeMap<String, Vec<u8>>,
    encoded_rels: BTreeMap<(String, String), Vec<u8>>,
}

impl Stored {
    fn keep(&mut self, records: Vec<Record>) {
        for record in records {
            match (&record, record.encode()) {
                (Record::Twin { id, .. }, Some(bytes)) => {
                    assert_eq!(bytes.first(), Some(&world::TWIN_FORMAT_V1), "{record:?}");
                    self.encoded_twins.insert(id.to_string(), bytes);
                }
                (Record::TwinDeleted(id), None) => {
                    self.encoded_twins.remove(id.as_str());
                }
                (Record::Relationship { source, id, .. }, Some(bytes)) => {
                    self.encoded_rels
                        .insert((source.to_string(), id.clone()), bytes);
                }
                (Record::RelationshipDeleted { source, id }, None) => {
                    self.encoded_rels.remove(&(source.to_string(), id.clone()));
                }
                (Record::Model { .. }, Some(_)) | (Record::ModelDeleted(_), None) => {}
                (other, bytes) => panic!("{other:?} encoded as {bytes:?}"),
            }
            match record {
                Record::Model { id, value } => {
                    self.models.insert(id.to_string(), value);
                }
                Record::ModelDeleted(id) => {
                    self.models.remove(id.as_str());
                }
                Record::Twin { id, value } => {
                    self.twins.insert(id.to_string(), value);
                }
                Record::TwinDeleted(id) => {
                    self.twins.remove(id.as_str());
                }
                Record::Relationship { source, id, value } => {
                    self.rels.insert((source.to_string(), id), value);
                }
                Record::RelationshipDeleted { source, id } => {
                    self.rels.remove(&(source.to_string(), id));
                }
            }
        }
    }

    fn restore(&self, seq: Seq) -> World {
        World::restore(
            WorldId::default_world(),
            seq,
            self.models.values().cloned().collect(),
            self.twins.values().cloned(),
            self.rels.values().cloned(),
        )
        .expect("stored records restore")
    }

    /// Restores from the encoded bytes; every `json_every`-th twin is given as
    /// the JSON text that stores written before the binary form hold.
    fn restore_encoded(&self, seq: Seq, json_every: usize) -> World {
        let twins = self
            .encoded_twins
            .iter()
            .enumerate()
            .map(|(n, (id, bytes))| world::StoredRecord {
                key: id.as_bytes().to_vec(),
                value: if json_every > 0 && n % json_every == 0 {
                    self.twins[id].to_string().into_bytes()
                } else {
                    bytes.clone()
                },
            });
        let rels = self
            .encoded_rels
            .iter()
            .map(|((source, id), bytes)| world::StoredRecord {
                key: format!("{source}\0{id}").into_bytes(),
                value: bytes.clone(),
            });
        World::restore_encoded(
            WorldId::default_world(),
            seq,
            self.models.values().cloned().collect(),
            twins,
            rels,
        )
        .expect("encoded records restore")
    }
}

fn snapshot(w: &World, ids: &[String]) -> Vec<Value> {
    let mut out = Vec::new();
    for id in ids {
        out.push(w.twin_json(id).unwrap_or(Value::Null));
        out.push(json!(w.outgoing_relationships(id, None).ok()));
        out.push(json!(w.twin_pose(id).map(|p| p.position.to_array())));
    }
    out
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 48, ..Default::default() })]

    /// Whatever sequence of commands runs (many of them refused), restoring from
    /// the records they produced rebuilds exactly the same world.
    #[test]
    fn restoring_from_records_rebuilds_the_same_world(ops in proptest::collection::vec((0u8..9, 0usize..6, 0usize..6, -50i32..50), 1..60), json_every in 0usize..3) {
        let mut w = World::new(WorldId::default_world());
        let mut stored = Stored::default();
        let applied = w.apply(Command::AddModels(models().as_array().unwrap().clone()), NOW).unwrap();
        stored.keep(applied.records);
        let ids: Vec<String> = (0..6).map(|i| format!("t{i}")).collect();
        for (n, (op, a, b, x)) in ops.into_iter().enumerate() {
            let now = Timestamp(NOW.0 + n as i64);
            let command = match op {
                0 => Command::PutTwin { id: ids[a].clone(), body: pump(f64::from(x)), condition: Condition::None },
                1 => Command::PatchTwin { id: ids[a].clone(), patch: patch(json!([{ "op": "add", "path": "/count", "value": x }])), condition: Condition::None },
                2 => Command::PatchTwin { id: ids[a].clone(), patch: patch(json!([{ "op": "add", "path": "/$placement", "value": { "parent": ids[b], "position": [x, 1, 2] } }])), condition: Condition::None },
                3 => Command::PatchTwin { id: ids[a].clone(), patch: patch(json!([{ "op": "add", "path": "/$placement", "value": { "position": [x, 0, 0] } }])), condition: Condition::None },
                4 => Command::PutRelationship { source: ids[a].clone(), id: format!("r{b}"), body: json!({ "$targetId": ids[b], "$relationshipName": "feeds" }), condition: Condition::None },
                5 => Command::DeleteRelationship { source: ids[a].clone(), id: format!("r{b}"), condition: Condition::None },
                6 => Command::PatchTwin { id: ids[a].clone(), patch: patch(json!([{ "op": "add", "path": "/name", "value": "n".repeat(b * 2) }])), condition: Condition::None },
                7 => Command::PatchTwin { id: ids[a].clone(), patch: patch(json!([{ "op": "replace", "path": "/motor/temperature", "value": f64::from(x) / 4.0 }])), condition: Condition::None },
                _ => Command::DeleteTwin { id: ids[a].clone(), condition: Condition::None },
            };
            let before = w.seq();
            match w.apply(command, now) {
                Ok(applied) => {
                    proptest::prop_assert_eq!(applied.seq, before.next());
                    stored.keep(applied.records);
                }
                Err(_) => proptest::prop_assert_eq!(w.seq(), before),
            }
        }
        for restored in [stored.restore(w.seq()), stored.restore_encoded(w.seq(), json_every)] {
            proptest::prop_assert_eq!(restored.twin_count(), w.twin_count());
            proptest::prop_assert_eq!(restored.relationship_count(), w.relationship_count());
            proptest::prop_assert_eq!(snapshot(&restored, &ids), snapshot(&w, &ids));
            let everywhere = ([-1e6, -1e6, -1e6], [1e6, 1e6, 1e6]);
            let mut a = w.twins_in_box(everywhere.0, everywhere.1);
            let mut b = restored.twins_in_box(everywhere.0, everywhere.1);
            a.sort();
            b.sort();
            proptest::prop_assert_eq!(a, b);
            // The column tables are rebuilt too.
            let limits = query::Limits::default();
            for text in [
                "SELECT T.$dtId FROM DIGITALTWINS T WHERE T.rpm > 0 AND T.mode = 'auto'",
                "SELECT T.$dtId FROM DIGITALTWINS T WHERE T.count <= 10",
                "SELECT T.$dtId FROM DIGITALTWINS T WHERE T.name = 'nnnnnnnn'",
            ] {
                let mut a = w.query(text, 0, 100, &limits).unwrap().rows;
                let mut b = restored.query(text, 0, 100, &limits).unwrap().rows;
                a.sort_by_key(Value::to_string);
                b.sort_by_key(Value::to_string);
                proptest::prop_assert_eq!(a, b, "{}", text);
            }
        }
    }
}
