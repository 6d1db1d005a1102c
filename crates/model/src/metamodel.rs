//! The DTDL metamodel as data: which classes exist in each language version,
//! which properties each class has, what values those properties take, and
//! the bounds the specification puts on them. The parser in `parse.rs` is
//! generic over these tables, so a rule lives in one place.

/// A DTDL class that can be written as an element with `@type`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub(crate) enum Class {
    Interface,
    Telemetry,
    Property,
    Command,
    CommandPayload,
    CommandRequest,
    CommandResponse,
    Relationship,
    Component,
    Array,
    Enum,
    EnumValue,
    Map,
    MapKey,
    MapValue,
    Object,
    Field,
}

const ALL_CLASSES: [Class; 17] = [
    Class::Interface,
    Class::Telemetry,
    Class::Property,
    Class::Command,
    Class::CommandPayload,
    Class::CommandRequest,
    Class::CommandResponse,
    Class::Relationship,
    Class::Component,
    Class::Array,
    Class::Enum,
    Class::EnumValue,
    Class::Map,
    Class::MapKey,
    Class::MapValue,
    Class::Object,
    Class::Field,
];

impl Class {
    pub(crate) fn term(self) -> &'static str {
        match self {
            Class::Interface => "Interface",
            Class::Telemetry => "Telemetry",
            Class::Property => "Property",
            Class::Command => "Command",
            Class::CommandPayload => "CommandPayload",
            Class::CommandRequest => "CommandRequest",
            Class::CommandResponse => "CommandResponse",
            Class::Relationship => "Relationship",
            Class::Component => "Component",
            Class::Array => "Array",
            Class::Enum => "Enum",
            Class::EnumValue => "EnumValue",
            Class::Map => "Map",
            Class::MapKey => "MapKey",
            Class::MapValue => "MapValue",
            Class::Object => "Object",
            Class::Field => "Field",
        }
    }

    /// Whether the class exists in the given DTDL version.
    pub(crate) fn in_version(self, version: u32) -> bool {
        match self {
            Class::CommandPayload => version == 2,
            Class::CommandRequest | Class::CommandResponse => version >= 3,
            _ => true,
        }
    }

    /// The class named by a term or by its DTMI (`dtmi:dtdl:class:Telemetry;3`).
    /// Returns the class and whether it was given as a DTMI.
    pub(crate) fn lookup(text: &str, version: u32) -> Option<(Class, bool)> {
        if let Some(rest) = text.strip_prefix("dtmi:dtdl:class:") {
            let (name, ver) = rest.rsplit_once(';')?;
            if ver != version_str(version) {
                return None;
            }
            return ALL_CLASSES
                .iter()
                .find(|c| c.term() == name && c.in_version(version))
                .map(|c| (*c, true));
        }
        ALL_CLASSES
            .iter()
            .find(|c| c.term() == text && c.in_version(version))
            .map(|c| (*c, false))
    }

    pub(crate) fn is_complex_schema(self) -> bool {
        matches!(
            self,
            Class::Array | Class::Enum | Class::Map | Class::Object
        )
    }
}

pub(crate) fn version_str(version: u32) -> &'static str {
    if version == 2 { "2" } else { "3" }
}

/// Which primitive schema terms a schema-valued property accepts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Terms {
    /// Every primitive schema of the version.
    Primitive,
    /// Only `string` (MapKey.schema).
    StringOnly,
    /// Only `integer` or `string` (Enum.valueSchema).
    IntegerOrString,
    /// No terms: the value is an element or a reference to one.
    None,
}

/// The value type of a DTDL property.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    /// `name`: a string matching the name pattern.
    Name,
    /// `comment`: a plain string.
    Comment,
    /// `displayName`, `description`: localizable strings.
    LangString,
    /// `writable`.
    Bool,
    /// `minMultiplicity` (exactly 0) and `maxMultiplicity` (at least 1).
    MinMultiplicity,
    MaxMultiplicity,
    /// `enumValue`: integer or string per the enclosing Enum's valueSchema.
    EnumValue,
    /// `commandType` (deprecated): `synchronous` or `asynchronous`.
    CommandType,
    /// `unit` of a semantic type.
    Unit,
    /// `target`: a DTMI that is not resolved.
    Target,
    /// Elements of the given classes, references to them, or (for schemas)
    /// primitive terms.
    Elements(&'static [Class], Terms),
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct PropDef {
    pub(crate) term: &'static str,
    pub(crate) kind: Kind,
    pub(crate) required: bool,
    /// Most values allowed; 1 for single-valued properties.
    pub(crate) max_count: Option<usize>,
    pub(crate) min_count: usize,
}

const fn p(term: &'static str, kind: Kind, required: bool, max: usize) -> PropDef {
    PropDef {
        term,
        kind,
        required,
        max_count: Some(max),
        min_count: 0,
    }
}

const fn many(
    term: &'static str,
    kind: Kind,
    required: bool,
    min: usize,
    max: Option<usize>,
) -> PropDef {
    PropDef {
        term,
        kind,
        required,
        max_count: max,
        min_count: min,
    }
}

const SCHEMA_CLASSES: &[Class] = &[Class::Array, Class::Enum, Class::Map, Class::Object];
const CONTENT_CLASSES: &[Class] = &[
    Class::Telemetry,
    Class::Property,
    Class::Command,
    Class::Relationship,
    Class::Component,
];

const SCHEMA: Kind = Kind::Elements(SCHEMA_CLASSES, Terms::Primitive);

macro_rules! entity {
    ($($extra:expr),* $(,)?) => {
        &[
            p("comment", Kind::Comment, false, 1),
            p("description", Kind::LangString, false, 1),
            p("displayName", Kind::LangString, false, 1),
            $($extra),*
        ]
    };
}

const NAME: PropDef = p("name", Kind::Name, true, 1);

static INTERFACE_V2: &[PropDef] = entity![
    many(
        "contents",
        Kind::Elements(CONTENT_CLASSES, Terms::None),
        false,
        0,
        Some(300)
    ),
    many(
        "extends",
        Kind::Elements(&[Class::Interface], Terms::None),
        false,
        0,
        Some(2)
    ),
    many(
        "schemas",
        Kind::Elements(SCHEMA_CLASSES, Terms::None),
        false,
        0,
        None
    ),
];
static INTERFACE_V3: &[PropDef] = entity![
    many(
        "contents",
        Kind::Elements(CONTENT_CLASSES, Terms::None),
        false,
        0,
        None
    ),
    many(
        "extends",
        Kind::Elements(&[Class::Interface], Terms::None),
        false,
        0,
        Some(1024)
    ),
    many(
        "schemas",
        Kind::Elements(SCHEMA_CLASSES, Terms::None),
        false,
        0,
        None
    ),
];
static TELEMETRY: &[PropDef] = entity![
    NAME,
    p("schema", SCHEMA, true, 1),
    p("unit", Kind::Unit, false, 1)
];
static PROPERTY: &[PropDef] = entity![
    NAME,
    p("schema", SCHEMA, true, 1),
    p("unit", Kind::Unit, false, 1),
    p("writable", Kind::Bool, false, 1),
];
static COMMAND_V2: &[PropDef] = entity![
    NAME,
    p("commandType", Kind::CommandType, false, 1),
    p(
        "request",
        Kind::Elements(&[Class::CommandPayload], Terms::None),
        false,
        1
    ),
    p(
        "response",
        Kind::Elements(&[Class::CommandPayload], Terms::None),
        false,
        1
    ),
];
static COMMAND_V3: &[PropDef] = entity![
    NAME,
    p("commandType", Kind::CommandType, false, 1),
    p(
        "request",
        Kind::Elements(&[Class::CommandRequest], Terms::None),
        false,
        1
    ),
    p(
        "response",
        Kind::Elements(&[Class::CommandResponse], Terms::None),
        false,
        1
    ),
];
static PAYLOAD: &[PropDef] = entity![NAME, p("schema", SCHEMA, true, 1)];
static PAYLOAD_V3: &[PropDef] = entity![
    NAME,
    p("schema", SCHEMA, true, 1),
    p("nullable", Kind::Bool, false, 1),
    p("unit", Kind::Unit, false, 1),
];
static RELATIONSHIP_V2: &[PropDef] = entity![
    NAME,
    p("maxMultiplicity", Kind::MaxMultiplicity, false, 1),
    p("minMultiplicity", Kind::MinMultiplicity, false, 1),
    many(
        "properties",
        Kind::Elements(&[Class::Property], Terms::None),
        false,
        0,
        Some(300)
    ),
    p("target", Kind::Target, false, 1),
    p("writable", Kind::Bool, false, 1),
];
static RELATIONSHIP_V3: &[PropDef] = entity![
    NAME,
    p("maxMultiplicity", Kind::MaxMultiplicity, false, 1),
    p("minMultiplicity", Kind::MinMultiplicity, false, 1),
    many(
        "properties",
        Kind::Elements(&[Class::Property], Terms::None),
        false,
        0,
        None
    ),
    p("target", Kind::Target, false, 1),
    p("writable", Kind::Bool, false, 1),
];
static COMPONENT: &[PropDef] = entity![
    NAME,
    p(
        "schema",
        Kind::Elements(&[Class::Interface], Terms::None),
        true,
        1
    )
];
static ARRAY: &[PropDef] = entity![p("elementSchema", SCHEMA, true, 1)];
static ENUM_V2: &[PropDef] = entity![
    many(
        "enumValues",
        Kind::Elements(&[Class::EnumValue], Terms::None),
        true,
        1,
        Some(100)
    ),
    p(
        "valueSchema",
        Kind::Elements(&[], Terms::IntegerOrString),
        true,
        1
    ),
];
static ENUM_V3: &[PropDef] = entity![
    many(
        "enumValues",
        Kind::Elements(&[Class::EnumValue], Terms::None),
        false,
        0,
        None
    ),
    p(
        "valueSchema",
        Kind::Elements(&[], Terms::IntegerOrString),
        true,
        1
    ),
];
static ENUM_VALUE: &[PropDef] = entity![NAME, p("enumValue", Kind::EnumValue, true, 1)];
static MAP: &[PropDef] = entity![
    p(
        "mapKey",
        Kind::Elements(&[Class::MapKey], Terms::None),
        true,
        1
    ),
    p(
        "mapValue",
        Kind::Elements(&[Class::MapValue], Terms::None),
        true,
        1
    ),
];
static MAP_KEY: &[PropDef] = entity![
    NAME,
    p("schema", Kind::Elements(&[], Terms::StringOnly), true, 1)
];
static MAP_VALUE: &[PropDef] = entity![NAME, p("schema", SCHEMA, true, 1)];
// DTDL v3 lets semantic types (and so units) apply to fields and map values.
static MAP_VALUE_V3: &[PropDef] = entity![
    NAME,
    p("schema", SCHEMA, true, 1),
    p("unit", Kind::Unit, false, 1)
];
static OBJECT_V2: &[PropDef] = entity![many(
    "fields",
    Kind::Elements(&[Class::Field], Terms::None),
    true,
    1,
    Some(30)
)];
static OBJECT_V3: &[PropDef] = entity![many(
    "fields",
    Kind::Elements(&[Class::Field], Terms::None),
    false,
    0,
    None
)];
static FIELD: &[PropDef] = entity![NAME, p("schema", SCHEMA, true, 1)];
static FIELD_V3: &[PropDef] = entity![
    NAME,
    p("schema", SCHEMA, true, 1),
    p("unit", Kind::Unit, false, 1)
];

pub(crate) fn properties(class: Class, version: u32) -> &'static [PropDef] {
    let v2 = version == 2;
    match class {
        Class::Interface if v2 => INTERFACE_V2,
        Class::Interface => INTERFACE_V3,
        Class::Telemetry => TELEMETRY,
        Class::Property => PROPERTY,
        Class::Command if v2 => COMMAND_V2,
        Class::Command => COMMAND_V3,
        Class::CommandPayload => PAYLOAD,
        Class::CommandRequest | Class::CommandResponse => PAYLOAD_V3,
        Class::Relationship if v2 => RELATIONSHIP_V2,
        Class::Relationship => RELATIONSHIP_V3,
        Class::Component => COMPONENT,
        Class::Array => ARRAY,
        Class::Enum if v2 => ENUM_V2,
        Class::Enum => ENUM_V3,
        Class::EnumValue => ENUM_VALUE,
        Class::Map => MAP,
        Class::MapKey => MAP_KEY,
        Class::MapValue if v2 => MAP_VALUE,
        Class::MapValue => MAP_VALUE_V3,
        Class::Object if v2 => OBJECT_V2,
        Class::Object => OBJECT_V3,
        Class::Field if v2 => FIELD,
        Class::Field => FIELD_V3,
    }
}

/// Every property term defined in a version (for telling "a known term used
/// where it does not belong" from "an undefined term").
pub(crate) fn is_any_property_term(term: &str, version: u32) -> bool {
    ALL_CLASSES
        .iter()
        .filter(|c| c.in_version(version))
        .any(|c| properties(*c, version).iter().any(|d| d.term == term))
}

/// Primitive schemas by term, with the DTDL version they appeared in. The
/// numeric and binary types of version 4 are not terms of v2 or v3 (Microsoft's
/// parser refuses them there too); they are listed for when v4 is supported.
pub(crate) const PRIMITIVES: &[(&str, u32)] = &[
    ("boolean", 2),
    ("date", 2),
    ("dateTime", 2),
    ("double", 2),
    ("duration", 2),
    ("float", 2),
    ("integer", 2),
    ("long", 2),
    ("string", 2),
    ("time", 2),
    ("point", 2),
    ("multiPoint", 2),
    ("lineString", 2),
    ("multiLineString", 2),
    ("polygon", 2),
    ("multiPolygon", 2),
    ("byte", 4),
    ("bytes", 4),
    ("decimal", 4),
    ("short", 4),
    ("uuid", 4),
    ("unsignedByte", 4),
    ("unsignedShort", 4),
    ("unsignedInteger", 4),
    ("unsignedLong", 4),
];

/// Resolves a primitive schema given as a term or as its DTMI
/// (`dtmi:dtdl:instance:Schema:double;2`). Returns the term and whether a DTMI was used.
pub(crate) fn lookup_primitive(text: &str, version: u32) -> Option<(&'static str, bool)> {
    let geo = text
        .strip_prefix("dtmi:standard:schema:geospatial:")
        .and_then(|rest| {
            let (name, ver) = rest.rsplit_once(';')?;
            (ver == version_str(version)).then_some(name)
        });
    if let Some(name) = geo {
        return PRIMITIVES
            .iter()
            .take(16)
            .skip(10)
            .find(|(term, _)| term.eq_ignore_ascii_case(name))
            .map(|(term, _)| (*term, true));
    }
    let (name, dtmi) = match text.strip_prefix("dtmi:dtdl:instance:Schema:") {
        Some(rest) => {
            let (name, ver) = rest.rsplit_once(';')?;
            if ver != version_str(version) {
                return None;
            }
            (name, true)
        }
        None => (text, false),
    };
    PRIMITIVES
        .iter()
        .find(|(term, since)| *term == name && *since <= version)
        .map(|(term, _)| (*term, dtmi))
}

pub(crate) fn is_geospatial(term: &str) -> bool {
    matches!(
        term,
        "point" | "multiPoint" | "lineString" | "multiLineString" | "polygon" | "multiPolygon"
    )
}

/// Nesting depth of a geospatial schema: an Object whose `coordinates` are
/// arrays of positions (arrays of numbers); 0 for other primitives.
pub(crate) fn geospatial_depth(term: &str) -> usize {
    match term {
        "point" => 2,
        "multiPoint" | "lineString" => 3,
        "multiLineString" | "polygon" => 4,
        "multiPolygon" => 5,
        _ => 0,
    }
}

/// Limits that differ between DTDL versions.
pub(crate) struct VersionLimits {
    pub(crate) name_len: usize,
    pub(crate) display_name_len: usize,
    pub(crate) description_len: usize,
    pub(crate) comment_len: usize,
    pub(crate) extends_depth: usize,
    pub(crate) schema_depth: usize,
    pub(crate) interface_id_len: usize,
    pub(crate) max_multiplicity: Option<i64>,
}

pub(crate) fn limits(version: u32) -> VersionLimits {
    if version == 2 {
        VersionLimits {
            name_len: 64,
            display_name_len: 64,
            description_len: 512,
            comment_len: 512,
            extends_depth: 10,
            schema_depth: 5,
            interface_id_len: 128,
            max_multiplicity: Some(500),
        }
    } else {
        VersionLimits {
            name_len: 512,
            display_name_len: 512,
            description_len: 512,
            comment_len: 512,
            extends_depth: 10,
            schema_depth: 5,
            interface_id_len: 128,
            max_multiplicity: None,
        }
    }
}
