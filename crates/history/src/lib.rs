//! History: every property change and telemetry point of a world, kept as
//! compressed time series, one per (twin, field path).
//!
//! [`History`] keeps a world's series in the store, one record per twin (its
//! fields' series ids, chunk bookkeeping and open heads), with a bounded cache
//! of recently written twins in memory, and turns appended [`Sample`]s into
//! store writes ([`store::Write`]) that the server commits in the same
//! group-commit batch as the twin change they record, so nothing acknowledged
//! is lost; [`History::open`] replays only the head log (bounded by
//! configuration) after a restart, so memory and start time follow the hot
//! twins, not every series ever written.
//! Full heads are sealed into chunks compressed by codecs written for plant data
//! (`chunk`: timestamps by delta-of-delta bit-packing, decimal-scaled floats with
//! an XOR fallback, integers, dictionary runs), each with a [`Summary`] so that
//! [`History::downsample`] decodes only the chunks at bucket edges. Reads:
//! [`History::range`], [`History::downsample`], [`History::latest_at`],
//! [`History::world_at`].
//!
//! Field paths name a series within a twin: a property (`temperature`), a
//! component property (`motor/rpm`), a telemetry name, or a reserved name. The
//! placement is kept as one numeric series per coordinate
//! (`$placement/position/0..2`, `$placement/rotation/0..3`, `$placement/scale/..`)
//! and strings for `$placement/parent` and `$placement/asset`, so moving twins
//! compress like any sensor; [`EXISTS_FIELD`] records creation and deletion so
//! that [`History::world_at`] leaves out twins that did not exist at the instant.
//!
//! No I/O beyond the `Store` handed in, no threads, no clock: time is an argument.

mod bits;
pub mod chunk;
mod dict;
mod error;
mod floats;
mod history;
mod intpack;
mod read;
mod record;
mod value;

pub use chunk::Summary;
pub use error::HistoryError;
pub use history::{CHUNK_POINTS_MAX, History, HistoryConfig, SERIES_PER_WORLD_MAX, Sample, Tables};
pub use read::{
    BUCKETS_MAX, Bucket, RANGE_LIMIT_MAX, RangePage, TwinState, WORLD_PAGE_LIMIT_MAX, WorldPage,
};
pub use value::{EXISTS_FIELD, FIELD_PATH_BYTES_MAX, Point, VALUE_BYTES_MAX, Value};

/// Entry points for the cargo-fuzz targets in `crates/history/fuzz`: decoders of
/// stored rows that are otherwise private. Not part of the API.
#[doc(hidden)]
pub mod fuzzing {
    use crate::HistoryError;
    use crate::bits::ByteReader;
    use crate::chunk::Summary;
    use crate::{history, record};

    /// Most bytes a decoder may allocate per byte of input, besides the
    /// allowance below. The largest expansion is a record field: 7 bytes of
    /// input become a `FieldSeries` (72 bytes) plus its name's `Arc` (16 bytes),
    /// with a vector doubling on top.
    pub const ALLOC_PER_INPUT_BYTE: usize = 64;

    /// Bytes a decoder may allocate regardless of input size: compressed heads
    /// and chunks legitimately expand (under a bit per point), up to
    /// `RECORD_HEAD_POINTS_MAX` points in one record, each held once as a point
    /// (32 bytes) and once in the chunk's columns (up to 32 bytes) while a head
    /// decodes, plus slack for the growth of vectors.
    pub const ALLOC_ALLOWANCE: usize = record::RECORD_HEAD_POINTS_MAX * 32 * 3;

    /// Decodes a twin record; when it decodes, encodes it again (as a
    /// checkpoint would) and checks that those bytes decode to the same record.
    /// `Ok(true)`: decoded and round-tripped, `Ok(false)`: refused as corrupt,
    /// `Err(why)`: the round trip failed.
    pub fn record_round_trip(bytes: &[u8]) -> Result<bool, String> {
        let Ok(twin) = record::decode(bytes) else {
            return Ok(false);
        };
        let base = record::base_time(&twin);
        let heads: Vec<Vec<u8>> = twin
            .fields
            .iter()
            .map(|f| record::head_bytes(&f.head, base))
            .collect();
        let again = record::encode(&twin, &heads, base);
        match record::decode(&again) {
            Ok(back) if back == twin => Ok(true),
            Ok(back) => Err(format!(
                "re-encoded record decodes to {back:?}, not {twin:?}"
            )),
            Err(error) => Err(format!("re-encoded record does not decode: {error}")),
        }
    }

    /// Reads every point of a head log entry (format byte first), as
    /// `History::open` does; returns how many it held.
    pub fn log_entry(bytes: &[u8]) -> Result<usize, HistoryError> {
        let mut reader = ByteReader::new(bytes, "head log entry");
        let format = reader.byte()?;
        if format != record::RECORD_FORMAT {
            return Err(reader.corrupt(format!("format byte {format}")));
        }
        let mut twins = Vec::new();
        let mut points = 0;
        while !reader.is_empty() {
            record::read_log_point(&mut reader, &mut twins)?;
            points += 1;
        }
        Ok(points)
    }

    /// Decodes a chunk summary; when it decodes, checks that its encoding
    /// decodes to the same summary (bit for bit, NaNs included).
    pub fn summary_round_trip(bytes: &[u8]) -> Result<bool, String> {
        let Ok(summary) = Summary::decode(bytes) else {
            return Ok(false);
        };
        let mut again = Vec::new();
        summary.encode(&mut again);
        let same = |a: &Summary, b: &Summary| {
            (a.count, a.numeric_count, &a.first, &a.last)
                == (b.count, b.numeric_count, &b.first, &b.last)
                && [a.min, a.max, a.sum].map(f64::to_bits)
                    == [b.min, b.max, b.sum].map(f64::to_bits)
        };
        match Summary::decode(&again) {
            Ok(back) if same(&back, &summary) => Ok(true),
            Ok(back) => Err(format!(
                "re-encoded summary decodes to {back:?}, not {summary:?}"
            )),
            Err(error) => Err(format!("re-encoded summary does not decode: {error}")),
        }
    }

    /// Reads the meta rows: the append mark and the series counter.
    pub fn meta(bytes: &[u8]) -> (bool, bool) {
        (
            history::parse_mark(bytes).is_ok(),
            history::parse_series_counter(bytes).is_ok(),
        )
    }
}
