//! The bridge against a real `mosquitto` (Debian): values published with
//! `mosquitto_pub` reach a recording sink; rejections are counted and
//! dead-lettered on the external broker; the broker is stopped and restarted
//! and the bridge comes back by itself and receives what was published
//! meanwhile; a message whose durability is pending is redelivered to the next
//! bridge; TLS with a CA made here; a wrong password is a clear error retried
//! with back-off. Skipped with a printed reason when mosquitto is missing,
//! except under `CI=true`.

mod support;

use std::time::Duration;

use bridge::{Backoff, Bridge, BridgeConfig, BridgeHandle, Subscription, TlsConfig};
use ingest::{Mapper, RejectReason};
use serde_json::json;
use support::{Durability, Mosquitto, Recording, eventually, free_port, mosquitto_bin};

/// Long enough for a loaded CI machine, short enough to fail fast.
const WAIT: Duration = Duration::from_secs(15);

fn mapper() -> Mapper {
    Mapper::new(Vec::new(), true).expect("the default rule compiles")
}

fn config(name: &str, port: u16) -> BridgeConfig {
    let mut config = BridgeConfig::new(name, "127.0.0.1", port, &["twinspace/#"]);
    config.backoff = Backoff {
        initial_ms: 50,
        max_ms: 500,
        jitter: 0.1,
    };
    config.keep_alive_secs = 5;
    config
}

async fn connected(bridge: &BridgeHandle) -> bool {
    eventually(WAIT, || bridge.metrics().connected).await
}

/// Runs a blocking mosquitto client call without stalling the bridge's tasks.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_arrive_and_rejections_are_counted_and_dead_lettered() {
    let Some(bin) = mosquitto_bin() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let broker = Mosquitto::start(&bin, dir.path(), free_port(), "");
    let sink = Recording::new(Durability::Immediate);
    let mut config = config("values", broker.port);
    config.subscriptions.push(Subscription {
        filter: "other/#".into(),
        qos: 0,
    });
    let bridge = Bridge::spawn(config, mapper(), sink.clone()).expect("bridge starts");
    assert!(connected(&bridge).await, "{:?}", bridge.metrics());

    let dead = blocking(|| broker.subscribe("twinspace/factory/deadletter/#", 2, 15));
    blocking(|| {
        broker.publish("twinspace/factory/press1", r#"{"temperature": 21.5}"#, 1);
        broker.publish("twinspace/factory/press2", r#"{"count": 3}"#, 0);
        broker.publish("twinspace/factory/press1", "not json", 1);
        broker.publish("twinspace/factory/unknown", r#"{"x": 1}"#, 1);
        broker.publish("other/topic", "hello", 0);
        broker.publish("twinspace/factory/press1", r#"{"temperature": 22}"#, 1);
    });
    let done = eventually(WAIT, || {
        let m = bridge.metrics();
        m.acks >= 4
            && m.unmatched >= 1
            && m.echoes >= 2
            && sink.values("press1", "temperature").len() >= 2
    })
    .await;
    let metrics = bridge.metrics();
    assert!(done, "{metrics:?}\n{}", broker.log());
    assert_eq!(
        sink.values("press1", "temperature"),
        vec![json!(21.5), json!(22)]
    );
    assert_eq!(sink.values("press2", "count"), vec![json!(3)]);
    assert_eq!(metrics.messages_in, 8, "6 published and 2 own dead letters");
    assert_eq!(metrics.echoes, 2, "own dead letters are not mapped again");
    assert_eq!(
        metrics.mapped, 3,
        "press1 twice and press2; unknown is refused"
    );
    assert_eq!(metrics.rejected(RejectReason::NotJson), 1);
    assert_eq!(metrics.rejected(RejectReason::Refused), 1);
    assert_eq!(metrics.unmatched, 1);
    assert_eq!(metrics.acks, 4, "every QoS 1 message, mapped or rejected");
    assert_eq!(metrics.dead_letters, 2);

    let lines = blocking(|| dead.lines());
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("twinspace/factory/deadletter/press1 ")
            && lines[0].contains("\"reason\":\"not_json\"")
            && lines[0].contains("\"payload\":\"not json\""),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("twinspace/factory/deadletter/unknown ")
            && lines[1].contains("\"reason\":\"refused\""),
        "{}",
        lines[1]
    );

    bridge.shutdown().await;
    assert!(!bridge.metrics().connected);
    assert!(
        broker.log().contains("twinspace-values") && broker.log().contains("disconnected"),
        "the broker saw a clean DISCONNECT:\n{}",
        broker.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restart_reconnects_and_delivers_what_was_published_meanwhile() {
    let Some(bin) = mosquitto_bin() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let mut broker = Mosquitto::start(&bin, dir.path(), free_port(), "");
    let sink = Recording::new(Durability::Immediate);
    let mut config = config("restart", broker.port);
    // A first wait long enough that the broker is back (and the message
    // below published) before the bridge tries again.
    config.backoff = Backoff {
        initial_ms: 2_500,
        max_ms: 5_000,
        jitter: 0.0,
    };
    let bridge = Bridge::spawn(config, mapper(), sink.clone()).expect("bridge starts");
    assert!(connected(&bridge).await, "{:?}", bridge.metrics());
    blocking(|| broker.publish("twinspace/w/pump", r#"{"v": 1}"#, 1));
    assert!(eventually(WAIT, || sink.values("pump", "v").len() == 1).await);

    blocking(|| broker.stop());
    assert!(
        eventually(WAIT, || !bridge.metrics().connected).await,
        "the bridge noticed the broker going away"
    );
    blocking(|| {
        broker.restart();
        broker.publish("twinspace/w/pump", r#"{"v": 2}"#, 1);
    });
    // Expected with a 2.5 s back-off; on a machine too loaded for that the
    // test still checks delivery, and says so.
    if bridge.metrics().connected {
        eprintln!("note: the bridge was back before v=2 was published (machine slow)");
    }
    let arrived = eventually(WAIT, || sink.values("pump", "v").len() == 2).await;
    let metrics = bridge.metrics();
    assert!(arrived, "{metrics:?}\n{}", broker.log());
    assert!(metrics.connected && metrics.reconnects >= 1 && metrics.disconnects >= 1);
    assert!(metrics.last_error.is_some(), "{metrics:?}");

    blocking(|| broker.publish("twinspace/w/pump", r#"{"v": 3}"#, 1));
    assert!(eventually(WAIT, || sink.values("pump", "v").len() == 3).await);
    assert_eq!(sink.values("pump", "v"), vec![json!(1), json!(2), json!(3)]);
    bridge.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_not_yet_durable_is_redelivered_to_the_next_bridge() {
    let Some(bin) = mosquitto_bin() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let broker = Mosquitto::start(&bin, dir.path(), free_port(), "");
    let mut config = config("redeliver", broker.port);
    config.limits.shutdown_grace_ms = 200;

    let stuck = Recording::new(Durability::Never);
    let first = Bridge::spawn(config.clone(), mapper(), stuck.clone()).expect("bridge starts");
    assert!(connected(&first).await);
    blocking(|| broker.publish("twinspace/w/valve", r#"{"open": true}"#, 1));
    assert!(eventually(WAIT, || stuck.values("valve", "open").len() == 1).await);
    assert_eq!(first.metrics().acks, 0, "not durable, so not acknowledged");
    first.shutdown().await;

    let sink = Recording::new(Durability::Immediate);
    let second = Bridge::spawn(config.clone(), mapper(), sink.clone()).expect("bridge starts");
    let redelivered = eventually(WAIT, || sink.values("valve", "open").len() == 1).await;
    assert!(redelivered, "{:?}\n{}", second.metrics(), broker.log());
    assert!(eventually(WAIT, || second.metrics().acks == 1).await);
    second.shutdown().await;

    // Acknowledged now: a third bridge with the same session gets nothing.
    let quiet = Recording::new(Durability::Immediate);
    let third = Bridge::spawn(config, mapper(), quiet.clone()).expect("bridge starts");
    assert!(connected(&third).await);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        quiet.updates.lock().is_empty(),
        "{:?}",
        quiet.updates.lock()
    );
    third.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_sink_gets_the_message_again_after_a_reconnect() {
    let Some(bin) = mosquitto_bin() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let broker = Mosquitto::start(&bin, dir.path(), free_port(), "");
    let sink = Recording::new(Durability::Fails);
    let bridge = Bridge::spawn(config("failing", broker.port), mapper(), sink.clone())
        .expect("bridge starts");
    assert!(connected(&bridge).await);
    blocking(|| broker.publish("twinspace/w/fan", r#"{"rpm": 900}"#, 1));
    assert!(eventually(WAIT, || bridge.metrics().sink_failures >= 1).await);
    *sink.durability.lock() = Durability::Immediate;
    let acked = eventually(WAIT, || bridge.metrics().acks == 1).await;
    let metrics = bridge.metrics();
    assert!(acked, "{metrics:?}\n{}", broker.log());
    assert!(metrics.reconnects >= 1, "{metrics:?}");
    assert!(
        sink.values("fan", "rpm").len() >= 2,
        "submitted again after redelivery"
    );
    assert!(
        metrics
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("disk full") || e.contains("redeliver")),
        "{metrics:?}"
    );
    bridge.shutdown().await;
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, both
/// signed by it, as PEM files `{prefix}-{ca,server,client}.pem` (and `.key`)
/// in `dir`; returns the CA's path.
fn make_ca(dir: &std::path::Path, prefix: &str) -> std::path::PathBuf {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("{prefix} test CA"));
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().expect("server key");
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .expect("server params");
    params
        .distinguished_name
        .push(DnType::CommonName, "mosquitto");
    let server_cert = params
        .signed_by(&server_key, &issuer)
        .expect("server certificate");
    let ca_path = dir.join(format!("{prefix}-ca.pem"));
    std::fs::write(&ca_path, ca_cert.pem()).expect("write CA");
    std::fs::write(dir.join(format!("{prefix}-server.pem")), server_cert.pem())
        .expect("write server certificate");
    std::fs::write(
        dir.join(format!("{prefix}-server.key")),
        server_key.serialize_pem(),
    )
    .expect("write server key");
    let client_key = KeyPair::generate().expect("client key");
    let mut client_params = CertificateParams::new(Vec::<String>::new()).expect("client params");
    client_params
        .distinguished_name
        .push(DnType::CommonName, "twinspace-bridge");
    let client_cert = client_params
        .signed_by(&client_key, &issuer)
        .expect("client certificate");
    std::fs::write(dir.join(format!("{prefix}-client.pem")), client_cert.pem())
        .expect("write client certificate");
    std::fs::write(
        dir.join(format!("{prefix}-client.key")),
        client_key.serialize_pem(),
    )
    .expect("write client key");
    ca_path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_ca_made_here() {
    let Some(bin) = mosquitto_bin() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = make_ca(dir.path(), "good");
    let other_ca = make_ca(dir.path(), "other");
    let tls_port = free_port();
    let mutual_port = free_port();
    let d = dir.path().display();
    let broker = Mosquitto::start(
        &bin,
        dir.path(),
        free_port(),
        &format!(
            "listener {tls_port} 127.0.0.1\nallow_anonymous true\n\
             certfile {d}/good-server.pem\nkeyfile {d}/good-server.key\n\
             listener {mutual_port} 127.0.0.1\nallow_anonymous true\n\
             certfile {d}/good-server.pem\nkeyfile {d}/good-server.key\n\
             cafile {d}/good-ca.pem\nrequire_certificate true\n"
        ),
    );
    let mut base = config("tls", 0);
    base.host = None;
    base.port = None;
    base.url = Some(format!("mqtts://127.0.0.1:{tls_port}"));
    base.tls = Some(TlsConfig {
        ca_file: Some(ca.display().to_string()),
        ..TlsConfig::default()
    });
    let sink = Recording::new(Durability::Immediate);
    let bridge = Bridge::spawn(base.clone(), mapper(), sink.clone()).expect("bridge starts");
    assert!(
        connected(&bridge).await,
        "{:?}\n{}",
        bridge.metrics(),
        broker.log()
    );
    blocking(|| broker.publish("twinspace/w/tls", r#"{"secure": true}"#, 1));
    assert!(eventually(WAIT, || sink.values("tls", "secure").len() == 1).await);
    assert!(eventually(WAIT, || bridge.metrics().acks == 1).await);
    bridge.shutdown().await;

    // A CA that did not sign the broker's certificate: refused, clearly.
    let mut wrong = base.clone();
    wrong.name = "tls-wrong-ca".into();
    wrong.tls = Some(TlsConfig {
        ca_file: Some(other_ca.display().to_string()),
        ..TlsConfig::default()
    });
    let refused = Bridge::spawn(wrong, mapper(), Recording::new(Durability::Immediate))
        .expect("bridge starts");
    assert!(eventually(WAIT, || refused.metrics().connect_failures >= 1).await);
    let metrics = refused.metrics();
    assert!(!metrics.connected);
    let error = metrics.last_error.unwrap_or_default();
    assert!(error.to_lowercase().contains("certificate"), "{error}");
    refused.shutdown().await;

    // The explicit opt-out connects without any CA.
    let mut insecure = base.clone();
    insecure.name = "tls-insecure".into();
    insecure.tls = Some(TlsConfig {
        insecure_skip_verify: true,
        ..TlsConfig::default()
    });
    let lab = Bridge::spawn(insecure, mapper(), Recording::new(Durability::Immediate))
        .expect("bridge starts");
    assert!(connected(&lab).await, "{:?}", lab.metrics());
    lab.shutdown().await;

    // A listener that requires client certificates: with ours it connects,
    // without it the handshake fails.
    let mut mutual = base.clone();
    mutual.name = "tls-mutual".into();
    mutual.url = Some(format!("mqtts://127.0.0.1:{mutual_port}"));
    mutual.tls = Some(TlsConfig {
        ca_file: Some(ca.display().to_string()),
        client_cert_file: Some(format!("{d}/good-client.pem")),
        client_key_file: Some(format!("{d}/good-client.key")),
        ..TlsConfig::default()
    });
    let sink = Recording::new(Durability::Immediate);
    let with_cert = Bridge::spawn(mutual.clone(), mapper(), sink.clone()).expect("bridge starts");
    assert!(
        connected(&with_cert).await,
        "{:?}\n{}",
        with_cert.metrics(),
        broker.log()
    );
    blocking(|| broker.publish("twinspace/w/mutual", r#"{"ok": 1}"#, 1));
    assert!(eventually(WAIT, || sink.values("mutual", "ok").len() == 1).await);
    with_cert.shutdown().await;
    let mut no_cert = mutual;
    no_cert.name = "tls-no-cert".into();
    no_cert.tls = Some(TlsConfig {
        ca_file: Some(ca.display().to_string()),
        ..TlsConfig::default()
    });
    let without = Bridge::spawn(no_cert, mapper(), Recording::new(Durability::Immediate))
        .expect("bridge starts");
    assert!(eventually(WAIT, || without.metrics().connect_failures >= 1).await);
    assert_eq!(without.metrics().connects, 0, "{:?}", without.metrics());
    without.shutdown().await;

    // A CA file that does not exist is an error at spawn, naming the file.
    let mut missing = config("tls-missing", 8883);
    missing.tls = Some(TlsConfig {
        ca_file: Some("/nonexistent/ca.pem".into()),
        ..TlsConfig::default()
    });
    let error = Bridge::spawn(missing, mapper(), Recording::new(Durability::Immediate))
        .err()
        .expect("missing CA file refused");
    assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_a_clear_error_retried_with_backoff() {
    let Some(bin) = mosquitto_bin() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let passwords = dir.path().join("passwords");
    let status = std::process::Command::new("mosquitto_passwd")
        .args(["-b", "-c"])
        .arg(&passwords)
        .args(["plant", "s3cret"])
        .status()
        .expect("run mosquitto_passwd");
    assert!(status.success());
    let auth_port = free_port();
    let broker = Mosquitto::start(
        &bin,
        dir.path(),
        free_port(),
        &format!(
            "listener {auth_port} 127.0.0.1\nallow_anonymous false\npassword_file {}\n",
            passwords.display()
        ),
    );
    let mut config = config("auth", auth_port);
    config.username = Some("plant".into());
    config.password = Some("wrong".into());
    config.backoff = Backoff {
        initial_ms: 100,
        max_ms: 400,
        jitter: 0.0,
    };
    let bridge = Bridge::spawn(
        config.clone(),
        mapper(),
        Recording::new(Durability::Immediate),
    )
    .expect("bridge starts");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let metrics = bridge.metrics();
    bridge.shutdown().await;
    assert!(!metrics.connected && metrics.connects == 0, "{metrics:?}");
    let error = metrics.last_error.unwrap_or_default();
    assert!(
        error.contains("refused the connection")
            && (error.contains("not authorized") || error.contains("bad user name or password")),
        "{error}"
    );
    // 100 + 200 + 400 + 400 … ms: about 6 attempts in 2 s, never a busy loop.
    assert!(
        (2..=10).contains(&metrics.connect_failures),
        "{} attempts in 2 s",
        metrics.connect_failures
    );

    config.password = Some("s3cret".into());
    let sink = Recording::new(Durability::Immediate);
    let good = Bridge::spawn(config, mapper(), sink.clone()).expect("bridge starts");
    assert!(connected(&good).await, "{:?}", good.metrics());
    good.shutdown().await;
    drop(broker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_sink_bounds_the_queue_drops_qos0_and_reconnects_slowly_for_qos1() {
    let Some(bin) = mosquitto_bin() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let broker = Mosquitto::start(&bin, dir.path(), free_port(), "");
    let mut config = config("stuck", broker.port);
    config.limits.inflight_max = 1;
    config.limits.queue_messages_max = 5;
    config.limits.shutdown_grace_ms = 100;
    config.backoff = Backoff {
        initial_ms: 200,
        max_ms: 400,
        jitter: 0.0,
    };
    let sink = Recording::new(Durability::Never);
    let bridge = Bridge::spawn(config, mapper(), sink.clone()).expect("bridge starts");
    assert!(connected(&bridge).await);
    // One QoS 1 message that never becomes durable fills the inflight window:
    // the bridge takes nothing more from its queue.
    blocking(|| broker.publish("twinspace/w/a", r#"{"n": 0}"#, 1));
    assert!(eventually(WAIT, || sink.values("a", "n").len() == 1).await);

    let lines: Vec<String> = (1..=20).map(|n| format!(r#"{{"n": {n}}}"#)).collect();
    blocking(|| broker.publish_lines("twinspace/w/a", &lines, 0));
    let dropped = eventually(WAIT, || bridge.metrics().qos0_dropped == 15).await;
    assert!(dropped, "{:?}", bridge.metrics());
    assert_eq!(bridge.metrics().messages_in, 21);
    assert_eq!(bridge.metrics().disconnects, 0, "QoS 0 overflow only drops");

    // QoS 1 beyond twice the queue limit drops the connection (the broker keeps
    // the messages); as long as the sink stays stuck this repeats, with back-off.
    blocking(|| broker.publish_lines("twinspace/w/a", &lines[..10], 1));
    assert!(eventually(WAIT, || bridge.metrics().disconnects >= 1).await);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let metrics = bridge.metrics();
    assert_eq!(
        sink.values("a", "n").len(),
        1,
        "nothing more reached the sink"
    );
    assert!(
        (1..=8).contains(&metrics.reconnects),
        "reconnects paced by the back-off (200-400 ms): {metrics:?}"
    );
    assert_eq!(metrics.acks, 0);
    bridge.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mapping_rules_apply_as_in_the_embedded_broker_and_can_be_replaced() {
    let Some(bin) = mosquitto_bin() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let broker = Mosquitto::start(&bin, dir.path(), free_port(), "");
    let rule: ingest::Rule = serde_json::from_value(json!({
        "name": "press-lines",
        "topic": "plant/{line}/+/{machine}/#",
        "world": "factory",
        "twin": "{line}-{machine}",
        "values": [{ "pointer": "/temp/value", "name": "temperature",
                     "factor": 0.1, "offset": -40 }],
        "timestamp": { "pointer": "/ts", "format": "epochMs" }
    }))
    .expect("rule");
    let rules = Mapper::new(vec![rule], false).expect("rules compile");
    let mut config = config("rules", broker.port);
    config.subscriptions = vec![Subscription {
        filter: "plant/#".into(),
        qos: 1,
    }];
    let sink = Recording::new(Durability::Immediate);
    let bridge = Bridge::spawn(config, rules, sink.clone()).expect("bridge starts");
    assert!(connected(&bridge).await);
    blocking(|| {
        broker.publish(
            "plant/l1/cell/press7/status",
            r#"{"temp": {"value": 615}, "ts": 1700000000000}"#,
            1,
        );
        broker.publish("plant/l1/cell/press7/status", r#"{"temp": {}}"#, 1);
    });
    assert!(eventually(WAIT, || bridge.metrics().acks == 2).await);
    {
        let updates = sink.updates.lock();
        assert_eq!(updates.len(), 1, "{updates:?}");
        assert_eq!(updates[0].world.as_str(), "factory");
        assert_eq!(updates[0].twin.as_str(), "l1-press7");
        assert_eq!(updates[0].values[0].value, json!(21.5));
        assert_eq!(
            updates[0].source_time,
            world::Timestamp(1_700_000_000_000_000_000)
        );
    }
    assert_eq!(bridge.metrics().rejected(RejectReason::MissingValue), 1);

    // Rules replaced at run time: the default rule only, so plant/… is no
    // longer mapped.
    bridge.set_mapper(mapper());
    blocking(|| {
        broker.publish(
            "plant/l1/cell/press7/status",
            r#"{"temp": {"value": 700}}"#,
            1,
        )
    });
    assert!(eventually(WAIT, || bridge.metrics().unmatched == 1).await);
    assert_eq!(sink.updates.lock().len(), 1);
    let mut text = String::new();
    bridge.metrics().render_prometheus(bridge.name(), &mut text);
    assert!(
        text.contains(
            "twinspace_bridge_rejected_total{bridge=\"rules\",reason=\"missing_value\"} 1"
        ),
        "{text}"
    );
    bridge.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt5_values_rejections_redelivery_and_refusal() {
    let Some(bin) = mosquitto_bin() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let passwords = dir.path().join("passwords");
    let status = std::process::Command::new("mosquitto_passwd")
        .args(["-b", "-c"])
        .arg(&passwords)
        .args(["plant", "s3cret"])
        .status()
        .expect("run mosquitto_passwd");
    assert!(status.success());
    let auth_port = free_port();
    let broker = Mosquitto::start(
        &bin,
        dir.path(),
        free_port(),
        &format!(
            "listener {auth_port} 127.0.0.1\nallow_anonymous false\npassword_file {}\n",
            passwords.display()
        ),
    );
    let mut config = config("mqtt5", auth_port);
    config.protocol = bridge::Protocol::V5;
    config.username = Some("plant".into());
    config.password = Some("s3cret".into());
    config.limits.shutdown_grace_ms = 200;

    let sink = Recording::new(Durability::Immediate);
    let bridge = Bridge::spawn(config.clone(), mapper(), sink.clone()).expect("bridge starts");
    assert!(
        connected(&bridge).await,
        "{:?}\n{}",
        bridge.metrics(),
        broker.log()
    );
    blocking(|| {
        broker.publish("twinspace/w/m5", r#"{"v": 5}"#, 1);
        broker.publish("twinspace/w/m5", "{", 1);
    });
    assert!(
        eventually(WAIT, || bridge.metrics().acks == 2).await,
        "{:?}",
        bridge.metrics()
    );
    assert_eq!(sink.values("m5", "v"), vec![json!(5)]);
    assert_eq!(bridge.metrics().rejected(RejectReason::NotJson), 1);
    bridge.shutdown().await;

    // Not durable, so not acknowledged: the next MQTT 5 bridge gets it again
    // (session expiry keeps the session across the disconnect).
    let stuck = Recording::new(Durability::Never);
    let first = Bridge::spawn(config.clone(), mapper(), stuck.clone()).expect("bridge starts");
    assert!(connected(&first).await);
    blocking(|| broker.publish("twinspace/w/m5", r#"{"v": 6}"#, 1));
    assert!(eventually(WAIT, || stuck.values("m5", "v").len() == 1).await);
    first.shutdown().await;
    blocking(|| broker.publish("twinspace/w/m5", r#"{"v": 7}"#, 1));
    let again = Recording::new(Durability::Immediate);
    let second = Bridge::spawn(config.clone(), mapper(), again.clone()).expect("bridge starts");
    let both = eventually(WAIT, || again.values("m5", "v").len() == 2).await;
    assert!(
        both,
        "{:?} {:?}\n{}",
        again.values("m5", "v"),
        second.metrics(),
        broker.log()
    );
    assert_eq!(again.values("m5", "v"), vec![json!(6), json!(7)]);
    second.shutdown().await;

    let mut wrong = config;
    wrong.password = Some("wrong".into());
    let refused = Bridge::spawn(wrong, mapper(), Recording::new(Durability::Immediate))
        .expect("bridge starts");
    assert!(eventually(WAIT, || refused.metrics().connect_failures >= 1).await);
    let error = refused.metrics().last_error.unwrap_or_default();
    assert!(
        error.contains("refused the connection")
            && (error.contains("not authorized") || error.contains("bad user name or password")),
        "{error}"
    );
    refused.shutdown().await;
}
