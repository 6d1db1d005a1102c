//! `twinspace bench restart`: how long a restart takes for a world of N placed
//! twins with ten properties each, end to end through the real store: the
//! world is written through the durable write path into a scratch data
//! directory, the app is shut down, and `App::open` (store scan, JSON decoding,
//! `World::restore`) is timed on the same directory, with the RSS it leaves.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use serde_json::json;
use server::{App, ServerOptions};
use world::{Command, Condition, WorldId};

/// Most twins the bench writes; a million is the product's target size.
const TWINS_MAX: usize = 2_000_000;
/// Writes in flight at once while filling the world, so that many share an fsync.
const IN_FLIGHT: usize = 512;

/// Options of `bench restart`.
#[derive(clap::Args, Debug)]
pub(crate) struct RestartArgs {
    /// Twins in the world (each with 10 properties and a placement).
    #[arg(long, default_value_t = 1_000_000)]
    twins: usize,
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// CPU seconds this process has used, all threads (utime + stime of
/// /proc/self/stat). On a shared machine wall time includes waiting for a core.
fn process_cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|t| t.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after ')'.
    (ticks(11) + ticks(12)) / CLOCK_TICKS_PER_S
}

/// CPU seconds the calling thread has used (the kernel's scheduler statistics).
fn thread_cpu_s() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e9)
}

/// The kernel's USER_HZ, 100 on every Linux this runs on.
const CLOCK_TICKS_PER_S: f64 = 100.0;

fn open(dir: &std::path::Path) -> Result<App> {
    let store: Arc<dyn store::Store> = Arc::new(crate::serve::open_store(dir)?);
    let options = ServerOptions {
        limits: server::Limits::default(),
        ..ServerOptions::default()
    };
    Ok(App::open(store, options)?.app)
}

pub(crate) fn run(args: &RestartArgs) -> Result<()> {
    let twins = args.twins.clamp(1, TWINS_MAX);
    let scratch = Scratch(
        std::env::temp_dir().join(format!("twinspace-bench-restart-{}", std::process::id())),
    );
    let _ = std::fs::remove_dir_all(scratch.path());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let fill = Instant::now();
    runtime.block_on(async {
        let app = open(scratch.path())?;
        let handle = app.worlds().create(WorldId::parse("bench")?).await?;
        let model = json!({
            "@id": "dtmi:bench:Sensor;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
            "contents": (0..10).map(|i| json!({ "@type": "Property", "name": format!("p{i}"),
                "schema": if i < 8 { "double" } else { "string" }, "writable": true })).collect::<Vec<_>>()
        });
        app.worlds().apply(&handle, Command::AddModels(vec![model])).await?;
        let side = (twins as f64).sqrt().ceil() as usize;
        let mut next = 0usize;
        while next < twins {
            let end = (next + IN_FLIGHT).min(twins);
            let writes = (next..end).map(|i| {
                let mut body = json!({ "$metadata": { "$model": "dtmi:bench:Sensor;1" },
                    "p8": "line-a", "p9": format!("s{}", i % 1000),
                    "$placement": { "position": [(i % side) as f64, (i / side) as f64, 0.0] } });
                for p in 0..8 {
                    body[format!("p{p}")] = json!((i * 10 + p) as f64 * 0.5);
                }
                let command = Command::PutTwin { id: format!("sensor-{i}"), body, condition: Condition::None };
                let (app, handle) = (app.clone(), handle.clone());
                tokio::spawn(async move { app.worlds().apply(&handle, command).await })
            });
            for write in futures_join(writes.collect()).await {
                write.context("a write task panicked")??;
            }
            next = end;
        }
        app.shutdown().await;
        anyhow::Ok(())
    })?;
    println!(
        "filled: {twins} twins through the durable write path in {:.1} s ({:.0} twins/s)",
        fill.elapsed().as_secs_f64(),
        twins as f64 / fill.elapsed().as_secs_f64()
    );
    let store_mib = std::fs::read_dir(scratch.path())
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum::<u64>()
        })
        .unwrap_or(0) as f64
        / 1_048_576.0;
    let (started, cpu_started, thread_started) = (Instant::now(), process_cpu_s(), thread_cpu_s());
    let app = open(scratch.path())?;
    let restored = app
        .worlds()
        .get("bench")
        .map_or(0, |h| h.read().twin_count());
    let restart_s = started.elapsed().as_secs_f64();
    let restart_cpu_s = process_cpu_s() - cpu_started;
    // The world is rebuilt on this thread while a reader thread scans the store.
    let rebuild_cpu_s = thread_cpu_s() - thread_started;
    println!(
        "restart: {restored} twins restored from the store ({store_mib:.0} MiB on disk) in {restart_s:.2} s; CPU {restart_cpu_s:.2} s over all threads, {rebuild_cpu_s:.2} s of it on the rebuilding thread (target < 5 s for 1,000,000); process RSS {:.0} MiB (includes what filling the world left behind)",
        rss_mib()
    );
    runtime.block_on(app.shutdown());
    Ok(())
}

/// A scratch data directory, removed when the bench ends.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Awaits every task, in order.
async fn futures_join<T>(
    tasks: Vec<tokio::task::JoinHandle<T>>,
) -> Vec<Result<T, tokio::task::JoinError>> {
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        out.push(task.await);
    }
    out
}
