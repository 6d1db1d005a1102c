//! Conformance: every OpenDRIVE file of the esmini corpus parses, and every road
//! of it evaluates to finite positions along its whole length. The pass count is
//! printed and guarded against regression.

use std::path::PathBuf;

use road::{LanePosition, Network};

/// Files that parsed when this guard was last raised; lower it never, raise it
/// when more pass.
const MIN_PASSES: usize = 24;

fn corpora() -> Option<PathBuf> {
    let root = std::env::var_os("TWINSPACE_CORPORA").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora"),
        PathBuf::from,
    );
    if root.join("esmini").is_dir() {
        Some(root)
    } else {
        eprintln!(
            "esmini corpus not found at {}; set TWINSPACE_CORPORA to the corpora folder to run this test",
            root.display()
        );
        None
    }
}

/// Every `.xodr` under the esmini corpus's road folders, sorted.
pub fn xodr_files(root: &std::path::Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for folder in [
        "esmini/resources/xodr",
        "esmini/EnvironmentSimulator/Unittest/xodr",
    ] {
        let Ok(entries) = std::fs::read_dir(root.join(folder)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|ext| ext == "xodr") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn every_esmini_road_network_parses_and_evaluates() {
    let Some(root) = corpora() else { return };
    let files = xodr_files(&root);
    let mut passes = 0;
    let mut failures = Vec::new();
    for path in &files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) => {
                failures.push(format!("{name}: unreadable: {error}"));
                continue;
            }
        };
        let network = match Network::parse(&text) {
            Ok(network) => network,
            Err(error) => {
                failures.push(format!("{name}: {error}"));
                continue;
            }
        };
        let mut bad = None;
        'roads: for road in network.roads() {
            let steps = (road.length / 2.0).ceil().max(1.0) as usize;
            for step in 0..=steps {
                let s = road.length * step as f64 / steps as f64;
                match network.road_to_world(&road.id, s, 1.0) {
                    Ok(pose) if pose.x.is_finite() && pose.y.is_finite() && pose.z.is_finite() => {}
                    other => {
                        bad = Some(format!("road {} at s = {s}: {other:?}", road.id));
                        break 'roads;
                    }
                }
            }
        }
        match bad {
            None => passes += 1,
            Some(problem) => failures.push(format!("{name}: {problem}")),
        }
    }
    eprintln!(
        "OpenDRIVE corpus: {passes} of {} files parse and evaluate",
        files.len()
    );
    for failure in &failures {
        eprintln!("  FAIL {failure}");
    }
    assert!(
        passes >= MIN_PASSES,
        "only {passes} files passed, expected at least {MIN_PASSES}"
    );
}

/// Largest gap (m) allowed where one geometry record ends and the next begins,
/// between our evaluation of the first's end and the second's start as written
/// in the file. The file's writer computed that start with its own geometry code,
/// so this checks our spirals and paramPoly3 against an independent writer.
const GEOMETRY_GAP_M: f64 = 0.01;
/// Same for headings, rad.
const GEOMETRY_HEADING_GAP: f64 = 0.001;

#[test]
fn geometry_records_join_where_the_file_says() {
    let Some(root) = corpora() else { return };
    let mut joins = 0;
    let mut worst = (0.0f64, String::new());
    let mut worst_heading = (0.0f64, String::new());
    for path in xodr_files(&root) {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Ok(network) = std::fs::read_to_string(&path).map(|text| Network::parse(&text)) else {
            continue;
        };
        let Ok(network) = network else { continue };
        for road in network.roads() {
            for pair in road.geometry.windows(2) {
                let end = pair[0].point(pair[0].length);
                let next = &pair[1];
                // Only records that touch in s: some files leave gaps on purpose.
                if (pair[0].s + pair[0].length - next.s).abs() > 1e-6 {
                    continue;
                }
                joins += 1;
                let gap = (end.x - next.x).hypot(end.y - next.y);
                let turn = (end.heading - next.heading).sin().abs();
                let what = format!(
                    "{name} road {} at s = {:.3} ({:?})",
                    road.id, next.s, pair[0].shape
                );
                if gap > worst.0 {
                    worst = (gap, what.clone());
                }
                if turn > worst_heading.0 {
                    worst_heading = (turn, what);
                }
            }
        }
    }
    eprintln!(
        "geometry joins: {joins} checked; largest position gap {:.2e} m at {}; largest heading gap {:.2e} rad at {}",
        worst.0, worst.1, worst_heading.0, worst_heading.1
    );
    assert!(joins > 100, "only {joins} joins found");
    assert!(
        worst.0 <= GEOMETRY_GAP_M,
        "gap {} m at {}",
        worst.0,
        worst.1
    );
    assert!(
        worst_heading.0 <= GEOMETRY_HEADING_GAP,
        "heading gap {} at {}",
        worst_heading.0,
        worst_heading.1
    );
}

/// Largest gap (m) allowed between the end of a lane's centre and the start of
/// the lane that `successors` says continues it.
const LANE_LINK_GAP_M: f64 = 0.05;

#[test]
fn linked_lanes_continue_where_they_end() {
    let Some(root) = corpora() else { return };
    let mut links = 0;
    let mut dead_ends = 0;
    let mut worst = (0.0f64, String::new());
    for path in xodr_files(&root) {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Ok(Ok(network)) = std::fs::read_to_string(&path).map(|text| Network::parse(&text))
        else {
            continue;
        };
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
                        // A point just inside the section, so the section is unambiguous.
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
                        let steps = network.next_lanes(&at, forward);
                        let at_road_end = if forward {
                            index + 1 == road.lane_sections.len()
                        } else {
                            index == 0
                        };
                        let linked = if forward {
                            road.successor.is_some()
                        } else {
                            road.predecessor.is_some()
                        };
                        if steps.is_empty() && (!at_road_end || linked) {
                            dead_ends += 1;
                            if std::env::var_os("ROAD_DEBUG").is_some() {
                                eprintln!(
                                    "dead end {name} road {} section {index} lane {} forward {forward}",
                                    road.id, lane.id
                                );
                            }
                        }
                        for step in steps {
                            let position = &step.position;
                            network
                                .lane_to_world(&position.road, position.lane, position.s, 0.0)
                                .unwrap_or_else(|error| {
                                    panic!(
                                        "{name}: successor {position:?} does not evaluate: {error}"
                                    )
                                });
                            links += 1;
                            // The lane's end centre must lie on the continuation's
                            // start: on its road's cross-section there, and within
                            // the continuation lane widened by half the ending lane
                            // (a lane that merges ends beside its successor).
                            let width = network.lane_width(&road.id, lane.id, s).unwrap_or(0.0);
                            let cross = network
                                .road_to_world(&position.road, position.s, 0.0)
                                .expect("successor road evaluates");
                            let (sin, cos) = cross.heading.sin_cos();
                            let (dx, dy) = (here.x - cross.x, here.y - cross.y);
                            let along = (dx * cos + dy * sin).abs();
                            let t_there = -dx * sin + dy * cos;
                            let (inner, outer) = network
                                .lane_borders(&position.road, position.lane, position.s)
                                .expect("successor lane evaluates");
                            let low = inner.min(outer) - 0.5 * width;
                            let high = inner.max(outer) + 0.5 * width;
                            let across = (low - t_there).max(t_there - high).max(0.0);
                            let gap = along.hypot(across);
                            if gap > worst.0 {
                                worst = (
                                    gap,
                                    format!(
                                        "{name}: road {} lane {} → road {} lane {}",
                                        road.id, lane.id, position.road, position.lane
                                    ),
                                );
                            }
                        }
                    }
                }
            }
        }
    }
    eprintln!(
        "lane links: {links} continuations checked, {dead_ends} linked lane ends without a continuation; largest gap {:.2e} m at {}",
        worst.0, worst.1
    );
    assert!(links >= 406, "only {links} lane continuations found");
    // The two left are parking_demo.xodr road 3 lanes ±2, which the file does not link.
    assert!(
        dead_ends <= 2,
        "{dead_ends} linked lane ends have no continuation (run with ROAD_DEBUG=1 to list them)"
    );
    assert!(
        worst.0 <= LANE_LINK_GAP_M,
        "gap {} m at {}",
        worst.0,
        worst.1
    );
}

/// world_to_lane of a point on a lane returns a lane position that maps back to
/// the same point and lies inside its lane (on overlapping junction roads any of
/// the overlapping lanes is a right answer).
#[test]
fn world_to_lane_round_trips_on_corpus_lanes() {
    let Some(root) = corpora() else { return };
    let mut checked = 0;
    let mut worst = (0.0f64, String::new());
    for path in xodr_files(&root) {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Ok(Ok(network)) = std::fs::read_to_string(&path).map(|text| Network::parse(&text))
        else {
            continue;
        };
        let roads: Vec<_> = network.roads().collect();
        for sample in 0..60usize {
            let road = roads[(sample * 7) % roads.len()];
            let s = road.length * (((sample * 7919) % 997) as f64 / 997.0);
            let Some(section) = road.lane_section(s) else {
                continue;
            };
            let lanes: Vec<i32> = section
                .lanes
                .iter()
                .filter(|lane| lane.id != 0)
                .map(|lane| lane.id)
                .collect();
            if lanes.is_empty() {
                continue;
            }
            let lane = lanes[sample % lanes.len()];
            let Ok(width) = network.lane_width(&road.id, lane, s) else {
                continue;
            };
            if width < 0.5 {
                continue;
            }
            let offset = 0.2 * width * if sample % 2 == 0 { 1.0 } else { -1.0 };
            let pose = network
                .lane_to_world(&road.id, lane, s, offset)
                .expect("lane evaluates");
            let found = network
                .world_to_lane(pose.x, pose.y, Some(pose.z))
                .unwrap_or_else(|| {
                    panic!(
                        "{name}: nothing found near road {} lane {lane} s {s}",
                        road.id
                    )
                });
            let back = network
                .lane_to_world(&found.road, found.lane, found.s, found.offset)
                .expect("found position evaluates");
            let found_width = network
                .lane_width(&found.road, found.lane, found.s)
                .unwrap_or(0.0);
            let error = (back.x - pose.x).hypot(back.y - pose.y)
                + (found.offset.abs() - 0.5 * found_width).max(0.0);
            checked += 1;
            if error > worst.0 {
                worst = (
                    error,
                    format!("{name}: road {} lane {lane} s {s:.2} → {found:?}", road.id),
                );
            }
        }
    }
    eprintln!(
        "world_to_lane round trips: {checked} points, worst error {:.2e} m at {}",
        worst.0, worst.1
    );
    assert!(checked >= 1000, "only {checked} points checked");
    assert!(worst.0 < 1e-3, "worst error {} m at {}", worst.0, worst.1);
}

/// Superelevation: esmini reports these positions of cars on the banked
/// velodrome (esmini-expectations.json, `resources/xosc/velodrome.xosc`: x, y, z,
/// roll at 13.7 s and 18 s). Our road surface under (x, y) must have esmini's z
/// (printed to 1 mm) and roll.
#[test]
fn superelevation_matches_esmini_on_the_velodrome() {
    let Some(root) = corpora() else { return };
    let Ok(text) = std::fs::read_to_string(root.join("esmini/resources/xodr/velodrome.xodr"))
    else {
        eprintln!("velodrome.xodr missing; skipping");
        return;
    };
    let network = Network::parse(&text).expect("velodrome parses");
    // (x, y, z, roll) as esmini printed them; roll 6.276 ≡ −0.007, 5.236 ≡ −1.047.
    for (x, y, z, roll) in [
        (505.246, -1.498, 0.011, 6.276),
        (511.819, -7.475, 0.263, 6.248),
        (678.809, 120.678, 1.299, 5.236),
    ] {
        let position = network.world_to_lane(x, y, None).expect("on the track");
        let pose = network
            .lane_to_world(&position.road, position.lane, position.s, position.offset)
            .expect("evaluates");
        let roll_difference = (pose.roll - roll).sin().abs();
        eprintln!(
            "velodrome ({x}, {y}): z {:.4} (esmini {z}), roll {:.4} (esmini {roll})",
            pose.z, pose.roll
        );
        assert!((pose.z - z).abs() <= 0.0015, "z {} vs esmini {z}", pose.z);
        assert!(
            roll_difference <= 0.0015,
            "roll {} vs esmini {roll}",
            pose.roll
        );
    }
}

/// Routes on real junction networks: between many pairs of driving lanes, every
/// route found must be a chain of lane changes and continuations that
/// `next_lanes` offers, start at `from` and end at `to`. The number found is
/// printed and guarded.
#[test]
fn routes_on_junction_networks_are_connected() {
    let Some(root) = corpora() else { return };
    /// Routes found when this guard was last raised.
    const MIN_ROUTES: usize = 439;
    let mut found = 0;
    let mut tried = 0;
    for name in [
        "fabriksgatan.xodr",
        "multi_intersections.xodr",
        "soderleden.xodr",
        "parking_demo.xodr",
    ] {
        let Ok(text) = std::fs::read_to_string(root.join("esmini/resources/xodr").join(name))
        else {
            continue;
        };
        let network = Network::parse(&text).expect("parses");
        // Driving lanes of roads outside junctions, in their middle.
        let lanes: Vec<LanePosition> = network
            .roads()
            .filter(|road| road.junction.is_none())
            .flat_map(|road| {
                let s = road.length * 0.5;
                road.lane_section(s)
                    .map(|section| {
                        section
                            .lanes
                            .iter()
                            .filter(|lane| lane.id != 0 && lane.is_driving())
                            .map(|lane| LanePosition {
                                road: road.id.clone(),
                                lane: lane.id,
                                s,
                                offset: 0.0,
                            })
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
            })
            .collect();
        for (index, from) in lanes.iter().enumerate().take(40) {
            for to in lanes.iter().skip(index % 3).step_by(3).take(12) {
                if from == to {
                    continue;
                }
                tried += 1;
                let Some(route) = network.route(from, to) else {
                    continue;
                };
                found += 1;
                assert_eq!(
                    route.first().map(|step| (&step.road, step.lane)),
                    Some((&from.road, from.lane))
                );
                assert_eq!(route.last(), Some(to));
                for pair in route.windows(2) {
                    let (a, b) = (&pair[0], &pair[1]);
                    if a.road == b.road {
                        continue;
                    }
                    let road = network.road(&a.road).expect("road");
                    // Leaving a road: from the end it runs to, in some section.
                    let continues = [true, false].iter().any(|&forward| {
                        road.lane_sections
                            .iter()
                            .enumerate()
                            .any(|(section_index, section)| {
                                let end = road.lane_section_end(section_index);
                                let s = if forward {
                                    end - 1e-6
                                } else {
                                    section.s + 1e-6
                                };
                                let probe = LanePosition {
                                    road: a.road.clone(),
                                    lane: a.lane,
                                    s,
                                    offset: 0.0,
                                };
                                network.next_lanes(&probe, forward).iter().any(|step| {
                                    step.position.road == b.road && step.position.lane == b.lane
                                })
                            })
                    });
                    assert!(
                        continues,
                        "{name}: route step {a:?} → {b:?} is not a continuation"
                    );
                }
            }
        }
    }
    eprintln!("routes: {found} found of {tried} lane pairs tried, all connected");
    assert!(found >= MIN_ROUTES, "only {found} routes found");
}

/// `Network::check` on the corpus: problems per file are printed; the total must
/// not grow (esmini's own files are clean).
#[test]
fn consistency_check_on_the_corpus() {
    let Some(root) = corpora() else { return };
    let mut total = 0;
    for path in xodr_files(&root) {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Ok(Ok(network)) = std::fs::read_to_string(&path).map(|text| Network::parse(&text))
        else {
            continue;
        };
        let problems = network.check();
        total += problems.len();
        for problem in problems.iter().take(5) {
            eprintln!("  {name}: {problem}");
        }
    }
    eprintln!("consistency check: {total} problems in the corpus");
    assert_eq!(
        total, 0,
        "the corpus's roads are consistent; {total} problems found"
    );
}

/// On a closed loop (the velodrome's road 1 links its end to its own start) a
/// route to a point behind the start goes once round.
#[test]
fn route_goes_round_a_loop_to_a_point_behind() {
    let Some(root) = corpora() else { return };
    let Ok(text) = std::fs::read_to_string(root.join("esmini/resources/xodr/velodrome.xodr"))
    else {
        return;
    };
    let network = Network::parse(&text).expect("parses");
    let from = LanePosition {
        road: "1".into(),
        lane: -1,
        s: 100.0,
        offset: 0.0,
    };
    let to = LanePosition {
        road: "1".into(),
        lane: -1,
        s: 50.0,
        offset: 0.0,
    };
    let route = network.route(&from, &to).expect("round the loop");
    assert_eq!(route.last(), Some(&to));
    assert!(route.len() >= 3, "{route:?}");
    // Ahead of the start: no loop.
    let ahead = LanePosition {
        s: 150.0,
        ..to.clone()
    };
    assert_eq!(
        network.route(&from, &ahead).map(|route| route.len()),
        Some(2)
    );
}
