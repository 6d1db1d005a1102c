//! Byte- and bit-level building blocks of every history format: LEB128 varints,
//! zigzag, a little-endian bit writer and a bounds-checked bit reader. Readers
//! never panic on short or hostile input; they return `HistoryError::Corrupt`
//! naming what they were reading.

use crate::HistoryError;

/// Maps signed to unsigned so that small magnitudes of either sign get small codes.
pub(crate) fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

/// The inverse of [`zigzag`].
pub(crate) fn unzigzag(code: u64) -> i64 {
    ((code >> 1) as i64) ^ -((code & 1) as i64)
}

/// Appends `value` as an unsigned LEB128 varint (1 to 10 bytes).
pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends a signed value as a zigzag varint.
pub(crate) fn put_signed(out: &mut Vec<u8>, value: i64) {
    put_varint(out, zigzag(value));
}

/// Reads bytes front to back with bounds checks; `what` names the format for errors.
pub(crate) struct ByteReader<'a> {
    bytes: &'a [u8],
    position: usize,
    what: &'static str,
}

impl<'a> ByteReader<'a> {
    pub(crate) fn new(bytes: &'a [u8], what: &'static str) -> Self {
        ByteReader {
            bytes,
            position: 0,
            what,
        }
    }

    /// An error at the current position.
    pub(crate) fn corrupt(&self, reason: impl Into<String>) -> HistoryError {
        HistoryError::Corrupt {
            what: self.what,
            offset: self.position,
            reason: reason.into(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.position >= self.bytes.len()
    }

    pub(crate) fn position(&self) -> usize {
        self.position
    }

    pub(crate) fn byte(&mut self) -> Result<u8, HistoryError> {
        let byte = *self
            .bytes
            .get(self.position)
            .ok_or_else(|| self.corrupt("ends early"))?;
        self.position += 1;
        Ok(byte)
    }

    pub(crate) fn take(&mut self, len: usize) -> Result<&'a [u8], HistoryError> {
        let end = self
            .position
            .checked_add(len)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| self.corrupt(format!("needs {len} more bytes than it has")))?;
        let slice = &self.bytes[self.position..end];
        self.position = end;
        Ok(slice)
    }

    pub(crate) fn u64_le(&mut self) -> Result<u64, HistoryError> {
        let bytes = self.take(8)?;
        let mut array = [0u8; 8];
        array.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(array))
    }

    pub(crate) fn varint(&mut self) -> Result<u64, HistoryError> {
        let mut value = 0u64;
        // A u64 needs at most 10 groups of 7 bits; the 10th may hold only 1 bit.
        for shift in (0..70).step_by(7) {
            let byte = self.byte()?;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(self.corrupt("varint overflows 64 bits"));
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(self.corrupt("varint longer than 10 bytes"))
    }

    pub(crate) fn signed(&mut self) -> Result<i64, HistoryError> {
        self.varint().map(unzigzag)
    }

    /// A varint that must be at most `max` (a count or a length about to be
    /// allocated or looped over).
    pub(crate) fn bounded(&mut self, max: usize, name: &str) -> Result<usize, HistoryError> {
        let value = self.varint()?;
        if value > max as u64 {
            return Err(self.corrupt(format!("{name} {value} is over the limit of {max}")));
        }
        Ok(value as usize)
    }

    /// A varint length followed by that many bytes.
    pub(crate) fn bytes_with_len(&mut self, max: usize) -> Result<&'a [u8], HistoryError> {
        let len = self.bounded(max, "length")?;
        self.take(len)
    }
}

/// Packs values of 0 to 64 bits, least significant bit first.
#[derive(Default)]
pub(crate) struct BitWriter {
    out: Vec<u8>,
    pending: u64,
    pending_bits: u32,
}

impl BitWriter {
    pub(crate) fn new() -> Self {
        BitWriter::default()
    }

    /// Appends the low `bits` bits of `value` (higher bits must be zero).
    #[inline]
    pub(crate) fn write(&mut self, value: u64, bits: u32) {
        debug_assert!(bits <= 64);
        debug_assert!(
            bits == 64 || value >> bits == 0,
            "value wider than {bits} bits"
        );
        if bits == 0 {
            return;
        }
        self.pending |= value << self.pending_bits;
        let total = self.pending_bits + bits;
        if total >= 64 {
            self.out.extend_from_slice(&self.pending.to_le_bytes());
            let used = 64 - self.pending_bits;
            // The bits of `value` that did not fit in the word just flushed.
            self.pending = if used == 64 { 0 } else { value >> used };
            self.pending_bits = total - 64;
        } else {
            self.pending_bits = total;
        }
    }

    #[inline]
    pub(crate) fn bit(&mut self, set: bool) {
        self.write(u64::from(set), 1);
    }

    /// Bits written so far.
    #[cfg(test)]
    pub(crate) fn len_bits(&self) -> usize {
        self.out.len() * 8 + self.pending_bits as usize
    }

    /// The bytes, the last one padded with zero bits.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        let bytes = self.pending_bits.div_ceil(8) as usize;
        self.out
            .extend_from_slice(&self.pending.to_le_bytes()[..bytes]);
        self.out
    }
}

/// Reads what [`BitWriter`] wrote; reading past the end is an error.
pub(crate) struct BitReader<'a> {
    bytes: &'a [u8],
    /// Index of the next bit to read.
    position: usize,
    what: &'static str,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(bytes: &'a [u8], what: &'static str) -> Self {
        BitReader {
            bytes,
            position: 0,
            what,
        }
    }

    fn corrupt(&self) -> HistoryError {
        HistoryError::Corrupt {
            what: self.what,
            offset: self.position / 8,
            reason: "bit stream ends early".to_owned(),
        }
    }

    /// Reads `bits` (0 to 64) bits.
    #[inline]
    pub(crate) fn read(&mut self, bits: u32) -> Result<u64, HistoryError> {
        debug_assert!(bits <= 64);
        if bits == 0 {
            return Ok(0);
        }
        let end = self.position + bits as usize;
        if end > self.bytes.len() * 8 {
            return Err(self.corrupt());
        }
        let byte = self.position / 8;
        let shift = (self.position % 8) as u32;
        // Load 16 bytes around the position (enough for 64 bits at any shift),
        // padding with zeros only near the end of the input.
        let wide = match self.bytes.get(byte..byte + 16) {
            Some(window) => {
                let mut word = [0u8; 16];
                word.copy_from_slice(window);
                u128::from_le_bytes(word)
            }
            None => {
                let mut word = [0u8; 16];
                let available = self.bytes.len() - byte;
                word[..available].copy_from_slice(&self.bytes[byte..]);
                u128::from_le_bytes(word)
            }
        } >> shift;
        self.position = end;
        let mask = if bits == 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        };
        Ok((wide as u64) & mask)
    }

    #[inline]
    pub(crate) fn bit(&mut self) -> Result<bool, HistoryError> {
        Ok(self.read(1)? == 1)
    }

    /// Reads `out.len()` values of `width` bits each (0 to 64) into `out`, each
    /// mapped through `map`: the hot loop of chunk decoding, with one bounds
    /// check for all.
    #[inline]
    pub(crate) fn unpack(
        &mut self,
        width: u32,
        out: &mut [i64],
        map: impl Fn(u64) -> i64,
    ) -> Result<(), HistoryError> {
        let end = width as usize * out.len() + self.position;
        if end > self.bytes.len() * 8 {
            return Err(self.corrupt());
        }
        if width > 56 {
            for slot in out.iter_mut() {
                *slot = map(self.read(width)?);
            }
            return Ok(());
        }
        let mask = (1u64 << width) - 1;
        let mut position = self.position;
        for slot in out.iter_mut() {
            let byte = position / 8;
            // A width of at most 56 bits plus a shift of at most 7 fits one
            // 8-byte load; near the end of the input, pad with zeros.
            let word = match self.bytes.get(byte..byte + 8) {
                Some(window) => {
                    let mut word = [0u8; 8];
                    word.copy_from_slice(window);
                    u64::from_le_bytes(word)
                }
                None => {
                    let mut word = [0u8; 8];
                    let tail = &self.bytes[byte.min(self.bytes.len())..];
                    word[..tail.len()].copy_from_slice(tail);
                    u64::from_le_bytes(word)
                }
            };
            *slot = map((word >> (position % 8)) & mask);
            position += width as usize;
        }
        self.position = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_maps_small_magnitudes_to_small_codes() {
        for (value, code) in [(0, 0), (-1, 1), (1, 2), (-2, 3), (i64::MAX, u64::MAX - 1)] {
            assert_eq!(zigzag(value), code);
            assert_eq!(unzigzag(code), value);
        }
        assert_eq!(unzigzag(zigzag(i64::MIN)), i64::MIN);
    }

    #[test]
    fn varints_round_trip_and_refuse_overflow() {
        let values = [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX];
        let mut out = Vec::new();
        for value in values {
            put_varint(&mut out, value);
        }
        let mut reader = ByteReader::new(&out, "test");
        for value in values {
            assert_eq!(reader.varint().unwrap(), value);
        }
        assert!(reader.is_empty());
        let overflow = [0xff; 9].iter().copied().chain([0x02]).collect::<Vec<_>>();
        assert!(ByteReader::new(&overflow, "test").varint().is_err());
        assert!(ByteReader::new(&[0x80], "test").varint().is_err());
    }

    proptest::proptest! {
        #[test]
        fn bits_round_trip(fields in proptest::collection::vec((proptest::num::u64::ANY, 0u32..=64), 0..200)) {
            let mut writer = BitWriter::new();
            let masked: Vec<(u64, u32)> = fields
                .iter()
                .map(|&(value, bits)| (if bits == 64 { value } else { value & ((1u64 << bits) - 1) }, bits))
                .collect();
            for &(value, bits) in &masked {
                writer.write(value, bits);
            }
            let total = writer.len_bits();
            let bytes = writer.finish();
            proptest::prop_assert_eq!(bytes.len(), total.div_ceil(8));
            let mut reader = BitReader::new(&bytes, "test");
            for &(value, bits) in &masked {
                proptest::prop_assert_eq!(reader.read(bits).unwrap(), value);
            }
            // The same stream read in runs of equal widths through `unpack`.
            let mut reader = BitReader::new(&bytes, "test");
            let mut index = 0;
            while index < masked.len() {
                let width = masked[index].1;
                let run = masked[index..].iter().take_while(|f| f.1 == width).count();
                let mut got = vec![0i64; run];
                reader.unpack(width, &mut got, |v| v as i64).unwrap();
                let want: Vec<i64> = masked[index..index + run].iter().map(|f| f.0 as i64).collect();
                proptest::prop_assert_eq!(got, want);
                index += run;
            }
            let padding = bytes.len() * 8 - total;
            proptest::prop_assert!(reader.read(padding as u32 + 1).is_err());
        }
    }
}
