//! A DTDL v3 interface generated from a birth: one writable Property per metric
//! (commands write them back as NCMD/DCMD), its schema from the Sparkplug datatype,
//! the Sparkplug name as `displayName` when the DTDL name had to differ, and the
//! datatype and engineering unit in the description. The shapes match
//! [`Value::to_json`](crate::Value::to_json): date-times are epoch milliseconds
//! (`long`), bytes are arrays of integers, data sets arrays of row objects,
//! templates objects of their members.

use serde_json::{Value as Json, json};

use crate::host::{BirthMetric, Source};
use crate::value::{DataType, Value};

/// DTDL v3 limits names to 512 characters; ours stay far shorter so that derived
/// names (with a `_2` suffix) still fit.
const NAME_CHARS_MAX: usize = 64;
/// DTDL v3 limits `displayName` and `description` to 512 characters.
const TEXT_CHARS_MAX: usize = 512;
/// Templates nested deeper than this become strings in the schema (DTDL allows
/// object schemas to nest only 5 levels).
const SCHEMA_DEPTH_MAX: usize = 5;

/// The DTMI of a source's interface: `dtmi:twinspace:sparkplug:{group}:{edge}[:{device}]`
/// with each id made a valid segment, and a hash segment of the exact ids so that
/// ids that sanitize alike still get distinct interfaces.
pub fn dtmi(source: &Source, version: u32) -> String {
    let mut exact = format!("{}\u{0}{}", source.group, source.edge);
    let mut id = format!(
        "dtmi:twinspace:sparkplug:{}:{}",
        segment(&source.group),
        segment(&source.edge)
    );
    if let Some(d) = &source.device {
        id.push(':');
        id.push_str(&segment(d));
        exact.push('\u{0}');
        exact.push_str(d);
    }
    format!("{id}:h{:08x};{}", fnv1a(exact.as_bytes()), version.max(1))
}

/// The interface for a birth's metrics (the `bdSeq` protocol metric left out).
pub fn interface(source: &Source, version: u32, metrics: &[BirthMetric]) -> Json {
    let mut used = std::collections::HashSet::new();
    let mut contents = Vec::new();
    for m in metrics.iter().filter(|m| m.name != "bdSeq") {
        let Some(schema) = schema(m.datatype, &m.value, 1) else {
            continue;
        };
        let name = unique_name(&m.name, &mut used);
        let mut description = format!("Sparkplug metric '{}' ({})", m.name, m.datatype.name());
        if let Some(unit) = &m.engineering_unit {
            description.push_str(&format!(", unit {unit}"));
        }
        let mut property = json!({
            "@type": "Property",
            "name": name,
            "schema": schema,
            "writable": true,
            "description": truncate(&description),
        });
        if name != m.name {
            property["displayName"] = Json::String(truncate(&m.name));
        }
        contents.push(property);
    }
    let display = match &source.device {
        Some(d) => format!("{}/{}/{}", source.group, source.edge, d),
        None => format!("{}/{}", source.group, source.edge),
    };
    json!({
        "@context": "dtmi:dtdl:context;3",
        "@id": dtmi(source, version),
        "@type": "Interface",
        "displayName": truncate(&display),
        "contents": contents,
    })
}

fn schema(dt: DataType, value: &Value, depth: usize) -> Option<Json> {
    use DataType as D;
    let array = |element: &str| json!({ "@type": "Array", "elementSchema": element });
    Some(match dt {
        D::Int8 | D::Int16 | D::Int32 | D::UInt8 | D::UInt16 => json!("integer"),
        D::Int64 | D::UInt32 | D::UInt64 | D::DateTime => json!("long"),
        D::Float => json!("float"),
        D::Double => json!("double"),
        D::Boolean => json!("boolean"),
        D::String | D::Text | D::Uuid => json!("string"),
        D::Bytes
        | D::File
        | D::UInt8Array
        | D::Int8Array
        | D::Int16Array
        | D::Int32Array
        | D::UInt16Array => array("integer"),
        D::Int64Array | D::UInt32Array | D::UInt64Array | D::DateTimeArray => array("long"),
        D::FloatArray => array("float"),
        D::DoubleArray => array("double"),
        D::BooleanArray => array("boolean"),
        D::StringArray => array("string"),
        D::DataSet => {
            let Value::DataSet(ds) = value else {
                return None;
            };
            let mut used = std::collections::HashSet::new();
            let fields: Vec<Json> = ds
                .columns
                .iter()
                .zip(&ds.types)
                .filter_map(|(c, t)| Some(json!({ "name": unique_name(c, &mut used), "schema": schema(*t, &Value::Null, depth + 1)? })))
                .collect();
            if fields.is_empty() || depth >= SCHEMA_DEPTH_MAX {
                return None;
            }
            json!({ "@type": "Array", "elementSchema": { "@type": "Object", "fields": fields } })
        }
        D::Template => {
            let Value::Template(t) = value else {
                return None;
            };
            if depth >= SCHEMA_DEPTH_MAX {
                return None;
            }
            let mut used = std::collections::HashSet::new();
            let fields: Vec<Json> = t
                .metrics
                .iter()
                .filter_map(|m| Some(json!({ "name": unique_name(&m.name, &mut used), "schema": schema(m.datatype, &m.value, depth + 1)? })))
                .collect();
            if fields.is_empty() {
                return None;
            }
            json!({ "@type": "Object", "fields": fields })
        }
        D::PropertySet | D::PropertySetList | D::Unknown => return None,
    })
}

/// A DTDL name for a Sparkplug name: letters, digits and `_`, starting with a
/// letter, not ending with `_`, at most [`NAME_CHARS_MAX`] characters.
pub fn dtdl_name(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(NAME_CHARS_MAX - 1)
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic()) {
        out.insert(0, 'm');
    }
    let trimmed = out.trim_end_matches('_').len();
    out.truncate(trimmed);
    out
}

fn unique_name(s: &str, used: &mut std::collections::HashSet<String>) -> String {
    let base = dtdl_name(s);
    let mut name = base.clone();
    let mut n = 2;
    while !used.insert(name.clone()) {
        name = format!("{}_{n}", &base[..base.len().min(NAME_CHARS_MAX - 8)]);
        n += 1;
    }
    name
}

fn segment(s: &str) -> String {
    dtdl_name(s)
}

fn truncate(s: &str) -> String {
    s.chars().take(TEXT_CHARS_MAX).collect()
}

fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_and_unique() {
        assert_eq!(dtdl_name("Node Control/Rebirth"), "Node_Control_Rebirth");
        assert_eq!(dtdl_name("1st"), "m1st");
        assert_eq!(dtdl_name("temp/"), "temp");
        assert_eq!(dtdl_name("/"), "m");
        let mut used = Default::default();
        assert_eq!(unique_name("a b", &mut used), "a_b");
        assert_eq!(unique_name("a/b", &mut used), "a_b_2");
        let a = Source {
            group: "g".into(),
            edge: "e.1".into(),
            device: None,
        };
        let b = Source {
            group: "g".into(),
            edge: "e 1".into(),
            device: None,
        };
        assert_ne!(dtmi(&a, 1), dtmi(&b, 1));
    }
}
