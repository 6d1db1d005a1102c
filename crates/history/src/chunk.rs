//! A sealed chunk: up to a few thousand points of one series, compressed, and its
//! [`Summary`] (count, numeric min/max/sum, first and last point) that lets
//! downsampling skip decoding every chunk that falls inside one bucket.
//!
//! Chunk layout (format byte [`CHUNK_FORMAT`]): `format: u8`, `count: varint`,
//! the time block, `value codec: u8`, the value block.
//! Time block: `unit: u8`, `t0: i64 LE`, packed integers. With `unit` 0 to 18 the
//! packed integers are `(t - t0) / 10^unit`: timestamps in nanoseconds that fall
//! on whole milliseconds or seconds lose the zeros; a unit of 255 means the
//! offsets overflowed and the raw timestamps are packed (wrapping arithmetic).
//! Value codecs: 1 decimal and 2 XOR (`floats`), 3 integers (`intpack`),
//! 4 dictionary runs (`dict`). A chunk whose values are all `F64` is a float
//! chunk, all `I64` an integer chunk, anything else a dictionary chunk.

use world::Timestamp;

use crate::HistoryError;
use crate::bits::{ByteReader, put_varint};
use crate::value::{Point, Value, put_value, read_value};
use crate::{dict, floats, intpack};

/// The format byte of chunks and summaries written by this version.
pub const CHUNK_FORMAT: u8 = 1;

/// Most points a stored chunk may claim. Sealing happens far below this
/// (`HistoryConfig::chunk_points_max`); the bound keeps a corrupt count from
/// allocating without limit.
pub const CHUNK_POINTS_DECODE_MAX: usize = 1 << 16;

/// The value codec of integer chunks.
const CODEC_INTEGER: u8 = 3;
/// The time unit byte meaning "raw timestamps, no common unit".
const UNIT_RAW: u8 = 255;
/// Largest time unit exponent: 10^18 ns is 31 years.
const UNIT_MAX: u8 = 18;

/// What a chunk holds, kept beside it so reads need not decode it.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Points in the chunk.
    pub count: u32,
    /// Points with a numeric value (`Value::numeric`).
    pub numeric_count: u32,
    /// Smallest numeric value (`+inf` when there is none).
    pub min: f64,
    /// Largest numeric value (`-inf` when there is none).
    pub max: f64,
    /// Sum of the numeric values, in time order.
    pub sum: f64,
    /// The earliest point.
    pub first: Point,
    /// The latest point.
    pub last: Point,
}

impl Summary {
    /// The summary of points in time order; `None` for no points.
    pub(crate) fn of(points: &[Point]) -> Option<Summary> {
        let first = points.first()?.clone();
        let last = points.last()?.clone();
        let mut summary = Summary {
            count: points.len() as u32,
            numeric_count: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            sum: 0.0,
            first,
            last,
        };
        for point in points {
            if let Some(number) = point.value.numeric() {
                summary.numeric_count += 1;
                summary.min = summary.min.min(number);
                summary.max = summary.max.max(number);
                summary.sum += number;
            }
        }
        Some(summary)
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.push(CHUNK_FORMAT);
        put_varint(out, u64::from(self.count));
        put_varint(out, u64::from(self.numeric_count));
        for number in [self.min, self.max, self.sum] {
            out.extend_from_slice(&number.to_bits().to_le_bytes());
        }
        for point in [&self.first, &self.last] {
            out.extend_from_slice(&point.time.0.to_le_bytes());
            put_value(out, &point.value);
        }
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Summary, HistoryError> {
        let mut reader = ByteReader::new(bytes, "chunk summary");
        check_format(&mut reader)?;
        let count = reader.bounded(CHUNK_POINTS_DECODE_MAX, "point count")? as u32;
        let numeric_count = reader.bounded(count as usize, "numeric count")? as u32;
        let mut numbers = [0f64; 3];
        for number in &mut numbers {
            *number = f64::from_bits(reader.u64_le()?);
        }
        let mut point = || -> Result<Point, HistoryError> {
            let time = Timestamp(reader.u64_le()? as i64);
            Ok(Point {
                time,
                value: read_value(&mut reader)?,
            })
        };
        let first = point()?;
        let last = point()?;
        Ok(Summary {
            count,
            numeric_count,
            min: numbers[0],
            max: numbers[1],
            sum: numbers[2],
            first,
            last,
        })
    }
}

fn check_format(reader: &mut ByteReader<'_>) -> Result<(), HistoryError> {
    let format = reader.byte()?;
    if format != CHUNK_FORMAT {
        return Err(reader.corrupt(format!(
            "format byte {format}; this version reads {CHUNK_FORMAT}"
        )));
    }
    Ok(())
}

/// Compresses points (any order, any values) into a chunk.
pub fn encode(points: &[Point]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + points.len() * 2);
    out.push(CHUNK_FORMAT);
    put_varint(&mut out, points.len() as u64);
    encode_times(points, &mut out);
    if points.iter().all(|p| matches!(p.value, Value::F64(_))) && !points.is_empty() {
        let values: Vec<f64> = points
            .iter()
            .map(|p| match p.value {
                Value::F64(f) => f,
                _ => 0.0,
            })
            .collect();
        let codec_at = out.len();
        out.push(0);
        out[codec_at] = floats::encode(&values, &mut out);
    } else if points.iter().all(|p| matches!(p.value, Value::I64(_))) && !points.is_empty() {
        out.push(CODEC_INTEGER);
        let values: Vec<i64> = points
            .iter()
            .map(|p| match p.value {
                Value::I64(i) => i,
                _ => 0,
            })
            .collect();
        intpack::encode(&values, &mut out);
    } else {
        out.push(dict::CODEC_DICTIONARY);
        dict::encode(points.iter().map(|p| &p.value), &mut out);
    }
    out
}

fn encode_times(points: &[Point], out: &mut Vec<u8>) {
    let t0 = points.first().map_or(0, |p| p.time.0);
    let offsets: Option<Vec<i64>> = points.iter().map(|p| p.time.0.checked_sub(t0)).collect();
    let (unit, packed) = match offsets {
        Some(offsets) => {
            let common = offsets.iter().fold(0u64, |g, &o| gcd(g, o.unsigned_abs()));
            let mut unit = 0u8;
            let mut divisor = 1i64;
            while unit < UNIT_MAX && common != 0 && common % (divisor as u64 * 10) == 0 {
                unit += 1;
                divisor *= 10;
            }
            (
                unit,
                offsets.iter().map(|o| o / divisor).collect::<Vec<_>>(),
            )
        }
        None => (UNIT_RAW, points.iter().map(|p| p.time.0).collect()),
    };
    out.push(unit);
    out.extend_from_slice(&t0.to_le_bytes());
    intpack::encode(&packed, out);
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// A decoded chunk as columns: reads that only aggregate numbers skip building
/// a `Value` per point.
pub(crate) struct Columns {
    pub(crate) times: Vec<i64>,
    pub(crate) values: ValueColumn,
}

/// The values of a decoded chunk.
pub(crate) enum ValueColumn {
    F64(Vec<f64>),
    I64(Vec<i64>),
    Any(Vec<Value>),
}

impl Columns {
    pub(crate) fn value(&self, index: usize) -> Value {
        match &self.values {
            ValueColumn::F64(values) => Value::F64(values[index]),
            ValueColumn::I64(values) => Value::I64(values[index]),
            ValueColumn::Any(values) => values[index].clone(),
        }
    }

    pub(crate) fn into_points(self) -> Vec<Point> {
        let times = self.times.into_iter().map(Timestamp);
        match self.values {
            ValueColumn::F64(values) => times
                .zip(values)
                .map(|(time, f)| Point {
                    time,
                    value: Value::F64(f),
                })
                .collect(),
            ValueColumn::I64(values) => times
                .zip(values)
                .map(|(time, i)| Point {
                    time,
                    value: Value::I64(i),
                })
                .collect(),
            ValueColumn::Any(values) => times
                .zip(values)
                .map(|(time, value)| Point { time, value })
                .collect(),
        }
    }
}

/// The point count a chunk claims in its header (what decoding it would
/// allocate for), without decoding it.
pub(crate) fn claimed_points(bytes: &[u8]) -> Result<usize, HistoryError> {
    let mut reader = ByteReader::new(bytes, "chunk");
    check_format(&mut reader)?;
    reader.bounded(CHUNK_POINTS_DECODE_MAX, "point count")
}

/// Decodes a chunk; any malformed input is an error, never a panic.
pub fn decode(bytes: &[u8]) -> Result<Vec<Point>, HistoryError> {
    decode_columns(bytes).map(Columns::into_points)
}

/// Decodes a chunk into columns.
pub(crate) fn decode_columns(bytes: &[u8]) -> Result<Columns, HistoryError> {
    let mut reader = ByteReader::new(bytes, "chunk");
    check_format(&mut reader)?;
    let count = reader.bounded(CHUNK_POINTS_DECODE_MAX, "point count")?;
    let unit = reader.byte()?;
    if unit > UNIT_MAX && unit != UNIT_RAW {
        return Err(reader.corrupt(format!("time unit {unit} is not 0 to 18 or 255")));
    }
    let t0 = reader.u64_le()? as i64;
    let mut times = Vec::new();
    intpack::decode(&mut reader, count, &mut times)?;
    if unit != UNIT_RAW {
        let divisor = 10i64.pow(u32::from(unit));
        for time in &mut times {
            *time = t0.wrapping_add(time.wrapping_mul(divisor));
        }
    }
    let codec = reader.byte()?;
    let values = match codec {
        floats::CODEC_DECIMAL | floats::CODEC_XOR => {
            let mut values = Vec::new();
            floats::decode(codec, &mut reader, count, &mut values)?;
            ValueColumn::F64(values)
        }
        CODEC_INTEGER => {
            let mut values = Vec::new();
            intpack::decode(&mut reader, count, &mut values)?;
            ValueColumn::I64(values)
        }
        dict::CODEC_DICTIONARY => {
            let mut values = Vec::new();
            dict::decode(&mut reader, count, &mut values)?;
            ValueColumn::Any(values)
        }
        other => return Err(reader.corrupt(format!("unknown value codec {other}"))),
    };
    if !reader.is_empty() {
        return Err(reader.corrupt(format!(
            "{} bytes follow the end of the chunk",
            bytes.len() - reader.position()
        )));
    }
    Ok(Columns { times, values })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy;

    fn at(time: i64, value: Value) -> Point {
        Point {
            time: Timestamp(time),
            value,
        }
    }

    #[test]
    fn whole_seconds_cost_a_fraction_of_a_bit() {
        let points: Vec<Point> = (0..3600)
            .map(|i| at(1_700_000_000_000_000_000 + i * 1_000_000_000, Value::I64(7)))
            .collect();
        let bytes = encode(&points);
        // Under a bit per point for time and value together.
        assert!(bytes.len() < 3600 / 8, "{} bytes", bytes.len());
        assert_eq!(decode(&bytes).unwrap(), points);
    }

    #[test]
    fn the_summary_counts_numbers_and_keeps_the_ends() {
        let points = vec![
            at(1, Value::F64(2.5)),
            at(2, Value::F64(f64::NAN)),
            at(3, Value::I64(-4)),
            at(4, Value::str("x")),
            at(5, Value::Bool(true)),
        ];
        let summary = Summary::of(&points).unwrap();
        assert_eq!((summary.count, summary.numeric_count), (5, 3));
        assert_eq!((summary.min, summary.max, summary.sum), (-4.0, 2.5, -0.5));
        let mut bytes = Vec::new();
        summary.encode(&mut bytes);
        assert_eq!(Summary::decode(&bytes).unwrap(), summary);
        assert_eq!(decode(&encode(&points)).unwrap(), points);
    }

    fn value_strategy() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        prop_oneof![
            any::<u64>().prop_map(|b| Value::F64(f64::from_bits(b))),
            (-100_000i64..100_000).prop_map(|c| Value::F64(c as f64 / 100.0)),
            any::<i64>().prop_map(Value::I64),
            any::<bool>().prop_map(Value::Bool),
            "[a-z]{0,3}".prop_map(|s| Value::str(&s)),
            "[\\[\\]0-9,]{0,4}".prop_map(|s| Value::Json(s.into())),
            Just(Value::Null),
        ]
    }

    proptest::proptest! {
        /// Every chunk round-trips bit for bit: any timestamps (equal,
        /// decreasing, extreme), floats only, integers only, or any mix.
        #[test]
        fn chunks_round_trip(
            times in proptest::prop_oneof![
                proptest::collection::vec(proptest::num::i64::ANY, 0..120),
                (proptest::num::i64::ANY, proptest::collection::vec(-3i64..4, 0..120)).prop_map(|(start, steps)| {
                    steps.iter().scan(start, |t, s| { *t = t.wrapping_add(s * 1_000_000); Some(*t) }).collect()
                }),
            ],
            values in proptest::collection::vec(value_strategy(), 120),
            kind in 0u8..3,
        ) {
            let points: Vec<Point> = times
                .iter()
                .zip(&values)
                .map(|(&time, value)| {
                    let value = match (kind, value) {
                        (0, Value::F64(f)) => Value::F64(*f),
                        (0, _) => Value::F64(time as f64 / 7.0),
                        (1, _) => Value::I64(time / 3),
                        _ => value.clone(),
                    };
                    at(time, value)
                })
                .collect();
            proptest::prop_assert_eq!(decode(&encode(&points)).unwrap(), points);
        }

        /// Truncated or altered chunks are refused or decode to something, but
        /// never panic.
        #[test]
        fn damaged_chunks_never_panic(
            values in proptest::collection::vec(value_strategy(), 1..60),
            cut in proptest::num::usize::ANY,
            flip in proptest::num::usize::ANY,
            bit in 0u8..8,
        ) {
            let points: Vec<Point> = values.into_iter().enumerate().map(|(i, v)| at(i as i64 * 1000, v)).collect();
            let bytes = encode(&points);
            let _ = decode(&bytes[..cut % bytes.len()]);
            let mut flipped = bytes.clone();
            let index = flip % flipped.len();
            flipped[index] ^= 1 << bit;
            let _ = decode(&flipped);
        }
    }

    /// Chunks written by format 1 must keep decoding: the fuzz seeds are such
    /// chunks, stored as files when the format was fixed.
    #[test]
    fn format_1_chunks_still_decode() {
        let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/chunk");
        let expected = [
            ("decimal", 300, "F64"),
            ("xor", 100, "F64"),
            ("specials", 5, "F64"),
            ("integers", 200, "I64"),
            ("dictionary", 50, "mixed"),
        ];
        for (name, count, kind) in expected {
            let bytes = std::fs::read(seeds.join(name)).unwrap();
            let points = decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(points.len(), count, "{name}");
            let got = if points.iter().all(|p| matches!(p.value, Value::F64(_))) {
                "F64"
            } else if points.iter().all(|p| matches!(p.value, Value::I64(_))) {
                "I64"
            } else {
                "mixed"
            };
            assert_eq!(got, kind, "{name}");
            // Encoding again gives the very same bytes: the encoder is
            // deterministic and unchanged.
            assert_eq!(encode(&points), bytes, "{name}");
        }
        let specials = decode(&std::fs::read(seeds.join("specials")).unwrap()).unwrap();
        assert!(matches!(specials[0].value, Value::F64(f) if f.is_nan()));
        assert_eq!(specials[3].time, Timestamp(i64::MIN));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(decode(&[]).is_err());
        assert!(decode(&[CHUNK_FORMAT + 1]).is_err());
        let mut bytes = encode(&[at(1, Value::F64(1.5))]);
        bytes.push(0);
        assert!(decode(&bytes).is_err());
        assert!(Summary::decode(&[CHUNK_FORMAT, 200]).is_err());
    }
}
