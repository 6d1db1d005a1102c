//! The Sparkplug host application state machine. [`Host::handle`] takes one MQTT
//! message (topic, payload bytes, arrival time) and answers with [`Event`]s for the
//! server to apply to twins and [`Action`]s to publish (rebirth requests, STATE).
//! [`Host::tick`] releases messages held for reordering once their timeout passes.
//!
//! Per edge node it keeps the `bdSeq` of the current birth (a death counts only
//! when its `bdSeq` matches), the next expected `seq` (0–255, wrapping), the alias
//! table the births defined (alias ↔ name ↔ datatype, shared by the node and its
//! devices), which devices are born, and a bounded set of messages that arrived
//! ahead of a missing `seq`. Everything refused is counted in [`Counters`] and
//! reported as a [`Rejected`], never a panic.

use std::collections::{BTreeMap, HashMap};

use prost::Message;

use crate::payload::{self, metric_datatype, metric_value, property_set};
use crate::pb::{self, payload as wire};
use crate::topic::{MessageType, NAMESPACE, Topic};
use crate::twin::TwinIds;
use crate::value::{DataType, PropertySet, Value};

/// Messages held per edge node while waiting for a missing `seq`. A node sends at
/// most 255 messages before `seq` repeats, so a gap wider than this is a gap, not a
/// reordering; the bound also caps the memory a misbehaving node can hold.
pub const HELD_PER_NODE_MAX: usize = 64;

/// Edge nodes tracked at once. Each costs its alias table; beyond this, births
/// from new nodes are refused (and counted) instead of growing without bound.
pub const NODES_MAX: usize = 100_000;

/// Devices per edge node.
pub const DEVICES_PER_NODE_MAX: usize = 10_000;

/// The metric name of the rebirth command (6.4.6, "Node Control/Rebirth").
pub const REBIRTH_METRIC: &str = "Node Control/Rebirth";

/// How the host behaves.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// This host application's id, as in `spBv1.0/STATE/{host_id}`.
    pub host_id: String,
    /// How long a message that arrived ahead of a missing `seq` is held before the
    /// gap is declared (and a rebirth requested).
    pub reorder_timeout_ms: u64,
    /// The least time between two rebirth requests to the same edge node.
    pub rebirth_interval_ms: u64,
    /// Twin ids for nodes and devices.
    pub twin_ids: TwinIds,
}

impl HostConfig {
    /// A configuration with the defaults: 2 s reorder timeout (the TCK's host
    /// profiles use seconds), at most one rebirth request per node per 5 s.
    pub fn new(host_id: &str) -> HostConfig {
        HostConfig {
            host_id: host_id.into(),
            reorder_timeout_ms: 2_000,
            rebirth_interval_ms: 5_000,
            twin_ids: TwinIds::default(),
        }
    }
}

/// Where a message came from: an edge node, or one of its devices.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Source {
    pub group: String,
    pub edge: String,
    pub device: Option<String>,
}

/// The quality of a value, from its `Quality` property (192 good, 0 bad, 500 stale).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quality {
    Good,
    Bad,
    Stale,
    Other(i64),
}

impl Quality {
    fn from_properties(p: &PropertySet) -> Quality {
        match p.get("Quality") {
            Some(Value::Int(192)) | Some(Value::UInt(192)) | None => Quality::Good,
            Some(Value::Int(0)) | Some(Value::UInt(0)) => Quality::Bad,
            Some(Value::Int(500)) | Some(Value::UInt(500)) => Quality::Stale,
            Some(Value::Int(i)) => Quality::Other(*i),
            Some(Value::UInt(u)) => Quality::Other(i64::try_from(*u).unwrap_or(i64::MAX)),
            Some(_) => Quality::Good,
        }
    }
}

/// A metric as a birth declares it.
#[derive(Debug, Clone, PartialEq)]
pub struct BirthMetric {
    pub name: String,
    pub alias: Option<u64>,
    pub datatype: DataType,
    pub value: Value,
    pub timestamp_ms: u64,
    pub properties: PropertySet,
    /// The `engUnit` property, if any.
    pub engineering_unit: Option<String>,
    pub quality: Quality,
    pub is_historical: bool,
    pub is_transient: bool,
}

/// One value of a data message, resolved to its metric name and type.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub datatype: DataType,
    pub value: Value,
    pub timestamp_ms: u64,
    pub quality: Quality,
    pub is_historical: bool,
}

/// What the server applies to twins.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An NBIRTH or DBIRTH: create or update the twin with these typed metrics.
    Birth {
        source: Source,
        twin: String,
        timestamp_ms: u64,
        bd_seq: Option<u64>,
        metrics: Vec<BirthMetric>,
    },
    /// New values for a born node or device.
    Data {
        source: Source,
        twin: String,
        timestamp_ms: u64,
        values: Vec<Sample>,
    },
    /// Every named metric of this twin is stale (death, or a new birth replaced it).
    Stale {
        source: Source,
        twin: String,
        timestamp_ms: u64,
        metrics: Vec<String>,
    },
}

/// What the server publishes on the host's behalf.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Publish {
        topic: String,
        payload: Vec<u8>,
        qos: u8,
        retain: bool,
    },
}

/// Why a message (or part of one) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// The topic is not a Sparkplug B topic.
    Topic,
    /// The payload could not be decoded within the limits.
    Payload,
    /// A birth is malformed (no `seq`, duplicate alias, a metric without name …).
    Birth,
    /// Data, a device birth or a device death from a node or device not born.
    BeforeBirth,
    /// A metric refers to an alias or name its birth did not define.
    UnknownMetric,
    /// A metric's value does not fit its type.
    Value,
    /// A message without `seq`, or one older than the expected `seq`.
    Sequence,
    /// An NDEATH whose `bdSeq` does not match the current birth.
    DeathMismatch,
    /// Too many nodes or devices tracked.
    Capacity,
}

/// A refusal, with the topic and a message for logs.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub topic: String,
    pub reason: RejectReason,
    pub message: String,
}

/// What one call produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Output {
    pub events: Vec<Event>,
    pub actions: Vec<Action>,
    pub rejected: Vec<Rejected>,
}

/// Running totals, for metrics and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    pub messages: u64,
    pub births: u64,
    pub deaths: u64,
    pub data_messages: u64,
    pub values: u64,
    pub rejected: HashMap<RejectReason, u64>,
    pub held_for_reorder: u64,
    pub gaps: u64,
    pub rebirth_requests: u64,
    pub rebirth_requests_suppressed: u64,
}

impl Counters {
    /// Rejections counted for one reason.
    pub fn rejected(&self, reason: RejectReason) -> u64 {
        self.rejected.get(&reason).copied().unwrap_or(0)
    }
}

#[derive(Debug, Clone)]
struct Alias {
    device: Option<String>,
    name: String,
    datatype: DataType,
}

#[derive(Debug, Default)]
struct Node {
    born: bool,
    bd_seq: Option<u64>,
    next_seq: u8,
    /// alias → metric, for the node and all its devices (aliases are unique per node).
    aliases: HashMap<u64, Alias>,
    /// (device, name) → datatype, for metrics sent by name.
    names: HashMap<(Option<String>, String), DataType>,
    /// Born devices.
    devices: HashMap<String, ()>,
    /// Messages ahead of `next_seq`, by their distance from it.
    held: BTreeMap<u8, Held>,
    last_rebirth_ms: Option<u64>,
}

#[derive(Debug)]
struct Held {
    seq: u8,
    kind: MessageType,
    device: Option<String>,
    topic: String,
    payload: pb::Payload,
    arrived_ms: u64,
}

/// The host application.
#[derive(Debug)]
pub struct Host {
    config: HostConfig,
    nodes: HashMap<(String, String), Node>,
    counters: Counters,
}

impl Host {
    /// A host with no edge node known yet.
    pub fn new(config: HostConfig) -> Host {
        Host {
            config,
            nodes: HashMap::new(),
            counters: Counters::default(),
        }
    }

    /// The totals so far.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The configuration.
    pub fn config(&self) -> &HostConfig {
        &self.config
    }

    /// The host's STATE birth and the will to register at CONNECT (3.0, 7.5): both
    /// retained, QoS 1, on `spBv1.0/STATE/{host_id}`, with the same timestamp, as the
    /// specification requires of the pair.
    pub fn state_birth_and_will(&self, now_ms: u64) -> (Action, Action) {
        (self.state(true, now_ms), self.state(false, now_ms))
    }

    /// A STATE message saying the host is online or going offline (published before
    /// a clean disconnect).
    pub fn state(&self, online: bool, timestamp_ms: u64) -> Action {
        let payload = serde_json::json!({ "online": online, "timestamp": timestamp_ms });
        Action::Publish {
            topic: format!("{NAMESPACE}/STATE/{}", self.config.host_id),
            payload: payload.to_string().into_bytes(),
            qos: 1,
            retain: true,
        }
    }

    /// Handles one message arriving at `now_ms`.
    pub fn handle(&mut self, topic: &str, bytes: &[u8], now_ms: u64) -> Output {
        let mut out = Output::default();
        self.counters.messages += 1;
        let (group, kind, edge, device) = match Topic::parse(topic) {
            Ok(Topic::Node {
                group,
                kind,
                edge,
                device,
            }) => (group, kind, edge, device),
            // Other hosts' STATE messages are theirs to mind.
            Ok(Topic::State { .. }) => return out,
            Err(e) => {
                self.reject(&mut out, topic, RejectReason::Topic, e.to_string());
                return out;
            }
        };
        // Commands are what hosts send; seeing one (ours or another host's) is normal.
        if matches!(kind, MessageType::NCmd | MessageType::DCmd) {
            return out;
        }
        let key = (group, edge);
        self.expire(&key, now_ms, &mut out);
        let payload = match payload::decode(bytes) {
            Ok(p) => p,
            Err(e) => {
                self.reject(&mut out, topic, RejectReason::Payload, e.to_string());
                return out;
            }
        };
        match kind {
            MessageType::NBirth => self.node_birth(&key, topic, payload, now_ms, &mut out),
            MessageType::NDeath => self.node_death(&key, topic, &payload, now_ms, &mut out),
            _ => self.sequenced(&key, kind, device, topic, payload, now_ms, &mut out),
        }
        out
    }

    /// Declares the gap of every node whose held messages waited past the reorder
    /// timeout: one rebirth request each, then the held messages applied in order.
    pub fn tick(&mut self, now_ms: u64) -> Output {
        let mut out = Output::default();
        let keys: Vec<(String, String)> = self
            .nodes
            .iter()
            .filter(|(_, n)| !n.held.is_empty())
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            self.expire(&key, now_ms, &mut out);
        }
        out
    }

    /// Builds an NCMD (device `None`) or DCMD writing `value` to a metric by name,
    /// with its alias when the birth gave one. The datatype comes from the birth;
    /// `None` when the node, device or metric is not known from a birth.
    pub fn command(
        &self,
        source: &Source,
        metric: &str,
        value: &Value,
        now_ms: u64,
    ) -> Option<Result<Action, crate::SparkplugError>> {
        let node = self
            .nodes
            .get(&(source.group.clone(), source.edge.clone()))?;
        let dt = *node
            .names
            .get(&(source.device.clone(), metric.to_string()))?;
        let alias = node
            .aliases
            .iter()
            .find(|(_, a)| a.device == source.device && a.name == metric)
            .map(|(alias, _)| *alias);
        Some(command_action(
            source,
            &[(Some(metric), alias, dt, value)],
            now_ms,
        ))
    }

    fn node_birth(
        &mut self,
        key: &(String, String),
        topic: &str,
        p: pb::Payload,
        now_ms: u64,
        out: &mut Output,
    ) {
        let Some(seq) = p.seq.and_then(|s| u8::try_from(s).ok()) else {
            self.reject(
                out,
                topic,
                RejectReason::Birth,
                "NBIRTH has no seq (0–255)".into(),
            );
            return;
        };
        if !self.nodes.contains_key(key) && self.nodes.len() >= NODES_MAX {
            self.reject(
                out,
                topic,
                RejectReason::Capacity,
                format!("more than {NODES_MAX} edge nodes"),
            );
            return;
        }
        let bd_seq = bd_seq_of(&p);
        let timestamp_ms = p.timestamp.unwrap_or(now_ms);
        let mut node = Node {
            last_rebirth_ms: None,
            ..Default::default()
        };
        let metrics = match self.birth_metrics(&mut node, None, &p, timestamp_ms) {
            Ok(m) => m,
            Err(message) => {
                self.reject(out, topic, RejectReason::Birth, message);
                return;
            }
        };
        // A new birth without a death ends the previous session: its devices must
        // be born again, and until they are their values are not live.
        if let Some(old) = self.nodes.get(key) {
            node.last_rebirth_ms = old.last_rebirth_ms;
            if old.born {
                let mut devices: Vec<&String> = old.devices.keys().collect();
                devices.sort();
                for d in devices {
                    out.events
                        .push(self.stale_event(key, old, Some(d), timestamp_ms));
                }
            }
        }
        node.born = true;
        node.bd_seq = bd_seq;
        node.next_seq = seq.wrapping_add(1);
        self.counters.births += 1;
        let source = Source {
            group: key.0.clone(),
            edge: key.1.clone(),
            device: None,
        };
        out.events.push(Event::Birth {
            twin: self.config.twin_ids.id(&key.0, &key.1, None),
            source,
            timestamp_ms,
            bd_seq,
            metrics,
        });
        self.nodes.insert(key.clone(), node);
    }

    fn node_death(
        &mut self,
        key: &(String, String),
        topic: &str,
        p: &pb::Payload,
        now_ms: u64,
        out: &mut Output,
    ) {
        let bd_seq = bd_seq_of(p);
        let Some(node) = self.nodes.get(key) else {
            self.reject(
                out,
                topic,
                RejectReason::DeathMismatch,
                "NDEATH from an edge node never born".into(),
            );
            return;
        };
        if !node.born || node.bd_seq != bd_seq {
            let message = format!(
                "NDEATH bdSeq {bd_seq:?} does not match the birth's {:?}",
                node.bd_seq
            );
            self.reject(out, topic, RejectReason::DeathMismatch, message);
            return;
        }
        let timestamp_ms = p.timestamp.unwrap_or(now_ms);
        let mut devices: Vec<&String> = node.devices.keys().collect();
        devices.sort();
        let mut events = vec![self.stale_event(key, node, None, timestamp_ms)];
        events.extend(
            devices
                .into_iter()
                .map(|d| self.stale_event(key, node, Some(d), timestamp_ms)),
        );
        out.events.extend(events);
        self.counters.deaths += 1;
        if let Some(node) = self.nodes.get_mut(key) {
            node.born = false;
            node.devices.clear();
            node.held.clear();
        }
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one message's parts, passed on once"
    )]
    fn sequenced(
        &mut self,
        key: &(String, String),
        kind: MessageType,
        device: Option<String>,
        topic: &str,
        p: pb::Payload,
        now_ms: u64,
        out: &mut Output,
    ) {
        let born = self.nodes.get(key).is_some_and(|n| n.born);
        if !born {
            let message = format!("{} before the edge node's NBIRTH", kind.as_str());
            self.reject(out, topic, RejectReason::BeforeBirth, message);
            self.request_rebirth(key, now_ms, out);
            return;
        }
        let Some(seq) = p.seq.and_then(|s| u8::try_from(s).ok()) else {
            self.reject(
                out,
                topic,
                RejectReason::Sequence,
                format!("{} without a seq (0–255)", kind.as_str()),
            );
            return;
        };
        let Some(node) = self.nodes.get_mut(key) else {
            return;
        };
        let ahead = seq.wrapping_sub(node.next_seq);
        if ahead == 0 {
            node.next_seq = node.next_seq.wrapping_add(1);
            self.apply(key, kind, device, topic, p, now_ms, out);
            self.drain(key, now_ms, out);
        } else if usize::from(ahead) <= HELD_PER_NODE_MAX {
            if node.held.len() >= HELD_PER_NODE_MAX || node.held.contains_key(&ahead) {
                self.reject(
                    out,
                    topic,
                    RejectReason::Sequence,
                    format!("seq {seq} is already held"),
                );
                return;
            }
            node.held.insert(
                ahead,
                Held {
                    seq,
                    kind,
                    device,
                    topic: topic.into(),
                    payload: p,
                    arrived_ms: now_ms,
                },
            );
            self.counters.held_for_reorder += 1;
        } else {
            let message = format!(
                "seq {seq} is behind the expected {} (late or repeated)",
                node.next_seq
            );
            self.reject(out, topic, RejectReason::Sequence, message);
        }
    }

    /// Applies the held messages that are now next in line.
    fn drain(&mut self, key: &(String, String), now_ms: u64, out: &mut Output) {
        loop {
            let Some(node) = self.nodes.get_mut(key) else {
                return;
            };
            // Distances were relative to the old next_seq: every step shifts them by one.
            let shifted: BTreeMap<u8, Held> = std::mem::take(&mut node.held)
                .into_values()
                .map(|h| (h.seq.wrapping_sub(node.next_seq), h))
                .collect();
            node.held = shifted;
            let Some(held) = node.held.remove(&0) else {
                return;
            };
            node.next_seq = node.next_seq.wrapping_add(1);
            self.apply(
                key,
                held.kind,
                held.device,
                &held.topic,
                held.payload,
                now_ms,
                out,
            );
        }
    }

    /// Declares a gap when the oldest held message waited past the timeout.
    fn expire(&mut self, key: &(String, String), now_ms: u64, out: &mut Output) {
        let timeout = self.config.reorder_timeout_ms;
        let Some(node) = self.nodes.get_mut(key) else {
            return;
        };
        let Some(oldest) = node.held.values().map(|h| h.arrived_ms).min() else {
            return;
        };
        if now_ms.saturating_sub(oldest) < timeout {
            return;
        }
        self.counters.gaps += 1;
        self.request_rebirth(key, now_ms, out);
        // The messages after the gap are genuine: apply them in order, skipping the
        // missing ones, and expect what follows the last.
        let Some(node) = self.nodes.get_mut(key) else {
            return;
        };
        let held: Vec<Held> = std::mem::take(&mut node.held).into_values().collect();
        for h in held {
            if let Some(node) = self.nodes.get_mut(key) {
                node.next_seq = h.seq.wrapping_add(1);
            }
            self.apply(key, h.kind, h.device, &h.topic, h.payload, now_ms, out);
        }
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one message's parts, passed on once"
    )]
    fn apply(
        &mut self,
        key: &(String, String),
        kind: MessageType,
        device: Option<String>,
        topic: &str,
        p: pb::Payload,
        now_ms: u64,
        out: &mut Output,
    ) {
        let timestamp_ms = p.timestamp.unwrap_or(now_ms);
        let Some(node) = self.nodes.get_mut(key) else {
            return;
        };
        let source = Source {
            group: key.0.clone(),
            edge: key.1.clone(),
            device: device.clone(),
        };
        let twin = self.config.twin_ids.id(&key.0, &key.1, device.as_deref());
        match kind {
            MessageType::DBirth => {
                let Some(d) = device.clone() else { return };
                if !node.devices.contains_key(&d) && node.devices.len() >= DEVICES_PER_NODE_MAX {
                    self.reject(
                        out,
                        topic,
                        RejectReason::Capacity,
                        format!("more than {DEVICES_PER_NODE_MAX} devices"),
                    );
                    return;
                }
                // A rebirth of the device replaces its metrics.
                node.aliases
                    .retain(|_, a| a.device.as_deref() != Some(d.as_str()));
                node.names
                    .retain(|(dev, _), _| dev.as_deref() != Some(d.as_str()));
                let mut scratch = std::mem::take(node);
                let result = self.birth_metrics(&mut scratch, Some(&d), &p, timestamp_ms);
                let Some(node) = self.nodes.get_mut(key) else {
                    return;
                };
                *node = scratch;
                match result {
                    Ok(metrics) => {
                        node.devices.insert(d, ());
                        self.counters.births += 1;
                        out.events.push(Event::Birth {
                            source,
                            twin,
                            timestamp_ms,
                            bd_seq: None,
                            metrics,
                        });
                    }
                    Err(message) => self.reject(out, topic, RejectReason::Birth, message),
                }
            }
            MessageType::DDeath => {
                let Some(d) = device else { return };
                if node.devices.remove(&d).is_none() {
                    self.reject(
                        out,
                        topic,
                        RejectReason::BeforeBirth,
                        format!("DDEATH of device '{d}' not born"),
                    );
                    return;
                }
                let node = &self.nodes[key];
                let event = self.stale_event(key, node, Some(&d), timestamp_ms);
                self.counters.deaths += 1;
                out.events.push(event);
            }
            MessageType::NData | MessageType::DData => {
                if let Some(d) = &device
                    && !node.devices.contains_key(d)
                {
                    self.reject(
                        out,
                        topic,
                        RejectReason::BeforeBirth,
                        format!("DDATA from device '{d}' before its DBIRTH"),
                    );
                    self.request_rebirth(key, now_ms, out);
                    return;
                }
                let mut values = Vec::with_capacity(p.metrics.len());
                let mut unknown = false;
                for m in &p.metrics {
                    let resolved = match (m.alias, &m.name) {
                        (Some(alias), _) => node
                            .aliases
                            .get(&alias)
                            .filter(|a| a.device == device)
                            .map(|a| (a.name.clone(), a.datatype)),
                        (None, Some(name)) => node
                            .names
                            .get(&(device.clone(), name.clone()))
                            .map(|dt| (name.clone(), *dt)),
                        (None, None) => None,
                    };
                    let Some((name, datatype)) = resolved else {
                        unknown = true;
                        let what = m
                            .alias
                            .map_or_else(|| format!("name {:?}", m.name), |a| format!("alias {a}"));
                        self.counters
                            .rejected
                            .entry(RejectReason::UnknownMetric)
                            .and_modify(|c| *c += 1)
                            .or_insert(1);
                        out.rejected.push(Rejected {
                            topic: topic.into(),
                            reason: RejectReason::UnknownMetric,
                            message: format!("{what} is not in the birth"),
                        });
                        continue;
                    };
                    match metric_value(m, datatype) {
                        Ok(value) => {
                            let props = m.properties.as_ref().map(property_set).unwrap_or_default();
                            values.push(Sample {
                                name,
                                datatype,
                                value,
                                timestamp_ms: m.timestamp.unwrap_or(timestamp_ms),
                                quality: Quality::from_properties(&props),
                                is_historical: m.is_historical.unwrap_or(false),
                            });
                        }
                        Err(e) => {
                            self.counters
                                .rejected
                                .entry(RejectReason::Value)
                                .and_modify(|c| *c += 1)
                                .or_insert(1);
                            out.rejected.push(Rejected {
                                topic: topic.into(),
                                reason: RejectReason::Value,
                                message: e.to_string(),
                            });
                        }
                    }
                }
                if unknown {
                    self.request_rebirth(key, now_ms, out);
                }
                self.counters.data_messages += 1;
                self.counters.values += values.len() as u64;
                if !values.is_empty() {
                    out.events.push(Event::Data {
                        source,
                        twin,
                        timestamp_ms,
                        values,
                    });
                }
            }
            _ => {}
        }
    }

    /// Reads a birth's metrics into the node's alias and name tables.
    fn birth_metrics(
        &self,
        node: &mut Node,
        device: Option<&str>,
        p: &pb::Payload,
        timestamp_ms: u64,
    ) -> Result<Vec<BirthMetric>, String> {
        let mut metrics = Vec::with_capacity(p.metrics.len());
        for m in &p.metrics {
            let name = m
                .name
                .clone()
                .filter(|n| !n.is_empty())
                .ok_or("a birth metric has no name")?;
            let datatype = metric_datatype(m)
                .ok_or_else(|| format!("birth metric '{name}' has no valid datatype"))?;
            let value = metric_value(m, datatype).map_err(|e| e.to_string())?;
            if let Some(alias) = m.alias {
                if node.aliases.contains_key(&alias) {
                    return Err(format!(
                        "alias {alias} of '{name}' is already used in this edge node"
                    ));
                }
                node.aliases.insert(
                    alias,
                    Alias {
                        device: device.map(str::to_string),
                        name: name.clone(),
                        datatype,
                    },
                );
            }
            node.names
                .insert((device.map(str::to_string), name.clone()), datatype);
            let properties = m.properties.as_ref().map(property_set).unwrap_or_default();
            let engineering_unit = match properties.get("engUnit") {
                Some(Value::String(u)) => Some(u.clone()),
                _ => None,
            };
            metrics.push(BirthMetric {
                name,
                alias: m.alias,
                datatype,
                value,
                timestamp_ms: m.timestamp.unwrap_or(timestamp_ms),
                quality: Quality::from_properties(&properties),
                properties,
                engineering_unit,
                is_historical: m.is_historical.unwrap_or(false),
                is_transient: m.is_transient.unwrap_or(false),
            });
        }
        Ok(metrics)
    }

    fn stale_event(
        &self,
        key: &(String, String),
        node: &Node,
        device: Option<&str>,
        timestamp_ms: u64,
    ) -> Event {
        let mut metrics: Vec<String> = node
            .names
            .keys()
            .filter(|(d, _)| d.as_deref() == device)
            .map(|(_, n)| n.clone())
            .collect();
        metrics.sort();
        Event::Stale {
            source: Source {
                group: key.0.clone(),
                edge: key.1.clone(),
                device: device.map(str::to_string),
            },
            twin: self.config.twin_ids.id(&key.0, &key.1, device),
            timestamp_ms,
            metrics,
        }
    }

    /// Sends an NCMD `Node Control/Rebirth`, at most once per rebirth interval.
    fn request_rebirth(&mut self, key: &(String, String), now_ms: u64, out: &mut Output) {
        let interval = self.config.rebirth_interval_ms;
        // Data from unknown nodes creates an entry to rate-limit its requests; past
        // the node cap, requests go unsent rather than the table growing.
        if !self.nodes.contains_key(key) && self.nodes.len() >= NODES_MAX {
            self.counters.rebirth_requests_suppressed += 1;
            return;
        }
        let node = self.nodes.entry(key.clone()).or_default();
        if node
            .last_rebirth_ms
            .is_some_and(|t| now_ms.saturating_sub(t) < interval)
        {
            self.counters.rebirth_requests_suppressed += 1;
            return;
        }
        node.last_rebirth_ms = Some(now_ms);
        self.counters.rebirth_requests += 1;
        let source = Source {
            group: key.0.clone(),
            edge: key.1.clone(),
            device: None,
        };
        if let Ok(action) = command_action(
            &source,
            &[(
                Some(REBIRTH_METRIC),
                None,
                DataType::Boolean,
                &Value::Bool(true),
            )],
            now_ms,
        ) {
            out.actions.push(action);
        }
    }

    fn reject(&mut self, out: &mut Output, topic: &str, reason: RejectReason, message: String) {
        *self.counters.rejected.entry(reason).or_insert(0) += 1;
        out.rejected.push(Rejected {
            topic: topic.into(),
            reason,
            message,
        });
    }
}

fn bd_seq_of(p: &pb::Payload) -> Option<u64> {
    p.metrics
        .iter()
        .find(|m| m.name.as_deref() == Some("bdSeq"))
        .and_then(|m| match m.value {
            Some(wire::metric::Value::LongValue(v)) => Some(v),
            Some(wire::metric::Value::IntValue(v)) => Some(u64::from(v)),
            _ => None,
        })
}

/// Encodes an NCMD (source without device) or DCMD writing metrics given as
/// (name, alias, datatype, value).
pub fn command_action(
    source: &Source,
    metrics: &[(Option<&str>, Option<u64>, DataType, &Value)],
    now_ms: u64,
) -> Result<Action, crate::SparkplugError> {
    let metrics = metrics
        .iter()
        .map(|(name, alias, dt, v)| payload::command_metric(*name, *alias, *dt, v, now_ms))
        .collect::<Result<Vec<_>, _>>()?;
    let kind = if source.device.is_some() {
        MessageType::DCmd
    } else {
        MessageType::NCmd
    };
    let topic = Topic::Node {
        group: source.group.clone(),
        kind,
        edge: source.edge.clone(),
        device: source.device.clone(),
    };
    Ok(Action::Publish {
        topic: topic.to_topic_string(),
        payload: pb::Payload {
            timestamp: Some(now_ms),
            metrics,
            ..Default::default()
        }
        .encode_to_vec(),
        qos: 0,
        retain: false,
    })
}
