//! Typed Sparkplug values: the datatype codes of the 3.0 specification (6.4.16) and
//! the decoding of a metric's, parameter's, data set cell's or property's wire value
//! into a [`Value`], including the packed little-endian arrays carried in
//! `bytes_value`.

use crate::pb::payload as wire;

/// A Sparkplug datatype (the numbers are the wire codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    Unknown = 0,
    Int8 = 1,
    Int16 = 2,
    Int32 = 3,
    Int64 = 4,
    UInt8 = 5,
    UInt16 = 6,
    UInt32 = 7,
    UInt64 = 8,
    Float = 9,
    Double = 10,
    Boolean = 11,
    String = 12,
    DateTime = 13,
    Text = 14,
    Uuid = 15,
    DataSet = 16,
    Bytes = 17,
    File = 18,
    Template = 19,
    PropertySet = 20,
    PropertySetList = 21,
    Int8Array = 22,
    Int16Array = 23,
    Int32Array = 24,
    Int64Array = 25,
    UInt8Array = 26,
    UInt16Array = 27,
    UInt32Array = 28,
    UInt64Array = 29,
    FloatArray = 30,
    DoubleArray = 31,
    BooleanArray = 32,
    StringArray = 33,
    DateTimeArray = 34,
}

impl DataType {
    /// The datatype for a wire code, `None` for codes the specification does not define.
    pub fn from_code(code: u32) -> Option<DataType> {
        use DataType::*;
        const ALL: [DataType; 35] = [
            Unknown,
            Int8,
            Int16,
            Int32,
            Int64,
            UInt8,
            UInt16,
            UInt32,
            UInt64,
            Float,
            Double,
            Boolean,
            String,
            DateTime,
            Text,
            Uuid,
            DataSet,
            Bytes,
            File,
            Template,
            PropertySet,
            PropertySetList,
            Int8Array,
            Int16Array,
            Int32Array,
            Int64Array,
            UInt8Array,
            UInt16Array,
            UInt32Array,
            UInt64Array,
            FloatArray,
            DoubleArray,
            BooleanArray,
            StringArray,
            DateTimeArray,
        ];
        ALL.get(usize::try_from(code).ok()?).copied()
    }

    /// The wire code.
    pub fn code(self) -> u32 {
        self as u32
    }

    /// The specification's name for the type (`Int32`, `DoubleArray`, …).
    pub fn name(self) -> &'static str {
        use DataType::*;
        match self {
            Unknown => "Unknown",
            Int8 => "Int8",
            Int16 => "Int16",
            Int32 => "Int32",
            Int64 => "Int64",
            UInt8 => "UInt8",
            UInt16 => "UInt16",
            UInt32 => "UInt32",
            UInt64 => "UInt64",
            Float => "Float",
            Double => "Double",
            Boolean => "Boolean",
            String => "String",
            DateTime => "DateTime",
            Text => "Text",
            Uuid => "UUID",
            DataSet => "DataSet",
            Bytes => "Bytes",
            File => "File",
            Template => "Template",
            PropertySet => "PropertySet",
            PropertySetList => "PropertySetList",
            Int8Array => "Int8Array",
            Int16Array => "Int16Array",
            Int32Array => "Int32Array",
            Int64Array => "Int64Array",
            UInt8Array => "UInt8Array",
            UInt16Array => "UInt16Array",
            UInt32Array => "UInt32Array",
            UInt64Array => "UInt64Array",
            FloatArray => "FloatArray",
            DoubleArray => "DoubleArray",
            BooleanArray => "BooleanArray",
            StringArray => "StringArray",
            DateTimeArray => "DateTimeArray",
        }
    }
}

/// A decoded value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// Every signed integer type, sign-extended from its width.
    Int(i64),
    /// Every unsigned integer type.
    UInt(u64),
    Float(f32),
    Double(f64),
    /// String, Text and UUID.
    String(String),
    /// Milliseconds since the Unix epoch.
    DateTime(u64),
    /// Bytes and File contents.
    Bytes(Vec<u8>),
    /// Every array type, element by element.
    Array(Vec<Value>),
    DataSet(DataSet),
    Template(Template),
    PropertySet(PropertySet),
    PropertySetList(Vec<PropertySet>),
}

impl Value {
    /// The value as JSON, the shape twins hold: numbers, strings, arrays, objects
    /// (templates by member name, data sets as arrays of row objects); bytes as an
    /// array of numbers; non-finite floats as null (JSON has none).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::UInt(u) => J::from(*u),
            Value::Float(f) => {
                serde_json::Number::from_f64(f64::from(*f)).map_or(J::Null, J::Number)
            }
            Value::Double(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::String(s) => J::String(s.clone()),
            Value::DateTime(ms) => J::from(*ms),
            Value::Bytes(b) => J::Array(b.iter().map(|x| J::from(*x)).collect()),
            Value::Array(items) => J::Array(items.iter().map(Value::to_json).collect()),
            Value::DataSet(ds) => J::Array(
                ds.rows
                    .iter()
                    .map(|row| {
                        J::Object(
                            ds.columns
                                .iter()
                                .cloned()
                                .zip(row.iter().map(Value::to_json))
                                .collect(),
                        )
                    })
                    .collect(),
            ),
            Value::Template(t) => J::Object(
                t.metrics
                    .iter()
                    .map(|m| (m.name.clone(), m.value.to_json()))
                    .collect(),
            ),
            Value::PropertySet(p) => p.to_json(),
            Value::PropertySetList(list) => {
                J::Array(list.iter().map(PropertySet::to_json).collect())
            }
        }
    }
}

/// A table value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DataSet {
    pub columns: Vec<String>,
    pub types: Vec<DataType>,
    pub rows: Vec<Vec<Value>>,
}

/// A template definition or instance.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Template {
    pub version: Option<String>,
    pub template_ref: Option<String>,
    pub is_definition: bool,
    pub parameters: Vec<(String, DataType, Value)>,
    pub metrics: Vec<TemplateMember>,
}

/// One metric inside a template.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateMember {
    pub name: String,
    pub datatype: DataType,
    pub value: Value,
}

/// A property set: keys with typed values, in payload order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PropertySet {
    pub entries: Vec<(String, DataType, Value)>,
}

impl PropertySet {
    /// The value of a key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, _, v)| v)
    }

    /// The set as a JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.entries
                .iter()
                .map(|(k, _, v)| (k.clone(), v.to_json()))
                .collect(),
        )
    }
}

/// Reads a signed integer of `bits` width from a wire integer: edge nodes store the
/// two's complement either in the type's width (pysparkplug: Int8 −1 is 255) or
/// sign-extended to 32/64 bits (Tahu), and taking the low `bits` covers both.
pub(crate) fn signed(raw: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((raw << shift) as i64) >> shift
}

/// Reads a scalar of type `dt` from the wire fields common to metrics, parameters,
/// data set cells and properties. `None` when the field present does not fit the type.
pub(crate) fn scalar(
    dt: DataType,
    int: Option<u32>,
    long: Option<u64>,
    float: Option<f32>,
    double: Option<f64>,
    boolean: Option<bool>,
    string: Option<&str>,
) -> Option<Value> {
    use DataType as D;
    let int_or_long = || long.or(int.map(u64::from));
    Some(match dt {
        D::Int8 => Value::Int(signed(int_or_long()?, 8)),
        D::Int16 => Value::Int(signed(int_or_long()?, 16)),
        D::Int32 => Value::Int(signed(int_or_long()?, 32)),
        D::Int64 => Value::Int(int_or_long()? as i64),
        D::UInt8 => Value::UInt(int_or_long()? & 0xff),
        D::UInt16 => Value::UInt(int_or_long()? & 0xffff),
        D::UInt32 => Value::UInt(int_or_long()? & 0xffff_ffff),
        D::UInt64 => Value::UInt(int_or_long()?),
        D::DateTime => Value::DateTime(int_or_long()?),
        D::Float => Value::Float(float.or(double.map(|d| d as f32))?),
        D::Double => Value::Double(double.or(float.map(f64::from))?),
        D::Boolean => Value::Bool(boolean?),
        D::String | D::Text | D::Uuid => Value::String(string?.to_string()),
        _ => return None,
    })
}

/// Decodes a packed array (`bytes_value` of an array type, 6.4.17).
pub(crate) fn array(dt: DataType, bytes: &[u8]) -> Result<Value, String> {
    use DataType as D;
    fn fixed<const N: usize>(bytes: &[u8], f: impl Fn([u8; N]) -> Value) -> Result<Value, String> {
        if !bytes.len().is_multiple_of(N) {
            return Err(format!(
                "packed array of {} bytes is not a multiple of {N}",
                bytes.len()
            ));
        }
        Ok(Value::Array(
            bytes
                .chunks_exact(N)
                .map(|c| f(c.try_into().unwrap_or([0; N])))
                .collect(),
        ))
    }
    match dt {
        D::Int8Array => fixed::<1>(bytes, |b| Value::Int(i64::from(i8::from_le_bytes(b)))),
        D::Int16Array => fixed::<2>(bytes, |b| Value::Int(i64::from(i16::from_le_bytes(b)))),
        D::Int32Array => fixed::<4>(bytes, |b| Value::Int(i64::from(i32::from_le_bytes(b)))),
        D::Int64Array => fixed::<8>(bytes, |b| Value::Int(i64::from_le_bytes(b))),
        D::UInt8Array => fixed::<1>(bytes, |b| Value::UInt(u64::from(b[0]))),
        D::UInt16Array => fixed::<2>(bytes, |b| Value::UInt(u64::from(u16::from_le_bytes(b)))),
        D::UInt32Array => fixed::<4>(bytes, |b| Value::UInt(u64::from(u32::from_le_bytes(b)))),
        D::UInt64Array => fixed::<8>(bytes, |b| Value::UInt(u64::from_le_bytes(b))),
        D::FloatArray => fixed::<4>(bytes, |b| Value::Float(f32::from_le_bytes(b))),
        D::DoubleArray => fixed::<8>(bytes, |b| Value::Double(f64::from_le_bytes(b))),
        D::DateTimeArray => fixed::<8>(bytes, |b| Value::DateTime(u64::from_le_bytes(b))),
        D::BooleanArray => {
            // A little-endian u32 count, then the bits packed most significant first.
            let (count, bits) = bytes
                .split_first_chunk::<4>()
                .ok_or("boolean array shorter than its 4-byte count")?;
            let count = u32::from_le_bytes(*count) as usize;
            if count > bits.len().saturating_mul(8) {
                return Err(format!(
                    "boolean array claims {count} values but has {} bytes",
                    bits.len()
                ));
            }
            Ok(Value::Array(
                (0..count)
                    .map(|i| Value::Bool(bits[i / 8] & (0x80 >> (i % 8)) != 0))
                    .collect(),
            ))
        }
        D::StringArray => {
            // NUL-terminated UTF-8 strings, one after another.
            let body = bytes.strip_suffix(&[0]).unwrap_or(bytes);
            if bytes.is_empty() {
                return Ok(Value::Array(Vec::new()));
            }
            body.split(|b| *b == 0)
                .map(|s| {
                    std::str::from_utf8(s)
                        .map(|s| Value::String(s.to_string()))
                        .map_err(|_| "string array element is not UTF-8".to_string())
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        _ => Err(format!("{} is not an array type", dt.name())),
    }
}

/// Packs an array value for `bytes_value` (the inverse of [`array`]), for commands.
pub(crate) fn pack_array(dt: DataType, items: &[Value]) -> Option<Vec<u8>> {
    use DataType as D;
    let mut out = Vec::new();
    if dt == D::BooleanArray {
        out.extend_from_slice(&u32::try_from(items.len()).ok()?.to_le_bytes());
        let mut bits = vec![0u8; items.len().div_ceil(8)];
        for (i, v) in items.iter().enumerate() {
            if matches!(v, Value::Bool(true)) {
                bits[i / 8] |= 0x80 >> (i % 8);
            }
        }
        out.extend(bits);
        return Some(out);
    }
    for v in items {
        match (dt, v) {
            (D::Int8Array, Value::Int(i)) => out.extend((*i as i8).to_le_bytes()),
            (D::Int16Array, Value::Int(i)) => out.extend((*i as i16).to_le_bytes()),
            (D::Int32Array, Value::Int(i)) => out.extend((*i as i32).to_le_bytes()),
            (D::Int64Array, Value::Int(i)) => out.extend(i.to_le_bytes()),
            (D::UInt8Array, Value::UInt(u)) => out.extend((*u as u8).to_le_bytes()),
            (D::UInt16Array, Value::UInt(u)) => out.extend((*u as u16).to_le_bytes()),
            (D::UInt32Array, Value::UInt(u)) => out.extend((*u as u32).to_le_bytes()),
            (D::UInt64Array, Value::UInt(u)) => out.extend(u.to_le_bytes()),
            (D::FloatArray, Value::Float(f)) => out.extend(f.to_le_bytes()),
            (D::DoubleArray, Value::Double(f)) => out.extend(f.to_le_bytes()),
            (D::DateTimeArray, Value::DateTime(t)) => out.extend(t.to_le_bytes()),
            (D::StringArray, Value::String(s)) => {
                out.extend(s.as_bytes());
                out.push(0);
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Which wire field of a metric carries a value; used to check a value against its
/// declared type.
pub(crate) fn metric_scalar(dt: DataType, v: &Option<wire::metric::Value>) -> Option<Value> {
    use wire::metric::Value as W;
    match v {
        Some(W::IntValue(i)) => scalar(dt, Some(*i), None, None, None, None, None),
        Some(W::LongValue(l)) => scalar(dt, None, Some(*l), None, None, None, None),
        Some(W::FloatValue(f)) => scalar(dt, None, None, Some(*f), None, None, None),
        Some(W::DoubleValue(d)) => scalar(dt, None, None, None, Some(*d), None, None),
        Some(W::BooleanValue(b)) => scalar(dt, None, None, None, None, Some(*b), None),
        Some(W::StringValue(s)) => scalar(dt, None, None, None, None, None, Some(s)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_values_decode_from_either_width() {
        assert_eq!(signed(255, 8), -1);
        assert_eq!(signed(0xffff_ffff, 8), -1);
        assert_eq!(signed(0x7f, 8), 127);
        assert_eq!(signed(0xffff_8000, 16), -32768);
        assert_eq!(signed(u64::MAX, 64), -1);
    }

    #[test]
    fn arrays_round_trip() {
        let cases = [
            (
                DataType::Int16Array,
                Value::Array(vec![Value::Int(-2), Value::Int(300)]),
            ),
            (
                DataType::BooleanArray,
                Value::Array((0..11).map(|i| Value::Bool(i % 3 == 0)).collect()),
            ),
            (
                DataType::StringArray,
                Value::Array(vec![
                    Value::String("a".into()),
                    Value::String("".into()),
                    Value::String("ü".into()),
                ]),
            ),
            (
                DataType::DoubleArray,
                Value::Array(vec![Value::Double(1.5)]),
            ),
            (
                DataType::DateTimeArray,
                Value::Array(vec![Value::DateTime(1_700_000_000_000)]),
            ),
        ];
        for (dt, v) in cases {
            let Value::Array(items) = &v else {
                unreachable!()
            };
            let packed = pack_array(dt, items).unwrap();
            assert_eq!(array(dt, &packed).unwrap(), v, "{dt:?}");
        }
        // The specification's example: [false, false, true, true, false] packs to 0x30.
        assert_eq!(
            array(DataType::BooleanArray, &[5, 0, 0, 0, 0x30]).unwrap(),
            Value::Array([false, false, true, true, false].map(Value::Bool).to_vec())
        );
        assert!(array(DataType::Int32Array, &[1, 2, 3]).is_err());
        assert!(array(DataType::BooleanArray, &[9, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn datatype_codes_round_trip() {
        for code in 0..35 {
            assert_eq!(DataType::from_code(code).unwrap().code(), code);
        }
        assert_eq!(DataType::from_code(35), None);
    }
}
