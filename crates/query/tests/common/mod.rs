//! An in-memory `TwinGraph` for tests: twins and relationships as JSON documents in
//! vectors, models with `extends`, optional placement, and counters that tell which
//! index the planner asked for. The indexes can be switched off to check that the
//! scan gives the same answers.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test binary uses a different part of the helper"
)]

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashMap;

use query::{CompareOp, Conjunct, Matches, TwinGraph};
use serde_json::{Value, json};

#[derive(Default)]
pub struct MemGraph {
    twins: Vec<Value>,
    positions: Vec<Option<[f64; 3]>>,
    ids: HashMap<String, usize>,
    rels: Vec<Value>,
    /// Per twin: (relationship index, target twin index).
    outgoing: Vec<Vec<(usize, usize)>>,
    /// Model id to the models it extends directly.
    extends: HashMap<String, Vec<String>>,
    /// Whether `twins_of_model`, `twins_in_box` answer (else `None`: no index).
    pub indexes: bool,
    pub scans: Cell<usize>,
    pub model_lookups: Cell<usize>,
    pub box_lookups: Cell<usize>,
    pub id_lookups: Cell<usize>,
    pub value_lookups: Cell<usize>,
    pub where_lookups: Cell<usize>,
}

impl MemGraph {
    pub fn new(indexes: bool) -> Self {
        MemGraph {
            indexes,
            ..MemGraph::default()
        }
    }

    pub fn model(&mut self, id: &str, extends: &[&str]) {
        self.extends.insert(
            id.to_owned(),
            extends.iter().map(|s| (*s).to_owned()).collect(),
        );
    }

    /// Adds a twin; `properties` is merged into `{ "$dtId", "$etag", "$metadata" }`.
    pub fn twin(&mut self, id: &str, model: &str, properties: Value, position: Option<[f64; 3]>) {
        let mut doc = json!({
            "$dtId": id,
            "$etag": "W/\"1\"",
            "$metadata": { "$model": model },
        });
        if let (Some(doc), Some(props)) = (doc.as_object_mut(), properties.as_object()) {
            for (k, v) in props {
                doc.insert(k.clone(), v.clone());
            }
        }
        self.ids.insert(id.to_owned(), self.twins.len());
        self.twins.push(doc);
        self.positions.push(position);
        self.outgoing.push(Vec::new());
    }

    pub fn relate(&mut self, source: &str, name: &str, target: &str, properties: Value) {
        let s = self.ids[source];
        let t = self.ids[target];
        let mut doc = json!({
            "$relationshipId": format!("{source}-{name}-{target}"),
            "$etag": "W/\"1\"",
            "$sourceId": source,
            "$relationshipName": name,
            "$targetId": target,
        });
        if let (Some(doc), Some(props)) = (doc.as_object_mut(), properties.as_object()) {
            for (k, v) in props {
                doc.insert(k.clone(), v.clone());
            }
        }
        self.rels.push(doc);
        self.outgoing[s].push((self.rels.len() - 1, t));
    }

    fn model_of(&self, twin: usize) -> &str {
        self.twins[twin]["$metadata"]["$model"]
            .as_str()
            .unwrap_or("")
    }

    fn extends_model(&self, model: &str, wanted: &str, depth: usize) -> bool {
        // Depth bound: DTDL allows 10 levels of extends.
        if model == wanted {
            return true;
        }
        depth < 10
            && self.extends.get(model).is_some_and(|parents| {
                parents
                    .iter()
                    .any(|p| self.extends_model(p, wanted, depth + 1))
            })
    }
}

fn walk<'v>(mut value: &'v Value, path: &[&str]) -> Option<&'v Value> {
    for segment in path {
        value = value.as_object()?.get(*segment)?;
    }
    Some(value)
}

impl TwinGraph for MemGraph {
    type Twin = usize;
    type Rel = usize;

    fn twins(&self) -> Box<dyn Iterator<Item = usize> + '_> {
        self.scans.set(self.scans.get() + 1);
        Box::new(0..self.twins.len())
    }

    fn twins_of_model(&self, model: &str, exact: bool) -> Option<Vec<usize>> {
        if !self.indexes {
            return None;
        }
        self.model_lookups.set(self.model_lookups.get() + 1);
        Some(
            (0..self.twins.len())
                .filter(|t| self.is_of_model(*t, model, exact))
                .collect(),
        )
    }

    fn twins_in_box(&self, min: [f64; 3], max: [f64; 3]) -> Option<Vec<usize>> {
        if !self.indexes {
            return None;
        }
        self.box_lookups.set(self.box_lookups.get() + 1);
        Some(
            (0..self.twins.len())
                .filter(|t| {
                    self.positions[*t]
                        .is_some_and(|p| (0..3).all(|a| min[a] <= p[a] && p[a] <= max[a]))
                })
                .collect(),
        )
    }

    fn twins_with_value(&self, path: &[&str], value: &Value) -> Option<Vec<usize>> {
        if !self.indexes {
            return None;
        }
        self.value_lookups.set(self.value_lookups.get() + 1);
        let same = |v: &Value| match (v.as_f64(), value.as_f64()) {
            (Some(a), Some(b)) => a == b,
            _ => v == value,
        };
        Some(
            (0..self.twins.len())
                .filter(|t| walk(&self.twins[*t], path).is_some_and(same))
                .collect(),
        )
    }

    /// Answers comparisons with a number or string literal and every model test,
    /// from its own reading of the rules (written apart from the engine's), and
    /// leaves the other comparisons to the engine: both halves get exercised.
    fn twins_where(
        &self,
        conjuncts: &[Conjunct<'_>],
        enough: Option<usize>,
    ) -> Option<Matches<usize>> {
        if !self.indexes {
            return None;
        }
        self.where_lookups.set(self.where_lookups.get() + 1);
        let applied: Vec<bool> = conjuncts
            .iter()
            .map(|c| match c {
                Conjunct::Compare { value, .. } => value.is_number() || value.is_string(),
                Conjunct::OfModel { .. } => true,
            })
            .collect();
        let holds = |twin: usize, conjunct: &Conjunct<'_>| match *conjunct {
            Conjunct::OfModel { model, exact } => self.is_of_model(twin, model, exact),
            Conjunct::Compare { path, op, value } => {
                let Some(own) = walk(&self.twins[twin], path) else {
                    return false;
                };
                let ordering = match (own, value) {
                    (Value::Number(a), Value::Number(b)) => a.as_f64().partial_cmp(&b.as_f64()),
                    (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
                    _ => None,
                };
                match (op, ordering) {
                    (CompareOp::Eq, o) => o.is_some_and(|o| o.is_eq()),
                    (CompareOp::Ne, o) => o.is_none_or(|o| o.is_ne()),
                    (CompareOp::Lt, Some(o)) => o.is_lt(),
                    (CompareOp::Le, Some(o)) => o.is_le(),
                    (CompareOp::Gt, Some(o)) => o.is_gt(),
                    (CompareOp::Ge, Some(o)) => o.is_ge(),
                    (_, None) => false,
                }
            }
        };
        let mut twins: Vec<usize> = (0..self.twins.len())
            .filter(|t| {
                conjuncts
                    .iter()
                    .zip(&applied)
                    .all(|(c, applied)| !applied || holds(*t, c))
            })
            .collect();
        if let Some(enough) = enough
            && !applied.contains(&false)
        {
            twins.truncate(enough);
        }
        Some(Matches { twins, applied })
    }

    fn twin_by_id(&self, id: &str) -> Option<usize> {
        self.id_lookups.set(self.id_lookups.get() + 1);
        self.ids.get(id).copied()
    }

    fn twin_id(&self, twin: usize) -> &str {
        self.twins[twin]["$dtId"].as_str().unwrap_or("")
    }

    fn is_of_model(&self, twin: usize, model: &str, exact: bool) -> bool {
        let own = self.model_of(twin);
        if exact {
            own == model
        } else {
            self.extends_model(own, model, 0)
        }
    }

    fn twin_value(&self, twin: usize, path: &[&str]) -> Option<Cow<'_, Value>> {
        walk(self.twins.get(twin)?, path).map(Cow::Borrowed)
    }

    fn twin_json(&self, twin: usize) -> Value {
        self.twins[twin].clone()
    }

    fn outgoing(&self, twin: usize, relationship_name: &str) -> Vec<(usize, usize)> {
        self.outgoing[twin]
            .iter()
            .filter(|(rel, _)| self.rels[*rel]["$relationshipName"] == relationship_name)
            .copied()
            .collect()
    }

    fn relationships(&self) -> Box<dyn Iterator<Item = usize> + '_> {
        Box::new(0..self.rels.len())
    }

    fn relationship_value(&self, rel: usize, path: &[&str]) -> Option<Cow<'_, Value>> {
        walk(self.rels.get(rel)?, path).map(Cow::Borrowed)
    }

    fn relationship_json(&self, rel: usize) -> Value {
        self.rels[rel].clone()
    }

    fn world_position(&self, twin: usize) -> Option<[f64; 3]> {
        self.positions.get(twin).copied().flatten()
    }
}

/// A small building: one building, two floors, four rooms (one a `MeetingRoom`
/// extending `Room`), sensors, placement for the rooms.
pub fn building(indexes: bool) -> MemGraph {
    let mut g = MemGraph::new(indexes);
    g.model("dtmi:ex:Space;1", &[]);
    g.model("dtmi:ex:Building;1", &["dtmi:ex:Space;1"]);
    g.model("dtmi:ex:Floor;1", &["dtmi:ex:Space;1"]);
    g.model("dtmi:ex:Room;1", &["dtmi:ex:Space;1"]);
    g.model("dtmi:ex:MeetingRoom;1", &["dtmi:ex:Room;1"]);
    g.model("dtmi:ex:Sensor;1", &[]);
    g.twin("b1", "dtmi:ex:Building;1", json!({ "name": "HQ" }), None);
    g.twin(
        "f1",
        "dtmi:ex:Floor;1",
        json!({ "name": "Ground", "level": 0 }),
        Some([0.0, 0.0, 0.0]),
    );
    g.twin(
        "f2",
        "dtmi:ex:Floor;1",
        json!({ "name": "First", "level": 1 }),
        Some([0.0, 0.0, 4.0]),
    );
    g.twin(
        "r1",
        "dtmi:ex:Room;1",
        json!({ "name": "Lobby", "temperature": 21.5, "area": 120, "occupied": true,
                "tags": ["public", "entry"], "hvac": { "mode": "auto", "setpoint": 21 } }),
        Some([1.0, 1.0, 0.0]),
    );
    g.twin(
        "r2",
        "dtmi:ex:Room;1",
        json!({ "name": "Kitchen", "temperature": 23.0, "area": 30, "occupied": false,
                "tags": ["staff"], "hvac": { "mode": "cool", "setpoint": 20 } }),
        Some([10.0, 1.0, 0.0]),
    );
    g.twin(
        "r3",
        "dtmi:ex:MeetingRoom;1",
        json!({ "name": "Board room", "temperature": 19.0, "area": 45, "occupied": true,
                "seats": 12, "display name": "The Board" }),
        Some([1.0, 10.0, 4.0]),
    );
    g.twin(
        "r4",
        "dtmi:ex:Room;1",
        json!({ "name": "Storage", "area": 10, "occupied": null }),
        None,
    );
    g.twin(
        "s1",
        "dtmi:ex:Sensor;1",
        json!({ "kind": "temperature", "value": 21.4 }),
        Some([1.0, 1.0, 2.5]),
    );
    g.twin(
        "s2",
        "dtmi:ex:Sensor;1",
        json!({ "kind": "co2", "value": 650 }),
        Some([10.0, 1.0, 2.5]),
    );
    g.relate("b1", "contains", "f1", json!({}));
    g.relate("b1", "contains", "f2", json!({}));
    g.relate("f1", "contains", "r1", json!({ "since": 2019 }));
    g.relate("f1", "contains", "r2", json!({ "since": 2021 }));
    g.relate("f2", "contains", "r3", json!({ "since": 2020 }));
    g.relate("f2", "contains", "r4", json!({}));
    g.relate("r1", "hasSensor", "s1", json!({ "installedBy": "Ada" }));
    g.relate("r2", "hasSensor", "s2", json!({ "installedBy": "Linus" }));
    g
}
