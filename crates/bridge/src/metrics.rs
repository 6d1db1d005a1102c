//! What a bridge counts (lock-free atomics, the last error behind a small
//! lock) and a plain snapshot of it, which the server renders as
//! `twinspace_bridge_*` with [`BridgeMetrics::render_prometheus`].

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use ingest::RejectReason;
use parking_lot::Mutex;

/// Longest last-error text kept (chars): enough for any TLS or I/O message,
/// bounded so a broker cannot make it grow.
const LAST_ERROR_CHARS_MAX: usize = 512;

/// Live counters of one bridge.
#[derive(Default)]
pub(crate) struct Counters {
    pub connected: AtomicBool,
    pub connects: AtomicU64,
    pub connect_failures: AtomicU64,
    pub disconnects: AtomicU64,
    pub messages_in: AtomicU64,
    pub qos0_dropped: AtomicU64,
    pub mapped: AtomicU64,
    pub unmatched: AtomicU64,
    pub rejected: [AtomicU64; RejectReason::ALL.len()],
    pub dead_letters: AtomicU64,
    pub dead_letters_dropped: AtomicU64,
    pub echoes: AtomicU64,
    pub acks: AtomicU64,
    pub sink_failures: AtomicU64,
    pub last_error: Mutex<Option<String>>,
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

    pub(crate) fn set_error(&self, error: &str) {
        *self.last_error.lock() = Some(error.chars().take(LAST_ERROR_CHARS_MAX).collect());
    }

    pub(crate) fn snapshot(&self) -> BridgeMetrics {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let connects = get(&self.connects);
        BridgeMetrics {
            connected: self.connected.load(Ordering::Relaxed),
            connects,
            reconnects: connects.saturating_sub(1),
            connect_failures: get(&self.connect_failures),
            disconnects: get(&self.disconnects),
            messages_in: get(&self.messages_in),
            qos0_dropped: get(&self.qos0_dropped),
            mapped: get(&self.mapped),
            unmatched: get(&self.unmatched),
            rejected: RejectReason::ALL
                .iter()
                .zip(&self.rejected)
                .map(|(reason, count)| (reason.as_str(), get(count)))
                .collect(),
            dead_letters: get(&self.dead_letters),
            dead_letters_dropped: get(&self.dead_letters_dropped),
            echoes: get(&self.echoes),
            acks: get(&self.acks),
            sink_failures: get(&self.sink_failures),
            last_error: self.last_error.lock().clone(),
        }
    }
}

/// A snapshot of one bridge's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct BridgeMetrics {
    /// Connected to the external broker now (CONNACK received, not lost since).
    pub connected: bool,
    /// Successful connections since start.
    pub connects: u64,
    /// Successful connections after the first.
    pub reconnects: u64,
    /// Connection attempts that failed (network, TLS, refused CONNACK).
    pub connect_failures: u64,
    /// Established connections that were lost or dropped.
    pub disconnects: u64,
    /// PUBLISH packets received from the external broker.
    pub messages_in: u64,
    /// QoS 0 messages dropped because the queue to the sink was full.
    pub qos0_dropped: u64,
    /// Messages that became twin updates the sink accepted.
    pub mapped: u64,
    /// Messages that no mapping rule is about.
    pub unmatched: u64,
    /// Rejected messages per reason (mapping rejections and sink refusals).
    pub rejected: Vec<(&'static str, u64)>,
    /// Dead letters handed to the external broker.
    pub dead_letters: u64,
    /// Dead letters dropped because the outgoing queue was full.
    pub dead_letters_dropped: u64,
    /// This bridge's own dead letters received back (its subscriptions cover
    /// the dead-letter topics) and ignored, so a rejection can never loop.
    pub echoes: u64,
    /// QoS 1 messages acknowledged to the external broker.
    pub acks: u64,
    /// Submissions whose durability failed (their messages stay unacknowledged
    /// and the bridge reconnects so the broker redelivers them).
    pub sink_failures: u64,
    /// The last connection or sink error, if any.
    pub last_error: Option<String>,
}

impl BridgeMetrics {
    /// The count of rejections for `reason`.
    pub fn rejected(&self, reason: RejectReason) -> u64 {
        self.rejected
            .iter()
            .find(|(name, _)| *name == reason.as_str())
            .map_or(0, |(_, n)| *n)
    }

    /// Appends the Prometheus text lines of this bridge, labelled
    /// `bridge="{bridge}"`, to `out` (`# HELP`/`# TYPE` lines are the caller's,
    /// once for all bridges: see [`BridgeMetrics::prometheus_header`]).
    pub fn render_prometheus(&self, bridge: &str, out: &mut String) {
        // Bridge names are validated to [A-Za-z0-9_-], so no label escaping.
        let mut line = |name: &str, extra: &str, value: u64| {
            let _ = writeln!(
                out,
                "twinspace_bridge_{name}{{bridge=\"{bridge}\"{extra}}} {value}"
            );
        };
        line("connected", "", u64::from(self.connected));
        line("connects_total", "", self.connects);
        line("reconnects_total", "", self.reconnects);
        line("connect_failures_total", "", self.connect_failures);
        line("disconnects_total", "", self.disconnects);
        line("messages_in_total", "", self.messages_in);
        line("qos0_dropped_total", "", self.qos0_dropped);
        line("mapped_total", "", self.mapped);
        line("unmatched_total", "", self.unmatched);
        for (reason, count) in &self.rejected {
            line("rejected_total", &format!(",reason=\"{reason}\""), *count);
        }
        line("dead_letters_total", "", self.dead_letters);
        line("dead_letters_dropped_total", "", self.dead_letters_dropped);
        line("echoes_total", "", self.echoes);
        line("acks_total", "", self.acks);
        line("sink_failures_total", "", self.sink_failures);
        line("has_error", "", u64::from(self.last_error.is_some()));
    }

    /// The `# HELP` and `# TYPE` lines of every bridge metric.
    pub fn prometheus_header(out: &mut String) {
        for (name, kind, help) in [
            (
                "connected",
                "gauge",
                "1 while connected to the external broker",
            ),
            ("connects_total", "counter", "Successful connections"),
            (
                "reconnects_total",
                "counter",
                "Successful connections after the first",
            ),
            (
                "connect_failures_total",
                "counter",
                "Failed connection attempts",
            ),
            (
                "disconnects_total",
                "counter",
                "Established connections lost",
            ),
            ("messages_in_total", "counter", "PUBLISH packets received"),
            (
                "qos0_dropped_total",
                "counter",
                "QoS 0 messages dropped, queue full",
            ),
            (
                "mapped_total",
                "counter",
                "Messages that became accepted twin updates",
            ),
            (
                "unmatched_total",
                "counter",
                "Messages no mapping rule is about",
            ),
            ("rejected_total", "counter", "Rejected messages by reason"),
            ("dead_letters_total", "counter", "Dead letters published"),
            (
                "dead_letters_dropped_total",
                "counter",
                "Dead letters dropped, queue full",
            ),
            (
                "acks_total",
                "counter",
                "QoS 1 messages acknowledged after durability",
            ),
            (
                "sink_failures_total",
                "counter",
                "Submissions whose durability failed",
            ),
            (
                "has_error",
                "gauge",
                "1 once an error happened (see the log for it)",
            ),
        ] {
            let _ = writeln!(out, "# HELP twinspace_bridge_{name} {help}");
            let _ = writeln!(out, "# TYPE twinspace_bridge_{name} {kind}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_labelled_lines() {
        let counters = Counters::default();
        Counters::add(&counters.connects, 3);
        counters.reject(RejectReason::NotJson);
        counters.reject(RejectReason::NotJson);
        counters.set_error(&"x".repeat(2 * LAST_ERROR_CHARS_MAX));
        let snapshot = counters.snapshot();
        assert_eq!(snapshot.reconnects, 2);
        assert_eq!(snapshot.rejected(RejectReason::NotJson), 2);
        assert_eq!(
            snapshot.last_error.as_ref().map(|e| e.len()),
            Some(LAST_ERROR_CHARS_MAX)
        );
        let mut out = String::new();
        BridgeMetrics::prometheus_header(&mut out);
        snapshot.render_prometheus("plant-a", &mut out);
        assert!(out.contains("twinspace_bridge_connects_total{bridge=\"plant-a\"} 3\n"));
        assert!(out.contains(
            "twinspace_bridge_rejected_total{bridge=\"plant-a\",reason=\"not_json\"} 2\n"
        ));
        assert!(out.contains("# TYPE twinspace_bridge_connected gauge\n"));
        assert!(out.contains("twinspace_bridge_has_error{bridge=\"plant-a\"} 1\n"));
    }
}
