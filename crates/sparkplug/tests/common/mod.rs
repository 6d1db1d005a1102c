//! Builders for Sparkplug payloads shared by the integration tests: an edge node
//! simulator small enough to read, so each test states only what it is about.

#![allow(dead_code, reason = "each test file uses a different part")]

use prost::Message;
use sparkplug::pb::{self, payload as wire};
use sparkplug::{DataType, Event, Host, HostConfig, Value};

pub(crate) fn metric(
    name: Option<&str>,
    alias: Option<u64>,
    dt: DataType,
    v: wire::metric::Value,
) -> wire::Metric {
    wire::Metric {
        name: name.map(str::to_string),
        alias,
        datatype: Some(dt.code()),
        value: Some(v),
        ..Default::default()
    }
}

pub(crate) fn double(name: &str, alias: u64, v: f64) -> wire::Metric {
    metric(
        Some(name),
        Some(alias),
        DataType::Double,
        wire::metric::Value::DoubleValue(v),
    )
}

pub(crate) fn by_alias(alias: u64, v: f64) -> wire::Metric {
    wire::Metric {
        alias: Some(alias),
        value: Some(wire::metric::Value::DoubleValue(v)),
        ..Default::default()
    }
}

pub(crate) fn bd_seq(v: u64) -> wire::Metric {
    metric(
        Some("bdSeq"),
        None,
        DataType::Int64,
        wire::metric::Value::LongValue(v),
    )
}

pub(crate) fn payload(seq: Option<u64>, ts: u64, metrics: Vec<wire::Metric>) -> Vec<u8> {
    pb::Payload {
        timestamp: Some(ts),
        seq,
        metrics,
        ..Default::default()
    }
    .encode_to_vec()
}

pub(crate) fn host() -> Host {
    let mut c = HostConfig::new("twinspace");
    c.reorder_timeout_ms = 1_000;
    c.rebirth_interval_ms = 5_000;
    Host::new(c)
}

/// NBIRTH of `g/e` with bdSeq and metrics `temp` (alias 1) and `rpm` (alias 2).
pub(crate) fn nbirth(bd: u64) -> Vec<u8> {
    payload(
        Some(0),
        1000,
        vec![bd_seq(bd), double("temp", 1, 20.0), double("rpm", 2, 0.0)],
    )
}

/// DBIRTH of device `d` with metric `level` (alias 10).
pub(crate) fn dbirth(seq: u64) -> Vec<u8> {
    payload(Some(seq), 1000, vec![double("level", 10, 1.0)])
}

/// The values of all Data events, as (twin, name, value).
pub(crate) fn values(events: &[Event]) -> Vec<(String, String, Value)> {
    events
        .iter()
        .flat_map(|e| match e {
            Event::Data { twin, values, .. } => values
                .iter()
                .map(|s| (twin.clone(), s.name.clone(), s.value.clone()))
                .collect(),
            _ => Vec::new(),
        })
        .collect()
}
