//! The crate's one error type. Every parse error names where it happened (line,
//! column, byte offset and the element path such as
//! `/OpenDRIVE/road[id=3]/planView/geometry[2]`) and what was allowed there;
//! query errors name the road, lane and s that could not be resolved.

use std::fmt;

/// Where in the source document a problem sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Byte offset from the start of the document.
    pub offset: usize,
    /// Element path, e.g. `/OpenDRIVE/road[id=3]/planView/geometry[2]`.
    pub path: String,
}

impl Location {
    pub(crate) fn new(source: &str, offset: usize, path: String) -> Location {
        let (line, column) = crate::xml::line_column(source, offset);
        Location {
            line,
            column,
            offset,
            path,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "line {}, column {}", self.line, self.column)
        } else {
            write!(
                f,
                "{} (line {}, column {})",
                self.path, self.line, self.column
            )
        }
    }
}

/// What went wrong while reading an OpenDRIVE document or answering a query.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RoadError {
    /// The text is not well-formed XML.
    #[error("malformed XML at {at}: {message}")]
    Xml {
        /// Where the XML reader stopped.
        at: Location,
        /// The reader's description.
        message: String,
    },
    /// A size or depth limit of the reader was exceeded.
    #[error("{at}: the {what} exceeds the limit of {limit}")]
    Limit {
        /// Where the limit was hit.
        at: Location,
        /// Which quantity.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// A required attribute is absent.
    #[error("{at}: missing required attribute `{attribute}`")]
    MissingAttribute {
        /// The element lacking it.
        at: Location,
        /// The attribute's name.
        attribute: &'static str,
    },
    /// An attribute's value is not of the allowed form.
    #[error("{at}: attribute `{attribute}` is {value:?}, expected {expected}")]
    InvalidAttribute {
        /// The element carrying it.
        at: Location,
        /// The attribute's name.
        attribute: &'static str,
        /// The value found.
        value: String,
        /// What is allowed.
        expected: &'static str,
    },
    /// The document's structure breaks an OpenDRIVE rule.
    #[error("{at}: {message}")]
    Invalid {
        /// The offending element.
        at: Location,
        /// The rule broken and what is allowed.
        message: String,
    },
    /// A query named a road the network does not have.
    #[error("no road with id {road:?} in the network")]
    UnknownRoad {
        /// The id asked for.
        road: String,
    },
    /// A query's s lies outside the road.
    #[error("road {road:?}: s = {s} is outside the road's range 0..={length}")]
    OutOfRange {
        /// The road.
        road: String,
        /// The s asked for.
        s: f64,
        /// The road's length.
        length: f64,
    },
    /// A query named a lane that does not exist at that s.
    #[error("road {road:?} has no lane {lane} at s = {s}")]
    UnknownLane {
        /// The road.
        road: String,
        /// The lane id asked for.
        lane: i32,
        /// Where it was asked for.
        s: f64,
    },
}
