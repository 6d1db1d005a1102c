//! Feeds arbitrary bytes as a JSON Patch to a twin (and to a relationship) of a
//! small world: whatever the patch says, the world must answer with a result or
//! an error, never panic, and a refused patch must leave the twin as it was.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use world::{Command, Condition, Timestamp, World, WorldId};

fn seed_world() -> World {
    let mut w = World::new(WorldId::default_world());
    let models = json!([{
        "@id": "dtmi:fuzz:Thing;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
        "contents": [
            { "@type": "Property", "name": "n", "schema": "double", "writable": true },
            { "@type": "Property", "name": "s", "schema": "string", "writable": true },
            { "@type": "Property", "name": "o", "writable": true, "schema": { "@type": "Object", "fields": [
                { "name": "a", "schema": "integer" }, { "name": "b", "schema": { "@type": "Array", "elementSchema": "string" } } ] } },
            { "@type": "Property", "name": "m", "writable": true, "schema": { "@type": "Map",
                "mapKey": { "name": "k", "schema": "string" }, "mapValue": { "name": "v", "schema": "double" } } },
            { "@type": "Component", "name": "c", "schema": "dtmi:fuzz:Part;1" },
            { "@type": "Relationship", "name": "r", "properties": [{ "@type": "Property", "name": "w", "schema": "double" }] }
        ]
    }, {
        "@id": "dtmi:fuzz:Part;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
        "contents": [{ "@type": "Property", "name": "t", "schema": "double", "writable": true }]
    }]);
    w.apply(Command::AddModels(models.as_array().unwrap().clone()), Timestamp(0)).unwrap();
    for (id, parent) in [("a", None), ("b", Some("a"))] {
        let body = json!({
            "$metadata": { "$model": "dtmi:fuzz:Thing;1" }, "n": 1.5, "s": "x", "o": { "a": 1, "b": ["p"] },
            "m": { "k1": 2.0 }, "c": { "$metadata": {}, "t": 3.0 },
            "$placement": { "parent": parent, "position": [1, 2, 3] }
        });
        w.apply(Command::PutTwin { id: id.into(), body, condition: Condition::None }, Timestamp(1)).unwrap();
    }
    w.apply(Command::PutRelationship { source: "a".into(), id: "r1".into(), body: json!({ "$targetId": "b", "$relationshipName": "r", "w": 1.0 }), condition: Condition::None }, Timestamp(2)).unwrap();
    w
}

fuzz_target!(|data: &[u8]| {
    static WORLD: OnceLock<World> = OnceLock::new();
    let Ok(patch) = serde_json::from_slice::<json_patch::Patch>(data) else {
        return;
    };
    let mut w = WORLD.get_or_init(seed_world).clone();
    for id in ["a", "b"] {
        let before = w.twin_json(id);
        let result = w.apply(Command::PatchTwin { id: id.into(), patch: patch.clone(), condition: Condition::None }, Timestamp(3));
        if result.is_err() {
            assert_eq!(w.twin_json(id), before, "a refused patch changes nothing");
        }
    }
    let before = w.relationship_json("a", "r1").ok();
    let result = w.apply(Command::PatchRelationship { source: "a".into(), id: "r1".into(), patch, condition: Condition::None }, Timestamp(4));
    if result.is_err() {
        assert_eq!(w.relationship_json("a", "r1").ok(), before);
    }
});
