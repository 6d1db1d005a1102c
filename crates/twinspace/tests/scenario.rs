//! End-to-end tests of `twinspace scenario run` and `twinspace scenario test`
//! on the built binary, with the sim crate's 10-vehicle highway cut-in scenario
//! (its road network and vehicle catalog sit beside it in `crates/sim/tests/data`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_twinspace");

/// A malformed scenario: the FileHeader tag is never closed.
const MALFORMED: &str =
    "<?xml version=\"1.0\"?>\n<OpenSCENARIO>\n  <FileHeader revMajor=\"1\"\n</OpenSCENARIO>\n";

fn sim_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sim/tests/data")
}

fn twinspace(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("the twinspace binary starts")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A copy of the highway scenario with everything it refers to: the road file
/// and the catalog folder named in its CatalogLocations.
fn copy_highway(to: &Path) {
    let data = sim_data();
    std::fs::copy(
        data.join("highway_cut_in.xosc"),
        to.join("highway_cut_in.xosc"),
    )
    .unwrap();
    std::fs::copy(data.join("highway.xodr"), to.join("highway.xodr")).unwrap();
    std::fs::create_dir_all(to.join("catalogs")).unwrap();
    std::fs::copy(
        data.join("catalogs/highway_vehicles.xosc"),
        to.join("catalogs/highway_vehicles.xosc"),
    )
    .unwrap();
}

#[test]
fn run_passes_and_writes_the_record_and_report() {
    let out = tempfile::tempdir().unwrap();
    let csv = out.path().join("run.csv");
    let json = out.path().join("run.json");
    let scenario = sim_data().join("highway_cut_in.xosc");
    let output = twinspace(&[
        "scenario",
        "run",
        scenario.to_str().unwrap(),
        "--record",
        csv.to_str().unwrap(),
        "--report",
        json.to_str().unwrap(),
    ]);
    let stdout = text(&output.stdout);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("ended: stop_trigger at 60.000 s"),
        "{stdout}"
    );
    assert!(stdout.contains("collisions: none"), "{stdout}");
    assert!(stdout.contains("max deceleration:"), "{stdout}");
    assert!(stdout.contains("result: PASS"), "{stdout}");
    // Progress goes to stderr, a tenth of --max-time (300 s) at a time.
    assert!(stderr.contains("t =     30.00 s"), "{stderr}");

    let record = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(record.lines().next(), Some(sim::RECORD_CSV_HEADER));
    // Ten vehicles at t = 0 and after each of 6000 steps.
    assert_eq!(record.lines().count(), 1 + 10 * 6001);

    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["passed"], 1);
    assert_eq!(report["scenarios"][0]["end_reason"], "stop_trigger");
    assert_eq!(
        report["scenarios"][0]["entities"].as_array().unwrap().len(),
        10
    );
}

#[test]
fn run_exit_codes_tell_failure_from_error() {
    let scenario = sim_data().join("highway_cut_in.xosc");
    let output = twinspace(&[
        "scenario",
        "run",
        scenario.to_str().unwrap(),
        "--max-time",
        "5",
        "--quiet",
    ]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("result: FAIL: did not end within"),
        "{stdout}"
    );
    assert!(output.stderr.is_empty(), "--quiet prints no progress");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.xosc");
    std::fs::write(&bad, MALFORMED).unwrap();
    let output = twinspace(&["scenario", "run", bad.to_str().unwrap()]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    // sim's location: the file as given, then line and column.
    let at = format!("{}:", bad.display());
    assert!(
        stderr.contains(&at) && stderr.contains("malformed XML"),
        "{stderr}"
    );

    let missing = dir.path().join("missing.xosc");
    let output = twinspace(&["scenario", "run", missing.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn test_runs_a_folder_and_reports_errors() {
    let dir = tempfile::tempdir().unwrap();
    copy_highway(dir.path());
    std::fs::create_dir(dir.path().join("broken")).unwrap();
    std::fs::write(dir.path().join("broken/bad.xosc"), MALFORMED).unwrap();
    let out = tempfile::tempdir().unwrap();
    let junit = out.path().join("junit.xml");
    let json = out.path().join("report.json");
    let output = twinspace(&[
        "scenario",
        "test",
        dir.path().to_str().unwrap(),
        "--jobs",
        "2",
        "--junit",
        junit.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    // Sorted order: broken/, catalogs/, then the scenario.
    assert!(lines[0].starts_with("ERROR broken/bad.xosc"), "{stdout}");
    assert!(
        lines[1].starts_with("SKIP  catalogs/highway_vehicles.xosc"),
        "{stdout}"
    );
    assert!(
        lines[2].starts_with("PASS  highway_cut_in.xosc  stop_trigger  60.000 s"),
        "{stdout}"
    );
    assert_eq!(
        lines.last(),
        Some(&"1 passed, 0 failed, 1 errors"),
        "{stdout}"
    );

    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("tests=\"2\" failures=\"0\" errors=\"1\""),
        "{xml}"
    );
    assert!(xml.contains("highway_cut_in.xosc\""), "{xml}");
    assert!(xml.contains("bad.xosc\""), "{xml}");
    assert!(xml.contains("<error message=\""), "{xml}");
    assert!(
        !xml.contains("highway_vehicles"),
        "catalogs are not test cases: {xml}"
    );

    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["passed"], 1);
    assert_eq!(report["errors"], 1);
    let error = report["error_scenarios"][0]["error"].as_str().unwrap();
    assert!(error.contains("malformed XML"), "{error}");
}

#[test]
fn test_refuses_a_folder_without_scenarios() {
    let dir = tempfile::tempdir().unwrap();
    let output = twinspace(&["scenario", "test", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("holds no .xosc files"));
}
