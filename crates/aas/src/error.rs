//! The crate's one error type, [`ReadError`]: why a JSON or XML document could not
//! be turned into metamodel values. Every variant names where (the element path in
//! the JSON property spelling, such as `submodels[0].submodelElements[3].value`,
//! which XML shares because its element names are the same) and what was allowed.
//! Constraint violations in well-formed input are not errors but
//! [`Problem`](crate::Problem)s, collected by [`verify`](crate::verify).

/// A document that cannot be read as AAS metamodel 3.0 values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The bytes are not JSON at all.
    #[error("not valid JSON at line {line}, column {column}: {message}")]
    JsonSyntax {
        /// 1-based line of the syntax error.
        line: usize,
        /// 1-based column of the syntax error.
        column: usize,
        /// What the JSON parser found wrong.
        message: String,
    },
    /// The bytes are not UTF-8 (the only encoding either serialization uses).
    #[error("not UTF-8: invalid byte sequence at byte {position}")]
    Encoding {
        /// Byte offset of the first invalid sequence.
        position: usize,
    },
    /// The bytes are not well-formed XML.
    #[error("not well-formed XML at byte {position}: {message}")]
    XmlSyntax {
        /// Byte offset where the XML parser stopped.
        position: u64,
        /// What the XML parser found wrong.
        message: String,
    },
    /// A value of the wrong JSON type or XML shape (a string where an object
    /// belongs, child elements inside a text property, `null`, …).
    #[error("{path}: expected {expected}, found {found}")]
    WrongType {
        /// Where the value sits.
        path: String,
        /// What the metamodel allows there.
        expected: &'static str,
        /// What the document has there.
        found: String,
    },
    /// A property the metamodel requires is absent.
    #[error("{path}: the required property '{property}' is missing")]
    MissingProperty {
        /// The object that lacks the property.
        path: String,
        /// The property's name.
        property: &'static str,
    },
    /// A property the metamodel does not define (strict reading only; lenient
    /// reading skips it with a [`Warning`](crate::Warning)).
    #[error("{path}: unknown property '{property}'; allowed here: {allowed}")]
    UnknownProperty {
        /// The object holding the property.
        path: String,
        /// The unexpected name.
        property: String,
        /// The names the metamodel defines for this object.
        allowed: String,
    },
    /// A string that is not one of an enumeration's literals.
    #[error("{path}: '{value}' is not a {enumeration}; allowed: {allowed}")]
    UnknownLiteral {
        /// Where the value sits.
        path: String,
        /// The value found.
        value: String,
        /// The enumeration's name, e.g. `DataTypeDefXsd`.
        enumeration: &'static str,
        /// Its literals.
        allowed: String,
    },
    /// A missing or wrong `modelType` (JSON) or an element name that names no
    /// concrete class allowed at this place (XML).
    #[error("{path}: {found} does not name a class allowed here; allowed: {allowed}")]
    WrongClass {
        /// Where the object sits.
        path: String,
        /// The discriminator found (or `no modelType`).
        found: String,
        /// The classes allowed at this place.
        allowed: String,
    },
    /// A blob or payload that is not base64.
    #[error("{path}: not base64 ({reason})")]
    Base64 {
        /// Where the value sits.
        path: String,
        /// The decoder's complaint.
        reason: String,
    },
    /// An element in another XML namespace than the metamodel's.
    #[error("{path}: element '{element}' is in namespace {found}; allowed: {allowed}")]
    Namespace {
        /// Where the element sits.
        path: String,
        /// The element's local name.
        element: String,
        /// Its namespace (or `no namespace`).
        found: String,
        /// The namespaces this reading accepts.
        allowed: String,
    },
    /// The document nests deeper than [`MAX_DEPTH`](crate::MAX_DEPTH).
    #[error("{path}: nested deeper than {limit} levels")]
    TooDeep {
        /// Where the limit was reached.
        path: String,
        /// The limit.
        limit: usize,
    },
    /// Anything else the document's shape gets wrong (XML attributes, text in an
    /// element that holds properties, more than one class in a single-valued
    /// property).
    #[error("{path}: {message}")]
    Shape {
        /// Where it happened.
        path: String,
        /// What was wrong and what is allowed.
        message: String,
    },
}

/// Something lenient reading skipped or accepted that strict reading refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Where, in the JSON property spelling (`submodels[0].idShort`).
    pub path: String,
    /// What was skipped or tolerated.
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}
