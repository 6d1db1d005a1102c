//! `WorldError`: every way a command or read on a world can fail, each with what
//! was wrong, where, and what is allowed. `WorldError::code` gives the Azure
//! Digital Twins error code that the server puts into its responses.

/// What went wrong in a world.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    /// An id does not have an allowed shape.
    #[error("invalid {what} id '{id}': {allowed}")]
    InvalidId {
        /// "world", "twin" or "relationship".
        what: &'static str,
        /// The id as given (cut short when long).
        id: String,
        /// What ids may look like.
        allowed: &'static str,
    },
    /// The twin does not exist.
    #[error("there is no twin with id '{0}'")]
    TwinNotFound(String),
    /// The relationship does not exist.
    #[error("twin '{source_id}' has no relationship with id '{id}'")]
    RelationshipNotFound {
        /// The relationship's source twin.
        source_id: String,
        /// The relationship id.
        id: String,
    },
    /// The model is not in this world.
    #[error("there is no model with id '{0}' in this world")]
    ModelNotFound(String),
    /// `If-None-Match: *` was given and the item exists.
    #[error("{what} '{id}' already exists")]
    AlreadyExists {
        /// "twin", "relationship" or "model".
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// `If-Match` did not match the current ETag.
    #[error("{what} '{id}' has ETag {current}, not {expected}: it was changed since it was read")]
    PreconditionFailed {
        /// "twin" or "relationship".
        what: &'static str,
        /// Its id.
        id: String,
        /// The ETag the client sent.
        expected: String,
        /// The current ETag.
        current: String,
    },
    /// The DTDL batch was refused; every problem is listed.
    #[error("the models were refused:\n{0}")]
    Models(#[from] model::Problems),
    /// A model operation was refused by the model graph.
    #[error(transparent)]
    Model(#[from] model::ModelError),
    /// A twin or relationship body does not fit its model.
    #[error("{0}")]
    Invalid(Invalid),
    /// The JSON Patch could not be applied.
    #[error("JSON Patch operation {operation} failed at '{path}': {reason}")]
    Patch {
        /// Index of the failing operation.
        operation: usize,
        /// Its path.
        path: String,
        /// Why it failed.
        reason: String,
    },
    /// The change would break the graph's structure (relationships left behind,
    /// multiplicity, a placement cycle, a model still in use).
    #[error("{0}")]
    Conflict(String),
    /// A query could not be answered.
    #[error("query: {0}")]
    Query(#[from] query::QueryError),
    /// A stored record could not be restored; the store holds something this
    /// version cannot read.
    #[error("cannot restore {what} '{id}': {reason}")]
    Restore {
        /// What kind of record.
        what: &'static str,
        /// Its key.
        id: String,
        /// Why.
        reason: String,
    },
}

/// A body that does not fit its model: each problem with its JSON pointer.
#[derive(Debug, Default)]
pub struct Invalid {
    /// What the body was meant to be: "twin 'pump-1'" or "relationship 'r1' of 'pump-1'".
    pub subject: String,
    /// (JSON pointer into the body, what is wrong there).
    pub problems: Vec<(String, String)>,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} does not fit its model:", self.subject)?;
        for (path, message) in &self.problems {
            let path = if path.is_empty() { "/" } else { path };
            write!(f, " {path}: {message};")?;
        }
        Ok(())
    }
}

impl WorldError {
    /// The error code Azure Digital Twins uses for this kind of failure.
    pub fn code(&self) -> &'static str {
        match self {
            WorldError::InvalidId { .. } => "InvalidArgument",
            WorldError::TwinNotFound(_) => "DigitalTwinNotFound",
            WorldError::RelationshipNotFound { .. } => "RelationshipNotFound",
            WorldError::ModelNotFound(_) => "ModelNotFound",
            WorldError::AlreadyExists { what: "model", .. } => "ModelAlreadyExists",
            WorldError::AlreadyExists { .. } => "PreconditionFailed",
            WorldError::PreconditionFailed { .. } => "PreconditionFailed",
            WorldError::Models(_) | WorldError::Model(_) => "DTDLParserError",
            WorldError::Invalid(_) => "ValidationFailed",
            WorldError::Patch { .. } => "JsonPatchInvalid",
            WorldError::Conflict(_) => "OperationNotAllowed",
            WorldError::Query(_) => "BadRequest",
            WorldError::Restore { .. } => "InternalServerError",
        }
    }

    /// The HTTP status that fits: 400, 404, 409 or 412.
    pub fn status(&self) -> u16 {
        match self {
            WorldError::TwinNotFound(_)
            | WorldError::RelationshipNotFound { .. }
            | WorldError::ModelNotFound(_) => 404,
            WorldError::AlreadyExists { what: "model", .. } => 409,
            WorldError::AlreadyExists { .. } | WorldError::PreconditionFailed { .. } => 412,
            WorldError::Conflict(_) => 409,
            WorldError::Restore { .. } => 500,
            _ => 400,
        }
    }
}
