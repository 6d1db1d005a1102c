//! QoS 1 acknowledgement follows durability: no PUBACK before the sink's
//! `Durable` future resolves, none at all when it fails (the publisher is
//! disconnected so that it resends), and the inflight window holds a fast
//! MQTT 3.1.1 publisher back instead of disconnecting it.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use ingest::{Mapper, TwinUpdate};
use mqtt::{Broker, Durable, Limits, Sink, SinkError, Submitted};
use parking_lot::Mutex;
use rmqtt_codec::v3::Packet;
use tokio::sync::oneshot;

/// A sink whose durability the test decides: each submission waits for the
/// next answer the test sends.
struct GatedSink {
    gates: Mutex<Vec<oneshot::Receiver<Result<(), SinkError>>>>,
}

impl Sink for GatedSink {
    fn submit(&self, _updates: Vec<TwinUpdate>) -> Submitted {
        let gate = self.gates.lock().pop().expect("a gate per submission");
        let durable: Durable = Box::pin(async move {
            gate.await
                .unwrap_or_else(|_| Err(SinkError("gate dropped".into())))
        });
        Submitted {
            refused: Vec::new(),
            durable: Some(durable),
        }
    }
}

fn gated_broker(
    runtime: &tokio::runtime::Runtime,
    gates: usize,
) -> (
    Broker,
    std::net::SocketAddr,
    Vec<oneshot::Sender<Result<(), SinkError>>>,
) {
    let mut senders = Vec::new();
    let mut receivers = Vec::new();
    for _ in 0..gates {
        let (tx, rx) = oneshot::channel();
        senders.push(tx);
        receivers.push(rx);
    }
    let sink = Arc::new(GatedSink {
        gates: Mutex::new(receivers),
    });
    let broker = Broker::new(
        Limits::default(),
        Arc::new(tokens()),
        sink,
        Mapper::new(Vec::new(), true).unwrap(),
    )
    .unwrap();
    let address = runtime
        .block_on(broker.listen_tcp("127.0.0.1:0".parse().unwrap()))
        .unwrap();
    // Submissions pop from the end: the first submission gets the last gate.
    senders.reverse();
    (broker, address, senders)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn puback_waits_until_the_update_is_durable() {
    let runtime = runtime();
    let (_broker, address, mut gates) = gated_broker(&runtime, 1);
    let mut client = RawClient::connect(address, "device", INGEST_PLANT, None);
    client
        .stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    client.publish("twinspace/plant/t1", br#"{"temperature": 1}"#, Some(11));
    assert!(
        client.receive().is_none(),
        "no PUBACK before the sink says durable"
    );
    client
        .stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    gates.remove(0).send(Ok(())).unwrap();
    match client.receive() {
        Some(Packet::PublishAck { packet_id }) => assert_eq!(packet_id.get(), 11),
        other => panic!("expected PUBACK, got {other:?}"),
    }
}

#[test]
fn failed_durability_disconnects_without_puback() {
    let runtime = runtime();
    let (broker, address, mut gates) = gated_broker(&runtime, 1);
    let mut client = RawClient::connect(address, "device", INGEST_PLANT, None);
    client.publish("twinspace/plant/t1", br#"{"temperature": 1}"#, Some(12));
    gates
        .remove(0)
        .send(Err(SinkError("disk full".into())))
        .unwrap();
    assert!(
        client.receive().is_none(),
        "the connection closes and nothing is acknowledged"
    );
    assert_eq!(broker.metrics().sink_failures, 1);
}

#[test]
fn the_inflight_window_holds_a_fast_publisher_back_in_order() {
    let h = Harness::start(Limits {
        inflight_max: 4,
        ..Limits::default()
    });
    let mut client = RawClient::connect(h.tcp, "burst", INGEST_PLANT, None);
    let messages = 200u16;
    for i in 1..=messages {
        client.publish(
            &format!("twinspace/plant/t{}", 1 + i % 3),
            format!(r#"{{"temperature": {i}}}"#).as_bytes(),
            Some(i),
        );
    }
    for i in 1..=messages {
        match client.receive() {
            Some(Packet::PublishAck { packet_id }) => {
                assert_eq!(packet_id.get(), i, "acknowledged in order")
            }
            other => panic!("expected PUBACK {i}, got {other:?}"),
        }
    }
    // The last message for t2 (200 % 3 == 2 -> t3; 199 % 3 == 1 -> t2) is durable.
    assert_eq!(
        h.sink.stored_twin("plant", "t2").unwrap()["temperature"],
        serde_json::json!(199)
    );
    assert_eq!(h.broker.metrics().updates_mapped, u64::from(messages));
}
