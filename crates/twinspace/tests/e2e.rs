//! End-to-end tests of the built `twinspace` binary over real sockets: the REST
//! flow, restart keeping data, offline token commands, TLS, the model CLI, a
//! crash test (`kill -9` while acknowledged writes flow; every acknowledged
//! write must be there after restart) and the official Azure Digital Twins
//! Python SDK when its venv exists.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{BIN, Server, agent, call, call_with};
use serde_json::{Value, json};

fn models() -> Value {
    json!([
        { "@id": "dtmi:e2e:Room;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
          "contents": [
            { "@type": "Property", "name": "temperature", "schema": "double" },
            { "@type": "Property", "name": "writer", "schema": "string" },
            { "@type": "Relationship", "name": "next", "target": "dtmi:e2e:Room;1" }
          ] }
    ])
}

#[test]
fn rest_flow_survives_a_graceful_restart_and_tokens_work_offline() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let admin = server
        .admin
        .clone()
        .expect("first start prints the admin token");
    assert!(server.url.starts_with("http://127.0.0.1:"));
    let agent = agent();
    let url = &server.url;
    assert_eq!(
        call_with(
            &agent,
            "POST",
            &format!("{url}/models"),
            &admin,
            Some(&models())
        )
        .0,
        201
    );
    for n in 0..5 {
        let twin = json!({ "$metadata": { "$model": "dtmi:e2e:Room;1" }, "temperature": n });
        assert_eq!(
            call_with(
                &agent,
                "PUT",
                &format!("{url}/digitaltwins/room-{n}"),
                &admin,
                Some(&twin)
            )
            .0,
            200
        );
    }
    let rel = json!({ "$targetId": "room-1", "$relationshipName": "next" });
    assert_eq!(
        call_with(
            &agent,
            "PUT",
            &format!("{url}/digitaltwins/room-0/relationships/n1"),
            &admin,
            Some(&rel)
        )
        .0,
        200
    );
    let patch = json!([{ "op": "replace", "path": "/temperature", "value": 42.5 }]);
    assert_eq!(
        call_with(
            &agent,
            "PATCH",
            &format!("{url}/digitaltwins/room-3"),
            &admin,
            Some(&patch)
        )
        .0,
        204
    );
    let query = json!({ "query": "SELECT T.$dtId FROM DIGITALTWINS T WHERE T.temperature > 3" });
    let (status, rows) = call_with(
        &agent,
        "POST",
        &format!("{url}/query?api-version=2023-10-31"),
        &admin,
        Some(&query),
    );
    assert_eq!(status, 200, "{rows}");
    assert_eq!(
        rows["value"],
        json!([{ "$dtId": "room-3" }, { "$dtId": "room-4" }])
    );
    let (status, unauthenticated) = call_with(
        &agent,
        "GET",
        &format!("{url}/digitaltwins/room-0"),
        "tsk_nope",
        None,
    );
    assert_eq!(status, 401, "{unauthenticated}");
    server.terminate();

    // While it is down, make a viewer token offline.
    let output = Command::new(BIN)
        .args([
            "token",
            "create",
            "--role",
            "viewer",
            "--world",
            "default",
            "--label",
            "e2e",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let viewer = stdout
        .lines()
        .find(|l| l.starts_with("tsk_"))
        .expect("the secret is printed")
        .to_owned();
    let listed = Command::new(BIN)
        .args(["token", "list", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(listed.contains("viewer@default"), "{listed}");

    let server = Server::start(dir.path(), &[]);
    assert!(
        server.admin.is_none(),
        "the admin token is printed only on first start"
    );
    let url = &server.url;
    let (status, twin) = call_with(
        &agent,
        "GET",
        &format!("{url}/digitaltwins/room-3"),
        &viewer,
        None,
    );
    assert_eq!(status, 200, "{twin}");
    assert_eq!(twin["temperature"], 42.5);
    let (_, rels) = call_with(
        &agent,
        "GET",
        &format!("{url}/digitaltwins/room-1/incomingrelationships"),
        &admin,
        None,
    );
    assert_eq!(rels["value"][0]["$sourceId"], "room-0");
    let twin = json!({ "$metadata": { "$model": "dtmi:e2e:Room;1" } });
    assert_eq!(
        call_with(
            &agent,
            "PUT",
            &format!("{url}/digitaltwins/x"),
            &viewer,
            Some(&twin)
        )
        .0,
        403
    );
    let (status, metrics) = call_with(&agent, "GET", &format!("{url}/metrics"), "", None);
    assert_eq!(status, 200);
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains("twinspace_world_twins{world=\"default\"} 5")
    );
    server.terminate();
}

#[test]
fn tls_self_signed_serves_https() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--tls-self-signed"]);
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    assert!(dir.path().join("tls/self-signed.pem").is_file());
    let admin = server.admin.clone().unwrap();
    let (status, body) = call("GET", &format!("{}/models", server.url), &admin, None);
    assert_eq!(status, 200, "{body}");
    server.terminate();
}

/// A tiny deterministic random source (the seed is printed so a failure replays).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

/// The last acknowledged state of a twin, and a write that may be in flight.
#[derive(Clone, Debug, Default)]
struct Expected {
    acked: Option<(String, f64)>,
    in_flight: Option<f64>,
}

#[test]
fn kill_9_loses_no_acknowledged_write() {
    const ROUNDS: usize = 4;
    const WRITERS: usize = 4;
    const TWINS_PER_WRITER: usize = 5;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("crash test seed {seed}");
    let mut random = Lcg(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &[]);
    let admin = server.admin.clone().unwrap();
    let agent = agent();
    assert_eq!(
        call_with(
            &agent,
            "POST",
            &format!("{}/models", server.url),
            &admin,
            Some(&models())
        )
        .0,
        201
    );
    let expected: Arc<Mutex<HashMap<String, Expected>>> = Arc::default();
    let mut acknowledged_total = 0usize;
    for round in 0..ROUNDS {
        let stop = Arc::new(AtomicBool::new(false));
        let mut writers = Vec::new();
        for w in 0..WRITERS {
            let (url, admin, expected, stop) = (
                server.url.clone(),
                admin.clone(),
                Arc::clone(&expected),
                Arc::clone(&stop),
            );
            writers.push(std::thread::spawn(move || {
                let agent = crate::agent();
                let mut acked = 0usize;
                let mut n = 0u64;
                // Bounded: at most this many writes per round per writer.
                while !stop.load(Ordering::Relaxed) && n < 20_000 {
                    n += 1;
                    let id = format!("w{w}-t{}", n % TWINS_PER_WRITER as u64);
                    let value = (round * 1_000_000) as f64 + n as f64;
                    expected.lock().unwrap().entry(id.clone()).or_default().in_flight = Some(value);
                    let exists = expected.lock().unwrap()[&id].acked.is_some();
                    let twin_url = format!("{url}/digitaltwins/{id}");
                    let auth = format!("Bearer {admin}");
                    let result = if exists && n.is_multiple_of(2) {
                        let patch = json!([{ "op": "replace", "path": "/temperature", "value": value }]);
                        agent.patch(&twin_url).header("Authorization", &auth).send_json(&patch)
                    } else {
                        let twin = json!({ "$metadata": { "$model": "dtmi:e2e:Room;1" }, "temperature": value, "writer": format!("w{w}") });
                        agent.put(&twin_url).header("Authorization", &auth).send_json(&twin)
                    };
                    match result {
                        Ok(response) if response.status().is_success() => {
                            let etag = response.headers().get("etag").unwrap().to_str().unwrap().to_owned();
                            let mut map = expected.lock().unwrap();
                            let entry = map.get_mut(&id).unwrap();
                            entry.acked = Some((etag, value));
                            entry.in_flight = None;
                            acked += 1;
                        }
                        Ok(response) => panic!("write refused: {}", response.status()),
                        // The server died mid-request: this write is unacknowledged.
                        Err(_) => break,
                    }
                }
                acked
            }));
        }
        std::thread::sleep(Duration::from_millis(200 + random.next(1_300)));
        server.kill9();
        stop.store(true, Ordering::Relaxed);
        let acked: usize = writers.into_iter().map(|w| w.join().unwrap()).sum();
        acknowledged_total += acked;

        server = Server::start(dir.path(), &[]);
        let map = expected.lock().unwrap().clone();
        for (id, want) in &map {
            let (status, twin) = call_with(
                &agent,
                "GET",
                &format!("{}/digitaltwins/{id}", server.url),
                &admin,
                None,
            );
            let Some((etag, value)) = &want.acked else {
                // Never acknowledged: it may or may not exist.
                continue;
            };
            assert_eq!(
                status, 200,
                "round {round}: acknowledged twin {id} is missing (seed {seed})"
            );
            let got = twin["temperature"].as_f64().unwrap();
            if Some(got) == want.in_flight {
                continue; // the unacknowledged in-flight write also made it: allowed
            }
            assert_eq!(
                got, *value,
                "round {round}: twin {id} lost its acknowledged value (seed {seed})"
            );
            assert_eq!(
                twin["$etag"].as_str().unwrap(),
                etag,
                "round {round}: twin {id} (seed {seed})"
            );
        }
        // What is there now is the truth for the next round.
        let mut map = expected.lock().unwrap();
        for (id, entry) in map.iter_mut() {
            let (status, twin) = call_with(
                &agent,
                "GET",
                &format!("{}/digitaltwins/{id}", server.url),
                &admin,
                None,
            );
            entry.in_flight = None;
            entry.acked = (status == 200).then(|| {
                (
                    twin["$etag"].as_str().unwrap().to_owned(),
                    twin["temperature"].as_f64().unwrap(),
                )
            });
        }
        eprintln!("crash round {round}: {acked} acknowledged writes, all present after kill -9");
    }
    assert!(
        acknowledged_total > 0,
        "the writers got nothing acknowledged"
    );
    server.terminate();
}

fn corpora() -> Option<PathBuf> {
    let dir = std::env::var_os("TWINSPACE_CORPORA").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora"),
        PathBuf::from,
    );
    if dir.join("realestatecore").is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "corpora not found at {}; set TWINSPACE_CORPORA to the corpora folder",
            dir.display()
        );
        None
    }
}

#[test]
fn models_cli_validates_and_imports_folders() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    std::fs::create_dir_all(good.join("sub")).unwrap();
    std::fs::write(good.join("sub/room.json"), models().to_string()).unwrap();
    let output = Command::new(BIN)
        .args(["models", "validate"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    let bad = dir.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    let broken = json!({ "@id": "dtmi:e2e:Bad;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
        "contents": [{ "@type": "Property", "name": "x", "schema": "dtmi:e2e:NoSuchSchema;1" }] });
    std::fs::write(bad.join("bad.json"), broken.to_string()).unwrap();
    let output = Command::new(BIN)
        .args(["models", "validate"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("bad.json"),
        "problems name the file: {stdout}"
    );

    let data = dir.path().join("data");
    let server = Server::start(&data, &[]);
    let admin = server.admin.clone().unwrap();
    let source = match corpora() {
        Some(corpora) => corpora.join("realestatecore/v3"),
        None => good.clone(),
    };
    let output = Command::new(BIN)
        .args(["models", "import"])
        .arg(&source)
        .args(["--url", &server.url, "--token", &admin])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("{}", String::from_utf8_lossy(&output.stdout).trim());
    let (_, page) = call("GET", &format!("{}/models", server.url), &admin, None);
    assert!(!page["value"].as_array().unwrap().is_empty());
    server.terminate();
}

/// The venv with `azure-digitaltwins-core` (made by tests/adt_sdk/setup.sh).
fn adt_venv() -> Option<PathBuf> {
    let venv = std::env::var_os("TWINSPACE_VENV").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/adt-venv"),
        PathBuf::from,
    );
    let python = venv.join("bin/python");
    if python.is_file() {
        Some(python)
    } else {
        eprintln!(
            "SKIPPED: the Azure Digital Twins SDK venv is not at {}; run crates/twinspace/tests/adt_sdk/setup.sh (or set TWINSPACE_VENV)",
            venv.display()
        );
        None
    }
}

#[test]
fn the_official_adt_python_sdk_works_unmodified_over_tls() {
    let Some(python) = adt_venv() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--tls-self-signed"]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/adt_sdk/test_sdk.py");
    let output = Command::new(python)
        .arg(&script)
        .env("TWINSPACE_URL", &server.url)
        .env("TWINSPACE_TOKEN", server.admin.clone().unwrap())
        .env("TWINSPACE_CA", dir.path().join("tls/self-signed.pem"))
        .output()
        .unwrap();
    eprintln!("{}", String::from_utf8_lossy(&output.stdout));
    assert!(
        output.status.success(),
        "the SDK test failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    server.terminate();
}
