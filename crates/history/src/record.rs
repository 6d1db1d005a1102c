//! The stored form of one twin's series: a [`TwinSeries`] record holds, for
//! each field of the twin, its series id, chunk bookkeeping and open head, plus
//! the head-log watermark below which the record already includes every point.
//! One row per twin (not per series) keeps a million-twin world at one store
//! row and one read per twin, and lets a cache miss bring back all of a twin's
//! fields at once, as ingest and `world_at` want them.
//!
//! Layout: format byte, watermark (varint), base time (zigzag varint, see
//! `base_time`), field count (varint), then per
//! field: path (length-prefixed UTF-8), series id, next chunk number (varints),
//! sealed horizon (flag byte, then 8 bytes little-endian when set), widest
//! chunk span (zigzag varint), and the head: a kind byte, 0 for a short list of
//! (time delta from the base or the previous point, tagged value) pairs and 1 for a compressed chunk
//! (`chunk::encode`, bit-exact like every chunk).

use std::sync::Arc;

use world::{Timestamp, TwinId};

use crate::HistoryError;
use crate::bits::{ByteReader, put_signed, put_varint};
use crate::chunk;
use crate::value::{FIELD_PATH_BYTES_MAX, Point, Value, put_value, read_value};

/// Format byte of twin records and head log entries.
pub(crate) const RECORD_FORMAT: u8 = 2;

/// Heads up to this many points are stored as a plain list; longer ones as a
/// chunk. A chunk's header costs more than it saves on a handful of points (a
/// twin created with 17 fields has 17 one-point heads).
const HEAD_LIST_POINTS_MAX: usize = 8;

/// Most fields one twin record may list when decoding; far above what a twin
/// has (DTDL models have at most a few hundred properties), it bounds what a
/// corrupt record can make us allocate.
pub(crate) const FIELDS_PER_TWIN_MAX: usize = 65_536;

/// Most points the heads of one twin record may hold together. Heads are
/// compressed, so a few bytes can claim a chunk of 65,536 points: without a
/// total, a record of 64 KiB listing thousands of such heads would decode into
/// gigabytes. Checkpoints seal a twin's largest heads until its record holds no
/// more than this (8 MiB of decoded points, far above a twin's usual few
/// thousand), so every written record decodes.
pub(crate) const RECORD_HEAD_POINTS_MAX: usize = 1 << 18;

/// What history knows about one series of a twin.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FieldSeries {
    pub(crate) name: Arc<str>,
    pub(crate) id: u32,
    /// Number the next sealed chunk gets (orders chunks by when they were sealed).
    pub(crate) next_chunk: u32,
    /// The latest time in any sealed chunk.
    pub(crate) horizon: Option<i64>,
    /// The widest `last - first` of any sealed chunk, to bound index scans.
    pub(crate) max_span: i64,
    /// The open head: points in strictly increasing time, all after `horizon`.
    pub(crate) head: Vec<Point>,
}

/// The series of one twin as stored (and as cached, plus cache bookkeeping).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct TwinSeries {
    pub(crate) fields: Vec<FieldSeries>,
    /// Head log entries numbered below this are already in the record: replay
    /// skips this twin's points in them.
    pub(crate) watermark: u64,
}

impl TwinSeries {
    pub(crate) fn field(&self, name: &str) -> Option<&FieldSeries> {
        self.fields.iter().find(|f| &*f.name == name)
    }

    pub(crate) fn slot(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| &*f.name == name)
    }

    /// Like `slot`, trying `hint` first (writers repeat their field order).
    pub(crate) fn slot_from(&self, name: &str, hint: usize) -> Option<usize> {
        match self.fields.get(hint) {
            Some(field) if &*field.name == name => Some(hint),
            _ => self.slot(name),
        }
    }
}

/// The time short heads are written relative to: the first head point of the
/// twin. A twin's fields usually start at the same instant (its creation), so
/// each such head's time then costs one byte instead of nine.
pub(crate) fn base_time(twin: &TwinSeries) -> i64 {
    twin.fields
        .iter()
        .find_map(|f| f.head.first())
        .map_or(0, |p| p.time.0)
}

/// One field's head as a record holds it, times relative to `base`.
pub(crate) fn head_bytes(head: &[Point], base: i64) -> Vec<u8> {
    let mut out = Vec::new();
    put_head(&mut out, head, base);
    out
}

fn put_head(out: &mut Vec<u8>, head: &[Point], base: i64) {
    if head.len() <= HEAD_LIST_POINTS_MAX {
        out.push(0);
        put_varint(out, head.len() as u64);
        let mut previous = base;
        for point in head {
            put_signed(out, point.time.0.wrapping_sub(previous));
            previous = point.time.0;
            put_value(out, &point.value);
        }
    } else {
        out.push(1);
        let bytes = chunk::encode(head);
        put_varint(out, bytes.len() as u64);
        out.extend_from_slice(&bytes);
    }
}

/// Encodes a record whose heads are given already encoded (`heads[i]` for
/// `twin.fields[i]`, relative to `base`), so the caller can size them first.
pub(crate) fn encode(twin: &TwinSeries, heads: &[Vec<u8>], base: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + heads.iter().map(Vec::len).sum::<usize>());
    out.push(RECORD_FORMAT);
    put_varint(&mut out, twin.watermark);
    put_signed(&mut out, base);
    put_varint(&mut out, twin.fields.len() as u64);
    for (field, head) in twin.fields.iter().zip(heads) {
        put_varint(&mut out, field.name.len() as u64);
        out.extend_from_slice(field.name.as_bytes());
        put_varint(&mut out, u64::from(field.id));
        put_varint(&mut out, u64::from(field.next_chunk));
        match field.horizon {
            None => out.push(0),
            Some(h) => {
                out.push(1);
                out.extend_from_slice(&h.to_le_bytes());
            }
        }
        put_signed(&mut out, field.max_span);
        out.extend_from_slice(head);
    }
    out
}

/// Decodes a record; malformed bytes are an error, never a panic.
pub(crate) fn decode(bytes: &[u8]) -> Result<TwinSeries, HistoryError> {
    let mut reader = ByteReader::new(bytes, "twin record");
    let format = reader.byte()?;
    if format != RECORD_FORMAT {
        return Err(reader.corrupt(format!("format byte {format}, expected {RECORD_FORMAT}")));
    }
    let watermark = reader.varint()?;
    let base = reader.signed()?;
    let count = reader.bounded(FIELDS_PER_TWIN_MAX, "field count")?;
    let mut fields = Vec::with_capacity(count.min(64));
    let mut head_points = 0usize;
    for _ in 0..count {
        let name = reader.bytes_with_len(FIELD_PATH_BYTES_MAX)?;
        let name: Arc<str> = std::str::from_utf8(name)
            .map_err(|_| reader.corrupt("field path is not UTF-8"))?
            .into();
        let id = u32::try_from(reader.varint()?)
            .map_err(|_| reader.corrupt("series id over 32 bits"))?;
        let next_chunk = u32::try_from(reader.varint()?)
            .map_err(|_| reader.corrupt("chunk number over 32 bits"))?;
        let horizon = match reader.byte()? {
            0 => None,
            1 => Some(reader.u64_le()? as i64),
            other => return Err(reader.corrupt(format!("horizon flag {other}"))),
        };
        let max_span = reader.signed()?;
        let head = match reader.byte()? {
            0 => {
                let len = reader.bounded(HEAD_LIST_POINTS_MAX, "head length")?;
                let mut head = Vec::with_capacity(len);
                let mut time = base;
                for _ in 0..len {
                    time = time.wrapping_add(reader.signed()?);
                    let value = read_value(&mut reader)?;
                    head.push(Point {
                        time: Timestamp(time),
                        value,
                    });
                }
                head
            }
            1 => {
                let bytes = reader.bytes_with_len(bytes.len())?;
                // Checked before decoding, which allocates what the chunk claims.
                let claimed = chunk::claimed_points(bytes)?;
                if head_points + claimed > RECORD_HEAD_POINTS_MAX {
                    return Err(reader.corrupt(format!(
                        "heads hold over {RECORD_HEAD_POINTS_MAX} points together"
                    )));
                }
                chunk::decode(bytes)?
            }
            other => return Err(reader.corrupt(format!("head kind {other}"))),
        };
        head_points += head.len();
        if head.windows(2).any(|pair| pair[0].time >= pair[1].time) {
            return Err(reader.corrupt("head points are not in strictly increasing time"));
        }
        fields.push(FieldSeries {
            name,
            id,
            next_chunk,
            horizon,
            max_span,
            head,
        });
    }
    if !reader.is_empty() {
        return Err(reader.corrupt("bytes after the last field"));
    }
    Ok(TwinSeries { fields, watermark })
}

/// One point of a head log entry, as `read_log_point` reads it.
pub(crate) struct LogPoint<'t> {
    /// The twin it belongs to.
    pub(crate) twin: &'t TwinId,
    /// The field's slot in the twin's record.
    pub(crate) slot: u64,
    /// Its time minus the previous point's in the entry (the first's from 0).
    pub(crate) delta: i64,
    pub(crate) value: Value,
}

/// Reads the next point of a head log entry (after the format byte): a twin
/// reference (an index into `twins`, which equal to its length introduces a new
/// twin id), the field slot, the time delta and the value.
pub(crate) fn read_log_point<'t>(
    reader: &mut ByteReader<'_>,
    twins: &'t mut Vec<TwinId>,
) -> Result<LogPoint<'t>, HistoryError> {
    let index = reader.bounded(twins.len(), "twin reference")?;
    if index == twins.len() {
        let id = reader.bytes_with_len(4 * world::TWIN_ID_LEN_MAX)?;
        let id = std::str::from_utf8(id)
            .ok()
            .and_then(|id| TwinId::parse(id).ok())
            .ok_or_else(|| reader.corrupt("twin id is not valid"))?;
        twins.push(id);
    }
    let slot = reader.varint()?;
    let delta = reader.signed()?;
    let value = read_value(reader)?;
    let twin = twins
        .get(index)
        .ok_or_else(|| reader.corrupt("twin reference past the twins listed"))?;
    Ok(LogPoint {
        twin,
        slot,
        delta,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Value;

    fn point(time: i64, value: Value) -> Point {
        Point {
            time: Timestamp(time),
            value,
        }
    }

    #[test]
    fn records_round_trip_with_short_and_long_heads() {
        let long: Vec<Point> = (0..100)
            .map(|i| point(i * 1000, Value::F64(f64::from_bits(i as u64 * 77))))
            .collect();
        let twin = TwinSeries {
            watermark: 42,
            fields: vec![
                FieldSeries {
                    name: "a".into(),
                    id: 7,
                    next_chunk: 3,
                    horizon: Some(-5),
                    max_span: 99,
                    head: vec![point(-1, Value::F64(-0.0)), point(4, Value::str("x"))],
                },
                FieldSeries {
                    name: "motor/rpm".into(),
                    id: 8,
                    next_chunk: 0,
                    horizon: None,
                    max_span: 0,
                    head: long.clone(),
                },
            ],
        };
        let base = base_time(&twin);
        assert_eq!(base, -1);
        let heads: Vec<Vec<u8>> = twin
            .fields
            .iter()
            .map(|f| head_bytes(&f.head, base))
            .collect();
        let bytes = encode(&twin, &heads, base);
        let back = decode(&bytes).unwrap();
        assert_eq!(back.watermark, 42);
        assert_eq!(back.fields.len(), 2);
        assert_eq!(back.fields[0].head, twin.fields[0].head);
        assert_eq!(back.fields[1].head, long);
        assert_eq!(back.fields[0].horizon, Some(-5));
        assert_eq!(back.fields[1].name.as_ref(), "motor/rpm");
        // Every truncation is an error, never a panic.
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    /// Found while writing the fuzz target's allocation bound: a head chunk
    /// of a few hundred bytes may claim 65,536 points, so a record listing many
    /// such heads decoded into memory far beyond its size (gigabytes from 64
    /// KiB). Heads now share `RECORD_HEAD_POINTS_MAX`, checked before decoding.
    #[test]
    fn heads_claiming_too_many_points_together_are_refused() {
        let long: Vec<Point> = (0..chunk::CHUNK_POINTS_DECODE_MAX as i64)
            .map(|i| point(i * 1_000_000_000, Value::I64(7)))
            .collect();
        let head = head_bytes(&long, 0);
        assert!(
            head.len() < 1024,
            "the head compresses ({} bytes)",
            head.len()
        );
        let record = |fields: usize| {
            let twin = TwinSeries {
                watermark: 0,
                fields: (0..fields)
                    .map(|i| FieldSeries {
                        name: format!("f{i}").into(),
                        id: i as u32,
                        next_chunk: 0,
                        horizon: None,
                        max_span: 0,
                        head: Vec::new(),
                    })
                    .collect(),
            };
            let heads = vec![head.clone(); fields];
            encode(&twin, &heads, 0)
        };
        let allowed = RECORD_HEAD_POINTS_MAX / chunk::CHUNK_POINTS_DECODE_MAX;
        let back = decode(&record(allowed)).unwrap();
        assert_eq!(back.fields.len(), allowed);
        assert!(back.fields.iter().all(|f| f.head == long));
        match decode(&record(allowed + 1)) {
            Err(HistoryError::Corrupt { reason, .. }) => {
                assert!(reason.contains("points together"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }

    proptest::proptest! {
        /// Arbitrary bytes (after a valid format byte) are an error or a record,
        /// never a panic or a runaway allocation.
        #[test]
        fn arbitrary_records_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let mut input = vec![RECORD_FORMAT];
            input.extend_from_slice(&bytes);
            let _ = decode(&input);
            let _ = decode(&bytes);
        }
    }
}
