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

#[test]
fn mqtt5_offenders_are_told_the_reason() {
    use bytes::BytesMut;
    use rmqtt_codec::v5;
    use std::io::{Read, Write};
    use tokio_util::codec::{Decoder, Encoder};

    let h = Harness::start(Limits {
        packet_bytes_max: 1024,
        ..Limits::default()
    });
    let mut stream = std::net::TcpStream::connect(h.tcp).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut codec = v5::Codec::new(0, 0);
    let connect = v5::Connect {
        clean_start: true,
        keep_alive: 60,
        session_expiry_interval_secs: 0,
        auth_method: None,
        auth_data: None,
        request_problem_info: true,
        request_response_info: false,
        receive_max: None,
        topic_alias_max: 0,
        user_properties: Vec::new(),
        max_packet_size: None,
        last_will: None,
        client_id: "v5-offender".into(),
        username: Some("any".into()),
        password: Some(bytes::Bytes::from_static(INGEST_PLANT.as_bytes())),
        cert: None,
    };
    let mut out = BytesMut::new();
    codec
        .encode(v5::Packet::Connect(Box::new(connect)), &mut out)
        .unwrap();
    stream.write_all(&out).unwrap();
    let mut buf = BytesMut::new();
    let mut next = |stream: &mut std::net::TcpStream, buf: &mut BytesMut| loop {
        if let Some((packet, _)) = codec.decode(buf).expect("valid packet from the broker") {
            return Some(packet);
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    match next(&mut stream, &mut buf) {
        Some(v5::Packet::ConnectAck(ack)) => {
            assert_eq!(ack.reason_code, v5::ConnectAckReason::Success);
            assert_eq!(
                ack.max_packet_size,
                Some(1024),
                "the broker states its packet limit"
            );
            assert_eq!(ack.max_qos, rmqtt_codec::types::QoS::AtLeastOnce);
        }
        other => panic!("expected CONNACK, got {other:?}"),
    }
    // PUBLISH, QoS 0, remaining length 4096: over the limit.
    let mut oversized = vec![0x30, 0x80, 0x20];
    oversized.extend_from_slice(&[0u8; 4096]);
    stream.write_all(&oversized).unwrap();
    match next(&mut stream, &mut buf) {
        Some(v5::Packet::Disconnect(disconnect)) => {
            assert_eq!(
                disconnect.reason_code,
                v5::DisconnectReasonCode::PacketTooLarge
            )
        }
        other => panic!("expected DISCONNECT 0x95, got {other:?}"),
    }
    assert!(
        next(&mut stream, &mut buf).is_none(),
        "then the connection closes"
    );
}

#[test]
fn shutdown_closes_connections_and_stops_accepting() {
    let h = Harness::start(Limits::default());
    let mut client = RawClient::connect(h.tcp, "still-here", INGEST_PLANT, None);
    h.broker.shutdown();
    assert!(client.receive().is_none(), "open connections are closed");
    h.wait_for("the listener to close", || {
        std::net::TcpStream::connect(h.tcp).is_err()
    });
}
