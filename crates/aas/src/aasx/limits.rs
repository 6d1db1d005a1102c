//! The limits an AASX reader enforces before it unpacks anything, so that a
//! hostile package (a zip bomb, a million tiny entries, names that climb out of
//! the package) is refused with a named limit instead of exhausting memory.
//! Every limit is checked against the sizes the zip's central directory
//! declares, and again while unpacking, where a part that expands beyond its
//! declared size is refused too.

/// At most this many bytes are unpacked from one package in total. Everything a
/// reader returns (spec parts, thumbnail, supplementary files) is held in
/// memory, so this bounds what one import can cost; real AASX packages with CAD
/// models and manuals reach a few hundred MiB.
pub const TOTAL_BYTES_MAX: u64 = 512 * 1024 * 1024;

/// At most this many bytes are unpacked from one part (a spec part, a
/// thumbnail, one supplementary file).
pub const ENTRY_BYTES_MAX: u64 = 256 * 1024 * 1024;

/// At most this many zip entries. The IDTA templates have 5 to 40; a package
/// of every document of a plant stays well below 10,000, while a bomb made of
/// millions of empty entries is refused before its names are even looked at.
pub const ENTRIES_MAX: usize = 10_000;

/// An entry may expand at most this many times its compressed size (checked for
/// entries larger than [`RATIO_CHECK_FLOOR_BYTES`]). AAS XML and JSON compress
/// 5–30 times, deflate cannot exceed about 1,032; classic zip bombs sit at that
/// ceiling.
pub const COMPRESSION_RATIO_MAX: u64 = 100;

/// Entries smaller than this are not held to the compression ratio: a few
/// hundred KiB of repetitive XML can legitimately compress 100-fold, and small
/// entries are bounded by [`TOTAL_BYTES_MAX`] anyway.
pub const RATIO_CHECK_FLOOR_BYTES: u64 = 1024 * 1024;

/// At most this many bytes in a part name (a zip entry name or a relationship
/// target). OPC does not bound them; Windows paths stop at 260 characters and no
/// real package comes near 1,024.
pub const PART_NAME_LEN_MAX: usize = 1024;

/// The limits an AASX reader enforces; [`AasxLimits::DEFAULT`] holds the
/// constants of this module. A server that accepts uploads sets them from its
/// configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AasxLimits {
    /// Bytes unpacked from the whole package ([`TOTAL_BYTES_MAX`]).
    pub total_bytes_max: u64,
    /// Bytes unpacked from one part ([`ENTRY_BYTES_MAX`]).
    pub entry_bytes_max: u64,
    /// Zip entries, directories included ([`ENTRIES_MAX`]).
    pub entries_max: usize,
    /// Uncompressed size over compressed size of one entry above
    /// [`RATIO_CHECK_FLOOR_BYTES`] ([`COMPRESSION_RATIO_MAX`]).
    pub compression_ratio_max: u64,
    /// Bytes in one part name ([`PART_NAME_LEN_MAX`]).
    pub part_name_len_max: usize,
}

impl AasxLimits {
    /// The module's constants.
    pub const DEFAULT: AasxLimits = AasxLimits {
        total_bytes_max: TOTAL_BYTES_MAX,
        entry_bytes_max: ENTRY_BYTES_MAX,
        entries_max: ENTRIES_MAX,
        compression_ratio_max: COMPRESSION_RATIO_MAX,
        part_name_len_max: PART_NAME_LEN_MAX,
    };
}

impl Default for AasxLimits {
    fn default() -> AasxLimits {
        AasxLimits::DEFAULT
    }
}
