//! Decoding Sparkplug B payloads within limits: size, metric count, data set cells
//! and nesting depth are checked before anything is interpreted, compressed payloads
//! (6.4.18: `uuid` `SPBV1.0_COMPRESSED`, `body` deflated or gzipped, an `algorithm`
//! metric) are inflated with a cap on their decompressed size, and metric values are
//! read against their declared datatype.

use std::io::Read;

use prost::Message;

use crate::SparkplugError;
use crate::pb::{self, payload as wire};
use crate::value::{self, DataSet, DataType, PropertySet, Template, TemplateMember, Value};

/// The largest payload we decode. MQTT allows 256 MiB; Sparkplug births of large
/// edge nodes reach a few MiB, so 16 MiB leaves room without letting one message
/// take a large share of memory.
pub const PAYLOAD_BYTES_MAX: usize = 16 * 1024 * 1024;

/// The largest a compressed payload may inflate to: the same bound as an
/// uncompressed one, so compression cannot be used to smuggle a bomb past it.
pub const DECOMPRESSED_BYTES_MAX: usize = PAYLOAD_BYTES_MAX;

/// Metrics in one payload, counting those inside templates. A birth of a very large
/// edge node has tens of thousands; more is not a real device.
pub const METRICS_PER_PAYLOAD_MAX: usize = 100_000;

/// Data set cells (rows × columns) and property-set entries in one payload, together.
pub const CELLS_PER_PAYLOAD_MAX: usize = 1_000_000;

/// How deep templates, data sets and property sets may nest inside each other.
/// Real templates nest a handful of levels; the bound keeps recursion shallow.
pub const NESTING_DEPTH_MAX: usize = 16;

/// The `uuid` that marks a compressed payload.
pub const COMPRESSED_UUID: &str = "SPBV1.0_COMPRESSED";

/// Decodes a payload: size check, protobuf, limits, and inflation of compressed
/// payloads (whose inner payload must not itself be compressed).
pub fn decode(bytes: &[u8]) -> Result<pb::Payload, SparkplugError> {
    let payload = decode_plain(bytes)?;
    if payload.uuid.as_deref() != Some(COMPRESSED_UUID) {
        return Ok(payload);
    }
    let algorithm = payload
        .metrics
        .iter()
        .find(|m| m.name.as_deref() == Some("algorithm"))
        .and_then(|m| match &m.value {
            Some(wire::metric::Value::StringValue(s)) => Some(s.to_ascii_uppercase()),
            _ => None,
        })
        .unwrap_or_else(|| "DEFLATE".to_string());
    let body = payload.body.as_deref().unwrap_or_default();
    let inflated = inflate(&algorithm, body)?;
    let inner = decode_plain(&inflated)?;
    if inner.uuid.as_deref() == Some(COMPRESSED_UUID) {
        return Err(SparkplugError::Compression {
            reason: "the inflated payload is itself compressed; one level is allowed".into(),
        });
    }
    Ok(inner)
}

fn decode_plain(bytes: &[u8]) -> Result<pb::Payload, SparkplugError> {
    if bytes.len() > PAYLOAD_BYTES_MAX {
        return Err(SparkplugError::PayloadTooLarge {
            bytes: bytes.len(),
            limit: PAYLOAD_BYTES_MAX,
        });
    }
    let payload = pb::Payload::decode(bytes).map_err(|e| SparkplugError::Protobuf {
        reason: e.to_string(),
    })?;
    let mut count = Counts::default();
    for m in &payload.metrics {
        count.metric(m, 1)?;
    }
    Ok(payload)
}

/// Inflates a compressed body, refusing output past [`DECOMPRESSED_BYTES_MAX`].
fn inflate(algorithm: &str, body: &[u8]) -> Result<Vec<u8>, SparkplugError> {
    let limit = DECOMPRESSED_BYTES_MAX as u64;
    let mut out = Vec::new();
    // Read one byte past the limit, so an output of exactly the limit is told apart
    // from a longer one without inflating the rest.
    let read = match algorithm {
        // Tahu's DEFLATE is java.util.zip.Deflater's default: zlib-wrapped.
        "DEFLATE" => flate2::read::ZlibDecoder::new(body)
            .take(limit + 1)
            .read_to_end(&mut out),
        "GZIP" => flate2::read::GzDecoder::new(body)
            .take(limit + 1)
            .read_to_end(&mut out),
        other => {
            return Err(SparkplugError::Compression {
                reason: format!("algorithm '{other}' is not supported; DEFLATE and GZIP are"),
            });
        }
    };
    read.map_err(|e| SparkplugError::Compression {
        reason: format!("{algorithm} body is corrupt: {e}"),
    })?;
    if out.len() as u64 > limit {
        return Err(SparkplugError::Compression {
            reason: format!("inflates past the limit of {DECOMPRESSED_BYTES_MAX} bytes"),
        });
    }
    Ok(out)
}

/// Compresses an encoded payload into an outer compressed payload (for tests and
/// for edge-node simulators of ours).
pub fn compress(inner: &[u8], gzip: bool) -> Vec<u8> {
    use std::io::Write;
    let body = if gzip {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let _ = e.write_all(inner);
        e.finish().unwrap_or_default()
    } else {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        let _ = e.write_all(inner);
        e.finish().unwrap_or_default()
    };
    pb::Payload {
        uuid: Some(COMPRESSED_UUID.into()),
        body: Some(body),
        metrics: vec![wire::Metric {
            name: Some("algorithm".into()),
            datatype: Some(DataType::String.code()),
            value: Some(wire::metric::Value::StringValue(
                if gzip { "GZIP" } else { "DEFLATE" }.into(),
            )),
            ..Default::default()
        }],
        ..Default::default()
    }
    .encode_to_vec()
}

/// Running totals while checking a payload's limits.
#[derive(Default)]
struct Counts {
    metrics: usize,
    cells: usize,
}

impl Counts {
    fn metric(&mut self, m: &wire::Metric, depth: usize) -> Result<(), SparkplugError> {
        self.metrics += 1;
        if self.metrics > METRICS_PER_PAYLOAD_MAX {
            return Err(SparkplugError::TooMany {
                what: "metrics",
                count: self.metrics,
                limit: METRICS_PER_PAYLOAD_MAX,
            });
        }
        if let Some(p) = &m.properties {
            self.properties(p, depth + 1)?;
        }
        match &m.value {
            Some(wire::metric::Value::TemplateValue(t)) => {
                self.depth(depth + 1)?;
                for inner in &t.metrics {
                    self.metric(inner, depth + 1)?;
                }
            }
            Some(wire::metric::Value::DatasetValue(d)) => {
                self.depth(depth + 1)?;
                let cells: usize = d.rows.iter().map(|r| r.elements.len()).sum();
                self.add_cells(cells)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn properties(&mut self, p: &wire::PropertySet, depth: usize) -> Result<(), SparkplugError> {
        self.depth(depth)?;
        self.add_cells(p.values.len())?;
        for v in &p.values {
            match &v.value {
                Some(wire::property_value::Value::PropertysetValue(s)) => {
                    self.properties(s, depth + 1)?
                }
                Some(wire::property_value::Value::PropertysetsValue(l)) => {
                    for s in &l.propertyset {
                        self.properties(s, depth + 1)?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn depth(&self, depth: usize) -> Result<(), SparkplugError> {
        if depth > NESTING_DEPTH_MAX {
            return Err(SparkplugError::TooDeep {
                depth,
                limit: NESTING_DEPTH_MAX,
            });
        }
        Ok(())
    }

    fn add_cells(&mut self, n: usize) -> Result<(), SparkplugError> {
        self.cells = self.cells.saturating_add(n);
        if self.cells > CELLS_PER_PAYLOAD_MAX {
            return Err(SparkplugError::TooMany {
                what: "data set cells and properties",
                count: self.cells,
                limit: CELLS_PER_PAYLOAD_MAX,
            });
        }
        Ok(())
    }
}

/// The declared datatype of a metric, if it has one the specification defines.
pub fn metric_datatype(m: &wire::Metric) -> Option<DataType> {
    m.datatype.and_then(DataType::from_code)
}

/// Reads a metric's value as type `dt` (the metric's own, or the one its birth
/// declared for its alias). `is_null` or an absent value reads as [`Value::Null`].
pub fn metric_value(m: &wire::Metric, dt: DataType) -> Result<Value, SparkplugError> {
    let fail = |reason: String| SparkplugError::Metric {
        metric: m
            .name
            .clone()
            .or_else(|| m.alias.map(|a| format!("alias {a}")))
            .unwrap_or_default(),
        reason,
    };
    if m.is_null == Some(true) || m.value.is_none() {
        return Ok(Value::Null);
    }
    use wire::metric::Value as W;
    match (&m.value, dt) {
        (Some(W::BytesValue(b)), DataType::Bytes | DataType::File) => Ok(Value::Bytes(b.clone())),
        (Some(W::BytesValue(b)), _) if dt.code() >= DataType::Int8Array.code() => {
            value::array(dt, b).map_err(fail)
        }
        (Some(W::DatasetValue(d)), DataType::DataSet) => dataset(d).map_err(fail),
        (Some(W::TemplateValue(t)), DataType::Template) => template(t, 1).map_err(fail),
        (Some(W::ExtensionValue(_)), _) => Ok(Value::Null),
        (v, dt) => value::metric_scalar(dt, v).ok_or_else(|| {
            fail(format!(
                "its value field does not fit its datatype {}",
                dt.name()
            ))
        }),
    }
}

fn dataset(d: &wire::DataSet) -> Result<Value, String> {
    let types: Vec<DataType> = d
        .types
        .iter()
        .map(|t| {
            DataType::from_code(*t)
                .ok_or_else(|| format!("data set column type {t} is not defined"))
        })
        .collect::<Result<_, _>>()?;
    if types.len() != d.columns.len() {
        return Err(format!(
            "data set has {} columns but {} types",
            d.columns.len(),
            types.len()
        ));
    }
    let mut rows = Vec::with_capacity(d.rows.len());
    for (r, row) in d.rows.iter().enumerate() {
        if row.elements.len() != types.len() {
            return Err(format!(
                "data set row {r} has {} cells for {} columns",
                row.elements.len(),
                types.len()
            ));
        }
        let mut cells = Vec::with_capacity(types.len());
        for (cell, dt) in row.elements.iter().zip(&types) {
            use wire::data_set::data_set_value::Value as W;
            let v = match &cell.value {
                None | Some(W::ExtensionValue(_)) => Some(Value::Null),
                Some(W::IntValue(i)) => value::scalar(*dt, Some(*i), None, None, None, None, None),
                Some(W::LongValue(l)) => value::scalar(*dt, None, Some(*l), None, None, None, None),
                Some(W::FloatValue(f)) => {
                    value::scalar(*dt, None, None, Some(*f), None, None, None)
                }
                Some(W::DoubleValue(f)) => {
                    value::scalar(*dt, None, None, None, Some(*f), None, None)
                }
                Some(W::BooleanValue(b)) => {
                    value::scalar(*dt, None, None, None, None, Some(*b), None)
                }
                Some(W::StringValue(s)) => {
                    value::scalar(*dt, None, None, None, None, None, Some(s))
                }
            };
            cells.push(v.ok_or_else(|| {
                format!(
                    "data set row {r}: a cell does not fit its column type {}",
                    dt.name()
                )
            })?);
        }
        rows.push(cells);
    }
    Ok(Value::DataSet(DataSet {
        columns: d.columns.clone(),
        types,
        rows,
    }))
}

fn template(t: &wire::Template, depth: usize) -> Result<Value, String> {
    if depth > NESTING_DEPTH_MAX {
        return Err(format!("templates nest deeper than {NESTING_DEPTH_MAX}"));
    }
    let mut out = Template {
        version: t.version.clone(),
        template_ref: t.template_ref.clone(),
        is_definition: t.is_definition.unwrap_or(false),
        ..Default::default()
    };
    for p in &t.parameters {
        use wire::template::parameter::Value as W;
        let dt = p
            .r#type
            .and_then(DataType::from_code)
            .unwrap_or(DataType::Unknown);
        let v = match &p.value {
            None | Some(W::ExtensionValue(_)) => Some(Value::Null),
            Some(W::IntValue(i)) => value::scalar(dt, Some(*i), None, None, None, None, None),
            Some(W::LongValue(l)) => value::scalar(dt, None, Some(*l), None, None, None, None),
            Some(W::FloatValue(f)) => value::scalar(dt, None, None, Some(*f), None, None, None),
            Some(W::DoubleValue(f)) => value::scalar(dt, None, None, None, Some(*f), None, None),
            Some(W::BooleanValue(b)) => value::scalar(dt, None, None, None, None, Some(*b), None),
            Some(W::StringValue(s)) => value::scalar(dt, None, None, None, None, None, Some(s)),
        };
        let name = p.name.clone().unwrap_or_default();
        let v = v.ok_or_else(|| {
            format!(
                "template parameter '{name}' does not fit its type {}",
                dt.name()
            )
        })?;
        out.parameters.push((name, dt, v));
    }
    for m in &t.metrics {
        let dt = metric_datatype(m).unwrap_or(DataType::Unknown);
        let v = match (&m.value, dt) {
            (Some(wire::metric::Value::TemplateValue(inner)), DataType::Template) => {
                template(inner, depth + 1)?
            }
            _ => metric_value(m, dt).map_err(|e| e.to_string())?,
        };
        out.metrics.push(TemplateMember {
            name: m.name.clone().unwrap_or_default(),
            datatype: dt,
            value: v,
        });
    }
    Ok(Value::Template(out))
}

/// Reads a property set (units, quality, …) with its nested sets.
pub fn property_set(p: &wire::PropertySet) -> PropertySet {
    property_set_at(p, 1)
}

fn property_set_at(p: &wire::PropertySet, depth: usize) -> PropertySet {
    let mut out = PropertySet::default();
    for (key, v) in p.keys.iter().zip(&p.values) {
        use wire::property_value::Value as W;
        let dt = v
            .r#type
            .and_then(DataType::from_code)
            .unwrap_or(DataType::Unknown);
        let value = if v.is_null == Some(true) {
            Value::Null
        } else {
            match &v.value {
                None | Some(W::ExtensionValue(_)) => Value::Null,
                Some(W::PropertysetValue(s)) if depth < NESTING_DEPTH_MAX => {
                    Value::PropertySet(property_set_at(s, depth + 1))
                }
                Some(W::PropertysetsValue(l)) if depth < NESTING_DEPTH_MAX => {
                    Value::PropertySetList(
                        l.propertyset
                            .iter()
                            .map(|s| property_set_at(s, depth + 1))
                            .collect(),
                    )
                }
                Some(W::PropertysetValue(_) | W::PropertysetsValue(_)) => Value::Null,
                Some(W::IntValue(i)) => {
                    value::scalar(dt, Some(*i), None, None, None, None, None).unwrap_or(Value::Null)
                }
                Some(W::LongValue(l)) => {
                    value::scalar(dt, None, Some(*l), None, None, None, None).unwrap_or(Value::Null)
                }
                Some(W::FloatValue(f)) => {
                    value::scalar(dt, None, None, Some(*f), None, None, None).unwrap_or(Value::Null)
                }
                Some(W::DoubleValue(f)) => {
                    value::scalar(dt, None, None, None, Some(*f), None, None).unwrap_or(Value::Null)
                }
                Some(W::BooleanValue(b)) => {
                    value::scalar(dt, None, None, None, None, Some(*b), None).unwrap_or(Value::Null)
                }
                Some(W::StringValue(s)) => {
                    value::scalar(dt, None, None, None, None, None, Some(s)).unwrap_or(Value::Null)
                }
            }
        };
        out.entries.push((key.clone(), dt, value));
    }
    out
}

/// Builds the wire metric that writes `value` (of type `dt`) to a metric, by name,
/// alias or both: the body of NCMD/DCMD commands.
pub fn command_metric(
    name: Option<&str>,
    alias: Option<u64>,
    dt: DataType,
    value: &Value,
    timestamp_ms: u64,
) -> Result<wire::Metric, SparkplugError> {
    use wire::metric::Value as W;
    let bad = || SparkplugError::Metric {
        metric: name
            .map(str::to_string)
            .or_else(|| alias.map(|a| format!("alias {a}")))
            .unwrap_or_default(),
        reason: format!("a command cannot write {value:?} as {}", dt.name()),
    };
    let wire_value = match (dt, value) {
        (_, Value::Null) => None,
        (DataType::Int8 | DataType::Int16 | DataType::Int32, Value::Int(i)) => {
            Some(W::IntValue(*i as u32))
        }
        (DataType::UInt8 | DataType::UInt16 | DataType::UInt32, Value::UInt(u)) => {
            Some(W::IntValue(u32::try_from(*u).map_err(|_| bad())?))
        }
        (DataType::Int64, Value::Int(i)) => Some(W::LongValue(*i as u64)),
        (DataType::UInt64, Value::UInt(u)) | (DataType::DateTime, Value::DateTime(u)) => {
            Some(W::LongValue(*u))
        }
        (DataType::Float, Value::Float(f)) => Some(W::FloatValue(*f)),
        (DataType::Double, Value::Double(f)) => Some(W::DoubleValue(*f)),
        (DataType::Boolean, Value::Bool(b)) => Some(W::BooleanValue(*b)),
        (DataType::String | DataType::Text | DataType::Uuid, Value::String(s)) => {
            Some(W::StringValue(s.clone()))
        }
        (DataType::Bytes | DataType::File, Value::Bytes(b)) => Some(W::BytesValue(b.clone())),
        (_, Value::Array(items)) => {
            Some(W::BytesValue(value::pack_array(dt, items).ok_or_else(bad)?))
        }
        _ => return Err(bad()),
    };
    Ok(wire::Metric {
        name: name.map(str::to_string),
        alias,
        timestamp: Some(timestamp_ms),
        datatype: Some(dt.code()),
        is_null: wire_value.is_none().then_some(true),
        value: wire_value,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(name: &str, dt: DataType, v: wire::metric::Value) -> wire::Metric {
        wire::Metric {
            name: Some(name.into()),
            datatype: Some(dt.code()),
            value: Some(v),
            ..Default::default()
        }
    }

    #[test]
    fn compressed_payloads_inflate_both_algorithms() {
        let inner = pb::Payload {
            seq: Some(3),
            metrics: vec![metric(
                "t",
                DataType::Double,
                wire::metric::Value::DoubleValue(2.5),
            )],
            ..Default::default()
        }
        .encode_to_vec();
        for gzip in [false, true] {
            let decoded = decode(&compress(&inner, gzip)).unwrap();
            assert_eq!(decoded.seq, Some(3));
            assert_eq!(
                metric_value(&decoded.metrics[0], DataType::Double).unwrap(),
                Value::Double(2.5)
            );
        }
    }

    #[test]
    fn decompression_bomb_is_refused() {
        // 64 MiB of zeros deflate to about 64 KiB: the cap stops it at 16 MiB.
        let zeros = vec![0u8; 64 * 1024 * 1024];
        let bomb = compress(&zeros, false);
        assert!(bomb.len() < 200 * 1024);
        let err = decode(&bomb).unwrap_err();
        assert!(err.to_string().contains("inflates past the limit"), "{err}");
        // A nested compressed payload is refused too.
        let nested = compress(&compress(b"", false), true);
        assert!(
            decode(&nested)
                .unwrap_err()
                .to_string()
                .contains("itself compressed")
        );
        let mut unknown = pb::Payload::decode(&compress(b"", false)[..]).unwrap();
        unknown.metrics[0].value = Some(wire::metric::Value::StringValue("LZ4".into()));
        assert!(
            decode(&unknown.encode_to_vec())
                .unwrap_err()
                .to_string()
                .contains("LZ4")
        );
    }

    #[test]
    fn limits_refuse_oversized_and_deep_payloads() {
        assert!(matches!(
            decode(&vec![0u8; PAYLOAD_BYTES_MAX + 1]),
            Err(SparkplugError::PayloadTooLarge { .. })
        ));
        let mut t = wire::Template::default();
        for _ in 0..NESTING_DEPTH_MAX + 2 {
            t = wire::Template {
                metrics: vec![metric(
                    "m",
                    DataType::Template,
                    wire::metric::Value::TemplateValue(t),
                )],
                ..Default::default()
            };
        }
        let p = pb::Payload {
            metrics: vec![metric(
                "deep",
                DataType::Template,
                wire::metric::Value::TemplateValue(t),
            )],
            ..Default::default()
        };
        assert!(matches!(
            decode(&p.encode_to_vec()),
            Err(SparkplugError::TooDeep { .. })
        ));
        assert!(matches!(
            decode(b"\xff\xff\xff"),
            Err(SparkplugError::Protobuf { .. })
        ));
    }

    #[test]
    fn datasets_templates_and_properties_decode() {
        use wire::data_set::{DataSetValue, Row, data_set_value::Value as C};
        let ds = wire::DataSet {
            num_of_columns: Some(2),
            columns: vec!["a".into(), "b".into()],
            types: vec![DataType::Int32.code(), DataType::String.code()],
            rows: vec![Row {
                elements: vec![
                    DataSetValue {
                        value: Some(C::IntValue(u32::MAX)),
                    },
                    DataSetValue {
                        value: Some(C::StringValue("x".into())),
                    },
                ],
            }],
        };
        let m = metric(
            "ds",
            DataType::DataSet,
            wire::metric::Value::DatasetValue(ds),
        );
        let v = metric_value(&m, DataType::DataSet).unwrap();
        assert_eq!(v.to_json(), serde_json::json!([{"a": -1, "b": "x"}]));

        let t = wire::Template {
            template_ref: Some("Motor".into()),
            parameters: vec![wire::template::Parameter {
                name: Some("poles".into()),
                r#type: Some(DataType::UInt8.code()),
                value: Some(wire::template::parameter::Value::IntValue(4)),
            }],
            metrics: vec![metric(
                "rpm",
                DataType::Float,
                wire::metric::Value::FloatValue(1500.0),
            )],
            ..Default::default()
        };
        let m = metric(
            "motor",
            DataType::Template,
            wire::metric::Value::TemplateValue(t),
        );
        let Value::Template(t) = metric_value(&m, DataType::Template).unwrap() else {
            panic!()
        };
        assert_eq!(t.template_ref.as_deref(), Some("Motor"));
        assert_eq!(t.parameters[0].2, Value::UInt(4));
        assert_eq!(
            Value::Template(t).to_json(),
            serde_json::json!({"rpm": 1500.0})
        );

        let props = wire::PropertySet {
            keys: vec!["engUnit".into(), "Quality".into()],
            values: vec![
                wire::PropertyValue {
                    r#type: Some(DataType::String.code()),
                    value: Some(wire::property_value::Value::StringValue("°C".into())),
                    ..Default::default()
                },
                wire::PropertyValue {
                    r#type: Some(DataType::Int32.code()),
                    value: Some(wire::property_value::Value::IntValue(192)),
                    ..Default::default()
                },
            ],
        };
        let ps = property_set(&props);
        assert_eq!(ps.get("engUnit"), Some(&Value::String("°C".into())));
        assert_eq!(ps.get("Quality"), Some(&Value::Int(192)));
    }

    #[test]
    fn value_of_the_wrong_field_is_refused() {
        let m = metric(
            "x",
            DataType::Boolean,
            wire::metric::Value::StringValue("yes".into()),
        );
        assert!(
            metric_value(&m, DataType::Boolean)
                .unwrap_err()
                .to_string()
                .contains("does not fit")
        );
    }

    #[test]
    fn command_metrics_round_trip() {
        for (dt, v) in [
            (DataType::Int16, Value::Int(-5)),
            (DataType::UInt32, Value::UInt(7)),
            (DataType::Double, Value::Double(0.25)),
            (DataType::Boolean, Value::Bool(true)),
            (DataType::String, Value::String("go".into())),
            (
                DataType::Int32Array,
                Value::Array(vec![Value::Int(1), Value::Int(-1)]),
            ),
            (DataType::Int64, Value::Null),
        ] {
            let m = command_metric(Some("sp"), Some(9), dt, &v, 1).unwrap();
            assert_eq!(metric_value(&m, dt).unwrap(), v, "{dt:?}");
        }
        assert!(command_metric(Some("sp"), None, DataType::Boolean, &Value::Int(1), 1).is_err());
    }
}
