//! Cross-check of reference-line and lane-border geometry against PyPI `pyxodr`,
//! an independent OpenDRIVE implementation, on esmini roads with arcs, clothoid
//! spirals, paramPoly3 curves, lane offsets and widening lanes.
//!
//! pyxodr samples each road at 0.1 m; every sampled point is projected onto our
//! reference line and its distance from our curve (reference line) or from our
//! lane border at that s (lane borders) must be at most [`TOLERANCE_M`] = 1 cm.
//! Points within [`EDGE_SKIP_M`] of a lane-section boundary or road end are left
//! out, because there pyxodr's polyline partition and ours disagree about which
//! section a point belongs to, which is no geometric difference.
//!
//! `ROAD_PYXODR_ALL=1` adds four larger esmini files (about a minute more).
//!
//! Runs when a Python with pyxodr is found: `ROAD_PYXODR_PYTHON`, else
//! `<workspace>/.venv`, `$TMPDIR/road-pyxodr-venv` or `/tmp/road-pyxodr-venv`
//! (create one with `crates/road/tests/pyxodr/setup.sh`); otherwise it says so and
//! skips.

use std::path::{Path, PathBuf};
use std::process::Command;

use road::Network;
use serde_json::Value;

/// Largest allowed distance between pyxodr's points and our geometry, m.
const TOLERANCE_M: f64 = 0.01;
/// Distance from section boundaries and road ends within which border points are skipped, m.
const EDGE_SKIP_M: f64 = 0.3;
/// Every how many of pyxodr's 0.1 m samples is checked (keeps the test fast).
const STRIDE: usize = 3;

/// esmini roads compared: spirals and arcs (curves, crest-curve with elevation),
/// paramPoly3 with pRange arcLength and lane offsets (fabriksgatan) and lane
/// offsets with merging lanes (two_plus_one).
const FILES: &[&str] = &[
    "curves.xodr",
    "crest-curve.xodr",
    "fabriksgatan.xodr",
    "two_plus_one.xodr",
];

/// Larger files pyxodr needs a minute for, compared when `ROAD_PYXODR_ALL` is set
/// (long paramPoly3 roads with lane offsets).
const MORE_FILES: &[&str] = &[
    "soderleden.xodr",
    "e6mini.xodr",
    "jolengatan.xodr",
    "velodrome.xodr",
];

/// Our own file for what the corpus lacks: poly3, normalized paramPoly3, an
/// S-shaped spiral with cubic lane offset and widths.
const OWN_FILE: &str = "tests/data/shapes.xodr";

fn python() -> Option<PathBuf> {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut candidates = Vec::new();
    if let Some(explicit) = std::env::var_os("ROAD_PYXODR_PYTHON") {
        candidates.push(PathBuf::from(explicit));
    }
    candidates.push(workspace.join(".venv/bin/python"));
    if let Some(tmp) = std::env::var_os("TMPDIR") {
        candidates.push(PathBuf::from(tmp).join("road-pyxodr-venv/bin/python"));
    }
    candidates.push(PathBuf::from("/tmp/road-pyxodr-venv/bin/python"));
    candidates.into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import pyxodr"])
            .output()
            .is_ok_and(|output| output.status.success())
    })
}

fn corpus_folder() -> Option<PathBuf> {
    let root = std::env::var_os("TWINSPACE_CORPORA").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora"),
        PathBuf::from,
    );
    let folder = root.join("esmini/resources/xodr");
    if folder.is_dir() {
        Some(folder)
    } else {
        eprintln!(
            "esmini corpus not found at {}; set TWINSPACE_CORPORA to run the pyxodr cross-check",
            folder.display()
        );
        None
    }
}

fn points(value: &Value) -> Vec<(f64, f64, f64)> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|point| {
                    let x = point.get(0)?.as_f64()?;
                    let y = point.get(1)?.as_f64()?;
                    let z = point.get(2).and_then(Value::as_f64).unwrap_or(0.0);
                    Some((x, y, z))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Default, Debug)]
struct Deviation {
    reference_max: f64,
    elevation_max: f64,
    border_max: f64,
    reference_points: usize,
    border_points: usize,
    worst: String,
    worst_border: String,
}

fn compare(network: &Network, sampled: &Value) -> Deviation {
    let mut deviation = Deviation::default();
    let roads = sampled
        .get("roads")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for road_value in &roads {
        let Some(id) = road_value.get("id").and_then(Value::as_str) else {
            continue;
        };
        let Some(road) = network.road(id) else {
            deviation.worst = format!("road {id} missing from our network");
            deviation.reference_max = f64::INFINITY;
            continue;
        };
        for (x, y, z) in points(&road_value["reference"]).into_iter().step_by(STRIDE) {
            let Some((s, _)) = network.world_to_road(id, x, y) else {
                continue;
            };
            let Ok(pose) = network.road_to_world(id, s, 0.0) else {
                continue;
            };
            let distance = (pose.x - x).hypot(pose.y - y);
            deviation.reference_points += 1;
            if distance > deviation.reference_max {
                deviation.reference_max = distance;
                deviation.worst = format!("road {id} reference at s = {s:.2}: {distance:.4} m");
            }
            // Elevation: pyxodr evaluates it at its polyline's running length.
            deviation.elevation_max = deviation.elevation_max.max((pose.z - z).abs());
        }
        let sections: Vec<f64> = road.lane_sections.iter().map(|section| section.s).collect();
        for lane_value in road_value["lanes"].as_array().cloned().unwrap_or_default() {
            let Some(lane) = lane_value["lane"]
                .as_i64()
                .and_then(|lane| i32::try_from(lane).ok())
            else {
                continue;
            };
            if lane == 0 {
                continue;
            }
            let ordinal = lane_value["section"].as_u64().unwrap_or(0) as usize;
            for (x, y, _) in points(&lane_value["border"]).into_iter().step_by(STRIDE) {
                let Some((s, t)) = network.world_to_road(id, x, y) else {
                    continue;
                };
                let near_edge = s < EDGE_SKIP_M
                    || s > road.length - EDGE_SKIP_M
                    || sections.iter().any(|start| (s - start).abs() < EDGE_SKIP_M);
                if near_edge || road.lane_section_index(s) != Some(ordinal) {
                    continue;
                }
                let Ok((_, outer)) = network.lane_borders(id, lane, s) else {
                    continue;
                };
                let distance = (t - outer).abs();
                deviation.border_points += 1;
                if distance > deviation.border_max {
                    deviation.border_max = distance;
                    deviation.worst_border = format!("road {id} lane {lane} at s = {s:.2}");
                    if distance > deviation.reference_max {
                        deviation.worst =
                            format!("road {id} lane {lane} border at s = {s:.2}: {distance:.4} m");
                    }
                }
            }
        }
    }
    deviation
}

#[test]
fn geometry_matches_pyxodr_within_one_centimetre() {
    let Some(folder) = corpus_folder() else {
        return;
    };
    let Some(python) = python() else {
        eprintln!(
            "pyxodr cross-check skipped: no Python with pyxodr found; run crates/road/tests/pyxodr/setup.sh \
             or set ROAD_PYXODR_PYTHON"
        );
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pyxodr/sample.py");
    let all = std::env::var_os("ROAD_PYXODR_ALL").is_some();
    let mut paths: Vec<PathBuf> = FILES
        .iter()
        .chain(if all { MORE_FILES } else { &[] })
        .map(|file| folder.join(file))
        .collect();
    paths.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(OWN_FILE));
    // One Python process for all files: importing numpy, scipy and shapely is
    // much of pyxodr's cost.
    let output = Command::new(&python)
        .arg(&script)
        .args(&paths)
        .output()
        .expect("run sample.py");
    assert!(
        output.status.success(),
        "sample.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let sampled: Value = serde_json::from_slice(&output.stdout).expect("sample.py prints JSON");
    let mut failures = Vec::new();
    for path in &paths {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(path).expect("corpus file readable");
        let network = Network::parse(&text).expect("corpus file parses");
        let file_sample = &sampled[path.to_string_lossy().as_ref()];
        if let Some(errors) = file_sample.get("errors").and_then(Value::as_object)
            && !errors.is_empty()
        {
            eprintln!(
                "  {name}: pyxodr could not sample {} item(s): {:?}",
                errors.len(),
                errors.keys().collect::<Vec<_>>()
            );
        }
        let deviation = compare(&network, file_sample);
        eprintln!(
            "pyxodr {name}: reference max {:.2e} m over {} points, lane borders max {:.2e} m over {} points (at {}), elevation max {:.2e} m",
            deviation.reference_max,
            deviation.reference_points,
            deviation.border_max,
            deviation.border_points,
            deviation.worst_border,
            deviation.elevation_max
        );
        if deviation.reference_points == 0
            || deviation.reference_max > TOLERANCE_M
            || deviation.border_max > TOLERANCE_M
            || deviation.elevation_max > TOLERANCE_M
        {
            failures.push(format!("{name}: {}", deviation.worst));
        }
    }
    assert!(
        failures.is_empty(),
        "deviations above {TOLERANCE_M} m: {failures:#?}"
    );
}
