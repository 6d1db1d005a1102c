//! Benchmark of history: append points/s in process, bytes/point on a realistic
//! seeded mix next to the `tsz` crate (Gorilla) on exactly the same points and
//! the same chunk boundaries, and a year of 1 Hz data (31.5 million points, one
//! series): the time to write it through a `RedbStore` and to downsample it into
//! 1,000 buckets.
//!
//! Run: `cargo run --release -p history --example bench_history -- [--year-days N] [--twins N]`
//! (`--year-days` shortens the long series for a quick look, default 365;
//! `--twins` sizes the big world, default 1,000,000 twins x 17 series).
//!
//! First, a big world: its creation through a `RedbStore` (one point per new
//! series), hot and cold append rates, the history cache and process RSS,
//! `History::open` after it, and the world at an instant in pages.
//!
//! The mix (100 series, one day each): noisy analog sensors quantized to 0.01
//! and 0.1 at 1 Hz with millisecond jitter, slowly drifting temperatures every
//! 10 s, counters, booleans and enums reported on change at irregular times.
//! Timestamps fall on whole milliseconds (as MQTT and OPC UA sources give them):
//! tsz gets them in milliseconds, history in nanoseconds. tsz takes only f64, so
//! counters, booleans and enum indexes are handed to it as doubles.

use std::time::Instant;

// The product binary runs on mimalloc; measure with the same allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use history::{History, HistoryConfig, Point, Sample, Tables, Value};
use store::{Batch, RedbStore, Store, Write};
use tsz::stream::{BufferedReader, BufferedWriter};
use tsz::{DataPoint, Decode, Encode, StdDecoder, StdEncoder};
use world::{Timestamp, TwinId, WorldId};

/// Deterministic random numbers (SplitMix64), so every run sees the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Roughly normal (sum of uniforms), mean 0, deviation 1.
    fn normal(&mut self) -> f64 {
        (0..12).map(|_| self.unit()).sum::<f64>() - 6.0
    }
}

/// Rounds to `decimals` places the way a device printing its reading does.
fn quantize(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    let text = format!("{:.*}", decimals as usize, (value * scale).round() / scale);
    text.parse().unwrap_or(value)
}

/// One series of the mix: twin, field, points with millisecond timestamps.
struct Series {
    twin: TwinId,
    field: String,
    points: Vec<(i64, Value)>,
}

const DAY_MS: i64 = 86_400_000;
/// Twins of the world-at-an-instant figure (five fields each).
const WORLD_TWINS: usize = 2_000;
/// Updates of every field of that world within its three hours.
const WORLD_STEPS: i64 = 360;
const START_MS: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

fn mix() -> Vec<Series> {
    let mut rng = Rng(0x7415_7041);
    let mut all = Vec::new();
    for index in 0..100 {
        let twin =
            TwinId::parse(&format!("machine-{:02}", index / 5)).unwrap_or_else(|_| unreachable!());
        let kind = index % 10;
        let mut points = Vec::new();
        let mut time = START_MS + (rng.next() % 1000) as i64;
        let field;
        match kind {
            // Noisy analog sensors at 1 Hz with jitter: pressure in bar (0.01) and
            // flow in m³/h (0.1), a slow wave plus noise.
            0..=3 => {
                let decimals = if kind % 2 == 0 { 2 } else { 1 };
                field = format!("sensor{kind}");
                let base = 5.0 + 20.0 * rng.unit();
                while time < START_MS + DAY_MS {
                    let phase = (time - START_MS) as f64 / 3_600_000.0;
                    let value = base + (phase * 0.7).sin() * 2.0 + rng.normal() * 0.05;
                    points.push((time, Value::F64(quantize(value, decimals))));
                    time += 1000 + (rng.next() % 21) as i64 - 10;
                }
            }
            // Slowly drifting temperatures every 10 s, 0.01 °C resolution.
            4 | 5 => {
                field = "temperature".to_owned();
                let mut value = 18.0 + 6.0 * rng.unit();
                while time < START_MS + DAY_MS {
                    value += rng.normal() * 0.01;
                    points.push((time, Value::F64(quantize(value, 2))));
                    time += 10_000;
                }
            }
            // Counters every 5 s.
            6 => {
                field = "produced".to_owned();
                let mut count = (rng.next() % 100_000) as i64;
                while time < START_MS + DAY_MS {
                    count += (rng.next() % 6) as i64;
                    points.push((time, Value::I64(count)));
                    time += 5000;
                }
            }
            // Booleans on change, at irregular times (minutes apart).
            7 => {
                field = "running".to_owned();
                let mut on = true;
                while time < START_MS + DAY_MS {
                    points.push((time, Value::Bool(on)));
                    on = !on;
                    time += 1000 + (rng.next() % 600_000) as i64;
                }
            }
            // Enums on change, irregular.
            8 => {
                field = "mode".to_owned();
                let modes = ["idle", "running", "setup", "fault"];
                while time < START_MS + DAY_MS {
                    points.push((time, Value::str(modes[(rng.next() % 4) as usize])));
                    time += 1000 + (rng.next() % 300_000) as i64;
                }
            }
            // Event-driven analog readings (report on change), irregular times.
            _ => {
                field = "level".to_owned();
                let mut value = 50.0;
                while time < START_MS + DAY_MS {
                    value += rng.normal() * 0.3;
                    points.push((time, Value::F64(quantize(value, 1))));
                    time += 200 + (rng.next() % 20_000) as i64;
                }
            }
        }
        all.push(Series {
            twin,
            field,
            points,
        });
    }
    all
}

/// The value tsz is given for a point: the number, or an enum's index.
fn as_double(value: &Value) -> f64 {
    match value {
        Value::F64(f) => *f,
        Value::I64(i) => *i as f64,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Str(s) => ["idle", "running", "setup", "fault"]
            .iter()
            .position(|m| **m == **s)
            .map_or(-1.0, |i| i as f64),
        _ => f64::NAN,
    }
}

/// Splits a series the way history seals it (count or span limit), so that both
/// codecs compress the same chunks.
fn chunk_bounds(points: &[(i64, Value)], config: &HistoryConfig) -> Vec<std::ops::Range<usize>> {
    let span_ms = config.chunk_span_max_ns / 1_000_000;
    let mut bounds = Vec::new();
    let mut start = 0;
    for index in 1..=points.len() {
        let end_here = index == points.len()
            || index - start >= config.chunk_points_max
            || points[index].0 - points[start].0 > span_ms;
        if end_here {
            bounds.push(start..index);
            start = index;
        }
    }
    bounds
}

fn tsz_bytes(points: &[(i64, Value)]) -> usize {
    let start = points.first().map_or(0, |p| p.0 as u64);
    let mut encoder = StdEncoder::new(start, BufferedWriter::new());
    for (time, value) in points {
        encoder.encode(DataPoint::new(*time as u64, as_double(value)));
    }
    let bytes = encoder.close();
    // Check the peer round-trips, so the comparison is with a working codec.
    let mut decoder = StdDecoder::new(BufferedReader::new(bytes.clone()));
    for (time, value) in points {
        let point = decoder
            .next()
            .unwrap_or_else(|e| panic!("tsz failed to decode: {e:?}"));
        assert_eq!(point.get_time(), *time as u64);
        assert_eq!(point.get_value().to_bits(), as_double(value).to_bits());
    }
    bytes.len()
}

/// CPU time this thread has run, in nanoseconds (the first field of
/// /proc/thread-self/schedstat); 0 where that file does not exist. On a machine
/// shared with other work, CPU time is the steadier figure next to wall time.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn table_bytes(store: &dyn Store, table: &store::TableName) -> (usize, usize) {
    let mut bytes = 0;
    let mut rows = 0;
    store
        .scan(table, &mut |_, value| {
            bytes += value.len();
            rows += 1;
            true
        })
        .unwrap_or_else(|e| panic!("scan failed: {e}"));
    (bytes, rows)
}

/// Resident set size of this process in bytes (VmRSS), 0 where unknown.
fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<usize>().ok()
        })
        .map_or(0, |kib| kib * 1024)
}

/// The fields every twin of the big world records when it is created: its
/// lifecycle, ten properties and a placement (position, rotation, parent and
/// asset), 17 series per twin.
const BIG_FIELDS: [&str; 17] = [
    history::EXISTS_FIELD,
    "temperature",
    "pressure",
    "flow",
    "rpm",
    "power",
    "vibration",
    "level",
    "running",
    "mode",
    "produced",
    "$placement/position/0",
    "$placement/position/1",
    "$placement/position/2",
    "$placement/rotation/2",
    "$placement/parent",
    "$placement/asset",
];

fn big_value(field: &str, n: u64) -> Value {
    match field {
        history::EXISTS_FIELD => Value::Bool(true),
        "running" => Value::Bool(n.is_multiple_of(3)),
        "mode" => Value::str(["idle", "running", "setup"][(n % 3) as usize]),
        "rpm" | "produced" => Value::I64((n % 5000) as i64),
        "$placement/parent" => Value::str("hall-1"),
        "$placement/asset" => Value::str("pump.glb"),
        _ => Value::F64((n % 10_000) as f64 / 100.0),
    }
}

/// A world of `count` twins × 17 series written through a `RedbStore` in
/// batches of 1,000 twins (the creation path), then: memory, hot and cold
/// append rates, restart (`History::open`) time, and the world at an instant.
fn big_world(count: usize, config: &HistoryConfig) {
    let rss_start = rss_bytes();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let path = dir.path().join("big.redb");
    let world = WorldId::parse("big").unwrap_or_else(|_| unreachable!());
    let store = RedbStore::open(&path).unwrap_or_else(|e| panic!("{e}"));
    let mut history = History::new(world.clone(), config.clone()).unwrap_or_else(|e| panic!("{e}"));
    let twins: Vec<TwinId> = (0..count)
        .map(|i| TwinId::parse(&format!("machine-{i:07}")).unwrap_or_else(|_| unreachable!()))
        .collect();
    let batch_twins = 1000;
    let base = START_MS * 1_000_000;
    let mut append_cpu = 0.0f64;
    let mut commit_seconds = 0.0f64;
    let started = Instant::now();
    for (batch, chunk) in twins.chunks(batch_twins).enumerate() {
        let time = Timestamp(base + batch as i64 * 1_000_000);
        let samples: Vec<Sample<'_>> = chunk
            .iter()
            .enumerate()
            .flat_map(|(i, twin)| {
                BIG_FIELDS.iter().map(move |field| Sample {
                    twin,
                    field,
                    time,
                    value: big_value(field, i as u64),
                })
            })
            .collect();
        let cpu = thread_cpu_ns();
        let writes = history
            .append(&store, samples)
            .unwrap_or_else(|e| panic!("{e}"));
        append_cpu += (thread_cpu_ns() - cpu) as f64 / 1e9;
        let commit_started = Instant::now();
        store
            .commit(&[Batch { writes }])
            .unwrap_or_else(|e| panic!("{e}"));
        commit_seconds += commit_started.elapsed().as_secs_f64();
    }
    let create_seconds = started.elapsed().as_secs_f64();
    let points = count * BIG_FIELDS.len();
    let rss_created = rss_bytes();
    let cache_created = history.cache_bytes();

    // Hot: the last 1,000 twins (in the cache) update all their fields.
    let hot = &twins[count.saturating_sub(1000)..];
    let rounds = 100;
    let cpu = thread_cpu_ns();
    let mut hot_points = 0usize;
    let mut hot_writes = Vec::new();
    for round in 0..rounds {
        let time = Timestamp(base + (count as i64 + round) * 1_000_000);
        let samples: Vec<Sample<'_>> = hot
            .iter()
            .flat_map(|twin| {
                BIG_FIELDS.iter().map(move |field| Sample {
                    twin,
                    field,
                    time,
                    value: big_value(field, round as u64),
                })
            })
            .collect();
        hot_points += samples.len();
        let writes = history
            .append(&store, samples)
            .unwrap_or_else(|e| panic!("{e}"));
        hot_writes.push(writes);
    }
    let hot_cpu = (thread_cpu_ns() - cpu) as f64 / 1e9;
    for writes in hot_writes {
        store
            .commit(&[Batch { writes }])
            .unwrap_or_else(|e| panic!("{e}"));
    }

    // Cold: twins spread over the whole world (almost all misses), one field.
    let mut rng = Rng(99);
    let cold_twins: Vec<&TwinId> = (0..20_000)
        .map(|_| &twins[(rng.next() % count as u64) as usize])
        .collect();
    let cpu = thread_cpu_ns();
    let mut cold_points = 0usize;
    for (round, batch) in cold_twins.chunks(1000).enumerate() {
        let time = Timestamp(base + (count as i64 + 1000 + round as i64) * 1_000_000);
        let samples: Vec<Sample<'_>> = batch
            .iter()
            .map(|twin| Sample {
                twin,
                field: "temperature",
                time,
                value: Value::F64(21.5),
            })
            .collect();
        cold_points += samples.len();
        let writes = history
            .append(&store, samples)
            .unwrap_or_else(|e| panic!("{e}"));
        store
            .commit(&[Batch { writes }])
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let cold_cpu = (thread_cpu_ns() - cpu) as f64 / 1e9;
    let log_bytes = history.log_bytes();
    let series = history.series_count();
    drop(history);
    drop(store);

    // Restart: open the store and the history again.
    let rss_before_open = rss_bytes();
    let started = Instant::now();
    let store = RedbStore::open(&path).unwrap_or_else(|e| panic!("{e}"));
    let store_open = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let cpu = thread_cpu_ns();
    let history = History::open(&store, world, config.clone()).unwrap_or_else(|e| panic!("{e}"));
    let open_seconds = started.elapsed().as_secs_f64();
    let open_cpu = (thread_cpu_ns() - cpu) as f64 / 1e9;
    let rss_open = rss_bytes();
    let check = history
        .latest_at(
            &store,
            twins[0].as_str(),
            "temperature",
            Timestamp(i64::MAX),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(check.is_some(), "the first twin's temperature is there");

    // The world at an instant (the time slider), answered from the records:
    // one page of 1,000 twins, and the first 100,000 twins in pages of 10,000.
    let at = Timestamp(base + count as i64 * 1_000_000);
    let started = Instant::now();
    let cpu = thread_cpu_ns();
    let page = history
        .world_at_page(&store, at, None, 1000)
        .unwrap_or_else(|e| panic!("{e}"));
    let page_seconds = started.elapsed().as_secs_f64();
    let page_cpu = (thread_cpu_ns() - cpu) as f64 / 1e9;
    assert_eq!(page.twins.len(), 1000.min(count), "a full first page");
    let sweep_twins = 100_000.min(count);
    let started = Instant::now();
    let cpu = thread_cpu_ns();
    let mut after: Option<TwinId> = None;
    let mut swept = 0usize;
    while swept < sweep_twins {
        let page = history
            .world_at_page(&store, at, after.as_ref(), 10_000.min(sweep_twins - swept))
            .unwrap_or_else(|e| panic!("{e}"));
        swept += page.twins.len();
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let sweep_seconds = started.elapsed().as_secs_f64();
    let sweep_cpu = (thread_cpu_ns() - cpu) as f64 / 1e9;
    assert_eq!(swept, sweep_twins, "every twin exists at the end");
    let file_bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
    let (record_bytes, records) = table_bytes(&store, &history.tables().series);

    let mib = |b: usize| b as f64 / (1024.0 * 1024.0);
    println!(
        "history, a world of {count} twins x {} series ({series} series), creation in batches of {batch_twins} twins",
        BIG_FIELDS.len()
    );
    println!();
    println!("| what | figure | target |");
    println!("| --- | ---: | ---: |");
    println!(
        "| creation: {points} points (one per new series), append points per CPU second (cold series) | {:.0} | |",
        points as f64 / append_cpu
    );
    println!(
        "| creation incl. durable commits, points/s (append + commit, {create_seconds:.1} s; commit {commit_seconds:.1} s) | {:.0} | |",
        points as f64 / create_seconds
    );
    println!(
        "| hot appends (1,000 cached twins x 17 fields x {rounds} rounds), points per CPU second | {:.0} | >= 1,000,000 |",
        hot_points as f64 / hot_cpu
    );
    println!(
        "| cold appends (20,000 random twins of {count}, one field, cache misses), points per CPU second | {:.0} | |",
        cold_points as f64 / cold_cpu
    );
    println!(
        "| history cache after creation, MiB (budget {:.0}) | {:.1} | |",
        mib(config.cache_bytes_max),
        mib(cache_created)
    );
    println!(
        "| process RSS after creation (store cache included), MiB (at start {:.1}) | {:.1} | |",
        mib(rss_start),
        mib(rss_created)
    );
    println!(
        "| head log left for restart, KiB | {:.1} | |",
        log_bytes as f64 / 1024.0
    );
    println!(
        "| restart: RedbStore::open {:.3} s, History::open, s (CPU {open_cpu:.3}) | {open_seconds:.3} | < 5 |",
        store_open
    );
    println!(
        "| RSS after History::open, MiB (before opening {:.1}; history cache {:.1}) | {:.1} | |",
        mib(rss_before_open),
        mib(history.cache_bytes()),
        mib(rss_open)
    );
    println!(
        "| world at an instant, one page of 1,000 twins (17 fields each), ms (CPU {:.1}) | {:.1} | |",
        page_cpu * 1000.0,
        page_seconds * 1000.0
    );
    println!(
        "| world at an instant, {sweep_twins} twins in pages of 10,000, s (CPU {sweep_cpu:.2}) | {sweep_seconds:.2} | < 1 |"
    );
    println!(
        "| twin records: {records}, value bytes per series | {:.1} | |",
        record_bytes as f64 / series as f64
    );
    println!(
        "| store file (redb, all tables, allocation included), bytes per series | {:.1} | |",
        file_bytes as f64 / series as f64
    );
    println!();
}

fn main() {
    let mut year_days = 365i64;
    let mut big_twins = 1_000_000usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--year-days" => year_days = args.next().and_then(|v| v.parse().ok()).unwrap_or(365),
            "--twins" => {
                big_twins = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1_000_000)
            }
            other => {
                eprintln!("unknown argument {other:?}; see the file's header for usage");
                std::process::exit(2);
            }
        }
    }
    let config = HistoryConfig::default();
    let world = WorldId::parse("bench").unwrap_or_else(|_| unreachable!());

    // First, while the process is still small: a big world's creation, its
    // memory and its restart.
    big_world(big_twins, &config);

    // --- The mix: append rate and bytes/point against tsz.
    let mix = mix();
    let total: usize = mix.iter().map(|s| s.points.len()).sum();
    // Interleave the series in time order, as ingest would deliver them.
    let mut order: Vec<(i64, usize, usize)> = mix
        .iter()
        .enumerate()
        .flat_map(|(s, series)| {
            series
                .points
                .iter()
                .enumerate()
                .map(move |(p, point)| (point.0, s, p))
        })
        .collect();
    order.sort_unstable();
    let mut history = History::new(world.clone(), config.clone()).unwrap_or_else(|e| panic!("{e}"));
    // The mix's writes are not committed (only counted): an empty store
    // answers the reads of twins not in the cache, and all 20 stay cached.
    let scratch = RedbStore::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
    let batch_points = 1000;
    let started = Instant::now();
    let cpu_started = thread_cpu_ns();
    let mut writes: Vec<Write> = Vec::new();
    let mut log_bytes = 0usize;
    for batch in order.chunks(batch_points) {
        let samples = batch.iter().map(|&(_, s, p)| {
            let series = &mix[s];
            let (time, value) = &series.points[p];
            Sample {
                twin: &series.twin,
                field: &series.field,
                time: Timestamp(time * 1_000_000),
                value: value.clone(),
            }
        });
        let out = history
            .append(&scratch, samples)
            .unwrap_or_else(|e| panic!("{e}"));
        for write in out {
            if write.table == history.tables().log {
                log_bytes += write.value.as_ref().map_or(0, Vec::len);
            } else {
                writes.push(write);
            }
        }
    }
    let append_seconds = started.elapsed().as_secs_f64();
    let append_cpu_seconds = (thread_cpu_ns() - cpu_started) as f64 / 1e9;
    writes.extend(history.seal_all());
    let tables = Tables::of(&world);
    let chunk_bytes: usize = writes
        .iter()
        .filter(|w| w.table == tables.chunks)
        .map(|w| w.value.as_ref().map_or(0, Vec::len))
        .sum();
    let summary_bytes: usize = writes
        .iter()
        .filter(|w| w.table == tables.index)
        .map(|w| w.value.as_ref().map_or(0, Vec::len))
        .sum();
    // Check our chunks round-trip too.
    let mut decoded = 0usize;
    for write in writes.iter().filter(|w| w.table == tables.chunks) {
        let points = history::chunk::decode(write.value.as_deref().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        decoded += points.len();
    }
    assert_eq!(decoded, total, "every point is in a chunk");

    let mut tsz_total = 0usize;
    let mut by_kind: Vec<(String, usize, usize, usize)> = Vec::new();
    for series in &mix {
        let mut ours = 0;
        let mut theirs = 0;
        for range in chunk_bounds(&series.points, &config) {
            let part = &series.points[range];
            theirs += tsz_bytes(part);
            let points: Vec<Point> = part
                .iter()
                .map(|(t, v)| Point {
                    time: Timestamp(t * 1_000_000),
                    value: v.clone(),
                })
                .collect();
            ours += history::chunk::encode(&points).len();
        }
        tsz_total += theirs;
        let kind = series.field.clone();
        match by_kind.iter_mut().find(|k| k.0 == kind) {
            Some(entry) => {
                entry.1 += series.points.len();
                entry.2 += ours;
                entry.3 += theirs;
            }
            None => by_kind.push((kind, series.points.len(), ours, theirs)),
        }
    }

    println!(
        "history benchmark (seeded mix of {} series, {total} points, one day)",
        mix.len()
    );
    println!();
    println!("| what | history | tsz (Gorilla) | ratio |");
    println!("| --- | ---: | ---: | ---: |");
    println!(
        "| append, points/s in process (batches of {batch_points}, sealing included) | {:.0} | | |",
        total as f64 / append_seconds
    );
    if append_cpu_seconds > 0.0 {
        println!(
            "| append, points per CPU second | {:.0} | | |",
            total as f64 / append_cpu_seconds
        );
    }
    let ours_bpp = chunk_bytes as f64 / total as f64;
    let tsz_bpp = tsz_total as f64 / total as f64;
    println!(
        "| bytes/point, chunks | {ours_bpp:.3} | {tsz_bpp:.3} | {:.2}x smaller |",
        tsz_bpp / ours_bpp
    );
    println!(
        "| bytes/point, chunks + summaries | {:.3} | | |",
        (chunk_bytes + summary_bytes) as f64 / total as f64
    );
    println!(
        "| head log written while heads were open, bytes/point (transient) | {:.2} | | |",
        log_bytes as f64 / total as f64
    );
    for (kind, points, ours, theirs) in &by_kind {
        println!(
            "| bytes/point, {kind} ({points} points) | {:.3} | {:.3} | {:.2}x |",
            *ours as f64 / *points as f64,
            *theirs as f64 / *points as f64,
            *theirs as f64 / (*ours).max(1) as f64
        );
    }

    // --- A year of 1 Hz data in one series, through a real store.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let store = RedbStore::open(&dir.path().join("year.redb")).unwrap_or_else(|e| panic!("{e}"));
    let mut history = History::new(world.clone(), config.clone()).unwrap_or_else(|e| panic!("{e}"));
    let twin = TwinId::parse("boiler").unwrap_or_else(|_| unreachable!());
    let points = year_days * 86_400;
    let mut rng = Rng(7);
    let mut value = 60.0f64;
    let commit_every = 500_000i64;
    let mut append_time = 0.0;
    let mut commit_time = 0.0;
    let mut second = 0i64;
    while second < points {
        let end = (second + commit_every).min(points);
        // Generating the readings (text round trips for the quantization) is
        // not history's work: keep it out of the append time.
        let samples: Vec<(i64, Value)> = (second..end)
            .map(|s| {
                value += rng.normal() * 0.02;
                (s, Value::F64(quantize(value, 2)))
            })
            .collect();
        let batch_started = Instant::now();
        let writes = history
            .append(
                &store,
                samples.iter().map(|(s, v)| Sample {
                    twin: &twin,
                    field: "temperature",
                    time: Timestamp((START_MS / 1000 + s) * 1_000_000_000),
                    value: v.clone(),
                }),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        append_time += batch_started.elapsed().as_secs_f64();
        let commit_started = Instant::now();
        store
            .commit(&[Batch { writes }])
            .unwrap_or_else(|e| panic!("{e}"));
        commit_time += commit_started.elapsed().as_secs_f64();
        second = end;
    }
    let write_seconds = append_time + commit_time;
    let (chunk_store_bytes, chunk_rows) = table_bytes(&store, &tables.chunks);
    let from = Timestamp(START_MS * 1_000_000);
    let to = Timestamp((START_MS / 1000 + points) * 1_000_000_000);
    let mut timings = Vec::new();
    let mut cpu_timings = Vec::new();
    let mut buckets = Vec::new();
    for _ in 0..7 {
        let started = Instant::now();
        let cpu_started = thread_cpu_ns();
        buckets = history
            .downsample(&store, "boiler", "temperature", from, to, 1000)
            .unwrap_or_else(|e| panic!("{e}"));
        cpu_timings.push((thread_cpu_ns() - cpu_started) as f64 / 1e6);
        timings.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    timings.sort_by(f64::total_cmp);
    cpu_timings.sort_by(f64::total_cmp);
    let counted: u64 = buckets.iter().map(|b| b.count).sum();
    assert_eq!(counted, points as u64, "every point lands in a bucket");
    println!();
    println!("| a year of 1 Hz data, one series ({points} points) | figure | target |");
    println!("| --- | ---: | ---: |");
    println!(
        "| write: append + durable commits every {commit_every} points, s | {write_seconds:.2} (append {append_time:.2}, commit {commit_time:.2}) | |"
    );
    println!(
        "| write rate, points/s | {:.0} | |",
        points as f64 / write_seconds
    );
    println!(
        "| stored chunks: {chunk_rows}, bytes/point | {:.3} | |",
        chunk_store_bytes as f64 / points as f64
    );
    println!(
        "| downsample to 1,000 buckets, ms (median of 7; min {:.1}, max {:.1}) | {:.1} | < 50 |",
        timings[0],
        timings[timings.len() - 1],
        timings[timings.len() / 2]
    );
    println!(
        "| the same, CPU ms of this thread (median of 7; min {:.1}) | {:.1} | < 50 |",
        cpu_timings[0],
        cpu_timings[cpu_timings.len() / 2]
    );
    // --- The state of a whole world at an instant (the replay slider).
    let store = RedbStore::open(&dir.path().join("world.redb")).unwrap_or_else(|e| panic!("{e}"));
    let mut history = History::new(world.clone(), config.clone()).unwrap_or_else(|e| panic!("{e}"));
    let twins: Vec<TwinId> = (0..WORLD_TWINS)
        .map(|i| TwinId::parse(&format!("twin-{i:05}")).unwrap_or_else(|_| unreachable!()))
        .collect();
    let fields = ["temperature", "pressure", "rpm", "running", "mode"];
    let mut rng = Rng(11);
    // Three hours, so that the first two are sealed chunks and the last is in
    // the open heads.
    let span_ms = 3 * 3_600_000i64;
    for step in 0..WORLD_STEPS {
        let time = Timestamp((START_MS + step * span_ms / WORLD_STEPS) * 1_000_000);
        let mut samples = Vec::with_capacity(twins.len() * fields.len());
        for twin in &twins {
            for field in fields {
                let value = match field {
                    "running" => Value::Bool(!rng.next().is_multiple_of(10)),
                    "mode" => Value::str(["idle", "running"][(rng.next() % 2) as usize]),
                    "rpm" => Value::I64((rng.next() % 3000) as i64),
                    _ => Value::F64(quantize(20.0 + rng.normal(), 2)),
                };
                samples.push(Sample {
                    twin,
                    field,
                    time,
                    value,
                });
            }
        }
        let writes = history
            .append(&store, samples)
            .unwrap_or_else(|e| panic!("{e}"));
        store
            .commit(&[Batch { writes }])
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let series = history.series_count();
    let mut world_timings = Vec::new();
    for probe in [0.1, 0.5, 0.9, 1.0] {
        let at = Timestamp((START_MS + (span_ms as f64 * probe) as i64) * 1_000_000);
        let started = thread_cpu_ns();
        let wall = Instant::now();
        let state = history
            .world_at(&store, at)
            .unwrap_or_else(|e| panic!("{e}"));
        world_timings.push((
            probe,
            wall.elapsed().as_secs_f64() * 1000.0,
            (thread_cpu_ns() - started) as f64 / 1e6,
            state.len(),
        ));
    }
    println!();
    println!(
        "| world state at an instant ({WORLD_TWINS} twins, {series} series, 3 hours of points every {} s) | wall ms | CPU ms | twins |",
        3 * 3600 / WORLD_STEPS
    );
    println!("| --- | ---: | ---: | ---: |");
    for (probe, wall, cpu, count) in world_timings {
        let place = if probe < 2.0 / 3.0 {
            "sealed chunks"
        } else {
            "open heads"
        };
        println!(
            "| at {:.0}% of the 3 hours ({place}) | {wall:.1} | {cpu:.1} | {count} |",
            probe * 100.0
        );
    }

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!();
    println!(
        "load average during the run (other work on this machine): {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}
