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
