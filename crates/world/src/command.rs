//! What can be asked of a world (`Command`), what it answers (`Applied`), the
//! records a store must keep to rebuild it (`Record`), and the changes others
//! observe (`Change`).

use serde_json::Value;

use crate::{Etag, Seq, TwinId};

/// A precondition on the current version of a twin or relationship.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Condition {
    /// Apply whatever the current version is.
    #[default]
    None,
    /// `If-Match: <etag>`: only if the item exists with this ETag.
    IfMatch(Etag),
    /// `If-Match: *`: only if the item exists.
    IfExists,
    /// `If-None-Match: *`: only if the item does not exist yet.
    IfNotExists,
}

/// A change to a world, validated and applied by `World::apply`.
#[derive(Clone, Debug)]
pub enum Command {
    /// Upload a batch of DTDL interfaces (as parsed JSON documents).
    AddModels(Vec<Value>),
    /// Mark a model decommissioned: no new twins of it may be created.
    DecommissionModel(model::Dtmi),
    /// Delete a model that no twin and no other model uses.
    DeleteModel(model::Dtmi),
    /// Create or replace a twin from its JSON body.
    PutTwin {
        /// The twin's id.
        id: String,
        /// The body, with `$metadata.$model` and property values.
        body: Value,
        /// Precondition on the existing twin.
        condition: Condition,
    },
    /// Apply an RFC 6902 JSON Patch to a twin's properties, components and placement.
    PatchTwin {
        /// The twin's id.
        id: String,
        /// The patch operations.
        patch: json_patch::Patch,
        /// Precondition on the twin.
        condition: Condition,
    },
    /// Delete a twin that has no relationships and no placed children left.
    DeleteTwin {
        /// The twin's id.
        id: String,
        /// Precondition on the twin.
        condition: Condition,
    },
    /// Create or replace a relationship of a source twin.
    PutRelationship {
        /// The source twin.
        source: String,
        /// The relationship's id, unique per source twin.
        id: String,
        /// `$targetId`, `$relationshipName` and property values.
        body: Value,
        /// Precondition on the existing relationship.
        condition: Condition,
    },
    /// Patch a relationship's properties.
    PatchRelationship {
        /// The source twin.
        source: String,
        /// The relationship's id.
        id: String,
        /// The patch operations.
        patch: json_patch::Patch,
        /// Precondition on the relationship.
        condition: Condition,
    },
    /// Delete a relationship.
    DeleteRelationship {
        /// The source twin.
        source: String,
        /// The relationship's id.
        id: String,
        /// Precondition on the relationship.
        condition: Condition,
    },
}

/// The outcome of an applied command.
#[derive(Clone, Debug)]
pub struct Applied {
    /// The command's place in the world's history.
    pub seq: Seq,
    /// What the API answers: the twin, relationship or models after the change
    /// (`Value::Null` for deletions).
    pub body: Value,
    /// What the store must write so that a restart rebuilds the same world.
    pub records: Vec<Record>,
    /// What observers (live subscribers, history, event routes) are told.
    pub changes: Vec<Change>,
}

/// One durable item of a world. A restart reads all of them back through
/// `World::restore`.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// A model with its upload time and state (`{id, uploadTime, decommissioned, model}`).
    Model {
        /// The model id.
        id: model::Dtmi,
        /// The stored form.
        value: Value,
    },
    /// A model was deleted.
    ModelDeleted(model::Dtmi),
    /// A twin in its API form (with `$etag`, `$metadata`, `$placement`).
    Twin {
        /// The twin's id.
        id: TwinId,
        /// The stored form.
        value: Value,
    },
    /// A twin was deleted.
    TwinDeleted(TwinId),
    /// A relationship in its API form.
    Relationship {
        /// The source twin.
        source: TwinId,
        /// The relationship's id.
        id: String,
        /// The stored form.
        value: Value,
    },
    /// A relationship was deleted.
    RelationshipDeleted {
        /// The source twin.
        source: TwinId,
        /// The relationship's id.
        id: String,
    },
}

/// One record as a store hands it back to a restart: its key and the bytes of
/// `Record::encode`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRecord {
    /// The key it was stored under (for error messages).
    pub key: Vec<u8>,
    /// The stored bytes.
    pub value: Vec<u8>,
}

impl Record {
    /// The bytes a store keeps for this record, `None` for a deletion. Twins
    /// take the binary form of `codec` (JSON text if the document is not shaped
    /// as the world writes twins); models and relationships are JSON text.
    /// `World::restore_encoded` reads either.
    pub fn encode(&self) -> Option<Vec<u8>> {
        match self {
            Record::Twin { value, .. } => Some(
                crate::codec::encode_twin(value).unwrap_or_else(|| value.to_string().into_bytes()),
            ),
            Record::Model { value, .. } | Record::Relationship { value, .. } => {
                Some(value.to_string().into_bytes())
            }
            Record::ModelDeleted(_)
            | Record::TwinDeleted(_)
            | Record::RelationshipDeleted { .. } => None,
        }
    }
}

/// What changed, for observers.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// Models were added.
    ModelsAdded(Vec<model::Dtmi>),
    /// A model was decommissioned.
    ModelDecommissioned(model::Dtmi),
    /// A model was deleted.
    ModelDeleted(model::Dtmi),
    /// A twin was created.
    TwinCreated(TwinId),
    /// A twin was replaced or patched; `fields` names the top-level fields whose
    /// value changed (`$placement` for the placement).
    TwinUpdated {
        /// The twin.
        id: TwinId,
        /// Changed top-level fields.
        fields: Vec<String>,
    },
    /// A twin was deleted.
    TwinDeleted(TwinId),
    /// A relationship was created or replaced.
    RelationshipUpserted {
        /// The source twin.
        source: TwinId,
        /// The relationship's id.
        id: String,
    },
    /// A relationship was deleted.
    RelationshipDeleted {
        /// The source twin.
        source: TwinId,
        /// The relationship's id.
        id: String,
    },
}
