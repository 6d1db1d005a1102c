//! Reads: raw ranges with continuation, downsampling into buckets, the latest
//! value at or before an instant, and the state of a whole world at an instant.
//! Each combines the store's sealed chunks (found through their summaries) with
//! the open heads in memory. Chunks of a series overlap only when late points
//! were sealed apart; then the chunks involved are merged and at equal times the
//! one sealed later wins.

use std::sync::Arc;

use store::Store;
use world::{Timestamp, TwinId};

use crate::HistoryError;
use crate::chunk::{self, Summary};
use crate::history::{History, chunk_key, parse_chunk_key};
use crate::record::{FieldSeries, TwinSeries};
use crate::value::{EXISTS_FIELD, Point, Value};

/// Most points one range read returns; larger limits are refused (pages keep
/// responses and memory bounded; continue with `RangePage::next`).
pub const RANGE_LIMIT_MAX: usize = 100_000;

/// Most buckets one downsample may ask for (a chart is a few thousand pixels).
pub const BUCKETS_MAX: usize = 100_000;

/// One page of a raw range read.
#[derive(Clone, Debug, PartialEq)]
pub struct RangePage {
    /// Points in time order, at most the limit.
    pub points: Vec<Point>,
    /// Where to continue (`from` of the next read), or `None` when the range is
    /// exhausted. A page may hold fewer than `limit` points and still continue.
    pub next: Option<Timestamp>,
}

/// Aggregates of one downsampling bucket `[start, end)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Bucket {
    /// First instant of the bucket.
    pub start: Timestamp,
    /// First instant after it.
    pub end: Timestamp,
    /// Points in the bucket.
    pub count: u64,
    /// Points with a numeric value (see `Value::numeric`).
    pub numeric_count: u64,
    /// Smallest numeric value, if any.
    pub min: Option<f64>,
    /// Largest numeric value, if any.
    pub max: Option<f64>,
    /// Sum of the numeric values.
    pub sum: f64,
    /// The latest point in the bucket, if any.
    pub last: Option<Point>,
}

impl Bucket {
    /// The mean of the numeric values, if any.
    pub fn avg(&self) -> Option<f64> {
        (self.numeric_count > 0).then(|| self.sum / self.numeric_count as f64)
    }

    fn add_point(&mut self, point: &Point) {
        self.count += 1;
        if let Some(number) = point.value.numeric() {
            self.add_numbers(1, number, number, number);
        }
        self.last = Some(point.clone());
    }

    fn add_summary(&mut self, summary: &Summary) {
        self.count += u64::from(summary.count);
        if summary.numeric_count > 0 {
            self.add_numbers(
                u64::from(summary.numeric_count),
                summary.min,
                summary.max,
                summary.sum,
            );
        }
        self.last = Some(summary.last.clone());
    }

    fn add_numbers(&mut self, count: u64, min: f64, max: f64, sum: f64) {
        self.numeric_count += count;
        self.min = Some(self.min.map_or(min, |m| m.min(min)));
        self.max = Some(self.max.map_or(max, |m| m.max(max)));
        self.sum += sum;
    }
}

/// The state of one twin at an instant: each field's latest point.
#[derive(Clone, Debug, PartialEq)]
pub struct TwinState {
    /// The twin.
    pub twin: TwinId,
    /// Field path and its latest point at or before the instant, sorted by path;
    /// removed fields (`Value::Null`) are left out.
    pub fields: Vec<(Arc<str>, Point)>,
}

/// One page of the world at an instant ([`History::world_at_page`]).
#[derive(Clone, Debug, PartialEq)]
pub struct WorldPage {
    /// Twins in id order, at most the limit.
    pub twins: Vec<TwinState>,
    /// Pass as `after` to read the next page; `None` when this was the last.
    pub next: Option<TwinId>,
}

/// Most twins one page of the world at an instant may hold.
pub const WORLD_PAGE_LIMIT_MAX: usize = 100_000;

/// A sealed chunk as its index entry shows it.
struct ChunkRef {
    key: Vec<u8>,
    first: i64,
    number: u32,
    summary: Summary,
}

impl ChunkRef {
    fn last(&self) -> i64 {
        self.summary.last.time.0
    }
}

/// Adds the points of a decoded chunk (in time order) in `[from, to)` to their
/// buckets. Walks bucket by bucket, so a division happens only where a bucket
/// starts, and builds a `Value` only for each bucket's last point.
fn add_columns(
    out: &mut [Bucket],
    columns: &chunk::Columns,
    from: i64,
    to: i64,
    bucket_of: &dyn Fn(i64) -> usize,
) {
    let times = &columns.times;
    let mut index = times.partition_point(|&t| t < from);
    while index < times.len() && times[index] < to {
        let bucket = bucket_of(times[index]);
        let end = out[bucket].end.0.min(to);
        let run_start = index;
        // Times are sorted: find where the bucket ends by binary search.
        index += times[index..].partition_point(|&t| t < end);
        let target = &mut out[bucket];
        target.count += (index - run_start) as u64;
        // Fold the run locally, then add it to the bucket once.
        // NaN never reaches the fold, so plain comparisons do for min and max.
        let fold = |(count, min, max, sum): (u64, f64, f64, f64), number: f64| {
            (
                count + 1,
                if number < min { number } else { min },
                if number > max { number } else { max },
                sum + number,
            )
        };
        let start = (0u64, f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
        let (count, min, max, sum) = match &columns.values {
            chunk::ValueColumn::F64(values) => values[run_start..index]
                .iter()
                .filter(|f| !f.is_nan())
                .fold(start, |acc, &f| fold(acc, f)),
            chunk::ValueColumn::I64(values) => values[run_start..index]
                .iter()
                .fold(start, |acc, &i| fold(acc, i as f64)),
            chunk::ValueColumn::Any(values) => values[run_start..index]
                .iter()
                .filter_map(Value::numeric)
                .fold(start, fold),
        };
        if count > 0 {
            target.add_numbers(count, min, max, sum);
        }
        target.last = Some(Point {
            time: Timestamp(times[index - 1]),
            value: columns.value(index - 1),
        });
    }
}

fn invalid(reason: String) -> HistoryError {
    HistoryError::InvalidRequest { reason }
}

impl History {
    /// Index entries of series `id` with first time in `[first_from, first_to]`
    /// (inclusive), in key order; `stop` ends the scan early when it returns true
    /// for the entries so far.
    fn chunk_refs(
        &self,
        store: &dyn Store,
        id: u32,
        first_from: i64,
        first_to: i64,
        stop: &mut dyn FnMut(&[ChunkRef]) -> bool,
    ) -> Result<Vec<ChunkRef>, HistoryError> {
        let mut refs = Vec::new();
        if first_from > first_to {
            return Ok(refs);
        }
        let start = chunk_key(id, first_from, 0);
        let end = match first_to.checked_add(1) {
            Some(after) => chunk_key(id, after, 0).to_vec(),
            None => store::prefix_end(&u64::from(id).to_be_bytes()).unwrap_or_default(),
        };
        let mut failure = None;
        store
            .scan_range(&self.tables.index, &start, &end, &mut |key, value| {
                let parsed = parse_chunk_key(key)
                    .and_then(|(_, first, number)| Ok((first, number, Summary::decode(value)?)));
                match parsed {
                    Ok((first, number, summary)) => {
                        refs.push(ChunkRef {
                            key: key.to_vec(),
                            first,
                            number,
                            summary,
                        });
                        !stop(&refs)
                    }
                    Err(error) => {
                        failure = Some(error);
                        false
                    }
                }
            })
            .map_err(HistoryError::store("scanning chunk summaries"))?;
        match failure {
            Some(error) => Err(error),
            None => Ok(refs),
        }
    }

    fn load_chunk(&self, store: &dyn Store, chunk: &ChunkRef) -> Result<Vec<Point>, HistoryError> {
        self.load_columns(store, chunk)
            .map(chunk::Columns::into_points)
    }

    fn load_columns(
        &self,
        store: &dyn Store,
        chunk: &ChunkRef,
    ) -> Result<chunk::Columns, HistoryError> {
        let bytes = store
            .get(&self.tables.chunks, &chunk.key)
            .map_err(HistoryError::store("reading a chunk"))?
            .ok_or_else(|| HistoryError::Corrupt {
                what: "chunk",
                offset: 0,
                reason: format!(
                    "chunk {} of {:?} is in the index but not stored",
                    chunk.number, chunk.summary.first.time
                ),
            })?;
        let columns = chunk::decode_columns(&bytes)?;
        if columns.times.len() != chunk.summary.count as usize {
            return Err(HistoryError::Corrupt {
                what: "chunk",
                offset: 0,
                reason: format!(
                    "holds {} points where its summary says {}",
                    columns.times.len(),
                    chunk.summary.count
                ),
            });
        }
        Ok(columns)
    }

    /// The points of `chunks` in time order, merged when they overlap (at equal
    /// times the chunk with the higher number wins).
    fn merged(&self, store: &dyn Store, chunks: &[ChunkRef]) -> Result<Vec<Point>, HistoryError> {
        let mut tagged: Vec<(i64, u32, Point)> = Vec::new();
        for chunk in chunks {
            for point in self.load_chunk(store, chunk)? {
                tagged.push((point.time.0, chunk.number, point));
            }
        }
        tagged.sort_by_key(|(time, number, _)| (*time, *number));
        let mut points: Vec<Point> = Vec::with_capacity(tagged.len());
        for (_, _, point) in tagged {
            match points.last_mut() {
                Some(last) if last.time == point.time => *last = point,
                _ => points.push(point),
            }
        }
        Ok(points)
    }

    /// Raw points of `twin`'s `field` in `[from, to)`, at most `limit` (1 to
    /// [`RANGE_LIMIT_MAX`]) of them; continue from `next`. An unknown series has
    /// no points.
    pub fn range(
        &self,
        store: &dyn Store,
        twin: &str,
        field: &str,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> Result<RangePage, HistoryError> {
        if !(1..=RANGE_LIMIT_MAX).contains(&limit) {
            return Err(invalid(format!(
                "limit {limit}; allowed: 1 to {RANGE_LIMIT_MAX}"
            )));
        }
        let empty = RangePage {
            points: Vec::new(),
            next: None,
        };
        if from >= to {
            return Ok(empty);
        }
        let Some(twin_series) = self.fetch(store, twin)? else {
            return Ok(empty);
        };
        let Some(series) = twin_series.field(field) else {
            return Ok(empty);
        };
        let id = series.id;
        let (from, to) = (from.0, to.0);
        // Chunks that may hold points in range start at most `max_span` before it.
        // Stop scanning once the chunks starting in range hold more than `limit`
        // points and one more chunk shows where the next page must begin: every
        // point before that chunk's start is known.
        let mut stop_at: Option<i64> = None;
        let mut refs = if series.horizon.is_some_and(|h| h >= from) {
            let mut counted = 0u64;
            let mut refs = self.chunk_refs(
                store,
                id,
                from.saturating_sub(series.max_span),
                to - 1,
                &mut |refs| {
                    let Some(newest) = refs.last() else {
                        return false;
                    };
                    if counted > limit as u64 && newest.first > from {
                        stop_at = Some(newest.first);
                        return true;
                    }
                    if newest.first >= from {
                        counted += u64::from(newest.summary.count);
                    }
                    false
                },
            )?;
            if stop_at.is_some() {
                refs.pop();
            }
            refs
        } else {
            Vec::new()
        };
        refs.retain(|chunk| chunk.last() >= from);
        let until = stop_at.unwrap_or(to);
        let overlapping = refs.windows(2).any(|pair| pair[1].first <= pair[0].last());
        let mut points = Vec::new();
        let keep = |point: &Point| point.time.0 >= from && point.time.0 < until;
        if overlapping {
            points.extend(self.merged(store, &refs)?.into_iter().filter(keep));
        } else {
            for chunk in &refs {
                if points.len() > limit {
                    break;
                }
                points.extend(self.load_chunk(store, chunk)?.into_iter().filter(keep));
            }
        }
        if stop_at.is_none() && points.len() <= limit {
            points.extend(series.head.iter().filter(|p| keep(p)).cloned());
        }
        let next = if points.len() > limit {
            let next = points[limit].time;
            points.truncate(limit);
            Some(next)
        } else {
            stop_at.map(Timestamp)
        };
        Ok(RangePage { points, next })
    }

    /// `[from, to)` cut into `buckets` (1 to [`BUCKETS_MAX`]) equal buckets (the
    /// last may be shorter), each with count, min, max, sum/avg and last. Chunks
    /// that lie inside one bucket are counted from their summaries alone.
    pub fn downsample(
        &self,
        store: &dyn Store,
        twin: &str,
        field: &str,
        from: Timestamp,
        to: Timestamp,
        buckets: usize,
    ) -> Result<Vec<Bucket>, HistoryError> {
        if !(1..=BUCKETS_MAX).contains(&buckets) {
            return Err(invalid(format!(
                "{buckets} buckets; allowed: 1 to {BUCKETS_MAX}"
            )));
        }
        if from >= to {
            return Err(invalid(format!(
                "the range starts at {} and ends at {}; it must end after it starts",
                from.0, to.0
            )));
        }
        let length = (i128::from(to.0) - i128::from(from.0)) as u128;
        let width = length.div_ceil(buckets as u128);
        let start_of = |index: usize| -> i64 {
            let offset = (index as u128 * width).min(length);
            (i128::from(from.0) + offset as i128) as i64
        };
        let mut out: Vec<Bucket> = (0..buckets)
            .map(|index| Bucket {
                start: Timestamp(start_of(index)),
                end: Timestamp(start_of(index + 1)),
                count: 0,
                numeric_count: 0,
                min: None,
                max: None,
                sum: 0.0,
                last: None,
            })
            .collect();
        // In range, `time - from` fits a u64 (the range is under 2^64 long), so
        // the bucket is one 64-bit division.
        let width = width as u64;
        let start = from.0;
        let bucket_of = |time: i64| (time.wrapping_sub(start) as u64 / width) as usize;
        let Some(twin_series) = self.fetch(store, twin)? else {
            return Ok(out);
        };
        let Some(series) = twin_series.field(field) else {
            return Ok(out);
        };
        let id = series.id;
        let (from, to) = (from.0, to.0);
        let in_range = |time: i64| time >= from && time < to;
        let mut refs = if series.horizon.is_some_and(|h| h >= from) {
            self.chunk_refs(
                store,
                id,
                from.saturating_sub(series.max_span),
                to - 1,
                &mut |_| false,
            )?
        } else {
            Vec::new()
        };
        refs.retain(|chunk| chunk.last() >= from);
        let overlapping = refs.windows(2).any(|pair| pair[1].first <= pair[0].last());
        if overlapping {
            for point in self.merged(store, &refs)? {
                if in_range(point.time.0) {
                    out[bucket_of(point.time.0)].add_point(&point);
                }
            }
        } else {
            for chunk in &refs {
                let (first, last) = (chunk.first, chunk.last());
                if in_range(first) && in_range(last) && bucket_of(first) == bucket_of(last) {
                    out[bucket_of(first)].add_summary(&chunk.summary);
                    continue;
                }
                let columns = self.load_columns(store, chunk)?;
                add_columns(&mut out, &columns, from, to, &bucket_of);
            }
        }
        for point in &series.head {
            if in_range(point.time.0) {
                out[bucket_of(point.time.0)].add_point(point);
            }
        }
        Ok(out)
    }

    /// The latest point of `twin`'s `field` at or before `at`, if any.
    pub fn latest_at(
        &self,
        store: &dyn Store,
        twin: &str,
        field: &str,
        at: Timestamp,
    ) -> Result<Option<Point>, HistoryError> {
        match self.fetch(store, twin)? {
            Some(series) => match series.field(field) {
                Some(field) => self.latest_of(store, field, at.0),
                None => Ok(None),
            },
            None => Ok(None),
        }
    }

    fn latest_of(
        &self,
        store: &dyn Store,
        series: &FieldSeries,
        at: i64,
    ) -> Result<Option<Point>, HistoryError> {
        let id = series.id;
        if let Some(first) = series.head.first()
            && first.time.0 <= at
        {
            let index = series.head.partition_point(|p| p.time.0 <= at);
            return Ok(Some(series.head[index - 1].clone()));
        }
        if series.horizon.is_none() {
            return Ok(None);
        }
        // Look back in windows that double in width: a chunk holding the answer
        // starts at most `max_span` before it, so once a candidate is found only
        // chunks starting up to `max_span` before the candidate can beat it.
        let span = series.max_span.max(1);
        let mut best: Option<(i64, u32, Point)> = None;
        let mut upper = at;
        let mut width = span;
        // 64 doublings cover the whole i64 range.
        for _ in 0..64 {
            let lower = upper.saturating_sub(width);
            for chunk in self.chunk_refs(store, id, lower, upper, &mut |_| false)? {
                let candidate = if chunk.last() <= at {
                    Some(chunk.summary.last.clone())
                } else {
                    let points = self.load_chunk(store, &chunk)?;
                    let index = points.partition_point(|p| p.time.0 <= at);
                    index.checked_sub(1).map(|i| points[i].clone())
                };
                if let Some(point) = candidate {
                    let better = best.as_ref().is_none_or(|(time, number, _)| {
                        (point.time.0, chunk.number) > (*time, *number)
                    });
                    if better {
                        best = Some((point.time.0, chunk.number, point));
                    }
                }
            }
            if let Some((time, _, _)) = &best {
                let reach = time.saturating_sub(span);
                if reach < lower {
                    // Chunks starting in [reach, lower) may still hold a later
                    // point at or before `at`; look at them once.
                    for chunk in self.chunk_refs(store, id, reach, lower - 1, &mut |_| false)? {
                        let points = if chunk.last() <= at {
                            vec![chunk.summary.last.clone()]
                        } else {
                            self.load_chunk(store, &chunk)?
                        };
                        let index = points.partition_point(|p| p.time.0 <= at);
                        if let Some(point) = index.checked_sub(1).map(|i| points[i].clone()) {
                            let better = best.as_ref().is_none_or(|(time, number, _)| {
                                (point.time.0, chunk.number) > (*time, *number)
                            });
                            if better {
                                best = Some((point.time.0, chunk.number, point));
                            }
                        }
                    }
                }
                break;
            }
            if lower == i64::MIN {
                break;
            }
            upper = lower - 1;
            width = width.saturating_mul(2);
        }
        Ok(best.map(|(_, _, point)| point))
    }

    /// Every twin's fields at `at`: for each series its latest point at or before
    /// `at`, grouped by twin and sorted. Twins whose latest [`EXISTS_FIELD`] is
    /// `false` (deleted by then) are left out, and so are removed fields.
    ///
    /// Reads the twin records in order (one row per twin); a field whose open
    /// head starts at or before `at` is answered from the record alone, others
    /// from their chunk summaries.
    pub fn world_at(
        &self,
        store: &dyn Store,
        at: Timestamp,
    ) -> Result<Vec<TwinState>, HistoryError> {
        let mut states = Vec::new();
        let mut failure = None;
        store
            .scan(&self.tables.series, &mut |key, value| match self
                .stored_twin_at(store, key, value, at)
            {
                Ok(state) => {
                    states.extend(state);
                    true
                }
                Err(error) => {
                    failure = Some(error);
                    false
                }
            })
            .map_err(HistoryError::store("reading twin records"))?;
        if let Some(error) = failure {
            return Err(error);
        }
        // Twins whose first record is not committed yet.
        let mut extra = false;
        for twin in self.fresh_twins() {
            if store
                .get(&self.tables.series, twin.as_str().as_bytes())
                .map_err(HistoryError::store("reading a twin record"))?
                .is_some()
            {
                continue;
            }
            if let Some(series) = self.in_memory(twin.as_str())?
                && let Some(state) = self.twin_at(store, twin.clone(), &series, at.0)?
            {
                states.push(state);
                extra = true;
            }
        }
        if extra {
            states.sort_by(|a, b| a.twin.cmp(&b.twin));
        }
        Ok(states)
    }

    /// One page of [`History::world_at`]: the twins after `after` (in id
    /// order), at most `limit` (1 to [`WORLD_PAGE_LIMIT_MAX`]) of them. Reads
    /// only the records of the twins on the page (and those skipped because
    /// they did not exist at `at`), so a time slider showing a few thousand
    /// twins of a big world stays fast.
    pub fn world_at_page(
        &self,
        store: &dyn Store,
        at: Timestamp,
        after: Option<&TwinId>,
        limit: usize,
    ) -> Result<WorldPage, HistoryError> {
        if !(1..=WORLD_PAGE_LIMIT_MAX).contains(&limit) {
            return Err(invalid(format!(
                "page limit {limit}; allowed: 1 to {WORLD_PAGE_LIMIT_MAX}"
            )));
        }
        let mut start = after.map_or_else(Vec::new, |t| t.as_str().as_bytes().to_vec());
        if after.is_some() {
            start.push(0); // the smallest key after `after`
        }
        // Twin ids are UTF-8, whose bytes never reach 0xff.
        let end = [0xffu8];
        let mut states: Vec<TwinState> = Vec::new();
        let mut failure = None;
        let mut exhausted = true;
        store
            .scan_range(&self.tables.series, &start, &end, &mut |key, value| {
                if states.len() >= limit {
                    exhausted = false;
                    return false;
                }
                match self.stored_twin_at(store, key, value, at) {
                    Ok(state) => {
                        states.extend(state);
                        true
                    }
                    Err(error) => {
                        failure = Some(error);
                        false
                    }
                }
            })
            .map_err(HistoryError::store("reading twin records"))?;
        if let Some(error) = failure {
            return Err(error);
        }
        // Twins in memory whose first record may not be committed yet, within
        // the range this page covers.
        let upto: Option<TwinId> = if exhausted {
            None
        } else {
            states.last().map(|s| s.twin.clone())
        };
        let mut extra = false;
        for twin in self.fresh_twins() {
            if after.is_some_and(|a| twin <= a) || upto.as_ref().is_some_and(|u| twin > u) {
                continue;
            }
            if store
                .get(&self.tables.series, twin.as_str().as_bytes())
                .map_err(HistoryError::store("reading a twin record"))?
                .is_some()
            {
                continue;
            }
            if let Some(series) = self.in_memory(twin.as_str())?
                && let Some(state) = self.twin_at(store, twin.clone(), &series, at.0)?
            {
                states.push(state);
                extra = true;
            }
        }
        if extra {
            states.sort_by(|a, b| a.twin.cmp(&b.twin));
        }
        let mut next = if exhausted {
            None
        } else {
            states.last().map(|s| s.twin.clone())
        };
        if states.len() > limit {
            states.truncate(limit);
            next = states.last().map(|s| s.twin.clone());
        }
        Ok(WorldPage {
            twins: states,
            next,
        })
    }

    /// The state at `at` of the twin of one stored record (`key` = twin id,
    /// `value` = its record), read from memory instead when the twin is cached.
    fn stored_twin_at(
        &self,
        store: &dyn Store,
        key: &[u8],
        value: &[u8],
        at: Timestamp,
    ) -> Result<Option<TwinState>, HistoryError> {
        let twin = std::str::from_utf8(key)
            .ok()
            .and_then(|k| TwinId::parse(k).ok())
            .ok_or_else(|| HistoryError::Corrupt {
                what: "twin record key",
                offset: 0,
                reason: "is not a valid twin id".to_owned(),
            })?;
        let series = match self.in_memory(twin.as_str())? {
            Some(series) => series,
            None => std::borrow::Cow::Owned(crate::record::decode(value)?),
        };
        self.twin_at(store, twin, &series, at.0)
    }

    fn twin_at(
        &self,
        store: &dyn Store,
        twin: TwinId,
        series: &TwinSeries,
        at: i64,
    ) -> Result<Option<TwinState>, HistoryError> {
        let mut fields = Vec::new();
        let mut exists = None;
        for field in &series.fields {
            let Some(point) = self.latest_of(store, field, at)? else {
                continue;
            };
            if &*field.name == EXISTS_FIELD {
                exists = Some(point.value == Value::Bool(true));
                continue;
            }
            if point.value != Value::Null {
                fields.push((field.name.clone(), point));
            }
        }
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        // A twin is there when it was created by then, or (for histories
        // without lifecycle records) when any of its fields has a value.
        let present = exists.unwrap_or(!fields.is_empty());
        Ok(present.then_some(TwinState { twin, fields }))
    }
}
