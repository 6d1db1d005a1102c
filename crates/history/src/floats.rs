//! Codecs for a chunk of doubles. Plant sensors report decimal values at a fixed
//! resolution (21.37 °C, 0.01 steps), whose binary fractions make Gorilla's XOR
//! of neighbours long and noisy. So the chunk's decimal scale `k` is detected: a
//! value `v` is *exact at k* when `m = round(v * 10^k)` gives back exactly `v`
//! (bit for bit) as `m / 10^k`. The scaled integers `m` then go through the
//! integer packer (deltas, frame of reference, bit-packing). Values that are
//! not exact decimals (NaN, infinities, -0.0, subnormals, results of arithmetic)
//! are stored raw as exceptions; a chunk with too many of them, or one where XOR
//! simply comes out smaller, is XOR-coded instead. Both decoders reproduce every
//! bit.
//!
//! Decimal layout: `k: u8`, `exceptions: varint`, per exception `index gap:
//! varint` + `bits: u64 LE`, then the packed `m` (an exception's slot repeats the
//! previous `m`, so it costs nothing in the deltas).
//! XOR layout: `bits_len: varint`, then the bit stream: first value 64 bits; then
//! per value `0` (same as before), `10` + the meaningful bits in the previous
//! window, or `11` + leading zeros (6 bits) + meaningful length - 1 (6 bits) + bits.

use crate::HistoryError;
use crate::bits::{BitReader, BitWriter, ByteReader, put_varint};
use crate::intpack;

/// Largest decimal scale tried. 10^15 times a value of a few units still fits
/// the 2^53 integers a double holds exactly; scales above that buy nothing.
const DECIMAL_SCALE_MAX: usize = 15;

/// Exact powers of ten as doubles (all exactly representable up to 10^22).
const POWERS: [f64; DECIMAL_SCALE_MAX + 1] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// Values of magnitude 2^53 and above are not all integers' neighbours: keep
/// scaled values below it so `m as f64` is exact.
const SCALED_ABS_MAX: f64 = 9_007_199_254_740_992.0;

/// The value codec bytes a float chunk may carry.
pub(crate) const CODEC_DECIMAL: u8 = 1;
pub(crate) const CODEC_XOR: u8 = 2;

/// The smallest scale at which `value` is an exact decimal, if any.
fn decimal_scale(value: f64) -> Option<u8> {
    // -0.0 would come back as 0.0; NaN and infinities are not decimals.
    if !value.is_finite() || (value == 0.0 && value.is_sign_negative()) {
        return None;
    }
    for (k, &power) in POWERS.iter().enumerate() {
        let scaled = value * power;
        if scaled.abs() >= SCALED_ABS_MAX {
            return None;
        }
        let m = scaled.round();
        if (m / power).to_bits() == value.to_bits() {
            return Some(k as u8);
        }
    }
    None
}

fn scaled(value: f64, k: u8) -> Option<i64> {
    if !value.is_finite() || (value == 0.0 && value.is_sign_negative()) {
        return None;
    }
    let power = POWERS[usize::from(k)];
    let m = (value * power).round();
    if m.abs() >= SCALED_ABS_MAX || (m / power).to_bits() != value.to_bits() {
        return None;
    }
    Some(m as i64)
}

/// Encodes `values`, choosing the smaller of decimal and XOR; returns the codec
/// byte and appends the body to `out`.
pub(crate) fn encode(values: &[f64], out: &mut Vec<u8>) -> u8 {
    let xor = encode_xor(values);
    if let Some(decimal) = encode_decimal(values, xor.len())
        && decimal.len() < xor.len()
    {
        out.extend_from_slice(&decimal);
        return CODEC_DECIMAL;
    }
    out.extend_from_slice(&xor);
    CODEC_XOR
}

/// The decimal form, or `None` when too many values are not exact decimals (a
/// thirty-second of the chunk) or it cannot beat `budget` bytes.
fn encode_decimal(values: &[f64], budget: usize) -> Option<Vec<u8>> {
    let exceptions_max = values.len() / 32;
    // Histogram of the smallest exact scale; index DECIMAL_SCALE_MAX + 1 = none.
    let mut scales = [0usize; DECIMAL_SCALE_MAX + 2];
    for (index, &value) in values.iter().enumerate() {
        let slot = decimal_scale(value).map_or(DECIMAL_SCALE_MAX + 1, usize::from);
        scales[slot] += 1;
        // Give up early on data that is plainly not decimal (XOR will do).
        if index == 127 && scales[DECIMAL_SCALE_MAX + 1] > exceptions_max.max(4) {
            return None;
        }
    }
    // The smallest scale that leaves at most `exceptions_max` values out.
    let mut covered = 0usize;
    let mut chosen = None;
    for (k, &count) in scales[..=DECIMAL_SCALE_MAX].iter().enumerate() {
        covered += count;
        if values.len() - covered <= exceptions_max {
            chosen = Some(k as u8);
            break;
        }
    }
    let k = chosen?;
    let mut exceptions = Vec::new();
    let mut scaled_values = Vec::with_capacity(values.len());
    let mut previous = 0i64;
    for (index, &value) in values.iter().enumerate() {
        match scaled(value, k) {
            Some(m) => {
                scaled_values.push(m);
                previous = m;
            }
            None => {
                exceptions.push((index, value.to_bits()));
                scaled_values.push(previous);
            }
        }
    }
    let mut out = Vec::with_capacity(budget);
    out.push(k);
    put_varint(&mut out, exceptions.len() as u64);
    let mut last_index = 0usize;
    for &(index, bits) in &exceptions {
        put_varint(&mut out, (index - last_index) as u64);
        out.extend_from_slice(&bits.to_le_bytes());
        last_index = index;
    }
    intpack::encode(&scaled_values, &mut out);
    Some(out)
}

fn encode_xor(values: &[f64]) -> Vec<u8> {
    let mut writer = BitWriter::new();
    let mut previous = 0u64;
    // An impossible window, so the first nonzero XOR writes its own.
    let mut window: Option<(u32, u32)> = None;
    for (index, &value) in values.iter().enumerate() {
        let bits = value.to_bits();
        if index == 0 {
            writer.write(bits, 64);
            previous = bits;
            continue;
        }
        let xor = bits ^ previous;
        previous = bits;
        if xor == 0 {
            writer.bit(false);
            continue;
        }
        writer.bit(true);
        let leading = xor.leading_zeros().min(63);
        let trailing = xor.trailing_zeros();
        match window {
            Some((window_leading, window_trailing))
                if leading >= window_leading && trailing >= window_trailing =>
            {
                writer.bit(false);
                let meaningful = 64 - window_leading - window_trailing;
                writer.write(xor >> window_trailing, meaningful);
            }
            _ => {
                writer.bit(true);
                let meaningful = 64 - leading - trailing;
                writer.write(u64::from(leading), 6);
                writer.write(u64::from(meaningful - 1), 6);
                writer.write(xor >> trailing, meaningful);
                window = Some((leading, trailing));
            }
        }
    }
    let bits = writer.finish();
    let mut out = Vec::with_capacity(bits.len() + 4);
    put_varint(&mut out, bits.len() as u64);
    out.extend_from_slice(&bits);
    out
}

/// Decodes `count` doubles of `codec` into `out` (cleared first).
pub(crate) fn decode(
    codec: u8,
    reader: &mut ByteReader<'_>,
    count: usize,
    out: &mut Vec<f64>,
) -> Result<(), HistoryError> {
    out.clear();
    match codec {
        CODEC_DECIMAL => decode_decimal(reader, count, out),
        CODEC_XOR => decode_xor(reader, count, out),
        other => Err(reader.corrupt(format!("unknown float codec {other}"))),
    }
}

fn decode_decimal(
    reader: &mut ByteReader<'_>,
    count: usize,
    out: &mut Vec<f64>,
) -> Result<(), HistoryError> {
    let k = reader.byte()?;
    if usize::from(k) > DECIMAL_SCALE_MAX {
        return Err(reader.corrupt(format!("decimal scale {k} is over {DECIMAL_SCALE_MAX}")));
    }
    let exception_count = reader.bounded(count, "exception count")?;
    let mut exceptions = Vec::with_capacity(exception_count);
    let mut index = 0usize;
    for position in 0..exception_count {
        let gap = reader.bounded(count, "exception gap")?;
        index += gap;
        if index >= count || (position > 0 && gap == 0) {
            return Err(reader.corrupt(format!(
                "exception index {index} is out of order or beyond {count} values"
            )));
        }
        exceptions.push((index, f64::from_bits(reader.u64_le()?)));
    }
    let mut scaled_values = Vec::new();
    intpack::decode(reader, count, &mut scaled_values)?;
    let power = POWERS[usize::from(k)];
    out.extend(scaled_values.iter().map(|&m| m as f64 / power));
    for (index, value) in exceptions {
        out[index] = value;
    }
    Ok(())
}

fn decode_xor(
    reader: &mut ByteReader<'_>,
    count: usize,
    out: &mut Vec<f64>,
) -> Result<(), HistoryError> {
    // 64 bits for the first value, at most 2 + 12 + 64 for each other.
    let bits = reader.bytes_with_len(count.saturating_mul(10) + 8)?;
    let mut bit_reader = BitReader::new(bits, "float block");
    out.reserve(count);
    let mut previous = 0u64;
    let mut window = (0u32, 0u32);
    for index in 0..count {
        if index == 0 {
            previous = bit_reader.read(64)?;
            out.push(f64::from_bits(previous));
            continue;
        }
        if bit_reader.bit()? {
            let xor = if bit_reader.bit()? {
                let leading = bit_reader.read(6)? as u32;
                let meaningful = bit_reader.read(6)? as u32 + 1;
                if leading + meaningful > 64 {
                    return Err(HistoryError::Corrupt {
                        what: "float block",
                        offset: index,
                        reason: format!(
                            "{leading} leading zeros and {meaningful} meaningful bits exceed 64"
                        ),
                    });
                }
                let trailing = 64 - leading - meaningful;
                window = (leading, trailing);
                bit_reader.read(meaningful)? << trailing
            } else {
                let (leading, trailing) = window;
                if leading + trailing >= 64 {
                    return Err(HistoryError::Corrupt {
                        what: "float block",
                        offset: index,
                        reason: "reuses a window before one was set".to_owned(),
                    });
                }
                bit_reader.read(64 - leading - trailing)? << trailing
            };
            previous ^= xor;
        }
        out.push(f64::from_bits(previous));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(values: &[f64]) -> (u8, usize) {
        let mut out = Vec::new();
        let codec = encode(values, &mut out);
        let mut reader = ByteReader::new(&out, "test");
        let mut decoded = Vec::new();
        decode(codec, &mut reader, values.len(), &mut decoded).unwrap();
        assert!(reader.is_empty());
        let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&decoded), bits(values));
        (codec, out.len())
    }

    #[test]
    fn decimal_scale_is_the_shortest_exact_one() {
        assert_eq!(decimal_scale(21.37), Some(2));
        assert_eq!(decimal_scale(1500.0), Some(0));
        // 0.30000000000000004 needs 17 decimals.
        assert_eq!(decimal_scale(0.1 + 0.2), None);
        assert_eq!(decimal_scale(-0.0), None);
        assert_eq!(decimal_scale(f64::NAN), None);
        assert_eq!(decimal_scale(f64::INFINITY), None);
        assert_eq!(decimal_scale(5e-324), None);
        assert_eq!(decimal_scale(1e300), None);
    }

    #[test]
    fn quantized_sensors_beat_xor_by_far() {
        // A temperature drifting by 0.01 °C steps.
        let values: Vec<f64> = (0..4096)
            .map(|i| ((2137 + (i / 7) % 40) as f64) / 100.0)
            .collect();
        let (codec, bytes) = round_trip(&values);
        assert_eq!(codec, CODEC_DECIMAL);
        let xor = encode_xor(&values).len();
        assert!(bytes * 3 < xor, "decimal {bytes} bytes, xor {xor}");
    }

    #[test]
    fn special_values_fall_back_but_round_trip() {
        let mut values: Vec<f64> = (0..256).map(|i| f64::from(i) / 10.0).collect();
        values[3] = f64::NAN;
        values[100] = -0.0;
        let (codec, _) = round_trip(&values);
        assert_eq!(codec, CODEC_DECIMAL, "two exceptions in 256 stay decimal");
        round_trip(&[
            f64::NAN,
            f64::from_bits(0x7ff0_0000_0000_0001),
            f64::from_bits(0xfff8_0000_0000_1234),
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.0,
            5e-324,
            f64::MAX,
            f64::MIN_POSITIVE,
        ]);
        round_trip(&[]);
        round_trip(&[1.0]);
    }

    proptest::proptest! {
        #[test]
        fn any_doubles_round_trip(bits in proptest::collection::vec(proptest::num::u64::ANY, 0..200)) {
            let values: Vec<f64> = bits.into_iter().map(f64::from_bits).collect();
            round_trip(&values);
        }

        #[test]
        fn decimals_with_specials_round_trip(
            cents in proptest::collection::vec(-100_000i64..100_000, 1..300),
            specials in proptest::collection::vec((0usize..300, proptest::sample::select(vec![f64::NAN, -0.0, f64::INFINITY, f64::NEG_INFINITY, 5e-324, 0.1 + 0.2])), 0..6),
        ) {
            let mut values: Vec<f64> = cents.iter().map(|&c| c as f64 / 100.0).collect();
            let len = values.len();
            for (index, special) in specials {
                values[index % len] = special;
            }
            round_trip(&values);
        }
    }
}
