//! The one error type of the store crate. It is `Clone` because one failed group
//! commit fails every ticket in it, so the same error is handed to many waiters;
//! backend errors are therefore kept as their rendered message, not as the source.

use thiserror::Error;

/// Everything that can go wrong when validating, committing or reading.
#[derive(Error, Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// A table name broke the naming rule.
    #[error(
        "invalid table name {name:?}: {reason}; allowed: 1 to {max} characters from [a-z0-9_/.-]"
    )]
    InvalidTableName {
        /// The name as given (cut to a readable length).
        name: String,
        /// What exactly was wrong.
        reason: String,
        /// The longest allowed name.
        max: usize,
    },

    /// A key was longer than `KEY_BYTES_MAX`.
    #[error(
        "key of {bytes} bytes in table {table:?} is too large; at most {max} bytes are allowed"
    )]
    KeyTooLarge {
        /// The table the write was aimed at.
        table: String,
        /// The key's length.
        bytes: usize,
        /// The limit.
        max: usize,
    },

    /// A value was longer than `VALUE_BYTES_MAX`.
    #[error(
        "value of {bytes} bytes in table {table:?} is too large; at most {max} bytes are allowed"
    )]
    ValueTooLarge {
        /// The table the write was aimed at.
        table: String,
        /// The value's length.
        bytes: usize,
        /// The limit.
        max: usize,
    },

    /// A batch was larger than `CommitLimits::batch_bytes_max`.
    #[error(
        "batch of {writes} writes and {bytes} bytes is too large; at most {max} bytes per batch are allowed (CommitLimits::batch_bytes_max)"
    )]
    BatchTooLarge {
        /// Number of writes in the batch.
        writes: usize,
        /// The batch's size as accounted by `Batch::size_bytes`.
        bytes: usize,
        /// The limit.
        max: usize,
    },

    /// The database file could not be opened or created.
    #[error("cannot open the store at {path}: {message}")]
    Open {
        /// The database file.
        path: String,
        /// The backend's explanation.
        message: String,
    },

    /// A backup could not be written.
    #[error("cannot back up the store to {path}: {message}")]
    Backup {
        /// The backup file.
        path: String,
        /// What went wrong.
        message: String,
    },

    /// The backend failed while doing `operation`.
    #[error("store backend failed to {operation}{}: {message}", table_suffix(.table))]
    Backend {
        /// What the store was doing, e.g. "commit a write transaction".
        operation: &'static str,
        /// The table involved, if one was.
        table: Option<String>,
        /// The backend's explanation.
        message: String,
    },

    /// An earlier group commit failed, so the committer refuses every later batch:
    /// later batches may depend on the lost ones, and committing them would store a
    /// state that never existed. Recover by reopening the store and reloading.
    #[error(
        "the group committer stopped after a failed commit and refuses further batches; first failure: {first_failure}"
    )]
    Halted {
        /// The failure that halted the committer.
        first_failure: Box<StoreError>,
    },

    /// The batch was submitted after `GroupCommit::shutdown`.
    #[error("the group committer has shut down; the batch was not written")]
    ShutDown,

    /// The committer thread went away without resolving the ticket (it panicked).
    #[error("the group committer thread ended without resolving this batch; it may not be durable")]
    CommitterLost,
}

fn table_suffix(table: &Option<String>) -> String {
    match table {
        Some(table) => format!(" on table {table:?}"),
        None => String::new(),
    }
}

impl StoreError {
    /// Wraps a backend error with what the store was doing when it happened.
    pub(crate) fn backend(
        operation: &'static str,
        table: Option<&str>,
        error: impl std::fmt::Display,
    ) -> Self {
        StoreError::Backend {
            operation,
            table: table.map(str::to_owned),
            message: error.to_string(),
        }
    }
}
