//! Benchmark of the durable write path: acknowledged (fsynced) updates per second
//! through `GroupCommit` on `RedbStore` with many concurrent writers, the commit
//! (fsync) rate, and the restart scan rate over 1,000,000 rows. Also measures the
//! raw cost of one small write + fdatasync on the same file system, for scale.
//!
//! Run: `cargo run --release -p store --example bench_store -- [--seconds N]
//! [--rows N] [--dir PATH] [--quick-repair]`. `--dir` puts the database on a given
//! file system (default: a temporary directory).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use store::{Batch, CommitLimits, GroupCommit, RedbOptions, RedbStore, Store, TableName, Ticket};

/// Size of one update's value: a serialised twin property change.
const VALUE_BYTES: usize = 300;
/// Distinct keys written (twins), so updates overwrite as in a live world.
const KEY_SPACE: u64 = 100_000;

struct Options {
    seconds: f64,
    rows: u64,
    dir: Option<PathBuf>,
    quick_repair: bool,
    /// Internal: load rows into this file, then die without closing it.
    crash_child: Option<PathBuf>,
}

fn parse_options() -> Options {
    let mut options = Options {
        seconds: 4.0,
        rows: 1_000_000,
        dir: None,
        quick_repair: false,
        crash_child: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                options.seconds = args.next().and_then(|v| v.parse().ok()).unwrap_or(4.0)
            }
            "--rows" => {
                options.rows = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1_000_000)
            }
            "--dir" => options.dir = args.next().map(PathBuf::from),
            "--quick-repair" => options.quick_repair = true,
            "--crash-child" => options.crash_child = args.next().map(PathBuf::from),
            other => {
                eprintln!("unknown argument {other:?}; see the file's header for usage");
                std::process::exit(2);
            }
        }
    }
    options
}

fn key(n: u64) -> Vec<u8> {
    format!("twin-{:08}/temperature", n % KEY_SPACE).into_bytes()
}

fn value(n: u64) -> Vec<u8> {
    let mut value = format!("{{\"value\":{n},\"ts\":1700000000}}").into_bytes();
    value.resize(VALUE_BYTES, b' ');
    value
}

/// CPU time (user + system) this process has used, in seconds, from
/// /proc/self/stat; 0 where that file does not exist. CPU per update is a steadier
/// figure than updates/s on a machine shared with other work.
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line: indexes 11 and 12 after it;
    // the kernel counts them in USER_HZ ticks, which is 100 on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

/// Runs `writers` threads, each keeping `in_flight` submissions of
/// `updates_per_batch` updates outstanding, for `seconds`.
fn run_load(
    store: Arc<dyn Store>,
    table: &TableName,
    writers: u64,
    in_flight: usize,
    updates_per_batch: u64,
    seconds: f64,
) {
    let group = Arc::new(GroupCommit::new(store, CommitLimits::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let acked_updates = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let cpu_started = process_cpu_seconds();
    let threads: Vec<_> = (0..writers)
        .map(|writer| {
            let (group, stop, acked) = (group.clone(), stop.clone(), acked_updates.clone());
            let table = table.clone();
            std::thread::spawn(move || {
                let mut counter = writer * 1_000_000_007;
                let mut pending: std::collections::VecDeque<Ticket> = Default::default();
                while !stop.load(Ordering::Relaxed) {
                    if pending.len() >= in_flight
                        && let Some(ticket) = pending.pop_front()
                    {
                        ticket.wait().expect("durable");
                        acked.fetch_add(updates_per_batch, Ordering::Relaxed);
                    }
                    let mut batch = Batch::new();
                    for _ in 0..updates_per_batch {
                        counter += 1;
                        batch.put(&table, key(counter), value(counter));
                    }
                    pending.push_back(group.submit(batch));
                }
                for ticket in pending {
                    ticket.wait().expect("durable");
                    acked.fetch_add(updates_per_batch, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    threads.into_iter().for_each(|t| t.join().expect("writer"));
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = process_cpu_seconds() - cpu_started;
    let stats = group.stats();
    let updates = acked_updates.load(Ordering::Relaxed);
    assert_eq!(
        updates, stats.writes,
        "every acknowledged update was committed"
    );
    println!(
        "{writers:>3} writers x {in_flight:>2} in flight, {updates_per_batch:>3} updates/batch: \
         {:>9.0} durable updates/s | {:>6.0} commits(fsync)/s | {:>6.1} batches/commit | \
         commit avg {:.2} ms, max {:.2} ms | CPU {:.2} us/update",
        updates as f64 / elapsed,
        stats.commits as f64 / elapsed,
        stats.batches as f64 / stats.commits.max(1) as f64,
        stats.commit_time_ns_total as f64 / stats.commits.max(1) as f64 / 1e6,
        stats.commit_time_ns_max as f64 / 1e6,
        cpu * 1e6 / updates.max(1) as f64,
    );
}

/// Cost of one 4 KiB write + fdatasync on the file system under `dir`.
fn fsync_baseline(dir: &Path) -> f64 {
    const SAMPLES: u32 = 200;
    let path = dir.join("fsync-probe");
    let mut file = std::fs::File::create(&path).expect("probe file");
    let page = [7u8; 4096];
    let started = Instant::now();
    for _ in 0..SAMPLES {
        file.write_all(&page).expect("probe write");
        file.sync_data().expect("probe fdatasync");
    }
    let per = started.elapsed().as_secs_f64() / f64::from(SAMPLES);
    let _ = std::fs::remove_file(&path);
    per
}

fn restart_table() -> TableName {
    TableName::new("w/bench/restart").expect("valid")
}

fn load_rows(path: &Path, options: &RedbOptions, rows: u64) -> RedbStore {
    let table = restart_table();
    let store = RedbStore::open_with(path, options).expect("open");
    let load_started = Instant::now();
    // Load in transactions of 50,000 rows: big enough to be quick, small enough
    // to keep the transaction's dirty pages modest.
    let mut n = 0;
    while n < rows {
        let mut batch = Batch::new();
        for _ in 0..50_000.min(rows - n) {
            batch.put(&table, format!("twin-{n:08}").into_bytes(), value(n));
            n += 1;
        }
        store.commit(&[batch]).expect("load");
    }
    println!(
        "loaded {rows} rows of {VALUE_BYTES} B in {:.2} s ({:.0} rows/s in 50,000-row transactions)",
        load_started.elapsed().as_secs_f64(),
        rows as f64 / load_started.elapsed().as_secs_f64()
    );
    store
}

/// Opens a database holding `rows` rows and scans it all, timing both. `how`
/// says how the previous process left the file.
fn restart_scan(path: &Path, options: &RedbOptions, rows: u64, how: &str) {
    let table = restart_table();
    let file_bytes = std::fs::metadata(path).map_or(0, |m| m.len());
    let open_started = Instant::now();
    let store = RedbStore::open_with(path, options).expect("reopen");
    let open_s = open_started.elapsed().as_secs_f64();
    let scan_started = Instant::now();
    let mut seen = 0u64;
    let mut bytes = 0u64;
    store
        .scan(&table, &mut |k, v| {
            seen += 1;
            bytes += (k.len() + v.len()) as u64;
            true
        })
        .expect("scan");
    let scan_s = scan_started.elapsed().as_secs_f64();
    assert_eq!(seen, rows);
    println!(
        "restart after {how}: open {:.3} s, full scan of {seen} rows ({:.0} MB) in {scan_s:.2} s = {:.0} rows/s; file {:.0} MB",
        open_s,
        bytes as f64 / 1e6,
        seen as f64 / scan_s,
        file_bytes as f64 / 1e6
    );
}

fn main() {
    let options = parse_options();
    let redb_options = RedbOptions {
        quick_repair: options.quick_repair,
        ..RedbOptions::default()
    };
    if let Some(path) = &options.crash_child {
        let store = load_rows(path, &redb_options, options.rows);
        // Die the way kill -9 would leave the file: no destructors, no close.
        std::mem::forget(store);
        std::process::abort();
    }
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = options
        .dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    println!(
        "bench_store: redb, {VALUE_BYTES} B values, {KEY_SPACE} keys, {:.0} s per load, quick_repair={}, dir {}",
        options.seconds,
        options.quick_repair,
        dir.display()
    );
    // Other processes on the machine skew every figure; say how busy it was.
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "machine: {} cores, load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "fsync baseline: {:.3} ms per 4 KiB write + fdatasync",
        fsync_baseline(&dir) * 1e3
    );

    let path = dir.join("bench.redb");
    let _ = std::fs::remove_file(&path);
    let store: Arc<dyn Store> = Arc::new(RedbStore::open_with(&path, &redb_options).expect("open"));
    let table = TableName::new("w/bench/twins").expect("valid");
    for (writers, in_flight, per_batch) in [(64, 1, 1), (64, 16, 1), (8, 4, 100), (64, 1, 100)] {
        run_load(
            store.clone(),
            &table,
            writers,
            in_flight,
            per_batch,
            options.seconds,
        );
    }
    drop(store);
    let _ = std::fs::remove_file(&path);
    // The same path without a disk: redb on its in-memory backend. This is the
    // CPU ceiling of GroupCommit + redb on this machine; the gap to the figures
    // above is what waiting for fsync costs.
    println!("without fsync (redb in-memory backend, CPU ceiling):");
    let memory: Arc<dyn Store> = Arc::new(RedbStore::open_in_memory().expect("in-memory store"));
    for (writers, in_flight, per_batch) in [(64, 16, 1), (64, 1, 100)] {
        run_load(
            memory.clone(),
            &table,
            writers,
            in_flight,
            per_batch,
            options.seconds,
        );
    }
    drop(memory);
    let restart_path = dir.join("restart.redb");
    drop(load_rows(&restart_path, &redb_options, options.rows));
    restart_scan(&restart_path, &redb_options, options.rows, "a clean close");
    let _ = std::fs::remove_file(&restart_path);

    // The same after a crash: a child process loads the rows and aborts.
    let mut child = std::process::Command::new(std::env::current_exe().expect("own path"));
    child
        .args(["--rows", &options.rows.to_string(), "--crash-child"])
        .arg(&restart_path);
    if options.quick_repair {
        child.arg("--quick-repair");
    }
    let status = child.status().expect("run crash child");
    assert!(!status.success(), "the crash child was meant to abort");
    restart_scan(
        &restart_path,
        &redb_options,
        options.rows,
        "a crash (abort)",
    );
    let _ = std::fs::remove_file(&restart_path);
}
