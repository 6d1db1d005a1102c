//! Crash test with a real `kill -9`. The test re-executes its own binary as a child
//! process (switched by an environment variable) that writes batches through
//! `GroupCommit` from several threads and prints each batch id once its ticket
//! resolves. The parent kills the child with SIGKILL at a random moment, reopens
//! the database and checks that every acknowledged batch is fully there and that
//! no batch is half-applied; then the next round continues writing on top.
//!
//! Replay a run with `STORE_CRASH_SEED=<seed printed by the test>`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use store::{Batch, CommitLimits, GroupCommit, RedbOptions, RedbStore, Store, TableName};

const CHILD_DIR_VAR: &str = "STORE_CRASH_CHILD_DIR";
const CHILD_ROUND_VAR: &str = "STORE_CRASH_ROUND";
/// "1" when the child opens the store with redb's quick-repair (two-phase
/// commit); rounds alternate at random so both commit protocols meet kill -9.
const CHILD_QUICK_REPAIR_VAR: &str = "STORE_CRASH_QUICK_REPAIR";
const TEST_NAME: &str = "acknowledged_batches_survive_kill_9";

/// Rounds of write-then-kill; each round lasts well under two seconds.
const ROUNDS: u64 = 5;
/// Writer threads in the child, each waiting for its own tickets.
const WRITER_THREADS: u64 = 8;
/// Data keys per batch that must appear all together or not at all.
const KEYS_PER_BATCH: u64 = 4;
/// The child stops on its own after this long, in case the parent is gone.
const CHILD_LIFETIME_MAX: Duration = Duration::from_secs(20);
/// Every this many batches, a batch also deletes an earlier batch of its thread.
const DELETE_EVERY: u64 = 7;

fn table(name: &str) -> TableName {
    TableName::new(name).expect("valid table name")
}

fn data_table() -> TableName {
    table("crash/data")
}
/// One entry per applied batch: id -> number of data keys it wrote.
fn manifest_table() -> TableName {
    table("crash/batches")
}
/// Deleted batch id -> the id of the batch that deleted it.
fn deleted_table() -> TableName {
    table("crash/deleted")
}
/// Writer thread -> id of its latest applied batch (overwritten every batch).
fn last_table() -> TableName {
    table("crash/last")
}

fn batch_id(round: u64, thread: u64, index: u64) -> String {
    format!("r{round}-t{thread}-{index:07}")
}

/// Value of data key `j` of batch `id`: its name plus a length that varies with a
/// hash of both, so batches span different page layouts.
fn data_value(id: &str, j: u64) -> Vec<u8> {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in id.bytes().chain(j.to_le_bytes()) {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3);
    }
    let mut value = format!("{id}/{j}/").into_bytes();
    value.resize(value.len() + (hash % 1500) as usize, b'x');
    value
}

fn data_key(id: &str, j: u64) -> Vec<u8> {
    format!("{id}/{j}").into_bytes()
}

fn batch_for(round: u64, thread: u64, index: u64) -> Batch {
    let id = batch_id(round, thread, index);
    let mut batch = Batch::new();
    for j in 0..KEYS_PER_BATCH {
        batch.put(&data_table(), data_key(&id, j), data_value(&id, j));
    }
    batch.put(&manifest_table(), id.clone(), KEYS_PER_BATCH.to_string());
    batch.put(&last_table(), format!("t{thread}"), id.clone());
    if index % DELETE_EVERY == DELETE_EVERY - 1 {
        let victim = batch_id(round, thread, index - 3);
        for j in 0..KEYS_PER_BATCH {
            batch.delete(&data_table(), data_key(&victim, j));
        }
        batch.put(&deleted_table(), victim, id);
    }
    batch
}

/// Tickets each child writer keeps outstanding, so groups get large and the
/// small queue below fills up.
const IN_FLIGHT_PER_WRITER: usize = 4;
/// A queue small enough that writers hit backpressure during the test.
const CHILD_QUEUE_BYTES_MAX: usize = 48 * 1024;

/// Polls a future on this thread until it resolves (the child's writers are
/// plain threads; this is enough to drive `submit_async` and tickets).
fn block_on<F: std::future::Future + Unpin>(mut future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = std::task::Context::from_waker(&waker);
    loop {
        if let std::task::Poll::Ready(output) = std::pin::Pin::new(&mut future).poll(&mut context) {
            return output;
        }
        std::thread::park_timeout(Duration::from_millis(100));
    }
}

/// The child: write until killed. Even threads use the blocking `submit` and
/// `Ticket::wait`; odd threads use `submit_async` and await their tickets.
fn run_child(dir: &Path, round: u64, quick_repair: bool) {
    let options = RedbOptions {
        quick_repair,
        ..RedbOptions::default()
    };
    let store =
        RedbStore::open_with(&dir.join("store.redb"), &options).expect("child opens the store");
    let limits = CommitLimits {
        queue_bytes_max: CHILD_QUEUE_BYTES_MAX,
        batch_bytes_max: CHILD_QUEUE_BYTES_MAX,
    };
    let group = Arc::new(GroupCommit::new(Arc::new(store), limits));
    let stdout = Arc::new(Mutex::new(std::io::stdout()));
    let started = Instant::now();
    let writers: Vec<_> = (0..WRITER_THREADS)
        .map(|thread| {
            let (group, stdout) = (Arc::clone(&group), Arc::clone(&stdout));
            std::thread::spawn(move || {
                let is_async = thread % 2 == 1;
                let mut pending = std::collections::VecDeque::new();
                let mut index = 0;
                while started.elapsed() < CHILD_LIFETIME_MAX {
                    if pending.len() < IN_FLIGHT_PER_WRITER {
                        let batch = batch_for(round, thread, index);
                        let ticket = if is_async {
                            block_on(group.submit_async(batch))
                        } else {
                            group.submit(batch)
                        };
                        pending.push_back((batch_id(round, thread, index), ticket));
                        index += 1;
                        continue;
                    }
                    let Some((id, ticket)) = pending.pop_front() else {
                        continue;
                    };
                    let result = if is_async {
                        block_on(ticket)
                    } else {
                        ticket.wait()
                    };
                    let mut out = stdout.lock().expect("stdout lock");
                    let line = match result {
                        Ok(()) => format!("ack {id}\n"),
                        Err(error) => format!("fail {id} {error}\n"),
                    };
                    if out
                        .write_all(line.as_bytes())
                        .and_then(|()| out.flush())
                        .is_err()
                    {
                        return; // the parent is gone
                    }
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().expect("writer thread");
    }
}

/// A small deterministic generator, so a failing run can be replayed by seed.
struct SplitMix(u64);
impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn scan_all(store: &RedbStore, table: &TableName) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut entries = BTreeMap::new();
    store
        .scan(table, &mut |k, v| {
            entries.insert(k.to_vec(), v.to_vec());
            true
        })
        .expect("scan after crash");
    entries
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Checks the database after a crash against everything acknowledged so far.
fn verify(path: &Path, acked: &BTreeSet<String>) -> usize {
    // redb's own consistency check first (repairs nothing it needn't).
    {
        let mut database = redb::Database::open(path).expect("reopen with redb");
        assert!(
            database.check_integrity().expect("integrity check"),
            "redb found the file inconsistent"
        );
    }
    let store = RedbStore::open(path).expect("reopen after kill -9");
    let data = scan_all(&store, &data_table());
    let manifest = scan_all(&store, &manifest_table());
    let deleted = scan_all(&store, &deleted_table());
    let last = scan_all(&store, &last_table());

    for id in acked {
        assert!(
            manifest.contains_key(id.as_bytes()),
            "acknowledged batch {id} is missing after kill -9"
        );
    }
    // Every applied batch is whole: all its keys, or all of them deleted by a
    // later batch that is itself applied.
    for (id, count) in &manifest {
        let id = text(id);
        assert_eq!(text(count), KEYS_PER_BATCH.to_string(), "manifest of {id}");
        let present: Vec<u64> = (0..KEYS_PER_BATCH)
            .filter(|&j| data.contains_key(&data_key(&id, j)))
            .collect();
        match deleted.get(id.as_bytes()) {
            None => {
                assert_eq!(
                    present.len() as u64,
                    KEYS_PER_BATCH,
                    "batch {id} is half-applied"
                );
                for j in 0..KEYS_PER_BATCH {
                    assert_eq!(
                        data.get(&data_key(&id, j)),
                        Some(&data_value(&id, j)),
                        "value {j} of batch {id}"
                    );
                }
            }
            Some(deleter) => {
                assert!(
                    present.is_empty(),
                    "batch {id} is half-deleted: {present:?}"
                );
                assert!(
                    manifest.contains_key(deleter),
                    "deletion of {id} by {} is visible but that batch is not",
                    text(deleter)
                );
            }
        }
    }
    // No data key without its batch's manifest (that would be a half-applied batch).
    for key in data.keys() {
        let key = text(key);
        let id = key.rsplit_once('/').map_or(key.as_str(), |(id, _)| id);
        assert!(manifest.contains_key(id.as_bytes()), "orphan key {key}");
    }
    // Each thread's "last" pointer is at or after its last acknowledged batch.
    for (thread_key, id) in &last {
        let thread = text(thread_key);
        let prefix_of = |id: &str| id.rsplit_once('-').map(|(p, _)| p.to_owned());
        let newest_acked = acked
            .iter()
            .filter(|a| prefix_of(a).is_some_and(|p| p.ends_with(&format!("-{thread}"))))
            .filter(|a| prefix_of(a) == prefix_of(&text(id)))
            .max();
        if let Some(newest_acked) = newest_acked {
            assert!(
                text(id) >= *newest_acked,
                "{thread} points at {} but {newest_acked} was acknowledged",
                text(id)
            );
        }
        assert!(
            manifest.contains_key(id),
            "{thread} points at a missing batch"
        );
    }
    manifest.len()
}

#[test]
fn acknowledged_batches_survive_kill_9() {
    if let Ok(dir) = std::env::var(CHILD_DIR_VAR) {
        let round = std::env::var(CHILD_ROUND_VAR)
            .ok()
            .and_then(|r| r.parse().ok())
            .expect("round number");
        let quick_repair = std::env::var(CHILD_QUICK_REPAIR_VAR).is_ok_and(|v| v == "1");
        run_child(Path::new(&dir), round, quick_repair);
        return;
    }
    let seed = std::env::var("STORE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        });
    eprintln!("crash test seed: {seed} (replay with STORE_CRASH_SEED={seed})");
    let mut random = SplitMix(seed);
    let dir = tempfile::tempdir().expect("temp dir");
    let path: PathBuf = dir.path().join("store.redb");
    let exe = std::env::current_exe().expect("test binary path");
    let mut acked = BTreeSet::new();

    for round in 0..ROUNDS {
        let quick_repair = random.next() % 2 == 1;
        let mut child = Command::new(&exe)
            .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR_VAR, dir.path())
            .env(CHILD_ROUND_VAR, round.to_string())
            .env(CHILD_QUICK_REPAIR_VAR, if quick_repair { "1" } else { "0" })
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("child stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (first_ack, first_ack_seen) = mpsc::channel();
        let reader = {
            let lines = Arc::clone(&lines);
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if line.starts_with("ack ") {
                        let _ = first_ack.send(());
                    }
                    lines.lock().expect("lines").push(line);
                }
            })
        };
        if first_ack_seen
            .recv_timeout(Duration::from_secs(30))
            .is_err()
        {
            let _ = child.kill();
            panic!("round {round}: the child acknowledged nothing within 30 s");
        }
        let delay = Duration::from_millis(20 + random.next() % 900);
        std::thread::sleep(delay);
        assert!(
            child.try_wait().expect("child status").is_none(),
            "round {round}: the child ended before it was killed"
        );
        child.kill().expect("kill -9"); // SIGKILL on Unix
        let status = child.wait().expect("reap child");
        reader.join().expect("reader thread");
        let lines = std::mem::take(&mut *lines.lock().expect("lines"));
        let failures: Vec<&String> = lines.iter().filter(|l| l.starts_with("fail ")).collect();
        assert!(
            failures.is_empty(),
            "round {round}: commits failed: {failures:?}"
        );
        let round_acks: Vec<String> = lines
            .iter()
            .filter_map(|l| l.strip_prefix("ack ").map(str::to_owned))
            .collect();
        acked.extend(round_acks.iter().cloned());
        let applied = verify(&path, &acked);
        eprintln!(
            "round {round} (quick_repair={quick_repair}): killed after {delay:?} ({status}); {} acks this round, {} acked in total, {applied} batches applied, all present and whole",
            round_acks.len(),
            acked.len()
        );
        assert!(applied >= acked.len());
    }
}
