//! In-process figure of the batched value path (`World::set_values`): property
//! updates per second into a world of twins with ten properties, in batches of
//! 1,000 updates (one message per twin), every value checked against the model
//! and every changed twin's record built, as the server's ingest does; beside it
//! the same updates as one JSON Patch command each (the path it replaces).
//!
//! `cargo run --release -p world --example bench_ingest [-- TWINS]`

use std::time::Instant;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use serde_json::json;
use world::{
    Command, Condition, FieldValue, Timestamp, TwinId, ValueKind, ValueUpdate, World, WorldId,
};

/// CPU time this thread has run: on a shared, loaded machine wall time
/// includes waiting for a core.
fn thread_cpu_s() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e9)
}

/// Updates per `set_values` call: what one broker batch carries.
const BATCH: usize = 1_000;
/// Values per update (one message sets this many properties of its twin).
const VALUES: usize = 8;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let mut w = World::new(WorldId::default_world());
    let sensor = json!({
        "@id": "dtmi:bench:Sensor;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
        "contents": (0..10).map(|i| json!({ "@type": "Property", "name": format!("p{i}"), "schema": if i < 8 { "double" } else { "string" } })).collect::<Vec<_>>()
    });
    w.apply(Command::AddModels(vec![sensor]), Timestamp(0))
        .expect("model loads");
    for i in 0..n {
        let mut body = json!({ "$metadata": { "$model": "dtmi:bench:Sensor;1" } });
        for p in 0..8 {
            body[format!("p{p}")] = json!(0.5);
        }
        body["p8"] = json!("line-a");
        body["p9"] = json!("s");
        w.apply(
            Command::PutTwin {
                id: format!("sensor-{i}"),
                body,
                condition: Condition::None,
            },
            Timestamp(0),
        )
        .expect("twin is valid");
    }
    let ids: Vec<TwinId> = (0..n)
        .map(|i| TwinId::parse(&format!("sensor-{i}")).expect("valid id"))
        .collect();

    // Rounds over every twin; each round's values differ, so every update changes its twin.
    let rounds = 3;
    let mut values_set = 0usize;
    let mut records = 0usize;
    let (started, cpu_started) = (Instant::now(), thread_cpu_s());
    for round in 0..rounds {
        for chunk in ids.chunks(BATCH) {
            let updates: Vec<ValueUpdate> = chunk
                .iter()
                .enumerate()
                .map(|(k, twin)| ValueUpdate {
                    twin: twin.clone(),
                    values: (0..VALUES)
                        .map(|p| FieldValue {
                            name: format!("p{p}"),
                            value: json!((round * 1000 + k + p) as f64 * 0.25),
                            kind: ValueKind::Auto,
                        })
                        .collect(),
                    source_time: Timestamp(round as i64),
                })
                .collect();
            values_set += updates.len() * VALUES;
            let out = w.set_values(updates, Timestamp(1 + round as i64));
            assert!(out.refused.is_empty(), "{:?}", out.refused.first());
            records += out.applied.map_or(0, |a| a.records.len());
        }
    }
    let batched_s = started.elapsed().as_secs_f64();
    let batched_cpu = thread_cpu_s() - cpu_started;
    println!(
        "ingest: {values_set} property updates ({VALUES} per message, {BATCH} messages per call, {records} twin records) in {batched_s:.2} s = {:.0} property updates/s batched ({:.0} per cpu-second; building the updates included)",
        values_set as f64 / batched_s,
        values_set as f64 / batched_cpu
    );

    let patches = n.min(100_000);
    let (started, cpu_started) = (Instant::now(), thread_cpu_s());
    for (i, id) in ids.iter().take(patches).enumerate() {
        let ops: Vec<_> = (0..VALUES)
            .map(|p| json!({ "op": "add", "path": format!("/p{p}"), "value": (i + p) as f64 * 0.125 }))
            .collect();
        let patch: json_patch::Patch = serde_json::from_value(json!(ops)).expect("patch parses");
        w.apply(
            Command::PatchTwin {
                id: id.as_str().to_owned(),
                patch,
                condition: Condition::None,
            },
            Timestamp(10),
        )
        .expect("patch applies");
    }
    let patch_s = started.elapsed().as_secs_f64();
    let patch_cpu = thread_cpu_s() - cpu_started;
    println!(
        "ingest: the same as one JSON Patch per message: {} property updates in {patch_s:.2} s = {:.0} property updates/s ({:.0} per cpu-second)",
        patches * VALUES,
        (patches * VALUES) as f64 / patch_s,
        (patches * VALUES) as f64 / patch_cpu
    );
}
