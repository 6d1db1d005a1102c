//! Throughput of the bridge: a real `mosquitto` on a free port, one
//! `mosquitto_pub -l` publishing N small JSON messages, and the bridge mapping
//! them (default rule) into a counting sink whose durability is immediate.
//! Prints messages/s end to end (first publish to last update in the sink) for
//! QoS 0 and QoS 1 (acknowledged after durability), over MQTT 3.1.1, and QoS 1
//! over MQTT 5. mosquitto's per-client
//! queue is unlimited here (`max_queued_messages 0`); its default of 1000
//! drops QoS 1 messages for a subscriber that falls behind the publisher.
//!
//! `cargo run --release -p bridge --example bench_bridge -- [messages]`
//! (default 50000; each run is bounded to 60 s).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use bridge::{Bridge, BridgeConfig, Protocol};
use ingest::Mapper;
use support::{Durability, Mosquitto, Recording, eventually, free_port, mosquitto_bin};

/// Longest a run may take before the benchmark gives up.
const RUN_LIMIT: Duration = Duration::from_secs(60);

fn main() {
    let messages: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(50_000);
    let Some(bin) = mosquitto_bin() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let broker = Mosquitto::start(
        &bin,
        dir.path(),
        free_port(),
        "log_type error\nmax_queued_messages 0\n",
    );
    support::run(async {
        for (protocol, qos) in [
            (Protocol::V311, 0u8),
            (Protocol::V311, 1),
            (Protocol::V5, 1),
        ] {
            let sink = Recording::new(Durability::Immediate);
            let mut config = BridgeConfig::new(
                &format!("bench-{protocol:?}-qos{qos}"),
                "127.0.0.1",
                broker.port,
                &["twinspace/#"],
            );
            config.subscriptions[0].qos = qos;
            config.protocol = protocol;
            config.clean_start = true;
            // The benchmark measures the pipeline, not the QoS 0 drop policy.
            config.limits.queue_messages_max = messages.max(1);
            let mapper = Mapper::new(Vec::new(), true).expect("default rule");
            let bridge = Bridge::spawn(config, mapper, sink.clone()).expect("bridge starts");
            assert!(eventually(Duration::from_secs(10), || bridge.metrics().connected).await);
            let lines: Vec<String> = (0..messages)
                .map(|i| format!(r#"{{"temperature": {}.5, "count": {i}}}"#, i % 100))
                .collect();
            let start = Instant::now();
            let publisher = {
                let lines = lines.clone();
                let port = broker.port;
                let dir = broker.dir.clone();
                std::thread::spawn(move || {
                    let publisher = Mosquitto::attach(&dir, port);
                    publisher.publish_lines("twinspace/bench/sensor1", &lines, qos);
                })
            };
            let done = eventually(RUN_LIMIT, || sink.updates.lock().len() >= messages).await;
            let elapsed = start.elapsed();
            let _ = publisher.join();
            let metrics = bridge.metrics();
            bridge.shutdown().await;
            let received = sink.updates.lock().len();
            println!(
                "bridge {protocol:?} QoS {qos}: {received}/{messages} messages in {:.2} s = {:.0} messages/s end to end (mosquitto -> bridge -> mapper -> sink){}; submissions {}, acks {}, qos0 dropped {}",
                elapsed.as_secs_f64(),
                received as f64 / elapsed.as_secs_f64(),
                if done {
                    ""
                } else {
                    " [INCOMPLETE: run limit reached]"
                },
                *sink.submissions.lock(),
                metrics.acks,
                metrics.qos0_dropped,
            );
        }
    });
}
