//! What a series holds: [`Value`]s at [`world::Timestamp`]s, the field paths that
//! name series within a twin, and the tagged byte form of a single value used by
//! the head log, chunk summaries and the dictionary codec.

use std::sync::Arc;

use world::Timestamp;

use crate::HistoryError;
use crate::bits::{ByteReader, put_signed, put_varint};

/// Longest field path in bytes. Paths are DTDL names (at most 512 characters)
/// joined by `/` for component properties, and the reserved `$placement/...`
/// names; 1 KiB holds a component property and bounds a series key.
pub const FIELD_PATH_BYTES_MAX: usize = 1024;

/// Largest string or JSON value of one point. Property values are small; this
/// bounds what one point can pin in a head and in a chunk's dictionary.
pub const VALUE_BYTES_MAX: usize = 64 * 1024;

/// The reserved field that records a twin's lifecycle: `Bool(true)` when it is
/// created, `Bool(false)` when it is deleted. [`crate::History::world_at`] leaves
/// out twins whose latest `$exists` at the instant is `false`.
pub const EXISTS_FIELD: &str = "$exists";

/// One value of a series. Numbers keep their kind exactly (an `I64` is not
/// widened to `F64`); `Null` records that a property was removed.
#[derive(Clone, Debug)]
pub enum Value {
    /// The property was removed (JSON Patch `remove`); the world state at an
    /// instant leaves such fields out.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer or counter.
    I64(i64),
    /// A double, kept bit for bit (NaN payloads, -0.0 and infinities included).
    F64(f64),
    /// A string or enum value.
    Str(Arc<str>),
    /// An object or array as JSON text (rare; stored plainly).
    Json(Arc<str>),
}

impl PartialEq for Value {
    /// Bitwise for doubles, so that NaN equals the same NaN and -0.0 differs
    /// from 0.0: history promises bit-exact round trips.
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::I64(a), Value::I64(b)) => a == b,
            (Value::F64(a), Value::F64(b)) => a.to_bits() == b.to_bits(),
            (Value::Str(a), Value::Str(b)) | (Value::Json(a), Value::Json(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Value {}

impl std::hash::Hash for Value {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        match self {
            Value::Null => {}
            Value::Bool(b) => b.hash(state),
            Value::I64(i) => i.hash(state),
            Value::F64(f) => f.to_bits().hash(state),
            Value::Str(s) | Value::Json(s) => s.hash(state),
        }
    }
}

impl Value {
    /// The value as a number for min/max/avg: doubles (except NaN), integers (as
    /// doubles, exact up to 2^53) and booleans (0 or 1); `None` for the rest.
    pub fn numeric(&self) -> Option<f64> {
        match *self {
            Value::F64(f) if !f.is_nan() => Some(f),
            Value::I64(i) => Some(i as f64),
            Value::Bool(b) => Some(if b { 1.0 } else { 0.0 }),
            _ => None,
        }
    }

    /// A string value from text.
    pub fn str(text: &str) -> Value {
        Value::Str(text.into())
    }

    /// Bytes of text the value carries (0 for scalars).
    pub(crate) fn text_len(&self) -> usize {
        match self {
            Value::Str(s) | Value::Json(s) => s.len(),
            _ => 0,
        }
    }
}

/// A value at an instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Point {
    /// When the value was observed or set.
    pub time: Timestamp,
    /// The value.
    pub value: Value,
}

/// Checks a field path: 1 to [`FIELD_PATH_BYTES_MAX`] bytes, no control characters,
/// no empty segment between `/`.
pub(crate) fn check_field(twin: &str, path: &str) -> Result<(), HistoryError> {
    const ALLOWED: &str =
        "1 to 1024 bytes without control characters, segments separated by '/' and not empty";
    let refuse = |reason: String| HistoryError::InvalidField {
        twin: twin.chars().take(160).collect(),
        path: path.chars().take(160).collect(),
        reason,
        allowed: ALLOWED,
    };
    if path.is_empty() {
        return Err(refuse("the path is empty".to_owned()));
    }
    if path.len() > FIELD_PATH_BYTES_MAX {
        return Err(refuse(format!("the path has {} bytes", path.len())));
    }
    if let Some((index, bad)) = path.char_indices().find(|(_, c)| c.is_control()) {
        return Err(refuse(format!("control character {bad:?} at byte {index}")));
    }
    if path.split('/').any(str::is_empty) {
        return Err(refuse("a segment between '/' is empty".to_owned()));
    }
    Ok(())
}

const TAG_NULL: u8 = 0;
const TAG_FALSE: u8 = 1;
const TAG_TRUE: u8 = 2;
const TAG_I64: u8 = 3;
const TAG_F64: u8 = 4;
const TAG_STR: u8 = 5;
const TAG_JSON: u8 = 6;

/// Appends the tagged form of a value.
pub(crate) fn put_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.push(TAG_NULL),
        Value::Bool(false) => out.push(TAG_FALSE),
        Value::Bool(true) => out.push(TAG_TRUE),
        Value::I64(i) => {
            out.push(TAG_I64);
            put_signed(out, *i);
        }
        Value::F64(f) => {
            out.push(TAG_F64);
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Value::Str(s) => {
            out.push(TAG_STR);
            put_varint(out, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
        Value::Json(s) => {
            out.push(TAG_JSON);
            put_varint(out, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
    }
}

/// Reads what [`put_value`] wrote.
pub(crate) fn read_value(reader: &mut ByteReader<'_>) -> Result<Value, HistoryError> {
    let tag = reader.byte()?;
    Ok(match tag {
        TAG_NULL => Value::Null,
        TAG_FALSE => Value::Bool(false),
        TAG_TRUE => Value::Bool(true),
        TAG_I64 => Value::I64(reader.signed()?),
        TAG_F64 => Value::F64(f64::from_bits(reader.u64_le()?)),
        TAG_STR | TAG_JSON => {
            let bytes = reader.bytes_with_len(VALUE_BYTES_MAX)?;
            let text = std::str::from_utf8(bytes)
                .map_err(|_| reader.corrupt("text value is not UTF-8"))?;
            if tag == TAG_STR {
                Value::Str(text.into())
            } else {
                Value::Json(text.into())
            }
        }
        other => return Err(reader.corrupt(format!("unknown value tag {other}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths_follow_the_rule() {
        for good in ["temperature", "motor/rpm", "$placement/position/x", "ä"] {
            assert_eq!(check_field("t", good), Ok(()));
        }
        for (bad, reason) in [
            ("", "the path is empty"),
            ("a//b", "a segment between '/' is empty"),
            ("/a", "a segment between '/' is empty"),
            ("a\nb", "control character '\\n' at byte 1"),
        ] {
            match check_field("t", bad) {
                Err(HistoryError::InvalidField { reason: got, .. }) => assert_eq!(got, reason),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert!(check_field("t", &"x".repeat(FIELD_PATH_BYTES_MAX + 1)).is_err());
    }

    #[test]
    fn values_round_trip_with_their_kind_and_bits() {
        let values = [
            Value::Null,
            Value::Bool(true),
            Value::Bool(false),
            Value::I64(i64::MIN),
            Value::F64(-0.0),
            Value::F64(f64::from_bits(0x7ff8_0000_dead_beef)),
            Value::str("running"),
            Value::Json(r#"{"a":[1,2]}"#.into()),
        ];
        let mut out = Vec::new();
        for value in &values {
            put_value(&mut out, value);
        }
        let mut reader = ByteReader::new(&out, "test");
        for value in &values {
            assert_eq!(&read_value(&mut reader).unwrap(), value);
        }
        assert_ne!(Value::F64(0.0), Value::F64(-0.0));
        assert_ne!(Value::I64(1), Value::F64(1.0));
        assert!(read_value(&mut ByteReader::new(&[9], "test")).is_err());
        assert!(read_value(&mut ByteReader::new(&[TAG_STR, 2, 0xff, 0xfe], "test")).is_err());
    }
}
