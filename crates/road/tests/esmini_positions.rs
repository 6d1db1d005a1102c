//! Road positions against esmini's own output (`esmini-expectations.json` in the
//! corpora: facts transcribed from esmini's test suite). Two checks:
//!
//! - `log_positions`: esmini's "New position" log lines give a lane position
//!   (road, lane, s, offset, t) with its world x, y, z, heading, pitch and roll;
//!   our `lane_to_world` must give the same within esmini's printed precision
//!   (2 decimals).
//! - `states`: entity positions printed by esmini (3 decimals). Where a state
//!   lies inside one of our lanes, our road surface's z there must equal esmini's
//!   z: vehicles stand on the road, so this checks elevation, superelevation and
//!   lane geometry at hundreds of places. The count that agree is printed and
//!   guarded against regression. (The ones that differ are an entity following
//!   a trajectory with its own z in `traj_with_mixed_pos_types.xosc`.) A
//!   vehicle's pitch and roll are not compared: esmini derives them from the
//!   wheels' contact points, which is the simulator's business, not the road's.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use road::Network;
use serde_json::Value;

/// States whose z agreed with esmini when this guard was last raised.
const MIN_Z_AGREEING: usize = 451;

fn corpora() -> Option<PathBuf> {
    let root = std::env::var_os("TWINSPACE_CORPORA").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora"),
        PathBuf::from,
    );
    if root.join("esmini-expectations.json").is_file() {
        Some(root)
    } else {
        eprintln!(
            "esmini-expectations.json not found under {}; set TWINSPACE_CORPORA to run this test",
            root.display()
        );
        None
    }
}

/// The road network a scenario names in `<RoadNetwork><LogicFile filepath=…>`,
/// resolved the ways esmini does (beside the scenario, then from its repo root).
fn network_of(
    root: &Path,
    scenario: &str,
    cache: &mut HashMap<PathBuf, Option<Network>>,
) -> Option<PathBuf> {
    let scenario_path = root.join("esmini").join(scenario);
    let text = std::fs::read_to_string(&scenario_path).ok()?;
    let logic = text.find("LogicFile")?;
    let rest = &text[logic..];
    let start = rest.find("filepath=\"")? + "filepath=\"".len();
    let end = rest[start..].find('"')?;
    let file = &rest[start..start + end];
    let folder = scenario_path.parent()?;
    let candidates = [
        folder.join(file),
        root.join("esmini").join(file),
        root.join("esmini/resources/xosc").join(file),
        root.join("esmini/resources/xodr")
            .join(Path::new(file).file_name()?),
        root.join("esmini/EnvironmentSimulator/Unittest/xodr")
            .join(Path::new(file).file_name()?),
    ];
    let path = candidates.into_iter().find(|path| path.is_file())?;
    cache.entry(path.clone()).or_insert_with(|| {
        std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| Network::parse(&text).ok())
    });
    Some(path)
}

fn number(value: &Value, key: &str) -> Option<f64> {
    value.get(key).and_then(Value::as_f64)
}

#[test]
fn lane_positions_and_surface_heights_match_esmini() {
    let Some(root) = corpora() else { return };
    let text = std::fs::read_to_string(root.join("esmini-expectations.json")).expect("readable");
    let expectations: Value = serde_json::from_str(&text).expect("JSON");
    let tests = expectations["tests"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut cache: HashMap<PathBuf, Option<Network>> = HashMap::new();
    let (mut log_checked, mut log_failures) = (0, Vec::new());
    let (mut on_lane, mut z_agree, mut z_worst) = (0, 0, (0.0f64, String::new()));
    for test in &tests {
        let Some(scenario) = test["scenario"].as_str() else {
            continue;
        };
        let Some(path) = network_of(&root, scenario, &mut cache) else {
            continue;
        };
        let Some(Some(network)) = cache.get(&path) else {
            continue;
        };
        for position in test["log_positions"].as_array().into_iter().flatten() {
            let (Some(road), Some(lane), Some(s), Some(offset)) = (
                position.get("road_id").map(|id| match id {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                }),
                position.get("lane_id").and_then(Value::as_i64),
                number(position, "s"),
                number(position, "offset"),
            ) else {
                continue;
            };
            let tolerance = number(position, "tol").unwrap_or(0.005) + 1e-9;
            let (x, y, z) = (
                number(position, "x"),
                number(position, "y"),
                number(position, "z"),
            );
            log_checked += 1;
            match network.lane_to_world(&road, lane as i32, s, offset) {
                Ok(pose) => {
                    let mut misses: Vec<String> =
                        [("x", pose.x, x), ("y", pose.y, y), ("z", pose.z, z)]
                            .into_iter()
                            .filter_map(|(name, ours, theirs)| {
                                let theirs = theirs?;
                                ((ours - theirs).abs() > tolerance)
                                    .then(|| format!("{name} {ours:.3} vs {theirs}"))
                            })
                            .collect();
                    // Angles: esmini prints them in [0, 2π); compare on the circle.
                    // Its heading follows the driving direction (reversed on
                    // lanes that run against s), and pitch and roll with it.
                    let road_ref = network.road(&road).expect("road exists");
                    let along = if road_ref.lane_runs_forward(lane as i32) {
                        1.0
                    } else {
                        -1.0
                    };
                    let heading = if along > 0.0 {
                        pose.heading
                    } else {
                        pose.heading + std::f64::consts::PI
                    };
                    for (name, ours, theirs) in [
                        ("h", heading, number(position, "h")),
                        ("p", along * pose.pitch, number(position, "p")),
                        ("r", along * pose.roll, number(position, "r")),
                    ] {
                        let Some(theirs) = theirs else { continue };
                        if (ours - theirs).sin().abs() > tolerance || (ours - theirs).cos() < 0.0 {
                            misses.push(format!("{name} {ours:.3} vs {theirs}"));
                        }
                    }
                    if !misses.is_empty() {
                        log_failures.push(format!(
                            "{scenario} road {road} lane {lane} s {s}: {}",
                            misses.join(", ")
                        ));
                    }
                }
                Err(error) => log_failures.push(format!("{scenario}: {error}")),
            }
        }
        for state in test["states"].as_array().into_iter().flatten() {
            let entity = state["entity"].as_str().unwrap_or_default();
            if entity.contains("_ghost") {
                continue;
            }
            let (Some(x), Some(y), Some(z)) =
                (number(state, "x"), number(state, "y"), number(state, "z"))
            else {
                continue;
            };
            let Some(found) = network.world_to_lane(x, y, Some(z)) else {
                continue;
            };
            let Ok(width) = network.lane_width(&found.road, found.lane, found.s) else {
                continue;
            };
            if found.offset.abs() > 0.5 * width {
                continue;
            }
            let Ok(pose) = network.lane_to_world(&found.road, found.lane, found.s, found.offset)
            else {
                continue;
            };
            on_lane += 1;
            let difference = (pose.z - z).abs();
            // esmini prints 3 decimals; allow the rounding plus 0.5 mm. Where the
            // test only fixed a prefix, `loose` gives the allowed interval.
            let loose = state
                .get("loose")
                .and_then(|loose| loose.get("z"))
                .and_then(Value::as_array)
                .and_then(|range| Some((range.first()?.as_f64()?, range.get(1)?.as_f64()?)));
            let inside_loose = loose.is_some_and(|(low, high)| (low..=high).contains(&pose.z));
            if difference <= 0.001 || inside_loose {
                z_agree += 1;
                continue;
            }
            if std::env::var_os("ROAD_DEBUG").is_some() {
                eprintln!(
                    "  z differs: {scenario} {entity} t={} at ({x}, {y}): ours {:.4}, esmini {z}",
                    state["time_s"], pose.z
                );
            }
            if difference > z_worst.0 {
                z_worst = (
                    difference,
                    format!("{scenario} {entity} at ({x}, {y}): z {:.4} vs {z}", pose.z),
                );
            }
        }
    }
    eprintln!(
        "esmini log positions: {log_checked} checked, {} off",
        log_failures.len()
    );
    for failure in &log_failures {
        eprintln!("  {failure}");
    }
    eprintln!(
        "esmini states on our lanes: {on_lane}; z agrees within 1 mm for {z_agree}; worst other {:.4} m at {}",
        z_worst.0, z_worst.1
    );
    assert!(log_checked >= 6, "only {log_checked} log positions checked");
    assert!(log_failures.is_empty(), "{log_failures:#?}");
    assert!(
        z_agree >= MIN_Z_AGREEING,
        "z agrees for {z_agree}, expected at least {MIN_Z_AGREEING}"
    );
}
