//! End-to-end tests of the embedded MQTT broker in the built `twinspace serve`,
//! driven by independent clients: Debian's `mosquitto_pub`/`mosquitto_sub` and
//! Eclipse Paho (Python, from `TWINSPACE_VENV`). A published value lands on the
//! twin (read back over REST); tokens decide who may connect, publish and
//! subscribe; malformed payloads are counted and dead-lettered; QoS 1 over TCP
//! and WebSocket; and `kill -9` while a QoS 1 stream flows loses nothing that
//! was acknowledged; a `[[mqtt.bridges]]` entry follows an external mosquitto
//! into the same twins. Without the tools a test says so and returns, except in CI
//! (`CI=true`), where a missing tool fails it.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{START_TIMEOUT, Server, call, free_port, have, missing};
use serde_json::{Value, json};

/// How long a published value may take to show on the twin.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(20);

/// Starts the server with the embedded broker on `mqtt` (TCP) and `ws`
/// (WebSocket; empty: off), and a config file when one is given.
fn start(data_dir: &Path, mqtt: &str, ws: &str, config: Option<&Path>) -> Server {
    let config = config.map(|c| c.to_str().expect("a UTF-8 path").to_owned());
    let mut extra = Vec::new();
    if let Some(config) = &config {
        extra.extend(["--config", config.as_str()]);
    }
    Server::start_with(
        data_dir,
        &extra,
        &[
            ("TWINSPACE_MQTT_LISTEN", mqtt),
            ("TWINSPACE_MQTT_WS_LISTEN", ws),
        ],
    )
}

/// The broker's host and port.
fn host_port(server: &Server) -> (String, String) {
    split(&server.mqtt)
}

fn split(address: &str) -> (String, String) {
    let (host, port) = address.rsplit_once(':').expect("host:port");
    (host.to_owned(), port.to_owned())
}

fn metrics(server: &Server) -> String {
    let (status, body) = call("GET", &format!("{}/metrics", server.url), "", None);
    assert_eq!(status, 200);
    body.as_str().expect("text").to_owned()
}

/// The value of one metric line (`name` with its labels), 0 when absent.
fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Sets up world `plant` with a room model and twin `room1`, and returns
/// tokens (ingest, viewer) on it.
fn plant(server: &Server) -> (String, String, String) {
    let admin = server
        .admin
        .clone()
        .expect("first start prints an admin token");
    let base = &server.url;
    let (status, _) = call(
        "POST",
        &format!("{base}/worlds"),
        &admin,
        Some(&json!({ "id": "plant" })),
    );
    assert!(status == 201 || status == 200, "world created: {status}");
    let models = json!([
        { "@id": "dtmi:mqtt:Room;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
          "contents": [
            { "@type": "Property", "name": "temperature", "schema": "double" },
            { "@type": "Property", "name": "seq", "schema": "long" }
          ] }
    ]);
    let (status, body) = call(
        "POST",
        &format!("{base}/worlds/plant/models"),
        &admin,
        Some(&models),
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = call(
        "PUT",
        &format!("{base}/worlds/plant/digitaltwins/room1"),
        &admin,
        Some(
            &json!({ "$metadata": { "$model": "dtmi:mqtt:Room;1" }, "temperature": 0.0, "seq": 0 }),
        ),
    );
    assert_eq!(status, 200, "{body}");
    let token = |role: &str| {
        let (status, body) = call(
            "POST",
            &format!("{base}/tokens"),
            server.admin.as_deref().unwrap_or_default(),
            Some(&json!({ "role": role, "world": "plant", "label": role })),
        );
        assert_eq!(status, 201, "{body}");
        body["token"].as_str().expect("a token").to_owned()
    };
    (admin, token("ingest"), token("viewer"))
}

fn twin(server: &Server, token: &str) -> Value {
    let (status, body) = call(
        "GET",
        &format!("{}/worlds/plant/digitaltwins/room1", server.url),
        token,
        None,
    );
    assert_eq!(status, 200, "{body}");
    body
}

/// Waits until the twin's `field` equals `expected`.
fn await_value(server: &Server, admin: &str, field: &str, expected: &Value) {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        let body = twin(server, admin);
        if &body[field] == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{field} never became {expected}: {body}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn python() -> Option<PathBuf> {
    let venv = std::env::var_os("TWINSPACE_VENV")?;
    let python = PathBuf::from(venv).join("bin/python");
    python.exists().then_some(python)
}

fn mosquitto_pub(server: &Server, token: &str, args: &[&str]) -> std::process::Output {
    let (host, port) = host_port(server);
    Command::new("mosquitto_pub")
        .args(["-h", &host, "-p", &port, "-u", "any", "-P", token])
        .args(args)
        .output()
        .expect("mosquitto_pub runs")
}

/// Starts `mosquitto_sub` printing `topic payload` lines, and waits until the
/// broker counts its connection.
fn mosquitto_sub(server: &Server, token: &str, filter: &str, count: &str) -> Child {
    let before = metric(&metrics(server), "twinspace_mqtt_connections_total");
    let (host, port) = host_port(server);
    let child = Command::new("mosquitto_sub")
        .args(["-h", &host, "-p", &port, "-u", "any", "-P", token])
        .args(["-t", filter, "-q", "1", "-v", "-C", count, "-W", "30"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("mosquitto_sub runs");
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    while metric(&metrics(server), "twinspace_mqtt_connections_total") == before {
        assert!(Instant::now() < deadline, "mosquitto_sub never connected");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The SUBSCRIBE follows the CONNECT at once; give it a moment to be routed.
    std::thread::sleep(Duration::from_millis(300));
    child
}

fn finish(child: Child) -> String {
    let output = child.wait_with_output().expect("the subscriber ends");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn mosquitto_clients_publish_subscribe_and_are_held_to_their_tokens() {
    if !(have("mosquitto_pub") && have("mosquitto_sub")) && missing("mosquitto-clients") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(dir.path(), "127.0.0.1:0", "", None);
    let (admin, ingest, viewer) = plant(&server);

    // A viewer sees what a publisher sends, like on any broker; the value lands on the twin.
    let sub = mosquitto_sub(&server, &viewer, "twinspace/plant/#", "1");
    let out = mosquitto_pub(
        &server,
        &ingest,
        &[
            "-t",
            "twinspace/plant/room1",
            "-q",
            "1",
            "-m",
            r#"{"temperature": 21.5}"#,
        ],
    );
    assert!(out.status.success(), "{out:?}");
    await_value(&server, &admin, "temperature", &json!(21.5));
    let seen = finish(sub);
    assert_eq!(
        seen.trim(),
        r#"twinspace/plant/room1 {"temperature": 21.5}"#
    );

    // A malformed payload is counted and goes to the dead-letter topic.
    let sub = mosquitto_sub(&server, &viewer, "twinspace/plant/deadletter/#", "1");
    let out = mosquitto_pub(
        &server,
        &ingest,
        &["-t", "twinspace/plant/room1", "-q", "1", "-m", "not json"],
    );
    assert!(out.status.success(), "{out:?}");
    let seen = finish(sub);
    assert!(
        seen.starts_with("twinspace/plant/deadletter/room1 "),
        "a dead letter arrives: {seen:?}"
    );
    let page = metrics(&server);
    assert_eq!(
        metric(&page, "twinspace_mqtt_rejected_total{reason=\"not_json\"}"),
        1,
        "{page}"
    );
    // A value the model does not allow is refused by the world, counted too.
    let out = mosquitto_pub(
        &server,
        &ingest,
        &[
            "-t",
            "twinspace/plant/room1",
            "-q",
            "1",
            "-m",
            r#"{"temperature": "warm"}"#,
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    while metric(
        &metrics(&server),
        "twinspace_mqtt_rejected_total{reason=\"refused\"}",
    ) != 1
    {
        assert!(Instant::now() < deadline, "the refusal is never counted");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(twin(&server, &admin)["temperature"], json!(21.5));

    // A publish to a world the token has no grant on is refused (MQTT 5: PUBACK
    // "not authorized") and counted; nothing lands there.
    let out = mosquitto_pub(
        &server,
        &ingest,
        &[
            "-V",
            "mqttv5",
            "-t",
            "twinspace/default/room1",
            "-q",
            "1",
            "-m",
            r#"{"temperature": 1}"#,
        ],
    );
    eprintln!("foreign world publish: {out:?}");
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    while metric(&metrics(&server), "twinspace_mqtt_publishes_denied_total") < 1 {
        assert!(
            Instant::now() < deadline,
            "the denied publish is never counted"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // A viewer may not publish either.
    let _ = mosquitto_pub(
        &server,
        &viewer,
        &[
            "-V",
            "mqttv5",
            "-t",
            "twinspace/plant/room1",
            "-q",
            "1",
            "-m",
            r#"{"temperature": 2}"#,
        ],
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(twin(&server, &admin)["temperature"], json!(21.5));

    // A wrong token is refused at CONNECT, and so is a revoked one.
    let out = mosquitto_pub(
        &server,
        "tsk_not_a_token",
        &["-t", "twinspace/plant/room1", "-m", "{}"],
    );
    assert!(!out.status.success(), "a wrong token connects: {out:?}");
    let (status, tokens) = call("GET", &format!("{}/tokens", server.url), &admin, None);
    assert_eq!(status, 200);
    let id = tokens
        .as_array()
        .or_else(|| tokens["value"].as_array())
        .expect("a token list")
        .iter()
        .find(|t| t["label"] == "ingest")
        .expect("the ingest token is listed")["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let (status, _) = call(
        "DELETE",
        &format!("{}/tokens/{id}", server.url),
        &admin,
        None,
    );
    assert!(status == 204 || status == 200, "revoked: {status}");
    let out = mosquitto_pub(
        &server,
        &ingest,
        &["-t", "twinspace/plant/room1", "-m", r#"{"temperature": 3}"#],
    );
    assert!(!out.status.success(), "a revoked token connects: {out:?}");
    let page = metrics(&server);
    assert!(
        metric(&page, "twinspace_mqtt_connections_refused_auth_total") >= 2,
        "{page}"
    );
    assert!(
        metric(&page, "twinspace_mqtt_messages_in_total") >= 4,
        "{page}"
    );
    assert!(
        metric(&page, "twinspace_mqtt_messages_out_total") >= 2,
        "{page}"
    );
}

/// A Paho (Python) publisher: QoS 1 over TCP or WebSocket, `count` messages
/// setting `seq` on room1; prints each acknowledged `seq` on its own line.
#[test]
fn a_rule_added_over_rest_maps_the_next_message() {
    if !have("mosquitto_pub") && missing("mosquitto-clients") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(dir.path(), "127.0.0.1:0", "", None);
    let (admin, ingest, _) = plant(&server);
    let rule = json!({
        "topic": "site/{room}/climate",
        "twin": "{room}",
        "values": [{ "pointer": "/t_dC", "name": "temperature", "factor": 0.1 }]
    });
    let (status, body) = call(
        "PUT",
        &format!("{}/worlds/plant/ingest/rules/climate", server.url),
        &admin,
        Some(&rule),
    );
    assert_eq!(status, 201, "{body}");
    // Deci-degrees on the wire, degrees on the twin.
    let out = mosquitto_pub(
        &server,
        &ingest,
        &[
            "-t",
            "site/room1/climate",
            "-q",
            "1",
            "-m",
            r#"{"t_dC": 235}"#,
        ],
    );
    assert!(out.status.success(), "{out:?}");
    await_value(&server, &admin, "temperature", &json!(23.5));

    // The rule is stored: after a restart it still maps.
    drop(server);
    let server = start(dir.path(), "127.0.0.1:0", "", None);
    let out = mosquitto_pub(
        &server,
        &ingest,
        &[
            "-t",
            "site/room1/climate",
            "-q",
            "1",
            "-m",
            r#"{"t_dC": 187}"#,
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    while twin(&server, &admin)["temperature"] != json!(18.7) {
        assert!(
            Instant::now() < deadline,
            "the stored rule did not map after a restart"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

const PAHO_PUBLISHER: &str = r#"
import collections, sys, json, threading
import paho.mqtt.client as mqtt
transport, host, port, token, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="paho-" + transport,
                     transport=transport, protocol=mqtt.MQTTv311)
if transport == "websockets":
    client.ws_set_options(path="/")
client.username_pw_set("paho", token)
client.max_inflight_messages_set(32)
# `publish` is never called holding `lock`: paho's network thread takes its own
# locks before calling `on_publish`, so holding ours across `publish` deadlocks.
# An acknowledgement may so arrive before its id is recorded: `early` keeps it.
lock = threading.Lock()
by_mid = {}
early = set()
def on_publish(client, userdata, mid, reason_code, properties):
    with lock:
        seq = by_mid.pop(mid, None)
        if seq is None:
            early.add(mid)
    if seq is not None:
        print(seq, flush=True)
client.on_publish = on_publish
client.connect(host, port, keepalive=30)
client.loop_start()
# At most 256 messages wait for their PUBACK: message ids are 16 bits, so queueing
# more at once would reuse ids still in flight.
pending = collections.deque()
for seq in range(1, count + 1):
    info = client.publish("twinspace/plant/room1", json.dumps({"seq": seq}), qos=1)
    with lock:
        acked_already = info.mid in early
        if acked_already:
            early.discard(info.mid)
        else:
            by_mid[info.mid] = seq
    if acked_already:
        print(seq, flush=True)
    pending.append(info)
    if len(pending) >= 256:
        pending.popleft().wait_for_publish(timeout=60)
while pending:
    pending.popleft().wait_for_publish(timeout=60)
client.loop_stop()
client.disconnect()
"#;

fn paho(python: &Path, transport: &str, address: &str, token: &str, count: u32) -> Child {
    let (host, port) = split(address);
    Command::new(python)
        .args(["-c", PAHO_PUBLISHER, transport, &host, &port, token])
        .arg(count.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python runs")
}

#[test]
fn paho_qos1_over_tcp_and_websocket_lands_on_the_twin() {
    let Some(python) = python() else {
        if missing("TWINSPACE_VENV (python with paho-mqtt 2)") {
            return;
        }
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(dir.path(), "127.0.0.1:0", "127.0.0.1:0", None);
    let (admin, ingest, _) = plant(&server);
    for (transport, address, count) in [
        ("tcp", server.mqtt.clone(), 500),
        ("websockets", server.ws.clone(), 300),
    ] {
        let output = paho(&python, transport, &address, &ingest, count)
            .wait_with_output()
            .expect("paho ends");
        assert!(output.status.success(), "{transport}: {output:?}");
        let acked = String::from_utf8_lossy(&output.stdout).lines().count();
        assert_eq!(
            acked, count as usize,
            "{transport}: every message acknowledged"
        );
        // Acknowledged means durable and applied: the last value is there already.
        assert_eq!(twin(&server, &admin)["seq"], json!(count), "{transport}");
        eprintln!("paho {transport}: {acked} QoS 1 messages acknowledged and applied");
    }
}

#[test]
fn kill_9_keeps_every_acknowledged_qos1_value() {
    let Some(python) = python() else {
        if missing("TWINSPACE_VENV (python with paho-mqtt 2)") {
            return;
        }
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(dir.path(), "127.0.0.1:0", "", None);
    let (admin, ingest, _) = plant(&server);
    let mut publisher = paho(&python, "tcp", &server.mqtt, &ingest, 200_000);
    let stdout = publisher.stdout.take().expect("stdout is piped");
    let (sender, receiver) = mpsc::channel::<u64>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(seq) = line.trim().parse()
                && sender.send(seq).is_err()
            {
                break;
            }
        }
    });
    // Let a stream of acknowledgements build up, then crash the server mid-flight.
    let mut acked = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked < 2_000 && Instant::now() < deadline {
        if let Ok(seq) = receiver.recv_timeout(Duration::from_millis(100)) {
            acked = acked.max(seq);
        }
    }
    server.kill9();
    // Acknowledgements already on their way out of the dead server still count.
    std::thread::sleep(Duration::from_millis(200));
    while let Ok(seq) = receiver.try_recv() {
        acked = acked.max(seq);
    }
    let _ = publisher.kill();
    let _ = publisher.wait();
    assert!(
        acked > 0,
        "no QoS 1 message was acknowledged before the crash"
    );

    let server = start(dir.path(), "127.0.0.1:0", "", None);
    let seq = twin(&server, &admin)["seq"]
        .as_u64()
        .expect("seq is a number");
    eprintln!("kill -9: last acknowledged seq {acked}, after restart the twin has {seq}");
    assert!(
        seq >= acked,
        "an acknowledged value was lost: acknowledged up to {acked}, found {seq}"
    );
    // History holds every acknowledged value too, each its own point (messages of
    // one read share an arrival time, and none may replace another).
    let (status, body) = call(
        "GET",
        &format!(
            "{}/worlds/plant/digitaltwins/room1/history?field=seq&from=0&limit=100000",
            server.url
        ),
        &admin,
        None,
    );
    assert_eq!(status, 200, "{body}");
    let recorded: std::collections::BTreeSet<u64> = body["points"]
        .as_array()
        .expect("points")
        .iter()
        .filter_map(|p| p["value"].as_u64())
        .collect();
    let missing: Vec<u64> = (1..=acked).filter(|n| !recorded.contains(n)).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged values are not in history, first {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
}

/// Debian's mosquitto as the external broker, on a free loopback port.
struct Mosquitto {
    child: Child,
    port: u16,
}

impl Mosquitto {
    fn start(dir: &Path) -> Mosquitto {
        let port = free_port();
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"),
        )
        .expect("mosquitto.conf written");
        let binary = ["/usr/sbin/mosquitto", "mosquitto"]
            .into_iter()
            .find(|b| Path::new(b).exists())
            .unwrap_or("mosquitto");
        let child = Command::new(binary)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto starts");
        let deadline = Instant::now() + START_TIMEOUT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto never listened on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Mosquitto { child, port }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_bridge_follows_an_external_mosquitto_into_the_twin() {
    if !(Path::new("/usr/sbin/mosquitto").exists() || have("mosquitto")) && missing("mosquitto") {
        return;
    }
    if !have("mosquitto_pub") && missing("mosquitto-clients") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let external = Mosquitto::start(dir.path());
    let config = dir.path().join("twinspace.toml");
    std::fs::write(
        &config,
        format!(
            "[[mqtt.bridges]]\nname = \"plant-a\"\nurl = \"mqtt://127.0.0.1:{}\"\n\
             [[mqtt.bridges.subscriptions]]\nfilter = \"twinspace/#\"\nqos = 1\n\
             [mqtt.bridges.backoff]\ninitial_ms = 100\nmax_ms = 1000\n",
            external.port
        ),
    )
    .expect("config written");
    let server = start(&dir.path().join("data"), "", "", Some(&config));
    assert_eq!(server.mqtt, "", "no embedded listener was configured");
    let (admin, _, _) = plant(&server);

    let connected = "twinspace_bridge_connected{bridge=\"plant-a\"}";
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    while metric(&metrics(&server), connected) != 1 {
        assert!(
            Instant::now() < deadline,
            "the bridge never connected:\n{}",
            metrics(&server)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The subscription follows the connection; until it is in place mosquitto
    // drops what nobody subscribed to, so publish until a value arrives.
    let port = external.port.to_string();
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let value = 40.0 + f64::from(attempt) / 4.0;
        let published = Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &port, "-q", "1"])
            .args(["-t", "twinspace/plant/room1"])
            .args(["-m", &json!({ "temperature": value }).to_string()])
            .output()
            .expect("mosquitto_pub runs");
        assert!(published.status.success(), "{published:?}");
        std::thread::sleep(Duration::from_millis(200));
        if twin(&server, &admin)["temperature"] == json!(value) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no bridged value arrived: {}",
            twin(&server, &admin)
        );
    }

    // A message the model refuses is acknowledged (the refusal is final) but
    // never applied.
    let before = twin(&server, &admin)["temperature"].clone();
    let acks = "twinspace_bridge_acks_total{bridge=\"plant-a\"}";
    let acked = metric(&metrics(&server), acks);
    let refused = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port, "-q", "1"])
        .args([
            "-t",
            "twinspace/plant/room1",
            "-m",
            "{\"temperature\": \"hot\"}",
        ])
        .output()
        .expect("mosquitto_pub runs");
    assert!(refused.status.success());
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    while metric(&metrics(&server), acks) <= acked {
        assert!(
            Instant::now() < deadline,
            "the refused message was never acknowledged:\n{}",
            metrics(&server)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        twin(&server, &admin)["temperature"],
        before,
        "a refused value never lands"
    );
    let text = metrics(&server);
    assert!(
        metric(&text, "twinspace_bridge_mapped_total{bridge=\"plant-a\"}") >= 1,
        "{text}"
    );
}
