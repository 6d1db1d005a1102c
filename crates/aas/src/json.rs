//! The JSON form (the official `aas.json` schema): objects with camelCase
//! properties, arrays for lists, and a `modelType` discriminator on every class
//! that has one. Strict reading refuses anything the schema does not allow
//! (unknown properties, `null`, wrong types, missing or wrong `modelType`);
//! lenient reading skips unknown properties with a warning.

use serde_json::Value as Json;

use crate::Class;
use crate::codec::{ReadOptions, Reader};
use crate::error::{ReadError, Warning};

/// Reads one metamodel value (an [`Environment`](crate::Environment), a
/// [`Submodel`](crate::Submodel), a [`SubmodelElement`](crate::SubmodelElement),
/// …) from JSON text.
pub fn from_str<T: Class>(text: &str) -> Result<T, ReadError> {
    from_str_with(text, ReadOptions::STRICT).map(|(value, _)| value)
}

/// Like [`from_str`], with the given strictness; returns what lenient reading
/// skipped.
pub fn from_str_with<T: Class>(
    text: &str,
    options: ReadOptions,
) -> Result<(T, Vec<Warning>), ReadError> {
    // RFC 8259 lets parsers ignore a leading byte order mark, which Windows
    // tools (and so some AASX packages) write.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let value: Json = serde_json::from_str(text).map_err(|err| ReadError::JsonSyntax {
        line: err.line(),
        column: err.column(),
        message: err.to_string(),
    })?;
    from_value_with(&value, options)
}

/// Like [`from_str_with`], for bytes (a request body, a package part), which
/// must be UTF-8.
pub fn from_slice_with<T: Class>(
    bytes: &[u8],
    options: ReadOptions,
) -> Result<(T, Vec<Warning>), ReadError> {
    let text = std::str::from_utf8(bytes).map_err(|err| ReadError::Encoding {
        position: err.valid_up_to(),
    })?;
    from_str_with(text, options)
}

/// Reads one metamodel value from parsed JSON.
pub fn from_value<T: Class>(value: &Json) -> Result<T, ReadError> {
    from_value_with(value, ReadOptions::STRICT).map(|(value, _)| value)
}

/// Like [`from_value`], with the given strictness.
pub fn from_value_with<T: Class>(
    value: &Json,
    options: ReadOptions,
) -> Result<(T, Vec<Warning>), ReadError> {
    let mut reader = Reader::new(options);
    let read = T::read_json(value, &mut reader)?;
    let root_properties = value.as_object().map_or(0, serde_json::Map::len);
    let warnings = reader.finish(
        root_properties,
        std::any::type_name::<T>()
            .rsplit("::")
            .next()
            .unwrap_or("AAS"),
    )?;
    Ok((read, warnings))
}

/// The JSON of a metamodel value (strict 3.0).
pub fn to_value<T: Class>(value: &T) -> Json {
    value.write_json()
}

/// The JSON text of a metamodel value, compact.
pub fn to_string<T: Class>(value: &T) -> String {
    value.write_json().to_string()
}

/// The JSON text of a metamodel value, indented for people.
pub fn to_string_pretty<T: Class>(value: &T) -> String {
    // Serializing a `serde_json::Value` to a string cannot fail.
    serde_json::to_string_pretty(&value.write_json()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Environment, SubmodelElement};

    /// Reads `text` strictly as an environment and returns the error's message.
    fn refused(text: &str) -> String {
        match from_str::<Environment>(text) {
            Ok(value) => panic!("read {value:?}"),
            Err(err) => err.to_string(),
        }
    }

    const SUBMODEL: &str =
        r#"{"modelType": "Submodel", "id": "urn:s", "submodelElements": [ELEMENT]}"#;

    fn with_element(element: &str) -> String {
        format!(
            r#"{{"submodels": [{}]}}"#,
            SUBMODEL.replace("ELEMENT", element)
        )
    }

    #[test]
    fn errors_name_the_path_and_what_is_allowed() {
        let cases = [
            (
                with_element(
                    r#"{"modelType": "Property", "idShort": null, "valueType": "xs:int"}"#,
                ),
                "submodels[0].submodelElements[0].idShort: expected a string, found null",
            ),
            (
                with_element(r#"{"modelType": "Property", "idShort": "a"}"#),
                "submodels[0].submodelElements[0]: the required property 'valueType' is missing",
            ),
            (
                with_element(r#"{"modelType": "Property", "valueType": "xs:integer8"}"#),
                "submodels[0].submodelElements[0].valueType: 'xs:integer8' is not a DataTypeDefXsd; allowed: xs:anyURI, xs:base64Binary, xs:boolean, xs:byte, xs:date, xs:dateTime, xs:decimal, xs:double, xs:duration, xs:float, xs:gDay, xs:gMonth, xs:gMonthDay, xs:gYear, xs:gYearMonth, xs:hexBinary, xs:int, xs:integer, xs:long, xs:negativeInteger, xs:nonNegativeInteger, xs:nonPositiveInteger, xs:positiveInteger, xs:short, xs:string, xs:time, xs:unsignedByte, xs:unsignedInt, xs:unsignedLong, xs:unsignedShort",
            ),
            (
                with_element(r#"{"modelType": "Propertee", "valueType": "xs:int"}"#),
                "submodels[0].submodelElements[0]: the modelType \"Propertee\" does not name a class allowed here; allowed: RelationshipElement, AnnotatedRelationshipElement, BasicEventElement, Blob, Capability, Entity, File, MultiLanguageProperty, Operation, Property, Range, ReferenceElement, SubmodelElementCollection, SubmodelElementList",
            ),
            (
                with_element(r#"{"modelType": "Blob", "contentType": "a/b", "value": "!!"}"#),
                "submodels[0].submodelElements[0].value: not base64 (Invalid symbol 33, offset 0.)",
            ),
            (
                r#"{"submodels": [{"id": "urn:s"}]}"#.to_owned(),
                "submodels[0]: an object without modelType does not name a class allowed here; allowed: Submodel",
            ),
            (
                r#"{"submodels": {}}"#.to_owned(),
                "submodels: expected an array, found an object",
            ),
            (
                r#"{"submodels": [], "extra": 1}"#.to_owned(),
                "(document root): unknown property 'extra'; allowed here: assetAdministrationShells, submodels, conceptDescriptions",
            ),
            (
                "{".to_owned(),
                "not valid JSON at line 1, column 1: EOF while parsing an object at line 1 column 1",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(refused(&text), expected, "{text}");
        }
    }

    #[test]
    fn lenient_reading_skips_unknown_properties_with_warnings() {
        let text = with_element(
            r#"{"modelType": "File", "idShort": "Manual", "value": "a.pdf", "futureField": 1}"#,
        );
        assert!(from_str::<Environment>(&text).is_err());
        let (environment, warnings) =
            from_str_with::<Environment>(&text, ReadOptions::LENIENT).unwrap();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert_eq!(warnings[0].path, "submodels[0].submodelElements[0]");
        assert!(warnings[0].message.contains("futureField"));
        // 3.1 made the content type optional; 3.0 needs one, so a default is assumed.
        assert!(warnings[1].message.contains("contentType"));
        let Some(elements) = &environment.submodels.as_ref().unwrap()[0].submodel_elements else {
            panic!("no elements")
        };
        let SubmodelElement::File(file) = &elements[0] else {
            panic!("not a file")
        };
        assert_eq!(file.content_type, "application/octet-stream");
    }

    #[test]
    fn accepts_a_byte_order_mark_and_refuses_other_encodings() {
        assert!(from_str::<Environment>("\u{feff}{}").is_ok());
        let err = from_slice_with::<Environment>(b"{\"submodels\": \xff}", ReadOptions::STRICT)
            .unwrap_err();
        assert_eq!(err, ReadError::Encoding { position: 14 });
    }

    #[test]
    fn lenient_reading_refuses_documents_that_are_not_environments() {
        let text = r#"{"$type": "Options", "Records": []}"#;
        let err = from_str_with::<Environment>(text, ReadOptions::LENIENT).unwrap_err();
        assert!(matches!(err, ReadError::WrongClass { .. }), "{err}");
        // An empty object is an empty environment, though.
        assert!(from_str_with::<Environment>("{}", ReadOptions::LENIENT).is_ok());
    }

    #[test]
    fn writes_model_type_and_omits_absent_properties() {
        let environment: Environment = from_str(&with_element(
            r#"{"modelType": "Capability", "idShort": "Weld"}"#,
        ))
        .unwrap();
        assert_eq!(
            to_string(&environment),
            r#"{"submodels":[{"modelType":"Submodel","id":"urn:s","submodelElements":[{"modelType":"Capability","idShort":"Weld"}]}]}"#
        );
    }
}
