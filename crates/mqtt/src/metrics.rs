//! Counters the broker keeps (lock-free atomics) and a plain snapshot of them
//! for `/metrics` and tests.

use std::sync::atomic::{AtomicU64, Ordering};

use ingest::RejectReason;

/// Live counters.
#[derive(Default)]
pub(crate) struct Counters {
    pub connections_open: AtomicU64,
    pub connections_total: AtomicU64,
    pub connections_refused_auth: AtomicU64,
    pub connections_refused_limit: AtomicU64,
    pub disconnects_packet_too_large: AtomicU64,
    pub disconnects_protocol: AtomicU64,
    pub disconnects_keep_alive: AtomicU64,
    pub publishes_received: AtomicU64,
    pub publishes_denied: AtomicU64,
    pub subscribes_denied: AtomicU64,
    pub messages_delivered: AtomicU64,
    pub qos0_dropped: AtomicU64,
    pub qos1_dropped: AtomicU64,
    pub updates_mapped: AtomicU64,
    pub messages_unmatched: AtomicU64,
    pub rejected: [AtomicU64; RejectReason::ALL.len()],
    pub dead_letters: AtomicU64,
    pub wills_published: AtomicU64,
    pub sink_failures: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn reject(&self, reason: RejectReason) {
        if let Some(i) = RejectReason::ALL.iter().position(|r| *r == reason) {
            self.rejected[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn snapshot(&self) -> Metrics {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Metrics {
            connections_open: get(&self.connections_open),
            connections_total: get(&self.connections_total),
            connections_refused_auth: get(&self.connections_refused_auth),
            connections_refused_limit: get(&self.connections_refused_limit),
            disconnects_packet_too_large: get(&self.disconnects_packet_too_large),
            disconnects_protocol: get(&self.disconnects_protocol),
            disconnects_keep_alive: get(&self.disconnects_keep_alive),
            publishes_received: get(&self.publishes_received),
            publishes_denied: get(&self.publishes_denied),
            subscribes_denied: get(&self.subscribes_denied),
            messages_delivered: get(&self.messages_delivered),
            qos0_dropped: get(&self.qos0_dropped),
            qos1_dropped: get(&self.qos1_dropped),
            updates_mapped: get(&self.updates_mapped),
            messages_unmatched: get(&self.messages_unmatched),
            rejected: RejectReason::ALL
                .iter()
                .zip(&self.rejected)
                .map(|(reason, count)| (reason.as_str(), get(count)))
                .collect(),
            dead_letters: get(&self.dead_letters),
            wills_published: get(&self.wills_published),
            sink_failures: get(&self.sink_failures),
        }
    }
}

/// A snapshot of the broker's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Metrics {
    /// Connections open now.
    pub connections_open: u64,
    /// Connections accepted since start.
    pub connections_total: u64,
    /// CONNECTs refused for bad credentials or a will the client may not publish.
    pub connections_refused_auth: u64,
    /// Connections refused because `connections_max` were open.
    pub connections_refused_limit: u64,
    /// Clients disconnected for sending a packet over `packet_bytes_max`.
    pub disconnects_packet_too_large: u64,
    /// Clients disconnected for malformed packets or protocol errors.
    pub disconnects_protocol: u64,
    /// Clients disconnected for missing their keep-alive.
    pub disconnects_keep_alive: u64,
    /// PUBLISH packets received.
    pub publishes_received: u64,
    /// PUBLISHes refused by the access check.
    pub publishes_denied: u64,
    /// Subscriptions refused by the access check.
    pub subscribes_denied: u64,
    /// Messages written to subscribers.
    pub messages_delivered: u64,
    /// QoS 0 messages dropped because a subscriber's queue was full.
    pub qos0_dropped: u64,
    /// QoS 1 messages dropped because a subscriber's queue was full.
    pub qos1_dropped: u64,
    /// Messages that became twin updates.
    pub updates_mapped: u64,
    /// Messages that no mapping rule is about (relayed only).
    pub messages_unmatched: u64,
    /// Rejected messages per reason (mapping and sink refusals).
    pub rejected: Vec<(&'static str, u64)>,
    /// Dead letters published.
    pub dead_letters: u64,
    /// Last wills published.
    pub wills_published: u64,
    /// Submissions whose durability failed.
    pub sink_failures: u64,
}

impl Metrics {
    /// The count of rejections for `reason`.
    pub fn rejected(&self, reason: RejectReason) -> u64 {
        self.rejected
            .iter()
            .find(|(name, _)| *name == reason.as_str())
            .map_or(0, |(_, n)| *n)
    }
}
