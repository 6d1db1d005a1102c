//! The broker's shared state and its public face, [`Broker`]: sessions,
//! the subscription trie, retained messages, routing of messages to
//! subscribers' bounded queues, dead letters, and the listeners.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use bytestring::ByteString;
use ingest::{Mapper, Rejection};
use parking_lot::{Mutex, RwLock};
use rmqtt_codec::v5::PublishProperties;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::auth::{Access, Authenticator};
use crate::config::Limits;
use crate::metrics::{Counters, Metrics};
use crate::sink::Sink;
use crate::topic::{SubOptions, Trie, matches};
use crate::{MqttError, transport};

/// How often offline sessions are checked for expiry.
const SESSION_SWEEP_INTERVAL: Duration = Duration::from_secs(10);
/// Largest original payload copied into a dead-letter record; the record says
/// how long the original was.
const DEAD_LETTER_PAYLOAD_BYTES_MAX: usize = 4 * 1024;

/// A message as routed: shared by every subscriber it goes to.
pub(crate) struct Message {
    pub topic: ByteString,
    pub payload: Bytes,
    /// MQTT 5 properties to forward (alias and subscription ids removed).
    pub properties: Option<PublishProperties>,
    /// The publishing session (for MQTT 5 no-local), 0 for the broker itself.
    pub from: u64,
}

impl Message {
    fn size(&self) -> usize {
        self.topic.len() + self.payload.len()
    }
}

/// One message queued for one session.
#[derive(Clone)]
pub(crate) struct Delivery {
    pub message: Arc<Message>,
    pub qos: u8,
    pub retain: bool,
    pub dup: bool,
}

/// What a session holds across connections.
pub(crate) struct SessionState {
    pub queue: VecDeque<Delivery>,
    pub queue_bytes: usize,
    /// Outbound QoS 1 deliveries awaiting the client's PUBACK.
    pub inflight: BTreeMap<u16, Delivery>,
    pub next_packet_id: u16,
    pub subscriptions: HashMap<String, SubOptions>,
    /// The connection that owns the session now, if any, and how to close it.
    pub owner: Option<(u64, Arc<crate::connection::Closer>)>,
    pub session_expiry_secs: u32,
    pub offline_since: Option<Instant>,
    /// The client's own limits (MQTT 5), for deliveries.
    pub receive_max: u16,
    pub max_packet_size: Option<u32>,
}

/// A session: the client's subscriptions and queue, kept per principal and
/// client id.
pub(crate) struct Session {
    pub id: u64,
    pub key: String,
    pub state: Mutex<SessionState>,
    /// Wakes the connection's writer when something was queued or acknowledged.
    pub wake: Notify,
}

impl Session {
    pub(crate) fn next_packet_id(state: &mut SessionState) -> u16 {
        loop {
            state.next_packet_id = state.next_packet_id.wrapping_add(1);
            let id = state.next_packet_id;
            if id != 0 && !state.inflight.contains_key(&id) {
                return id;
            }
        }
    }
}

struct Retained {
    messages: HashMap<String, (Arc<Message>, u8)>,
    bytes: usize,
}

/// The state every connection shares.
pub(crate) struct Shared {
    pub limits: Limits,
    pub authenticator: Arc<dyn Authenticator>,
    pub sink: Arc<dyn Sink>,
    pub mapper: RwLock<Arc<Mapper>>,
    pub counters: Counters,
    pub sessions: Mutex<HashMap<String, Arc<Session>>>,
    pub trie: RwLock<Trie>,
    /// Sessions by id, for routing (the trie holds ids).
    by_id: RwLock<HashMap<u64, Arc<Session>>>,
    retained: Mutex<Retained>,
    next_id: AtomicU64,
    pub shutting_down: AtomicBool,
    /// Turns true once, at shutdown; every loop that must stop watches it.
    pub shutdown: tokio::sync::watch::Sender<bool>,
    sweeper_started: AtomicBool,
}

impl Shared {
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn mapper(&self) -> Arc<Mapper> {
        self.mapper.read().clone()
    }

    /// Sends `message` to every matching subscription. Never blocks on a
    /// subscriber: a full queue drops the message for that subscriber (counted).
    pub(crate) fn route(&self, message: Arc<Message>, qos: u8, retain: bool) {
        let mut targets: Vec<(u64, SubOptions)> = Vec::new();
        let trie = self.trie.read();
        trie.for_each_match(&message.topic, &mut |session, options| {
            // Overlapping subscriptions of one session get the message once, at
            // the highest QoS granted among them.
            match targets.iter_mut().find(|(s, _)| *s == session) {
                Some((_, existing)) => existing.qos = existing.qos.max(options.qos),
                None => targets.push((session, options)),
            }
        });
        drop(trie);
        if targets.is_empty() {
            return;
        }
        let sessions = self.sessions_by_id(&targets);
        for ((_, options), session) in targets.iter().zip(sessions) {
            let Some(session) = session else { continue };
            if options.no_local && message.from == session.id {
                continue;
            }
            let delivery = Delivery {
                message: message.clone(),
                qos: qos.min(options.qos),
                retain: retain && options.retain_as_published,
                dup: false,
            };
            self.enqueue(&session, delivery);
        }
    }

    fn sessions_by_id(&self, targets: &[(u64, SubOptions)]) -> Vec<Option<Arc<Session>>> {
        let index = self.by_id.read();
        targets
            .iter()
            .map(|(id, _)| index.get(id).cloned())
            .collect()
    }

    /// Queues a delivery for a session, within its limits.
    pub(crate) fn enqueue(&self, session: &Session, delivery: Delivery) {
        let size = delivery.message.size();
        let mut state = session.state.lock();
        if state.owner.is_none() && delivery.qos == 0 {
            // QoS 0 is not kept for offline sessions, as the specification allows.
            return;
        }
        if state.queue.len() >= self.limits.queue_messages_max
            || state.queue_bytes + size > self.limits.queue_bytes_max
        {
            drop(state);
            let counter = if delivery.qos == 0 {
                &self.counters.qos0_dropped
            } else {
                &self.counters.qos1_dropped
            };
            Counters::add(counter, 1);
            return;
        }
        state.queue_bytes += size;
        state.queue.push_back(delivery);
        let online = state.owner.is_some();
        drop(state);
        if online {
            session.wake.notify_one();
        }
    }

    /// Stores or clears (empty payload) the retained message of a topic.
    /// False when the retained store is full.
    pub(crate) fn retain(&self, message: &Arc<Message>, qos: u8) -> bool {
        let mut retained = self.retained.lock();
        let topic = message.topic.to_string();
        if let Some((old, _)) = retained.messages.remove(&topic) {
            retained.bytes -= old.size();
        }
        if message.payload.is_empty() {
            return true;
        }
        if retained.messages.len() >= self.limits.retained_max
            || retained.bytes + message.size() > self.limits.retained_bytes_max
        {
            return false;
        }
        retained.bytes += message.size();
        retained.messages.insert(topic, (message.clone(), qos));
        true
    }

    /// Retained messages matching a filter.
    pub(crate) fn retained_matching(&self, filter: &str) -> Vec<(Arc<Message>, u8)> {
        self.retained
            .lock()
            .messages
            .iter()
            .filter(|(topic, _)| matches(filter, topic))
            .map(|(_, (message, qos))| (message.clone(), *qos))
            .collect()
    }

    /// Publishes a rejected message's record on its rule's dead-letter topic.
    pub(crate) fn dead_letter(&self, rejection: &Rejection, topic: &str, payload: &[u8]) {
        self.counters.reject(rejection.reason);
        tracing::debug!(rule = %rejection.rule, reason = %rejection.reason, detail = %rejection.detail, topic, "rejected MQTT message");
        let Some(dead_topic) = &rejection.dead_letter else {
            return;
        };
        if crate::topic::check_name(dead_topic, &self.limits).is_err() {
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
        });
        let message = Message {
            topic: ByteString::from(dead_topic.as_str()),
            payload: Bytes::from(record.to_string()),
            properties: None,
            from: 0,
        };
        Counters::add(&self.counters.dead_letters, 1);
        self.route(Arc::new(message), 0, false);
    }

    /// Adds a session to the id index.
    pub(crate) fn index_session(&self, session: &Arc<Session>) {
        self.by_id.write().insert(session.id, session.clone());
    }

    /// Forgets a session: its subscriptions, its queue, its index entry.
    pub(crate) fn drop_session(&self, session: &Arc<Session>) {
        let filters: Vec<String> = session
            .state
            .lock()
            .subscriptions
            .drain()
            .map(|(f, _)| f)
            .collect();
        {
            let mut trie = self.trie.write();
            for filter in &filters {
                trie.remove(filter, session.id);
            }
        }
        self.by_id.write().remove(&session.id);
        let mut sessions = self.sessions.lock();
        if sessions
            .get(&session.key)
            .is_some_and(|s| s.id == session.id)
        {
            sessions.remove(&session.key);
        }
    }

    fn sweep_expired(&self) {
        let now = Instant::now();
        let expired: Vec<Arc<Session>> = self
            .sessions
            .lock()
            .values()
            .filter(|session| {
                let state = session.state.lock();
                state.owner.is_none()
                    && state.offline_since.is_some_and(|since| {
                        now.duration_since(since).as_secs()
                            >= u64::from(
                                state
                                    .session_expiry_secs
                                    .min(self.limits.session_expiry_max_secs),
                            )
                    })
            })
            .cloned()
            .collect();
        for session in expired {
            self.drop_session(&session);
        }
    }
}

/// The embedded MQTT broker. Cloning gives another handle to the same broker.
#[derive(Clone)]
pub struct Broker {
    shared: Arc<Shared>,
}

impl Broker {
    /// A broker with these limits, checking credentials with `authenticator`,
    /// mapping with `mapper` and applying updates through `sink`. It listens
    /// once [`Broker::listen_tcp`] or [`Broker::listen_ws`] is called.
    pub fn new(
        limits: Limits,
        authenticator: Arc<dyn Authenticator>,
        sink: Arc<dyn Sink>,
        mapper: Mapper,
    ) -> Result<Broker, MqttError> {
        limits.validate()?;
        Ok(Broker {
            shared: Arc::new(Shared {
                limits,
                authenticator,
                sink,
                mapper: RwLock::new(Arc::new(mapper)),
                counters: Counters::default(),
                sessions: Mutex::new(HashMap::new()),
                by_id: RwLock::new(HashMap::new()),
                trie: RwLock::new(Trie::default()),
                retained: Mutex::new(Retained {
                    messages: HashMap::new(),
                    bytes: 0,
                }),
                next_id: AtomicU64::new(1),
                shutting_down: AtomicBool::new(false),
                shutdown: tokio::sync::watch::Sender::new(false),
                sweeper_started: AtomicBool::new(false),
            }),
        })
    }

    /// Replaces the mapping rules; connections use the new ones from their next
    /// message on.
    pub fn set_mapper(&self, mapper: Mapper) {
        *self.shared.mapper.write() = Arc::new(mapper);
    }

    /// A snapshot of the counters.
    pub fn metrics(&self) -> Metrics {
        self.shared.counters.snapshot()
    }

    /// Publishes a message from the server itself (event routes): no access
    /// check and no mapping, delivered like any other.
    pub fn publish(
        &self,
        topic: &str,
        payload: Bytes,
        qos: u8,
        retain: bool,
    ) -> Result<(), String> {
        crate::topic::check_name(topic, &self.shared.limits)?;
        let message = Arc::new(Message {
            topic: ByteString::from(topic),
            payload,
            properties: None,
            from: 0,
        });
        if retain && !self.shared.retain(&message, qos.min(1)) {
            return Err("the retained store is full".into());
        }
        self.shared.route(message, qos.min(1), retain);
        Ok(())
    }

    /// Accepts MQTT over TCP on `address` (port 0 picks a free one) until
    /// [`Broker::shutdown`]; returns the bound address.
    pub async fn listen_tcp(&self, address: SocketAddr) -> Result<SocketAddr, MqttError> {
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| MqttError::Bind {
                what: "TCP",
                address: address.to_string(),
                source,
            })?;
        let bound = listener.local_addr().map_err(|source| MqttError::Bind {
            what: "TCP",
            address: address.to_string(),
            source,
        })?;
        self.start_sweeper();
        tokio::spawn(transport::accept_loop(self.shared.clone(), listener, false));
        Ok(bound)
    }

    /// Accepts MQTT over WebSocket (subprotocol `mqtt`) on `address`.
    pub async fn listen_ws(&self, address: SocketAddr) -> Result<SocketAddr, MqttError> {
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| MqttError::Bind {
                what: "WebSocket",
                address: address.to_string(),
                source,
            })?;
        let bound = listener.local_addr().map_err(|source| MqttError::Bind {
            what: "WebSocket",
            address: address.to_string(),
            source,
        })?;
        self.start_sweeper();
        tokio::spawn(transport::accept_loop(self.shared.clone(), listener, true));
        Ok(bound)
    }

    /// Stops accepting, and closes every connection (MQTT 5 clients are told
    /// "server shutting down"). Sessions and retained messages stay in memory.
    pub fn shutdown(&self) {
        self.shared.shutting_down.store(true, Ordering::SeqCst);
        self.shared.shutdown.send_replace(true);
    }

    fn start_sweeper(&self) {
        if self.shared.sweeper_started.swap(true, Ordering::SeqCst) {
            return;
        }
        let shared = Arc::downgrade(&self.shared);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SESSION_SWEEP_INTERVAL);
            loop {
                tick.tick().await;
                let Some(shared) = shared.upgrade() else {
                    return;
                };
                if shared.shutting_down.load(Ordering::Relaxed) {
                    return;
                }
                shared.sweep_expired();
            }
        });
    }
}

/// Checks whether `access` may publish to `topic` (already a valid name) whose
/// message the mapping sends to `mapped_world` (if any). Both the world the
/// topic names (`twinspace/{world}/…`) and the world a rule maps it to must be
/// granted, so a rule can never carry a message into a world its publisher may
/// not write; a topic that belongs to no world needs a grant on every world.
pub(crate) fn may_publish(
    access: &Access,
    topic: &str,
    mapped_world: Option<&world::WorldId>,
) -> bool {
    if topic.starts_with('$') {
        return false;
    }
    let topic_world = crate::topic::world_of_topic(topic);
    if let Some(world) = topic_world
        && !access.may_publish(world)
    {
        return false;
    }
    match mapped_world {
        Some(world) => access.may_publish(world.as_str()),
        None => topic_world.is_some() || access.may_publish("*"),
    }
}

/// Checks whether `access` may subscribe to `filter` (already valid).
pub(crate) fn may_subscribe(access: &Access, filter: &str) -> bool {
    match crate::topic::world_of_filter(filter) {
        Some(world) => access.may_subscribe(world),
        None => access.may_subscribe("*"),
    }
}
