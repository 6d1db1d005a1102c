//! The crate's one error type. Every variant says what was wrong, where (file,
//! line, column of the element), and what is allowed, so a scenario author can fix
//! the file without reading our code.

use std::fmt;

/// A place in a scenario or catalog file: file name as the resolver knows it,
/// 1-based line and column of the element's opening `<`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    /// File name as given to the parser (scenario path or catalog path).
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column (in bytes).
    pub column: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// Everything that can go wrong when parsing or running a scenario.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The text is not well-formed XML.
    #[error("{at}: malformed XML: {message}")]
    Xml {
        /// Where the reader stopped.
        at: Location,
        /// What the XML reader reported.
        message: String,
    },
    /// An element the parser knows nothing about, or knows but does not run.
    #[error(
        "{at}: unsupported element <{element}> (inside <{parent}>); see crates/sim/COVERAGE.md for what is supported"
    )]
    Unsupported {
        /// Element name.
        element: String,
        /// Its parent element's name.
        parent: String,
        /// Where it is.
        at: Location,
    },
    /// A required attribute is absent.
    #[error("{at}: <{element}> needs attribute `{attribute}`")]
    MissingAttribute {
        /// Element name.
        element: String,
        /// Attribute name.
        attribute: String,
        /// Where the element is.
        at: Location,
    },
    /// A required child element is absent (or one of several choices is needed).
    #[error("{at}: <{element}> needs a child element {expected}")]
    MissingChild {
        /// Element name.
        element: String,
        /// What child would do, e.g. `<Position>` or `one of <A>, <B>`.
        expected: String,
        /// Where the element is.
        at: Location,
    },
    /// An attribute value of the wrong type or out of range.
    #[error("{at}: <{element} {attribute}=\"{value}\">: {allowed}")]
    BadValue {
        /// Element name.
        element: String,
        /// Attribute name.
        attribute: String,
        /// The value after parameter substitution.
        value: String,
        /// What would be accepted.
        allowed: String,
        /// Where the element is.
        at: Location,
    },
    /// A `$name` reference to a parameter that no enclosing scope declares.
    #[error("{at}: parameter `${name}` is not declared in any enclosing ParameterDeclarations")]
    UnknownParameter {
        /// Parameter name without `$`.
        name: String,
        /// Where the reference is.
        at: Location,
    },
    /// An `${...}` expression that does not parse or evaluate.
    #[error("{at}: expression `{expression}`, at character {offset}: {message}")]
    Expression {
        /// The expression text between `${` and `}`.
        expression: String,
        /// 0-based character offset inside the expression.
        offset: usize,
        /// What was wrong.
        message: String,
        /// Where the attribute's element is.
        at: Location,
    },
    /// A name that refers to nothing: entity, catalog, catalog entry, storyboard element.
    #[error("{at}: {message}")]
    Reference {
        /// What could not be found and what exists instead.
        message: String,
        /// Where the reference is.
        at: Location,
    },
    /// The document is an OpenSCENARIO catalog (its root holds `<Catalog>`), not
    /// a scenario: it is read through CatalogLocations. Its own variant so that
    /// folder runners can skip catalogs beside scenarios without reading messages.
    #[error("{at}: this is a catalog file, not a scenario; refer to it through CatalogLocations")]
    CatalogFile {
        /// Where the `<Catalog>` element is.
        at: Location,
    },
    /// The resolver could not supply a referenced file.
    #[error("cannot read `{path}` (referenced at {at}): {message}")]
    Resolve {
        /// Path as written in the scenario.
        path: String,
        /// The resolver's explanation.
        message: String,
        /// Where the reference is.
        at: Location,
    },
    /// A size or depth limit was exceeded.
    #[error("{at}: {message}")]
    Limit {
        /// Which limit and its value.
        message: String,
        /// Where it was exceeded.
        at: Location,
    },
    /// The road network refused a query the runner needed.
    #[error("road network: {0}")]
    Road(String),
    /// The runner was configured wrongly (bad step, missing road network for lane positions).
    #[error("runner: {0}")]
    Runner(String),
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
