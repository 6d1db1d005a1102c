//! `World`: one twin graph with its models, twins, relationships and scene graph.
//! `World::apply` is the only way to change it; reads borrow it.

use foldhash::HashMap;
use std::sync::Arc;

use model::{Content, Dtmi, ModelSet};
use rstar::RTree;
use rstar::primitives::GeomWithData;
use serde_json::{Map, Value, json};

use crate::columns::ModelTable;
use crate::command::{Applied, Change, Command, Condition, Record, StoredRecord};
use crate::error::{Invalid, WorldError};
use crate::placement::{Placement, Pose};
use crate::twin::{self, Placed, Prop, Sym, Symbols, Twin};
use crate::value::Val;
use crate::{Etag, Seq, Timestamp, TwinId, WorldId};

mod values;
pub use values::{
    Accepted, FieldValue, VALUES_PER_UPDATE_MAX, ValueKind, ValueUpdate, ValuesApplied,
};

/// A point of the spatial index: a placed twin's world position.
pub(crate) type IndexPoint = GeomWithData<[f64; 3], u32>;

/// A model's state beside its definition.
#[derive(Clone, Debug)]
struct ModelMeta {
    upload_time: Timestamp,
}

/// A relationship as the world holds it.
#[derive(Clone, Debug)]
pub(crate) struct Rel {
    pub(crate) id: Arc<str>,
    pub(crate) source: u32,
    pub(crate) target: u32,
    pub(crate) name: Sym,
    pub(crate) seq: Seq,
    pub(crate) props: Map<String, Value>,
}

/// One world: the models, twins, relationships and placements of a twin graph.
#[derive(Clone)]
pub struct World {
    id: WorldId,
    seq: Seq,
    pub(crate) models: ModelSet,
    model_meta: HashMap<Dtmi, ModelMeta>,
    /// Interned model ids; twins refer to them by index.
    pub(crate) model_refs: Vec<Dtmi>,
    model_ref_index: HashMap<Dtmi, u32>,
    /// Per model ref: its twins and their top-level values in columns.
    pub(crate) tables: Vec<ModelTable>,
    pub(crate) symbols: Symbols,
    pub(crate) twins: Vec<Option<Twin>>,
    free_twins: Vec<u32>,
    pub(crate) twin_index: HashMap<TwinId, u32>,
    pub(crate) rels: Vec<Option<Rel>>,
    free_rels: Vec<u32>,
    rel_index: HashMap<(u32, Arc<str>), u32>,
    pub(crate) outgoing: HashMap<u32, Vec<u32>>,
    pub(crate) incoming: HashMap<u32, Vec<u32>>,
    /// Placed twins inside each parent twin.
    children: HashMap<u32, Vec<u32>>,
    pub(crate) spatial: RTree<IndexPoint>,
}

impl World {
    /// An empty world.
    pub fn new(id: WorldId) -> World {
        World {
            id,
            seq: Seq(0),
            models: ModelSet::new(),
            model_meta: HashMap::default(),
            model_refs: Vec::new(),
            model_ref_index: HashMap::default(),
            tables: Vec::new(),
            symbols: Symbols::default(),
            twins: Vec::new(),
            free_twins: Vec::new(),
            twin_index: HashMap::default(),
            rels: Vec::new(),
            free_rels: Vec::new(),
            rel_index: HashMap::default(),
            outgoing: HashMap::default(),
            incoming: HashMap::default(),
            children: HashMap::default(),
            spatial: RTree::new(),
        }
    }

    /// The world's name.
    pub fn id(&self) -> &WorldId {
        &self.id
    }

    /// The `Seq` of the last applied command.
    pub fn seq(&self) -> Seq {
        self.seq
    }

    /// The world's models.
    pub fn models(&self) -> &ModelSet {
        &self.models
    }

    /// How many twins the world holds.
    pub fn twin_count(&self) -> usize {
        self.twin_index.len()
    }

    /// How many relationships the world holds.
    pub fn relationship_count(&self) -> usize {
        self.rel_index.len()
    }

    /// Validates `command` against the world and its models; applies it and returns
    /// what changed, or refuses it and leaves the world exactly as it was.
    pub fn apply(&mut self, command: Command, now: Timestamp) -> Result<Applied, WorldError> {
        let seq = self.seq.next();
        let applied = match command {
            Command::AddModels(docs) => self.add_models(&docs, seq, now)?,
            Command::DecommissionModel(id) => self.decommission_model(&id, seq)?,
            Command::DeleteModel(id) => self.delete_model(&id, seq)?,
            Command::PutTwin {
                id,
                body,
                condition,
            } => self.put_twin(&id, &body, &condition, seq, now)?,
            Command::PatchTwin {
                id,
                patch,
                condition,
            } => self.patch_twin(&id, &patch, &condition, seq, now)?,
            Command::DeleteTwin { id, condition } => self.delete_twin(&id, &condition, seq)?,
            Command::PutRelationship {
                source,
                id,
                body,
                condition,
            } => self.put_relationship(&source, &id, &body, &condition, seq)?,
            Command::PatchRelationship {
                source,
                id,
                patch,
                condition,
            } => self.patch_relationship(&source, &id, &patch, &condition, seq)?,
            Command::DeleteRelationship {
                source,
                id,
                condition,
            } => self.delete_relationship(&source, &id, &condition, seq)?,
        };
        debug_assert_eq!(applied.seq, seq);
        self.seq = seq;
        Ok(applied)
    }

    // ----- models -----

    fn add_models(
        &mut self,
        docs: &[Value],
        seq: Seq,
        now: Timestamp,
    ) -> Result<Applied, WorldError> {
        let ids = self.models.add_values(docs)?;
        let mut records = Vec::with_capacity(ids.len());
        let mut body = Vec::with_capacity(ids.len());
        for id in &ids {
            self.model_meta
                .insert(id.clone(), ModelMeta { upload_time: now });
            records.push(Record::Model {
                id: id.clone(),
                value: self.model_record(id),
            });
            body.push(self.model_json(id, false).unwrap_or(Value::Null));
        }
        Ok(Applied {
            seq,
            body: Value::Array(body),
            records,
            changes: vec![Change::ModelsAdded(ids)],
        })
    }

    fn decommission_model(&mut self, id: &Dtmi, seq: Seq) -> Result<Applied, WorldError> {
        self.models
            .set_decommissioned(id, true)
            .map_err(|_| WorldError::ModelNotFound(id.to_string()))?;
        Ok(Applied {
            seq,
            body: Value::Null,
            records: vec![Record::Model {
                id: id.clone(),
                value: self.model_record(id),
            }],
            changes: vec![Change::ModelDecommissioned(id.clone())],
        })
    }

    fn delete_model(&mut self, id: &Dtmi, seq: Seq) -> Result<Applied, WorldError> {
        if !self.models.contains(id) {
            return Err(WorldError::ModelNotFound(id.to_string()));
        }
        let in_use = self
            .model_ref_index
            .get(id)
            .map_or(0, |r| self.tables[*r as usize].len());
        if in_use > 0 {
            return Err(WorldError::Conflict(format!(
                "model '{id}' is used by {in_use} twin(s); delete or replace them first"
            )));
        }
        self.models.remove(id)?;
        self.model_meta.remove(id);
        Ok(Applied {
            seq,
            body: Value::Null,
            records: vec![Record::ModelDeleted(id.clone())],
            changes: vec![Change::ModelDeleted(id.clone())],
        })
    }

    fn model_record(&self, id: &Dtmi) -> Value {
        let meta = &self.model_meta[id];
        json!({
            "id": id.as_str(),
            "uploadTime": meta.upload_time.to_rfc3339(),
            "decommissioned": self.models.is_decommissioned(id),
            "model": self.models.get(id).map(|i| i.source.clone()),
        })
    }

    /// A model as `GET /models/{id}` shows it; the definition only when asked.
    pub fn model_json(&self, id: &Dtmi, include_definition: bool) -> Option<Value> {
        let interface = self.models.get(id)?;
        let meta = self.model_meta.get(id)?;
        let mut object = Map::new();
        object.insert("id".into(), json!(id.as_str()));
        object.insert("description".into(), json!(interface.description));
        object.insert("displayName".into(), json!(interface.display_name));
        object.insert(
            "decommissioned".into(),
            json!(self.models.is_decommissioned(id)),
        );
        object.insert("uploadTime".into(), json!(meta.upload_time.to_rfc3339()));
        if include_definition {
            object.insert("model".into(), interface.source.clone());
        }
        Some(Value::Object(object))
    }

    /// Every model, in id order.
    pub fn model_ids(&self) -> Vec<Dtmi> {
        let mut ids: Vec<Dtmi> = self.models.iter().map(|i| i.id.clone()).collect();
        ids.sort();
        ids
    }

    fn model_ref(&mut self, id: &Dtmi) -> u32 {
        if let Some(r) = self.model_ref_index.get(id) {
            return *r;
        }
        let r = u32::try_from(self.model_refs.len()).expect("fewer than 2^32 models");
        self.model_refs.push(id.clone());
        self.tables.push(ModelTable::new());
        self.model_ref_index.insert(id.clone(), r);
        r
    }

    // ----- twins -----

    pub(crate) fn twin(&self, index: u32) -> &Twin {
        self.twins[index as usize]
            .as_ref()
            .expect("indexed twins exist")
    }

    fn twin_mut(&mut self, index: u32) -> &mut Twin {
        self.twins[index as usize]
            .as_mut()
            .expect("indexed twins exist")
    }

    pub(crate) fn twin_index(&self, id: &str) -> Option<u32> {
        self.twin_index.get(id).copied()
    }

    /// The twin as `GET /digitaltwins/{id}` returns it.
    pub fn twin_json(&self, id: &str) -> Option<Value> {
        self.twin_index(id).map(|i| self.twin_json_at(i))
    }

    pub(crate) fn twin_json_at(&self, index: u32) -> Value {
        let twin = self.twin(index);
        twin::twin_json(&self.symbols, &self.model_refs[twin.model as usize], twin)
    }

    /// The twin's current ETag.
    pub fn twin_etag(&self, id: &str) -> Option<Etag> {
        self.twin_index(id).map(|i| Etag(self.twin(i).seq))
    }

    /// The twin's world pose, if it is placed.
    pub fn twin_pose(&self, id: &str) -> Option<Pose> {
        let index = self.twin_index(id)?;
        self.twin(index).placement.as_ref()?;
        Some(self.world_pose(index))
    }

    /// Ids of the twins whose world position lies in the axis-aligned box.
    pub fn twins_in_box(&self, min: [f64; 3], max: [f64; 3]) -> Vec<TwinId> {
        let envelope = rstar::AABB::from_corners(min, max);
        self.spatial
            .locate_in_envelope(envelope)
            .map(|p| self.twin(p.data).id.clone())
            .collect()
    }

    fn check_condition(
        what: &'static str,
        id: &str,
        current: Option<Seq>,
        condition: &Condition,
    ) -> Result<(), WorldError> {
        match (condition, current) {
            (Condition::None, _) => Ok(()),
            (Condition::IfNotExists, None) => Ok(()),
            (Condition::IfNotExists, Some(_)) => Err(WorldError::AlreadyExists {
                what,
                id: id.into(),
            }),
            (Condition::IfExists | Condition::IfMatch(_), None) => Err(not_found(what, id)),
            (Condition::IfExists, Some(_)) => Ok(()),
            (Condition::IfMatch(etag), Some(seq)) if etag.0 == seq => Ok(()),
            (Condition::IfMatch(etag), Some(seq)) => Err(WorldError::PreconditionFailed {
                what,
                id: id.into(),
                expected: etag.to_string(),
                current: Etag(seq).to_string(),
            }),
        }
    }

    fn put_twin(
        &mut self,
        id: &str,
        body: &Value,
        condition: &Condition,
        seq: Seq,
        now: Timestamp,
    ) -> Result<Applied, WorldError> {
        let twin_id = TwinId::parse(id)?;
        let existing = self.twin_index(id);
        Self::check_condition("twin", id, existing.map(|i| self.twin(i).seq), condition)?;
        let subject = format!("twin '{id}'");
        let Some(object) = body.as_object() else {
            return Err(invalid(subject, "", "a twin must be a JSON object"));
        };
        let model_id = match object.get("$metadata").and_then(|m| m.get("$model")) {
            Some(Value::String(s)) => Dtmi::parse(s)
                .map_err(|e| invalid(subject.clone(), "/$metadata/$model", &e.to_string()))?,
            _ => {
                return Err(invalid(
                    subject,
                    "/$metadata/$model",
                    "a twin needs $metadata.$model naming its model",
                ));
            }
        };
        if !self.models.contains(&model_id) {
            return Err(WorldError::ModelNotFound(model_id.to_string()));
        }
        if self.models.is_decommissioned(&model_id) {
            return Err(invalid(
                subject,
                "/$metadata/$model",
                &format!("model '{model_id}' is decommissioned: no new twins may use it"),
            ));
        }
        if let Some(Value::String(body_id)) = object.get("$dtId")
            && body_id != id
        {
            return Err(invalid(
                subject,
                "/$dtId",
                &format!("'{body_id}' differs from the id in the URL"),
            ));
        }
        let mut problems = Vec::new();
        let checked = twin::check_body(&self.models, &model_id, object, &mut problems);
        if !problems.is_empty() {
            return Err(WorldError::Invalid(Invalid { subject, problems }));
        }
        let parent = self.check_placement(existing, id, checked.placement.as_ref())?;
        let before = existing.map(|i| twin::contents_json(&self.symbols, self.twin(i)));
        let old_props = existing
            .map(|i| self.twin(i).props.clone())
            .unwrap_or_default();
        let props = twin::timestamp_props(&mut self.symbols, checked.props, &old_props, now);
        let model = self.model_ref(&model_id);
        let index = match existing {
            Some(index) => index,
            None => self.insert_twin(Twin {
                id: twin_id.clone(),
                model,
                row: 0,
                seq,
                updated: now,
                props: Vec::new(),
                placement: None,
            }),
        };
        self.place(index, checked.placement, parent, now);
        let old_model = self.twin(index).model;
        let row = match existing {
            Some(_) if old_model == model => self.twin(index).row,
            Some(_) => {
                let old_row = self.twin(index).row;
                self.tables[old_model as usize].remove(old_row);
                let row = self.tables[model as usize].add(index);
                self.compact_table(old_model);
                row
            }
            None => self.tables[model as usize].add(index),
        };
        let twin = self.twin_mut(index);
        twin.model = model;
        twin.row = row;
        twin.props = props;
        twin.seq = seq;
        twin.updated = now;
        self.write_row(index);
        let json = self.twin_json_at(index);
        let change = match before {
            Some(before) => {
                let after = twin::contents_json(&self.symbols, self.twin(index));
                let mut fields = changed_fields(&before, &after);
                if old_model != model {
                    fields.push("$metadata".into());
                }
                Change::TwinUpdated {
                    id: twin_id.clone(),
                    fields,
                }
            }
            None => Change::TwinCreated(twin_id.clone()),
        };
        Ok(Applied {
            seq,
            records: vec![Record::Twin {
                id: twin_id,
                value: json.clone(),
            }],
            body: json,
            changes: vec![change],
        })
    }

    /// Copies a twin's top-level values into its row of its model's table, and
    /// compacts the table when it has gathered enough reordered rows.
    fn write_row(&mut self, index: u32) {
        let twin = self.twins[index as usize]
            .as_ref()
            .expect("indexed twins exist");
        self.tables[twin.model as usize].write(twin.row, &twin.props);
        self.compact_table(twin.model);
    }

    /// Compacts a model's table if vacant or reordered rows make it worth it.
    fn compact_table(&mut self, model: u32) {
        let table = &mut self.tables[model as usize];
        if !table.wants_compaction() {
            return;
        }
        let twins = &mut self.twins;
        table.compact(|twin, row| {
            if let Some(t) = twins[twin as usize].as_mut() {
                t.row = row;
            }
        });
    }

    fn insert_twin(&mut self, twin: Twin) -> u32 {
        let id = twin.id.clone();
        let index = match self.free_twins.pop() {
            Some(i) => {
                self.twins[i as usize] = Some(twin);
                i
            }
            None => {
                self.twins.push(Some(twin));
                u32::try_from(self.twins.len() - 1).expect("fewer than 2^32 twins")
            }
        };
        self.twin_index.insert(id, index);
        index
    }

    fn patch_twin(
        &mut self,
        id: &str,
        patch: &json_patch::Patch,
        condition: &Condition,
        seq: Seq,
        now: Timestamp,
    ) -> Result<Applied, WorldError> {
        let index = self
            .twin_index(id)
            .ok_or_else(|| WorldError::TwinNotFound(id.into()))?;
        Self::check_condition("twin", id, Some(self.twin(index).seq), condition)?;
        let before = twin::contents_json(&self.symbols, self.twin(index));
        let mut doc = before.clone();
        apply_patch(
            &mut doc,
            patch,
            |path| !path.starts_with("/$") || path.starts_with("/$placement"),
            "only properties, components and $placement can be patched",
        )?;
        let subject = format!("twin '{id}'");
        let Some(object) = doc.as_object() else {
            return Err(invalid(
                subject,
                "",
                "the patched twin must stay a JSON object",
            ));
        };
        let model_id = self.model_refs[self.twin(index).model as usize].clone();
        let mut problems = Vec::new();
        let checked = twin::check_body(&self.models, &model_id, object, &mut problems);
        if !problems.is_empty() {
            return Err(WorldError::Invalid(Invalid { subject, problems }));
        }
        let parent = self.check_placement(Some(index), id, checked.placement.as_ref())?;
        let fields: Vec<String> = changed_fields(&before, &doc);
        let old_props = std::mem::take(&mut self.twin_mut(index).props);
        let props = twin::timestamp_props(&mut self.symbols, checked.props, &old_props, now);
        self.twin_mut(index).props = old_props;
        if fields.iter().any(|f| f == "$placement") {
            self.place(index, checked.placement, parent, now);
        }
        let twin = self.twin_mut(index);
        twin.props = props;
        twin.seq = seq;
        twin.updated = now;
        self.write_row(index);
        let json = self.twin_json_at(index);
        let twin_id = self.twin(index).id.clone();
        Ok(Applied {
            seq,
            records: vec![Record::Twin {
                id: twin_id.clone(),
                value: json.clone(),
            }],
            body: json,
            changes: vec![Change::TwinUpdated {
                id: twin_id,
                fields,
            }],
        })
    }

    fn delete_twin(
        &mut self,
        id: &str,
        condition: &Condition,
        seq: Seq,
    ) -> Result<Applied, WorldError> {
        let index = self
            .twin_index(id)
            .ok_or_else(|| WorldError::TwinNotFound(id.into()))?;
        Self::check_condition("twin", id, Some(self.twin(index).seq), condition)?;
        let out = self.outgoing.get(&index).map_or(0, Vec::len);
        let inc = self.incoming.get(&index).map_or(0, Vec::len);
        if out + inc > 0 {
            return Err(WorldError::Conflict(format!(
                "twin '{id}' still has {out} outgoing and {inc} incoming relationship(s); delete them first"
            )));
        }
        let placed_children = self.children.get(&index).map_or(0, Vec::len);
        if placed_children > 0 {
            return Err(WorldError::Conflict(format!(
                "twin '{id}' is the placement parent of {placed_children} twin(s); move or delete them first"
            )));
        }
        self.place(index, None, None, Timestamp(0));
        let twin = self.twins[index as usize]
            .take()
            .expect("indexed twins exist");
        self.tables[twin.model as usize].remove(twin.row);
        self.compact_table(twin.model);
        self.twin_index.remove(id);
        self.children.remove(&index);
        self.free_twins.push(index);
        Ok(Applied {
            seq,
            body: Value::Null,
            records: vec![Record::TwinDeleted(twin.id.clone())],
            changes: vec![Change::TwinDeleted(twin.id)],
        })
    }

    // ----- scene graph -----

    /// Checks a placement before anything changes: the parent must exist and must
    /// not be the twin itself or placed inside it. Returns the parent's index.
    fn check_placement(
        &self,
        index: Option<u32>,
        id: &str,
        placement: Option<&Placement>,
    ) -> Result<Option<u32>, WorldError> {
        let Some(parent_id) = placement.and_then(|p| p.parent.as_ref()) else {
            return Ok(None);
        };
        let parent = self.twin_index(parent_id.as_str()).ok_or_else(|| {
            invalid(
                format!("twin '{id}'"),
                "/$placement/parent",
                &format!("there is no twin '{parent_id}' to be placed in"),
            )
        })?;
        let mut cursor = Some(parent);
        let mut steps = 0usize;
        while let Some(c) = cursor {
            if Some(c) == index {
                return Err(WorldError::Conflict(format!(
                    "placing '{id}' inside '{parent_id}' would make a cycle of parents"
                )));
            }
            steps += 1;
            assert!(steps <= self.twins.len(), "the scene graph has no cycles");
            cursor = self.parent_of(c);
        }
        Ok(Some(parent))
    }

    /// Sets (or with `None` removes) a twin's placement, already checked by
    /// `check_placement`, then updates the world poses of the twin and of
    /// everything placed inside it.
    fn place(
        &mut self,
        index: u32,
        placement: Option<Placement>,
        parent: Option<u32>,
        now: Timestamp,
    ) {
        if let Some(old_parent) = self.parent_of(index)
            && let Some(siblings) = self.children.get_mut(&old_parent)
        {
            siblings.retain(|c| *c != index);
            if siblings.is_empty() {
                self.children.remove(&old_parent);
            }
        }
        if let Some(old) = self.twin_mut(index).placement.take() {
            let removed = self
                .spatial
                .remove(&IndexPoint::new(old.world_position, index));
            debug_assert!(removed.is_some(), "placed twins are in the spatial index");
        }
        let Some(local) = placement else {
            // Children keep their local placement; they now hang from the world frame.
            self.update_descendants(index);
            return;
        };
        if let Some(p) = parent {
            self.children.entry(p).or_default().push(index);
        }
        let base = parent.map_or(Pose::WORLD, |p| self.world_pose(p));
        let world_position = base.compose(&local).position.to_array();
        self.spatial.insert(IndexPoint::new(world_position, index));
        self.twin_mut(index).placement = Some(Box::new(Placed {
            local,
            world_position,
            updated: now,
        }));
        self.update_descendants(index);
    }

    /// The id of a twin on a cycle of placement parents above `index`, if any;
    /// only a damaged store can hold one, since `check_placement` refuses them.
    fn parent_cycle(&self, index: u32) -> Option<String> {
        let mut cursor = self.parent_of(index);
        for _ in 0..self.twins.len() {
            let c = cursor?;
            if c == index {
                return Some(self.twin(index).id.to_string());
            }
            cursor = self.parent_of(c);
        }
        Some(self.twin(index).id.to_string())
    }

    fn parent_of(&self, index: u32) -> Option<u32> {
        let parent = self.twin(index).placement.as_ref()?.local.parent.as_ref()?;
        self.twin_index(parent.as_str())
    }

    /// The world pose of a twin: its placement composed with its parents', from
    /// the outermost placed ancestor down. An unplaced twin is the world frame.
    fn world_pose(&self, index: u32) -> Pose {
        let mut chain = Vec::new();
        let mut cursor = Some(index);
        while let Some(c) = cursor {
            let Some(placed) = &self.twin(c).placement else {
                break;
            };
            chain.push(&placed.local);
            assert!(
                chain.len() <= self.twins.len(),
                "the scene graph has no cycles"
            );
            cursor = self.parent_of(c);
        }
        chain
            .iter()
            .rev()
            .fold(Pose::WORLD, |pose, local| pose.compose(local))
    }

    /// Recomputes the world pose of every twin placed (transitively) inside `root`.
    fn update_descendants(&mut self, root: u32) {
        let mut stack: Vec<u32> = self.children.get(&root).cloned().unwrap_or_default();
        while let Some(child) = stack.pop() {
            let base = self
                .parent_of(child)
                .map_or(Pose::WORLD, |p| self.world_pose(p));
            let twin = self.twins[child as usize].as_mut().expect("children exist");
            let placed = twin.placement.as_mut().expect("children are placed");
            let old = placed.world_position;
            let new = base.compose(&placed.local).position.to_array();
            placed.world_position = new;
            if old != new {
                self.spatial.remove(&IndexPoint::new(old, child));
                self.spatial.insert(IndexPoint::new(new, child));
            }
            if let Some(grandchildren) = self.children.get(&child) {
                stack.extend_from_slice(grandchildren);
            }
        }
    }

    // ----- relationships -----

    fn rel(&self, index: u32) -> &Rel {
        self.rels[index as usize]
            .as_ref()
            .expect("indexed relationships exist")
    }

    fn rel_index_of(&self, source: u32, id: &str) -> Option<u32> {
        self.rel_index.get(&(source, Arc::from(id))).copied()
    }

    pub(crate) fn rel_json_at(&self, index: u32) -> Value {
        let rel = self.rel(index);
        let mut object = Map::new();
        object.insert("$relationshipId".into(), json!(&*rel.id));
        object.insert("$etag".into(), json!(Etag(rel.seq).to_string()));
        object.insert("$sourceId".into(), json!(self.twin(rel.source).id.as_str()));
        object.insert("$targetId".into(), json!(self.twin(rel.target).id.as_str()));
        object.insert(
            "$relationshipName".into(),
            json!(self.symbols.name(rel.name)),
        );
        for (k, v) in &rel.props {
            object.insert(k.clone(), v.clone());
        }
        Value::Object(object)
    }

    /// A relationship as `GET /digitaltwins/{id}/relationships/{relId}` returns it.
    pub fn relationship_json(&self, source: &str, id: &str) -> Result<Value, WorldError> {
        let (_, r) = self.existing_rel(source, id)?;
        Ok(self.rel_json_at(r))
    }

    /// The source twin's and the relationship's indexes, or which one is missing.
    fn existing_rel(&self, source_id: &str, id: &str) -> Result<(u32, u32), WorldError> {
        let source = self
            .twin_index(source_id)
            .ok_or_else(|| WorldError::TwinNotFound(source_id.into()))?;
        let index =
            self.rel_index_of(source, id)
                .ok_or_else(|| WorldError::RelationshipNotFound {
                    source_id: source_id.into(),
                    id: id.into(),
                })?;
        Ok((source, index))
    }

    /// Outgoing relationships of a twin, optionally only those with one name.
    pub fn outgoing_relationships(
        &self,
        source: &str,
        name: Option<&str>,
    ) -> Result<Vec<Value>, WorldError> {
        let s = self
            .twin_index(source)
            .ok_or_else(|| WorldError::TwinNotFound(source.into()))?;
        let sym = name.map(|n| self.symbols.get(n));
        let mut rels: Vec<u32> = self
            .outgoing
            .get(&s)
            .into_iter()
            .flatten()
            .filter(|r| match sym {
                None => true,
                Some(wanted) => Some(self.rel(**r).name) == wanted,
            })
            .copied()
            .collect();
        // Listings are in relationship id order, whatever order they were made in.
        rels.sort_by(|a, b| self.rel(*a).id.cmp(&self.rel(*b).id));
        Ok(rels.into_iter().map(|r| self.rel_json_at(r)).collect())
    }

    /// Incoming relationships of a twin, in the short form ADT lists them.
    pub fn incoming_relationships(&self, target: &str) -> Result<Vec<Value>, WorldError> {
        let t = self
            .twin_index(target)
            .ok_or_else(|| WorldError::TwinNotFound(target.into()))?;
        let mut rels: Vec<u32> = self
            .incoming
            .get(&t)
            .into_iter()
            .flatten()
            .copied()
            .collect();
        rels.sort_by(|a, b| {
            let (a, b) = (self.rel(*a), self.rel(*b));
            (self.twin(a.source).id.as_str(), &a.id).cmp(&(self.twin(b.source).id.as_str(), &b.id))
        });
        Ok(rels
            .into_iter()
            .map(|r| {
                let rel = self.rel(r);
                let source = self.twin(rel.source).id.as_str();
                json!({
                    "$relationshipId": &*rel.id,
                    "$sourceId": source,
                    "$relationshipName": self.symbols.name(rel.name),
                    "$relationshipLink": format!("/digitaltwins/{source}/relationships/{}", rel.id),
                })
            })
            .collect())
    }

    /// Checks a relationship body against the source twin's model; returns the
    /// target twin, the name and the properties.
    fn check_relationship(
        &self,
        source: u32,
        id: &str,
        replacing: Option<u32>,
        body: &Value,
    ) -> Result<(u32, String, Map<String, Value>), WorldError> {
        let source_twin = self.twin(source);
        let subject = format!("relationship '{id}' of '{}'", source_twin.id);
        let Some(object) = body.as_object() else {
            return Err(invalid(subject, "", "a relationship must be a JSON object"));
        };
        let mut problems = Vec::new();
        let target_id = object.get("$targetId").and_then(Value::as_str);
        let name = object.get("$relationshipName").and_then(Value::as_str);
        if target_id.is_none() {
            problems.push((
                "/$targetId".into(),
                "required: the id of the target twin".into(),
            ));
        }
        if name.is_none() {
            problems.push((
                "/$relationshipName".into(),
                "required: a relationship name of the source twin's model".into(),
            ));
        }
        let target = target_id.and_then(|t| {
            let found = self.twin_index(t);
            if found.is_none() {
                problems.push(("/$targetId".into(), format!("there is no twin '{t}'")));
            }
            found
        });
        let model_id = &self.model_refs[source_twin.model as usize];
        let definition = name.and_then(|n| match self.models.content(model_id, n) {
            Some(Content::Relationship(r)) => Some(r),
            _ => {
                problems.push((
                    "/$relationshipName".into(),
                    format!("'{n}' is not a relationship of {model_id}"),
                ));
                None
            }
        });
        let mut props = Map::new();
        for (key, value) in object {
            if key.starts_with('$') {
                if !matches!(
                    key.as_str(),
                    "$targetId" | "$relationshipName" | "$relationshipId" | "$sourceId" | "$etag"
                ) {
                    problems.push((twin::pointer(&[key]), "unknown system field".into()));
                }
                continue;
            }
            let Some(definition) = definition else {
                continue;
            };
            match definition.properties.iter().find(|p| p.name == *key) {
                Some(p) => match self.models.check_value(&p.schema, value) {
                    Ok(()) => {
                        props.insert(key.clone(), value.clone());
                    }
                    Err(e) => {
                        problems.push((format!("{}{}", twin::pointer(&[key]), e.path), e.message))
                    }
                },
                None => problems.push((
                    twin::pointer(&[key]),
                    format!(
                        "'{key}' is not a property of relationship '{}'",
                        definition.name
                    ),
                )),
            }
        }
        if let (Some(definition), Some(target)) = (definition, target) {
            if let Some(wanted) = &definition.target {
                let target_model = &self.model_refs[self.twin(target).model as usize];
                if !self.models.is_of_model(target_model, wanted, false) {
                    problems.push((
                        "/$targetId".into(),
                        format!(
                            "the target's model {target_model} is not {wanted} or a subtype of it"
                        ),
                    ));
                }
            }
            if let Some(max) = definition.max_multiplicity {
                let sym = self.symbols.get(&definition.name);
                let count = self
                    .outgoing
                    .get(&source)
                    .into_iter()
                    .flatten()
                    .filter(|r| Some(**r) != replacing && Some(self.rel(**r).name) == sym)
                    .count();
                if count >= max as usize {
                    problems.push((
                        "/$relationshipName".into(),
                        format!(
                            "'{}' allows at most {max} relationship(s) per twin",
                            definition.name
                        ),
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok((
                target.expect("checked"),
                name.expect("checked").to_owned(),
                props,
            ))
        } else {
            Err(WorldError::Invalid(Invalid { subject, problems }))
        }
    }

    fn put_relationship(
        &mut self,
        source_id: &str,
        id: &str,
        body: &Value,
        condition: &Condition,
        seq: Seq,
    ) -> Result<Applied, WorldError> {
        crate::ids::check_id("relationship", id)?;
        let source = self
            .twin_index(source_id)
            .ok_or_else(|| WorldError::TwinNotFound(source_id.into()))?;
        let existing = self.rel_index_of(source, id);
        Self::check_condition(
            "relationship",
            id,
            existing.map(|r| self.rel(r).seq),
            condition,
        )?;
        let (target, name, props) = self.check_relationship(source, id, existing, body)?;
        if let Some(old) = existing {
            self.unlink_rel(old);
        }
        let name = self.symbols.intern(&name);
        let rel = Rel {
            id: id.into(),
            source,
            target,
            name,
            seq,
            props,
        };
        let index = match self.free_rels.pop() {
            Some(i) => {
                self.rels[i as usize] = Some(rel);
                i
            }
            None => {
                self.rels.push(Some(rel));
                u32::try_from(self.rels.len() - 1).expect("fewer than 2^32 relationships")
            }
        };
        self.rel_index.insert((source, id.into()), index);
        self.outgoing.entry(source).or_default().push(index);
        self.incoming.entry(target).or_default().push(index);
        let json = self.rel_json_at(index);
        let source_twin = self.twin(source).id.clone();
        Ok(Applied {
            seq,
            records: vec![Record::Relationship {
                source: source_twin.clone(),
                id: id.into(),
                value: json.clone(),
            }],
            body: json,
            changes: vec![Change::RelationshipUpserted {
                source: source_twin,
                id: id.into(),
            }],
        })
    }

    fn unlink_rel(&mut self, index: u32) {
        let rel = self.rels[index as usize]
            .take()
            .expect("indexed relationships exist");
        self.rel_index.remove(&(rel.source, rel.id.clone()));
        for (map, key) in [
            (&mut self.outgoing, rel.source),
            (&mut self.incoming, rel.target),
        ] {
            if let Some(list) = map.get_mut(&key) {
                list.retain(|r| *r != index);
                if list.is_empty() {
                    map.remove(&key);
                }
            }
        }
        self.free_rels.push(index);
    }

    fn patch_relationship(
        &mut self,
        source_id: &str,
        id: &str,
        patch: &json_patch::Patch,
        condition: &Condition,
        seq: Seq,
    ) -> Result<Applied, WorldError> {
        let (_, index) = self.existing_rel(source_id, id)?;
        Self::check_condition("relationship", id, Some(self.rel(index).seq), condition)?;
        let mut doc = self.rel_json_at(index);
        apply_patch(
            &mut doc,
            patch,
            |path| !path.starts_with("/$"),
            "only relationship properties can be patched",
        )?;
        self.put_relationship(source_id, id, &doc, &Condition::None, seq)
    }

    fn delete_relationship(
        &mut self,
        source_id: &str,
        id: &str,
        condition: &Condition,
        seq: Seq,
    ) -> Result<Applied, WorldError> {
        let (source, index) = self.existing_rel(source_id, id)?;
        Self::check_condition("relationship", id, Some(self.rel(index).seq), condition)?;
        self.unlink_rel(index);
        let source_twin = self.twin(source).id.clone();
        Ok(Applied {
            seq,
            body: Value::Null,
            records: vec![Record::RelationshipDeleted {
                source: source_twin.clone(),
                id: id.into(),
            }],
            changes: vec![Change::RelationshipDeleted {
                source: source_twin,
                id: id.into(),
            }],
        })
    }

    // ----- restore -----

    /// Rebuilds a world from its stored records (models, twins, relationships in
    /// any order within each kind) and the last `Seq` it had applied.
    pub fn restore(
        id: WorldId,
        seq: Seq,
        models: Vec<Value>,
        twins: impl IntoIterator<Item = Value>,
        relationships: impl IntoIterator<Item = Value>,
    ) -> Result<World, WorldError> {
        let mut world = World::with_models(id, seq, &models)?;
        let mut placed = Vec::new();
        let mut times = twin::TimeCache::default();
        for stored in twins {
            let (twin, placement) = world.restore_twin(&stored, &mut times)?;
            world.load_twin(twin, placement, &mut placed);
        }
        world.load_placements(&placed)?;
        for stored in relationships {
            world.restore_relationship(&stored)?;
        }
        Ok(world)
    }

    /// Rebuilds a world as `restore` does, from records as a store keeps them:
    /// the bytes of `Record::encode` (binary twins, JSON text otherwise,
    /// including the JSON twins of stores written before the binary form).
    /// Binary twins become twins directly, with no JSON in between.
    pub fn restore_encoded(
        id: WorldId,
        seq: Seq,
        models: Vec<Value>,
        twins: impl IntoIterator<Item = StoredRecord>,
        relationships: impl IntoIterator<Item = StoredRecord>,
    ) -> Result<World, WorldError> {
        let mut world = World::with_models(id, seq, &models)?;
        let mut placed = Vec::new();
        let mut times = twin::TimeCache::default();
        let mut model_refs = HashMap::default();
        for stored in twins {
            let fail = |reason: String| WorldError::Restore {
                what: "twin",
                id: String::from_utf8_lossy(&stored.key).into_owned(),
                reason,
            };
            let (twin, placement) = match stored.value.first() {
                Some(&crate::codec::TWIN_FORMAT_V1) => world
                    .decode_twin(&stored.value, &mut model_refs, &mut times)
                    .map_err(fail)?,
                _ => {
                    let value: Value = serde_json::from_slice(&stored.value)
                        .map_err(|e| fail(format!("neither a binary record nor JSON: {e}")))?;
                    world.restore_twin(&value, &mut times)?
                }
            };
            world.load_twin(twin, placement, &mut placed);
        }
        world.load_placements(&placed)?;
        for stored in relationships {
            let value: Value =
                serde_json::from_slice(&stored.value).map_err(|e| WorldError::Restore {
                    what: "relationship",
                    id: String::from_utf8_lossy(&stored.key).replace('\0', "/"),
                    reason: format!("not JSON: {e}"),
                })?;
            world.restore_relationship(&value)?;
        }
        Ok(world)
    }

    /// An empty world at `seq` holding the stored models.
    fn with_models(id: WorldId, seq: Seq, models: &[Value]) -> Result<World, WorldError> {
        let mut world = World::new(id);
        world.seq = seq;
        let mut definitions = Vec::with_capacity(models.len());
        let mut metas = Vec::with_capacity(models.len());
        for stored in models {
            let restore_err = |reason: &str| WorldError::Restore {
                what: "model",
                id: stored.get("id").map(|v| v.to_string()).unwrap_or_default(),
                reason: reason.into(),
            };
            let id = stored
                .get("id")
                .and_then(Value::as_str)
                .and_then(|s| Dtmi::parse(s).ok())
                .ok_or_else(|| restore_err("no valid id"))?;
            let upload_time = stored
                .get("uploadTime")
                .and_then(Value::as_str)
                .and_then(Timestamp::parse_rfc3339)
                .ok_or_else(|| restore_err("no upload time"))?;
            let decommissioned = stored
                .get("decommissioned")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            definitions.push(
                stored
                    .get("model")
                    .cloned()
                    .ok_or_else(|| restore_err("no definition"))?,
            );
            metas.push((id, ModelMeta { upload_time }, decommissioned));
        }
        if !definitions.is_empty() {
            world.models.add_values(&definitions)?;
        }
        for (id, meta, decommissioned) in metas {
            if decommissioned {
                world.models.set_decommissioned(&id, true)?;
            }
            world.model_meta.insert(id, meta);
        }
        Ok(world)
    }

    /// Adds a restored twin. Its placement is attached at once; the parent and
    /// the world position wait until every twin is there (parents may come
    /// later), so `placed` notes the twin.
    fn load_twin(
        &mut self,
        mut twin: Twin,
        placement: Option<(Placement, Timestamp)>,
        placed: &mut Vec<u32>,
    ) {
        let model = twin.model;
        let is_placed = placement.is_some();
        twin.placement = placement.map(|(local, updated)| {
            Box::new(Placed {
                local,
                world_position: [0.0; 3],
                updated,
            })
        });
        let index = self.insert_twin(twin);
        let row = self.tables[model as usize].add(index);
        self.twin_mut(index).row = row;
        self.write_row(index);
        if is_placed {
            placed.push(index);
        }
    }

    /// Links every restored placement to its parent, then computes world
    /// positions and builds the spatial index in one bulk load: inserting a
    /// million points one by one costs seconds that a restart should not spend.
    fn load_placements(&mut self, placed: &[u32]) -> Result<(), WorldError> {
        for &index in placed {
            let parent = self
                .twin(index)
                .placement
                .as_ref()
                .and_then(|p| p.local.parent.as_ref());
            if let Some(p) = parent {
                let parent = self
                    .twin_index(p.as_str())
                    .ok_or_else(|| WorldError::Restore {
                        what: "twin",
                        id: self.twin(index).id.to_string(),
                        reason: format!("placement parent '{p}' is missing"),
                    })?;
                self.children.entry(parent).or_default().push(index);
            }
        }
        let mut points = Vec::with_capacity(placed.len());
        for &index in placed {
            if let Some(cycle) = self.parent_cycle(index) {
                return Err(WorldError::Restore {
                    what: "twin",
                    id: cycle,
                    reason: "its placement parents form a cycle".into(),
                });
            }
            let placed = self.twin(index).placement.as_deref();
            let position = match placed {
                // Most twins hang from the world frame: no chain of parents to walk.
                Some(p) if p.local.parent.is_none() => Pose::WORLD.compose(&p.local).position,
                _ => self.world_pose(index).position,
            }
            .to_array();
            if let Some(p) = self.twin_mut(index).placement.as_mut() {
                p.world_position = position;
            }
            points.push(IndexPoint::new(position, index));
        }
        self.spatial = RTree::bulk_load(points);
        Ok(())
    }

    /// A twin from a `TWIN_FORMAT_V1` record, read straight into its parts.
    /// `model_refs` remembers the model ref of each model text seen.
    fn decode_twin(
        &mut self,
        bytes: &[u8],
        model_refs: &mut HashMap<Box<str>, (u32, Dtmi)>,
        times: &mut twin::TimeCache,
    ) -> Result<(Twin, Option<(Placement, Timestamp)>), String> {
        use crate::codec::{Reader, Scalar};
        let mut r = Reader::new(bytes);
        r.byte()?;
        let id = TwinId::parse(r.str()?).map_err(|e| e.to_string())?;
        let seq = Seq(r.varint()?);
        let model_text = r.str()?;
        let (model, model_id) = match model_refs.get(model_text) {
            Some(known) => known.clone(),
            None => {
                let model_id =
                    Dtmi::parse(model_text).map_err(|e| format!("model '{model_text}': {e}"))?;
                let known = (self.model_ref(&model_id), model_id);
                model_refs.insert(model_text.into(), known.clone());
                known
            }
        };
        let updated = Timestamp(r.signed()?);
        let count = r.count()?;
        let mut props = Vec::with_capacity(count);
        for _ in 0..count {
            let key = r.str()?;
            let prop_updated = r.time(updated)?;
            let name = self.symbols.intern(key);
            // Only an object can be a component, so only those ask the model.
            let is_component = |world: &World| {
                matches!(
                    world.models.content(&model_id, key),
                    Some(Content::Component(_))
                )
            };
            let value = match r.scalar()? {
                Scalar::Component => {
                    let inner_count = r.count()?;
                    let mut inner = Vec::with_capacity(inner_count);
                    for _ in 0..inner_count {
                        let inner_key = r.str()?;
                        let inner_updated = r.time(prop_updated)?;
                        let scalar = r.scalar()?;
                        inner.push((inner_key, inner_updated, scalar_val(scalar)?));
                    }
                    if is_component(self) {
                        Val::Component(
                            inner
                                .into_iter()
                                .map(|(k, t, value)| Prop {
                                    name: self.symbols.intern(k),
                                    value,
                                    updated: t,
                                })
                                .collect(),
                        )
                    } else {
                        // Shaped as a component but the model says otherwise:
                        // the JSON object it was, `$metadata` last.
                        let mut object = Map::with_capacity(inner.len() + 1);
                        let mut metadata = Map::with_capacity(inner.len());
                        for (k, t, value) in inner {
                            object.insert(k.to_owned(), value.to_json());
                            metadata
                                .insert(k.to_owned(), json!({ "lastUpdateTime": t.to_rfc3339() }));
                        }
                        object.insert("$metadata".into(), Value::Object(metadata));
                        Val::Json(Box::new(Value::Object(object)))
                    }
                }
                Scalar::Json(text) if is_component(self) => {
                    let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
                    let inner = value
                        .as_object()
                        .ok_or_else(|| format!("component '{key}' is not an object"))?;
                    let inner_meta = inner.get("$metadata").and_then(Value::as_object);
                    Val::Component(
                        inner
                            .iter()
                            .filter(|(k, _)| *k != "$metadata")
                            .map(|(k, v)| Prop {
                                name: self.symbols.intern(k),
                                value: Val::from_json(v.clone()),
                                updated: twin::stored_update_time(times, inner_meta, k)
                                    .unwrap_or(prop_updated),
                            })
                            .collect(),
                    )
                }
                scalar => scalar_val(scalar)?,
            };
            props.push(Prop {
                name,
                value,
                updated: prop_updated,
            });
        }
        let placement = r.placement(updated)?;
        r.finish()?;
        Ok((
            Twin {
                id,
                model,
                row: 0,
                seq,
                updated,
                props,
                placement: None,
            },
            placement,
        ))
    }

    fn restore_twin(
        &mut self,
        stored: &Value,
        times: &mut twin::TimeCache,
    ) -> Result<(Twin, Option<(Placement, Timestamp)>), WorldError> {
        let id_text = stored
            .get("$dtId")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let fail = |reason: String| WorldError::Restore {
            what: "twin",
            id: id_text.into(),
            reason,
        };
        let id = TwinId::parse(id_text).map_err(|e| fail(e.to_string()))?;
        let object = stored
            .as_object()
            .ok_or_else(|| fail("not an object".into()))?;
        let metadata = object.get("$metadata").and_then(Value::as_object);
        let model_id = metadata
            .and_then(|m| m.get("$model"))
            .and_then(Value::as_str)
            .and_then(|s| Dtmi::parse(s).ok())
            .ok_or_else(|| fail("no model".into()))?;
        let seq = object
            .get("$etag")
            .and_then(Value::as_str)
            .and_then(Etag::parse)
            .ok_or_else(|| fail("no etag".into()))?
            .0;
        let updated = metadata
            .and_then(|m| m.get("$lastUpdateTime"))
            .and_then(Value::as_str)
            .and_then(|t| times.parse(t))
            .unwrap_or_default();
        let model = self.model_ref(&model_id);
        let mut props = Vec::new();
        let mut placement = None;
        for (key, value) in object {
            if key == "$placement" {
                let local = Placement::from_json(value)
                    .map_err(|p| fail(format!("bad placement: {p:?}")))?;
                placement = Some((
                    local,
                    twin::stored_update_time(times, metadata, "$placement").unwrap_or(updated),
                ));
                continue;
            }
            if key.starts_with('$') {
                continue;
            }
            let name = self.symbols.intern(key);
            let prop_updated = twin::stored_update_time(times, metadata, key).unwrap_or(updated);
            let is_component = matches!(
                self.models.content(&model_id, key),
                Some(Content::Component(_))
            );
            let prop = if is_component {
                let inner = value
                    .as_object()
                    .ok_or_else(|| fail(format!("component '{key}' is not an object")))?;
                let inner_meta = inner.get("$metadata").and_then(Value::as_object);
                let values: Box<[Prop]> = inner
                    .iter()
                    .filter(|(k, _)| *k != "$metadata")
                    .map(|(k, v)| Prop {
                        name: self.symbols.intern(k),
                        value: Val::from_json(v.clone()),
                        updated: twin::stored_update_time(times, inner_meta, k)
                            .unwrap_or(prop_updated),
                    })
                    .collect();
                Prop {
                    name,
                    value: Val::Component(values),
                    updated: prop_updated,
                }
            } else {
                Prop {
                    name,
                    value: Val::from_json(value.clone()),
                    updated: prop_updated,
                }
            };
            props.push(prop);
        }
        Ok((
            Twin {
                id,
                model,
                row: 0,
                seq,
                updated,
                props,
                placement: None,
            },
            placement,
        ))
    }

    fn restore_relationship(&mut self, stored: &Value) -> Result<(), WorldError> {
        let text = |k: &str| stored.get(k).and_then(Value::as_str);
        let id = text("$relationshipId").unwrap_or_default();
        let fail = |reason: &str| WorldError::Restore {
            what: "relationship",
            id: id.into(),
            reason: reason.into(),
        };
        let source = text("$sourceId")
            .and_then(|s| self.twin_index(s))
            .ok_or_else(|| fail("source twin missing"))?;
        let target = text("$targetId")
            .and_then(|s| self.twin_index(s))
            .ok_or_else(|| fail("target twin missing"))?;
        let name = text("$relationshipName").ok_or_else(|| fail("no name"))?;
        let seq = text("$etag")
            .and_then(Etag::parse)
            .ok_or_else(|| fail("no etag"))?
            .0;
        let props = stored
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| !k.starts_with('$'))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let name = self.symbols.intern(name);
        let index = u32::try_from(self.rels.len()).expect("fewer than 2^32 relationships");
        self.rels.push(Some(Rel {
            id: id.into(),
            source,
            target,
            name,
            seq,
            props,
        }));
        self.rel_index.insert((source, id.into()), index);
        self.outgoing.entry(source).or_default().push(index);
        self.incoming.entry(target).or_default().push(index);
        Ok(())
    }
}

/// The value a non-component scalar of a binary record holds.
fn scalar_val(scalar: crate::codec::Scalar<'_>) -> Result<Val, String> {
    use crate::codec::Scalar;
    Ok(match scalar {
        Scalar::Null => Val::Null,
        Scalar::Bool(b) => Val::Bool(b),
        Scalar::U64(u) => Val::U64(u),
        // A negative integer, as `Val::from_json` keeps one.
        Scalar::I64(i) if i < 0 => Val::I64(i),
        Scalar::I64(i) => Val::U64(i.unsigned_abs()),
        Scalar::F64(x) => Val::F64(x),
        Scalar::Str(s) => Val::Str(s.into()),
        Scalar::Json(text) => {
            Val::from_json(serde_json::from_str(text).map_err(|e| format!("bad JSON value: {e}"))?)
        }
        Scalar::Component => return Err("a component inside a component".into()),
    })
}

/// Applies a JSON Patch whose every path passes `allowed` (else `refusal`) to a
/// scratch copy the caller throws away on error. `patch_unsafe` (no rollback) on
/// purpose: json-patch 5.0's rollback panics on some failing sequences (the
/// fuzzer found one: a move after copies into new paths), and a copy needs none.
fn apply_patch(
    doc: &mut Value,
    patch: &json_patch::Patch,
    allowed: impl Fn(&str) -> bool,
    refusal: &str,
) -> Result<(), WorldError> {
    for (n, op) in patch.0.iter().enumerate() {
        let path = op.path().to_string();
        if path.is_empty() || !allowed(&path) {
            return Err(WorldError::Patch {
                operation: n,
                path,
                reason: refusal.into(),
            });
        }
    }
    // A copy may duplicate the document into itself, so a short patch could
    // double it dozens of times; count what copies add and stop at the cap.
    let mut nodes = None;
    for (n, op) in patch.0.iter().enumerate() {
        if let json_patch::PatchOperation::Copy(copy) = op {
            let nodes = nodes.get_or_insert_with(|| json_nodes(doc));
            *nodes += doc.pointer(copy.from.as_str()).map_or(0, json_nodes);
            if *nodes > PATCHED_NODES_MAX {
                return Err(WorldError::Patch {
                    operation: n,
                    path: op.path().to_string(),
                    reason: format!(
                        "the patched document would hold more than {PATCHED_NODES_MAX} JSON values"
                    ),
                });
            }
        }
        json_patch::patch_unsafe(doc, std::slice::from_ref(op)).map_err(|e| WorldError::Patch {
            operation: n,
            path: e.path.to_string(),
            reason: e.kind.to_string(),
        })?;
    }
    Ok(())
}

/// The most JSON values (objects, arrays and scalars alike) a twin or
/// relationship may hold while a patch is applied to it.
pub const PATCHED_NODES_MAX: usize = 100_000;

/// How many JSON values `value` holds, itself included.
fn json_nodes(value: &Value) -> usize {
    1 + match value {
        Value::Array(items) => items.iter().map(json_nodes).sum(),
        Value::Object(fields) => fields.values().map(json_nodes).sum(),
        _ => 0,
    }
}

fn not_found(what: &'static str, id: &str) -> WorldError {
    match what {
        "twin" => WorldError::TwinNotFound(id.into()),
        _ => WorldError::RelationshipNotFound {
            source_id: String::new(),
            id: id.into(),
        },
    }
}

fn invalid(subject: String, path: &str, message: &str) -> WorldError {
    WorldError::Invalid(Invalid {
        subject,
        problems: vec![(path.into(), message.into())],
    })
}

/// Top-level fields whose values differ between two JSON objects.
fn changed_fields(before: &Value, after: &Value) -> Vec<String> {
    let empty = Map::new();
    let before = before.as_object().unwrap_or(&empty);
    let after = after.as_object().unwrap_or(&empty);
    let mut fields: Vec<String> = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect();
    fields.extend(before.keys().filter(|k| !after.contains_key(*k)).cloned());
    fields
}
