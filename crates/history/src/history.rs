//! [`History`]: the time series of one world, kept in the store, with a
//! bounded cache of recently written twins in memory. Appending is pure state +
//! store writes, so the server puts them into the same group-commit batch as the
//! twin change they record; after a restart (even `kill -9`) [`History::open`]
//! rebuilds exactly the heads that were committed, reading only the head log
//! (bounded by the cache), never every series.
//!
//! Store layout per world (tables named by [`Tables`]):
//! - `h/{world}/series`: twin id → the twin's record (`record.rs`): per field
//!   its series id, chunk bookkeeping and open head, and the head-log watermark.
//! - `h/{world}/log`: log number (u64 BE) → the points of one `append` call for
//!   cached twins (twin, field slot, time, value per point). An entry is deleted
//!   in the batch that writes the record of the last twin still needing it.
//! - `h/{world}/index`: series ‖ first time ‖ chunk number → [`Summary`].
//! - `h/{world}/chunks`: the same key → the compressed chunk.
//! - `h/{world}/meta`: `series` → the next series id; `mark` → the number of the
//!   last `append` whose writes the store holds (see "Evicted twins" below).
//!
//! Memory: a cached twin costs its fields and open heads; when the heads pass
//! `head_points_max` the least recently written ones are sealed early, and when
//! the cache passes `cache_bytes_max` the least recently written twins are
//! written back as records and dropped. A miss reads one
//! record. A twin is *checkpointed* (its record rewritten, its claim on the log
//! released) whenever its bookkeeping changes (a new field, a sealed chunk),
//! when it is evicted, and when the live log passes `log_bytes_max`: so the log
//! holds only points not yet in any record, bounded by configuration.
//!
//! Evicted twins: the caller commits the writes later (group commit), so a
//! record written at eviction may not be in the store yet when the twin is
//! needed again. History keeps such records in memory, tagged with their
//! append's number, until the store's `mark` shows that append committed.
//! The caller must commit the writes of successive appends in order (group
//! commit does) or reopen the history when they are lost.
//!
//! Rules for time order (tested in `tests/history.rs`):
//! - A point later than everything sealed goes into the series' open head, in
//!   time order wherever it arrives; a point at a time the head already has
//!   replaces it (the last written wins).
//! - A point at or before the sealed horizon (the latest sealed time), or one so
//!   early that the head would span more than `chunk_span_max`, is *late*: the
//!   late points of one `append` call are sealed at once into chunks of their own.
//!   Chunks may then overlap in time; reads merge them, and at equal times the
//!   chunk sealed later wins, so "the last written wins" holds everywhere.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use store::{Store, TableName, Write};
use world::{Timestamp, TwinId, WorldId};

use crate::HistoryError;
use crate::bits::{ByteReader, put_signed, put_varint};
use crate::chunk::{self, CHUNK_POINTS_DECODE_MAX, Summary};
use crate::record::{self, FieldSeries, RECORD_FORMAT, TwinSeries};
use crate::value::{Point, VALUE_BYTES_MAX, Value, check_field, put_value};

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Most series one world may have: series ids are 32-bit in chunk keys. Memory
/// no longer grows with the number of series (only the cache does), so the
/// limit is the id space, with headroom.
pub const SERIES_PER_WORLD_MAX: usize = 2_000_000_000;

/// A head log entry is closed and a new one started past this many bytes, well
/// below the store's value limit.
const LOG_ENTRY_BYTES_MAX: usize = 8 * 1024 * 1024;

/// Largest twin record written. Past it, the twin's largest heads are sealed
/// into chunks first, so a record stays far below the store's value limit and a
/// cache miss stays cheap.
const RECORD_BYTES_MAX: usize = 1024 * 1024;

/// Memory a cached twin costs besides its fields (map slot, LRU entry, record
/// bookkeeping), and each field besides its name and head; estimates from the
/// struct sizes, used only for the cache budget.
const TWIN_OVERHEAD_BYTES: usize = 160;
const FIELD_OVERHEAD_BYTES: usize = 96;
const POINT_BYTES: usize = std::mem::size_of::<Point>();

/// Heads shorter than this are not sealed early when the head budget is
/// exceeded: one- or few-point chunks would cost more (index entries, chunk
/// reads for `latest_at`) than the memory they free; such twins are evicted
/// instead, their short heads kept in their records.
const SEAL_EARLY_POINTS_MIN: usize = 64;

/// Meta keys.
const META_SERIES: &[u8] = b"series";
const META_MARK: &[u8] = b"mark";

/// How a world's history is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryConfig {
    /// A head is sealed into a chunk when it holds this many points (1 to 16,384).
    /// Larger chunks compress a little better and make edge decoding dearer.
    pub chunk_points_max: usize,
    /// ... or when its points would span more than this many nanoseconds, so a
    /// slow series still seals and reads near an instant stay cheap.
    pub chunk_span_max_ns: i64,
    /// Chunks whose last point is older than this are dropped by
    /// [`History::retain`]; `None` keeps everything.
    pub retention_ns: Option<i64>,
    /// Most points the open heads of cached twins may hold together (each costs
    /// about 32 bytes in memory). Past it, the heads of the least recently
    /// written twins are sealed early (smaller chunks, no cache misses) until a
    /// quarter of it is free.
    pub head_points_max: usize,
    /// Memory budget of the cache of recently written twins, in bytes (fields,
    /// heads, bookkeeping; at least 1). Past it, the least recently written
    /// twins are written back and dropped.
    pub cache_bytes_max: usize,
    /// Most bytes of head log not yet folded into twin records (at least 1).
    /// Past it, the twins holding the oldest entries are checkpointed. This is
    /// what [`History::open`] reads after a crash, so it bounds restart time.
    pub log_bytes_max: usize,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            chunk_points_max: 4096,
            chunk_span_max_ns: 3600 * 1_000_000_000,
            retention_ns: None,
            head_points_max: 1_000_000,
            cache_bytes_max: 64 * 1024 * 1024,
            // A restart replays about 30 MiB/s of log on a busy two-core
            // machine (bench_history): 32 MiB keeps it near a second.
            log_bytes_max: 32 * 1024 * 1024,
        }
    }
}

/// Most points one chunk may be configured to hold; a quarter of what decoding
/// accepts, so chunks written by a larger configuration still read.
pub const CHUNK_POINTS_MAX: usize = CHUNK_POINTS_DECODE_MAX / 4;

/// Smallest cache and log budgets. Any positive budget works (a tiny one
/// writes every twin back after each append, as the tests do on purpose).
const BUDGET_BYTES_MIN: usize = 1;

impl HistoryConfig {
    fn check(&self) -> Result<(), HistoryError> {
        let refuse = |reason: String| Err(HistoryError::InvalidConfig { reason });
        if !(1..=CHUNK_POINTS_MAX).contains(&self.chunk_points_max) {
            return refuse(format!(
                "chunk_points_max is {}; allowed: 1 to {CHUNK_POINTS_MAX}",
                self.chunk_points_max
            ));
        }
        if self.chunk_span_max_ns < 1 {
            return refuse(format!(
                "chunk_span_max_ns is {}; allowed: at least 1",
                self.chunk_span_max_ns
            ));
        }
        if self.head_points_max < self.chunk_points_max {
            return refuse(format!(
                "head_points_max is {}; allowed: at least chunk_points_max ({})",
                self.head_points_max, self.chunk_points_max
            ));
        }
        if self.cache_bytes_max < BUDGET_BYTES_MIN {
            return refuse(format!(
                "cache_bytes_max is {}; allowed: at least {BUDGET_BYTES_MIN}",
                self.cache_bytes_max
            ));
        }
        if self.log_bytes_max < BUDGET_BYTES_MIN {
            return refuse(format!(
                "log_bytes_max is {}; allowed: at least {BUDGET_BYTES_MIN}",
                self.log_bytes_max
            ));
        }
        if self.retention_ns.is_some_and(|r| r < 1) {
            return refuse("retention_ns must be at least 1 when set".to_owned());
        }
        Ok(())
    }
}

/// One point to append: a value of a twin's field at an instant.
#[derive(Clone, Debug)]
pub struct Sample<'a> {
    /// The twin.
    pub twin: &'a TwinId,
    /// The field path: a property, `component/property`, a telemetry name, or a
    /// reserved name (`$placement/position/x`, [`crate::EXISTS_FIELD`]).
    pub field: &'a str,
    /// When.
    pub time: Timestamp,
    /// The value.
    pub value: Value,
}

/// The tables of one world's history.
#[derive(Clone, Debug)]
pub struct Tables {
    /// Twin records (series catalog and open heads).
    pub series: TableName,
    /// Head log.
    pub log: TableName,
    /// Chunk summaries.
    pub index: TableName,
    /// Compressed chunks.
    pub chunks: TableName,
    /// Counters: next series id, last append mark.
    pub meta: TableName,
}

impl Tables {
    /// The tables of `world`'s history (drop them all to delete it).
    pub fn of(world: &WorldId) -> Tables {
        let name = |kind: &str| {
            // World names are [a-z0-9-], always valid in table names.
            TableName::new(&format!("h/{world}/{kind}"))
                .unwrap_or_else(|_| unreachable!("world ids fit table names"))
        };
        Tables {
            series: name("series"),
            log: name("log"),
            index: name("index"),
            chunks: name("chunks"),
            meta: name("meta"),
        }
    }

    /// All of them, e.g. for `Store::drop_tables`.
    pub fn all(&self) -> [TableName; 5] {
        [
            self.series.clone(),
            self.log.clone(),
            self.index.clone(),
            self.chunks.clone(),
            self.meta.clone(),
        ]
    }
}

/// A cached twin: its series plus cache bookkeeping.
#[derive(Debug)]
struct Cached {
    series: TwinSeries,
    /// Log entries holding points of this twin after its watermark.
    logs: Vec<u64>,
    /// When it was last written (the cache's clock), for eviction.
    tick: u64,
    /// Estimated memory, as counted in `History::cache_bytes`.
    bytes: usize,
    /// Points in its heads, as counted in `History::head_total`.
    points: usize,
    /// Changed in a way only a new record captures (new field, sealed chunk).
    dirty: bool,
    /// The append whose writes hold its latest record, or `None` when the
    /// record came from the store.
    written_at: Option<u64>,
}

/// A live head log entry.
#[derive(Clone, Copy, Debug)]
struct LogEntry {
    /// Cached twins still needing it.
    refs: u32,
    bytes: usize,
}

/// The history of one world. Not thread-safe by itself: the server keeps it
/// beside the world, under the same lock, so appends follow `Seq` order.
#[derive(Debug)]
pub struct History {
    pub(crate) world: WorldId,
    pub(crate) config: HistoryConfig,
    pub(crate) tables: Tables,
    cache: FastMap<TwinId, Cached>,
    /// Touches in time order (twin, tick); stale ones (tick no longer the
    /// twin's) are skipped and compacted away.
    lru: VecDeque<(TwinId, u64)>,
    tick: u64,
    cache_bytes: usize,
    head_total: usize,
    /// Records of evicted twins whose write may not be committed yet: twin →
    /// (append number that wrote it, record bytes).
    limbo: FastMap<TwinId, (u64, Vec<u8>)>,
    log_refs: BTreeMap<u64, LogEntry>,
    log_live_bytes: usize,
    next_log: u64,
    next_series: u32,
    /// Number of the next append (its writes carry it as `mark`).
    appends: u64,
    /// Deletes found necessary while opening, handed out with the next append.
    pending: Vec<Write>,
}
/// Key of a chunk and its summary: series id, first time (sign-flipped so that
/// byte order is time order), chunk number.
pub(crate) fn chunk_key(series: u32, first: i64, chunk: u32) -> [u8; 20] {
    let mut key = [0u8; 20];
    key[..8].copy_from_slice(&u64::from(series).to_be_bytes());
    key[8..16].copy_from_slice(&time_key(first));
    key[16..].copy_from_slice(&chunk.to_be_bytes());
    key
}

pub(crate) fn time_key(time: i64) -> [u8; 8] {
    ((time as u64) ^ (1 << 63)).to_be_bytes()
}

/// Reads a chunk key back: (series, first time, chunk number).
pub(crate) fn parse_chunk_key(key: &[u8]) -> Result<(u32, i64, u32), HistoryError> {
    if key.len() != 20 {
        return Err(HistoryError::Corrupt {
            what: "chunk key",
            offset: 0,
            reason: format!("has {} bytes, not 20", key.len()),
        });
    }
    let mut word = [0u8; 8];
    word.copy_from_slice(&key[..8]);
    let series = u64::from_be_bytes(word);
    word.copy_from_slice(&key[8..16]);
    let first = (u64::from_be_bytes(word) ^ (1 << 63)) as i64;
    let mut chunk = [0u8; 4];
    chunk.copy_from_slice(&key[16..]);
    let series = u32::try_from(series).map_err(|_| HistoryError::Corrupt {
        what: "chunk key",
        offset: 0,
        reason: format!("series id {series} is out of range"),
    })?;
    Ok((series, first, u32::from_be_bytes(chunk)))
}

/// Inserts `point` into points sorted by time; an equal time is replaced.
/// Returns whether the point was added (not a replacement).
pub(crate) fn insert_sorted(points: &mut Vec<Point>, point: Point) -> bool {
    match points.last_mut() {
        Some(last) if last.time < point.time => points.push(point),
        // Values stamped with one arrival time (a batch of messages) land on the
        // newest point: replace it without a search.
        Some(last) if last.time == point.time => {
            *last = point;
            return false;
        }
        None => points.push(point),
        _ => match points.binary_search_by_key(&point.time, |p| p.time) {
            Ok(index) => {
                points[index] = point;
                return false;
            }
            Err(index) => points.insert(index, point),
        },
    }
    true
}

/// Writes sorted, unique points as a new chunk of `field`.
fn write_chunk(
    tables: &Tables,
    field: &mut FieldSeries,
    points: &[Point],
    writes: &mut Vec<Write>,
) {
    let Some(summary) = Summary::of(points) else {
        return;
    };
    let number = field.next_chunk;
    field.next_chunk += 1;
    let (first, last) = (summary.first.time.0, summary.last.time.0);
    field.horizon = Some(field.horizon.map_or(last, |h| h.max(last)));
    field.max_span = field.max_span.max(last.saturating_sub(first));
    let key = chunk_key(field.id, first, number);
    let mut summary_bytes = Vec::with_capacity(64);
    summary.encode(&mut summary_bytes);
    writes.push(Write::put(&tables.index, key, summary_bytes));
    writes.push(Write::put(&tables.chunks, key, chunk::encode(points)));
}

/// Writes the log entry being built, unless no twin needs any of its points.
fn close_entry(
    log_refs: &mut BTreeMap<u64, LogEntry>,
    live_bytes: &mut usize,
    tables: &Tables,
    log: u64,
    entry: &mut Vec<u8>,
    writes: &mut Vec<Write>,
) {
    match log_refs.get_mut(&log) {
        Some(live) if live.refs > 0 => {
            live.bytes = entry.len();
            *live_bytes += entry.len();
            writes.push(Write::put(
                &tables.log,
                log.to_be_bytes(),
                std::mem::replace(entry, vec![RECORD_FORMAT]),
            ));
        }
        _ => {
            log_refs.remove(&log);
            entry.truncate(1);
        }
    }
}

/// Seals `field`'s open head into a chunk.
fn seal_head(tables: &Tables, field: &mut FieldSeries, writes: &mut Vec<Write>) {
    let head = std::mem::take(&mut field.head);
    write_chunk(tables, field, &head, writes);
}

/// Estimated memory of a cached twin and the points in its heads.
fn cost(twin: &TwinId, series: &TwinSeries) -> (usize, usize) {
    let mut bytes = TWIN_OVERHEAD_BYTES + twin.as_str().len();
    let mut points = 0;
    for field in &series.fields {
        points += field.head.len();
        // The text of string values is not counted: walking every head point on
        // each append would cost more than the appends (strings are short
        // enum-like values in practice, and bounded by VALUE_BYTES_MAX).
        bytes += FIELD_OVERHEAD_BYTES + field.name.len() + field.head.capacity() * POINT_BYTES;
    }
    (bytes, points)
}

fn read_u64(bytes: &[u8], what: &'static str) -> Result<u64, HistoryError> {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_le_bytes)
        .map_err(|_| HistoryError::Corrupt {
            what,
            offset: 0,
            reason: format!("has {} bytes, not 8", bytes.len()),
        })
}

/// Reads a mark row: (append number, next log number).
pub(crate) fn parse_mark(bytes: &[u8]) -> Result<(u64, u64), HistoryError> {
    if bytes.len() != 16 {
        return Err(HistoryError::Corrupt {
            what: "append mark",
            offset: 0,
            reason: format!("has {} bytes, not 16", bytes.len()),
        });
    }
    Ok((
        read_u64(&bytes[..8], "append mark")?,
        read_u64(&bytes[8..], "append mark")?,
    ))
}

/// Reads the series counter row: the next series id.
pub(crate) fn parse_series_counter(bytes: &[u8]) -> Result<u32, HistoryError> {
    let next = read_u64(bytes, "series counter")?;
    u32::try_from(next)
        .ok()
        .filter(|n| (*n as usize) <= SERIES_PER_WORLD_MAX)
        .ok_or_else(|| HistoryError::Corrupt {
            what: "series counter",
            offset: 0,
            reason: format!("{next} is over the series limit"),
        })
}

impl History {
    /// An empty history (a new world). Prefer [`History::open`] for a world that
    /// may have a past.
    pub fn new(world: WorldId, config: HistoryConfig) -> Result<History, HistoryError> {
        config.check()?;
        let tables = Tables::of(&world);
        Ok(History {
            world,
            config,
            tables,
            cache: FastMap::default(),
            lru: VecDeque::new(),
            tick: 0,
            cache_bytes: 0,
            head_total: 0,
            limbo: FastMap::default(),
            log_refs: BTreeMap::new(),
            log_live_bytes: 0,
            next_log: 0,
            next_series: 0,
            appends: 0,
            pending: Vec::new(),
        })
    }

    /// Opens a world's history from what the store committed: the counters and
    /// the head log, whose points go back into the heads of the twins they
    /// belong to (those twins are then cached). Costs O(head log), which
    /// `log_bytes_max` bounds, not O(series).
    pub fn open(
        store: &dyn Store,
        world: WorldId,
        config: HistoryConfig,
    ) -> Result<History, HistoryError> {
        let mut history = History::new(world, config)?;
        let meta = history.tables.meta.clone();
        if let Some(bytes) = store
            .get(&meta, META_SERIES)
            .map_err(HistoryError::store("reading the series counter"))?
        {
            history.next_series = parse_series_counter(&bytes)?;
        }
        if let Some((mark, next_log)) = history.read_mark(store)? {
            history.appends = mark.saturating_add(1);
            history.next_log = next_log;
        }
        let mut failure = None;
        let log_table = history.tables.log.clone();
        store
            .scan(&log_table, &mut |key, value| {
                let replayed = <[u8; 8]>::try_from(key)
                    .map(u64::from_be_bytes)
                    .map_err(|_| HistoryError::Corrupt {
                        what: "head log key",
                        offset: 0,
                        reason: format!("has {} bytes, not 8", key.len()),
                    })
                    .and_then(|log| {
                        history.replay(store, log, value)?;
                        history.next_log = history.next_log.max(log.saturating_add(1));
                        Ok(())
                    });
                match replayed {
                    Ok(()) => true,
                    Err(error) => {
                        failure = Some(error);
                        false
                    }
                }
            })
            .map_err(HistoryError::store("reading the head log"))?;
        if let Some(error) = failure {
            return Err(error);
        }
        // Entries no twin needs any more cannot normally exist (the batch that
        // wrote the record of their last twin deleted them); clear any with the
        // next append.
        let dead: Vec<u64> = history
            .log_refs
            .iter()
            .filter(|(_, entry)| entry.refs == 0)
            .map(|(log, _)| *log)
            .collect();
        for log in dead {
            if let Some(entry) = history.log_refs.remove(&log) {
                history.log_live_bytes -= entry.bytes;
            }
            history
                .pending
                .push(Write::delete(&history.tables.log, log.to_be_bytes()));
        }
        let twins: Vec<TwinId> = history.cache.keys().cloned().collect();
        for twin in twins {
            history.refresh(&twin);
        }
        // The log may hold more twins than the cache budget: write the least
        // recently loaded back now; their records go out with the next append
        // (and the next log number is past the watermarks they get).
        let committed = history.committed_mark(store)?;
        let log_now = history.next_log;
        let mut writes = std::mem::take(&mut history.pending);
        history.shrink(log_now, committed, &mut writes);
        history.pending = writes;
        history.next_log = log_now + 1;
        Ok(history)
    }

    /// The mark row: this append's number and the next log number. The log
    /// number must survive even when every entry has been deleted: twin
    /// records' watermarks refer to it, so numbers are never reused.
    fn mark_write(&self) -> Write {
        let mut value = [0u8; 16];
        value[..8].copy_from_slice(&self.appends.to_le_bytes());
        value[8..].copy_from_slice(&self.next_log.to_le_bytes());
        Write::put(&self.tables.meta, META_MARK, value)
    }

    /// The store's mark row: (number of the last append whose writes it holds,
    /// next log number then).
    fn read_mark(&self, store: &dyn Store) -> Result<Option<(u64, u64)>, HistoryError> {
        let Some(bytes) = store
            .get(&self.tables.meta, META_MARK)
            .map_err(HistoryError::store("reading the append mark"))?
        else {
            return Ok(None);
        };
        parse_mark(&bytes).map(Some)
    }

    /// The number of the last append whose writes the store holds.
    fn committed_mark(&self, store: &dyn Store) -> Result<Option<u64>, HistoryError> {
        Ok(self.read_mark(store)?.map(|(mark, _)| mark))
    }

    fn replay(&mut self, store: &dyn Store, log: u64, value: &[u8]) -> Result<(), HistoryError> {
        let mut reader = ByteReader::new(value, "head log entry");
        let format = reader.byte()?;
        if format != RECORD_FORMAT {
            return Err(reader.corrupt(format!("format byte {format}")));
        }
        self.log_refs.insert(
            log,
            LogEntry {
                refs: 0,
                bytes: value.len(),
            },
        );
        self.log_live_bytes += value.len();
        let mut twins: Vec<TwinId> = Vec::new();
        let mut time = 0i64;
        while !reader.is_empty() {
            let record::LogPoint {
                twin,
                slot,
                delta,
                value,
            } = record::read_log_point(&mut reader, &mut twins)?;
            let twin = twin.clone();
            time = time.wrapping_add(delta);
            let tick = self.tick;
            let cached = self.load(store, &twin)?;
            if log < cached.series.watermark {
                continue; // already in the twin's record
            }
            let field = usize::try_from(slot)
                .ok()
                .and_then(|slot| cached.series.fields.get_mut(slot))
                .ok_or_else(|| reader.corrupt("a point of a field the twin does not have"))?;
            insert_sorted(
                &mut field.head,
                Point {
                    time: Timestamp(time),
                    value,
                },
            );
            cached.tick = tick;
            if cached.logs.last() != Some(&log) {
                cached.logs.push(log);
                if let Some(entry) = self.log_refs.get_mut(&log) {
                    entry.refs += 1;
                }
            }
        }
        Ok(())
    }

    /// Brings `twin` into the cache (from the limbo, the store, or empty).
    fn load(&mut self, store: &dyn Store, twin: &TwinId) -> Result<&mut Cached, HistoryError> {
        use std::collections::hash_map::Entry;
        match self.cache.entry(twin.clone()) {
            Entry::Occupied(entry) => Ok(entry.into_mut()),
            Entry::Vacant(vacant) => {
                let (series, written_at) = match self.limbo.remove(twin) {
                    Some((tag, bytes)) => (record::decode(&bytes)?, Some(tag)),
                    None => match store
                        .get(&self.tables.series, twin.as_str().as_bytes())
                        .map_err(HistoryError::store("reading a twin record"))?
                    {
                        Some(bytes) => (record::decode(&bytes)?, None),
                        None => (TwinSeries::default(), None),
                    },
                };
                let (bytes, points) = cost(twin, &series);
                self.cache_bytes += bytes;
                self.head_total += points;
                self.lru.push_back((twin.clone(), self.tick));
                Ok(vacant.insert(Cached {
                    series,
                    logs: Vec::new(),
                    tick: self.tick,
                    bytes,
                    points,
                    dirty: false,
                    written_at,
                }))
            }
        }
    }

    /// `twin`'s series as they are now, without caching them.
    pub(crate) fn fetch(
        &self,
        store: &dyn Store,
        twin: &str,
    ) -> Result<Option<Cow<'_, TwinSeries>>, HistoryError> {
        if let Some(cached) = self.cache.get(twin) {
            return Ok(Some(Cow::Borrowed(&cached.series)));
        }
        if let Some((_, bytes)) = self.limbo.get(twin) {
            return Ok(Some(Cow::Owned(record::decode(bytes)?)));
        }
        match store
            .get(&self.tables.series, twin.as_bytes())
            .map_err(HistoryError::store("reading a twin record"))?
        {
            Some(bytes) => Ok(Some(Cow::Owned(record::decode(&bytes)?))),
            None => Ok(None),
        }
    }

    /// The in-memory version of `twin`, if newer than the store's.
    pub(crate) fn in_memory(
        &self,
        twin: &str,
    ) -> Result<Option<Cow<'_, TwinSeries>>, HistoryError> {
        if let Some(cached) = self.cache.get(twin) {
            return Ok(Some(Cow::Borrowed(&cached.series)));
        }
        match self.limbo.get(twin) {
            Some((_, bytes)) => Ok(Some(Cow::Owned(record::decode(bytes)?))),
            None => Ok(None),
        }
    }

    /// Twins held in memory (cached or awaiting their record's commit).
    pub(crate) fn twins_in_memory(&self) -> impl Iterator<Item = &TwinId> {
        self.cache.keys().chain(self.limbo.keys())
    }

    /// Twins in memory whose record this history wrote and the store may not
    /// hold yet (the others came from the store).
    pub(crate) fn fresh_twins(&self) -> impl Iterator<Item = &TwinId> {
        self.cache
            .iter()
            .filter(|(_, c)| c.written_at.is_some())
            .map(|(t, _)| t)
            .chain(self.limbo.keys())
    }

    /// Recounts a cached twin's memory and head points into the totals.
    fn refresh(&mut self, twin: &TwinId) {
        if let Some(cached) = self.cache.get_mut(twin) {
            let (bytes, points) = cost(twin, &cached.series);
            self.cache_bytes = self.cache_bytes - cached.bytes + bytes;
            self.head_total = self.head_total - cached.points + points;
            cached.bytes = bytes;
            cached.points = points;
        }
    }

    /// Writes `twin`'s record (sealing its largest heads first if the record
    /// would be too large) and releases its claims on the head log. `log_now`
    /// is the entry being built, which `close_entry` handles.
    fn checkpoint(&mut self, twin: &TwinId, log_now: u64, writes: &mut Vec<Write>) -> Vec<u8> {
        let Some(cached) = self.cache.get_mut(twin) else {
            return Vec::new();
        };
        let base = record::base_time(&cached.series);
        let mut heads: Vec<Vec<u8>> = cached
            .series
            .fields
            .iter()
            .map(|f| record::head_bytes(&f.head, base))
            .collect();
        // Bounded: each round empties one more head, the largest in bytes while
        // the record is too large, then the largest in points while its heads
        // hold too many.
        for _ in 0..heads.len() {
            let total: usize = heads.iter().map(Vec::len).sum::<usize>()
                + cached
                    .series
                    .fields
                    .iter()
                    .map(|f| f.name.len() + 32)
                    .sum::<usize>();
            let points: usize = cached.series.fields.iter().map(|f| f.head.len()).sum();
            let largest = if total > RECORD_BYTES_MAX {
                heads.iter().enumerate().max_by_key(|(_, h)| h.len())
            } else if points > record::RECORD_HEAD_POINTS_MAX {
                // Decoding refuses more points than this (see the constant).
                let fields = &cached.series.fields;
                heads
                    .iter()
                    .enumerate()
                    .max_by_key(|(i, _)| fields[*i].head.len())
            } else {
                break;
            };
            let Some((largest, _)) = largest else {
                break;
            };
            seal_head(&self.tables, &mut cached.series.fields[largest], writes);
            heads[largest] = record::head_bytes(&[], base);
        }
        cached.series.watermark = log_now + 1;
        cached.dirty = false;
        cached.written_at = Some(self.appends);
        let bytes = record::encode(&cached.series, &heads, base);
        writes.push(Write::put(
            &self.tables.series,
            twin.as_str().as_bytes(),
            bytes.clone(),
        ));
        for log in std::mem::take(&mut cached.logs) {
            if let Some(entry) = self.log_refs.get_mut(&log) {
                entry.refs -= 1;
                if entry.refs == 0 && log != log_now {
                    self.log_live_bytes -= entry.bytes;
                    self.log_refs.remove(&log);
                    writes.push(Write::delete(&self.tables.log, log.to_be_bytes()));
                }
            }
        }
        bytes
    }

    /// Drops `twin` from the cache, writing its record first when the store
    /// does not have it, and keeping the record in the limbo until the store
    /// shows it committed.
    fn evict(
        &mut self,
        twin: &TwinId,
        log_now: u64,
        committed: Option<u64>,
        writes: &mut Vec<Write>,
    ) {
        let Some(cached) = self.cache.get(twin) else {
            return;
        };
        let clean = !cached.dirty && cached.logs.is_empty();
        let empty = cached.series.fields.is_empty();
        let durable = cached
            .written_at
            .is_none_or(|written| committed.is_some_and(|mark| written <= mark));
        let limbo = if empty {
            None
        } else if !clean {
            Some(self.checkpoint(twin, log_now, writes))
        } else if durable {
            None
        } else {
            let base = record::base_time(&cached.series);
            let heads: Vec<Vec<u8>> = cached
                .series
                .fields
                .iter()
                .map(|f| record::head_bytes(&f.head, base))
                .collect();
            Some(record::encode(&cached.series, &heads, base))
        };
        if let Some(cached) = self.cache.remove(twin) {
            self.cache_bytes -= cached.bytes;
            self.head_total -= cached.points;
            if let Some(bytes) = limbo {
                let tag = cached.written_at.unwrap_or(self.appends);
                self.limbo.insert(twin.clone(), (tag, bytes));
            }
        }
    }

    /// The world this history belongs to.
    pub fn world(&self) -> &WorldId {
        &self.world
    }

    /// The configuration in force.
    pub fn config(&self) -> &HistoryConfig {
        &self.config
    }

    /// The tables this history writes.
    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    /// Number of series ever started in this world.
    pub fn series_count(&self) -> usize {
        self.next_series as usize
    }

    /// Points held in the open heads of cached twins (in memory).
    pub fn head_points(&self) -> usize {
        self.head_total
    }

    /// Twins in the cache.
    pub fn cached_twins(&self) -> usize {
        self.cache.len()
    }

    /// Estimated memory of the cache (and of records awaiting their commit).
    pub fn cache_bytes(&self) -> usize {
        self.cache_bytes
            + self
                .limbo
                .values()
                .map(|(_, b)| b.len() + 64)
                .sum::<usize>()
    }

    /// Bytes of head log entries still needed (what a restart replays).
    pub fn log_bytes(&self) -> usize {
        self.log_live_bytes
    }

    /// The field paths that have a series for `twin`, sorted.
    pub fn fields(&self, store: &dyn Store, twin: &str) -> Result<Vec<Arc<str>>, HistoryError> {
        let mut fields: Vec<Arc<str>> = match self.fetch(store, twin)? {
            Some(series) => series.fields.iter().map(|f| f.name.clone()).collect(),
            None => Vec::new(),
        };
        fields.sort();
        Ok(fields)
    }

    /// The twins that have at least one series, sorted.
    pub fn twins(&self, store: &dyn Store) -> Result<Vec<TwinId>, HistoryError> {
        let mut twins: Vec<TwinId> = Vec::new();
        let mut failure = None;
        store
            .scan(
                &self.tables.series,
                &mut |key, _| match std::str::from_utf8(key)
                    .ok()
                    .and_then(|k| TwinId::parse(k).ok())
                {
                    Some(twin) => {
                        twins.push(twin);
                        true
                    }
                    None => {
                        failure = Some(HistoryError::Corrupt {
                            what: "twin record key",
                            offset: 0,
                            reason: "is not a valid twin id".to_owned(),
                        });
                        false
                    }
                },
            )
            .map_err(HistoryError::store("listing twins"))?;
        if let Some(error) = failure {
            return Err(error);
        }
        for twin in self.twins_in_memory() {
            if self
                .in_memory(twin.as_str())?
                .is_some_and(|s| !s.fields.is_empty())
            {
                twins.push(twin.clone());
            }
        }
        twins.sort();
        twins.dedup();
        Ok(twins)
    }

    /// Drops limbo records the store now holds; returns the store's mark.
    fn settle(&mut self, store: &dyn Store) -> Result<Option<u64>, HistoryError> {
        let mark = self.committed_mark(store)?;
        if let Some(mark) = mark
            && !self.limbo.is_empty()
        {
            self.limbo.retain(|_, (tag, _)| *tag > mark);
        }
        Ok(mark)
    }

    /// Records `samples` and returns the store writes that make them durable;
    /// the caller commits them (in the same batch as the change they record,
    /// and batches of successive appends in order). `store` is read for twins
    /// not in the cache. Either every sample is taken or, on an error, none is.
    /// If the writes are then not committed, this `History` is ahead of the
    /// store: reopen it.
    pub fn append<'a>(
        &mut self,
        store: &dyn Store,
        samples: impl IntoIterator<Item = Sample<'a>>,
    ) -> Result<Vec<Write>, HistoryError> {
        let samples: Vec<Sample<'a>> = samples.into_iter().collect();
        let committed = self.settle(store)?;
        self.tick += 1;
        let tick = self.tick;
        // Check everything first, so that a refusal changes nothing (loading
        // twins into the cache changes no reads).
        let mut new_series = 0usize;
        // Samples come grouped by twin, fields mostly in the same order each
        // time: keep the current twin and try the next field slot first.
        let mut current: Option<(&TwinId, &mut Cached)> = None;
        let mut hint = 0usize;
        for sample in &samples {
            if sample.value.text_len() > VALUE_BYTES_MAX {
                return Err(HistoryError::ValueTooLarge {
                    twin: sample.twin.to_string(),
                    field: sample.field.chars().take(160).collect(),
                    bytes: sample.value.text_len(),
                    max: VALUE_BYTES_MAX,
                });
            }
            if current
                .as_ref()
                .is_none_or(|(twin, _)| *twin != sample.twin)
            {
                current = Some((sample.twin, self.load(store, sample.twin)?));
                hint = 0;
            }
            let Some((_, cached)) = current.as_mut() else {
                continue;
            };
            match cached.series.slot_from(sample.field, hint) {
                Some(slot) => hint = slot + 1,
                None => {
                    check_field(sample.twin.as_str(), sample.field)?;
                    new_series += 1;
                }
            }
        }
        if self.next_series as usize + new_series > SERIES_PER_WORLD_MAX
            && self.next_series as usize + self.count_new(&samples) > SERIES_PER_WORLD_MAX
        {
            return Err(HistoryError::TooManySeries {
                world: self.world.to_string(),
                max: SERIES_PER_WORLD_MAX,
            });
        }
        let series_before = self.next_series;

        let mut writes = std::mem::take(&mut self.pending);
        let mut touched: Vec<TwinId> = Vec::new();
        let mut late: FastMap<(TwinId, usize), Vec<Point>> = FastMap::default();
        let mut log = self.next_log;
        let mut entry = vec![RECORD_FORMAT];
        let mut entry_time = 0i64;
        let mut entry_twins: FastMap<TwinId, u64> = FastMap::default();
        let span_max = self.config.chunk_span_max_ns;
        let points_max = self.config.chunk_points_max;
        let mut current: Option<(&TwinId, &mut Cached)> = None;
        let mut hint = 0usize;
        // The current twin's reference in the log entry being built.
        let mut reference: Option<u64> = None;
        for sample in samples {
            if current
                .as_ref()
                .is_none_or(|(twin, _)| *twin != sample.twin)
            {
                current = None;
                let Some(cached) = self.cache.get_mut(sample.twin) else {
                    // Loaded above and nothing is evicted before the end.
                    continue;
                };
                touched.push(sample.twin.clone());
                if cached.tick != tick {
                    cached.tick = tick;
                    self.lru.push_back((sample.twin.clone(), tick));
                }
                current = Some((sample.twin, cached));
                hint = 0;
                reference = None;
            }
            let Some((_, cached)) = current.as_mut() else {
                continue;
            };
            let slot = match cached.series.slot_from(sample.field, hint) {
                Some(slot) => slot,
                None => {
                    cached.series.fields.push(FieldSeries {
                        name: sample.field.into(),
                        id: self.next_series,
                        next_chunk: 0,
                        horizon: None,
                        max_span: 0,
                        head: Vec::new(),
                    });
                    self.next_series += 1;
                    cached.dirty = true;
                    cached.series.fields.len() - 1
                }
            };
            let point = Point {
                time: sample.time,
                value: sample.value,
            };
            hint = slot + 1;
            let field = &mut cached.series.fields[slot];
            let time = point.time.0;
            if field.horizon.is_some_and(|h| time <= h)
                || field.head.last().is_some_and(|last| {
                    time < field.head[0].time.0 && last.time.0.saturating_sub(time) > span_max
                })
            {
                late.entry((sample.twin.clone(), slot))
                    .or_default()
                    .push(point);
                cached.dirty = true;
                continue;
            }
            if let (Some(first), Some(last)) = (field.head.first(), field.head.last())
                && time > last.time.0
                && time.saturating_sub(first.time.0) > span_max
            {
                seal_head(&self.tables, field, &mut writes);
                cached.dirty = true;
            }
            if !cached.dirty {
                // A twin whose record is rewritten by this append needs no log.
                let next_ref = entry_twins.len() as u64;
                let twin_ref = *reference.get_or_insert_with(|| {
                    *entry_twins.entry(sample.twin.clone()).or_insert(next_ref)
                });
                put_varint(&mut entry, twin_ref);
                if twin_ref == next_ref && entry_twins.len() as u64 > next_ref {
                    put_varint(&mut entry, sample.twin.as_str().len() as u64);
                    entry.extend_from_slice(sample.twin.as_str().as_bytes());
                }
                put_varint(&mut entry, slot as u64);
                put_signed(&mut entry, time.wrapping_sub(entry_time));
                entry_time = time;
                put_value(&mut entry, &point.value);
                if cached.logs.last() != Some(&log) {
                    cached.logs.push(log);
                    self.log_refs
                        .entry(log)
                        .or_insert(LogEntry { refs: 0, bytes: 0 })
                        .refs += 1;
                }
            }
            insert_sorted(&mut field.head, point);
            if field.head.len() >= points_max {
                seal_head(&self.tables, field, &mut writes);
                cached.dirty = true;
            }
            if entry.len() >= LOG_ENTRY_BYTES_MAX {
                close_entry(
                    &mut self.log_refs,
                    &mut self.log_live_bytes,
                    &self.tables,
                    log,
                    &mut entry,
                    &mut writes,
                );
                log += 1;
                entry_time = 0;
                entry_twins.clear();
                reference = None;
            }
        }

        for ((twin, slot), mut points) in late {
            let Some(field) = self
                .cache
                .get_mut(&twin)
                .and_then(|cached| cached.series.fields.get_mut(slot))
            else {
                continue;
            };
            // Stable sort keeps arrival order among equal times; keep the last.
            points.sort_by_key(|p| p.time);
            let mut unique: Vec<Point> = Vec::with_capacity(points.len());
            for point in points {
                match unique.last_mut() {
                    Some(last) if last.time == point.time => *last = point,
                    _ => unique.push(point),
                }
            }
            let mut start = 0;
            while start < unique.len() {
                let first = unique[start].time.0;
                let mut end = start + 1;
                while end < unique.len()
                    && end - start < points_max
                    && unique[end].time.0.saturating_sub(first) <= span_max
                {
                    end += 1;
                }
                write_chunk(&self.tables, field, &unique[start..end], &mut writes);
                start = end;
            }
        }

        touched.sort_unstable();
        touched.dedup();
        for twin in &touched {
            if self.cache.get(twin).is_some_and(|c| c.dirty) {
                self.checkpoint(twin, log, &mut writes);
            }
            self.refresh(twin);
        }
        if self.log_live_bytes > self.config.log_bytes_max {
            self.fold_log(log, &mut writes);
        }
        self.shrink(log, committed, &mut writes);
        close_entry(
            &mut self.log_refs,
            &mut self.log_live_bytes,
            &self.tables,
            log,
            &mut entry,
            &mut writes,
        );
        self.next_log = log + 1;
        if self.next_series != series_before {
            writes.push(Write::put(
                &self.tables.meta,
                META_SERIES,
                u64::from(self.next_series).to_le_bytes(),
            ));
        }
        writes.push(self.mark_write());
        self.appends += 1;
        Ok(writes)
    }

    /// Checkpoints the twins holding the oldest half of the live head log, so
    /// those entries can go.
    fn fold_log(&mut self, log_now: u64, writes: &mut Vec<Write>) {
        let mut cutoff = 0u64;
        let mut freed = 0usize;
        for (log, entry) in &self.log_refs {
            if freed >= self.log_live_bytes / 2 {
                break;
            }
            freed += entry.bytes;
            cutoff = log + 1;
        }
        let twins: Vec<TwinId> = self
            .cache
            .iter()
            .filter(|(_, c)| c.logs.first().is_some_and(|l| *l < cutoff))
            .map(|(t, _)| t.clone())
            .collect();
        for twin in twins {
            self.checkpoint(&twin, log_now, writes);
            self.refresh(&twin);
        }
    }

    /// Brings the cache back within budget: past `head_points_max`, seals the
    /// heads of the least recently written twins (they stay cached, so a hot
    /// set larger than the head budget gets smaller chunks instead of cache
    /// misses) until a quarter of the budget is free; past `cache_bytes_max`,
    /// evicts the least recently written twins.
    fn shrink(&mut self, log_now: u64, committed: Option<u64>, writes: &mut Vec<Write>) {
        if self.head_total > self.config.head_points_max {
            let target = self.config.head_points_max / 4 * 3;
            for _ in 0..self.lru.len() {
                if self.head_total <= target {
                    break;
                }
                let Some((twin, tick)) = self.lru.pop_front() else {
                    break;
                };
                let Some(cached) = self.cache.get_mut(&twin).filter(|c| c.tick == tick) else {
                    continue; // a stale touch
                };
                let mut sealed = false;
                for field in &mut cached.series.fields {
                    if field.head.len() >= SEAL_EARLY_POINTS_MIN {
                        seal_head(&self.tables, field, writes);
                        sealed = true;
                    }
                }
                if sealed {
                    self.checkpoint(&twin, log_now, writes);
                    self.refresh(&twin);
                }
                self.lru.push_back((twin, tick));
            }
        }
        // Many short heads: evict (their heads stay open in the records).
        while self.head_total > self.config.head_points_max {
            let Some((twin, tick)) = self.lru.pop_front() else {
                break;
            };
            if self.cache.get(&twin).is_some_and(|c| c.tick == tick) {
                self.evict(&twin, log_now, committed, writes);
            }
        }
        while self.cache_bytes > self.config.cache_bytes_max {
            let Some((twin, tick)) = self.lru.pop_front() else {
                break;
            };
            if self.cache.get(&twin).is_some_and(|c| c.tick == tick) {
                self.evict(&twin, log_now, committed, writes);
            }
        }
        // Touches of the same twin pile up in the queue; drop the stale ones
        // once they outnumber the live ones.
        if self.lru.len() > 2 * self.cache.len() + 1024 {
            let cache = &self.cache;
            self.lru
                .retain(|(twin, tick)| cache.get(twin).is_some_and(|c| c.tick == *tick));
        }
    }

    /// Distinct new series among `samples` (only counted near the limit).
    fn count_new(&self, samples: &[Sample<'_>]) -> usize {
        let mut seen = std::collections::HashSet::new();
        samples
            .iter()
            .filter(|s| {
                self.cache
                    .get(s.twin)
                    .is_none_or(|c| c.series.slot(s.field).is_none())
            })
            .filter(|s| seen.insert((s.twin.as_str(), s.field)))
            .count()
    }

    /// Seals every cached open head now (e.g. before a planned shutdown, to
    /// shorten the next start): the returned writes hold them as chunks and the
    /// records of their twins. Heads of twins not in the cache stay open in
    /// their records (they cost nothing at start).
    pub fn seal_all(&mut self) -> Vec<Write> {
        let mut writes = std::mem::take(&mut self.pending);
        let log = self.next_log;
        let twins: Vec<TwinId> = self.cache.keys().cloned().collect();
        for twin in twins {
            let Some(cached) = self.cache.get_mut(&twin) else {
                continue;
            };
            if cached.series.fields.iter().all(|f| f.head.is_empty()) && cached.logs.is_empty() {
                continue;
            }
            for field in &mut cached.series.fields {
                seal_head(&self.tables, field, &mut writes);
            }
            self.checkpoint(&twin, log, &mut writes);
            self.refresh(&twin);
        }
        self.log_refs.remove(&log);
        self.next_log = log + 1;
        writes.push(self.mark_write());
        self.appends += 1;
        writes
    }

    /// The writes that drop chunks whose last point is older than the retention
    /// (from `now`). Open heads are kept whatever their age; a chunk is dropped
    /// whole, once all of its points have expired. Reads every chunk summary.
    pub fn retain(&self, store: &dyn Store, now: Timestamp) -> Result<Vec<Write>, HistoryError> {
        let Some(retention) = self.config.retention_ns else {
            return Ok(Vec::new());
        };
        let cutoff = now.0.saturating_sub(retention);
        let mut writes = Vec::new();
        let mut failure = None;
        store
            .scan(&self.tables.index, &mut |key, value| {
                let first = parse_chunk_key(key).map(|(_, first, _)| first);
                match first.and_then(|first| Ok((first, Summary::decode(value)?))) {
                    Ok((first, summary)) => {
                        if first < cutoff && summary.last.time.0 < cutoff {
                            writes.push(Write::delete(&self.tables.index, key));
                            writes.push(Write::delete(&self.tables.chunks, key));
                        }
                        true
                    }
                    Err(error) => {
                        failure = Some(error);
                        false
                    }
                }
            })
            .map_err(HistoryError::store(
                "scanning chunk summaries for retention",
            ))?;
        match failure {
            Some(error) => Err(error),
            None => Ok(writes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_keys_sort_by_series_then_time_then_number() {
        let keys = [
            chunk_key(0, i64::MIN, 5),
            chunk_key(0, -1, 0),
            chunk_key(0, 0, 0),
            chunk_key(0, 0, 1),
            chunk_key(0, i64::MAX, 0),
            chunk_key(1, i64::MIN, 0),
        ];
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]));
        assert_eq!(parse_chunk_key(&keys[1]).unwrap(), (0, -1, 0));
        assert!(parse_chunk_key(&[0; 19]).is_err());
    }

    #[test]
    fn insertion_keeps_order_and_the_last_duplicate() {
        let mut points = Vec::new();
        for (time, value) in [(5, 1), (3, 2), (9, 3), (5, 4), (1, 5)] {
            insert_sorted(
                &mut points,
                Point {
                    time: Timestamp(time),
                    value: Value::I64(value),
                },
            );
        }
        let got: Vec<(i64, Value)> = points.into_iter().map(|p| (p.time.0, p.value)).collect();
        assert_eq!(
            got,
            vec![
                (1, Value::I64(5)),
                (3, Value::I64(2)),
                (5, Value::I64(4)),
                (9, Value::I64(3))
            ]
        );
    }

    #[test]
    fn configurations_out_of_range_are_refused() {
        let world = WorldId::default_world();
        for config in [
            HistoryConfig {
                chunk_points_max: 0,
                ..HistoryConfig::default()
            },
            HistoryConfig {
                chunk_span_max_ns: 0,
                ..HistoryConfig::default()
            },
            HistoryConfig {
                retention_ns: Some(0),
                ..HistoryConfig::default()
            },
        ] {
            assert!(History::new(world.clone(), config).is_err());
        }
    }
}
