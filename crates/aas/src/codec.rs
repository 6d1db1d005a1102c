//! The machinery both serializations share: the [`Reader`] that carries the
//! element path, the strictness and the warnings through a read; the
//! [`FieldValue`] and [`Node`] traits every property type and class implements;
//! and the `class!`, `enumeration!` and `choice!` macros that give each metamodel
//! class its JSON reader and writer, XML reader and writer, serde impls and the
//! per-property part of verification from one list of its properties.
//!
//! JSON and XML spell properties the same way (`idShort`, `submodelElements`),
//! so one name per property serves both. They differ in how lists and abstract
//! classes appear: JSON uses arrays and a `modelType` discriminator, XML a wrapper
//! element named after the property holding one element per item named after the
//! item's concrete class (`<submodelElements><property>…`).

use serde_json::Value as Json;

use crate::error::{ReadError, Warning};
use crate::xml::{XmlElement, XmlWriter};

/// How strictly a document is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadOptions {
    /// Skip properties and elements the 3.0 metamodel does not define and accept
    /// the 3.1 (and 3.2) XML namespaces, each with a [`Warning`], instead of
    /// refusing the document. Meant for importing real-world files (templates
    /// written against newer metamodels); what Twinspace writes is always strict.
    pub lenient: bool,
}

impl ReadOptions {
    /// Strict reading: exactly the 3.0 schema.
    pub const STRICT: ReadOptions = ReadOptions { lenient: false };
    /// Lenient reading: 3.0 values out of 3.0, 3.1 and 3.2 documents, with warnings.
    pub const LENIENT: ReadOptions = ReadOptions { lenient: true };
}

/// The maximum nesting of objects/elements a document may have. Real AAS
/// documents nest about 2 levels per submodel element collection plus a handful
/// for references; 128 leaves room for 50 levels of collections while keeping
/// the recursive readers, writers and verifier far from the end of a thread's
/// stack. serde_json enforces the same depth on JSON text.
pub const MAX_DEPTH: usize = 128;

/// One step of an element path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Segment {
    Property(&'static str),
    Index(usize),
}

/// Renders a path as `submodels[0].submodelElements[3].value`.
pub(crate) fn render_path(path: &[Segment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Property(name) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(name);
            }
            Segment::Index(index) => {
                out.push('[');
                out.push_str(&index.to_string());
                out.push(']');
            }
        }
    }
    out
}

/// State of one read: where we are, how strict, what was tolerated.
pub struct Reader {
    options: ReadOptions,
    path: Vec<Segment>,
    warnings: Vec<Warning>,
    /// How many properties of the document's root lenient reading skipped.
    root_skipped: usize,
}

/// Lenient reads of hostile input could otherwise collect one warning per
/// unknown property without end; past this many, further ones are counted in a
/// closing warning instead of kept.
const MAX_WARNINGS: usize = 1000;

impl Reader {
    pub(crate) fn new(options: ReadOptions) -> Reader {
        Reader {
            options,
            path: Vec::new(),
            warnings: Vec::new(),
            root_skipped: 0,
        }
    }

    pub(crate) fn lenient(&self) -> bool {
        self.options.lenient
    }

    pub(crate) fn path(&self) -> String {
        if self.path.is_empty() {
            "(document root)".to_owned()
        } else {
            render_path(&self.path)
        }
    }

    /// A value lenient reading supplies for a property that metamodel 3.0
    /// requires but a newer one made optional.
    pub(crate) fn lenient_default<T: FieldValue>(
        &mut self,
        class: &str,
        property: &'static str,
    ) -> Option<T> {
        if !self.options.lenient {
            return None;
        }
        let value = T::lenient_default(class, property)?;
        self.warn(format!(
            "the required property '{property}' is missing (metamodel 3.1 made it optional); assumed a default"
        ));
        Some(value)
    }

    pub(crate) fn enter(&mut self, name: &'static str) -> Result<(), ReadError> {
        if self.path.len() >= MAX_DEPTH {
            return Err(ReadError::TooDeep {
                path: self.path(),
                limit: MAX_DEPTH,
            });
        }
        self.path.push(Segment::Property(name));
        Ok(())
    }

    pub(crate) fn enter_index(&mut self, index: usize) -> Result<(), ReadError> {
        if self.path.len() >= MAX_DEPTH {
            return Err(ReadError::TooDeep {
                path: self.path(),
                limit: MAX_DEPTH,
            });
        }
        self.path.push(Segment::Index(index));
        Ok(())
    }

    pub(crate) fn leave(&mut self) {
        self.path.pop();
    }

    pub(crate) fn warn(&mut self, message: String) {
        if self.warnings.len() < MAX_WARNINGS {
            let path = self.path();
            self.warnings.push(Warning { path, message });
        } else if self.warnings.len() == MAX_WARNINGS {
            self.warnings.push(Warning {
                path: String::new(),
                message: format!("more than {MAX_WARNINGS} warnings; the rest are not listed"),
            });
        }
    }

    /// Ends a lenient read: a document none of whose `root_properties` the
    /// metamodel knows is some other kind of document (a tool's settings file,
    /// say), which reading must not turn into an empty value.
    pub(crate) fn finish(
        self,
        root_properties: usize,
        class: &str,
    ) -> Result<Vec<Warning>, ReadError> {
        if root_properties > 0 && self.root_skipped == root_properties {
            return Err(ReadError::WrongClass {
                path: "(document root)".to_owned(),
                found: format!(
                    "a document whose {root_properties} top-level properties are all unknown"
                ),
                allowed: class.to_owned(),
            });
        }
        Ok(self.warnings)
    }

    #[cfg(test)]
    pub(crate) fn into_warnings(self) -> Vec<Warning> {
        self.warnings
    }

    pub(crate) fn wrong_type(&self, expected: &'static str, found: String) -> ReadError {
        ReadError::WrongType {
            path: self.path(),
            expected,
            found,
        }
    }

    pub(crate) fn missing(&self, property: &'static str) -> ReadError {
        ReadError::MissingProperty {
            path: self.path(),
            property,
        }
    }

    /// A property (JSON) or element (XML) the class does not define: an error
    /// when strict, a warning when lenient.
    pub(crate) fn unknown_property(
        &mut self,
        name: &str,
        allowed: &[&'static str],
    ) -> Result<(), ReadError> {
        if self.options.lenient {
            if self.path.is_empty() {
                self.root_skipped += 1;
            }
            self.warn(format!(
                "skipped the property '{name}', which metamodel 3.0 does not define here"
            ));
            Ok(())
        } else {
            Err(ReadError::UnknownProperty {
                path: self.path(),
                property: name.to_owned(),
                allowed: allowed.join(", "),
            })
        }
    }
}

/// Describes a JSON value's type for error messages.
pub(crate) fn json_kind(value: &Json) -> String {
    match value {
        Json::Null => "null".to_owned(),
        Json::Bool(b) => format!("the boolean {b}"),
        Json::Number(n) => format!("the number {n}"),
        Json::String(s) => format!("the string {:?}", truncate(s)),
        Json::Array(_) => "an array".to_owned(),
        Json::Object(_) => "an object".to_owned(),
    }
}

/// Error messages quote at most this many characters of a value, so that a
/// megabyte string does not become a megabyte error.
const QUOTE_CHARS_MAX: usize = 60;

pub(crate) fn truncate(s: &str) -> String {
    if s.chars().count() <= QUOTE_CHARS_MAX {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(QUOTE_CHARS_MAX).collect();
        out.push('…');
        out
    }
}

/// A property's value type: a string, a boolean, bytes, an enumeration, a
/// class, a choice among classes, or a list of classes.
pub(crate) trait FieldValue: Sized {
    fn from_json(value: &Json, reader: &mut Reader) -> Result<Self, ReadError>;
    fn to_json(&self) -> Json;
    /// Reads the value from the element that names the property.
    fn from_xml(element: &XmlElement, reader: &mut Reader) -> Result<Self, ReadError>;
    /// Writes `<name>…</name>`.
    fn to_xml(&self, name: &str, writer: &mut XmlWriter);
    /// The value lenient reading assumes when a newer metamodel omits a property
    /// 3.0 requires (see [`Reader::lenient_default`]).
    fn lenient_default(_class: &str, _property: &str) -> Option<Self> {
        None
    }
}

/// A class or a choice among classes: what can be an item of a list.
pub trait Node: Sized {
    fn read_json(value: &Json, reader: &mut Reader) -> Result<Self, ReadError>;
    fn write_json(&self) -> Json;
    /// Reads the item from the element named after its concrete class.
    fn read_xml_item(element: &XmlElement, reader: &mut Reader) -> Result<Self, ReadError>;
    /// Writes `<concreteClass>…</concreteClass>`.
    fn write_xml_item(&self, writer: &mut XmlWriter);
}

impl FieldValue for String {
    fn from_json(value: &Json, reader: &mut Reader) -> Result<Self, ReadError> {
        match value {
            Json::String(s) => Ok(s.clone()),
            other => Err(reader.wrong_type("a string", json_kind(other))),
        }
    }

    fn to_json(&self) -> Json {
        Json::String(self.clone())
    }

    fn from_xml(element: &XmlElement, reader: &mut Reader) -> Result<Self, ReadError> {
        element.text_only(reader)
    }

    fn to_xml(&self, name: &str, writer: &mut XmlWriter) {
        writer.text_element(name, self);
    }

    fn lenient_default(class: &str, property: &str) -> Option<Self> {
        // 3.1 made a file's and a blob's content type optional; "unknown
        // binary" is what an absent content type means (RFC 2046 section 4.5.1).
        match (class, property) {
            ("file" | "blob", "contentType") => Some("application/octet-stream".to_owned()),
            _ => None,
        }
    }
}

impl FieldValue for bool {
    fn from_json(value: &Json, reader: &mut Reader) -> Result<Self, ReadError> {
        match value {
            Json::Bool(b) => Ok(*b),
            other => Err(reader.wrong_type("a boolean", json_kind(other))),
        }
    }

    fn to_json(&self) -> Json {
        Json::Bool(*self)
    }

    fn from_xml(element: &XmlElement, reader: &mut Reader) -> Result<Self, ReadError> {
        // xs:boolean's lexical space.
        match element.text_only(reader)?.as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            other => Err(reader.wrong_type(
                "an xs:boolean (true, false, 1 or 0)",
                format!("{:?}", truncate(other)),
            )),
        }
    }

    fn to_xml(&self, name: &str, writer: &mut XmlWriter) {
        writer.text_element(name, if *self { "true" } else { "false" });
    }
}

fn decode_base64(text: &str, reader: &Reader) -> Result<Vec<u8>, ReadError> {
    use base64::Engine as _;
    // xs:base64Binary allows whitespace between characters (XML line wrapping).
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|err| ReadError::Base64 {
            path: reader.path(),
            reason: err.to_string(),
        })
}

fn encode_base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl FieldValue for Vec<u8> {
    fn from_json(value: &Json, reader: &mut Reader) -> Result<Self, ReadError> {
        match value {
            Json::String(s) => decode_base64(s, reader),
            other => Err(reader.wrong_type("a base64 string", json_kind(other))),
        }
    }

    fn to_json(&self) -> Json {
        Json::String(encode_base64(self))
    }

    fn from_xml(element: &XmlElement, reader: &mut Reader) -> Result<Self, ReadError> {
        let text = element.text_only(reader)?;
        decode_base64(&text, reader)
    }

    fn to_xml(&self, name: &str, writer: &mut XmlWriter) {
        writer.text_element(name, &encode_base64(self));
    }
}

impl<T: FieldValue> FieldValue for Box<T> {
    fn from_json(value: &Json, reader: &mut Reader) -> Result<Self, ReadError> {
        T::from_json(value, reader).map(Box::new)
    }

    fn to_json(&self) -> Json {
        (**self).to_json()
    }

    fn from_xml(element: &XmlElement, reader: &mut Reader) -> Result<Self, ReadError> {
        T::from_xml(element, reader).map(Box::new)
    }

    fn to_xml(&self, name: &str, writer: &mut XmlWriter) {
        (**self).to_xml(name, writer);
    }
}

/// Lists: a JSON array, or an XML wrapper element with one element per item.
pub(crate) struct ListOf;

impl ListOf {
    pub(crate) fn from_json<T: Node>(
        value: &Json,
        reader: &mut Reader,
    ) -> Result<Vec<T>, ReadError> {
        match value {
            Json::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    reader.enter_index(index)?;
                    out.push(T::read_json(item, reader)?);
                    reader.leave();
                }
                Ok(out)
            }
            other => Err(reader.wrong_type("an array", json_kind(other))),
        }
    }

    pub(crate) fn from_xml<T: Node>(
        element: &XmlElement,
        reader: &mut Reader,
    ) -> Result<Vec<T>, ReadError> {
        element.no_text(reader, "one element per item")?;
        let mut out = Vec::with_capacity(element.children.len());
        for (index, child) in element.children.iter().enumerate() {
            reader.enter_index(index)?;
            out.push(T::read_xml_item(child, reader)?);
            reader.leave();
        }
        Ok(out)
    }
}

impl<T: Node> FieldValue for Vec<T> {
    fn from_json(value: &Json, reader: &mut Reader) -> Result<Self, ReadError> {
        ListOf::from_json(value, reader)
    }

    fn to_json(&self) -> Json {
        Json::Array(self.iter().map(Node::write_json).collect())
    }

    fn from_xml(element: &XmlElement, reader: &mut Reader) -> Result<Self, ReadError> {
        ListOf::from_xml(element, reader)
    }

    fn to_xml(&self, name: &str, writer: &mut XmlWriter) {
        writer.open(name);
        for item in self {
            item.write_xml_item(writer);
        }
        writer.close(name);
    }
}

/// The JSON object of a class, or a type error.
pub(crate) fn expect_object<'a>(
    value: &'a Json,
    reader: &Reader,
) -> Result<&'a serde_json::Map<String, Json>, ReadError> {
    match value {
        Json::Object(map) => Ok(map),
        other => Err(reader.wrong_type("an object", json_kind(other))),
    }
}

/// Checks a concrete class's `modelType` discriminator.
pub(crate) fn check_model_type(
    map: &serde_json::Map<String, Json>,
    expected: &'static str,
    reader: &Reader,
) -> Result<(), ReadError> {
    match map.get("modelType") {
        Some(Json::String(found)) if found == expected => Ok(()),
        Some(Json::String(found)) => Err(ReadError::WrongClass {
            path: reader.path(),
            found: format!("the modelType {:?}", truncate(found)),
            allowed: expected.to_owned(),
        }),
        Some(other) => Err(reader.wrong_type("a string modelType", json_kind(other))),
        None => Err(ReadError::WrongClass {
            path: reader.path(),
            found: "an object without modelType".to_owned(),
            allowed: expected.to_owned(),
        }),
    }
}

/// The field type of a property: `r` required, `o` optional.
macro_rules! field_type {
    (r $t:ty) => { $t };
    (o $t:ty) => { Option<$t> };
}

macro_rules! take_field {
    (r $local:ident, $class:literal, $name:literal, $reader:ident) => {
        match $local {
            Some(value) => value,
            None => match $reader.lenient_default($class, $name) {
                Some(value) => value,
                None => return Err($reader.missing($name)),
            },
        }
    };
    (o $local:ident, $class:literal, $name:literal, $reader:ident) => {
        $local
    };
}

macro_rules! put_json {
    (r $map:ident, $name:literal, $value:expr) => {
        $map.insert($name.to_owned(), $crate::codec::FieldValue::to_json($value));
    };
    (o $map:ident, $name:literal, $value:expr) => {
        if let Some(value) = $value {
            $map.insert($name.to_owned(), $crate::codec::FieldValue::to_json(value));
        }
    };
}

macro_rules! put_xml {
    (r $writer:ident, $name:literal, $value:expr) => {
        $crate::codec::FieldValue::to_xml($value, $name, $writer);
    };
    (o $writer:ident, $name:literal, $value:expr) => {
        if let Some(value) = $value {
            $crate::codec::FieldValue::to_xml(value, $name, $writer);
        }
    };
}

macro_rules! check_field {
    (r $verifier:ident, $name:literal, $value:expr, $check:ident) => {
        $verifier.enter($name);
        $crate::verify::checks::$check($value, $verifier);
        $verifier.leave();
    };
    (o $verifier:ident, $name:literal, $value:expr, $check:ident) => {
        if let Some(value) = $value {
            $verifier.enter($name);
            $crate::verify::checks::$check(value, $verifier);
            $verifier.leave();
        }
    };
}

macro_rules! model_type_is {
    (None) => {
        None::<&'static str>
    };
    (Some($name:literal)) => {
        Some($name)
    };
}

/// Declares a metamodel class: its struct, JSON and XML forms, serde impls and
/// the per-property part of verification (the class's own invariants are its
/// hand-written `invariants` method in `verify.rs`).
macro_rules! class {
    (
        $(#[$meta:meta])*
        $name:ident, $xml:literal, $model_type:ident $(($model_type_name:literal))?;
        $( $(#[$field_meta:meta])* $req:ident $field:ident : $ty:ty = $json:literal $check:ident ),* $(,)?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name {
            $( $(#[$field_meta])* pub $field: $crate::codec::field_type!($req $ty), )*
        }

        impl $name {
            /// The class's name as an XML element.
            pub const XML_NAME: &'static str = $xml;
            /// The class's `modelType` in JSON, if it has one.
            pub const MODEL_TYPE: Option<&'static str> = $crate::codec::model_type_is!($model_type $(($model_type_name))?);
            const PROPERTIES: &'static [&'static str] = &[$($json),*];

            pub(crate) fn read_json_object(
                value: &serde_json::Value,
                reader: &mut $crate::codec::Reader,
            ) -> Result<Self, $crate::error::ReadError> {
                let map = $crate::codec::expect_object(value, reader)?;
                if let Some(expected) = Self::MODEL_TYPE {
                    $crate::codec::check_model_type(map, expected, reader)?;
                }
                $( let mut $field: Option<$ty> = None; )*
                for (key, item) in map {
                    match key.as_str() {
                        $( $json => {
                            reader.enter($json)?;
                            $field = Some(<$ty as $crate::codec::FieldValue>::from_json(item, reader)?);
                            reader.leave();
                        } )*
                        "modelType" if Self::MODEL_TYPE.is_some() => {}
                        other => reader.unknown_property(other, Self::PROPERTIES)?,
                    }
                }
                Ok(Self { $( $field: $crate::codec::take_field!($req $field, $xml, $json, reader), )* })
            }

            pub(crate) fn write_json_object(&self) -> serde_json::Value {
                let mut map = serde_json::Map::new();
                if let Some(model_type) = Self::MODEL_TYPE {
                    map.insert("modelType".to_owned(), serde_json::Value::String(model_type.to_owned()));
                }
                $( $crate::codec::put_json!($req map, $json, &self.$field); )*
                serde_json::Value::Object(map)
            }

            pub(crate) fn read_xml_content(
                element: &$crate::xml::XmlElement,
                reader: &mut $crate::codec::Reader,
            ) -> Result<Self, $crate::error::ReadError> {
                element.no_text(reader, "one element per property")?;
                $( let mut $field: Option<$ty> = None; )*
                for child in &element.children {
                    match child.name.as_str() {
                        $( $json => {
                            reader.enter($json)?;
                            child.no_attributes(reader)?;
                            $field = Some(<$ty as $crate::codec::FieldValue>::from_xml(child, reader)?);
                            reader.leave();
                        } )*
                        other => reader.unknown_property(other, Self::PROPERTIES)?,
                    }
                }
                Ok(Self { $( $field: $crate::codec::take_field!($req $field, $xml, $json, reader), )* })
            }

            pub(crate) fn write_xml_content(&self, writer: &mut $crate::xml::XmlWriter) {
                let _ = &writer;
                $( $crate::codec::put_xml!($req writer, $json, &self.$field); )*
            }
        }

        impl $crate::codec::FieldValue for $name {
            fn from_json(value: &serde_json::Value, reader: &mut $crate::codec::Reader) -> Result<Self, $crate::error::ReadError> {
                Self::read_json_object(value, reader)
            }
            fn to_json(&self) -> serde_json::Value {
                self.write_json_object()
            }
            fn from_xml(element: &$crate::xml::XmlElement, reader: &mut $crate::codec::Reader) -> Result<Self, $crate::error::ReadError> {
                Self::read_xml_content(element, reader)
            }
            fn to_xml(&self, name: &str, writer: &mut $crate::xml::XmlWriter) {
                writer.open(name);
                self.write_xml_content(writer);
                writer.close(name);
            }
        }

        impl $crate::codec::Node for $name {
            fn read_json(value: &serde_json::Value, reader: &mut $crate::codec::Reader) -> Result<Self, $crate::error::ReadError> {
                Self::read_json_object(value, reader)
            }
            fn write_json(&self) -> serde_json::Value {
                self.write_json_object()
            }
            fn read_xml_item(element: &$crate::xml::XmlElement, reader: &mut $crate::codec::Reader) -> Result<Self, $crate::error::ReadError> {
                if element.name != $xml {
                    return Err($crate::error::ReadError::WrongClass {
                        path: reader.path(),
                        found: format!("the element '{}'", element.name),
                        allowed: $xml.to_owned(),
                    });
                }
                element.no_attributes(reader)?;
                Self::read_xml_content(element, reader)
            }
            fn write_xml_item(&self, writer: &mut $crate::xml::XmlWriter) {
                writer.open($xml);
                self.write_xml_content(writer);
                writer.close($xml);
            }
        }

        impl $crate::verify::Verify for $name {
            fn verify(&self, verifier: &mut $crate::verify::Verifier) {
                $( $crate::codec::check_field!($req verifier, $json, &self.$field, $check); )*
                self.invariants(verifier);
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                self.write_json_object().serialize(serializer)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = serde_json::Value::deserialize(deserializer)?;
                let mut reader = $crate::codec::Reader::new($crate::codec::ReadOptions::STRICT);
                Self::read_json_object(&value, &mut reader).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// Declares an enumeration with its literals as spelled in both serializations.
macro_rules! enumeration {
    (
        $(#[$meta:meta])*
        $name:ident; $( $variant:ident = $literal:literal ),* $(,)?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( #[doc = $literal] $variant, )*
        }

        impl $name {
            /// Every literal, in the schema's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The literal as written in JSON and XML.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $literal, )*
                }
            }

            /// The literal for a string, if it is one.
            pub fn from_literal(text: &str) -> Option<$name> {
                match text {
                    $( $literal => Some($name::$variant), )*
                    _ => None,
                }
            }

            fn parse_in(text: &str, reader: &$crate::codec::Reader) -> Result<$name, $crate::error::ReadError> {
                $name::from_literal(text).ok_or_else(|| $crate::error::ReadError::UnknownLiteral {
                    path: reader.path(),
                    value: $crate::codec::truncate(text),
                    enumeration: stringify!($name),
                    allowed: [$($literal),*].join(", "),
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl $crate::codec::FieldValue for $name {
            fn from_json(value: &serde_json::Value, reader: &mut $crate::codec::Reader) -> Result<Self, $crate::error::ReadError> {
                match value {
                    serde_json::Value::String(text) => $name::parse_in(text, reader),
                    other => Err(reader.wrong_type("a string", $crate::codec::json_kind(other))),
                }
            }
            fn to_json(&self) -> serde_json::Value {
                serde_json::Value::String(self.as_str().to_owned())
            }
            fn from_xml(element: &$crate::xml::XmlElement, reader: &mut $crate::codec::Reader) -> Result<Self, $crate::error::ReadError> {
                let text = element.text_only(reader)?;
                $name::parse_in(&text, reader)
            }
            fn to_xml(&self, name: &str, writer: &mut $crate::xml::XmlWriter) {
                writer.text_element(name, self.as_str());
            }
        }
    };
}

/// Declares an abstract class as a choice among its concrete classes: JSON picks
/// by `modelType`, XML by the element's name.
macro_rules! choice {
    (
        $(#[$meta:meta])*
        $name:ident; $( $variant:ident ),* $(,)?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub enum $name {
            $( #[doc = concat!("A [`", stringify!($variant), "`].")] $variant(Box<$variant>), )*
        }

        impl $name {
            /// The concrete class's `modelType` (JSON) name.
            pub fn model_type(&self) -> &'static str {
                match self {
                    $( $name::$variant(_) => stringify!($variant), )*
                }
            }

            /// The concrete class's XML element name.
            pub fn xml_name(&self) -> &'static str {
                match self {
                    $( $name::$variant(_) => $variant::XML_NAME, )*
                }
            }

            const MODEL_TYPES: &'static [&'static str] = &[$(stringify!($variant)),*];
        }

        $(
            impl From<$variant> for $name {
                fn from(value: $variant) -> $name {
                    $name::$variant(Box::new(value))
                }
            }
        )*

        impl $crate::codec::Node for $name {
            fn read_json(value: &serde_json::Value, reader: &mut $crate::codec::Reader) -> Result<Self, $crate::error::ReadError> {
                let map = $crate::codec::expect_object(value, reader)?;
                match map.get("modelType") {
                    $( Some(serde_json::Value::String(found)) if found == stringify!($variant) => {
                        Ok($name::$variant(Box::new($variant::read_json_object(value, reader)?)))
                    } )*
                    Some(serde_json::Value::String(found)) => Err($crate::error::ReadError::WrongClass {
                        path: reader.path(),
                        found: format!("the modelType {:?}", $crate::codec::truncate(found)),
                        allowed: Self::MODEL_TYPES.join(", "),
                    }),
                    Some(other) => Err(reader.wrong_type("a string modelType", $crate::codec::json_kind(other))),
                    None => Err($crate::error::ReadError::WrongClass {
                        path: reader.path(),
                        found: "an object without modelType".to_owned(),
                        allowed: Self::MODEL_TYPES.join(", "),
                    }),
                }
            }
            fn write_json(&self) -> serde_json::Value {
                match self {
                    $( $name::$variant(inner) => inner.write_json_object(), )*
                }
            }
            fn read_xml_item(element: &$crate::xml::XmlElement, reader: &mut $crate::codec::Reader) -> Result<Self, $crate::error::ReadError> {
                $(
                    if element.name == $variant::XML_NAME {
                        element.no_attributes(reader)?;
                        return Ok($name::$variant(Box::new($variant::read_xml_content(element, reader)?)));
                    }
                )*
                Err($crate::error::ReadError::WrongClass {
                    path: reader.path(),
                    found: format!("the element '{}'", element.name),
                    allowed: [$($variant::XML_NAME),*].join(", "),
                })
            }
            fn write_xml_item(&self, writer: &mut $crate::xml::XmlWriter) {
                match self {
                    $( $name::$variant(inner) => {
                        writer.open($variant::XML_NAME);
                        inner.write_xml_content(writer);
                        writer.close($variant::XML_NAME);
                    } )*
                }
            }
        }

        impl $crate::codec::FieldValue for $name {
            fn from_json(value: &serde_json::Value, reader: &mut $crate::codec::Reader) -> Result<Self, $crate::error::ReadError> {
                <$name as $crate::codec::Node>::read_json(value, reader)
            }
            fn to_json(&self) -> serde_json::Value {
                <$name as $crate::codec::Node>::write_json(self)
            }
            fn from_xml(element: &$crate::xml::XmlElement, reader: &mut $crate::codec::Reader) -> Result<Self, $crate::error::ReadError> {
                // A single-valued property of an abstract type holds exactly one
                // element named after the concrete class.
                element.no_text(reader, "exactly one element naming the concrete class")?;
                match element.children.as_slice() {
                    [only] => <$name as $crate::codec::Node>::read_xml_item(only, reader),
                    children => Err($crate::error::ReadError::Shape {
                        path: reader.path(),
                        message: format!(
                            "holds {} elements; allowed: exactly one of {}",
                            children.len(),
                            [$($variant::XML_NAME),*].join(", ")
                        ),
                    }),
                }
            }
            fn to_xml(&self, name: &str, writer: &mut $crate::xml::XmlWriter) {
                writer.open(name);
                <$name as $crate::codec::Node>::write_xml_item(self, writer);
                writer.close(name);
            }
        }

        impl $crate::verify::Verify for $name {
            fn verify(&self, verifier: &mut $crate::verify::Verifier) {
                match self {
                    $( $name::$variant(inner) => inner.verify(verifier), )*
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                <$name as $crate::codec::Node>::write_json(self).serialize(serializer)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = serde_json::Value::deserialize(deserializer)?;
                let mut reader = $crate::codec::Reader::new($crate::codec::ReadOptions::STRICT);
                <$name as $crate::codec::Node>::read_json(&value, &mut reader).map_err(serde::de::Error::custom)
            }
        }
    };
}

pub(crate) use {
    check_field, choice, class, enumeration, field_type, model_type_is, put_json, put_xml,
    take_field,
};
