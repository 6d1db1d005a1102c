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

/// An AASX package (Part 5) that cannot be read or written. Package structure
/// errors name the part (`/aasx/_rels/aasx-origin.rels`) and what was allowed;
/// a spec part that is not a readable environment carries its [`ReadError`].
/// Kept apart from [`ReadError`] because a package error is about parts and
/// limits, not element paths, and wraps a `ReadError` as its source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AasxError {
    /// The bytes are not a zip archive the reader can open.
    #[error("not an AASX package: {reason} (an AASX package is an OPC zip archive)")]
    NotZip {
        /// What the zip reader found wrong.
        reason: String,
    },
    /// More zip entries than [`AasxLimits::entries_max`](crate::aasx::AasxLimits).
    #[error(
        "the package has {found} zip entries; at most {limit} are allowed (AasxLimits::entries_max)"
    )]
    TooManyEntries {
        /// Entries in the central directory.
        found: usize,
        /// The limit.
        limit: usize,
    },
    /// One entry larger than [`AasxLimits::entry_bytes_max`](crate::aasx::AasxLimits).
    #[error(
        "{part}: {found} bytes uncompressed; at most {limit} are allowed in one part (AasxLimits::entry_bytes_max)"
    )]
    PartTooLarge {
        /// The part.
        part: String,
        /// Its declared uncompressed size.
        found: u64,
        /// The limit.
        limit: u64,
    },
    /// All entries together larger than
    /// [`AasxLimits::total_bytes_max`](crate::aasx::AasxLimits).
    #[error(
        "the package's entries hold {found} bytes uncompressed; at most {limit} are allowed (AasxLimits::total_bytes_max)"
    )]
    PackageTooLarge {
        /// The sum of the declared uncompressed sizes.
        found: u64,
        /// The limit.
        limit: u64,
    },
    /// An entry that expands more than
    /// [`AasxLimits::compression_ratio_max`](crate::aasx::AasxLimits) times.
    #[error(
        "{part}: {compressed} bytes expand to {uncompressed}, more than {limit} times (AasxLimits::compression_ratio_max); refused as a likely zip bomb"
    )]
    CompressionRatio {
        /// The part.
        part: String,
        /// Its compressed size.
        compressed: u64,
        /// Its declared uncompressed size.
        uncompressed: u64,
        /// The limit.
        limit: u64,
    },
    /// An entry that unpacks to more bytes than its header declares (a forged
    /// header, which would defeat the size limits).
    #[error("{part}: unpacks to more than the {declared} bytes its zip header declares")]
    SizeMismatch {
        /// The part.
        part: String,
        /// The declared uncompressed size.
        declared: u64,
    },
    /// A zip entry name or relationship target longer than
    /// [`AasxLimits::part_name_len_max`](crate::aasx::AasxLimits).
    #[error(
        "a part name of {found} bytes (starting {start:?}); at most {limit} are allowed (AasxLimits::part_name_len_max)"
    )]
    PartNameTooLong {
        /// The name's first characters.
        start: String,
        /// Its length in bytes.
        found: usize,
        /// The limit.
        limit: usize,
    },
    /// A zip entry name or relationship target that is absolute in the file
    /// system sense, names a drive, holds a `..` or `.` segment or a NUL, or
    /// climbs above the package root.
    #[error(
        "{name:?}: unsafe part name ({reason}); part names are paths inside the package without '.' or '..' segments, drives or NULs"
    )]
    UnsafePartName {
        /// The name as written.
        name: String,
        /// What made it unsafe.
        reason: &'static str,
    },
    /// Two zip entries whose names are equal once percent-decoded and compared
    /// without case, as OPC compares part names.
    #[error("{first:?} and {second:?} name the same part (OPC part names are case-insensitive)")]
    DuplicatePart {
        /// The first entry's name.
        first: String,
        /// The second entry's name.
        second: String,
    },
    /// A relationships part the chain needs is absent.
    #[error("{part}: missing; {needed}")]
    MissingRelationships {
        /// The relationships part's name.
        part: String,
        /// Why the reader needs it.
        needed: &'static str,
    },
    /// A relationships part without a relationship of the type the chain needs.
    #[error(
        "{part}: no relationship of type {kind} (in the http://admin-shell.io/aasx/relationships/ or the deprecated http://www.admin-shell.io/aasx/relationships/ namespace)"
    )]
    MissingRelationship {
        /// The relationships part's name.
        part: String,
        /// The relationship type's last segment, such as `aasx-origin`.
        kind: &'static str,
    },
    /// A relationship whose target is not in the package.
    #[error("{part}: relationship {id:?} points to {target:?}, which is not in the package")]
    MissingPart {
        /// The relationships part holding it.
        part: String,
        /// The relationship's `Id`.
        id: String,
        /// Its target.
        target: String,
    },
    /// A relationships or content types part that is not the XML OPC defines.
    #[error("{part}: {message}")]
    PackageXml {
        /// The part.
        part: String,
        /// What was wrong and what is allowed.
        message: String,
    },
    /// An entry the zip reader cannot unpack (a bad CRC, an unsupported
    /// compression method or encryption).
    #[error("{part}: cannot unpack: {reason}")]
    Unpack {
        /// The part.
        part: String,
        /// The zip reader's complaint.
        reason: String,
    },
    /// A spec part that is not a readable environment.
    #[error("{part}: {source}")]
    SpecPart {
        /// The spec part's name.
        part: String,
        /// Why it cannot be read.
        #[source]
        source: ReadError,
    },
    /// A spec part that is neither JSON nor XML by name, content type or first
    /// character.
    #[error(
        "{part}: a spec part must be JSON or XML; its name, content type {content_type:?} and first bytes say neither"
    )]
    SpecFormat {
        /// The spec part's name.
        part: String,
        /// Its content type, if any.
        content_type: String,
    },
    /// One identifier in two spec parts (strict reading; lenient reading keeps
    /// the first with a warning).
    #[error("{kind} {id:?} is defined in both {first} and {second}")]
    DuplicateId {
        /// `shell`, `submodel` or `concept description`.
        kind: &'static str,
        /// The identifier.
        id: String,
        /// The spec part defining it first.
        first: String,
        /// The spec part defining it again.
        second: String,
    },
    /// A package whose spec parts hold no shell, submodel or concept
    /// description.
    #[error("the package holds no shell, submodel or concept description (spec parts: {parts})")]
    Empty {
        /// The spec parts read.
        parts: String,
    },
    /// A file given to the writer whose path cannot be a part name.
    #[error("{path:?}: cannot be a part of the package: {reason}")]
    FilePath {
        /// The path given.
        path: String,
        /// Why it cannot.
        reason: String,
    },
    /// The zip writer failed (writing to memory, so only on sizes zip cannot
    /// hold).
    #[error("cannot write the zip archive: {reason}")]
    Zip {
        /// The zip writer's complaint.
        reason: String,
    },
}
