//! The crate's one error type: what was wrong, where (byte offset, node id or
//! model URI) and what is allowed instead.

use thiserror::Error;

/// Why a NodeSet2 document could not be read or a set of them not imported.
#[derive(Debug, Error)]
pub enum NodesetError {
    /// The document is not well-formed XML.
    #[error("XML error at byte {offset}: {message}")]
    Xml {
        /// Byte offset in the document.
        offset: usize,
        /// What the XML reader found.
        message: String,
    },
    /// A size, depth or count bound was exceeded.
    #[error("{what} exceeds the limit of {limit} (at byte {offset})")]
    Limit {
        /// What was counted.
        what: &'static str,
        /// The bound.
        limit: usize,
        /// Byte offset where it was exceeded (0 when not tied to a position).
        offset: usize,
    },
    /// The document is XML but not a valid UANodeSet.
    #[error("invalid NodeSet at byte {offset}: {message}")]
    Invalid {
        /// Byte offset of the offending element.
        offset: usize,
        /// What was wrong and what is allowed.
        message: String,
    },
    /// A model names a required model that none of the given documents defines.
    #[error(
        "model {model} requires {required} (version {version}), which none of the given NodeSets defines; add its NodeSet2 file to the import"
    )]
    MissingModel {
        /// The model that needs it.
        model: String,
        /// The required model URI.
        required: String,
        /// The version it asks for.
        version: String,
    },
    /// Two documents define the same model URI.
    #[error("model {uri} is defined by more than one of the given NodeSets; give each model once")]
    DuplicateModel {
        /// The model URI.
        uri: String,
    },
    /// The caller asked for a model that none of the documents defines.
    #[error("model {uri} is not defined by any of the given NodeSets")]
    UnknownModel {
        /// The model URI asked for.
        uri: String,
    },
    /// The generated DTDL was refused by the team's DTDL validator: a bug in
    /// the importer, reported rather than hidden.
    #[error("generated DTDL was refused by the DTDL validator: {0}")]
    Generated(String),
}
