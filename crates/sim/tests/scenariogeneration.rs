//! Scenarios from an independent writer: `tests/scenariogeneration/generate.py`
//! writes a cut-in, a lane change on a spiral–arc–spiral curve, an ACC-style
//! follow behind a braking lead and an overtaking over a paramPoly3 bend with
//! PyPI `scenariogeneration` (scenarios and roads alike). Each file is checked
//! against the ASAM XSD of its version (`tests/xsd/validate.py`), then run, and
//! the outcome the scenario was written for is checked: the cut-in happens, the
//! lane changes land in the commanded lanes, the follower slows without a
//! collision, the overtaking vehicle ends ahead in its own lane.
//!
//! Runs when a Python with scenariogeneration (and asam-qc-openscenarioxml for
//! the XSD check) is found: `$TWINSPACE_VENV/bin/python`, else `SIM_PYTHON`;
//! `scripts/test` makes that venv. Otherwise it says so and returns.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Step of every run, s.
const STEP_S: f64 = 0.01;
/// Longest run, s (each scenario stops itself well before).
const MAX_TIME_S: f64 = 60.0;
/// The four scenarios the generator writes.
const SCENARIOS: [&str; 4] = ["cut_in", "lane_change", "acc_follow", "overtaking"];

fn python() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(venv) = std::env::var_os("TWINSPACE_VENV") {
        candidates.push(PathBuf::from(venv).join("bin/python"));
    }
    if let Some(explicit) = std::env::var_os("SIM_PYTHON") {
        candidates.push(PathBuf::from(explicit));
    }
    candidates.into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import scenariogeneration, qc_openscenario, lxml"])
            .output()
            .is_ok_and(|output| output.status.success())
    })
}

/// A run's states at every step, kept for the checks.
struct Run {
    report: sim::Report,
    /// (time, entity states) after each step.
    steps: Vec<(f64, Vec<sim::EntityState>)>,
}

impl Run {
    fn state_at(&self, time: f64, name: &str) -> &sim::EntityState {
        let (_, states) = self
            .steps
            .iter()
            .find(|(t, _)| *t >= time - STEP_S / 2.0)
            .unwrap_or_else(|| panic!("the run ended before t = {time}"));
        states.iter().find(|e| e.name == name).unwrap()
    }

    fn last(&self, name: &str) -> &sim::EntityState {
        let (_, states) = self.steps.last().unwrap();
        states.iter().find(|e| e.name == name).unwrap()
    }

    /// When the storyboard element reached completeState, if it did.
    fn completed(&self, element: &str) -> Option<f64> {
        self.report.log.iter().find_map(|entry| match &entry.kind {
            sim::LogKind::StateChange {
                element: name, to, ..
            } if name == element && *to == "completeState" => Some(entry.time),
            _ => None,
        })
    }
}

fn lane_of(state: &sim::EntityState) -> (i32, f64) {
    let lane = state
        .lane
        .as_ref()
        .unwrap_or_else(|| panic!("{} is off the road", state.name));
    (lane.lane, lane.s)
}

fn run(dir: &Path, name: &str) -> Run {
    let file = format!("{name}.xosc");
    let text = std::fs::read_to_string(dir.join(&file)).unwrap();
    let resolver = common::DirResolver {
        base: dir.to_path_buf(),
        fallbacks: Vec::new(),
    };
    let scenario = sim::Scenario::parse(&text, &file, &resolver)
        .unwrap_or_else(|e| panic!("our parser refused {file}, which the XSD accepts: {e}"));
    let network = sim::load_network(&scenario, &resolver).unwrap();
    assert!(network.is_some(), "{file} names its road");
    let mut runner = sim::Runner::new(scenario, network, STEP_S).unwrap();
    let mut steps = Vec::new();
    // Bounded by the longest run.
    for _ in 0..(MAX_TIME_S / STEP_S) as usize {
        let running = runner.step().unwrap();
        steps.push((runner.time(), runner.entities().to_vec()));
        if !running {
            break;
        }
    }
    let report = runner.report();
    assert_eq!(
        report.end_reason,
        Some(sim::EndReason::StopTrigger),
        "{file} ends by its stop trigger"
    );
    assert!(
        report.collisions.is_empty(),
        "{file}: collisions {:?}",
        report.collisions
    );
    Run { report, steps }
}

#[test]
fn scenarios_written_by_scenariogeneration_run_as_written() {
    let Some(python) = python() else {
        eprintln!(
            "no Python with scenariogeneration, asam-qc-openscenarioxml and lxml: set TWINSPACE_VENV to a venv that has them (scripts/test makes one); skipping"
        );
        return;
    };
    let out = std::env::temp_dir().join(format!("sim-scenariogeneration-{}", std::process::id()));
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let generated = Command::new(&python)
        .arg(here.join("scenariogeneration/generate.py"))
        .arg(&out)
        .output()
        .expect("the generator starts");
    assert!(
        generated.status.success(),
        "generator failed: {}",
        String::from_utf8_lossy(&generated.stderr)
    );

    // The writer's files are valid OpenSCENARIO, so any refusal below is ours.
    let files: Vec<PathBuf> = SCENARIOS
        .iter()
        .map(|n| out.join(format!("{n}.xosc")))
        .collect();
    let validated = Command::new(&python)
        .arg(here.join("xsd/validate.py"))
        .args(&files)
        .output()
        .expect("the validator starts");
    let verdicts = String::from_utf8_lossy(&validated.stdout).into_owned();
    let mut valid = 0;
    for line in verdicts.lines() {
        let verdict: Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            verdict.get("valid").and_then(Value::as_bool),
            Some(true),
            "{line}"
        );
        valid += 1;
    }
    assert_eq!(valid, SCENARIOS.len());
    eprintln!("scenariogeneration: {valid} generated scenarios valid under the ASAM XSD");

    // Cut-in: the target passes in lane -2, then changes into the ego's lane
    // ahead of it.
    let cut_in = run(&out, "cut_in");
    let cut_at = cut_in.completed("cut_in").expect("the cut-in happens");
    let (target_lane, target_s) = lane_of(cut_in.last("Target"));
    let (ego_lane, ego_s) = lane_of(cut_in.last("Ego"));
    assert_eq!((target_lane, ego_lane), (-1, -1), "both end in lane -1");
    assert!(
        target_s > ego_s + 15.0,
        "target {target_s} ahead of ego {ego_s}"
    );
    // The trigger needs a 15 m lead: 30 m gained at 8 m/s, about 4 s in.
    assert!(
        (5.0..12.0).contains(&cut_at),
        "cut-in completed at {cut_at}"
    );

    // Lane change: one lane right on the curve, back left by a relative target.
    let change = run(&out, "lane_change");
    assert_eq!(lane_of(change.state_at(3.0, "Ego")).0, -1);
    assert_eq!(
        lane_of(change.state_at(10.0, "Ego")).0,
        -2,
        "right after 3 s"
    );
    assert_eq!(lane_of(change.last("Ego")).0, -1, "back left after 15 s");
    let right = change.completed("change_right").expect("first change ends");
    assert!(
        (right - 7.0).abs() < 0.05,
        "4 s change from 3 s ends at {right}"
    );
    let lateral = change.last("Ego").lane.as_ref().unwrap().offset.abs();
    assert!(lateral < 0.05, "ends on the lane centre, offset {lateral}");

    // ACC follow: the ego slows to the braking lead's speed and keeps a gap.
    let follow = run(&out, "acc_follow");
    assert!(follow.completed("lead_brakes").is_some());
    let ego = follow.last("Ego");
    let lead = follow.last("Lead");
    assert!((lead.speed - 10.0).abs() < 1e-6, "lead at {}", lead.speed);
    assert!(
        (ego.speed - lead.speed).abs() < 0.5,
        "ego {} follows lead {}",
        ego.speed,
        lead.speed
    );
    let gap = lane_of(lead).1 - lane_of(ego).1 - 4.5;
    assert!(gap > 5.0, "gap to the lead at the end {gap} m");

    // Overtaking: out, past, back in ahead of the slow car.
    let overtake = run(&out, "overtaking");
    let out_at = overtake.completed("pull_out").expect("pulls out");
    let in_at = overtake.completed("pull_in").expect("pulls back in");
    assert!(out_at < in_at);
    let (ego_lane, ego_s) = lane_of(overtake.last("Ego"));
    let (slow_lane, slow_s) = lane_of(overtake.last("Slow"));
    assert_eq!((ego_lane, slow_lane), (-1, -1));
    assert!(ego_s > slow_s + 20.0, "ego {ego_s} ahead of slow {slow_s}");
    let ahead_at_pull_in =
        lane_of(overtake.state_at(in_at, "Ego")).1 - lane_of(overtake.state_at(in_at, "Slow")).1;
    assert!(
        ahead_at_pull_in > 20.0,
        "leads by {ahead_at_pull_in} m when pulling in"
    );
    eprintln!(
        "scenariogeneration: 4/4 outcomes met (cut-in done at {cut_at:.2} s, overtake out {out_at:.2} s, in {in_at:.2} s)"
    );
    std::fs::remove_dir_all(&out).ok();
}
