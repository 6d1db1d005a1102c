//! The broker's limits. Every queue, packet and table a client can make grow has
//! a named cap here, with the reason for its default; offenders are disconnected
//! (or their messages dropped and counted) instead of growing memory.

use std::time::Duration;

use crate::MqttError;

/// Caps on what clients may make the broker hold. The defaults are safe for a
/// server on the internet and generous for plant telemetry.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "snake_case")]
pub struct Limits {
    /// Largest MQTT packet accepted (remaining length, bytes). Telemetry is small;
    /// 256 KiB leaves room for batches without letting one client pin megabytes.
    pub packet_bytes_max: u32,
    /// Messages queued for one client before QoS 0 ones are dropped (counted):
    /// a subscriber that stops reading holds at most this many.
    pub queue_messages_max: usize,
    /// Bytes of payload and topic queued for one client, for the same reason.
    pub queue_bytes_max: usize,
    /// Open connections (TCP and WebSocket together); more are refused at once.
    pub connections_max: usize,
    /// Levels in a topic name or filter.
    pub topic_levels_max: usize,
    /// Bytes in a topic name or filter.
    pub topic_bytes_max: usize,
    /// QoS 1 messages in flight per direction and client: PUBLISHes awaiting
    /// durability before PUBACK, and deliveries awaiting the client's PUBACK.
    pub inflight_max: u16,
    /// Subscriptions one session may hold.
    pub subscriptions_per_client_max: usize,
    /// Retained messages kept by the broker.
    pub retained_max: usize,
    /// Bytes of retained payloads and topics kept by the broker.
    pub retained_bytes_max: usize,
    /// Persistent sessions kept (online or offline).
    pub sessions_max: usize,
    /// Longest an offline persistent session is kept (MQTT 3.1.1 sessions never
    /// expire by the protocol; here they do, after this).
    pub session_expiry_max_secs: u32,
    /// Longest keep-alive granted; MQTT 5 clients asking for more (or for none)
    /// are told this value. MQTT 3.1.1 clients with keep-alive 0 are held to it too.
    pub keep_alive_max_secs: u16,
    /// Time a new connection has to send CONNECT.
    pub connect_timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            packet_bytes_max: 256 * 1024,
            queue_messages_max: 10_000,
            queue_bytes_max: 8 * 1024 * 1024,
            connections_max: 10_000,
            topic_levels_max: 16,
            topic_bytes_max: 512,
            inflight_max: 64,
            subscriptions_per_client_max: 256,
            retained_max: 100_000,
            retained_bytes_max: 64 * 1024 * 1024,
            sessions_max: 10_000,
            session_expiry_max_secs: 7 * 24 * 3600,
            keep_alive_max_secs: 3600,
            connect_timeout_ms: 10_000,
        }
    }
}

impl Limits {
    /// Checks that every limit has a workable value.
    pub fn validate(&self) -> Result<(), MqttError> {
        let check = |name: &'static str, value: u64, ok: bool, allowed: &'static str| {
            if ok {
                Ok(())
            } else {
                Err(MqttError::Limit {
                    name,
                    value,
                    allowed,
                })
            }
        };
        check(
            "packet_bytes_max",
            self.packet_bytes_max.into(),
            (64..=268_435_455).contains(&self.packet_bytes_max),
            "64 to 268435455 (MQTT's largest)",
        )?;
        check(
            "queue_messages_max",
            self.queue_messages_max as u64,
            self.queue_messages_max >= 1,
            "at least 1",
        )?;
        check(
            "queue_bytes_max",
            self.queue_bytes_max as u64,
            self.queue_bytes_max >= self.packet_bytes_max as usize,
            "at least packet_bytes_max",
        )?;
        check(
            "connections_max",
            self.connections_max as u64,
            self.connections_max >= 1,
            "at least 1",
        )?;
        check(
            "topic_levels_max",
            self.topic_levels_max as u64,
            (1..=128).contains(&self.topic_levels_max),
            "1 to 128",
        )?;
        check(
            "topic_bytes_max",
            self.topic_bytes_max as u64,
            (1..=65_535).contains(&self.topic_bytes_max),
            "1 to 65535",
        )?;
        check(
            "inflight_max",
            self.inflight_max.into(),
            self.inflight_max >= 1,
            "1 to 65535",
        )?;
        check(
            "keep_alive_max_secs",
            self.keep_alive_max_secs.into(),
            self.keep_alive_max_secs >= 1,
            "1 to 65535",
        )?;
        check(
            "connect_timeout_ms",
            self.connect_timeout_ms,
            self.connect_timeout_ms >= 1,
            "at least 1",
        )?;
        Ok(())
    }

    pub(crate) fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }
}
