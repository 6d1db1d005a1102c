//! The running bridge: two tokio tasks joined by a queue.
//!
//! The network task owns rumqttc's `EventLoop` and is the only code that polls
//! it. It connects (with exponential back-off after failures), subscribes when
//! the broker has no session for us, and forwards every PUBLISH, tagged with
//! the connection's generation, to the processor. It never waits for the
//! processor (the queue is counted, QoS 0 overflow is dropped, QoS 1 overflow
//! drops the connection so the broker redelivers), so the processor's
//! acknowledgements always drain and the two cannot deadlock. A poll is only
//! ever cancelled when the connection is being dropped anyway.
//!
//! The processor maps each batch through the `ingest::Mapper`, hands the
//! updates to the `mqtt::Sink` and keeps the batch's QoS 1 messages until the
//! sink's `Durable` resolves; batches complete in order, so acknowledgements go
//! out in the order the broker sent the messages. An acknowledgement is sent
//! only on the connection the message arrived on: after a reconnect the broker
//! redelivers what was not acknowledged, so a stale packet id is never acked.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use ingest::{MapOutcome, Mapper, RejectReason, Rejection};
use mqtt::{Sink, SinkError};
use parking_lot::{Mutex, RwLock};
use rumqttc::{TlsConfiguration, Transport};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use world::Timestamp;

use crate::client::{Client, Connection, NetEvent, Received};
use crate::config::{Backoff, BridgeConfig, Protocol};
use crate::metrics::{BridgeMetrics, Counters};
use crate::{BridgeError, tls};

/// Bytes of a rejected payload copied into its dead-letter record (the same
/// cut as the embedded broker's): enough to see what was wrong.
const DEAD_LETTER_PAYLOAD_BYTES_MAX: usize = 4 * 1024;
/// How every dead-letter record starts (its first member is the topic), so
/// that only such payloads are parsed to recognise the bridge's own.
const DEAD_LETTER_PREFIX: &str = "{\"topic\":";
/// Submissions waiting for durability at once; beyond it the processor stops
/// taking messages until the oldest completes (the queue then fills and its
/// limits apply).
const BATCHES_PENDING_MAX: usize = 256;
/// Requests (acknowledgements, subscriptions, dead letters) queued for the
/// network task beyond the inflight window: room for a batch's dead letters.
const REQUESTS_EXTRA: usize = 256;
/// Longest wait for the DISCONNECT to be written at shutdown.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Seconds to wait for the TCP, TLS and CONNACK exchange of one attempt.
const CONNECT_TIMEOUT_SECS: u64 = 10;

/// Starts bridges; see [`Bridge::spawn`].
pub struct Bridge;

/// A running bridge. Dropping it stops the bridge as [`BridgeHandle::shutdown`]
/// does, without waiting.
pub struct BridgeHandle {
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    processor: Mutex<Option<JoinHandle<()>>>,
}

/// State both tasks and the handle see.
struct Shared {
    name: String,
    counters: Counters,
    mapper: RwLock<Arc<Mapper>>,
    /// Bumped whenever a connection ends: acknowledgements of messages from an
    /// older connection are not sent.
    generation: AtomicU64,
    /// Messages forwarded by the network task and not yet taken by the
    /// processor.
    queued: AtomicUsize,
}

/// What the processor asks of the network task.
enum Control {
    /// Drop the connection (the sink failed): the broker redelivers what was
    /// not acknowledged after the bridge reconnects.
    Reconnect,
    /// Send DISCONNECT after the queued acknowledgements, then stop.
    Shutdown,
}

/// One PUBLISH on its way to the processor.
struct Arrived {
    publish: Received,
    generation: u64,
}

impl Bridge {
    /// Validates `config`, builds its TLS settings and starts the bridge on the
    /// current tokio runtime. Connection problems are not errors here: the
    /// bridge retries with back-off and shows them in its metrics.
    pub fn spawn(
        config: BridgeConfig,
        mapper: Mapper,
        sink: Arc<dyn Sink>,
    ) -> Result<BridgeHandle, BridgeError> {
        config.validate()?;
        let (client, eventloop) = connect_options(&config)?;
        let shared = Arc::new(Shared {
            name: config.name.clone(),
            counters: Counters::default(),
            mapper: RwLock::new(Arc::new(mapper)),
            generation: AtomicU64::new(0),
            queued: AtomicUsize::new(0),
        });
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (arrived_tx, arrived_rx) = mpsc::unbounded_channel();
        let (control_tx, control_rx) = mpsc::unbounded_channel();
        let network = tokio::spawn(
            Network {
                shared: shared.clone(),
                config: config.clone(),
                client: client.clone(),
                eventloop,
                arrived: arrived_tx,
                control: control_rx,
                subscribed_once: false,
                connected: false,
                failures_in_row: 0,
                pause_due: false,
                last_loss_forced: false,
            }
            .run(),
        );
        let processor = tokio::spawn(
            Processor {
                shared: shared.clone(),
                config,
                client,
                sink,
                control: control_tx,
                pending: FuturesOrdered::new(),
                qos1_held: 0,
                reconnect_asked_for: None,
            }
            .run(arrived_rx, shutdown_rx, network),
        );
        Ok(BridgeHandle {
            shared,
            shutdown,
            processor: Mutex::new(Some(processor)),
        })
    }
}

impl BridgeHandle {
    /// The bridge's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// A snapshot of the bridge's counters.
    pub fn metrics(&self) -> BridgeMetrics {
        self.shared.counters.snapshot()
    }

    /// Replaces the mapping rules for messages that arrive from now on.
    pub fn set_mapper(&self, mapper: Mapper) {
        *self.shared.mapper.write() = Arc::new(mapper);
    }

    /// Stops taking messages, waits (up to `limits.shutdown_grace_ms`) for what
    /// the sink took to become durable and acknowledges it, then disconnects
    /// cleanly. Messages not durable by then stay unacknowledged, and the
    /// broker redelivers them to the next bridge with this client id.
    pub async fn shutdown(&self) {
        let _ = self.shutdown.send(true);
        let task = self.processor.lock().take();
        if let Some(task) = task
            && let Err(error) = task.await
        {
            tracing::error!(bridge = %self.shared.name, %error, "bridge task ended abnormally");
        }
    }
}

impl Drop for BridgeHandle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// rumqttc's client and event loop for the configuration's protocol version.
fn connect_options(config: &BridgeConfig) -> Result<(Client, Connection), BridgeError> {
    let endpoint = config.endpoint()?;
    let password = match (&config.password, &config.password_env) {
        (Some(password), _) => Some(password.clone()),
        (None, Some(variable)) => {
            Some(std::env::var(variable).map_err(|_| BridgeError::Config {
                bridge: config.name.clone(),
                field: "password_env".into(),
                message: format!("environment variable '{variable}' is not set (or not UTF-8)"),
            })?)
        }
        (None, None) => None,
    };
    let transport = if endpoint.tls {
        let tls = config.tls.clone().unwrap_or_default();
        let client_config = tls::client_config(&config.name, &tls)?;
        Some(Transport::tls_with_config(TlsConfiguration::Rustls(
            Arc::new(client_config),
        )))
    } else {
        None
    };
    // Requests are acknowledgements (at most the inflight window), one
    // SUBSCRIBE, dead letters and the DISCONNECT.
    let requests = usize::from(config.limits.inflight_max) + REQUESTS_EXTRA;
    Ok(match config.protocol {
        Protocol::V311 => {
            let mut options =
                rumqttc::MqttOptions::new(config.client_id(), endpoint.host, endpoint.port);
            options.set_keep_alive(config.keep_alive());
            options.set_clean_session(config.clean_start);
            options.set_manual_acks(true);
            // Outgoing packets are only acks, subscriptions and dead letters: a
            // dead letter holds at most a 4 KiB payload cut plus topic and detail.
            options.set_max_packet_size(config.limits.packet_bytes_max, 64 * 1024);
            // Only dead letters are published, at QoS 0: the window is never
            // used, but it sizes rumqttc's table of outgoing packet ids.
            options.set_inflight(config.limits.inflight_max);
            if let Some(username) = &config.username {
                options.set_credentials(username.clone(), password.unwrap_or_default());
            }
            if let Some(transport) = transport {
                options.set_transport(transport);
            }
            let (client, eventloop) = rumqttc::AsyncClient::new(options, requests);
            (Client::V4(client), Connection::V4(Box::new(eventloop)))
        }
        Protocol::V5 => {
            let mut options =
                rumqttc::v5::MqttOptions::new(config.client_id(), endpoint.host, endpoint.port);
            options.set_keep_alive(config.keep_alive());
            options.set_clean_start(config.clean_start);
            // MQTT 5 ends a session at disconnect unless told otherwise; a
            // persistent session never expires on our side (the broker may
            // cap it).
            if !config.clean_start {
                options.set_session_expiry_interval(Some(u32::MAX));
            }
            options.set_manual_acks(true);
            // Flow control the protocol enforces: the broker sends at most
            // this many unacknowledged QoS 1 messages, and none larger than
            // the packet limit (it drops those instead of breaking the link).
            options.set_receive_maximum(Some(config.limits.inflight_max));
            options.set_max_packet_size(Some(
                u32::try_from(config.limits.packet_bytes_max).unwrap_or(u32::MAX),
            ));
            if let Some(username) = &config.username {
                options.set_credentials(username.clone(), password.unwrap_or_default());
            }
            if let Some(transport) = transport {
                options.set_transport(transport);
            }
            let (client, eventloop) = rumqttc::v5::AsyncClient::new(options, requests);
            (Client::V5(client), Connection::V5(Box::new(eventloop)))
        }
    })
}

fn now() -> Timestamp {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    Timestamp(i64::try_from(nanos).unwrap_or(i64::MAX))
}

/// The wait before attempt number `failures` + 1: `initial · 2^(failures-1)`,
/// capped at `max`, spread by ±`jitter` (`unit_random` is uniform in [0, 1)).
fn backoff_delay(backoff: &Backoff, failures: u32, unit_random: f64) -> Duration {
    let exponent = failures.saturating_sub(1).min(30);
    let base = backoff
        .initial_ms
        .saturating_mul(1u64 << exponent)
        .min(backoff.max_ms) as f64;
    let spread = backoff.jitter * (2.0 * unit_random.clamp(0.0, 1.0) - 1.0);
    Duration::from_millis((base * (1.0 + spread)).max(1.0) as u64)
}

/// The task that owns the connection.
struct Network {
    shared: Arc<Shared>,
    config: BridgeConfig,
    client: Client,
    eventloop: Connection,
    arrived: mpsc::UnboundedSender<Arrived>,
    control: mpsc::UnboundedReceiver<Control>,
    /// Subscriptions are sent at the first connection of this process (the
    /// configuration may have changed since the session was made) and
    /// whenever the broker has no session for us; not on every resumed
    /// session, where subscribing again would replay retained messages.
    subscribed_once: bool,
    connected: bool,
    /// Failed attempts (and forced drops) since the last good connection.
    failures_in_row: u32,
    /// A back-off wait is due before the next attempt.
    pause_due: bool,
    /// The last connection was dropped on purpose.
    last_loss_forced: bool,
}

impl Network {
    async fn run(mut self) {
        self.eventloop.configure_network(CONNECT_TIMEOUT_SECS);
        loop {
            if self.pause_due {
                self.pause_due = false;
                self.failures_in_row = self.failures_in_row.saturating_add(1);
                let wait = backoff_delay(
                    &self.config.backoff,
                    self.failures_in_row,
                    rand::random::<f64>(),
                );
                tokio::select! {
                    biased;
                    control = self.control.recv() => match control {
                        // Already disconnected: the attempt below is the reconnect.
                        Some(Control::Reconnect) => {}
                        Some(Control::Shutdown) | None => return,
                    },
                    () = tokio::time::sleep(wait) => {}
                }
            }
            let event = tokio::select! {
                biased;
                control = self.control.recv() => match control {
                    Some(Control::Reconnect) => {
                        self.drop_connection("the sink failed; dropped the connection to have the broker redeliver");
                        continue;
                    }
                    Some(Control::Shutdown) | None => break,
                },
                event = self.eventloop.poll() => event,
            };
            match event {
                Ok(event) => self.on_event(event),
                Err(text) => {
                    if self.connected {
                        self.connection_lost(&text);
                    } else {
                        Counters::add(&self.shared.counters.connect_failures, 1);
                        self.shared.counters.set_error(&text);
                        tracing::warn!(bridge = %self.shared.name, error = %text, "cannot connect to the external MQTT broker");
                    }
                    self.pause_due = true;
                }
            }
        }
        self.disconnect().await;
    }

    /// Drops a working connection on purpose (the sink failed, or the broker
    /// overran the queue). The next attempt waits its back-off like after a
    /// failure, and the connection that follows does not reset the count, so
    /// a sink that keeps failing is retried ever more slowly, never in a loop.
    fn drop_connection(&mut self, why: &str) {
        self.connection_lost(why);
        self.pause_due = true;
        self.last_loss_forced = true;
    }

    /// Marks the connection as gone and drops it (rumqttc keeps our own
    /// unacknowledged publishes for the next connection and forgets queued
    /// acknowledgements, which the broker's redelivery makes moot).
    fn connection_lost(&mut self, why: &str) {
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
        self.eventloop.clean();
        if self.connected {
            self.connected = false;
            self.shared
                .counters
                .connected
                .store(false, Ordering::Relaxed);
            Counters::add(&self.shared.counters.disconnects, 1);
            self.shared.counters.set_error(why);
            tracing::warn!(bridge = %self.shared.name, error = %why, "lost the external MQTT broker");
        }
    }

    fn on_event(&mut self, event: NetEvent) {
        match event {
            NetEvent::Connected { session_present } => {
                self.connected = true;
                if !self.last_loss_forced {
                    self.failures_in_row = 0;
                }
                self.last_loss_forced = false;
                let counters = &self.shared.counters;
                counters.connected.store(true, Ordering::Relaxed);
                Counters::add(&counters.connects, 1);
                tracing::info!(bridge = %self.shared.name, session_present, "connected to the external MQTT broker");
                if !self.subscribed_once || !session_present {
                    self.subscribe();
                }
            }
            NetEvent::Publish(publish) => {
                let counters = &self.shared.counters;
                Counters::add(&counters.messages_in, 1);
                let queued = self.shared.queued.load(Ordering::Acquire);
                let limit = self.config.limits.queue_messages_max;
                if !publish.needs_ack() && queued >= limit {
                    Counters::add(&counters.qos0_dropped, 1);
                    return;
                }
                if queued >= limit.saturating_mul(2) {
                    // The broker sends QoS 1 faster than its flow control
                    // should allow; dropping the connection makes it keep the
                    // messages and redeliver them later.
                    self.drop_connection(
                        "the queue to the sink is full (QoS 1 beyond twice queue_messages_max)",
                    );
                    return;
                }
                self.shared.queued.fetch_add(1, Ordering::AcqRel);
                let generation = self.shared.generation.load(Ordering::SeqCst);
                // The processor ends only after this task, so sending fails
                // only while both are going away.
                let _ = self.arrived.send(Arrived {
                    publish,
                    generation,
                });
            }
            NetEvent::SubscriptionsRefused(positions) => {
                for i in positions {
                    let filter = self
                        .config
                        .subscriptions
                        .get(i)
                        .map_or("?", |s| s.filter.as_str());
                    let text = format!("the broker refused the subscription to '{filter}'");
                    self.shared.counters.set_error(&text);
                    tracing::warn!(bridge = %self.shared.name, filter, "{text}");
                }
            }
            NetEvent::DisconnectSent | NetEvent::Other => {}
        }
    }

    fn subscribe(&mut self) {
        match self.client.try_subscribe(&self.config.subscriptions) {
            Ok(()) => self.subscribed_once = true,
            Err(error) => {
                // Only a full request queue makes this fail; reconnecting
                // retries the subscription.
                let text = format!("cannot queue the subscriptions: {error}");
                self.drop_connection(&text);
            }
        }
    }

    /// Sends DISCONNECT after whatever is queued (acknowledgements first) and
    /// waits, bounded, until it is written.
    async fn disconnect(mut self) {
        if !self.connected {
            return;
        }
        if !self.client.try_disconnect() {
            return;
        }
        let written = tokio::time::timeout(DISCONNECT_TIMEOUT, async {
            loop {
                match self.eventloop.poll().await {
                    Ok(NetEvent::DisconnectSent) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
        if written.is_err() {
            tracing::warn!(bridge = %self.shared.name, "DISCONNECT not written in time; closing the socket");
        }
        self.shared
            .counters
            .connected
            .store(false, Ordering::Relaxed);
        tracing::info!(bridge = %self.shared.name, "disconnected from the external MQTT broker");
    }
}

/// A submission waiting for durability, with the QoS 1 messages it settles.
type Settling = Pin<Box<dyn Future<Output = (Result<(), SinkError>, Vec<Arrived>)> + Send>>;

/// The task that maps, submits and acknowledges.
struct Processor {
    shared: Arc<Shared>,
    config: BridgeConfig,
    client: Client,
    sink: Arc<dyn Sink>,
    control: mpsc::UnboundedSender<Control>,
    pending: FuturesOrdered<Settling>,
    /// QoS 1 messages taken and not yet settled.
    qos1_held: usize,
    /// The generation a reconnect was last asked for, so one failing
    /// connection asks once.
    reconnect_asked_for: Option<u64>,
}

impl Processor {
    async fn run(
        mut self,
        mut arrived: mpsc::UnboundedReceiver<Arrived>,
        mut shutdown: watch::Receiver<bool>,
        network: JoinHandle<()>,
    ) {
        let batch_max = self.config.limits.batch_messages_max;
        let mut batch = Vec::with_capacity(batch_max);
        loop {
            let may_take = self.qos1_held < usize::from(self.config.limits.inflight_max)
                && self.pending.len() < BATCHES_PENDING_MAX;
            tokio::select! {
                biased;
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
                Some((result, settled)) = self.pending.next(), if !self.pending.is_empty() => {
                    self.settle(result, settled).await;
                }
                taken = arrived.recv_many(&mut batch, batch_max), if may_take => {
                    if taken == 0 {
                        break;
                    }
                    self.shared.queued.fetch_sub(taken, Ordering::AcqRel);
                    self.process(std::mem::take(&mut batch));
                }
            }
        }
        // Settle what the sink took, within the grace period, so that it is
        // acknowledged before the DISCONNECT.
        let grace = Duration::from_millis(self.config.limits.shutdown_grace_ms);
        let drained = tokio::time::timeout(grace, async {
            while let Some((result, settled)) = self.pending.next().await {
                self.settle(result, settled).await;
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(bridge = %self.shared.name, waiting = self.qos1_held, "shutdown grace over; unacknowledged messages will be redelivered");
        }
        let _ = self.control.send(Control::Shutdown);
        if let Err(error) = network.await {
            tracing::error!(bridge = %self.shared.name, %error, "bridge network task ended abnormally");
        }
    }

    /// Maps a batch, submits its updates and queues its settlement.
    fn process(&mut self, batch: Vec<Arrived>) {
        let counters = &self.shared.counters;
        let mapper = self.shared.mapper.read().clone();
        let arrival = now();
        let mut updates = Vec::new();
        // For each update: the message it came from (topic and payload are
        // needed again if the sink refuses it).
        let mut origins: Vec<usize> = Vec::new();
        let mut rejections: VecDeque<(Rejection, usize)> = VecDeque::new();
        for (i, arrived) in batch.iter().enumerate() {
            let publish = &arrived.publish;
            if self.is_own_dead_letter(publish.payload()) {
                Counters::add(&counters.echoes, 1);
                continue;
            }
            let Some(topic) = publish.topic() else {
                Counters::add(&counters.unmatched, 1);
                continue;
            };
            match mapper.map(topic, publish.payload(), arrival) {
                MapOutcome::Unmatched => Counters::add(&counters.unmatched, 1),
                MapOutcome::Mapped(update) => {
                    updates.push(update);
                    origins.push(i);
                }
                MapOutcome::Rejected(rejection) => rejections.push_back((rejection, i)),
            }
        }
        let mut durable = None;
        if !updates.is_empty() {
            let rules: Vec<_> = updates
                .iter()
                .map(|u| (u.rule.clone(), u.world.clone()))
                .collect();
            let submitted = self.sink.submit(updates);
            Counters::add(
                &counters.mapped,
                (rules.len().saturating_sub(submitted.refused.len())) as u64,
            );
            for (index, reason) in submitted.refused {
                let (Some((rule, world)), Some(origin)) = (rules.get(index), origins.get(index))
                else {
                    continue;
                };
                let topic = batch[*origin].publish.topic().unwrap_or_default();
                rejections.push_back((
                    Rejection {
                        rule: rule.clone(),
                        reason: RejectReason::Refused,
                        detail: reason,
                        world: Some(world.clone()),
                        dead_letter: mapper.dead_letter_of(topic),
                    },
                    *origin,
                ));
            }
            durable = submitted.durable;
        }
        for (rejection, origin) in rejections {
            let publish = &batch[origin].publish;
            self.reject(
                &rejection,
                publish.topic().unwrap_or_default(),
                publish.payload(),
            );
        }
        let settles: Vec<Arrived> = batch
            .into_iter()
            .filter(|a| a.publish.needs_ack())
            .collect();
        if settles.is_empty() && durable.is_none() {
            return;
        }
        self.qos1_held += settles.len();
        self.pending.push_back(Box::pin(async move {
            let result = match durable {
                Some(durable) => durable.await,
                None => Ok(()),
            };
            (result, settles)
        }));
    }

    /// Whether `payload` is a dead-letter record this bridge published. When
    /// the subscriptions cover the dead-letter topics, the bridge receives its
    /// own records back; mapping them could reject them again and publish
    /// dead letters of dead letters without end.
    fn is_own_dead_letter(&self, payload: &[u8]) -> bool {
        if !payload.starts_with(DEAD_LETTER_PREFIX.as_bytes()) {
            return false;
        }
        serde_json::from_slice::<serde_json::Value>(payload).is_ok_and(|record| {
            record.get("bridge").and_then(|b| b.as_str()) == Some(self.shared.name.as_str())
                && record.get("reason").is_some()
        })
    }

    /// Counts a rejection and publishes its dead letter.
    fn reject(&self, rejection: &Rejection, topic: &str, payload: &[u8]) {
        let counters = &self.shared.counters;
        counters.reject(rejection.reason);
        tracing::debug!(bridge = %self.shared.name, rule = %rejection.rule, reason = %rejection.reason, detail = %rejection.detail, topic, "rejected bridged message");
        let Some(dead_topic) = &rejection.dead_letter else {
            return;
        };
        if !self.config.dead_letters {
            return;
        }
        let shown = &payload[..payload.len().min(DEAD_LETTER_PAYLOAD_BYTES_MAX)];
        let record = serde_json::json!({
            "topic": topic,
            "rule": &*rejection.rule,
            "reason": rejection.reason.as_str(),
            "detail": rejection.detail,
            "payload": String::from_utf8_lossy(shown),
            "payloadBytes": payload.len(),
            "bridge": self.shared.name,
        });
        if self.client.try_publish(dead_topic, record.to_string()) {
            Counters::add(&counters.dead_letters, 1);
        } else {
            Counters::add(&counters.dead_letters_dropped, 1);
        }
    }

    /// Acknowledges a settled submission's QoS 1 messages, or, when the sink
    /// failed, has the connection dropped so the broker redelivers them.
    async fn settle(&mut self, result: Result<(), SinkError>, settled: Vec<Arrived>) {
        self.qos1_held = self.qos1_held.saturating_sub(settled.len());
        let counters = &self.shared.counters;
        let current = self.shared.generation.load(Ordering::SeqCst);
        match result {
            Ok(()) => {
                for arrived in settled {
                    if arrived.generation != current {
                        continue;
                    }
                    // The network task always drains requests, so this waits
                    // at most for room in the queue.
                    if self.client.ack(&arrived.publish).await {
                        Counters::add(&counters.acks, 1);
                    }
                }
            }
            Err(error) => {
                Counters::add(&counters.sink_failures, 1);
                let text = error.to_string();
                counters.set_error(&text);
                tracing::error!(bridge = %self.shared.name, error = %text, "sink failed; reconnecting so the broker redelivers");
                if self.reconnect_asked_for != Some(current) {
                    self.reconnect_asked_for = Some(current);
                    let _ = self.control.send(Control::Reconnect);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitter_spreads_it() {
        let backoff = Backoff {
            initial_ms: 100,
            max_ms: 1_000,
            jitter: 0.0,
        };
        let ms = |failures, r| backoff_delay(&backoff, failures, r).as_millis();
        assert_eq!(
            (1..=6).map(|n| ms(n, 0.5)).collect::<Vec<_>>(),
            vec![100, 200, 400, 800, 1_000, 1_000]
        );
        assert_eq!(ms(u32::MAX, 0.5), 1_000, "no overflow after many failures");
        let jittery = Backoff {
            jitter: 0.2,
            ..backoff
        };
        let ms = |r| backoff_delay(&jittery, 1, r).as_millis();
        assert_eq!((ms(0.0), ms(0.5), ms(0.999_999)), (80, 100, 119));
    }
}
