//! Connection-level behaviour with a raw MQTT 3.1.1 client: keep-alive
//! timeouts publish the will, a second connection with the same client id (and
//! the same token) takes the session over, and connections over the cap are
//! refused while the others go on.

mod common;

use std::time::{Duration, Instant};

use common::*;
use mqtt::Limits;
use rmqtt_codec::v3::Packet;

#[test]
fn a_silent_client_is_disconnected_after_its_keep_alive_and_its_will_is_published() {
    let h = Harness::start(Limits::default());
    let mut watcher = RawClient::connect(h.tcp, "watcher", VIEWER_PLANT, None);
    watcher.subscribe("twinspace/plant/status/#", 0);
    let started = Instant::now();
    let mut silent = RawClient::connect_with(
        h.tcp,
        "silent",
        INGEST_PLANT,
        Some(("twinspace/plant/status/silent", "gone")),
        1,
    );
    // Keep-alive 1 s: the broker waits one and a half times that.
    assert!(
        silent.receive().is_none(),
        "the broker closes the connection"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1400) && waited < Duration::from_secs(5),
        "closed after {waited:?}"
    );
    let (topic, payload) = watcher.next_publish().expect("the will");
    assert_eq!(
        (topic.as_str(), payload.as_slice()),
        ("twinspace/plant/status/silent", &b"gone"[..])
    );
    assert_eq!(h.broker.metrics().disconnects_keep_alive, 1);
}

#[test]
fn pings_keep_a_connection_alive() {
    let h = Harness::start(Limits::default());
    let mut client = RawClient::connect_with(h.tcp, "pinger", INGEST_PLANT, None, 1);
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(700));
        client.send(Packet::PingRequest);
        assert!(matches!(client.receive(), Some(Packet::PingResponse)));
    }
    assert_eq!(h.broker.metrics().disconnects_keep_alive, 0);
}

#[test]
fn the_same_client_id_takes_the_session_over() {
    let h = Harness::start(Limits::default());
    let mut first = RawClient::connect(h.tcp, "press-7", INGEST_PLANT, None);
    let mut second = RawClient::connect(h.tcp, "press-7", INGEST_PLANT, None);
    assert!(first.receive().is_none(), "the first connection is closed");
    second.publish("twinspace/plant/t1", br#"{"temperature": 2}"#, Some(3));
    assert!(matches!(second.receive(), Some(Packet::PublishAck { .. })));
}

#[test]
fn connections_over_the_cap_are_refused_and_the_others_go_on() {
    let h = Harness::start(Limits {
        connections_max: 2,
        ..Limits::default()
    });
    let mut a = RawClient::connect(h.tcp, "a", INGEST_PLANT, None);
    let _b = RawClient::connect(h.tcp, "b", INGEST_PLANT, None);
    let mut refused = std::net::TcpStream::connect(h.tcp).expect("TCP accepts");
    refused
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut byte = [0u8; 1];
    let read = std::io::Read::read(&mut refused, &mut byte);
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "the third connection is closed at once"
    );
    a.publish("twinspace/plant/t1", br#"{"temperature": 4}"#, Some(5));
    assert!(matches!(a.receive(), Some(Packet::PublishAck { .. })));
    assert_eq!(h.broker.metrics().connections_refused_limit, 1);
}

#[test]
fn retained_messages_for_a_new_subscription_stay_within_its_queue() {
    let h = Harness::start(Limits {
        queue_messages_max: 5,
        ..Limits::default()
    });
    for i in 0..20 {
        h.broker
            .publish(
                &format!("twinspace/plant/retained/{i}"),
                bytes::Bytes::from(format!("v{i}")),
                0,
                true,
            )
            .expect("retained");
    }
    let mut client = RawClient::connect(h.tcp, "late", VIEWER_PLANT, None);
    client.subscribe("twinspace/plant/retained/#", 0);
    client
        .stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut received = 0;
    while client.next_publish().is_some() {
        received += 1;
    }
    assert_eq!(received, 5, "as many as the queue holds");
    assert_eq!(h.broker.metrics().qos0_dropped, 15);
}
