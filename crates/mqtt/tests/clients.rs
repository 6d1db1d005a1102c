//! The broker against real clients: Debian's `mosquitto_pub`/`mosquitto_sub`
//! and Python's paho-mqtt (TCP and WebSocket), plus a raw client for what they
//! cannot do. Each test starts its own broker on free ports with a real sink
//! (worlds + redb through group commit).

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use ingest::RejectReason;
use mqtt::Limits;
use serde_json::{Value, json};

fn run(tool: &std::path::Path, args: &[&str]) -> Output {
    Command::new(tool)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("client runs")
}

fn connection_args(h: &Harness, token: &'static str) -> Vec<String> {
    vec![
        "-h".into(),
        "127.0.0.1".into(),
        "-p".into(),
        h.tcp.port().to_string(),
        "-u".into(),
        "device".into(),
        "-P".into(),
        token.into(),
    ]
}

fn pub_args<'a>(base: &'a [String], rest: &[&'a str]) -> Vec<&'a str> {
    base.iter()
        .map(String::as_str)
        .chain(rest.iter().copied())
        .collect()
}

#[test]
fn mosquitto_pub_qos1_is_acknowledged_only_once_the_twin_is_durable() {
    let Some(mosquitto_pub) = mosquitto_tool("mosquitto_pub") else {
        return;
    };
    let h = Harness::start(Limits::default());
    let base = connection_args(&h, INGEST_PLANT);
    for (version, value) in [("mqttv311", 21.5), ("mqttv5", 22.5)] {
        let payload = json!({ "temperature": value, "running": true }).to_string();
        let out = run(
            &mosquitto_pub,
            &pub_args(
                &base,
                &[
                    "-V",
                    version,
                    "-q",
                    "1",
                    "-t",
                    "twinspace/plant/t1",
                    "-m",
                    &payload,
                ],
            ),
        );
        assert!(
            out.status.success(),
            "mosquitto_pub {version}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // mosquitto_pub exits after its PUBACK: the store must already hold the value.
        let stored = h.sink.stored_twin("plant", "t1").expect("t1 stored");
        assert_eq!(stored["temperature"], json!(value), "{version}: {stored}");
        assert_eq!(stored["running"], json!(true));
    }
    assert_eq!(h.broker.metrics().updates_mapped, 2);
}

#[test]
fn wrong_token_and_foreign_world_are_refused() {
    let Some(mosquitto_pub) = mosquitto_tool("mosquitto_pub") else {
        return;
    };
    let h = Harness::start(Limits::default());
    let payload = r#"{"temperature": 99}"#;

    let wrong = connection_args(&h, "tsk_not_a_token");
    let out = run(
        &mosquitto_pub,
        &pub_args(
            &wrong,
            &["-q", "1", "-t", "twinspace/plant/t1", "-m", payload],
        ),
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bad user name or password"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(h.broker.metrics().connections_refused_auth, 1);

    // A token for world `other` publishing to `plant`: MQTT 3.1.1 has no
    // negative PUBACK, so the broker closes the connection.
    let foreign = connection_args(&h, INGEST_OTHER);
    let out = run(
        &mosquitto_pub,
        &pub_args(
            &foreign,
            &["-q", "1", "-t", "twinspace/plant/t1", "-m", payload],
        ),
    );
    assert!(
        !out.status.success(),
        "3.1.1 publisher must see its connection closed"
    );
    // MQTT 5 gets PUBACK with reason 0x87 (not authorized).
    let out = run(
        &mosquitto_pub,
        &pub_args(
            &foreign,
            &[
                "-V",
                "mqttv5",
                "-q",
                "1",
                "-t",
                "twinspace/plant/t1",
                "-m",
                payload,
            ],
        ),
    );
    let said =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        said.to_lowercase().contains("not authorized") || !out.status.success(),
        "{said}"
    );

    // A viewer may not publish; an ingest token may not subscribe.
    let viewer = connection_args(&h, VIEWER_PLANT);
    let out = run(
        &mosquitto_pub,
        &pub_args(
            &viewer,
            &["-q", "1", "-t", "twinspace/plant/t1", "-m", payload],
        ),
    );
    assert!(!out.status.success());

    let metrics = h.broker.metrics();
    assert_eq!(metrics.publishes_denied, 3, "{metrics:?}");
    assert_eq!(metrics.updates_mapped, 0);
    assert_eq!(
        h.sink.twin("plant", "t1").unwrap()["temperature"],
        json!(0.0)
    );
}

#[test]
fn client_ids_and_usernames_with_wildcards_widen_nothing() {
    let h = Harness::start(Limits::default());
    // A viewer of `plant` calling itself `#`, `+` or `a/b` still reaches only `plant`.
    for client_id in ["#", "+", "twinspace/+/#"] {
        let mut client = RawClient::connect(h.tcp, client_id, VIEWER_PLANT, None);
        assert_eq!(
            client.subscribe("#", 0),
            rmqtt_codec::v3::SubscribeReturnCode::Failure
        );
        assert_eq!(
            client.subscribe("twinspace/+/t1", 0),
            rmqtt_codec::v3::SubscribeReturnCode::Failure
        );
        assert_eq!(
            client.subscribe("twinspace/other/#", 0),
            rmqtt_codec::v3::SubscribeReturnCode::Failure
        );
        assert_eq!(
            client.subscribe("twinspace/plant/#", 1),
            rmqtt_codec::v3::SubscribeReturnCode::Success(rmqtt_codec::types::QoS::AtLeastOnce)
        );
    }
    // Another principal using the same client id gets a session of its own: the
    // viewer's subscription does not leak to the admin's connection or back.
    let mut viewer = RawClient::connect(h.tcp, "shared-id", VIEWER_PLANT, None);
    viewer.subscribe("twinspace/plant/#", 0);
    let mut admin = RawClient::connect(h.tcp, "shared-id", ADMIN, None);
    admin.publish("twinspace/plant/t2", br#"{"temperature": 5}"#, Some(7));
    assert!(matches!(
        admin.receive(),
        Some(rmqtt_codec::v3::Packet::PublishAck { .. })
    ));
    let (topic, _) = viewer.next_publish().expect("the viewer still receives");
    assert_eq!(topic, "twinspace/plant/t2");
    assert_eq!(h.broker.metrics().subscribes_denied, 9);
}

#[test]
fn malformed_payload_is_counted_and_dead_lettered() {
    let (Some(mosquitto_pub), Some(mosquitto_sub)) = (
        mosquitto_tool("mosquitto_pub"),
        mosquitto_tool("mosquitto_sub"),
    ) else {
        return;
    };
    let h = Harness::start(Limits::default());
    let viewer = connection_args(&h, VIEWER_PLANT);
    let sub = Command::new(&mosquitto_sub)
        .args(pub_args(
            &viewer,
            &[
                "-t",
                "twinspace/plant/deadletter/#",
                "-C",
                "2",
                "-W",
                "10",
                "-v",
            ],
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mosquitto_sub runs");
    h.wait_for("the dead-letter subscription", || {
        h.broker.metrics().connections_open >= 1
    });
    std::thread::sleep(Duration::from_millis(200));
    let base = connection_args(&h, INGEST_PLANT);
    let out = run(
        &mosquitto_pub,
        &pub_args(
            &base,
            &[
                "-q",
                "1",
                "-t",
                "twinspace/plant/t2",
                "-m",
                "temperature=21",
            ],
        ),
    );
    assert!(
        out.status.success(),
        "a 3.1.1 QoS 1 publisher still gets its PUBACK"
    );
    // A value the twin's model does not allow is refused by the world, and also dead-lettered.
    let out = run(
        &mosquitto_pub,
        &pub_args(
            &base,
            &[
                "-q",
                "1",
                "-t",
                "twinspace/plant/t2",
                "-m",
                r#"{"temperature": "hot"}"#,
            ],
        ),
    );
    assert!(out.status.success());
    let sub = sub.wait_with_output().expect("mosquitto_sub ends");
    let lines = String::from_utf8_lossy(&sub.stdout).to_string();
    let records: Vec<Value> = lines
        .lines()
        .map(|line| {
            let (topic, record) = line.split_once(' ').expect("topic and payload");
            assert_eq!(topic, "twinspace/plant/deadletter/t2");
            serde_json::from_str(record).expect("a JSON record")
        })
        .collect();
    assert_eq!(
        records.len(),
        2,
        "{lines} / {}",
        String::from_utf8_lossy(&sub.stderr)
    );
    assert_eq!(records[0]["reason"], json!("not_json"));
    assert_eq!(records[0]["payload"], json!("temperature=21"));
    assert_eq!(records[1]["reason"], json!("refused"));
    let metrics = h.broker.metrics();
    assert_eq!(metrics.rejected(RejectReason::NotJson), 1);
    assert_eq!(metrics.rejected(RejectReason::Refused), 1);
    assert_eq!(metrics.dead_letters, 2);
    assert_eq!(
        h.sink.twin("plant", "t2").unwrap()["temperature"],
        json!(0.0)
    );
}

#[test]
fn oversized_packet_disconnects_only_that_client() {
    let h = Harness::start(Limits {
        packet_bytes_max: 1024,
        ..Limits::default()
    });
    let mut subscriber = RawClient::connect(h.tcp, "watcher", ADMIN, None);
    subscriber.subscribe("twinspace/plant/#", 0);
    let mut big = RawClient::connect(h.tcp, "big", INGEST_PLANT, None);
    let mut small = RawClient::connect(h.tcp, "small", INGEST_PLANT, None);
    big.publish("twinspace/plant/t1", &vec![b' '; 4096], Some(1));
    assert!(
        big.receive().is_none(),
        "the offender's connection is closed"
    );
    small.publish("twinspace/plant/t3", br#"{"temperature": 3.5}"#, Some(2));
    assert!(matches!(
        small.receive(),
        Some(rmqtt_codec::v3::Packet::PublishAck { .. })
    ));
    let (topic, payload) = subscriber.next_publish().expect("others are served");
    assert_eq!(
        (topic.as_str(), payload.as_slice()),
        ("twinspace/plant/t3", &br#"{"temperature": 3.5}"#[..])
    );
    assert_eq!(h.broker.metrics().disconnects_packet_too_large, 1);
}

#[test]
fn a_subscriber_that_never_reads_does_not_slow_the_publisher() {
    let h = Harness::start(Limits {
        queue_messages_max: 1000,
        queue_bytes_max: 1024 * 1024,
        ..Limits::default()
    });
    let stalled = RawClient::connect(h.tcp, "stalled", ADMIN, None);
    let mut stalled = stalled;
    stalled.subscribe("#", 0);
    // From here on the stalled client never reads.
    let mut publisher = RawClient::connect(h.tcp, "fast", INGEST_PLANT, None);
    let messages = 20_000;
    let payload = format!(r#"{{"mode": "{}"}}"#, "x".repeat(1000));
    let started = Instant::now();
    let mut batch = Vec::new();
    for i in 0..messages {
        let publish = rmqtt_codec::types::Publish {
            dup: false,
            retain: false,
            qos: rmqtt_codec::types::QoS::AtMostOnce,
            topic: format!("twinspace/plant/t{}", 1 + i % 3).into(),
            packet_id: None,
            payload: bytes::Bytes::copy_from_slice(payload.as_bytes()),
            properties: None,
        };
        let mut out = bytes::BytesMut::new();
        tokio_util::codec::Encoder::encode(
            &mut rmqtt_codec::v3::Codec::new(0),
            rmqtt_codec::v3::Packet::Publish(Box::new(publish)),
            &mut out,
        )
        .unwrap();
        batch.extend_from_slice(&out);
        if batch.len() > 256 * 1024 {
            assert!(publisher.send_bytes(&batch));
            batch.clear();
        }
    }
    assert!(publisher.send_bytes(&batch));
    // A final QoS 1 message: its PUBACK means the broker has read everything before it.
    publisher.publish("twinspace/plant/t1", br#"{"temperature": 1.25}"#, Some(9));
    loop {
        match publisher.receive() {
            Some(rmqtt_codec::v3::Packet::PublishAck { .. }) => break,
            Some(_) => continue,
            None => panic!("publisher disconnected"),
        }
    }
    let elapsed = started.elapsed();
    let metrics = h.broker.metrics();
    eprintln!(
        "{messages} x 1 KiB published past a stalled subscriber in {elapsed:?}; dropped for it: {}",
        metrics.qos0_dropped
    );
    assert!(metrics.qos0_dropped > 0, "{metrics:?}");
    assert_eq!(metrics.publishes_received, messages + 1);
    assert!(
        elapsed < Duration::from_secs(20),
        "publisher was held back: {elapsed:?}"
    );
    assert_eq!(
        h.sink.stored_twin("plant", "t1").unwrap()["temperature"],
        json!(1.25)
    );
    drop(stalled);
}

#[test]
fn retained_messages_and_last_wills_reach_subscribers() {
    let (Some(mosquitto_pub), Some(mosquitto_sub)) = (
        mosquitto_tool("mosquitto_pub"),
        mosquitto_tool("mosquitto_sub"),
    ) else {
        return;
    };
    let h = Harness::start(Limits::default());
    let base = connection_args(&h, INGEST_PLANT);
    let out = run(
        &mosquitto_pub,
        &pub_args(
            &base,
            &[
                "-r",
                "-q",
                "1",
                "-t",
                "twinspace/plant/t3",
                "-m",
                r#"{"mode": "auto"}"#,
            ],
        ),
    );
    assert!(out.status.success());
    let viewer = connection_args(&h, VIEWER_PLANT);
    let out = run(
        &mosquitto_sub,
        &pub_args(
            &viewer,
            &["-t", "twinspace/plant/+", "-C", "1", "-W", "5", "-v"],
        ),
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        r#"twinspace/plant/t3 {"mode": "auto"}"#
    );

    // A client that dies without DISCONNECT has its will published.
    let mut watcher = RawClient::connect(h.tcp, "watcher", VIEWER_PLANT, None);
    watcher.subscribe("twinspace/plant/status/#", 0);
    let dying = RawClient::connect(
        h.tcp,
        "dying",
        INGEST_PLANT,
        Some(("twinspace/plant/status/dying", "offline")),
    );
    dying.stream.shutdown(std::net::Shutdown::Both).unwrap();
    let (topic, payload) = watcher.next_publish().expect("the will arrives");
    assert_eq!(
        (topic.as_str(), payload.as_slice()),
        ("twinspace/plant/status/dying", &b"offline"[..])
    );
    assert_eq!(h.broker.metrics().wills_published, 1);
    // A will on a world the token may not publish to is refused at CONNECT.
    let out = run(
        &mosquitto_sub,
        &pub_args(
            &base,
            &[
                "-t",
                "twinspace/plant/x",
                "--will-topic",
                "twinspace/other/x",
                "--will-payload",
                "x",
                "-C",
                "1",
                "-W",
                "2",
            ],
        ),
    );
    assert!(!out.status.success());
}

#[test]
fn persistent_session_keeps_qos1_messages_while_offline() {
    let (Some(mosquitto_pub), Some(mosquitto_sub)) = (
        mosquitto_tool("mosquitto_pub"),
        mosquitto_tool("mosquitto_sub"),
    ) else {
        return;
    };
    let h = Harness::start(Limits::default());
    let viewer = connection_args(&h, VIEWER_PLANT);
    // Subscribe with a persistent session, then leave.
    let out = run(
        &mosquitto_sub,
        &pub_args(
            &viewer,
            &[
                "-c",
                "-i",
                "keeper",
                "-q",
                "1",
                "-t",
                "twinspace/plant/t1",
                "-W",
                "1",
            ],
        ),
    );
    assert!(!out.status.success() || out.stdout.is_empty());
    let base = connection_args(&h, INGEST_PLANT);
    let out = run(
        &mosquitto_pub,
        &pub_args(
            &base,
            &[
                "-q",
                "1",
                "-t",
                "twinspace/plant/t1",
                "-m",
                r#"{"temperature": 7}"#,
            ],
        ),
    );
    assert!(out.status.success());
    let out = run(
        &mosquitto_sub,
        &pub_args(
            &viewer,
            &[
                "-c",
                "-i",
                "keeper",
                "-q",
                "1",
                "-t",
                "twinspace/plant/t1",
                "-C",
                "1",
                "-W",
                "5",
            ],
        ),
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        r#"{"temperature": 7}"#
    );
}

#[test]
fn paho_publishes_over_tcp_and_websocket_and_subscribes() {
    let Some(python) = paho_python() else { return };
    let h = Harness::start(Limits::default());
    let script = r#"
import json, sys, threading
import paho.mqtt.client as mqtt

transport, port, token, viewer = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
got = threading.Event()
seen = []

def on_message(client, userdata, message):
    seen.append((message.topic, message.payload.decode()))
    got.set()

sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="paho-sub-" + transport, transport=transport, protocol=mqtt.MQTTv5)
sub.username_pw_set("viewer", viewer)
sub.on_message = on_message
sub.connect("127.0.0.1", port)
sub.subscribe("twinspace/plant/t2", qos=1)
sub.loop_start()

pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="paho-pub-" + transport, transport=transport)
pub.username_pw_set("device", token)
pub.connect("127.0.0.1", port)
pub.loop_start()
import time
time.sleep(0.3)
info = pub.publish("twinspace/plant/t2", json.dumps({"temperature": 33.5 if transport == "tcp" else 44.5}), qos=1)
info.wait_for_publish(timeout=10)
assert info.is_published(), "no PUBACK"
assert got.wait(10), "subscriber got nothing"
print(json.dumps(seen))
pub.disconnect(); sub.disconnect()
"#;
    for (transport, port, value) in [
        ("tcp", h.tcp.port(), 33.5),
        ("websockets", h.ws.port(), 44.5),
    ] {
        let out = Command::new(&python)
            .args([
                "-c",
                script,
                transport,
                &port.to_string(),
                INGEST_PLANT,
                VIEWER_PLANT,
            ])
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "paho over {transport}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let seen: Value = serde_json::from_slice(&out.stdout).expect("JSON from the script");
        assert_eq!(seen[0][0], json!("twinspace/plant/t2"));
        assert_eq!(
            h.sink.stored_twin("plant", "t2").unwrap()["temperature"],
            json!(value),
            "{transport}"
        );
    }
}

#[test]
fn a_rule_never_carries_a_message_into_a_world_its_publisher_may_not_write() {
    let rules: Vec<ingest::Rule> = serde_json::from_value(json!([
        { "name": "devices", "topic": "sensors/{id}", "world": "plant", "twin": "{id}",
          "values": [{ "pointer": "/c", "name": "temperature", "factor": 1.8, "offset": 32 }] },
        { "name": "cross", "topic": "twinspace/other/cross/{id}", "world": "plant", "twin": "{id}" }
    ]))
    .unwrap();
    let h = Harness::start_with(Limits::default(), ingest::Mapper::new(rules, true).unwrap());
    // Allowed: a plant ingest token, on a topic outside twinspace/ that a rule maps to plant.
    let mut plant = RawClient::connect(h.tcp, "plant-device", INGEST_PLANT, None);
    plant.publish("sensors/t3", br#"{"c": 20}"#, Some(1));
    assert!(matches!(
        plant.receive(),
        Some(rmqtt_codec::v3::Packet::PublishAck { .. })
    ));
    assert_eq!(
        h.sink.stored_twin("plant", "t3").unwrap()["temperature"],
        json!(68.0)
    );
    // Refused: the same topic with a token for `other` only.
    let mut other = RawClient::connect(h.tcp, "other-device", INGEST_OTHER, None);
    other.publish("sensors/t3", br#"{"c": 99}"#, Some(2));
    assert!(other.receive().is_none(), "closed: the rule maps to plant");
    // Refused: its own world's topic, which a rule maps into plant.
    let mut other = RawClient::connect(h.tcp, "other-device", INGEST_OTHER, None);
    other.publish(
        "twinspace/other/cross/t3",
        br#"{"temperature": 99}"#,
        Some(3),
    );
    assert!(
        other.receive().is_none(),
        "closed: the rule maps into plant"
    );
    assert_eq!(
        h.sink.twin("plant", "t3").unwrap()["temperature"],
        json!(68.0)
    );
    assert_eq!(h.broker.metrics().publishes_denied, 2);
}

#[test]
fn websocket_upgrades_need_the_mqtt_subprotocol() {
    use std::io::{Read, Write};
    let h = Harness::start(Limits::default());
    let upgrade = |protocol: Option<&str>| {
        let mut stream = std::net::TcpStream::connect(h.ws).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut request = String::from(
            "GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
        );
        if let Some(protocol) = protocol {
            request.push_str(&format!("Sec-WebSocket-Protocol: {protocol}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = vec![0u8; 1024];
        let n = stream.read(&mut answer).unwrap_or(0);
        String::from_utf8_lossy(&answer[..n]).to_string()
    };
    let refused = upgrade(None);
    assert!(refused.starts_with("HTTP/1.1 400"), "{refused}");
    let accepted = upgrade(Some("chat, mqtt"));
    assert!(accepted.starts_with("HTTP/1.1 101"), "{accepted}");
    assert!(
        accepted
            .to_lowercase()
            .contains("sec-websocket-protocol: mqtt"),
        "{accepted}"
    );
}
