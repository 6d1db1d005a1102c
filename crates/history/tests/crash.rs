//! `kill -9` while history is written through `GroupCommit`: the test re-runs its
//! own binary as a child (switched by an environment variable) that appends
//! batches of points to three series, submits each batch's writes to the group
//! committer and prints the batch number once its ticket resolves. The parent
//! kills the child with SIGKILL at a random moment, reopens the store and the
//! history, and checks that every acknowledged batch is readable in full and that
//! no batch is there in part. The next round continues on top.
//!
//! Replay a run with `HISTORY_CRASH_SEED=<seed printed by the test>`.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use history::{History, HistoryConfig, Sample, Value};
use store::{Batch, CommitLimits, GroupCommit, RedbStore, Store};
use world::{Timestamp, TwinId, WorldId};

const CHILD_DIR_VAR: &str = "HISTORY_CRASH_CHILD_DIR";
const TEST_NAME: &str = "acknowledged_points_survive_kill_9";
/// Rounds of write-then-kill; each lasts well under a second of writing.
const ROUNDS: u64 = 4;
/// The child stops on its own after this long, in case the parent is gone.
const CHILD_LIFETIME_MAX: Duration = Duration::from_secs(20);
/// Batches the child keeps in flight, so group commits hold several.
const IN_FLIGHT: usize = 4;
/// Series written by every batch.
const SERIES: [&str; 3] = ["a", "b", "c"];

/// Small chunks and a small head budget, so that seals, log deletions and early
/// sweeps all happen within a few hundred batches.
fn config() -> HistoryConfig {
    HistoryConfig {
        chunk_points_max: 16,
        chunk_span_max_ns: 1_000_000,
        retention_ns: None,
        head_points_max: 32,
        // About two of the three twins fit, so evictions (and records
        // awaiting their commit) happen while batches are in flight.
        cache_bytes_max: 900,
        log_bytes_max: 300,
    }
}

fn world() -> WorldId {
    WorldId::parse("crash").unwrap()
}

/// Batch `n` writes each series at time `n * 10`, value `n`.
fn time_of(n: u64) -> i64 {
    n as i64 * 10
}

fn next_batch(history: &History, store: &dyn Store) -> u64 {
    history
        .latest_at(store, "a", "v", Timestamp(i64::MAX))
        .unwrap()
        .map_or(0, |p| (p.time.0 / 10) as u64 + 1)
}

fn run_child(dir: &Path) {
    let store = Arc::new(RedbStore::open(&dir.join("history.redb")).unwrap());
    let mut history = History::open(store.as_ref(), world(), config()).unwrap();
    let group = GroupCommit::new(store.clone(), CommitLimits::default());
    let twins: Vec<TwinId> = SERIES.iter().map(|t| TwinId::parse(t).unwrap()).collect();
    let mut n = next_batch(&history, store.as_ref());
    let mut in_flight = VecDeque::new();
    let mut stdout = std::io::stdout();
    let started = Instant::now();
    while started.elapsed() < CHILD_LIFETIME_MAX {
        let writes = history
            .append(
                store.as_ref(),
                twins.iter().map(|twin| Sample {
                    twin,
                    field: "v",
                    time: Timestamp(time_of(n)),
                    value: Value::I64(n as i64),
                }),
            )
            .unwrap();
        in_flight.push_back((n, group.submit(Batch { writes })));
        n += 1;
        if in_flight.len() >= IN_FLIGHT
            && let Some((done, ticket)) = in_flight.pop_front()
        {
            ticket.wait().unwrap();
            writeln!(stdout, "acked {done}").unwrap();
            stdout.flush().unwrap();
        }
    }
}

#[test]
fn acknowledged_points_survive_kill_9() {
    if let Ok(dir) = std::env::var(CHILD_DIR_VAR) {
        run_child(Path::new(&dir));
        return;
    }
    let seed: u64 = std::env::var("HISTORY_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("HISTORY_CRASH_SEED={seed}");
    let mut random = seed | 1;
    let mut next_random = move || {
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        random
    };
    let dir = tempfile::tempdir().unwrap();
    let mut acked_max: Option<u64> = None;
    for round in 0..ROUNDS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR_VAR, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        // Kill after a random number of acknowledgements (the kill lands while
        // later batches are in flight), or when the child stops answering.
        let kill_after = 20 + next_random() % 200;
        let mut seen = 0;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(n) = line
                .strip_prefix("acked ")
                .and_then(|n| n.parse::<u64>().ok())
            {
                acked_max = Some(acked_max.map_or(n, |m| m.max(n)));
                seen += 1;
                if seen >= kill_after {
                    break;
                }
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let store = RedbStore::open(&dir.path().join("history.redb")).unwrap();
        let history = History::open(&store, world(), config()).unwrap();
        let end = next_batch(&history, &store);
        let acked = acked_max.expect("the child acknowledged batches");
        assert!(
            end > acked,
            "round {round}: batch {acked} was acknowledged, the store ends before it"
        );
        // Every batch up to the last one stored is there in full, in every series.
        for twin in SERIES {
            let mut points = Vec::new();
            let mut from = Timestamp(i64::MIN);
            loop {
                let page = history
                    .range(&store, twin, "v", from, Timestamp(i64::MAX), 1000)
                    .unwrap();
                points.extend(page.points);
                match page.next {
                    Some(next) => from = next,
                    None => break,
                }
            }
            let expected: Vec<(i64, Value)> = (0..end)
                .map(|n| (time_of(n), Value::I64(n as i64)))
                .collect();
            let got: Vec<(i64, Value)> = points.into_iter().map(|p| (p.time.0, p.value)).collect();
            assert_eq!(got, expected, "round {round}, series {twin}");
        }
        println!(
            "round {round}: {} batches acknowledged, {end} stored",
            acked + 1
        );
    }
}
