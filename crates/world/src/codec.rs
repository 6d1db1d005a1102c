//! The bytes a store keeps for each record (`Record::encode`), and how a restart
//! reads them back (`World::restore_encoded`).
//!
//! Twins, a million of them in a large world and all read at every restart, are
//! kept in a compact binary form that a restart turns straight into twins, with
//! no JSON text to parse and no JSON tree to build. Models and relationships stay
//! JSON text. The first byte tells the forms apart: a binary form starts with
//! its format byte (below `0x20`), JSON text with `{`, so stores written before
//! the binary form existed still load.
//!
//! `TWIN_FORMAT_V1`, after the format byte (varints are LEB128; signed numbers
//! are zigzag varints; times are nanoseconds, kept as differences from the
//! enclosing time because most are equal to it):
//!
//! ```text
//! id: str   seq: varint   model: str   updated: signed
//! props: varint count, then per property:
//!     name: str   updated - twin.updated: signed   value
//! value: tag byte, then
//!     0 null | 1 false | 2 true | 3 u64: varint | 4 negative i64: signed
//!     | 5 f64: 8 bytes LE | 6 string: str | 7 JSON text (arrays, objects): str
//!     | 8 component: varint count, then per property:
//!           name: str   updated - property.updated: signed   value (not 8)
//! placement: 0 (none) | 1, then
//!     updated - twin.updated: signed   flags: byte (1 parent, 2 asset)
//!     [parent: str]   position x y z, rotation x y z w, scale x y z: f64 LE
//!     [asset: str]
//! str: varint length, then UTF-8 bytes
//! ```

use glam::{DQuat, DVec3};
use serde_json::{Map, Value};

use crate::placement::Placement;
use crate::twin::TimeCache;
use crate::{Etag, Timestamp};

/// The first byte of a binary twin record, version 1.
pub const TWIN_FORMAT_V1: u8 = 0x01;

/// Most properties (or component properties) one record may declare: bounds
/// the work a damaged length can ask for before the bytes run out anyway.
const PROPS_MAX: u64 = 1 << 20;

const TAG_NULL: u8 = 0;
const TAG_FALSE: u8 = 1;
const TAG_TRUE: u8 = 2;
const TAG_U64: u8 = 3;
const TAG_I64: u8 = 4;
const TAG_F64: u8 = 5;
const TAG_STR: u8 = 6;
const TAG_JSON: u8 = 7;
const TAG_COMPONENT: u8 = 8;

const PLACEMENT_PARENT: u8 = 1;
const PLACEMENT_ASSET: u8 = 2;

/// Appends the parts of a binary record.
struct Writer(Vec<u8>);

impl Writer {
    fn byte(&mut self, b: u8) {
        self.0.push(b);
    }

    fn varint(&mut self, mut n: u64) {
        while n >= 0x80 {
            self.0.push((n as u8) | 0x80);
            n >>= 7;
        }
        self.0.push(n as u8);
    }

    fn signed(&mut self, n: i64) {
        self.varint(((n << 1) ^ (n >> 63)) as u64);
    }

    fn f64(&mut self, x: f64) {
        self.0.extend_from_slice(&x.to_le_bytes());
    }

    fn str(&mut self, s: &str) {
        self.varint(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }
}

/// Encodes a twin in its API form (as `Record::Twin` holds it) as
/// `TWIN_FORMAT_V1`; `None` when the document is not shaped as the world
/// writes twins, so the caller keeps it as JSON text instead.
pub(crate) fn encode_twin(doc: &Value) -> Option<Vec<u8>> {
    let object = doc.as_object()?;
    let metadata = object.get("$metadata")?.as_object()?;
    let mut times = TimeCache::default();
    let mut time_of = |meta: &Map<String, Value>, name: &str| -> Option<Timestamp> {
        times.parse(meta.get(name)?.get("lastUpdateTime")?.as_str()?)
    };
    let id = object.get("$dtId")?.as_str()?;
    let seq = Etag::parse(object.get("$etag")?.as_str()?)?.0;
    let model = metadata.get("$model")?.as_str()?;
    let updated =
        times_parse(metadata.get("$lastUpdateTime"), &mut TimeCache::default()).unwrap_or_default();
    let mut w = Writer(Vec::with_capacity(64 + 32 * object.len()));
    w.byte(TWIN_FORMAT_V1);
    w.str(id);
    w.varint(seq.0);
    w.str(model);
    w.signed(updated.0);
    let props: Vec<(&String, &Value)> =
        object.iter().filter(|(k, _)| !k.starts_with('$')).collect();
    w.varint(props.len() as u64);
    for (name, value) in props {
        let prop_updated = time_of(metadata, name).unwrap_or(updated);
        w.str(name);
        w.signed(prop_updated.0.wrapping_sub(updated.0));
        match component_parts(value, &mut time_of) {
            Some(inner) => {
                w.byte(TAG_COMPONENT);
                w.varint(inner.len() as u64);
                for (inner_name, inner_value, inner_updated) in inner {
                    w.str(inner_name);
                    w.signed(
                        inner_updated
                            .unwrap_or(prop_updated)
                            .0
                            .wrapping_sub(prop_updated.0),
                    );
                    scalar(&mut w, inner_value);
                }
            }
            None => scalar(&mut w, value),
        }
    }
    match object.get("$placement") {
        None | Some(Value::Null) => w.byte(0),
        Some(value) => {
            let placement = Placement::from_json(value).ok()?;
            let placed = time_of(metadata, "$placement").unwrap_or(updated);
            w.byte(1);
            w.signed(placed.0.wrapping_sub(updated.0));
            let flags = if placement.parent.is_some() {
                PLACEMENT_PARENT
            } else {
                0
            } | if placement.asset.is_some() {
                PLACEMENT_ASSET
            } else {
                0
            };
            w.byte(flags);
            if let Some(parent) = &placement.parent {
                w.str(parent.as_str());
            }
            for x in placement
                .position
                .to_array()
                .into_iter()
                .chain(placement.rotation.to_array())
                .chain(placement.scale.to_array())
            {
                w.f64(x);
            }
            if let Some(asset) = &placement.asset {
                w.str(asset);
            }
        }
    }
    Some(w.0)
}

fn times_parse(value: Option<&Value>, times: &mut TimeCache) -> Option<Timestamp> {
    times.parse(value?.as_str()?)
}

/// A component's properties with their update times, if `value` is shaped
/// exactly as the world shows a component: an object whose `$metadata` holds
/// `{"lastUpdateTime": ...}` for every other member and nothing else, so that
/// showing the decoded component gives back the same JSON. Anything else
/// (an object property, a map) is kept as JSON text.
fn component_parts<'v>(
    value: &'v Value,
    time_of: &mut impl FnMut(&Map<String, Value>, &str) -> Option<Timestamp>,
) -> Option<Vec<(&'v str, &'v Value, Option<Timestamp>)>> {
    let object = value.as_object()?;
    let (last, metadata) = object.iter().next_back()?;
    let metadata = metadata.as_object()?;
    if last != "$metadata" || metadata.len() + 1 != object.len() {
        return None;
    }
    let mut parts = Vec::with_capacity(metadata.len());
    for (name, inner) in object {
        if name == "$metadata" {
            continue;
        }
        let entry = metadata.get(name)?.as_object()?;
        let text = entry.get("lastUpdateTime")?.as_str()?;
        let time = time_of(metadata, name)?;
        if entry.len() != 1 || time.to_rfc3339() != text {
            return None;
        }
        parts.push((name.as_str(), inner, Some(time)));
    }
    Some(parts)
}

fn scalar(w: &mut Writer, value: &Value) {
    match value {
        Value::Null => w.byte(TAG_NULL),
        Value::Bool(false) => w.byte(TAG_FALSE),
        Value::Bool(true) => w.byte(TAG_TRUE),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                w.byte(TAG_U64);
                w.varint(u);
            } else if let Some(i) = n.as_i64() {
                w.byte(TAG_I64);
                w.signed(i);
            } else {
                w.byte(TAG_F64);
                w.f64(n.as_f64().unwrap_or(f64::NAN));
            }
        }
        Value::String(s) => {
            w.byte(TAG_STR);
            w.str(s);
        }
        Value::Array(_) | Value::Object(_) => {
            w.byte(TAG_JSON);
            w.str(&value.to_string());
        }
    }
}

/// Reads the parts of a binary record; every read checks the bytes left.
pub(crate) struct Reader<'b> {
    bytes: &'b [u8],
    at: usize,
}

/// A value as read from a record, before it becomes a `Val`.
pub(crate) enum Scalar<'b> {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    Str(&'b str),
    Json(&'b str),
    Component,
}

impl<'b> Reader<'b> {
    pub(crate) fn new(bytes: &'b [u8]) -> Reader<'b> {
        Reader { bytes, at: 0 }
    }

    fn fail(&self, what: &str) -> String {
        format!("the binary record is damaged at byte {}: {what}", self.at)
    }

    pub(crate) fn byte(&mut self) -> Result<u8, String> {
        let b = *self
            .bytes
            .get(self.at)
            .ok_or_else(|| self.fail("it ends early"))?;
        self.at += 1;
        Ok(b)
    }

    pub(crate) fn varint(&mut self) -> Result<u64, String> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(self.fail("a number is longer than 64 bits"))
    }

    pub(crate) fn signed(&mut self) -> Result<i64, String> {
        let n = self.varint()?;
        Ok(((n >> 1) as i64) ^ -((n & 1) as i64))
    }

    /// A time stored as a difference from `base`.
    pub(crate) fn time(&mut self, base: Timestamp) -> Result<Timestamp, String> {
        Ok(Timestamp(base.0.wrapping_add(self.signed()?)))
    }

    pub(crate) fn count(&mut self) -> Result<usize, String> {
        let n = self.varint()?;
        if n > PROPS_MAX {
            return Err(self.fail(&format!("{n} properties, more than {PROPS_MAX}")));
        }
        Ok(n as usize)
    }

    pub(crate) fn f64(&mut self) -> Result<f64, String> {
        let end = self.at + 8;
        let raw = self
            .bytes
            .get(self.at..end)
            .ok_or_else(|| self.fail("it ends inside a number"))?;
        let mut word = [0u8; 8];
        word.copy_from_slice(raw);
        self.at = end;
        Ok(f64::from_le_bytes(word))
    }

    pub(crate) fn str(&mut self) -> Result<&'b str, String> {
        let len = usize::try_from(self.varint()?).unwrap_or(usize::MAX);
        let end = self.at.saturating_add(len);
        let raw = self
            .bytes
            .get(self.at..end)
            .ok_or_else(|| self.fail("it ends inside a string"))?;
        let text = std::str::from_utf8(raw).map_err(|_| self.fail("a string is not UTF-8"))?;
        self.at = end;
        Ok(text)
    }

    pub(crate) fn scalar(&mut self) -> Result<Scalar<'b>, String> {
        Ok(match self.byte()? {
            TAG_NULL => Scalar::Null,
            TAG_FALSE => Scalar::Bool(false),
            TAG_TRUE => Scalar::Bool(true),
            TAG_U64 => Scalar::U64(self.varint()?),
            TAG_I64 => Scalar::I64(self.signed()?),
            TAG_F64 => Scalar::F64(self.f64()?),
            TAG_STR => Scalar::Str(self.str()?),
            TAG_JSON => Scalar::Json(self.str()?),
            TAG_COMPONENT => Scalar::Component,
            other => return Err(self.fail(&format!("unknown value tag {other}"))),
        })
    }

    /// The placement (and its update time) after the properties.
    pub(crate) fn placement(
        &mut self,
        base: Timestamp,
    ) -> Result<Option<(Placement, Timestamp)>, String> {
        if self.byte()? == 0 {
            return Ok(None);
        }
        let updated = self.time(base)?;
        let flags = self.byte()?;
        let parent = if flags & PLACEMENT_PARENT != 0 {
            Some(crate::TwinId::parse(self.str()?).map_err(|e| self.fail(&e.to_string()))?)
        } else {
            None
        };
        let mut numbers = [0.0; 10];
        for slot in &mut numbers {
            *slot = self.f64()?;
            if !slot.is_finite() {
                return Err(self.fail("a placement number is not finite"));
            }
        }
        let asset = if flags & PLACEMENT_ASSET != 0 {
            Some(self.str()?.to_owned())
        } else {
            None
        };
        let [px, py, pz, rx, ry, rz, rw, sx, sy, sz] = numbers;
        Ok(Some((
            Placement {
                parent,
                position: DVec3::new(px, py, pz),
                rotation: DQuat::from_xyzw(rx, ry, rz, rw),
                scale: DVec3::new(sx, sy, sz),
                asset,
            },
            updated,
        )))
    }

    /// Whether every byte was read.
    pub(crate) fn finish(&self) -> Result<(), String> {
        if self.at == self.bytes.len() {
            Ok(())
        } else {
            Err(self.fail("bytes are left over after the record"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_through_varints() {
        for n in [0i64, 1, -1, 63, -64, 64, i64::MAX, i64::MIN, 1 << 40] {
            let mut w = Writer(Vec::new());
            w.signed(n);
            w.varint(n as u64);
            let mut r = Reader::new(&w.0);
            assert_eq!(r.signed(), Ok(n));
            assert_eq!(r.varint(), Ok(n as u64));
            assert_eq!(r.finish(), Ok(()));
        }
    }

    #[test]
    fn damaged_records_are_refused_with_the_place() {
        let mut r = Reader::new(&[0x80, 0x80]);
        let err = r.varint().unwrap_err();
        assert!(err.contains("byte 2: it ends early"), "{err}");
        let mut r = Reader::new(&[5, b'a']);
        assert!(r.str().unwrap_err().contains("inside a string"));
        let mut r = Reader::new(&[2, 0xff, 0xfe]);
        assert!(r.str().unwrap_err().contains("not UTF-8"));
        let mut r = Reader::new(&[0xff; 11]);
        assert!(r.varint().unwrap_err().contains("longer than 64 bits"));
        let mut r = Reader::new(&[42]);
        assert!(matches!(r.scalar(), Err(e) if e.contains("unknown value tag 42")));
    }
}
