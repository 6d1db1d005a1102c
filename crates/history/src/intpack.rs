//! The integer packer behind timestamps, integer series and decimal-scaled
//! floats: a sequence of `i64` becomes residuals of order 0 (the values), 1
//! (deltas) or 2 (delta-of-delta), whichever packs smallest, divided by their
//! greatest common divisor, then bit-packed in blocks of [`BLOCK`] with a
//! frame of reference (each block stores its minimum and the bit width of
//! `value - minimum`). Regular timestamps cost one bit per block of 64 once
//! the frame repeats, a counter with a steady rate the same, a sensor quantized
//! to 0.01 whose value moves by a few steps a handful of bits per value.
//!
//! All arithmetic wraps, so every `i64` sequence round-trips, including jumps
//! across the whole range.
//!
//! Layout: `order: u8`, `order` signed varints (the leading values the residuals
//! start from), `divisor: varint`, `bits_len: varint`, then the bit stream: per
//! block one bit, 1 when the block reuses the previous block's frame, else 0
//! followed by `min_width: 7 bits`, `zigzag(min): min_width bits`, `width: 7
//! bits`; then `width` bits per value.

use crate::HistoryError;
use crate::bits::{BitReader, BitWriter, ByteReader, put_signed, put_varint, unzigzag, zigzag};

/// Values per bit-packing block: small enough that one outlier (a gap in the
/// timestamps, a spike) widens only 64 values, large enough that the 14+ bits of
/// block header cost under a quarter bit per value.
const BLOCK: usize = 64;

/// Residuals of `order` (0, 1 or 2) written into `out`, which has `values.len()`
/// entries: the first `order` of them are the leading values the rest build on.
fn residuals(values: &[i64], order: u8, out: &mut Vec<i64>) {
    out.clear();
    match order {
        0 => out.extend_from_slice(values),
        1 => {
            let mut previous = 0i64;
            for &value in values {
                out.push(value.wrapping_sub(previous));
                previous = value;
            }
        }
        _ => {
            let mut previous = 0i64;
            let mut previous_delta = 0i64;
            for (index, &value) in values.iter().enumerate() {
                let delta = value.wrapping_sub(previous);
                out.push(match index {
                    0 => value,
                    1 => delta,
                    _ => delta.wrapping_sub(previous_delta),
                });
                previous = value;
                previous_delta = delta;
            }
        }
    }
}

fn width(value: u64) -> u32 {
    64 - value.leading_zeros()
}

/// Bits the blocks of `packed` take.
fn packed_bits(packed: &[i64]) -> usize {
    packed
        .chunks(BLOCK)
        .map(|block| {
            let (min, max) = min_max(block);
            let span = max.wrapping_sub(min) as u64;
            15 + width(zigzag(min)) as usize + width(span) as usize * block.len()
        })
        .sum()
}

fn min_max(block: &[i64]) -> (i64, i64) {
    block
        .iter()
        .fold((i64::MAX, i64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)))
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Appends the packed form of `values` to `out`.
pub(crate) fn encode(values: &[i64], out: &mut Vec<u8>) {
    let mut scratch = Vec::with_capacity(values.len());
    let mut best: Option<(usize, u8)> = None;
    for order in 0..=2u8 {
        if usize::from(order) > values.len() {
            break;
        }
        residuals(values, order, &mut scratch);
        let header_bits: usize = scratch[..usize::from(order)]
            .iter()
            .map(|&v| (width(zigzag(v)) as usize).div_ceil(7).max(1) * 8)
            .sum();
        let bits = header_bits + packed_bits(&scratch[usize::from(order)..]);
        if best.is_none_or(|(best_bits, _)| bits < best_bits) {
            best = Some((bits, order));
        }
    }
    let order = best.map_or(0, |(_, order)| order);
    residuals(values, order, &mut scratch);
    let (header, packed) = scratch.split_at_mut(usize::from(order));
    out.push(order);
    for &value in header.iter() {
        put_signed(out, value);
    }
    // A common divisor (a sensor stepping by 5 units of its last decimal, a
    // counter counting by 10) is taken out of every residual.
    let divisor = packed.iter().fold(0u64, |g, &v| gcd(g, v.unsigned_abs()));
    let divisor = if divisor == 0 || divisor > i64::MAX as u64 {
        1
    } else {
        divisor
    };
    if divisor > 1 {
        for value in packed.iter_mut() {
            *value /= divisor as i64;
        }
    }
    put_varint(out, divisor);
    let mut writer = BitWriter::new();
    let mut previous_header = None;
    for block in packed.chunks(BLOCK) {
        let (min, max) = min_max(block);
        let block_width = width(max.wrapping_sub(min) as u64);
        // One bit says "same frame as the block before": regular timestamps and
        // constant values then cost a bit per block.
        let same = previous_header == Some((min, block_width));
        writer.bit(same);
        if !same {
            let min_code = zigzag(min);
            let min_width = width(min_code);
            writer.write(u64::from(min_width), 7);
            writer.write(min_code, min_width);
            writer.write(u64::from(block_width), 7);
            previous_header = Some((min, block_width));
        }
        for &value in block {
            writer.write(value.wrapping_sub(min) as u64, block_width);
        }
    }
    let bits = writer.finish();
    put_varint(out, bits.len() as u64);
    out.extend_from_slice(&bits);
}

/// Reads `count` values packed by [`encode`] into `out` (which is cleared).
pub(crate) fn decode(
    reader: &mut ByteReader<'_>,
    count: usize,
    out: &mut Vec<i64>,
) -> Result<(), HistoryError> {
    out.clear();
    let order = reader.byte()?;
    if order > 2 || usize::from(order) > count {
        return Err(reader.corrupt(format!(
            "residual order {order} is not 0, 1 or 2 within {count} values"
        )));
    }
    let mut header = [0i64; 2];
    for slot in header.iter_mut().take(usize::from(order)) {
        *slot = reader.signed()?;
    }
    let divisor = reader.varint()?;
    if divisor == 0 || divisor > i64::MAX as u64 {
        return Err(reader.corrupt(format!("divisor {divisor} is out of range")));
    }
    let divisor = divisor as i64;
    // At most 64 bits per value plus block headers; refuse a longer claim early.
    let bits_max = count * 8 + count.div_ceil(BLOCK) * 20 + 8;
    let bits = reader.bytes_with_len(bits_max)?;
    let mut bit_reader = BitReader::new(bits, "integer block");
    out.resize(count, 0);
    out[..usize::from(order)].copy_from_slice(&header[..usize::from(order)]);
    let mut filled = usize::from(order);
    let mut remaining = count - usize::from(order);
    let block_width = |w: u32| -> Result<u32, HistoryError> {
        if w > 64 {
            Err(HistoryError::Corrupt {
                what: "integer block",
                offset: 0,
                reason: format!("bit width {w} is over 64"),
            })
        } else {
            Ok(w)
        }
    };
    let mut header: Option<(i64, u32)> = None;
    while remaining > 0 {
        let len = remaining.min(BLOCK);
        let (min, value_width) = match (bit_reader.bit()?, header) {
            (true, Some(previous)) => previous,
            (true, None) => {
                return Err(HistoryError::Corrupt {
                    what: "integer block",
                    offset: 0,
                    reason: "the first block repeats a frame that does not exist".to_owned(),
                });
            }
            (false, _) => {
                let min_width = block_width(bit_reader.read(7)? as u32)?;
                let min = unzigzag(bit_reader.read(min_width)?);
                (min, block_width(bit_reader.read(7)? as u32)?)
            }
        };
        header = Some((min, value_width));
        let slots = &mut out[filled..filled + len];
        if value_width == 0 {
            slots.fill(min.wrapping_mul(divisor));
        } else if divisor == 1 {
            bit_reader.unpack(value_width, slots, |offset| min.wrapping_add(offset as i64))?;
        } else {
            bit_reader.unpack(value_width, slots, |offset| {
                min.wrapping_add(offset as i64).wrapping_mul(divisor)
            })?;
        }
        filled += len;
        remaining -= len;
    }
    // Undo the residuals: running sums, once per order.
    let start = usize::from(order);
    match order {
        0 => {}
        1 => {
            let mut previous = out[0];
            for value in &mut out[1..] {
                previous = previous.wrapping_add(*value);
                *value = previous;
            }
        }
        _ => {
            let mut previous = out[0];
            let mut delta = out[1];
            out[1] = previous.wrapping_add(delta);
            previous = out[1];
            for value in &mut out[start..] {
                delta = delta.wrapping_add(*value);
                previous = previous.wrapping_add(delta);
                *value = previous;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(values: &[i64]) -> usize {
        let mut out = Vec::new();
        encode(values, &mut out);
        let mut reader = ByteReader::new(&out, "test");
        let mut decoded = Vec::new();
        decode(&mut reader, values.len(), &mut decoded).unwrap();
        assert_eq!(decoded, values);
        assert!(reader.is_empty());
        out.len()
    }

    #[test]
    fn regular_sequences_cost_almost_nothing() {
        let seconds: Vec<i64> = (0..4096).map(|i| 1_700_000_000 + i).collect();
        assert!(round_trip(&seconds) < 4096 / 16, "{}", round_trip(&seconds));
        let counter: Vec<i64> = (0..4096).map(|i| 10 * i).collect();
        assert!(round_trip(&counter) < 4096 / 16);
        let constant = vec![42i64; 1000];
        assert!(round_trip(&constant) < 60);
    }

    #[test]
    fn extremes_and_short_sequences_round_trip() {
        round_trip(&[]);
        round_trip(&[i64::MIN]);
        round_trip(&[i64::MIN, i64::MAX]);
        round_trip(&[i64::MAX, i64::MIN, 0, i64::MAX, -1]);
        round_trip(&[5, 5, 4, 3, 100, -100]);
    }

    proptest::proptest! {
        #[test]
        fn any_sequence_round_trips(values in proptest::collection::vec(proptest::num::i64::ANY, 0..300)) {
            round_trip(&values);
        }

        #[test]
        fn small_steps_round_trip(start in proptest::num::i64::ANY, steps in proptest::collection::vec(-300i64..300, 0..300)) {
            let values: Vec<i64> = steps.iter().scan(start, |v, s| { *v = v.wrapping_add(*s); Some(*v) }).collect();
            round_trip(&values);
        }
    }
}
