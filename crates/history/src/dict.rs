//! The codec for booleans, strings and enums, JSON, removals and chunks whose
//! values change kind: a per-chunk dictionary of the distinct values and the
//! sequence as runs of (dictionary index, length). States and modes change
//! rarely, so most chunks are a handful of runs.
//!
//! Layout: `entries: varint`, each entry a tagged value (`value::put_value`),
//! `runs: varint`, then the runs' dictionary indexes and their `length - 1` as
//! two packed integer sequences (`intpack`): a flag toggling at every sample
//! costs about a bit per point, a state that holds for hours almost nothing.

use std::collections::HashMap;

use crate::HistoryError;
use crate::bits::{ByteReader, put_varint};
use crate::intpack;
use crate::value::{Value, put_value, read_value};

/// The value codec byte of this codec.
pub(crate) const CODEC_DICTIONARY: u8 = 4;

/// Appends the dictionary form of `values` to `out`.
pub(crate) fn encode<'a>(values: impl Iterator<Item = &'a Value>, out: &mut Vec<u8>) {
    let mut index_of: HashMap<&Value, usize, foldhash::fast::RandomState> = HashMap::default();
    let mut entries: Vec<&Value> = Vec::new();
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for value in values {
        let next = entries.len();
        let index = *index_of.entry(value).or_insert_with(|| {
            entries.push(value);
            next
        });
        match runs.last_mut() {
            Some((last, len)) if *last == index => *len += 1,
            _ => runs.push((index, 1)),
        }
    }
    put_varint(out, entries.len() as u64);
    for entry in entries {
        put_value(out, entry);
    }
    put_varint(out, runs.len() as u64);
    let indexes: Vec<i64> = runs.iter().map(|&(index, _)| index as i64).collect();
    let lengths: Vec<i64> = runs.iter().map(|&(_, len)| len as i64 - 1).collect();
    intpack::encode(&indexes, out);
    intpack::encode(&lengths, out);
}

/// Decodes `count` values into `out` (cleared first).
pub(crate) fn decode(
    reader: &mut ByteReader<'_>,
    count: usize,
    out: &mut Vec<Value>,
) -> Result<(), HistoryError> {
    out.clear();
    let entry_count = reader.bounded(count, "dictionary size")?;
    let mut entries = Vec::with_capacity(entry_count);
    for _ in 0..entry_count {
        entries.push(read_value(reader)?);
    }
    let run_count = reader.bounded(count, "run count")?;
    let mut indexes = Vec::new();
    let mut lengths = Vec::new();
    intpack::decode(reader, run_count, &mut indexes)?;
    intpack::decode(reader, run_count, &mut lengths)?;
    out.reserve(count);
    for (&index, &len) in indexes.iter().zip(&lengths) {
        let entry = usize::try_from(index)
            .ok()
            .and_then(|index| entries.get(index))
            .ok_or_else(|| {
                reader.corrupt(format!(
                    "dictionary index {index} is not below {entry_count}"
                ))
            })?;
        let len = usize::try_from(len)
            .ok()
            .and_then(|len| len.checked_add(1))
            .filter(|&len| len <= count - out.len())
            .ok_or_else(|| reader.corrupt(format!("runs hold more than {count} values")))?;
        out.extend(std::iter::repeat_n(entry, len).cloned());
    }
    if out.len() != count {
        return Err(reader.corrupt(format!(
            "runs hold {} values where the chunk has {count}",
            out.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(values: &[Value]) -> usize {
        let mut out = Vec::new();
        encode(values.iter(), &mut out);
        let mut reader = ByteReader::new(&out, "test");
        let mut decoded = Vec::new();
        decode(&mut reader, values.len(), &mut decoded).unwrap();
        assert_eq!(decoded, values);
        assert!(reader.is_empty());
        out.len()
    }

    #[test]
    fn states_that_rarely_change_cost_a_few_bytes() {
        let mut values = vec![Value::str("idle"); 1000];
        values.extend(vec![Value::str("running"); 3000]);
        values.extend(vec![Value::str("idle"); 96]);
        assert!(round_trip(&values) < 48);
        let toggles: Vec<Value> = (0..100).map(|i| Value::Bool(i % 2 == 0)).collect();
        // Two dictionary entries, then about a bit per toggle.
        assert!(round_trip(&toggles) <= 2 + 2 + 1 + 8 + 100 / 8 + 16);
    }

    #[test]
    fn mixed_kinds_and_empty_chunks_round_trip() {
        round_trip(&[]);
        round_trip(&[
            Value::Null,
            Value::F64(f64::NAN),
            Value::I64(3),
            Value::Json("[1]".into()),
            Value::F64(-0.0),
            Value::F64(0.0),
            Value::Null,
        ]);
    }

    #[test]
    fn runs_beyond_the_count_are_refused() {
        let mut out = Vec::new();
        encode([Value::Bool(true), Value::Bool(true)].iter(), &mut out);
        let mut decoded = Vec::new();
        assert!(decode(&mut ByteReader::new(&out, "test"), 1, &mut decoded).is_err());
        assert!(decode(&mut ByteReader::new(&out, "test"), 3, &mut decoded).is_err());
    }
}
