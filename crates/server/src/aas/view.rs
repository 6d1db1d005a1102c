//! The Part 2 views of a stored submodel, element or shell, computed on the
//! strict 3.0 JSON the repository keeps: `level` (core keeps one level of
//! children), `extent` (Blob bytes only on request), `$metadata` (no values,
//! no children), `$value` (the ValueOnly serialization of IDTA-01002 §11.4.3),
//! `$reference` (a ModelReference with one key per step) and `$path` (idShort
//! paths). Also the reverse of `$value`: writing a value-only document into an
//! element. Pure functions over `serde_json::Value`; nothing here reads state.

use serde_json::{Map, Value, json};

/// How many levels of children a read returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    /// Everything below.
    Deep,
    /// The addressed node and its direct children only.
    Core,
}

/// Whether Blob values travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Extent {
    /// Blob `value`s are included.
    WithBlobValue,
    /// Blob `value`s are left out (the default: they can be large).
    WithoutBlobValue,
}

/// The JSON member that holds an element's child elements, by `modelType`.
pub(crate) fn children_key(element: &Value) -> Option<&'static str> {
    match model_type(element) {
        "SubmodelElementCollection" | "SubmodelElementList" => Some("value"),
        "Entity" => Some("statements"),
        "AnnotatedRelationshipElement" => Some("annotations"),
        _ => None,
    }
}

/// The `modelType` of a node (empty when absent).
pub(crate) fn model_type(node: &Value) -> &str {
    node.get("modelType").and_then(Value::as_str).unwrap_or("")
}

/// The `idShort` of a node.
pub(crate) fn id_short(node: &Value) -> Option<&str> {
    node.get("idShort").and_then(Value::as_str)
}

/// Applies `level` and `extent` to a submodel or element in place. `keep`
/// counts the levels of children kept below `node` when `level` is core.
pub(crate) fn shape(node: &mut Value, level: Level, extent: Extent) {
    let keep = match level {
        Level::Deep => usize::MAX,
        Level::Core => 1,
    };
    shape_below(node, keep, extent);
}

fn shape_below(node: &mut Value, keep: usize, extent: Extent) {
    if extent == Extent::WithoutBlobValue
        && model_type(node) == "Blob"
        && let Some(object) = node.as_object_mut()
    {
        object.remove("value");
    }
    let key = if model_type(node) == "Submodel" {
        Some("submodelElements")
    } else {
        children_key(node)
    };
    let Some(key) = key else { return };
    let Some(object) = node.as_object_mut() else {
        return;
    };
    if keep == 0 {
        object.remove(key);
        return;
    }
    if let Some(Value::Array(children)) = object.get_mut(key) {
        for child in children {
            shape_below(child, keep.saturating_sub(1), extent);
        }
    }
}

/// The members `$metadata` leaves out of an element, by kind; `None` for the
/// kinds that have no metadata view (Capability and Operation, per Part 2).
fn value_members(element: &Value) -> Option<&'static [&'static str]> {
    Some(match model_type(element) {
        "Property" => &["value", "valueId"],
        "MultiLanguageProperty" => &["value", "valueId"],
        "Range" => &["min", "max"],
        "File" | "Blob" | "ReferenceElement" => &["value"],
        "SubmodelElementCollection" | "SubmodelElementList" => &["value"],
        // The asset ids stay: AASd-014 needs them on a self-managed entity.
        "Entity" => &["statements"],
        // `first`, `second` and `observed` are mandatory members, so the
        // metadata keeps them (the test engine reads it as the class).
        "RelationshipElement" | "BasicEventElement" => &[],
        "AnnotatedRelationshipElement" => &["annotations"],
        "Submodel" => &["submodelElements"],
        _ => return None,
    })
}

/// The `$metadata` view, or `None` for kinds that have none.
pub(crate) fn metadata(node: &Value) -> Option<Value> {
    let members = value_members(node)?;
    let mut out = node.clone();
    if let Some(object) = out.as_object_mut() {
        for member in members {
            object.remove(*member);
        }
    }
    Some(out)
}

/// XSD numeric types whose value-only form is a JSON number.
fn numeric(value_type: &str) -> bool {
    matches!(
        value_type,
        "xs:decimal"
            | "xs:integer"
            | "xs:double"
            | "xs:float"
            | "xs:int"
            | "xs:long"
            | "xs:short"
            | "xs:byte"
            | "xs:unsignedInt"
            | "xs:unsignedLong"
            | "xs:unsignedShort"
            | "xs:unsignedByte"
            | "xs:nonNegativeInteger"
            | "xs:nonPositiveInteger"
            | "xs:positiveInteger"
            | "xs:negativeInteger"
    )
}

/// A lexical XSD value as its value-only JSON: numbers and booleans typed,
/// everything else (and what does not parse) a string.
pub(crate) fn typed(value_type: &str, text: &str) -> Value {
    if value_type == "xs:boolean" {
        return match text.trim() {
            "true" | "1" => Value::Bool(true),
            "false" | "0" => Value::Bool(false),
            _ => Value::String(text.into()),
        };
    }
    if numeric(value_type) {
        if let Ok(n) = text.trim().parse::<i64>() {
            return Value::from(n);
        }
        if let Ok(n) = text.trim().parse::<u64>() {
            return Value::from(n);
        }
        if let Ok(x) = text.trim().parse::<f64>()
            && let Some(n) = serde_json::Number::from_f64(x)
        {
            return Value::Number(n);
        }
    }
    Value::String(text.into())
}

/// A value-only JSON primitive as lexical XSD text.
pub(crate) fn lexical(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The ValueOnly serialization of one element (without its idShort), or
/// `None` for kinds that have none (Capability, Operation).
pub(crate) fn value_only(element: &Value, extent: Extent) -> Option<Value> {
    let get = |key: &str| element.get(key).cloned();
    let value_type = element
        .get("valueType")
        .and_then(Value::as_str)
        .unwrap_or("xs:string");
    Some(match model_type(element) {
        "Property" => match element.get("value").and_then(Value::as_str) {
            Some(text) => typed(value_type, text),
            None => Value::Null,
        },
        "MultiLanguageProperty" => Value::Array(
            element
                .get("value")
                .and_then(Value::as_array)
                .map(|langs| {
                    langs
                        .iter()
                        .filter_map(|l| {
                            let lang = l.get("language")?.as_str()?;
                            let mut one = Map::new();
                            one.insert(lang.into(), l.get("text")?.clone());
                            Some(Value::Object(one))
                        })
                        .collect()
                })
                .unwrap_or_default(),
        ),
        "Range" => {
            let mut out = Map::new();
            for bound in ["min", "max"] {
                if let Some(text) = element.get(bound).and_then(Value::as_str) {
                    out.insert(bound.into(), typed(value_type, text));
                }
            }
            Value::Object(out)
        }
        "File" | "Blob" => {
            let mut out = Map::new();
            if let Some(ct) = get("contentType") {
                out.insert("contentType".into(), ct);
            }
            let with_value = model_type(element) == "File" || extent == Extent::WithBlobValue;
            if with_value && let Some(v) = get("value") {
                out.insert("value".into(), v);
            }
            Value::Object(out)
        }
        "ReferenceElement" => get("value").unwrap_or(Value::Null),
        "RelationshipElement" | "AnnotatedRelationshipElement" => {
            let mut out = Map::new();
            for key in ["first", "second"] {
                if let Some(v) = get(key) {
                    out.insert(key.into(), v);
                }
            }
            if let Some(Value::Array(annotations)) = element.get("annotations") {
                let list = annotations
                    .iter()
                    .filter_map(|a| {
                        let mut one = Map::new();
                        one.insert(id_short(a)?.into(), value_only(a, extent)?);
                        Some(Value::Object(one))
                    })
                    .collect();
                out.insert("annotations".into(), Value::Array(list));
            }
            Value::Object(out)
        }
        "SubmodelElementCollection" => Value::Object(named_values(element.get("value"), extent)),
        "SubmodelElementList" => Value::Array(
            element
                .get("value")
                .and_then(Value::as_array)
                .map(|items| items.iter().filter_map(|i| value_only(i, extent)).collect())
                .unwrap_or_default(),
        ),
        "Entity" => {
            let mut out = Map::new();
            out.insert(
                "statements".into(),
                Value::Object(named_values(element.get("statements"), extent)),
            );
            for key in ["entityType", "globalAssetId", "specificAssetIds"] {
                if let Some(v) = get(key) {
                    out.insert(key.into(), v);
                }
            }
            Value::Object(out)
        }
        "BasicEventElement" => json!({ "observed": get("observed").unwrap_or(Value::Null) }),
        _ => return None,
    })
}

/// `{idShort: value}` for a list of elements (those without idShort or value
/// view are left out).
pub(crate) fn named_values(elements: Option<&Value>, extent: Extent) -> Map<String, Value> {
    let mut out = Map::new();
    for element in elements.and_then(Value::as_array).into_iter().flatten() {
        if let (Some(name), Some(value)) = (id_short(element), value_only(element, extent)) {
            out.insert(name.into(), value);
        }
    }
    out
}

/// An element's `$value` response: `{idShort: value}` (a bare value for list
/// items, which have no idShort).
pub(crate) fn element_value(element: &Value, extent: Extent) -> Option<Value> {
    let value = value_only(element, extent)?;
    Some(match id_short(element) {
        Some(name) => {
            let mut one = Map::new();
            one.insert(name.into(), value);
            Value::Object(one)
        }
        None => value,
    })
}

/// One step from a node to a child, as a reference key: the child's kind and
/// its idShort (or list index).
pub(crate) type KeyStep = (String, String);

/// Finds the element an idShort path names in a submodel, with the keys of
/// every step and the JSON pointer to it (for writes).
pub(crate) fn find<'a>(
    submodel: &'a Value,
    path: &str,
) -> Option<(&'a Value, Vec<KeyStep>, String)> {
    let steps = ::aas::parse_id_short_path(path).ok()?;
    let mut current = submodel;
    let mut key = "submodelElements";
    let mut keys = Vec::with_capacity(steps.len());
    let mut pointer = String::new();
    for step in steps {
        let children = current.get(key)?.as_array()?;
        let (index, child) = match step {
            ::aas::Step::IdShort(name) => children
                .iter()
                .enumerate()
                .find(|(_, c)| id_short(c) == Some(name))?,
            ::aas::Step::Index(i) => {
                if model_type(current) != "SubmodelElementList" {
                    return None;
                }
                (i, children.get(i)?)
            }
        };
        pointer.push('/');
        pointer.push_str(key);
        pointer.push('/');
        pointer.push_str(&index.to_string());
        let name = match step {
            ::aas::Step::IdShort(name) => name.to_owned(),
            ::aas::Step::Index(i) => i.to_string(),
        };
        keys.push((model_type(child).to_owned(), name));
        current = child;
        key = children_key(current).unwrap_or("\u{0}none");
    }
    if keys.is_empty() {
        return None;
    }
    Some((current, keys, pointer))
}

/// A ModelReference: the identifiable's key, then one key per step.
pub(crate) fn model_reference(root_type: &str, root_id: &str, steps: &[KeyStep]) -> Value {
    let mut keys = vec![json!({ "type": root_type, "value": root_id })];
    keys.extend(
        steps
            .iter()
            .map(|(kind, value)| json!({ "type": kind, "value": value })),
    );
    json!({ "type": "ModelReference", "keys": keys })
}

/// The idShort paths of `elements` and everything below them (only the
/// elements themselves when `level` is core), each prefixed by `prefix`.
pub(crate) fn paths(elements: Option<&Value>, prefix: &str, level: Level, out: &mut Vec<String>) {
    for element in elements.and_then(Value::as_array).into_iter().flatten() {
        let Some(name) = id_short(element) else {
            continue;
        };
        let path = if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}.{name}")
        };
        out.push(path.clone());
        if level == Level::Deep {
            below(element, &path, out);
        }
    }
}

/// The paths below one element (its own path is `path`).
pub(crate) fn below(element: &Value, path: &str, out: &mut Vec<String>) {
    let Some(key) = children_key(element) else {
        return;
    };
    if model_type(element) == "SubmodelElementList" {
        for (i, item) in element
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let item_path = format!("{path}[{i}]");
            out.push(item_path.clone());
            below(item, &item_path, out);
        }
    } else {
        paths(element.get(key), path, Level::Deep, out);
    }
}

/// Writes a value-only document into an element, as `PATCH …/$value` does.
/// Fails with a sentence saying what was expected.
pub(crate) fn set_value(element: &mut Value, value: &Value) -> Result<(), String> {
    let kind = model_type(element).to_owned();
    let Some(object) = element.as_object_mut() else {
        return Err("the element is not a JSON object".into());
    };
    match kind.as_str() {
        "Property" => {
            let text = lexical(value)
                .ok_or_else(|| "a Property's value is a string, number or boolean".to_owned())?;
            object.insert("value".into(), Value::String(text));
        }
        "MultiLanguageProperty" => {
            let items = value.as_array().ok_or_else(|| {
                "a MultiLanguageProperty's value is a list of {language: text} objects".to_owned()
            })?;
            let mut langs = Vec::new();
            for item in items {
                let pairs = item
                    .as_object()
                    .ok_or_else(|| "each language entry is an object".to_owned())?;
                for (lang, text) in pairs {
                    langs.push(json!({ "language": lang, "text": text }));
                }
            }
            object.insert("value".into(), Value::Array(langs));
        }
        "Range" => {
            let bounds = value
                .as_object()
                .ok_or_else(|| "a Range's value is {\"min\": …, \"max\": …}".to_owned())?;
            for bound in ["min", "max"] {
                match bounds.get(bound) {
                    Some(v) => {
                        let text = lexical(v)
                            .ok_or_else(|| format!("Range {bound} is a string or number"))?;
                        object.insert(bound.into(), Value::String(text));
                    }
                    None => {
                        object.remove(bound);
                    }
                }
            }
        }
        "File" | "Blob" => {
            let fields = value
                .as_object()
                .ok_or_else(|| "a File's value is {\"contentType\": …, \"value\": …}".to_owned())?;
            for key in ["contentType", "value"] {
                if let Some(v) = fields.get(key) {
                    object.insert(key.into(), v.clone());
                }
            }
        }
        "ReferenceElement" => {
            object.insert("value".into(), value.clone());
        }
        "RelationshipElement" | "AnnotatedRelationshipElement" => {
            let fields = value.as_object().ok_or_else(|| {
                "a relationship's value is {\"first\": …, \"second\": …}".to_owned()
            })?;
            for key in ["first", "second"] {
                if let Some(v) = fields.get(key) {
                    object.insert(key.into(), v.clone());
                }
            }
        }
        "SubmodelElementCollection" | "Entity" => {
            let key = if kind == "Entity" {
                "statements"
            } else {
                "value"
            };
            let source = match (kind.as_str(), value.get("statements")) {
                ("Entity", Some(statements)) => statements,
                _ => value,
            };
            let fields = source
                .as_object()
                .ok_or_else(|| format!("a {kind}'s value is an object of idShort: value"))?;
            let children = object
                .get_mut(key)
                .and_then(Value::as_array_mut)
                .ok_or_else(|| format!("the {kind} has no child elements to set"))?;
            for (name, child_value) in fields {
                let child = children
                    .iter_mut()
                    .find(|c| id_short(c) == Some(name.as_str()))
                    .ok_or_else(|| format!("the {kind} has no element '{name}'"))?;
                set_value(child, child_value)?;
            }
        }
        "SubmodelElementList" => {
            let items = value
                .as_array()
                .ok_or_else(|| "a SubmodelElementList's value is an array".to_owned())?;
            let children = object
                .get_mut("value")
                .and_then(Value::as_array_mut)
                .ok_or_else(|| "the SubmodelElementList has no items to set".to_owned())?;
            if items.len() != children.len() {
                return Err(format!(
                    "the list has {} items; the value gave {}",
                    children.len(),
                    items.len()
                ));
            }
            for (child, item) in children.iter_mut().zip(items) {
                set_value(child, item)?;
            }
        }
        other => return Err(format!("a {other} has no value to set")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn submodel() -> Value {
        json!({
            "modelType": "Submodel", "id": "urn:sm",
            "submodelElements": [
                {"modelType": "Property", "idShort": "Speed", "valueType": "xs:int", "value": "42"},
                {"modelType": "SubmodelElementCollection", "idShort": "Motor", "value": [
                    {"modelType": "Property", "idShort": "On", "valueType": "xs:boolean", "value": "true"},
                    {"modelType": "SubmodelElementList", "idShort": "Readings",
                     "typeValueListElement": "Property", "valueTypeListElement": "xs:double",
                     "value": [
                        {"modelType": "Property", "valueType": "xs:double", "value": "1.5"}
                     ]},
                    {"modelType": "Blob", "idShort": "Img", "contentType": "image/png", "value": "AAAA"}
                ]},
                {"modelType": "Operation", "idShort": "Start"}
            ]
        })
    }

    #[test]
    fn paths_find_and_references_agree() {
        let sm = submodel();
        let mut all = Vec::new();
        paths(sm.get("submodelElements"), "", Level::Deep, &mut all);
        assert_eq!(
            all,
            [
                "Speed",
                "Motor",
                "Motor.On",
                "Motor.Readings",
                "Motor.Readings[0]",
                "Motor.Img",
                "Start"
            ]
        );
        for path in &all {
            assert!(find(&sm, path).is_some(), "{path}");
        }
        let (element, keys, pointer) = find(&sm, "Motor.Readings[0]").unwrap();
        assert_eq!(element["value"], "1.5");
        assert_eq!(pointer, "/submodelElements/1/value/1/value/0");
        let reference = model_reference("Submodel", "urn:sm", &keys);
        assert_eq!(
            reference["keys"][3],
            json!({"type": "Property", "value": "0"})
        );
        assert!(find(&sm, "Motor.Missing").is_none());
        assert!(find(&sm, "Speed[0]").is_none());
        let mut core = Vec::new();
        paths(sm.get("submodelElements"), "", Level::Core, &mut core);
        assert_eq!(core, ["Speed", "Motor", "Start"]);
    }

    #[test]
    fn value_only_types_values_and_hides_blobs() {
        let sm = submodel();
        let values = named_values(sm.get("submodelElements"), Extent::WithoutBlobValue);
        assert_eq!(
            Value::Object(values),
            json!({"Speed": 42, "Motor": {"On": true, "Readings": [1.5],
                   "Img": {"contentType": "image/png"}}})
        );
        let (blob, _, _) = find(&sm, "Motor.Img").unwrap();
        assert_eq!(
            element_value(blob, Extent::WithBlobValue).unwrap(),
            json!({"Img": {"contentType": "image/png", "value": "AAAA"}})
        );
        let (op, _, _) = find(&sm, "Start").unwrap();
        assert!(value_only(op, Extent::WithBlobValue).is_none());
        assert!(metadata(op).is_none());
    }

    #[test]
    fn shape_core_keeps_one_level_and_metadata_drops_values() {
        let mut sm = submodel();
        shape(&mut sm, Level::Core, Extent::WithoutBlobValue);
        assert!(sm["submodelElements"][1].get("value").is_none());
        assert_eq!(sm["submodelElements"][0]["value"], "42");
        let meta = metadata(&submodel()).unwrap();
        assert!(meta.get("submodelElements").is_none());
        assert_eq!(meta["id"], "urn:sm");
    }

    #[test]
    fn set_value_writes_through_collections_and_refuses_bad_shapes() {
        let mut sm = submodel();
        let motor = sm.pointer_mut("/submodelElements/1").unwrap();
        set_value(motor, &json!({"On": false, "Readings": [2.5]})).unwrap();
        assert_eq!(
            sm.pointer("/submodelElements/1/value/0/value").unwrap(),
            "false"
        );
        assert_eq!(
            sm.pointer("/submodelElements/1/value/1/value/0/value")
                .unwrap(),
            "2.5"
        );
        let motor = sm.pointer_mut("/submodelElements/1").unwrap();
        assert!(set_value(motor, &json!({"Nope": 1})).is_err());
        let speed = sm.pointer_mut("/submodelElements/0").unwrap();
        assert!(set_value(speed, &json!([1])).is_err());
    }
}
