//! The crate's errors: [`ModelError`] for single failures, [`Problems`] for
//! the full list of rule violations found in a rejected batch, and
//! [`ValueError`] for a value that does not fit its schema.

use std::fmt;

/// One rule broken by an uploaded model, with where it was broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The source the element came from: a file name or `models[3]`.
    pub source: String,
    /// The `@id` of the top-level model the element belongs to, when known.
    pub model: Option<String>,
    /// Element path below the model, like `contents[3].schema`.
    pub path: String,
    /// Short stable identifier of the rule, like `dtmi-syntax`.
    pub rule: &'static str,
    /// What was wrong and what is allowed.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.source)?;
        if let Some(model) = &self.model {
            write!(f, " {model}")?;
        }
        if !self.path.is_empty() {
            write!(f, " {}", self.path)?;
        }
        write!(f, ": {} [{}]", self.message, self.rule)
    }
}

/// Every problem found in a rejected batch, in the order found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// A JSON value that does not conform to a schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError {
    /// JSON pointer below the checked value (empty for the value itself).
    pub path: String,
    /// What was wrong and what the schema allows.
    pub message: String,
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "at {}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for ValueError {}

/// Failures of single operations on models and identifiers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// A string is not a valid DTMI.
    #[error("invalid DTMI {text:?}: {reason}")]
    InvalidDtmi {
        /// The rejected text.
        text: String,
        /// Which part of the grammar it breaks.
        reason: &'static str,
    },
    /// The model is not in the set.
    #[error("model {id} is not in the model set")]
    NotFound {
        /// The missing model.
        id: String,
    },
    /// The model cannot be removed while other models depend on it.
    #[error("model {id} is still used by {used_by}; remove or change that model first")]
    InUse {
        /// The model that was to be removed.
        id: String,
        /// A model that extends or references it.
        used_by: String,
    },
}
