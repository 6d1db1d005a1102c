//! Benchmark of the road crate's hot paths on esmini networks: parse time,
//! `road_to_world`, `lane_to_world`, `world_to_lane`, `next_lanes` and mesh
//! building. Prints one line per measurement.
//!
//! Run: `cargo run --release -p road --example road_bench [CORPORA_DIR]`
//! (default: `$TWINSPACE_CORPORA` or `../shared/corpora`).

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use road::{LanePosition, MeshOptions, Network};

/// Runs `f` `count` times and returns nanoseconds per call.
fn per_call(count: usize, mut f: impl FnMut(usize)) -> f64 {
    let start = Instant::now();
    for index in 0..count {
        f(index);
    }
    start.elapsed().as_nanos() as f64 / count as f64
}

fn main() {
    let root = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("TWINSPACE_CORPORA").map(PathBuf::from))
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora")
        });
    for name in [
        "e6mini.xodr",
        "fabriksgatan.xodr",
        "multi_intersections.xodr",
    ] {
        let path = root.join("esmini/resources/xodr").join(name);
        let Ok(text) = std::fs::read_to_string(&path) else {
            println!("{name}: not found at {}", path.display());
            continue;
        };
        let parse_ns = per_call(20, |_| {
            black_box(Network::parse(&text).expect("parses"));
        });
        let network = Network::parse(&text).expect("parses");
        let roads: Vec<(String, f64)> = network
            .roads()
            .map(|road| (road.id.clone(), road.length))
            .collect();
        let total_m: f64 = roads.iter().map(|road| road.1).sum();
        let count = 200_000;
        let road_ns = per_call(count, |index| {
            let (id, length) = &roads[index % roads.len()];
            let s = length * ((index * 7919) % 1000) as f64 / 1000.0;
            black_box(network.road_to_world(id, s, 1.0).ok());
        });
        let lane_ns = per_call(count, |index| {
            let (id, length) = &roads[index % roads.len()];
            let s = length * ((index * 7919) % 1000) as f64 / 1000.0;
            black_box(network.lane_to_world(id, -1, s, 0.2).ok());
        });
        let points: Vec<(f64, f64)> = (0..1000)
            .filter_map(|index| {
                let (id, length) = &roads[index % roads.len()];
                let s = length * ((index * 7919) % 1000) as f64 / 1000.0;
                network
                    .road_to_world(id, s, -2.0)
                    .ok()
                    .map(|pose| (pose.x, pose.y))
            })
            .collect();
        let world_ns = per_call(20_000, |index| {
            let (x, y) = points[index % points.len()];
            black_box(network.world_to_lane(x, y, None));
        });
        let next_ns = per_call(count, |index| {
            let (id, length) = &roads[index % roads.len()];
            let at = LanePosition {
                road: id.clone(),
                lane: -1,
                s: length * 0.5,
                offset: 0.0,
            };
            black_box(network.next_lanes(&at, index % 2 == 0));
        });
        let start = Instant::now();
        let mesh = network.mesh(&MeshOptions::default());
        let glb = mesh.to_glb();
        let mesh_ms = start.elapsed().as_secs_f64() * 1e3;
        println!(
            "{name}: {} roads, {:.0} m; parse {:.2} ms; road_to_world {:.0} ns; lane_to_world {:.0} ns; \
             world_to_lane {:.1} µs; next_lanes {:.0} ns; mesh+GLB {:.1} ms ({} triangles, {} kB)",
            roads.len(),
            total_m,
            parse_ns / 1e6,
            road_ns,
            lane_ns,
            world_ns / 1e3,
            next_ns,
            mesh_ms,
            mesh.triangle_count(),
            glb.len() / 1024
        );
    }
}
