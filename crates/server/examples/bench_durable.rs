//! Durable, acknowledged updates per second through `Worlds::ingest`: batches
//! of mapped MQTT-style messages (8 property values each, 1,000 messages per
//! batch) into a world of twins kept in a redb file, each batch counted only
//! once its `durable` future resolved (the point where the broker acks QoS 1).
//! Up to `IN_FLIGHT` batches wait for durability at once, as concurrent broker
//! connections would.
//!
//! `cargo run --release -p server --example bench_durable [-- SECONDS]`

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use server::Worlds;
use store::{CommitLimits, GroupCommit, RedbStore, Store};
use world::{Command, Condition, Timestamp, TwinId, WorldId};

const TWINS: usize = 1_000;
const BATCH: usize = 1_000;
const VALUES: usize = 8;
/// Batches waiting for durability at once.
const IN_FLIGHT: usize = 16;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn Store> =
        Arc::new(RedbStore::open(&dir.path().join("bench.redb")).expect("store opens"));
    let commit = Arc::new(GroupCommit::new(
        Arc::clone(&store),
        CommitLimits::default(),
    ));
    let worlds = Worlds::open(Arc::clone(&store), commit).expect("worlds open");
    let handle = worlds.get("default").expect("default world");
    let model = json!({
        "@id": "dtmi:bench:Sensor;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
        "contents": (0..VALUES).map(|i| json!({ "@type": "Property", "name": format!("p{i}"), "schema": "double" })).collect::<Vec<_>>()
    });
    worlds
        .apply(&handle, Command::AddModels(vec![model]))
        .await
        .expect("model loads");
    for i in 0..TWINS {
        worlds
            .apply(
                &handle,
                Command::PutTwin {
                    id: format!("sensor-{i}"),
                    body: json!({ "$metadata": { "$model": "dtmi:bench:Sensor;1" } }),
                    condition: Condition::None,
                },
            )
            .await
            .expect("twin is valid");
    }
    let world = WorldId::default_world();
    let ids: Vec<TwinId> = (0..TWINS)
        .map(|i| TwinId::parse(&format!("sensor-{i}")).expect("valid id"))
        .collect();
    let names: Vec<String> = (0..VALUES).map(|p| format!("p{p}")).collect();
    let mut waiting = VecDeque::new();
    let (mut messages, mut round) = (0usize, 0usize);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        let updates: Vec<ingest::TwinUpdate> = (0..BATCH)
            .map(|k| ingest::TwinUpdate {
                rule: "default".into(),
                world: world.clone(),
                twin: ids[(round * BATCH + k) % TWINS].clone(),
                values: names
                    .iter()
                    .enumerate()
                    .map(|(p, name)| ingest::MappedValue {
                        name: name.clone(),
                        value: json!((round * 7 + k + p) as f64 * 0.5),
                        kind: ingest::ValueKind::Auto,
                    })
                    .collect(),
                source_time: Timestamp(round as i64),
            })
            .collect();
        round += 1;
        let ingested = worlds.ingest(updates);
        assert!(
            ingested.refused.is_empty(),
            "{:?}",
            ingested.refused.first()
        );
        if let Some(durable) = ingested.durable {
            waiting.push_back(tokio::spawn(durable));
        }
        if waiting.len() >= IN_FLIGHT
            && let Some(oldest) = waiting.pop_front()
        {
            oldest.await.expect("joins").expect("durable");
        }
        messages += BATCH;
    }
    for pending in waiting {
        pending.await.expect("joins").expect("durable");
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "ingest durable: {messages} messages ({} property updates) acknowledged durable in {elapsed:.2} s = {:.0} messages/s = {:.0} property updates/s (batches of {BATCH}, {IN_FLIGHT} in flight, redb file)",
        messages * VALUES,
        messages as f64 / elapsed,
        (messages * VALUES) as f64 / elapsed
    );
}
