//! The resolved model types handed to the rest of the server: interfaces,
//! their contents and schemas. They are built only from validated input, so
//! every reference in them (extends, component schemas) names an interface of
//! the same [`crate::ModelSet`], and reusable schemas are expanded in place.

use indexmap::IndexMap;
use serde::Serialize;

use crate::Dtmi;

/// A localizable string: language code (`en`, `de-CH`) to text.
pub type LangString = IndexMap<String, String>;

/// A DTDL Interface, with its own contents (inherited ones are reached through
/// [`crate::ModelSet::contents`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Interface {
    /// The interface's DTMI.
    pub id: Dtmi,
    /// 2 or 3, from the `@context` in force on the interface.
    pub dtdl_version: u32,
    /// Interfaces this one extends directly.
    pub extends: Vec<Dtmi>,
    /// `displayName` by language.
    pub display_name: LangString,
    /// `description` by language.
    pub description: LangString,
    /// `comment`, for model authors.
    pub comment: Option<String>,
    /// The interface's own contents, in document order.
    pub contents: Vec<Content>,
    /// Reusable schemas declared in `schemas`, by their DTMI.
    pub schemas: Vec<(Dtmi, Schema)>,
    /// Co-types other than `Interface` (semantic types, extension types).
    pub extra_types: Vec<String>,
    /// The interface's JSON exactly as uploaded (BOM stripped). For an
    /// interface defined inline (in `extends` or a component's `schema`) this
    /// is that inline object.
    pub source: serde_json::Value,
}

/// One element of an interface's `contents`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Content {
    /// A Property: state with a schema, optionally writable.
    Property(Property),
    /// A Telemetry: a measurement stream.
    Telemetry(Telemetry),
    /// A Command: a function on the twin (stored, not executed).
    Command(Command),
    /// A Relationship to other twins.
    Relationship(Relationship),
    /// A Component: an embedded interface.
    Component(Component),
}

impl Content {
    /// The element's `name`, unique among an interface's contents.
    pub fn name(&self) -> &str {
        match self {
            Content::Property(p) => &p.name,
            Content::Telemetry(t) => &t.name,
            Content::Command(c) => &c.name,
            Content::Relationship(r) => &r.name,
            Content::Component(c) => &c.name,
        }
    }
}

/// Texts every named element may carry.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Docs {
    /// `description` by language.
    pub description: LangString,
    /// `comment`.
    pub comment: Option<String>,
}

/// A Property content (or a Relationship property).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Property {
    /// `@id` when the model gave one.
    pub id: Option<Dtmi>,
    /// `name`.
    pub name: String,
    /// The value schema.
    pub schema: Schema,
    /// `writable` (false when absent).
    pub writable: bool,
    /// Semantic types (co-types such as `Temperature`).
    pub semantic_types: Vec<String>,
    /// `unit`, when a semantic type gave one.
    pub unit: Option<String>,
    /// `displayName` by language.
    pub display_name: LangString,
    /// Description and comment.
    pub docs: Docs,
}

/// A Telemetry content.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Telemetry {
    /// `@id` when the model gave one.
    pub id: Option<Dtmi>,
    /// `name`.
    pub name: String,
    /// The value schema.
    pub schema: Schema,
    /// Semantic types.
    pub semantic_types: Vec<String>,
    /// `unit`.
    pub unit: Option<String>,
    /// `displayName` by language.
    pub display_name: LangString,
    /// Description and comment.
    pub docs: Docs,
}

/// A Relationship content.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Relationship {
    /// `@id` when the model gave one.
    pub id: Option<Dtmi>,
    /// `name`.
    pub name: String,
    /// The interface targets must be of; any twin when absent.
    pub target: Option<Dtmi>,
    /// `minMultiplicity` (DTDL allows only 0).
    pub min_multiplicity: Option<u32>,
    /// `maxMultiplicity`.
    pub max_multiplicity: Option<u32>,
    /// Properties carried by each relationship instance.
    pub properties: Vec<Property>,
    /// `writable`.
    pub writable: bool,
    /// `displayName` by language.
    pub display_name: LangString,
    /// Description and comment.
    pub docs: Docs,
}

/// A Component content.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Component {
    /// `@id` when the model gave one.
    pub id: Option<Dtmi>,
    /// `name`.
    pub name: String,
    /// The interface of the component.
    pub schema: Dtmi,
    /// `displayName` by language.
    pub display_name: LangString,
    /// Description and comment.
    pub docs: Docs,
}

/// A Command content.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Command {
    /// `@id` when the model gave one.
    pub id: Option<Dtmi>,
    /// `name`.
    pub name: String,
    /// The request payload.
    pub request: Option<CommandPayload>,
    /// The response payload.
    pub response: Option<CommandPayload>,
    /// `displayName` by language.
    pub display_name: LangString,
    /// Description and comment.
    pub docs: Docs,
}

/// A command's request or response (CommandPayload in v2, CommandRequest /
/// CommandResponse in v3).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommandPayload {
    /// `name`.
    pub name: String,
    /// The payload's schema.
    pub schema: Schema,
    /// `nullable` (v3); false when absent.
    pub nullable: bool,
}

/// A value schema.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Schema {
    /// `boolean`.
    Boolean,
    /// `date` (RFC 3339 full-date).
    Date,
    /// `dateTime` (RFC 3339).
    DateTime,
    /// `double`.
    Double,
    /// `duration` (ISO 8601).
    Duration,
    /// `float`.
    Float,
    /// `integer` (32-bit signed).
    Integer,
    /// `long` (64-bit signed).
    Long,
    /// `string`.
    String,
    /// `time` (RFC 3339 partial-time).
    Time,
    /// `byte` (v3, 8-bit signed).
    Byte,
    /// `bytes` (v3, base64 string).
    Bytes,
    /// `decimal` (v3, decimal number as string or number).
    Decimal,
    /// `short` (v3, 16-bit signed).
    Short,
    /// `uuid` (v3).
    Uuid,
    /// `unsignedByte` (v3).
    UnsignedByte,
    /// `unsignedShort` (v3).
    UnsignedShort,
    /// `unsignedInteger` (v3).
    UnsignedInteger,
    /// `unsignedLong` (v3).
    UnsignedLong,
    /// GeoJSON Point.
    Point,
    /// GeoJSON MultiPoint.
    MultiPoint,
    /// GeoJSON LineString.
    LineString,
    /// GeoJSON MultiLineString.
    MultiLineString,
    /// GeoJSON Polygon.
    Polygon,
    /// GeoJSON MultiPolygon.
    MultiPolygon,
    /// An Enum schema.
    Enum(Box<EnumSchema>),
    /// An Object schema.
    Object(Box<ObjectSchema>),
    /// A Map schema.
    Map(Box<MapSchema>),
    /// An Array schema.
    Array(Box<ArraySchema>),
}

/// An Enum schema.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnumSchema {
    /// `@id` when given.
    pub id: Option<Dtmi>,
    /// `integer` or `string`.
    pub value_schema: Schema,
    /// The declared values.
    pub values: Vec<EnumValue>,
}

/// One value of an Enum.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnumValue {
    /// `name`.
    pub name: String,
    /// `enumValue`: a JSON integer or string matching the value schema.
    pub value: serde_json::Value,
    /// `displayName` by language.
    pub display_name: LangString,
}

/// An Object schema.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectSchema {
    /// `@id` when given.
    pub id: Option<Dtmi>,
    /// The fields, in declaration order.
    pub fields: Vec<Field>,
}

/// One field of an Object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Field {
    /// `name`.
    pub name: String,
    /// The field's schema.
    pub schema: Schema,
    /// `displayName` by language.
    pub display_name: LangString,
}

/// A Map schema.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MapSchema {
    /// `@id` when given.
    pub id: Option<Dtmi>,
    /// `mapKey.name`.
    pub key_name: String,
    /// `mapValue.name`.
    pub value_name: String,
    /// `mapValue.schema`.
    pub value_schema: Schema,
}

/// An Array schema.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArraySchema {
    /// `@id` when given.
    pub id: Option<Dtmi>,
    /// `elementSchema`.
    pub element_schema: Schema,
}
