//! In-process figures of the twin graph: twins created/s, patches/s, memory for a
//! million placed twins with ten properties, query latency (property filters over
//! every twin; a region returning about 1,000), and the size of the twins'
//! stored records and the time to restore the world from them. Times are given
//! as wall and CPU time: on a shared machine wall time includes waiting.
//!
//! `cargo run --release -p world --example bench_world [-- TWINS]`

use std::time::Instant;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use serde_json::{Value, json};
use world::{Command, Condition, Record, Seq, StoredRecord, Timestamp, TwinId, World, WorldId};

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// CPU time this thread has run (the kernel's scheduler statistics): on a
/// shared, loaded machine wall time includes waiting for a core.
fn thread_cpu_ms() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e6)
}

/// Median wall and CPU milliseconds of `rounds` calls of `f`.
fn median_ms(rounds: usize, mut f: impl FnMut()) -> (f64, f64) {
    let mut wall = Vec::with_capacity(rounds);
    let mut cpu = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let (started, cpu_started) = (Instant::now(), thread_cpu_ms());
        f();
        wall.push(started.elapsed().as_secs_f64() * 1000.0);
        cpu.push(thread_cpu_ms() - cpu_started);
    }
    wall.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    (wall[rounds / 2], cpu[rounds / 2])
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let side = (n as f64).sqrt().ceil() as usize;
    let rss_start = rss_mib();
    let mut w = World::new(WorldId::default_world());
    let sensor = json!({
        "@id": "dtmi:bench:Sensor;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
        "contents": (0..10).map(|i| json!({ "@type": "Property", "name": format!("p{i}"), "schema": if i < 8 { "double" } else { "string" }, "writable": true })).collect::<Vec<_>>()
    });
    w.apply(Command::AddModels(vec![sensor]), Timestamp(0))
        .expect("model loads");

    let (started, cpu_started) = (Instant::now(), thread_cpu_ms());
    for i in 0..n {
        let mut body = json!({ "$metadata": { "$model": "dtmi:bench:Sensor;1" } });
        for p in 0..8 {
            body[format!("p{p}")] = json!((i * 10 + p) as f64 * 0.5);
        }
        body["p8"] = json!("line-a");
        body["p9"] = json!(format!("s{}", i % 1000));
        body["$placement"] = json!({ "position": [(i % side) as f64, (i / side) as f64, 0.0] });
        w.apply(
            Command::PutTwin {
                id: format!("sensor-{i}"),
                body,
                condition: Condition::None,
            },
            Timestamp(i as i64),
        )
        .expect("twin is valid");
    }
    let create_s = started.elapsed().as_secs_f64();
    let create_cpu_s = (thread_cpu_ms() - cpu_started) / 1000.0;
    let rss_world = rss_mib() - rss_start;
    println!(
        "world: {n} twins created in {create_s:.2} s = {:.0} twins/s ({:.0} twins per cpu-second)",
        n as f64 / create_s,
        n as f64 / create_cpu_s
    );

    let patches = n.min(200_000);
    let (started, cpu_started) = (Instant::now(), thread_cpu_ms());
    for i in 0..patches {
        let patch: json_patch::Patch =
            serde_json::from_value(json!([{ "op": "replace", "path": "/p0", "value": i as f64 }]))
                .unwrap();
        w.apply(
            Command::PatchTwin {
                id: format!("sensor-{i}"),
                patch,
                condition: Condition::None,
            },
            Timestamp(i as i64),
        )
        .expect("patch applies");
    }
    let patch_s = started.elapsed().as_secs_f64();
    let patch_cpu_s = (thread_cpu_ms() - cpu_started) / 1000.0;
    println!(
        "world: {patches} JSON patches in {patch_s:.2} s = {:.0} patches/s ({:.0} patches per cpu-second)",
        patches as f64 / patch_s,
        patches as f64 / patch_cpu_s
    );

    let limits = query::Limits::default();
    let rounds = 5;
    let filters = [
        (
            "property filter (range and equality, 999 matches)",
            "SELECT COUNT() FROM DIGITALTWINS T WHERE T.p0 > 100 AND T.p9 = 's7'",
        ),
        (
            "range filter matching half the twins",
            "SELECT COUNT() FROM DIGITALTWINS T WHERE T.p1 > 2500000",
        ),
        (
            "range filter, first page of 100 rows",
            "SELECT T.$dtId, T.p3 FROM DIGITALTWINS T WHERE T.p3 >= 4000000",
        ),
        (
            "string equality on every twin and a range, whole twins",
            "SELECT * FROM DIGITALTWINS T WHERE T.p8 = 'line-a' AND T.p2 < 1000",
        ),
        (
            "STARTSWITH (no column answers it: a scan)",
            "SELECT COUNT() FROM DIGITALTWINS T WHERE STARTSWITH(T.p9, 's99')",
        ),
    ];
    for (name, q) in filters {
        let mut page = None;
        let (wall, cpu) = median_ms(rounds, || {
            page = Some(w.query(q, 0, 100, &limits).expect("query runs"));
        });
        let shown = page.map_or(Value::Null, |p| {
            if p.rows.len() == 1 {
                p.rows[0].clone()
            } else {
                json!(format!("{} rows", p.rows.len()))
            }
        });
        println!("query: {name} over {n} twins: {wall:.1} ms wall, {cpu:.1} ms cpu ({shown})");
    }

    let half = 15.5; // a 32 x 32 square of the grid: about 1,000 twins
    let (cx, cy) = ((side / 2) as f64, (side / 4) as f64);
    let region = format!(
        "SELECT T.$dtId FROM DIGITALTWINS T WHERE WITHIN_BOX(T, {}, {}, -1, {}, {}, 1)",
        cx - half,
        cy - half,
        cx + half,
        cy + half
    );
    let started = Instant::now();
    let mut count = 0;
    for _ in 0..rounds {
        count = w
            .query(&region, 0, 10_000, &limits)
            .expect("region query runs")
            .rows
            .len();
    }
    let region_ms = started.elapsed().as_secs_f64() * 1000.0 / rounds as f64;
    let started = Instant::now();
    for _ in 0..100 {
        count = w
            .twins_in_box([cx - half, cy - half, -1.0], [cx + half, cy + half, 1.0])
            .len();
    }
    let index_ms = started.elapsed().as_secs_f64() * 1000.0 / 100.0;
    println!(
        "query: region returning {count} twins: {region_ms:.2} ms through the query language, {index_ms:.3} ms from the index"
    );

    println!(
        "memory: {rss_world:.0} MiB RSS for {n} twins with 10 properties and a placement ({:.0} bytes/twin)",
        rss_world * 1048576.0 / n as f64
    );

    // What a store hands back: every twin's record, encoded as the store keeps
    // it (`Record::encode`), and for comparison as the JSON text kept before.
    let mut encoded = Vec::with_capacity(n);
    let (mut binary_bytes, mut json_bytes) = (0usize, 0usize);
    let (started, cpu_started) = (Instant::now(), thread_cpu_ms());
    for i in 0..n {
        let id = format!("sensor-{i}");
        let Some(value) = w.twin_json(&id) else {
            continue;
        };
        json_bytes += value.to_string().len();
        let record = Record::Twin {
            id: TwinId::parse(&id).expect("valid id"),
            value,
        };
        let bytes = record.encode().expect("twins encode");
        binary_bytes += bytes.len();
        encoded.push(StoredRecord {
            key: id.into_bytes(),
            value: bytes,
        });
    }
    println!(
        "records: {n} twins encoded in {:.2} s ({:.2} s cpu, including building their JSON): {:.0} bytes/twin binary, {:.0} bytes/twin as JSON text",
        started.elapsed().as_secs_f64(),
        (thread_cpu_ms() - cpu_started) / 1000.0,
        binary_bytes as f64 / n as f64,
        json_bytes as f64 / n as f64
    );
    let models = vec![
        json!({ "id": "dtmi:bench:Sensor;1", "uploadTime": Timestamp(0).to_rfc3339(), "decommissioned": false, "model": w.models().get(&model::Dtmi::parse("dtmi:bench:Sensor;1").unwrap()).unwrap().source.clone() }),
    ];
    drop(w);
    let (started, cpu_started) = (Instant::now(), thread_cpu_ms());
    let restored = World::restore_encoded(
        WorldId::default_world(),
        Seq(n as u64),
        models,
        encoded,
        Vec::new(),
    )
    .expect("restores");
    println!(
        "restore: {} twins rebuilt from binary records in {:.2} s ({:.2} s cpu)",
        restored.twin_count(),
        started.elapsed().as_secs_f64(),
        (thread_cpu_ms() - cpu_started) / 1000.0
    );
}
