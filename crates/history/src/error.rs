//! The one error type of the history crate: refused input (a field path or value
//! over its limit, a bad read request), stored bytes that do not decode, and
//! failures of the store underneath.

use thiserror::Error;

/// Everything that can go wrong when appending, reading or decoding history.
#[derive(Error, Debug, Clone, PartialEq)]
pub enum HistoryError {
    /// A field path broke the naming rule.
    #[error("invalid field path {path:?} of twin {twin:?}: {reason}; allowed: {allowed}")]
    InvalidField {
        /// The twin the point belongs to.
        twin: String,
        /// The path as given (cut to a readable length).
        path: String,
        /// What exactly was wrong.
        reason: String,
        /// The rule.
        allowed: &'static str,
    },

    /// A string or JSON value was longer than `VALUE_BYTES_MAX`.
    #[error(
        "value of {twin:?} field {field:?} has {bytes} bytes; at most {max} bytes per point are allowed"
    )]
    ValueTooLarge {
        /// The twin.
        twin: String,
        /// The field path.
        field: String,
        /// The value's length.
        bytes: usize,
        /// The limit.
        max: usize,
    },

    /// The world has as many series as `SERIES_PER_WORLD_MAX` allows.
    #[error("world {world:?} already has {max} series; no new series can be started")]
    TooManySeries {
        /// The world.
        world: String,
        /// The limit.
        max: usize,
    },

    /// A read asked for something that cannot be answered.
    #[error("invalid history request: {reason}")]
    InvalidRequest {
        /// What was wrong and what is allowed.
        reason: String,
    },

    /// The configuration is out of its allowed ranges.
    #[error("invalid history configuration: {reason}")]
    InvalidConfig {
        /// What was wrong and what is allowed.
        reason: String,
    },

    /// Stored or given bytes do not decode.
    #[error("corrupt {what} at byte {offset}: {reason}")]
    Corrupt {
        /// Which format was being read (chunk, summary, head log, series entry).
        what: &'static str,
        /// Byte offset in that item where decoding failed.
        offset: usize,
        /// What was wrong.
        reason: String,
    },

    /// The store failed.
    #[error("store failed while {operation}: {source}")]
    Store {
        /// What history was doing.
        operation: &'static str,
        /// The store's error.
        source: store::StoreError,
    },
}

impl HistoryError {
    pub(crate) fn store(operation: &'static str) -> impl FnOnce(store::StoreError) -> Self {
        move |source| HistoryError::Store { operation, source }
    }
}
