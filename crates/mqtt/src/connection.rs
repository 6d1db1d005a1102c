//! One client connection: CONNECT and authentication, then a reader (this
//! task: decodes a read's worth of packets, checks access, routes, maps and
//! submits the batch to the sink), a writer task (control packets first, then
//! the session's queue, batched into few socket writes) and an acknowledger
//! task (waits for each batch's durability, then sends its PUBACKs in order).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::num::NonZeroU16;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use ingest::{MapOutcome, Mapper, RejectReason, Rejection, TwinUpdate};
use rmqtt_codec::types::Publish;
use tokio::sync::{Notify, Semaphore, mpsc};
use world::Timestamp;

use crate::auth::Access;
use crate::broker::{Delivery, Message, Session, SessionState, Shared, may_publish, may_subscribe};
use crate::metrics::Counters;
use crate::protocol::{self, Codec, ConnectInfo, DecodeFailure, Inbound, Outbound, qos_of, reason};
use crate::sink::Durable;
use crate::topic::{SubOptions, check_filter, check_name};
use crate::transport::{READ_BYTES, Reader, Writer};

/// Control packets waiting for the writer; the reader waits when it is full,
/// which slows a client that floods requests without reading answers.
const CONTROL_QUEUE_MAX: usize = 1024;
/// Bytes the writer gathers before one socket write.
const WRITE_BYTES_BATCH: usize = 64 * 1024;
/// PUBLISHes mapped into one sink submission: bounds the batch when a client
/// sends faster than one read at a time can show.
const SUBMIT_BATCH_MAX: usize = 4096;
/// Longest client id accepted (MQTT 3.1.1 only promises 23; clients use more).
const CLIENT_ID_CHARS_MAX: usize = 256;
/// How long a closing connection waits for its writer to flush final packets.
const CLOSE_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// How another party closes a connection: a session take-over or shutdown.
pub(crate) struct Closer {
    notify: Notify,
    reason: AtomicU8,
}

impl Closer {
    pub(crate) fn close(&self, reason: u8) {
        self.reason.store(reason, Ordering::SeqCst);
        self.notify.notify_one();
    }
}

enum Control {
    Packet(Outbound),
    /// Retained messages for a new subscription, queued after its SUBACK.
    Retained(Vec<Delivery>),
    /// Send DISCONNECT with this reason (MQTT 5) and close.
    Close(u8),
}

struct Ack {
    packet_id: u16,
    qos: u8,
    reason: u8,
    update: Option<usize>,
    /// Whether this PUBLISH took one of the inflight permits (given back once
    /// acknowledged); refusals and QoS 2 repeats take none.
    holds_permit: bool,
}

struct AckGroup {
    durable: Option<Durable>,
    acks: Vec<Ack>,
}

/// A PUBLISH that became an update, kept until the sink has answered.
struct Origin {
    topic: bytestring::ByteString,
    payload: Bytes,
}

fn now() -> Timestamp {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    Timestamp(i64::try_from(nanos).unwrap_or(i64::MAX))
}

/// Runs one connection to its end.
pub(crate) async fn serve<R: Reader, W: Writer>(
    shared: Arc<Shared>,
    mut reader: R,
    mut writer: W,
    peer: SocketAddr,
) {
    let mut buf = BytesMut::with_capacity(READ_BYTES);
    let deadline = tokio::time::Instant::now() + shared.limits.connect_timeout();
    let Some((codec, connect)) = read_connect(&shared, &mut reader, &mut buf, deadline).await
    else {
        writer.close().await;
        return;
    };
    let Some(connection) = accept(&shared, codec, *connect, &mut writer).await else {
        writer.close().await;
        return;
    };
    tracing::debug!(%peer, client_id = %connection.client_id, "MQTT client connected");
    connection.run(reader, writer, buf).await;
}

/// Reads until the CONNECT packet is complete; `None` closes the connection.
async fn read_connect<R: Reader>(
    shared: &Shared,
    reader: &mut R,
    buf: &mut BytesMut,
    deadline: tokio::time::Instant,
) -> Option<(Codec, Box<ConnectInfo>)> {
    let mut codec = None;
    loop {
        if codec.is_none() {
            match protocol::detect(buf, shared.limits.packet_bytes_max) {
                Ok(found) => codec = found,
                Err(_) => {
                    Counters::add(&shared.counters.disconnects_protocol, 1);
                    return None;
                }
            }
        }
        if let Some(codec_ref) = codec.as_mut() {
            match codec_ref.decode(buf) {
                Ok(Some(Inbound::Connect(connect))) => return codec.map(|c| (c, connect)),
                Ok(Some(_)) | Err(_) => {
                    Counters::add(&shared.counters.disconnects_protocol, 1);
                    return None;
                }
                Ok(None) => {}
            }
        }
        match tokio::time::timeout_at(deadline, reader.read(buf)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => return None,
        }
    }
}

/// Authenticates, sets up the session and answers CONNACK.
async fn accept<W: Writer>(
    shared: &Arc<Shared>,
    codec: Codec,
    connect: ConnectInfo,
    writer: &mut W,
) -> Option<Connection> {
    let v5 = connect.v5;
    let mut encoder = encoder_like(&codec, connect.max_packet_size);
    let refuse = |reason: u8| Outbound::ConnAck {
        session_present: false,
        reason,
        assigned_client_id: None,
        session_expiry_secs: None,
        keep_alive_secs: None,
        receive_max: shared.limits.inflight_max,
        packet_bytes_max: shared.limits.packet_bytes_max,
    };
    let mut out = BytesMut::new();
    let mut answer = |packet: Outbound, out: &mut BytesMut| encoder.encode(packet, out);

    let Some(access) = shared
        .authenticator
        .authenticate(connect.username.as_deref(), connect.password.as_deref())
    else {
        Counters::add(&shared.counters.connections_refused_auth, 1);
        answer(refuse(reason::BAD_USER_OR_PASSWORD), &mut out);
        let _ = writer.write(&out).await;
        return None;
    };
    let mut client_id = connect.client_id.clone();
    let mut assigned = None;
    if client_id.is_empty() {
        if !v5 && !connect.clean_start {
            answer(refuse(reason::CLIENT_ID_NOT_VALID), &mut out);
            let _ = writer.write(&out).await;
            return None;
        }
        client_id = format!("auto-{:016x}", rand::random::<u64>());
        assigned = v5.then(|| client_id.clone());
    }
    if client_id.chars().count() > CLIENT_ID_CHARS_MAX {
        answer(refuse(reason::CLIENT_ID_NOT_VALID), &mut out);
        let _ = writer.write(&out).await;
        return None;
    }
    let mapper = shared.mapper();
    if let Some(will) = &connect.will
        && (check_name(&will.topic, &shared.limits).is_err()
            || !may_publish(
                &access,
                &will.topic,
                mapper.world_of(&will.topic).flatten().as_ref(),
            ))
    {
        Counters::add(&shared.counters.connections_refused_auth, 1);
        answer(refuse(reason::NOT_AUTHORIZED), &mut out);
        let _ = writer.write(&out).await;
        return None;
    }

    // Sessions are keyed by who the token says the client is *and* its id, so a
    // client id can never reach another principal's session.
    let key = format!("{}\u{0}{}", access.principal, client_id);
    let connection_id = shared.next_id();
    let closer = Arc::new(Closer {
        notify: Notify::new(),
        reason: AtomicU8::new(reason::SUCCESS),
    });
    let mut discarded = None;
    let found = {
        let mut sessions = shared.sessions.lock();
        let existing = sessions.get(&key).cloned();
        if let Some(old) = &existing
            && let Some((_, old_closer)) = old.state.lock().owner.take()
        {
            old_closer.close(reason::SESSION_TAKEN_OVER);
        }
        match existing {
            Some(old) if !connect.clean_start => Some((old, true)),
            existing => 'new: {
                if let Some(old) = existing {
                    sessions.remove(&key);
                    discarded = Some(old);
                } else if sessions.len() >= shared.limits.sessions_max {
                    break 'new None;
                }
                let session = Arc::new(Session {
                    id: shared.next_id(),
                    key: key.clone(),
                    state: parking_lot::Mutex::new(SessionState {
                        queue: Default::default(),
                        queue_bytes: 0,
                        inflight: Default::default(),
                        next_packet_id: 0,
                        subscriptions: Default::default(),
                        owner: None,
                        session_expiry_secs: 0,
                        offline_since: None,
                        receive_max: u16::MAX,
                        max_packet_size: None,
                    }),
                    wake: Notify::new(),
                });
                sessions.insert(key.clone(), session.clone());
                Some((session, false))
            }
        }
    };
    let Some((session, session_present)) = found else {
        answer(
            refuse(if v5 {
                reason::QUOTA_EXCEEDED
            } else {
                reason::SERVER_BUSY
            }),
            &mut out,
        );
        let _ = writer.write(&out).await;
        return None;
    };
    if let Some(old) = discarded {
        shared.drop_session(&old);
    }
    shared.index_session(&session);
    {
        let mut state = session.state.lock();
        state.owner = Some((connection_id, closer.clone()));
        state.offline_since = None;
        state.session_expiry_secs = connect.session_expiry_secs;
        state.receive_max = connect.receive_max;
        state.max_packet_size = connect.max_packet_size;
        // Unacknowledged deliveries of a resumed session are sent again first.
        let resend: Vec<Delivery> = std::mem::take(&mut state.inflight).into_values().collect();
        for mut delivery in resend.into_iter().rev() {
            delivery.dup = true;
            state.queue_bytes += delivery.message.topic.len() + delivery.message.payload.len();
            state.queue.push_front(delivery);
        }
    }

    let requested = connect.keep_alive_secs;
    let max = shared.limits.keep_alive_max_secs;
    let granted = if requested == 0 || requested > max {
        max
    } else {
        requested
    };
    answer(
        Outbound::ConnAck {
            session_present,
            reason: reason::SUCCESS,
            assigned_client_id: assigned,
            session_expiry_secs: (v5
                && connect.session_expiry_secs > shared.limits.session_expiry_max_secs)
                .then_some(shared.limits.session_expiry_max_secs),
            keep_alive_secs: (v5 && granted != requested).then_some(granted),
            receive_max: shared.limits.inflight_max,
            packet_bytes_max: shared.limits.packet_bytes_max,
        },
        &mut out,
    );
    if writer.write(&out).await.is_err() {
        release_session(shared, &session, connection_id);
        return None;
    }
    Some(Connection {
        shared: shared.clone(),
        codec,
        encoder: Some(encoder_like_for(
            v5,
            connect.max_packet_size,
            shared.limits.packet_bytes_max,
        )),
        v5,
        client_id,
        access,
        session,
        connection_id,
        closer,
        idle: Duration::from_millis(u64::from(granted) * 1500),
        will: connect.will,
        mapper,
        permits: Arc::new(Semaphore::new(usize::from(shared.limits.inflight_max))),
        qos2_received: HashSet::new(),
        updates: Vec::new(),
        origins: Vec::new(),
        acks: Vec::new(),
        arrival: now(),
    })
}

fn encoder_like(codec: &Codec, client_max: Option<u32>) -> Codec {
    encoder_like_for(codec.is_v5(), client_max, 0)
}

fn encoder_like_for(v5: bool, client_max: Option<u32>, inbound_max: u32) -> Codec {
    if v5 {
        Codec::V5(rmqtt_codec::v5::Codec::new(
            inbound_max,
            client_max.unwrap_or(0),
        ))
    } else {
        Codec::V3(rmqtt_codec::v3::Codec::new(inbound_max))
    }
}

/// Marks a session offline (or forgets it) when its connection ends.
fn release_session(shared: &Shared, session: &Arc<Session>, connection_id: u64) {
    let mut state = session.state.lock();
    if state
        .owner
        .as_ref()
        .is_none_or(|(id, _)| *id != connection_id)
    {
        // Taken over: the new connection owns it now.
        return;
    }
    state.owner = None;
    if state.session_expiry_secs == 0 {
        drop(state);
        shared.drop_session(session);
        return;
    }
    state.offline_since = Some(Instant::now());
    // QoS 0 messages are not kept for an offline session.
    let kept: std::collections::VecDeque<Delivery> =
        state.queue.drain(..).filter(|d| d.qos > 0).collect();
    state.queue_bytes = kept
        .iter()
        .map(|d| d.message.topic.len() + d.message.payload.len())
        .sum();
    state.queue = kept;
}

enum Flow {
    Continue,
    /// Close with this MQTT 5 reason; `normal` when the client asked to.
    Close {
        reason: u8,
        normal: bool,
        with_will: bool,
    },
}

struct Connection {
    shared: Arc<Shared>,
    codec: Codec,
    encoder: Option<Codec>,
    v5: bool,
    client_id: String,
    access: Access,
    session: Arc<Session>,
    connection_id: u64,
    closer: Arc<Closer>,
    idle: Duration,
    will: Option<protocol::Will>,
    mapper: Arc<Mapper>,
    permits: Arc<Semaphore>,
    qos2_received: HashSet<u16>,
    updates: Vec<TwinUpdate>,
    origins: Vec<Origin>,
    acks: Vec<Ack>,
    arrival: Timestamp,
}

impl Connection {
    async fn run<R: Reader, W: Writer>(mut self, mut reader: R, writer: W, mut buf: BytesMut) {
        let (control, control_rx) = mpsc::channel(CONTROL_QUEUE_MAX);
        let (ack_tx, ack_rx) = mpsc::channel(usize::from(self.shared.limits.inflight_max));
        let writer_done = Arc::new(Notify::new());
        let writer_task = tokio::spawn(write_loop(
            self.shared.clone(),
            self.session.clone(),
            self.encoder
                .take()
                .unwrap_or_else(|| encoder_like_for(self.v5, None, 0)),
            writer,
            control_rx,
            self.closer.clone(),
            writer_done.clone(),
        ));
        let ack_task = tokio::spawn(ack_loop(
            self.shared.clone(),
            ack_rx,
            control.clone(),
            self.permits.clone(),
        ));

        let outcome = 'connection: loop {
            self.mapper = self.shared.mapper();
            self.arrival = now();
            loop {
                let packet = match self.codec.decode(&mut buf) {
                    Ok(Some(packet)) => packet,
                    Ok(None) => break,
                    Err(DecodeFailure::TooLarge { size, max }) => {
                        tracing::debug!(client_id = %self.client_id, size, max, "MQTT packet too large");
                        Counters::add(&self.shared.counters.disconnects_packet_too_large, 1);
                        break 'connection Flow::Close {
                            reason: reason::PACKET_TOO_LARGE,
                            normal: false,
                            with_will: true,
                        };
                    }
                    Err(DecodeFailure::Malformed(error)) => {
                        tracing::debug!(client_id = %self.client_id, %error, "malformed MQTT packet");
                        Counters::add(&self.shared.counters.disconnects_protocol, 1);
                        break 'connection Flow::Close {
                            reason: reason::MALFORMED,
                            normal: false,
                            with_will: true,
                        };
                    }
                };
                match self.handle(packet, &control, &ack_tx).await {
                    Flow::Continue => {}
                    close => break 'connection close,
                }
                if self.updates.len() + self.acks.len() >= SUBMIT_BATCH_MAX
                    && !self.flush(&ack_tx).await
                {
                    break 'connection Flow::Close {
                        reason: reason::UNSPECIFIED,
                        normal: false,
                        with_will: true,
                    };
                }
            }
            if !self.flush(&ack_tx).await {
                break Flow::Close {
                    reason: reason::UNSPECIFIED,
                    normal: false,
                    with_will: true,
                };
            }
            // A publisher whose socket always has data would otherwise keep this
            // worker until tokio's budget runs out (a hundred reads), and the
            // writers it woke, parked in this worker's next-task slot that other
            // workers cannot steal, would wait that long.
            tokio::task::yield_now().await;
            let read = tokio::select! {
                read = tokio::time::timeout(self.idle, reader.read(&mut buf)) => read,
                _ = writer_done.notified() => break Flow::Close { reason: reason::SUCCESS, normal: false, with_will: true },
            };
            match read {
                Err(_) => {
                    Counters::add(&self.shared.counters.disconnects_keep_alive, 1);
                    break Flow::Close {
                        reason: reason::KEEP_ALIVE_TIMEOUT,
                        normal: false,
                        with_will: true,
                    };
                }
                Ok(Ok(0)) | Ok(Err(_)) => {
                    break Flow::Close {
                        reason: reason::SUCCESS,
                        normal: false,
                        with_will: true,
                    };
                }
                Ok(Ok(_)) => {}
            }
        };

        let Flow::Close {
            reason,
            normal,
            with_will,
        } = outcome
        else {
            return;
        };
        // Acknowledgements already promised go out before the DISCONNECT.
        drop(ack_tx);
        let _ = tokio::time::timeout(CLOSE_FLUSH_TIMEOUT, ack_task).await;
        if !normal && reason != reason::SUCCESS {
            let _ = control.send(Control::Close(reason)).await;
        }
        drop(control);
        let _ = tokio::time::timeout(CLOSE_FLUSH_TIMEOUT, writer_task).await;
        if !normal && reason != reason::SUCCESS {
            // The offender may still be sending (the rest of an oversized
            // packet): closing with unread bytes would reset the connection and
            // could destroy the DISCONNECT before the client reads it. Read and
            // discard a bounded amount first.
            linger(&mut reader, &mut buf).await;
        }
        if with_will && let Some(will) = self.will.take() {
            let message = Arc::new(Message {
                topic: will.topic,
                payload: will.payload,
                properties: None,
                from: self.session.id,
            });
            if will.retain {
                self.shared.retain(&message, will.qos.min(1));
            }
            Counters::add(&self.shared.counters.wills_published, 1);
            self.shared.route(message, will.qos.min(1), will.retain);
        }
        release_session(&self.shared, &self.session, self.connection_id);
        tracing::debug!(client_id = %self.client_id, reason, "MQTT client disconnected");
    }

    async fn handle(
        &mut self,
        packet: Inbound,
        control: &mpsc::Sender<Control>,
        ack_tx: &mpsc::Sender<AckGroup>,
    ) -> Flow {
        let packet_name = match &packet {
            Inbound::Unexpected(name) => Some(*name),
            _ => None,
        };
        let send =
            |packet: Outbound| async move { control.send(Control::Packet(packet)).await.is_ok() };
        let closed = Flow::Close {
            reason: reason::SUCCESS,
            normal: false,
            with_will: true,
        };
        match packet {
            Inbound::Publish(publish) => self.on_publish(publish, ack_tx).await,
            Inbound::PubAck(packet_id) => {
                self.session.state.lock().inflight.remove(&packet_id);
                self.session.wake.notify_one();
                Flow::Continue
            }
            Inbound::PubRel(packet_id) => {
                self.qos2_received.remove(&packet_id);
                if send(Outbound::PubComp { packet_id }).await {
                    Flow::Continue
                } else {
                    closed
                }
            }
            // The broker never sends QoS 2, so PUBREC and PUBCOMP answer nothing.
            Inbound::PubRec | Inbound::PubComp => Flow::Continue,
            Inbound::Subscribe {
                packet_id,
                filters,
                has_id,
            } => {
                let (reasons, retained) = self.subscribe(filters, has_id);
                if !send(Outbound::SubAck { packet_id, reasons }).await {
                    return closed;
                }
                if !retained.is_empty() && control.send(Control::Retained(retained)).await.is_err()
                {
                    return closed;
                }
                Flow::Continue
            }
            Inbound::Unsubscribe { packet_id, filters } => {
                let mut reasons = Vec::with_capacity(filters.len());
                for filter in filters {
                    let existed = self
                        .session
                        .state
                        .lock()
                        .subscriptions
                        .remove(&filter)
                        .is_some();
                    if existed {
                        self.shared.trie.write().remove(&filter, self.session.id);
                    }
                    reasons.push(if existed { reason::SUCCESS } else { 0x11 });
                }
                if send(Outbound::UnsubAck { packet_id, reasons }).await {
                    Flow::Continue
                } else {
                    closed
                }
            }
            Inbound::PingReq => {
                if send(Outbound::PingResp).await {
                    Flow::Continue
                } else {
                    closed
                }
            }
            Inbound::Disconnect {
                with_will,
                session_expiry_secs,
            } => {
                if let Some(secs) = session_expiry_secs {
                    self.session.state.lock().session_expiry_secs = secs;
                }
                Flow::Close {
                    reason: reason::SUCCESS,
                    normal: true,
                    with_will,
                }
            }
            Inbound::Connect(_) | Inbound::Unexpected(_) => {
                let what = match &packet_name {
                    Some(name) => *name,
                    None => "a second CONNECT",
                };
                tracing::debug!(client_id = %self.client_id, packet = what, "MQTT protocol error");
                Counters::add(&self.shared.counters.disconnects_protocol, 1);
                Flow::Close {
                    reason: reason::PROTOCOL_ERROR,
                    normal: false,
                    with_will: true,
                }
            }
        }
    }

    async fn on_publish(&mut self, publish: Box<Publish>, ack_tx: &mpsc::Sender<AckGroup>) -> Flow {
        let shared = self.shared.clone();
        let counters = &shared.counters;
        Counters::add(&counters.publishes_received, 1);
        let Publish {
            retain,
            qos,
            topic,
            packet_id,
            payload,
            properties,
            ..
        } = *publish;
        // No topic aliases are offered (CONNACK says 0), so any alias is an error.
        if properties.as_ref().is_some_and(|p| p.topic_alias.is_some()) {
            Counters::add(&counters.disconnects_protocol, 1);
            return Flow::Close {
                reason: reason::TOPIC_ALIAS_INVALID,
                normal: false,
                with_will: true,
            };
        }
        if let Err(problem) = check_name(&topic, &self.shared.limits) {
            tracing::debug!(client_id = %self.client_id, %problem, "PUBLISH refused");
            Counters::add(&counters.disconnects_protocol, 1);
            return Flow::Close {
                reason: reason::TOPIC_NAME_INVALID,
                normal: false,
                with_will: true,
            };
        }
        let qos = match qos {
            rmqtt_codec::types::QoS::AtMostOnce => 0u8,
            rmqtt_codec::types::QoS::AtLeastOnce => 1,
            rmqtt_codec::types::QoS::ExactlyOnce => 2,
        };
        let packet_id = packet_id.map_or(0, NonZeroU16::get);
        if qos == 2 && !self.qos2_received.insert(packet_id) {
            // A resent QoS 2 PUBLISH before PUBREL: already handled, answer again.
            self.acks.push(Ack {
                packet_id,
                qos,
                reason: reason::SUCCESS,
                update: None,
                holds_permit: false,
            });
            return Flow::Continue;
        }
        // Mapping is pure and cheap: done first, so that the access check sees
        // the world the message would change.
        let outcome = self.mapper.map(&topic, &payload, self.arrival);
        let mapped_world = match &outcome {
            MapOutcome::Mapped(update) => Some(&update.world),
            MapOutcome::Rejected(rejection) => rejection.world.as_ref(),
            MapOutcome::Unmatched => None,
        };
        if !may_publish(&self.access, &topic, mapped_world) {
            Counters::add(&counters.publishes_denied, 1);
            tracing::debug!(client_id = %self.client_id, topic = %topic, "PUBLISH not authorized");
            if qos == 2 {
                self.qos2_received.remove(&packet_id);
            }
            if self.v5 && qos > 0 {
                self.acks.push(Ack {
                    packet_id,
                    qos,
                    reason: reason::NOT_AUTHORIZED,
                    update: None,
                    holds_permit: false,
                });
                return Flow::Continue;
            }
            // MQTT 3.1.1 has no negative acknowledgement: closing is the answer
            // the specification allows besides silently dropping.
            return Flow::Close {
                reason: reason::NOT_AUTHORIZED,
                normal: false,
                with_will: true,
            };
        }
        if qos > 0 {
            match self.permits.clone().try_acquire_owned() {
                Ok(permit) => permit.forget(),
                Err(_) if self.v5 => {
                    Counters::add(&counters.disconnects_protocol, 1);
                    return Flow::Close {
                        reason: reason::RECEIVE_MAXIMUM_EXCEEDED,
                        normal: false,
                        with_will: true,
                    };
                }
                Err(_) => {
                    // MQTT 3.1.1 has no receive maximum: wait (the client's
                    // further packets wait in the socket) until acks go out.
                    if !self.flush(ack_tx).await {
                        return Flow::Close {
                            reason: reason::UNSPECIFIED,
                            normal: false,
                            with_will: true,
                        };
                    }
                    match self.permits.clone().acquire_owned().await {
                        Ok(permit) => permit.forget(),
                        Err(_) => {
                            return Flow::Close {
                                reason: reason::UNSPECIFIED,
                                normal: false,
                                with_will: true,
                            };
                        }
                    }
                }
            }
        }
        let forwarded = properties.map(|mut p| {
            p.topic_alias = None;
            p.subscription_ids.clear();
            p
        });
        let message = Arc::new(Message {
            topic: topic.clone(),
            payload: payload.clone(),
            properties: forwarded,
            from: self.session.id,
        });
        let mut ack_reason = reason::SUCCESS;
        if retain && !self.shared.retain(&message, qos.min(1)) {
            ack_reason = reason::QUOTA_EXCEEDED;
        }
        self.shared.route(message, qos.min(1), retain);
        let mut update = None;
        match outcome {
            MapOutcome::Mapped(mapped) => {
                update = Some(self.updates.len());
                self.updates.push(mapped);
                self.origins.push(Origin { topic, payload });
            }
            MapOutcome::Rejected(rejection) => {
                self.shared.dead_letter(&rejection, &topic, &payload);
                ack_reason = reason::PAYLOAD_FORMAT_INVALID;
            }
            MapOutcome::Unmatched => Counters::add(&counters.messages_unmatched, 1),
        }
        if qos > 0 {
            self.acks.push(Ack {
                packet_id,
                qos,
                reason: ack_reason,
                update,
                holds_permit: true,
            });
        }
        Flow::Continue
    }

    fn subscribe(
        &mut self,
        filters: Vec<protocol::SubscribeRequest>,
        has_id: bool,
    ) -> (Vec<u8>, Vec<Delivery>) {
        let mut reasons = Vec::with_capacity(filters.len());
        let mut retained = Vec::new();
        for request in filters {
            let code = if has_id {
                reason::SUBSCRIPTION_IDS_NOT_SUPPORTED
            } else if request.filter.starts_with("$share/") {
                reason::SHARED_SUBSCRIPTIONS_NOT_SUPPORTED
            } else if check_filter(&request.filter, &self.shared.limits).is_err() {
                reason::TOPIC_FILTER_INVALID
            } else if !may_subscribe(&self.access, &request.filter) {
                Counters::add(&self.shared.counters.subscribes_denied, 1);
                reason::NOT_AUTHORIZED
            } else {
                let granted = request.qos.min(1);
                let options = SubOptions {
                    qos: granted,
                    no_local: request.no_local,
                    retain_as_published: request.retain_as_published,
                };
                let mut state = self.session.state.lock();
                let is_new = !state.subscriptions.contains_key(&request.filter);
                if is_new
                    && state.subscriptions.len() >= self.shared.limits.subscriptions_per_client_max
                {
                    reason::QUOTA_EXCEEDED
                } else {
                    state.subscriptions.insert(request.filter.clone(), options);
                    drop(state);
                    self.shared
                        .trie
                        .write()
                        .insert(&request.filter, self.session.id, options);
                    if request.retain_handling == 0 || (request.retain_handling == 1 && is_new) {
                        for (message, qos) in self.shared.retained_matching(&request.filter) {
                            if !(options.no_local && message.from == self.session.id) {
                                retained.push(Delivery {
                                    message,
                                    qos: qos.min(granted),
                                    retain: true,
                                    dup: false,
                                });
                            }
                        }
                    }
                    granted
                }
            };
            reasons.push(code);
        }
        (reasons, retained)
    }

    /// Submits the batch of mapped updates and queues its acknowledgements.
    /// False when the connection must close.
    async fn flush(&mut self, ack_tx: &mpsc::Sender<AckGroup>) -> bool {
        let mut durable = None;
        if !self.updates.is_empty() {
            let updates = std::mem::take(&mut self.updates);
            let origins = std::mem::take(&mut self.origins);
            let count = updates.len() as u64;
            let submitted = self.shared.sink.submit(updates);
            Counters::add(
                &self.shared.counters.updates_mapped,
                count - submitted.refused.len() as u64,
            );
            for (index, detail) in &submitted.refused {
                let Some(origin) = origins.get(*index) else {
                    continue;
                };
                let rejection = Rejection {
                    rule: "sink".into(),
                    reason: RejectReason::Refused,
                    detail: detail.clone(),
                    world: None,
                    dead_letter: self.mapper.dead_letter_of(&origin.topic),
                };
                self.shared
                    .dead_letter(&rejection, &origin.topic, &origin.payload);
                for ack in self.acks.iter_mut().filter(|a| a.update == Some(*index)) {
                    ack.reason = reason::IMPLEMENTATION_SPECIFIC;
                }
            }
            durable = submitted.durable;
        }
        if self.acks.is_empty() {
            // QoS 0 only: nothing waits for durability; the sink keeps going.
            return true;
        }
        let acks = std::mem::take(&mut self.acks);
        ack_tx.send(AckGroup { durable, acks }).await.is_ok()
    }
}

/// How long and how much a closing connection reads and discards.
const LINGER_TIME: Duration = Duration::from_millis(200);
const LINGER_BYTES_MAX: usize = 1024 * 1024;

async fn linger<R: Reader>(reader: &mut R, buf: &mut BytesMut) {
    let deadline = tokio::time::Instant::now() + LINGER_TIME;
    let mut discarded = 0;
    while discarded < LINGER_BYTES_MAX {
        buf.clear();
        match tokio::time::timeout_at(deadline, reader.read(buf)).await {
            Ok(Ok(n)) if n > 0 => discarded += n,
            _ => return,
        }
    }
}

async fn ack_loop(
    shared: Arc<Shared>,
    mut groups: mpsc::Receiver<AckGroup>,
    control: mpsc::Sender<Control>,
    permits: Arc<Semaphore>,
) {
    while let Some(group) = groups.recv().await {
        if let Some(durable) = group.durable
            && let Err(error) = durable.await
        {
            // Not durable: no PUBACK. Closing makes the client resend after it
            // reconnects, which is what "nothing acknowledged is lost" needs.
            tracing::warn!(%error, "ingest not durable; closing the publisher's connection");
            Counters::add(&shared.counters.sink_failures, 1);
            let _ = control
                .send(Control::Close(reason::IMPLEMENTATION_SPECIFIC))
                .await;
            return;
        }
        let count = group.acks.iter().filter(|ack| ack.holds_permit).count();
        for ack in group.acks {
            let packet = if ack.qos == 2 {
                Outbound::PubRec {
                    packet_id: ack.packet_id,
                    reason: ack.reason,
                }
            } else {
                Outbound::PubAck {
                    packet_id: ack.packet_id,
                    reason: ack.reason,
                }
            };
            if control.send(Control::Packet(packet)).await.is_err() {
                return;
            }
        }
        permits.add_permits(count);
    }
}

async fn write_loop<W: Writer>(
    shared: Arc<Shared>,
    session: Arc<Session>,
    mut codec: Codec,
    mut writer: W,
    mut control: mpsc::Receiver<Control>,
    closer: Arc<Closer>,
    done: Arc<Notify>,
) {
    let mut out = BytesMut::with_capacity(WRITE_BYTES_BATCH);
    let mut closing: Option<u8> = None;
    let mut stop = shared.shutdown.subscribe();
    let v5 = codec.is_v5();
    loop {
        // Control packets (CONNACK answers, acks) go before queued messages.
        loop {
            match control.try_recv() {
                Ok(Control::Packet(packet)) => codec.encode(packet, &mut out),
                Ok(Control::Retained(deliveries)) => queue_retained(&shared, &session, deliveries),
                Ok(Control::Close(reason)) => {
                    closing = Some(reason);
                    break;
                }
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    // The reader is gone; a reason it sent before stays.
                    closing.get_or_insert(reason::SUCCESS);
                    break;
                }
            }
        }
        if closing.is_none() {
            let delivered = drain_queue(&shared, &session, &mut codec, &mut out, v5);
            Counters::add(&shared.counters.messages_delivered, delivered);
        }
        if !out.is_empty() {
            if writer.write(&out).await.is_err() {
                break;
            }
            out.clear();
            continue;
        }
        if let Some(reason) = closing {
            if reason != reason::SUCCESS {
                codec.encode(Outbound::Disconnect { reason }, &mut out);
                let _ = writer.write(&out).await;
            }
            break;
        }
        if shared.shutting_down.load(Ordering::Relaxed) {
            closing = Some(reason::SERVER_SHUTTING_DOWN);
            continue;
        }
        tokio::select! {
            biased;
            packet = control.recv() => match packet {
                Some(Control::Packet(packet)) => codec.encode(packet, &mut out),
                Some(Control::Retained(deliveries)) => queue_retained(&shared, &session, deliveries),
                Some(Control::Close(reason)) => closing = Some(reason),
                None => { closing.get_or_insert(reason::SUCCESS); }
            },
            _ = closer.notify.notified() => closing = Some(closer.reason.load(Ordering::SeqCst)),
            _ = stop.wait_for(|stopped| *stopped) => closing = Some(reason::SERVER_SHUTTING_DOWN),
            _ = session.wake.notified() => {}
        }
    }
    writer.close().await;
    done.notify_one();
}

/// Puts a new subscription's retained messages at the front of the queue (they
/// follow its SUBACK), within the queue's limits: a `#` subscription on a broker
/// with many retained messages gets as many as its queue holds, the rest are
/// dropped and counted like any message for a full queue.
fn queue_retained(shared: &Shared, session: &Session, deliveries: Vec<Delivery>) {
    let mut state = session.state.lock();
    let room_messages = shared
        .limits
        .queue_messages_max
        .saturating_sub(state.queue.len());
    let mut room_bytes = shared
        .limits
        .queue_bytes_max
        .saturating_sub(state.queue_bytes);
    let mut kept = Vec::new();
    let (mut dropped_qos0, mut dropped_qos1) = (0, 0);
    for delivery in deliveries {
        let size = delivery.message.topic.len() + delivery.message.payload.len();
        if kept.len() < room_messages && size <= room_bytes {
            room_bytes -= size;
            kept.push(delivery);
        } else if delivery.qos == 0 {
            dropped_qos0 += 1;
        } else {
            dropped_qos1 += 1;
        }
    }
    for delivery in kept.into_iter().rev() {
        state.queue_bytes += delivery.message.topic.len() + delivery.message.payload.len();
        state.queue.push_front(delivery);
    }
    drop(state);
    Counters::add(&shared.counters.qos0_dropped, dropped_qos0);
    Counters::add(&shared.counters.qos1_dropped, dropped_qos1);
}

/// Encodes queued deliveries into `out` up to the write batch, respecting the
/// QoS 1 window; returns how many were encoded.
fn drain_queue(
    shared: &Shared,
    session: &Session,
    codec: &mut Codec,
    out: &mut BytesMut,
    v5: bool,
) -> u64 {
    let mut state = session.state.lock();
    let window = usize::from(shared.limits.inflight_max.min(state.receive_max));
    let mut count = 0;
    while out.len() < WRITE_BYTES_BATCH {
        let Some(front) = state.queue.front() else {
            break;
        };
        if front.qos > 0 && state.inflight.len() >= window {
            break;
        }
        let Some(delivery) = state.queue.pop_front() else {
            break;
        };
        let size = delivery.message.topic.len() + delivery.message.payload.len();
        state.queue_bytes = state.queue_bytes.saturating_sub(size);
        // MQTT 5 clients state the largest packet they take; larger ones are
        // dropped for them, as the specification says.
        if let Some(max) = state.max_packet_size
            && size + 16 > max as usize
        {
            continue;
        }
        let packet_id = if delivery.qos > 0 {
            let id = Session::next_packet_id(&mut state);
            state.inflight.insert(id, delivery.clone());
            NonZeroU16::new(id)
        } else {
            None
        };
        let message = &delivery.message;
        codec.encode_publish(
            Publish {
                dup: delivery.dup,
                retain: delivery.retain,
                qos: qos_of(delivery.qos),
                topic: message.topic.clone(),
                packet_id,
                payload: message.payload.clone(),
                properties: if v5 {
                    Some(message.properties.clone().unwrap_or_default())
                } else {
                    None
                },
            },
            out,
        );
        count += 1;
    }
    count
}
