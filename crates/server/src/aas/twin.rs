//! One state with the twin graph: bound elements and the default projection.
//!
//! A Property, Range or MultiLanguageProperty carrying a qualifier of type
//! [`BINDING`] is bound to a twin property; the qualifier's value is
//! `{twinId}#{JSON pointer}` (`pump-1#/temperature`, `pump-1#/motor/rpm` for a
//! component's property). Reads replace the element's value with the twin's
//! current one; value writes become a JSON Patch on the twin through
//! `Worlds::apply`, so they are validated against the twin's model and reach
//! history, live and MQTT subscribers like any ADT PATCH.
//!
//! The projection shows every twin as a shell (`twinspace:twin:{id}`, its
//! `globalAssetId` the same) with one submodel (`twinspace:twin:{id}:properties`,
//! semanticId = the twin's DTMI) whose elements are the twin's properties,
//! each bound as above: strings, numbers and booleans become Properties with
//! their XSD type, components and object values become collections of the
//! same, arrays are left out. Outgoing relationships appear in a second
//! submodel (`…:relationships`) as a list of RelationshipElements from this
//! shell to the target twin's shell (read-only). Projected items are addressed
//! by id; they are not part of the repository listings.

use serde_json::{Map, Value, json};
use world::World;

use super::view::{lexical, model_type, typed};

/// The qualifier type that binds an element to a twin property.
pub(crate) const BINDING: &str = "twinspace:twinProperty";
/// Prefix of projected shell ids.
const SHELL_PREFIX: &str = "twinspace:twin:";
const PROPERTIES_SUFFIX: &str = ":properties";
const RELATIONSHIPS_SUFFIX: &str = ":relationships";
/// Projected collections nest at most this deep (twin components nest 1–2).
const PROJECTION_DEPTH_MAX: usize = 16;

/// The `(twin, pointer)` an element is bound to.
pub(crate) fn binding(element: &Value) -> Option<(String, String)> {
    let qualifiers = element.get("qualifiers")?.as_array()?;
    let text = qualifiers
        .iter()
        .find(|q| q.get("type").and_then(Value::as_str) == Some(BINDING))?
        .get("value")?
        .as_str()?;
    let (twin, pointer) = text.split_once('#')?;
    Some((twin.to_owned(), pointer.to_owned()))
}

/// Replaces bound values under `node` (a submodel or element) with the twins'
/// current values.
pub(crate) fn overlay(node: &mut Value, world: &World) {
    overlay_depth(node, world, 0);
}

fn overlay_depth(node: &mut Value, world: &World, depth: usize) {
    if depth > ::aas::MAX_DEPTH {
        return;
    }
    if let Some((twin, pointer)) = binding(node) {
        let current = world
            .twin_json(&twin)
            .and_then(|t| t.pointer(&pointer).cloned());
        if let (Some(current), Some(object)) = (current, node.as_object_mut()) {
            match object.get("modelType").and_then(Value::as_str) {
                Some("Property") => {
                    if let Some(text) = lexical(&current) {
                        object.insert("value".into(), Value::String(text));
                    }
                }
                Some("MultiLanguageProperty") => {
                    if let Some(text) = current.as_str() {
                        object.insert("value".into(), json!([{ "language": "en", "text": text }]));
                    }
                }
                Some("Range") => {
                    for bound in ["min", "max"] {
                        if let Some(text) = current.get(bound).and_then(lexical) {
                            object.insert(bound.into(), Value::String(text));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    let Some(object) = node.as_object_mut() else {
        return;
    };
    for key in ["submodelElements", "value", "statements", "annotations"] {
        if let Some(Value::Array(children)) = object.get_mut(key) {
            for child in children {
                overlay_depth(child, world, depth + 1);
            }
        }
    }
}

/// Whether any element under `node` is bound (cheap test before overlaying).
pub(crate) fn has_bindings(node: &Value) -> bool {
    match node {
        Value::Object(object) => {
            object.get("qualifiers").is_some_and(|q| {
                q.as_array()
                    .into_iter()
                    .flatten()
                    .any(|q| q.get("type").and_then(Value::as_str) == Some(BINDING))
            }) || ["submodelElements", "value", "statements", "annotations"]
                .iter()
                .any(|k| object.get(*k).is_some_and(has_bindings))
        }
        Value::Array(items) => items.iter().any(has_bindings),
        _ => false,
    }
}

/// The JSON Patch operations a value-only write makes on bound elements under
/// `element`, grouped by twin; `None` when nothing under it is bound.
pub(crate) fn patches(element: &Value, value: &Value) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = Vec::new();
    collect_patches(element, value, &mut out, 0);
    out
}

fn collect_patches(element: &Value, value: &Value, out: &mut Vec<(String, Value)>, depth: usize) {
    if depth > ::aas::MAX_DEPTH {
        return;
    }
    if let Some((twin, pointer)) = binding(element) {
        let value_type = element
            .get("valueType")
            .and_then(Value::as_str)
            .unwrap_or("xs:string");
        let new = match (model_type(element), value) {
            ("Property", Value::String(text)) => typed(value_type, text),
            ("MultiLanguageProperty", Value::Array(langs)) => langs
                .iter()
                .find_map(|l| l.as_object()?.values().next().cloned())
                .unwrap_or(Value::Null),
            ("Range", Value::Object(bounds)) => {
                let mut object = Map::new();
                for (k, v) in bounds {
                    let v = v
                        .as_str()
                        .map_or_else(|| v.clone(), |t| typed(value_type, t));
                    object.insert(k.clone(), v);
                }
                Value::Object(object)
            }
            (_, other) => other.clone(),
        };
        let op = json!({ "op": "add", "path": pointer, "value": new });
        match out.iter_mut().find(|(t, _)| *t == twin) {
            Some((_, Value::Array(ops))) => ops.push(op),
            _ => out.push((twin, Value::Array(vec![op]))),
        }
        return;
    }
    let kind = model_type(element);
    let key = match kind {
        "SubmodelElementCollection" | "SubmodelElementList" => "value",
        "Entity" => "statements",
        _ => return,
    };
    let Some(children) = element.get(key).and_then(Value::as_array) else {
        return;
    };
    if kind == "SubmodelElementList" {
        for (child, v) in children.iter().zip(value.as_array().into_iter().flatten()) {
            collect_patches(child, v, out, depth + 1);
        }
    } else {
        let fields = if kind == "Entity" {
            value.get("statements").unwrap_or(value)
        } else {
            value
        };
        for child in children {
            if let Some(v) = super::view::id_short(child).and_then(|n| fields.get(n)) {
                collect_patches(child, v, out, depth + 1);
            }
        }
    }
}

/// What a projected id names.
pub(crate) enum Projected {
    Shell(String),
    Properties(String),
    Relationships(String),
}

/// Parses a projected id.
pub(crate) fn parse(id: &str) -> Option<Projected> {
    let rest = id.strip_prefix(SHELL_PREFIX)?;
    Some(if let Some(twin) = rest.strip_suffix(PROPERTIES_SUFFIX) {
        Projected::Properties(twin.to_owned())
    } else if let Some(twin) = rest.strip_suffix(RELATIONSHIPS_SUFFIX) {
        Projected::Relationships(twin.to_owned())
    } else {
        Projected::Shell(rest.to_owned())
    })
}

fn submodel_ref(id: &str) -> Value {
    json!({ "type": "ModelReference", "keys": [{ "type": "Submodel", "value": id }] })
}

/// An idShort for a name, when the name is one (DTDL names almost always are).
fn id_short_for(name: &str) -> Option<&str> {
    let mut chars = name.chars();
    let first = chars.next()?;
    let ok = first.is_ascii_alphabetic()
        && name.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    ok.then_some(name)
}

/// The projected shell of a twin.
pub(crate) fn shell(world: &World, twin: &str) -> Option<Value> {
    let body = world.twin_json(twin)?;
    let id = format!("{SHELL_PREFIX}{twin}");
    let mut shell = json!({
        "modelType": "AssetAdministrationShell",
        "id": id,
        "assetInformation": { "assetKind": "Instance", "globalAssetId": id },
        "submodels": [
            submodel_ref(&format!("{id}{PROPERTIES_SUFFIX}")),
            submodel_ref(&format!("{id}{RELATIONSHIPS_SUFFIX}")),
        ],
    });
    if let Some(name) = id_short_for(twin) {
        shell["idShort"] = Value::String(name.into());
    }
    if let Some(model) = body.pointer("/$metadata/$model").and_then(Value::as_str) {
        shell["description"] =
            json!([{ "language": "en", "text": format!("twin of model {model}") }]);
    }
    Some(shell)
}

/// The projected properties submodel of a twin.
pub(crate) fn properties(world: &World, twin: &str) -> Option<Value> {
    let body = world.twin_json(twin)?;
    let mut elements = Vec::new();
    project_members(&body, twin, "", &mut elements, 0);
    let mut submodel = json!({
        "modelType": "Submodel",
        "id": format!("{SHELL_PREFIX}{twin}{PROPERTIES_SUFFIX}"),
        "idShort": "Properties",
        "kind": "Instance",
        "submodelElements": elements,
    });
    if let Some(model) = body.pointer("/$metadata/$model").and_then(Value::as_str) {
        submodel["semanticId"] = json!({
            "type": "ExternalReference",
            "keys": [{ "type": "GlobalReference", "value": model }],
        });
    }
    Some(submodel)
}

fn project_members(object: &Value, twin: &str, pointer: &str, out: &mut Vec<Value>, depth: usize) {
    let Some(members) = object.as_object() else {
        return;
    };
    for (name, value) in members {
        let Some(id_short) = id_short_for(name) else {
            continue;
        };
        let here = format!("{pointer}/{}", name.replace('~', "~0").replace('/', "~1"));
        let binding = json!([{ "type": BINDING, "valueType": "xs:string",
                               "value": format!("{twin}#{here}") }]);
        let (value_type, text) = match value {
            Value::Bool(b) => ("xs:boolean", b.to_string()),
            Value::Number(n) if n.is_f64() => ("xs:double", n.to_string()),
            Value::Number(n) => ("xs:long", n.to_string()),
            Value::String(s) => ("xs:string", s.clone()),
            Value::Object(_) if depth < PROJECTION_DEPTH_MAX => {
                let mut children = Vec::new();
                project_members(value, twin, &here, &mut children, depth + 1);
                out.push(json!({ "modelType": "SubmodelElementCollection",
                                 "idShort": id_short, "value": children }));
                continue;
            }
            _ => continue,
        };
        out.push(json!({ "modelType": "Property", "idShort": id_short,
                         "valueType": value_type, "value": text, "qualifiers": binding }));
    }
}

/// The projected relationships submodel of a twin.
pub(crate) fn relationships(world: &World, twin: &str) -> Option<Value> {
    let outgoing = world.outgoing_relationships(twin, None).ok()?;
    let shell_ref = |id: &str| {
        json!({ "type": "ModelReference",
                "keys": [{ "type": "AssetAdministrationShell", "value": format!("{SHELL_PREFIX}{id}") }] })
    };
    let items: Vec<Value> = outgoing
        .iter()
        .filter_map(|rel| {
            let target = rel.get("$targetId")?.as_str()?;
            let name = rel.get("$relationshipName")?.as_str()?;
            Some(json!({
                "modelType": "RelationshipElement",
                "semanticId": { "type": "ExternalReference",
                                "keys": [{ "type": "GlobalReference", "value": name }] },
                "first": shell_ref(twin),
                "second": shell_ref(target),
            }))
        })
        .collect();
    let mut elements = Vec::new();
    if !items.is_empty() {
        elements.push(json!({
            "modelType": "SubmodelElementList",
            "idShort": "Relationships",
            "typeValueListElement": "RelationshipElement",
            "orderRelevant": false,
            "value": items,
        }));
    }
    Some(json!({
        "modelType": "Submodel",
        "id": format!("{SHELL_PREFIX}{twin}{RELATIONSHIPS_SUFFIX}"),
        "idShort": "Relationships",
        "kind": "Instance",
        "submodelElements": elements,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_parse_and_patches_type_values() {
        let element = json!({"modelType": "Property", "idShort": "T", "valueType": "xs:double",
            "qualifiers": [{"type": BINDING, "valueType": "xs:string", "value": "pump-1#/temperature"}]});
        assert_eq!(
            binding(&element),
            Some(("pump-1".into(), "/temperature".into()))
        );
        let ops = patches(&element, &json!("21.5"));
        assert_eq!(
            ops,
            [(
                "pump-1".to_owned(),
                json!([{"op": "add", "path": "/temperature", "value": 21.5}])
            )]
        );
        let coll =
            json!({"modelType": "SubmodelElementCollection", "idShort": "C", "value": [element]});
        assert_eq!(patches(&coll, &json!({"T": 3})).len(), 1);
        assert!(patches(&coll, &json!({"X": 3})).is_empty());
    }

    #[test]
    fn projected_ids_round_trip() {
        assert!(
            matches!(parse("twinspace:twin:a:b:properties"), Some(Projected::Properties(t)) if t == "a:b")
        );
        assert!(matches!(parse("twinspace:twin:p1"), Some(Projected::Shell(t)) if t == "p1"));
        assert!(parse("urn:other").is_none());
    }
}
