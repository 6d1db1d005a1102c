//! esmini conformance: runs each applicable test of
//! `$TWINSPACE_CORPORA/esmini-expectations.json` (esmini's own smoke tests as
//! data; read its `about` field) at the test's fixed step and compares what
//! esmini asserted: condition, trigger and state-change events within two steps
//! of esmini's time, collisions, and entity states (x, y, z within 0.10 m,
//! heading within 0.01 rad). Tests that need esmini-only features (its example
//! programs, SUMO, its random generator, ghost controllers, a missing file) or
//! whose scenario uses an element we do not run are counted as not applicable,
//! with the reason printed.

mod common;

use std::path::Path;

use serde_json::Value;

/// Passes reached; the test fails if a change lowers it.
const PASSES_REACHED: usize = 11;
const POSITION_TOLERANCE_M: f64 = 0.10;
const HEADING_TOLERANCE_RAD: f64 = 0.01;
/// Events must fall within this many steps of esmini's time.
const EVENT_TOLERANCE_STEPS: f64 = 2.0;
/// Event kinds our runner logs; other kinds are esmini's own diagnostics.
/// esmini log lines that describe esmini itself, not the simulation.
const DIAGNOSTIC_EVENTS: &[&str] = &["log_message", "route_waypoint"];
const COMPARABLE_EVENTS: &[&str] = &[
    "complete_after_executions",
    "completed_run",
    "simulation_end",
    "condition_value",
    "trigger_fires",
    "state_change",
    "collision",
    "collision_dissolved",
    "parameter_set",
];

enum Verdict {
    Pass,
    Fail(String),
    NotApplicable(String),
}

fn state_name_matches(ours: &str, theirs: &str) -> bool {
    // esmini calls the first standby state `initState`.
    ours == theirs || (theirs == "initState" && ours == "standbyState")
}

fn event_time_ok(event: &Value, time: f64, step: f64) -> bool {
    let slack = EVENT_TOLERANCE_STEPS * step + 1e-6;
    if let Some(range) = event.get("time_range_s").and_then(Value::as_array) {
        let lo = range
            .first()
            .and_then(Value::as_f64)
            .unwrap_or(f64::NEG_INFINITY);
        let hi = range
            .get(1)
            .and_then(Value::as_f64)
            .unwrap_or(f64::INFINITY);
        return time >= lo - slack && time < hi + slack;
    }
    match event.get("time_s").and_then(Value::as_f64) {
        Some(t) => (time - t).abs() <= slack,
        None => true,
    }
}

fn event_matches(event: &Value, entry: &sim::LogEntry, step: f64) -> bool {
    let text = |k: &str| event.get(k).and_then(Value::as_str).unwrap_or("");
    let pair_matches = |a: &str, b: &str| {
        let names: Vec<&str> = event
            .get("entities")
            .and_then(Value::as_array)
            .map(|v| v.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        names.len() == 2 && ((names[0] == a && names[1] == b) || (names[0] == b && names[1] == a))
    };
    let kind_ok = match (text("kind"), &entry.kind) {
        ("condition_value", sim::LogKind::ConditionTrue { condition, .. }) => {
            condition == text("condition")
                && event.get("value").and_then(Value::as_bool) != Some(false)
        }
        ("condition_value", sim::LogKind::ConditionFalse { condition }) => {
            condition == text("condition")
                && event.get("value").and_then(Value::as_bool) == Some(false)
        }
        ("trigger_fires", sim::LogKind::TriggerFired { condition }) => {
            condition == text("condition")
        }
        (
            "state_change",
            sim::LogKind::StateChange {
                element,
                from,
                transition,
                to,
            },
        ) => {
            element == text("element")
                && *transition == text("transition")
                && *to == text("to")
                && state_name_matches(from, text("from"))
        }
        ("complete_after_executions", sim::LogKind::StateChange { element, to, .. }) => {
            element == text("element") && *to == "completeState"
        }
        (
            "completed_run",
            sim::LogKind::StateChange {
                element,
                transition,
                ..
            },
        ) => element == text("element") && *transition == "endTransition",
        ("simulation_end", sim::LogKind::StateChange { element, to, .. }) => {
            element == "storyBoard" && *to == "completeState"
        }
        ("collision", sim::LogKind::Collision { a, b }) => pair_matches(a, b),
        ("collision_dissolved", sim::LogKind::CollisionDissolved { a, b }) => pair_matches(a, b),
        ("parameter_set", sim::LogKind::ParameterSet { name, value }) => {
            name == text("parameter") && value == text("value")
        }
        _ => false,
    };
    kind_ok && event_time_ok(event, entry.time, step)
}

fn angle_difference(a: f64, b: f64) -> f64 {
    let d = (a - b).rem_euclid(std::f64::consts::TAU);
    d.min(std::f64::consts::TAU - d)
}

fn run_test(test: &Value, esmini: &Path) -> Verdict {
    let Some(scenario_path) = test.get("scenario").and_then(Value::as_str) else {
        return Verdict::NotApplicable("no scenario (tests esmini's command line)".into());
    };
    let notes = test.get("notes").and_then(Value::as_str).unwrap_or("");
    for (marker, reason) in [
        ("SUMO", "needs SUMO co-simulation"),
        ("osi-traffic_command", "needs esmini's OSI example program"),
        ("random generator", "needs esmini's random generator"),
        ("merged by esmini's replayer", "needs esmini's replayer"),
        ("FollowGhost", "esmini ghost controller"),
        ("Ghost restart", "esmini ghost controller"),
        (
            "refpoint_x_offset",
            "esmini's vehicle property refpoint_x_offset (trajectory followed by the front axle)",
        ),
    ] {
        if notes.contains(marker) {
            return Verdict::NotApplicable(reason.into());
        }
    }
    let step = test.get("step_s").and_then(Value::as_f64).unwrap_or(0.01);
    let events: Vec<&Value> = test
        .get("events")
        .and_then(Value::as_array)
        .map(|v| v.iter().collect())
        .unwrap_or_default();
    for e in &events {
        let kind = e.get("kind").and_then(Value::as_str).unwrap_or("");
        if !COMPARABLE_EVENTS.contains(&kind) && !DIAGNOSTIC_EVENTS.contains(&kind) {
            return Verdict::NotApplicable(format!("asserts esmini's own `{kind}` log line"));
        }
    }
    // Diagnostic lines of esmini's own (seed, route construction) say nothing
    // about the simulation; they are skipped, the rest is compared.
    let events: Vec<&Value> = events
        .into_iter()
        .filter(|e| {
            !DIAGNOSTIC_EVENTS.contains(&e.get("kind").and_then(Value::as_str).unwrap_or(""))
        })
        .collect();
    let file = esmini.join(scenario_path);
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Verdict::NotApplicable(format!(
            "scenario {} missing from the corpus",
            file.display()
        ));
    };
    let resolver = common::esmini_resolver(&file, esmini);
    let scenario = match sim::Scenario::parse(&text, scenario_path, &resolver) {
        Ok(s) => s,
        Err(e @ sim::Error::Unsupported { .. }) => return Verdict::NotApplicable(e.to_string()),
        Err(e) => return Verdict::Fail(format!("parse: {e}")),
    };
    let controlled = scenario
        .entities
        .iter()
        .find_map(|e| e.controller.clone())
        .or_else(|| {
            text.contains("AssignControllerAction")
                .then(|| "assigned by AssignControllerAction".to_string())
        });
    let extra = test.get("extra_args").and_then(Value::as_str).unwrap_or("");
    if let Some(controller) = controlled
        && !extra.contains("--disable_controllers")
    {
        return Verdict::NotApplicable(format!(
            "drives with an esmini controller ({controller}); only the default driver is simulated"
        ));
    }
    let network = match sim::load_network(&scenario, &resolver) {
        Ok(n) => n,
        Err(e) => return Verdict::Fail(format!("road network: {e}")),
    };
    let mut runner = match sim::Runner::new(scenario, network, step) {
        Ok(r) => r,
        Err(e) => return Verdict::Fail(e.to_string()),
    };
    let states: Vec<&Value> = test
        .get("states")
        .and_then(Value::as_array)
        .map(|v| {
            v.iter()
                .filter(|s| {
                    let entity = s.get("entity").and_then(Value::as_str).unwrap_or("");
                    let time = s.get("time_s").and_then(Value::as_f64).unwrap_or(0.0);
                    // Ghost rows and esmini's negative-time head start are esmini-specific.
                    !entity.contains("_ghost") && time >= 0.0 && s.get("platform").is_none()
                })
                .collect()
        })
        .unwrap_or_default();
    // Rows for entities the scenario does not declare (esmini adds trailers and
    // ghosts of its own) cannot be compared.
    if let Some(extra) = states
        .iter()
        .filter_map(|s| s.get("entity").and_then(Value::as_str))
        .find(|name| !runner.entities().iter().any(|e| e.name == *name))
    {
        return Verdict::NotApplicable(format!(
            "asserts entity `{extra}`, which esmini creates itself"
        ));
    }
    // The first step applies Init at time 0.
    if let Err(e) = runner.step() {
        return Verdict::Fail(format!("init: {e}"));
    }
    let last_time = events
        .iter()
        .filter_map(|e| e.get("time_s").and_then(Value::as_f64))
        .chain(
            states
                .iter()
                .filter_map(|s| s.get("time_s").and_then(Value::as_f64)),
        )
        .fold(0.0, f64::max);
    let mut state_failures = Vec::new();
    let mut checked = vec![false; states.len()];
    // Bounded: at most the expectations' horizon plus a few steps.
    let max_steps = ((last_time + 1.0) / step).ceil() as u64 + 10;
    let mut ended = false;
    for _ in 0..max_steps {
        for (k, s) in states.iter().enumerate() {
            let t = s.get("time_s").and_then(Value::as_f64).unwrap_or(0.0);
            if checked[k] || (runner.time() - t).abs() > step * 0.5 {
                continue;
            }
            checked[k] = true;
            let name = s.get("entity").and_then(Value::as_str).unwrap_or("");
            let Some(e) = runner.entities().iter().find(|e| e.name == name) else {
                state_failures.push(format!("t={t}: no entity {name}"));
                continue;
            };
            let f = |k: &str| s.get(k).and_then(Value::as_f64);
            let mut bad = Vec::new();
            for (key, ours) in [("x", e.x), ("y", e.y), ("z", e.z)] {
                if let Some(theirs) = f(key)
                    && (ours - theirs).abs() > POSITION_TOLERANCE_M
                {
                    bad.push(format!("{key} {ours:.3} vs {theirs:.3}"));
                }
            }
            if let Some(h) = f("h")
                && angle_difference(e.heading, h) > HEADING_TOLERANCE_RAD
            {
                bad.push(format!(
                    "h {:.3} vs {h:.3}",
                    e.heading.rem_euclid(std::f64::consts::TAU)
                ));
            }
            if !bad.is_empty() {
                state_failures.push(format!("t={t} {name}: {}", bad.join(", ")));
            }
        }
        if ended || runner.time() > last_time + 2.0 * step {
            break;
        }
        match runner.step() {
            // The state at the step that ends the run is still compared.
            Ok(running) => ended = !running,
            Err(e) => return Verdict::Fail(format!("run: {e} at t={:.3}", runner.time())),
        }
    }
    let mut failures = Vec::new();
    for e in &events {
        if !runner
            .log()
            .iter()
            .any(|entry| event_matches(e, entry, step))
        {
            let what = e.get("what").and_then(Value::as_str).unwrap_or("?");
            let t = e.get("time_s").and_then(Value::as_f64);
            failures.push(format!("missing event at {t:?}: {what}"));
        }
    }
    for (k, s) in states.iter().enumerate() {
        if !checked[k] {
            failures.push(format!(
                "run ended before state row at t={:?}",
                s.get("time_s")
            ));
        }
    }
    failures.extend(state_failures);
    if failures.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Fail(failures.join("; "))
    }
}

#[test]
fn esmini_expectations() {
    let corpora = common::corpora();
    let path = corpora.join("esmini-expectations.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!(
            "esmini expectations not found at {}; set TWINSPACE_CORPORA to the corpora folder",
            path.display()
        );
        return;
    };
    let document: Value = serde_json::from_str(&text).expect("expectations are JSON");
    let tests = document
        .get("tests")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let esmini = corpora.join("esmini");
    let (mut passes, mut applicable, mut not_applicable) = (0, 0, 0);
    let mut failed = Vec::new();
    for test in &tests {
        let id = test.get("id").and_then(Value::as_str).unwrap_or("?");
        match run_test(test, &esmini) {
            Verdict::Pass => {
                passes += 1;
                applicable += 1;
                eprintln!("PASS {id}");
            }
            Verdict::Fail(why) => {
                applicable += 1;
                let short: String = why.chars().take(600).collect();
                eprintln!("FAIL {id}: {short}");
                failed.push(id.to_string());
            }
            Verdict::NotApplicable(why) => {
                not_applicable += 1;
                eprintln!("N/A  {id}: {why}");
            }
        }
    }
    eprintln!(
        "esmini conformance: {passes} passes / {applicable} applicable; {not_applicable} not applicable; failing: {failed:?}"
    );
    assert!(
        passes >= PASSES_REACHED,
        "passes dropped to {passes} (reached {PASSES_REACHED})"
    );
}
