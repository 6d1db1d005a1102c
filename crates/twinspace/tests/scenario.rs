//! End-to-end tests of `twinspace scenario run` and `twinspace scenario test`
//! on the built binary, with the sim crate's 10-vehicle highway cut-in scenario
//! (its road network and vehicle catalog sit beside it in `crates/sim/tests/data`),
//! and of `scenario run --live` streaming into a running `twinspace serve`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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

/// How long the server may take to print `listening on`.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A `twinspace serve` on a free port with a fresh data folder; killed on drop.
struct Server {
    child: Child,
    url: String,
    admin: String,
}

impl Server {
    fn start(data_dir: &Path) -> Server {
        let mut child = Command::new(BIN)
            .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env("TWINSPACE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the twinspace binary starts");
        let stdout = child.stdout.take().unwrap();
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child,
            url: String::new(),
            admin: String::new(),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = receiver
                .recv_timeout(left)
                .expect("the server prints 'listening on' in time");
            if let Some(token) =
                line.strip_prefix("admin token (shown only this once; store it now): ")
            {
                server.admin = token.to_owned();
            }
            if let Some(url) = line.strip_prefix("listening on ") {
                // Keep draining stdout so the server never blocks on a full pipe.
                std::thread::spawn(move || while receiver.recv().is_ok() {});
                server.url = url.to_owned();
                return server;
            }
        }
    }

    fn get(&self, path: &str) -> (u16, Value) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let response = agent
            .get(format!("{}{path}", self.url))
            .header("Authorization", format!("Bearer {}", self.admin))
            .call()
            .unwrap();
        let status = response.status().as_u16();
        let text = response.into_body().read_to_string().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Recorded reference-point (x, y, z, heading) of `entity` at `time`, from a `--record` CSV.
fn recorded(csv: &str, entity: &str, time: f64) -> Option<[f64; 4]> {
    csv.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split(',').collect();
        let t: f64 = f[0].parse().ok()?;
        if f[1] != entity || (t - time).abs() > 1e-4 {
            return None;
        }
        let n = |i: usize| f[i].parse::<f64>().ok();
        Some([n(2)?, n(3)?, n(4)?, n(5)?])
    })
}

#[test]
fn run_live_streams_the_entities_into_a_world() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let out = tempfile::tempdir().unwrap();
    let csv = out.path().join("run.csv");
    let glb = out.path().join("road.glb");
    let scenario = sim_data().join("highway_cut_in.xosc");
    // 60 s simulated at 20x: about 3 s of streaming at 20 frames a second.
    let mut run = Command::new(BIN)
        .args(["scenario", "run"])
        .arg(&scenario)
        .args(["--live", "cut-in", "--server", &server.url, "--token"])
        .arg(&server.admin)
        .args(["--speed", "20", "--frame-rate", "20", "--quiet", "--record"])
        .arg(&csv)
        .arg("--road-glb")
        .arg(&glb)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // While it streams: the road asset is served, and Ego moves along.
    let mut road_asset = None;
    let mut samples: Vec<(f64, [f64; 3], [f64; 3])> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while run.try_wait().unwrap().is_none() && Instant::now() < deadline {
        let (status, twin) = server.get("/worlds/cut-in/digitaltwins/Ego");
        if status == 200 {
            let time = twin["simTime"].as_f64().unwrap();
            let position: Vec<f64> =
                serde_json::from_value(twin["$placement"]["position"].clone()).unwrap();
            let n = |k: &str| twin[k].as_f64().unwrap();
            samples.push((
                time,
                [position[0], position[1], position[2]],
                [n("x"), n("y"), n("z")],
            ));
        }
        if road_asset.is_none() {
            let (status, road) = server.get("/worlds/cut-in/digitaltwins/road-network");
            if status == 200 {
                let url = road["$placement"]["asset"].as_str().unwrap().to_owned();
                let response = ureq::get(&url).call().expect("the run serves the road GLB");
                let bytes = response.into_body().read_to_vec().unwrap();
                road_asset = Some((url, bytes));
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = run.wait_with_output().unwrap();
    let stdout = text(&output.stdout);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("result: PASS"), "{stdout}");
    assert!(stderr.contains("live: 10 twins moved in"), "{stderr}");
    let (url, bytes) = road_asset.expect("the road twin appeared during the run");
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/road.glb"),
        "{url}"
    );
    assert_eq!(&bytes[..4], b"glTF", "the road asset is a GLB");
    assert_eq!(
        bytes,
        std::fs::read(&glb).unwrap(),
        "--road-glb holds the same GLB"
    );

    // Real time at --speed: the streamed clock moved while we watched, not all at once.
    let distinct: std::collections::BTreeSet<u64> =
        samples.iter().map(|s| (s.0 * 1000.0) as u64).collect();
    assert!(distinct.len() >= 5, "Ego seen at only {distinct:?}");
    let record = std::fs::read_to_string(&csv).unwrap();
    for (time, position, reference) in &samples {
        let [x, y, z, _] = recorded(&record, "Ego", *time)
            .unwrap_or_else(|| panic!("no recorded row for Ego at {time}"));
        for (ours, theirs) in reference.iter().zip([x, y, z]) {
            assert!(
                (ours - theirs).abs() < 1e-3,
                "at {time}: {reference:?} vs {x} {y} {z}"
            );
        }
        // The placement is the bottom centre of the box, within a car length of the reference point.
        let off = (position[0] - x).hypot(position[1] - y);
        assert!(
            off < 4.6,
            "at {time}: placement {position:?} is {off} m from the reference point"
        );
    }

    // After the run: every entity is a twin of its kind's model, at its last recorded pose.
    let (status, model) = server.get("/worlds/cut-in/models/dtmi:twinspace:scenario:Vehicle;1");
    assert_eq!(status, 200, "{model}");
    let last_time = record
        .lines()
        .last()
        .and_then(|l| l.split(',').next())
        .and_then(|t| t.parse::<f64>().ok())
        .unwrap();
    for name in [
        "Ego", "CutIn", "Lead", "Left1", "Left2", "Right1", "Right2", "Right3", "Follow1",
        "Follow2",
    ] {
        let (status, twin) = server.get(&format!("/worlds/cut-in/digitaltwins/{name}"));
        assert_eq!(status, 200, "{name}: {twin}");
        assert_eq!(
            twin["$metadata"]["$model"],
            "dtmi:twinspace:scenario:Vehicle;1"
        );
        let [x, y, _, h] = recorded(&record, name, last_time).unwrap();
        assert!(
            (twin["x"].as_f64().unwrap() - x).abs() < 1e-3,
            "{name}: {twin}"
        );
        assert!(
            (twin["y"].as_f64().unwrap() - y).abs() < 1e-3,
            "{name}: {twin}"
        );
        assert!(
            (twin["heading"].as_f64().unwrap() - h).abs() < 1e-3,
            "{name}: {twin}"
        );
        let scale: Vec<f64> = serde_json::from_value(twin["$placement"]["scale"].clone()).unwrap();
        assert_eq!(scale[0], twin["length"].as_f64().unwrap());
    }
    let (_, road) = server.get("/worlds/cut-in/digitaltwins/road-network");
    assert_eq!(road["endReason"], "stop_trigger", "{road}");
}
