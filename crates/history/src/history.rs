//! [`History`]: the time series of one world as in-memory open heads plus what
//! the store holds. Appending is pure state + store writes, so the server puts
//! them into the same group-commit batch as the twin change they record; after a
//! restart (even `kill -9`) [`History::open`] rebuilds exactly the heads that
//! were committed.
//!
//! Store layout per world (tables named by [`Tables`]):
//! - `h/{world}/series`: series id (u64 BE) → twin, field path, head generation,
//!   next chunk number, sealed horizon, widest chunk span.
//! - `h/{world}/log`: log number (u64 BE) → the points of one `append` call
//!   (series id, head generation, time, value per point). An entry is deleted in
//!   the batch that seals the last head still holding one of its points.
//! - `h/{world}/index`: series ‖ first time ‖ chunk number → [`Summary`].
//! - `h/{world}/chunks`: the same key → the compressed chunk.
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

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use store::{Store, TableName, Write};
use world::{Timestamp, TwinId, WorldId};

use crate::HistoryError;
use crate::bits::{ByteReader, put_signed, put_varint};
use crate::chunk::{self, CHUNK_POINTS_DECODE_MAX, Summary};
use crate::value::{Point, VALUE_BYTES_MAX, Value, check_field, put_value, read_value};

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Most series one world may have. A series costs about 200 bytes of memory
/// besides its open head, so ten million (a million twins with ten fields each,
/// the product's large world) cost about 2 GiB; more would not fit the machine
/// size the product targets.
pub const SERIES_PER_WORLD_MAX: usize = 10_000_000;

/// A head log entry is closed and a new one started past this many bytes, well
/// below the store's value limit.
const LOG_ENTRY_BYTES_MAX: usize = 8 * 1024 * 1024;

/// Format byte of series entries and log entries.
const RECORD_FORMAT: u8 = 1;

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
    /// Most points all open heads of the world may hold together (each costs
    /// about 32 bytes in memory and 15 in the head log). Past it, heads are sealed
    /// early, oldest series first, until a quarter of the budget is free: with
    /// millions of slow series the chunks get smaller instead of memory growing.
    pub head_points_max: usize,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            chunk_points_max: 4096,
            chunk_span_max_ns: 3600 * 1_000_000_000,
            retention_ns: None,
            head_points_max: 4_000_000,
        }
    }
}

/// Most points one chunk may be configured to hold; a quarter of what decoding
/// accepts, so chunks written by a larger configuration still read.
pub const CHUNK_POINTS_MAX: usize = CHUNK_POINTS_DECODE_MAX / 4;

impl HistoryConfig {
    fn check(&self) -> Result<(), HistoryError> {
        if !(1..=CHUNK_POINTS_MAX).contains(&self.chunk_points_max) {
            return Err(HistoryError::InvalidConfig {
                reason: format!(
                    "chunk_points_max is {}; allowed: 1 to {CHUNK_POINTS_MAX}",
                    self.chunk_points_max
                ),
            });
        }
        if self.chunk_span_max_ns < 1 {
            return Err(HistoryError::InvalidConfig {
                reason: format!(
                    "chunk_span_max_ns is {}; allowed: at least 1",
                    self.chunk_span_max_ns
                ),
            });
        }
        if self.head_points_max < self.chunk_points_max {
            return Err(HistoryError::InvalidConfig {
                reason: format!(
                    "head_points_max is {}; allowed: at least chunk_points_max ({})",
                    self.head_points_max, self.chunk_points_max
                ),
            });
        }
        if self.retention_ns.is_some_and(|r| r < 1) {
            return Err(HistoryError::InvalidConfig {
                reason: "retention_ns must be at least 1 when set".to_owned(),
            });
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
    /// Series catalog.
    pub series: TableName,
    /// Head log.
    pub log: TableName,
    /// Chunk summaries.
    pub index: TableName,
    /// Compressed chunks.
    pub chunks: TableName,
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
        }
    }

    /// All four, e.g. for `Store::drop_tables`.
    pub fn all(&self) -> [TableName; 4] {
        [
            self.series.clone(),
            self.log.clone(),
            self.index.clone(),
            self.chunks.clone(),
        ]
    }
}

/// What history knows about one series in memory.
#[derive(Clone, Debug)]
pub(crate) struct Series {
    pub(crate) twin: TwinId,
    pub(crate) field: Arc<str>,
    /// The open head: points in strictly increasing time, all after `horizon`.
    pub(crate) head: Vec<Point>,
    /// Incremented each time the head is sealed; log records of older
    /// generations are already in chunks.
    head_gen: u64,
    /// Number the next sealed chunk gets (orders chunks by when they were sealed).
    next_chunk: u32,
    /// The latest time in any sealed chunk.
    pub(crate) horizon: Option<i64>,
    /// The widest `last - first` of any sealed chunk, to bound index scans.
    pub(crate) max_span: i64,
    /// Log entries holding points of the current head.
    logs: Vec<u64>,
}

/// The history of one world. Not thread-safe by itself: the server keeps it
/// beside the world, under the same lock, so appends follow `Seq` order.
#[derive(Debug)]
pub struct History {
    pub(crate) world: WorldId,
    pub(crate) config: HistoryConfig,
    pub(crate) tables: Tables,
    ids: FastMap<TwinId, FastMap<Arc<str>, u32>>,
    pub(crate) series: Vec<Series>,
    /// Log entry → how many series heads still hold points from it.
    log_refs: BTreeMap<u64, u32>,
    next_log: u64,
    /// Deletes found necessary while opening, handed out with the next append.
    pending: Vec<Write>,
    /// Points in all heads together.
    head_total: usize,
    /// Where the next early sealing sweep starts (a series id).
    sweep: usize,
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
    match points.last() {
        Some(last) if last.time < point.time => points.push(point),
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
            ids: FastMap::default(),
            series: Vec::new(),
            log_refs: BTreeMap::new(),
            next_log: 0,
            pending: Vec::new(),
            head_total: 0,
            sweep: 0,
        })
    }

    /// Rebuilds a world's history from what the store committed: the series
    /// catalog and every open head, from the head log.
    pub fn open(
        store: &dyn Store,
        world: WorldId,
        config: HistoryConfig,
    ) -> Result<History, HistoryError> {
        let mut history = History::new(world, config)?;
        let mut failure = None;
        let series_table = history.tables.series.clone();
        store
            .scan(
                &series_table,
                &mut |key, value| match history.load_series(key, value) {
                    Ok(()) => true,
                    Err(error) => {
                        failure = Some(error);
                        false
                    }
                },
            )
            .map_err(HistoryError::store("reading the series catalog"))?;
        if let Some(error) = failure {
            return Err(error);
        }
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
                        history.replay(log, value)?;
                        history.next_log = log.saturating_add(1);
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
        // Entries no head needs any more cannot normally exist (the batch that
        // sealed their last head deleted them); clear any with the next append.
        let dead: Vec<u64> = history
            .log_refs
            .iter()
            .filter(|(_, refs)| **refs == 0)
            .map(|(log, _)| *log)
            .collect();
        for log in dead {
            history.log_refs.remove(&log);
            history
                .pending
                .push(Write::delete(&history.tables.log, log.to_be_bytes()));
        }
        Ok(history)
    }

    fn load_series(&mut self, key: &[u8], value: &[u8]) -> Result<(), HistoryError> {
        let id = <[u8; 8]>::try_from(key)
            .map(u64::from_be_bytes)
            .map_err(|_| HistoryError::Corrupt {
                what: "series key",
                offset: 0,
                reason: format!("has {} bytes, not 8", key.len()),
            })?;
        if id != self.series.len() as u64 || self.series.len() >= SERIES_PER_WORLD_MAX {
            return Err(HistoryError::Corrupt {
                what: "series catalog",
                offset: 0,
                reason: format!(
                    "series id {id} where {} was expected next",
                    self.series.len()
                ),
            });
        }
        let mut reader = ByteReader::new(value, "series entry");
        let format = reader.byte()?;
        if format != RECORD_FORMAT {
            return Err(reader.corrupt(format!("format byte {format}")));
        }
        let text = |reader: &mut ByteReader<'_>, max: usize| -> Result<String, HistoryError> {
            let bytes = reader.bytes_with_len(max)?;
            String::from_utf8(bytes.to_vec()).map_err(|_| reader.corrupt("text is not UTF-8"))
        };
        let twin = text(&mut reader, 4 * world::TWIN_ID_LEN_MAX)?;
        let twin = TwinId::parse(&twin).map_err(|e| reader.corrupt(e.to_string()))?;
        let field: Arc<str> = text(&mut reader, crate::value::FIELD_PATH_BYTES_MAX)?.into();
        let head_gen = reader.varint()?;
        let next_chunk = u32::try_from(reader.varint()?)
            .map_err(|_| reader.corrupt("chunk number over 32 bits"))?;
        let horizon = match reader.byte()? {
            0 => None,
            _ => Some(reader.u64_le()? as i64),
        };
        let max_span = reader.u64_le()? as i64;
        self.ids
            .entry(twin.clone())
            .or_default()
            .insert(field.clone(), id as u32);
        self.series.push(Series {
            twin,
            field,
            head: Vec::new(),
            head_gen,
            next_chunk,
            horizon,
            max_span,
            logs: Vec::new(),
        });
        Ok(())
    }

    fn replay(&mut self, log: u64, value: &[u8]) -> Result<(), HistoryError> {
        let mut reader = ByteReader::new(value, "head log entry");
        let format = reader.byte()?;
        if format != RECORD_FORMAT {
            return Err(reader.corrupt(format!("format byte {format}")));
        }
        self.log_refs.insert(log, 0);
        let mut time = 0i64;
        while !reader.is_empty() {
            let id = reader.bounded(self.series.len().saturating_sub(1), "series id")?;
            let head_gen = reader.varint()?;
            time = time.wrapping_add(reader.signed()?);
            let value = read_value(&mut reader)?;
            let series = self
                .series
                .get_mut(id)
                .ok_or_else(|| reader.corrupt("a point of a series that does not exist"))?;
            if series.head_gen != head_gen {
                continue; // sealed since
            }
            if insert_sorted(
                &mut series.head,
                Point {
                    time: Timestamp(time),
                    value,
                },
            ) {
                self.head_total += 1;
            }
            if series.logs.last() != Some(&log) {
                series.logs.push(log);
                *self.log_refs.entry(log).or_insert(0) += 1;
            }
        }
        Ok(())
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

    /// Number of series.
    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    /// Points held in open heads (in memory and in the head log).
    pub fn head_points(&self) -> usize {
        self.head_total
    }

    /// The field paths that have a series for `twin`, sorted.
    pub fn fields(&self, twin: &str) -> Vec<Arc<str>> {
        let mut fields: Vec<Arc<str>> = self
            .ids
            .get(twin)
            .map(|map| map.keys().cloned().collect())
            .unwrap_or_default();
        fields.sort();
        fields
    }

    /// The twins that have at least one series.
    pub fn twins(&self) -> impl Iterator<Item = &TwinId> {
        self.ids.keys()
    }

    pub(crate) fn lookup(&self, twin: &str, field: &str) -> Option<u32> {
        self.ids.get(twin)?.get(field).copied()
    }

    /// Records `samples` and returns the store writes that make them durable;
    /// the caller commits them (in the same batch as the change they record).
    /// Either every sample is taken or, on an error, none is. If the writes are
    /// then not committed, this `History` is ahead of the store: reopen it.
    pub fn append<'a>(
        &mut self,
        samples: impl IntoIterator<Item = Sample<'a>>,
    ) -> Result<Vec<Write>, HistoryError> {
        let samples: Vec<Sample<'a>> = samples.into_iter().collect();
        // Check everything first, so that a refusal changes nothing.
        let mut new_series = 0usize;
        for sample in &samples {
            if sample.value.text_len() > VALUE_BYTES_MAX {
                return Err(HistoryError::ValueTooLarge {
                    twin: sample.twin.to_string(),
                    field: sample.field.chars().take(160).collect(),
                    bytes: sample.value.text_len(),
                    max: VALUE_BYTES_MAX,
                });
            }
            if self.lookup(sample.twin.as_str(), sample.field).is_none() {
                check_field(sample.twin.as_str(), sample.field)?;
                new_series += 1;
            }
        }
        if self.series.len() + new_series > SERIES_PER_WORLD_MAX
            && self.series.len() + self.count_new(&samples) > SERIES_PER_WORLD_MAX
        {
            return Err(HistoryError::TooManySeries {
                world: self.world.to_string(),
                max: SERIES_PER_WORLD_MAX,
            });
        }

        let mut writes = std::mem::take(&mut self.pending);
        let mut dirty: Vec<u32> = Vec::new();
        let mut late: FastMap<u32, Vec<Point>> = FastMap::default();
        let mut log = self.next_log;
        let mut entry = vec![RECORD_FORMAT];
        let mut entry_time = 0i64;
        for sample in samples {
            let id = match self.lookup(sample.twin.as_str(), sample.field) {
                Some(id) => id,
                None => {
                    let id = self.series.len() as u32;
                    let field: Arc<str> = sample.field.into();
                    self.ids
                        .entry(sample.twin.clone())
                        .or_default()
                        .insert(field.clone(), id);
                    self.series.push(Series {
                        twin: sample.twin.clone(),
                        field,
                        head: Vec::new(),
                        head_gen: 0,
                        next_chunk: 0,
                        horizon: None,
                        max_span: 0,
                        logs: Vec::new(),
                    });
                    dirty.push(id);
                    id
                }
            };
            let point = Point {
                time: sample.time,
                value: sample.value,
            };
            let series = &self.series[id as usize];
            let time = point.time.0;
            let span_max = self.config.chunk_span_max_ns;
            if series.horizon.is_some_and(|h| time <= h)
                || series.head.last().is_some_and(|last| {
                    time < series.head[0].time.0 && last.time.0.saturating_sub(time) > span_max
                })
            {
                late.entry(id).or_default().push(point);
                continue;
            }
            if let (Some(first), Some(last)) = (series.head.first(), series.head.last())
                && time > last.time.0
                && time.saturating_sub(first.time.0) > span_max
            {
                self.seal_head(id, log, &mut writes);
                dirty.push(id);
            }
            // The log record first (it borrows the value), then the head.
            put_varint(&mut entry, u64::from(id));
            let series = &mut self.series[id as usize];
            put_varint(&mut entry, series.head_gen);
            put_signed(&mut entry, time.wrapping_sub(entry_time));
            entry_time = time;
            put_value(&mut entry, &point.value);
            if insert_sorted(&mut series.head, point) {
                self.head_total += 1;
            }
            if series.logs.last() != Some(&log) {
                series.logs.push(log);
                *self.log_refs.entry(log).or_insert(0) += 1;
            }
            if series.head.len() >= self.config.chunk_points_max {
                self.seal_head(id, log, &mut writes);
                dirty.push(id);
            }
            if entry.len() >= LOG_ENTRY_BYTES_MAX {
                self.close_entry(log, &mut entry, &mut writes);
                log += 1;
                entry_time = 0;
            }
        }
        if self.head_total > self.config.head_points_max {
            self.sweep_heads(log, &mut writes, &mut dirty);
        }
        self.close_entry(log, &mut entry, &mut writes);
        self.next_log = log + 1;

        for (id, mut points) in late {
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
                    && end - start < self.config.chunk_points_max
                    && unique[end].time.0.saturating_sub(first) <= self.config.chunk_span_max_ns
                {
                    end += 1;
                }
                self.write_chunk(id, &unique[start..end], &mut writes);
                start = end;
            }
            dirty.push(id);
        }

        dirty.sort_unstable();
        dirty.dedup();
        for id in dirty {
            writes.push(self.series_write(id));
        }
        Ok(writes)
    }

    /// Distinct new series among `samples` (only counted near the limit).
    fn count_new(&self, samples: &[Sample<'_>]) -> usize {
        let mut seen = std::collections::HashSet::new();
        samples
            .iter()
            .filter(|s| self.lookup(s.twin.as_str(), s.field).is_none())
            .filter(|s| seen.insert((s.twin.as_str(), s.field)))
            .count()
    }

    /// Seals heads, going round the series from where the last sweep stopped,
    /// until the heads hold at most three quarters of `head_points_max`.
    fn sweep_heads(&mut self, log: u64, writes: &mut Vec<Write>, dirty: &mut Vec<u32>) {
        let target = self.config.head_points_max / 4 * 3;
        let count = self.series.len();
        for _ in 0..count {
            if self.head_total <= target {
                break;
            }
            self.sweep = if self.sweep + 1 >= count {
                0
            } else {
                self.sweep + 1
            };
            let id = self.sweep as u32;
            if !self.series[self.sweep].head.is_empty() {
                self.seal_head(id, log, writes);
                dirty.push(id);
            }
        }
    }

    /// Writes the log entry being built, unless no head holds any of its points.
    fn close_entry(&mut self, log: u64, entry: &mut Vec<u8>, writes: &mut Vec<Write>) {
        if self.log_refs.get(&log).copied().unwrap_or(0) > 0 {
            writes.push(Write::put(
                &self.tables.log,
                log.to_be_bytes(),
                std::mem::replace(entry, vec![RECORD_FORMAT]),
            ));
        } else {
            self.log_refs.remove(&log);
            entry.truncate(1);
        }
    }

    /// Seals series `id`'s head into a chunk; `current_log` is the entry being
    /// built (not written yet, so not deleted here even when no head needs it).
    fn seal_head(&mut self, id: u32, current_log: u64, writes: &mut Vec<Write>) {
        let series = &mut self.series[id as usize];
        let head = std::mem::take(&mut series.head);
        let logs = std::mem::take(&mut series.logs);
        self.head_total -= head.len();
        series.head_gen += 1;
        for log in logs {
            if let Some(refs) = self.log_refs.get_mut(&log) {
                *refs -= 1;
                if *refs == 0 && log != current_log {
                    self.log_refs.remove(&log);
                    writes.push(Write::delete(&self.tables.log, log.to_be_bytes()));
                }
            }
        }
        self.write_chunk(id, &head, writes);
    }

    /// Writes sorted, unique points as a new chunk of series `id`.
    fn write_chunk(&mut self, id: u32, points: &[Point], writes: &mut Vec<Write>) {
        let Some(summary) = Summary::of(points) else {
            return;
        };
        let series = &mut self.series[id as usize];
        let number = series.next_chunk;
        series.next_chunk += 1;
        let (first, last) = (summary.first.time.0, summary.last.time.0);
        series.horizon = Some(series.horizon.map_or(last, |h| h.max(last)));
        series.max_span = series.max_span.max(last.saturating_sub(first));
        let key = chunk_key(id, first, number);
        let mut summary_bytes = Vec::with_capacity(64);
        summary.encode(&mut summary_bytes);
        writes.push(Write::put(&self.tables.index, key, summary_bytes));
        writes.push(Write::put(&self.tables.chunks, key, chunk::encode(points)));
    }

    fn series_write(&self, id: u32) -> Write {
        let series = &self.series[id as usize];
        let mut value = vec![RECORD_FORMAT];
        put_varint(&mut value, series.twin.as_str().len() as u64);
        value.extend_from_slice(series.twin.as_str().as_bytes());
        put_varint(&mut value, series.field.len() as u64);
        value.extend_from_slice(series.field.as_bytes());
        put_varint(&mut value, series.head_gen);
        put_varint(&mut value, u64::from(series.next_chunk));
        match series.horizon {
            None => value.push(0),
            Some(h) => {
                value.push(1);
                value.extend_from_slice(&h.to_le_bytes());
            }
        }
        value.extend_from_slice(&series.max_span.to_le_bytes());
        Write::put(&self.tables.series, u64::from(id).to_be_bytes(), value)
    }

    /// Seals every open head now (e.g. before a planned shutdown, to shorten the
    /// next start): the returned writes hold them as chunks.
    pub fn seal_all(&mut self) -> Vec<Write> {
        let mut writes = std::mem::take(&mut self.pending);
        let log = self.next_log;
        for id in 0..self.series.len() as u32 {
            if !self.series[id as usize].head.is_empty() {
                self.seal_head(id, log, &mut writes);
                writes.push(self.series_write(id));
            }
        }
        writes
    }

    /// The writes that drop chunks whose last point is older than the retention
    /// (from `now`). Open heads are kept whatever their age; a chunk is dropped
    /// whole, once all of its points have expired.
    pub fn retain(&self, store: &dyn Store, now: Timestamp) -> Result<Vec<Write>, HistoryError> {
        let Some(retention) = self.config.retention_ns else {
            return Ok(Vec::new());
        };
        let cutoff = now.0.saturating_sub(retention);
        let mut writes = Vec::new();
        let mut failure = None;
        for id in 0..self.series.len() as u32 {
            if self.series[id as usize].horizon.is_none() {
                continue;
            }
            let start = chunk_key(id, i64::MIN, 0);
            let end = chunk_key(id, cutoff, 0);
            store
                .scan_range(&self.tables.index, &start, &end, &mut |key, value| {
                    match Summary::decode(value) {
                        Ok(summary) => {
                            if summary.last.time.0 < cutoff {
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
            if let Some(error) = failure.take() {
                return Err(error);
            }
        }
        Ok(writes)
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
