//! Sparkplug host throughput: decode + host processing of DDATA messages with 100
//! metrics each, by alias, after one NBIRTH and DBIRTH. Prints metrics/s (run with
//! `--release`: `cargo run --release -p sparkplug --example bench_sparkplug`).

use std::time::{Duration, Instant};

use prost::Message;
use sparkplug::pb::{self, payload as wire};
use sparkplug::{DataType, Event, Host, HostConfig};

const METRICS_PER_MESSAGE: u64 = 100;
/// Bounded run time: the loop stops after this much wall time.
const RUN_TIME: Duration = Duration::from_secs(3);
/// Distinct pre-encoded messages cycled through (seq is part of the payload).
const MESSAGES: usize = 256;

fn metric(name: Option<String>, alias: u64, dt: Option<DataType>, v: f64) -> wire::Metric {
    wire::Metric {
        name,
        alias: Some(alias),
        datatype: dt.map(DataType::code),
        value: Some(wire::metric::Value::DoubleValue(v)),
        ..Default::default()
    }
}

fn main() {
    let mut host = Host::new(HostConfig::new("bench"));
    let nbirth = pb::Payload {
        seq: Some(0),
        timestamp: Some(0),
        metrics: vec![wire::Metric {
            name: Some("bdSeq".into()),
            datatype: Some(DataType::Int64.code()),
            value: Some(wire::metric::Value::LongValue(0)),
            ..Default::default()
        }],
        ..Default::default()
    };
    host.handle("spBv1.0/plant/NBIRTH/edge", &nbirth.encode_to_vec(), 0);
    let dbirth = pb::Payload {
        seq: Some(1),
        timestamp: Some(0),
        metrics: (0..METRICS_PER_MESSAGE)
            .map(|a| metric(Some(format!("sensor/{a}")), a, Some(DataType::Double), 0.0))
            .collect(),
        ..Default::default()
    };
    host.handle(
        "spBv1.0/plant/DBIRTH/edge/machine",
        &dbirth.encode_to_vec(),
        0,
    );
    // Messages for seq 2, 3, … wrapping; message i carries seq (i + 2) % 256.
    let messages: Vec<Vec<u8>> = (0..MESSAGES)
        .map(|i| {
            pb::Payload {
                seq: Some((i as u64 + 2) % 256),
                timestamp: Some(1_700_000_000_000 + i as u64),
                metrics: (0..METRICS_PER_MESSAGE)
                    .map(|a| metric(None, a, None, i as f64 + a as f64 * 0.5))
                    .collect(),
                ..Default::default()
            }
            .encode_to_vec()
        })
        .collect();
    let bytes_per_message = messages[0].len();
    let start = Instant::now();
    let (mut values, mut sent) = (0u64, 0u64);
    while start.elapsed() < RUN_TIME {
        for m in &messages {
            let out = host.handle("spBv1.0/plant/DDATA/edge/machine", m, sent);
            for e in out.events {
                if let Event::Data { values: v, .. } = e {
                    values += v.len() as u64;
                }
            }
            sent += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let rejected: u64 = host.counters().rejected.values().sum();
    assert_eq!(rejected, 0, "the benchmark's stream is valid");
    println!(
        "sparkplug host: {sent} DDATA messages ({METRICS_PER_MESSAGE} metrics by alias, {bytes_per_message} bytes each) in {secs:.2} s: \
         {:.0} messages/s, {:.0} metrics/s (decode + seq/alias + events, one core)",
        sent as f64 / secs,
        values as f64 / secs
    );
}
