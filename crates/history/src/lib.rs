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
