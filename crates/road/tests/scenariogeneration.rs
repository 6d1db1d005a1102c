//! Cross-check against networks written by PyPI `scenariogeneration`, an
//! independent OpenDRIVE writer (`tests/scenariogeneration/generate.py`): a road
//! of lines, spirals, an arc and an arcLength paramPoly3 with widening lanes, a
//! chain of a normalized paramPoly3, an arc and a spiral linked end to start, a T
//! junction of curved roads, and a lane merge. The writer places each geometry
//! record and each linked road with its own geometry code, so our evaluation of
//! where a record or a lane ends must meet where the writer put the next one,
//! within [`TOLERANCE_M`].
//!
//! Runs when a Python with scenariogeneration is found (`ROAD_PYTHON`, else the
//! venv of `tests/pyxodr/setup.sh`, which installs it too); otherwise says so and
//! skips.

use std::path::PathBuf;
use std::process::Command;

use road::{LanePosition, Network};

/// Largest allowed gap at a geometry join or lane link, m.
const TOLERANCE_M: f64 = 0.01;
/// Largest allowed heading jump at a geometry join, rad.
const HEADING_TOLERANCE: f64 = 1e-3;

fn python() -> Option<PathBuf> {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut candidates = Vec::new();
    if let Some(explicit) = std::env::var_os("ROAD_PYTHON") {
        candidates.push(PathBuf::from(explicit));
    }
    candidates.push(workspace.join(".venv/bin/python"));
    if let Some(tmp) = std::env::var_os("TMPDIR") {
        candidates.push(PathBuf::from(tmp).join("road-pyxodr-venv/bin/python"));
    }
    candidates.push(PathBuf::from("/tmp/road-pyxodr-venv/bin/python"));
    candidates.into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import scenariogeneration"])
            .output()
            .is_ok_and(|output| output.status.success())
    })
}

/// Largest position and heading gaps where consecutive geometry records meet.
fn geometry_gaps(network: &Network) -> (f64, f64, usize) {
    let (mut gap, mut turn, mut joins) = (0.0f64, 0.0f64, 0);
    for road in network.roads() {
        for pair in road.geometry.windows(2) {
            let end = pair[0].point(pair[0].length);
            joins += 1;
            gap = gap.max((end.x - pair[1].x).hypot(end.y - pair[1].y));
            turn = turn.max((end.heading - pair[1].heading).sin().abs());
        }
    }
    (gap, turn, joins)
}

/// Largest distance between a driving lane's end centre and the cross-section
/// of its continuation, and how many continuations there were.
fn lane_link_gaps(network: &Network) -> (f64, usize, String) {
    let (mut worst, mut links, mut at_worst) = (0.0f64, 0, String::new());
    for road in network.roads() {
        for (index, section) in road.lane_sections.iter().enumerate() {
            let end = road.lane_section_end(index);
            for lane in section
                .lanes
                .iter()
                .filter(|lane| lane.id != 0 && lane.is_driving())
            {
                for forward in [true, false] {
                    let s = if forward { end } else { section.s };
                    let inside = if forward {
                        (end - 1e-6).max(section.s)
                    } else {
                        (section.s + 1e-6).min(end)
                    };
                    let at = LanePosition {
                        road: road.id.clone(),
                        lane: lane.id,
                        s: inside,
                        offset: 0.0,
                    };
                    let Ok(here) = network.lane_to_world(&road.id, lane.id, s, 0.0) else {
                        continue;
                    };
                    let width = network.lane_width(&road.id, lane.id, s).unwrap_or(0.0);
                    for step in network.next_lanes(&at, forward) {
                        let next = &step.position;
                        let cross = network
                            .road_to_world(&next.road, next.s, 0.0)
                            .expect("next road evaluates");
                        let (sin, cos) = cross.heading.sin_cos();
                        let (dx, dy) = (here.x - cross.x, here.y - cross.y);
                        let along = (dx * cos + dy * sin).abs();
                        let t = -dx * sin + dy * cos;
                        let (inner, outer) = network
                            .lane_borders(&next.road, next.lane, next.s)
                            .expect("next lane evaluates");
                        // A merging lane may end beside its successor: widen by half its width.
                        let low = inner.min(outer) - 0.5 * width;
                        let high = inner.max(outer) + 0.5 * width;
                        let across = (low - t).max(t - high).max(0.0);
                        let gap = along.hypot(across);
                        links += 1;
                        if gap > worst {
                            worst = gap;
                            at_worst = format!(
                                "road {} lane {} → road {} lane {}",
                                road.id, lane.id, next.road, next.lane
                            );
                        }
                    }
                }
            }
        }
    }
    (worst, links, at_worst)
}

/// Checks a route's steps follow each other: a lane change on the same road or
/// a continuation `next_lanes` offers from the previous step's road and lane.
fn route_is_connected(network: &Network, route: &[LanePosition]) -> bool {
    route.windows(2).all(|pair| {
        let (a, b) = (&pair[0], &pair[1]);
        if a.road == b.road {
            return true;
        }
        let Some(road) = network.road(&a.road) else {
            return false;
        };
        let forward = road.lane_runs_forward(a.lane);
        // The continuation leaves from the end of the road in travel direction.
        let s = if forward { road.length - 1e-6 } else { 1e-6 };
        let at = LanePosition {
            road: a.road.clone(),
            lane: a.lane,
            s,
            offset: 0.0,
        };
        network
            .next_lanes(&at, forward)
            .iter()
            .any(|step| step.position.road == b.road && step.position.lane == b.lane)
    })
}

/// In the T junction every incoming road reaches every other one.
fn junction_routes(network: &Network) -> usize {
    let incoming = ["1", "2", "3"];
    let mut found = 0;
    for from in incoming {
        for to in incoming.iter().filter(|to| **to != from) {
            let road_from = network.road(from).expect("incoming road");
            let road_to = network.road(to).expect("incoming road");
            let mut any = false;
            for lane_from in [-2, -1, 1, 2] {
                for lane_to in [-2, -1, 1, 2] {
                    let start = LanePosition {
                        road: from.into(),
                        lane: lane_from,
                        s: road_from.length * 0.5,
                        offset: 0.0,
                    };
                    let goal = LanePosition {
                        road: (*to).into(),
                        lane: lane_to,
                        s: road_to.length * 0.5,
                        offset: 0.0,
                    };
                    if let Some(route) = network.route(&start, &goal) {
                        assert!(
                            route_is_connected(network, &route),
                            "disconnected route {route:?}"
                        );
                        assert_eq!(route.last(), Some(&goal));
                        any = true;
                    }
                }
            }
            assert!(any, "no route from road {from} to road {to}");
            found += 1;
        }
    }
    found
}

#[test]
fn networks_written_by_scenariogeneration_join_up() {
    let Some(python) = python() else {
        eprintln!(
            "scenariogeneration cross-check skipped: no Python with scenariogeneration found; \
             run crates/road/tests/pyxodr/setup.sh or set ROAD_PYTHON"
        );
        return;
    };
    let out = std::env::temp_dir().join(format!("road-scenariogeneration-{}", std::process::id()));
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/scenariogeneration/generate.py");
    let output = Command::new(&python)
        .arg(&script)
        .arg(&out)
        .output()
        .expect("run generate.py");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let files: Vec<PathBuf> = stdout.lines().map(PathBuf::from).collect();
    let mut failures = Vec::new();
    if !stderr.trim().is_empty() {
        failures.push(format!("generate.py reported: {stderr}"));
    }
    let mut total_links = 0;
    for path in &files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(path).expect("generated file readable");
        let network = match Network::parse(&text) {
            Ok(network) => network,
            Err(error) => {
                failures.push(format!("{name}: {error}"));
                continue;
            }
        };
        let (gap, turn, joins) = geometry_gaps(&network);
        let (link_gap, links, at_worst) = lane_link_gaps(&network);
        total_links += links;
        eprintln!(
            "scenariogeneration {name}: {} roads; {joins} geometry joins, max gap {gap:.2e} m, max heading jump {turn:.2e} rad; \
             {links} lane continuations, max gap {link_gap:.2e} m ({at_worst})",
            network.roads().count()
        );
        if name == "sg_three_way_junction.xodr" {
            eprintln!(
                "  routes between all {} ordered pairs of incoming roads found",
                junction_routes(&network)
            );
        }
        if gap > TOLERANCE_M || turn > HEADING_TOLERANCE || link_gap > TOLERANCE_M {
            failures.push(format!(
                "{name}: join gap {gap} m, heading {turn} rad, lane gap {link_gap} m at {at_worst}"
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&out);
    assert_eq!(
        files.len(),
        4,
        "generate.py wrote {files:?}; stderr: {stderr}"
    );
    assert!(
        total_links >= 20,
        "only {total_links} lane continuations in the generated networks"
    );
    assert!(failures.is_empty(), "{failures:#?}");
}
