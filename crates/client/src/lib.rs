//! A small typed client for Twinspace's live protocol (`crates/proto`): connect
//! with a token, subscribe by query, model or region, read the stream of ticks,
//! send commands (patch a property, move a twin) and presence. `View` keeps what
//! the subscriptions hold, applying snapshots and deltas, for programs that want
//! the state rather than the events. Used by the end-to-end tests and the live
//! benchmark; bots and gateways can use it as it is.
//!
//! ```no_run
//! # async fn demo() -> Result<(), twinspace_client::ClientError> {
//! use twinspace_client::{Client, Event, SubscribeExt, View};
//! let mut client = Client::connect("ws://127.0.0.1:8080/live", "tsk_...", "bot", "").await?;
//! client.subscribe(twinspace_client::subscription(1).query("SELECT * FROM DIGITALTWINS T WHERE T.temperature > 50")).await?;
//! let mut view = View::default();
//! while let Event::Tick { seq, tick } = client.next().await? {
//!     view.apply(seq, &tick);
//! }
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use prost::Message as _;
use proto::client_message::Body;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub use proto;

/// Largest frame the client accepts from a server: a tick is bounded by the
/// server's `live_tick_bytes_max` (1 MiB by default); 64 MiB leaves room for any
/// sane configuration while bounding what a broken server can make us hold.
pub const SERVER_FRAME_BYTES_MAX: usize = 64 * 1024 * 1024;
/// Server messages buffered while waiting for a reply (ticks that arrive between
/// a request and its answer). A server sends one tick per tick period, so this is
/// minutes of ticks; past it the client refuses rather than grow.
const BUFFERED_MAX: usize = 10_000;

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The WebSocket failed (connect, read or write).
    #[error("the WebSocket failed: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    /// The server closed the connection.
    #[error("the server closed the connection with code {code}: {reason}")]
    Closed {
        /// The close code (`proto::close`).
        code: u16,
        /// The server's reason.
        reason: String,
    },
    /// The server refused a request.
    #[error("the server refused the request: {code}: {message}")]
    Refused {
        /// The protocol's error code.
        code: String,
        /// What was wrong.
        message: String,
    },
    /// The server sent something that is not a `ServerMessage`.
    #[error("the server sent an undecodable frame: {0}")]
    Decode(#[from] proto::ProtoError),
    /// The server broke the protocol's order.
    #[error("protocol error: {0}")]
    Protocol(String),
}

/// Something the server sent that is not a reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// One tick of updates, bringing the client to `seq`.
    Tick {
        /// `ServerMessage.seq`.
        seq: u64,
        /// The updates.
        tick: proto::Tick,
    },
}

/// A live connection to one world.
pub struct Client {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    welcome: proto::Welcome,
    next_request: u32,
    buffered: VecDeque<proto::ServerMessage>,
    /// The newest `seq` the server reported.
    seq: u64,
}

/// A `Subscribe` with id `id` and no criteria (the whole world); narrow it with
/// the builder methods.
pub fn subscription(id: u32) -> proto::Subscribe {
    proto::Subscribe {
        subscription: id,
        ..proto::Subscribe::default()
    }
}

/// Builder methods on `Subscribe`.
pub trait SubscribeExt: Sized {
    /// Adds an ADT query (`SELECT * FROM DIGITALTWINS T WHERE ...`).
    fn query(self, text: &str) -> Self;
    /// Adds a model criterion.
    fn model(self, dtmi: &str) -> Self;
    /// Adds a region criterion.
    fn region(self, region: proto::Region) -> Self;
    /// Asks for these fields only.
    fn fields(self, names: &[&str]) -> Self;
    /// Resumes after `seq`.
    fn resume_after(self, seq: u64) -> Self;
}

impl SubscribeExt for proto::Subscribe {
    fn query(mut self, text: &str) -> Self {
        text.clone_into(&mut self.query);
        self
    }
    fn model(mut self, dtmi: &str) -> Self {
        dtmi.clone_into(&mut self.model);
        self
    }
    fn region(mut self, region: proto::Region) -> Self {
        self.region = Some(region);
        self
    }
    fn fields(mut self, names: &[&str]) -> Self {
        self.fields = names.iter().map(|n| (*n).to_owned()).collect();
        self
    }
    fn resume_after(mut self, seq: u64) -> Self {
        self.resume_after_seq = seq;
        self
    }
}

/// A sphere region.
pub fn sphere(center: [f64; 3], radius: f64) -> proto::Region {
    proto::Region {
        shape: Some(proto::region::Shape::Sphere(proto::Sphere {
            center: Some(proto::Vec3::from_array(center)),
            radius,
        })),
    }
}

/// A box region.
pub fn boxed(min: [f64; 3], max: [f64; 3]) -> proto::Region {
    proto::Region {
        shape: Some(proto::region::Shape::Box(proto::Box {
            min: Some(proto::Vec3::from_array(min)),
            max: Some(proto::Vec3::from_array(max)),
        })),
    }
}

impl Client {
    /// Connects to `url` (`ws://host:port/live` or `.../worlds/{world}/live`),
    /// says `Hello` with `token` and, when not empty, a display name and color
    /// (then the client is a participant in presence), and waits for `Welcome`.
    pub async fn connect(
        url: &str,
        token: &str,
        display_name: &str,
        color: &str,
    ) -> Result<Client, ClientError> {
        let hello = proto::Hello {
            protocol_version: proto::PROTOCOL_VERSION,
            token: token.to_owned(),
            world: String::new(),
            display_name: display_name.to_owned(),
            color: color.to_owned(),
        };
        Client::connect_with(url, hello).await
    }

    /// Connects with a hand-made `Hello` (tests use it to try bad ones).
    pub async fn connect_with(url: &str, hello: proto::Hello) -> Result<Client, ClientError> {
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(Some(SERVER_FRAME_BYTES_MAX))
            .max_frame_size(Some(SERVER_FRAME_BYTES_MAX));
        let (socket, _) =
            tokio_tungstenite::connect_async_with_config(url, Some(config), true).await?;
        let mut client = Client {
            socket,
            welcome: proto::Welcome::default(),
            next_request: 1,
            buffered: VecDeque::new(),
            seq: 0,
        };
        client
            .send_message(proto::ClientMessage {
                request_id: 0,
                body: Some(Body::Hello(hello)),
            })
            .await?;
        let first = client.receive().await?;
        match first.body {
            Some(proto::server_message::Body::Welcome(welcome)) => {
                client.seq = first.seq;
                client.welcome = welcome;
                Ok(client)
            }
            _ => Err(ClientError::Protocol(
                "the server's first message was not Welcome".into(),
            )),
        }
    }

    /// What the server said in `Welcome`.
    pub fn welcome(&self) -> &proto::Welcome {
        &self.welcome
    }

    /// The newest `seq` the server reported.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Sends a request and waits for its reply; ticks arriving meanwhile are kept
    /// for `next`.
    pub async fn request(&mut self, body: Body) -> Result<proto::Reply, ClientError> {
        let request_id = self.next_request;
        self.next_request = self.next_request.wrapping_add(1).max(1);
        self.send_message(proto::ClientMessage {
            request_id,
            body: Some(body),
        })
        .await?;
        loop {
            let message = self.receive().await?;
            match message.body {
                Some(proto::server_message::Body::Reply(reply))
                    if reply.request_id == request_id =>
                {
                    return match reply.outcome {
                        Some(proto::reply::Outcome::Error(error)) => Err(ClientError::Refused {
                            code: error.code,
                            message: error.message,
                        }),
                        _ => Ok(reply),
                    };
                }
                Some(proto::server_message::Body::Tick(_)) => {
                    if self.buffered.len() >= BUFFERED_MAX {
                        return Err(ClientError::Protocol(format!(
                            "more than {BUFFERED_MAX} ticks arrived while waiting for a reply"
                        )));
                    }
                    self.buffered.push_back(message);
                }
                _ => {}
            }
        }
    }

    /// Sends a message without waiting for a reply (`request_id` 0).
    pub async fn send(&mut self, body: Body) -> Result<(), ClientError> {
        self.send_message(proto::ClientMessage {
            request_id: 0,
            body: Some(body),
        })
        .await
    }

    /// Opens a subscription.
    pub async fn subscribe(&mut self, subscription: proto::Subscribe) -> Result<(), ClientError> {
        self.request(Body::Subscribe(subscription)).await.map(drop)
    }

    /// Ends a subscription.
    pub async fn unsubscribe(&mut self, subscription: u32) -> Result<(), ClientError> {
        self.request(Body::Unsubscribe(proto::Unsubscribe { subscription }))
            .await
            .map(drop)
    }

    /// Moves a subscription's region without waiting for the answer (viewpoints
    /// move many times a second).
    pub async fn move_region(
        &mut self,
        subscription: u32,
        region: proto::Region,
    ) -> Result<(), ClientError> {
        self.send(Body::UpdateRegion(proto::UpdateRegion {
            subscription,
            region: Some(region),
        }))
        .await
    }

    /// Replaces (or, with `add`, adds) the value at a JSON Pointer of a twin;
    /// returns the change's `seq` once it is durable.
    pub async fn patch(
        &mut self,
        twin: &str,
        path: &str,
        value: &serde_json::Value,
        add: bool,
    ) -> Result<u64, ClientError> {
        let reply = self
            .request(Body::PatchTwin(proto::PatchTwin {
                twin_id: twin.to_owned(),
                path: path.to_owned(),
                value: Some(proto::Value::from_json(value)),
                add,
                if_match: String::new(),
            }))
            .await?;
        Ok(ok_seq(&reply))
    }

    /// Moves a twin to a position (relative to its placement parent).
    pub async fn move_twin(&mut self, twin: &str, position: [f64; 3]) -> Result<u64, ClientError> {
        let reply = self
            .request(Body::MoveTwin(proto::MoveTwin {
                twin_id: twin.to_owned(),
                position: Some(proto::Vec3::from_array(position)),
                rotation: None,
            }))
            .await?;
        Ok(ok_seq(&reply))
    }

    /// Pins a note to a twin (`twin` non-empty), a point, or a point relative to
    /// a twin; returns the new annotation's id once it is stored. Needs the
    /// `operator` role.
    pub async fn create_annotation(
        &mut self,
        twin: &str,
        point: Option<[f64; 3]>,
        text: &str,
    ) -> Result<String, ClientError> {
        let reply = self
            .request(Body::CreateAnnotation(proto::CreateAnnotation {
                twin_id: twin.to_owned(),
                point: point.map(proto::Vec3::from_array),
                text: text.to_owned(),
            }))
            .await?;
        match reply.outcome {
            Some(proto::reply::Outcome::Ok(ok)) => Ok(ok.id),
            _ => Err(ClientError::Protocol(
                "CreateAnnotation was answered without an outcome".into(),
            )),
        }
    }

    /// Deletes an annotation (its author with `operator`, or an `editor`).
    pub async fn delete_annotation(&mut self, id: &str) -> Result<(), ClientError> {
        self.request(Body::DeleteAnnotation(proto::DeleteAnnotation {
            annotation_id: id.to_owned(),
        }))
        .await
        .map(drop)
    }

    /// Controls this connection's replay of recorded history (see `Replay` in
    /// `live.proto`): start or seek with `replay_start`, then pause, resume,
    /// change speed or stop with the other actions. Replay ticks arrive through
    /// `next` like live ones, with `Tick.replay` set.
    pub async fn replay(&mut self, request: proto::Replay) -> Result<(), ClientError> {
        self.request(Body::Replay(request)).await.map(drop)
    }

    /// Starts (or seeks) a replay of the world from `from_unix_ns` at `speed`
    /// times real time; its events name `subscription`.
    pub async fn replay_start(
        &mut self,
        subscription: u32,
        from_unix_ns: i64,
        speed: f64,
    ) -> Result<(), ClientError> {
        self.replay(proto::Replay {
            action: proto::replay::Action::Start.into(),
            subscription,
            from_unix_ns,
            speed,
        })
        .await
    }

    /// Updates this participant's presence.
    pub async fn set_presence(&mut self, presence: proto::SetPresence) -> Result<(), ClientError> {
        self.request(Body::SetPresence(presence)).await.map(drop)
    }

    /// Says something to everyone in the world.
    pub async fn chat(&mut self, text: &str) -> Result<(), ClientError> {
        self.request(Body::SendChat(proto::SendChat {
            text: text.to_owned(),
        }))
        .await
        .map(drop)
    }

    /// Measures one round trip.
    pub async fn ping(&mut self) -> Result<Duration, ClientError> {
        let start = Instant::now();
        self.request(Body::Ping(proto::Ping { payload: 1 })).await?;
        Ok(start.elapsed())
    }

    /// The next tick (buffered ones first).
    pub async fn next(&mut self) -> Result<Event, ClientError> {
        loop {
            let message = match self.buffered.pop_front() {
                Some(message) => message,
                None => self.receive().await?,
            };
            if let Some(proto::server_message::Body::Tick(tick)) = message.body {
                return Ok(Event::Tick {
                    seq: message.seq,
                    tick,
                });
            }
        }
    }

    /// Sends raw bytes as one binary frame (for tests of malformed input).
    pub async fn send_raw(&mut self, bytes: Vec<u8>) -> Result<(), ClientError> {
        self.socket.send(Message::Binary(bytes.into())).await?;
        Ok(())
    }

    /// Sends a text frame (which the server refuses; for tests).
    pub async fn send_text(&mut self, text: &str) -> Result<(), ClientError> {
        self.socket.send(Message::text(text)).await?;
        Ok(())
    }

    /// Closes the connection politely.
    pub async fn close(mut self) -> Result<(), ClientError> {
        self.socket
            .close(Some(CloseFrame {
                code: proto::close::NORMAL.into(),
                reason: "bye".into(),
            }))
            .await?;
        Ok(())
    }

    async fn send_message(&mut self, message: proto::ClientMessage) -> Result<(), ClientError> {
        self.socket
            .send(Message::Binary(message.encode_to_vec().into()))
            .await?;
        Ok(())
    }

    /// The next server message, or the close that ended the connection.
    async fn receive(&mut self) -> Result<proto::ServerMessage, ClientError> {
        loop {
            let Some(frame) = self.socket.next().await else {
                return Err(ClientError::Closed {
                    code: 1006,
                    reason: "the connection ended without a close frame".into(),
                });
            };
            match frame? {
                Message::Binary(bytes) => {
                    let message = proto::decode_server(&bytes, SERVER_FRAME_BYTES_MAX)?;
                    self.seq = self.seq.max(message.seq);
                    return Ok(message);
                }
                Message::Close(frame) => {
                    let (code, reason) = frame.map_or((1005, String::new()), |f| {
                        (u16::from(f.code), f.reason.to_string())
                    });
                    return Err(ClientError::Closed { code, reason });
                }
                Message::Text(_) => {
                    return Err(ClientError::Protocol("the server sent a text frame".into()));
                }
                _ => {}
            }
        }
    }
}

fn ok_seq(reply: &proto::Reply) -> u64 {
    match &reply.outcome {
        Some(proto::reply::Outcome::Ok(ok)) => ok.seq,
        _ => 0,
    }
}

/// One twin as a subscription holds it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TwinState {
    /// The model (DTMI).
    pub model: String,
    /// Fields by name.
    pub fields: BTreeMap<String, serde_json::Value>,
    /// World pose, when the subscription asked for `$placement`.
    pub world_pose: Option<proto::Pose>,
}

/// What a client's subscriptions hold, kept by applying ticks in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct View {
    /// By (subscription, twin id).
    pub twins: BTreeMap<(u32, String), TwinState>,
    /// Subscriptions whose snapshot (or resume) is complete, with `resumed`.
    pub synced: BTreeMap<u32, bool>,
    /// Subscriptions the server closed, with its error.
    pub closed: BTreeMap<u32, proto::Error>,
    /// The newest `seq` applied.
    pub seq: u64,
    /// The world's annotations, by id.
    pub annotations: BTreeMap<String, proto::Annotation>,
    /// Where the replay stands, after a replay tick (its twins are held under
    /// its own subscription id, apart from the live ones).
    pub replay: Option<proto::ReplayPosition>,
}

impl View {
    /// Applies one tick.
    pub fn apply(&mut self, seq: u64, tick: &proto::Tick) {
        self.seq = self.seq.max(seq);
        if tick.replay.is_some() {
            self.replay = tick.replay;
        }
        for reset in &tick.resets {
            self.twins.retain(|(s, _), _| *s != reset.subscription);
            self.synced.remove(&reset.subscription);
        }
        for event in &tick.events {
            let key = (event.subscription, event.twin_id.clone());
            match event.kind() {
                proto::TwinEventKind::Enter => {
                    let mut state = TwinState {
                        model: event.model.clone(),
                        world_pose: event.world_pose,
                        ..TwinState::default()
                    };
                    for field in &event.fields {
                        if let Some(value) = field.value.as_ref().and_then(proto::Value::to_json) {
                            state.fields.insert(field.name.clone(), value);
                        }
                    }
                    self.twins.insert(key, state);
                }
                proto::TwinEventKind::Update => {
                    let Some(state) = self.twins.get_mut(&key) else {
                        continue;
                    };
                    if event.world_pose.is_some() {
                        state.world_pose = event.world_pose;
                    }
                    for field in &event.fields {
                        match field.value.as_ref().and_then(proto::Value::to_json) {
                            Some(value) => state.fields.insert(field.name.clone(), value),
                            None => state.fields.remove(&field.name),
                        };
                    }
                }
                proto::TwinEventKind::Leave => {
                    self.twins.remove(&key);
                }
                proto::TwinEventKind::Unspecified => {}
            }
        }
        for synced in &tick.synced {
            self.synced.insert(synced.subscription, synced.resumed);
        }
        for event in &tick.annotations {
            let Some(annotation) = &event.annotation else {
                continue;
            };
            match event.kind() {
                proto::annotation_event::Kind::Created => {
                    self.annotations
                        .insert(annotation.id.clone(), annotation.clone());
                }
                proto::annotation_event::Kind::Deleted => {
                    self.annotations.remove(&annotation.id);
                }
                proto::annotation_event::Kind::Unspecified => {}
            }
        }
        for closed in &tick.closed {
            self.twins.retain(|(s, _), _| *s != closed.subscription);
            if let Some(error) = &closed.error {
                self.closed.insert(closed.subscription, error.clone());
            }
        }
    }

    /// The twins one subscription holds, by id.
    pub fn of(&self, subscription: u32) -> BTreeMap<&str, &TwinState> {
        self.twins
            .iter()
            .filter(|((s, _), _)| *s == subscription)
            .map(|((_, id), state)| (id.as_str(), state))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_applies_enter_update_leave_and_resets() {
        let field = |name: &str, v: serde_json::Value| proto::Field {
            name: name.into(),
            value: Some(proto::Value::from_json(&v)),
        };
        let event =
            |kind: proto::TwinEventKind, id: &str, fields: Vec<proto::Field>| proto::TwinEvent {
                subscription: 1,
                kind: kind.into(),
                twin_id: id.into(),
                model: "dtmi:a;1".into(),
                fields,
                ..proto::TwinEvent::default()
            };
        let mut view = View::default();
        view.apply(
            3,
            &proto::Tick {
                events: vec![
                    event(
                        proto::TwinEventKind::Enter,
                        "a",
                        vec![field("t", serde_json::json!(1.5))],
                    ),
                    event(proto::TwinEventKind::Enter, "b", vec![]),
                ],
                synced: vec![proto::SubscriptionSynced {
                    subscription: 1,
                    resumed: false,
                }],
                ..proto::Tick::default()
            },
        );
        view.apply(
            4,
            &proto::Tick {
                events: vec![
                    event(
                        proto::TwinEventKind::Update,
                        "a",
                        vec![field("t", serde_json::json!(2.5))],
                    ),
                    event(proto::TwinEventKind::Leave, "b", vec![]),
                ],
                ..proto::Tick::default()
            },
        );
        assert_eq!(view.seq, 4);
        assert_eq!(view.of(1).len(), 1);
        assert_eq!(view.of(1)["a"].fields["t"], serde_json::json!(2.5));
        assert_eq!(view.synced.get(&1), Some(&false));
        view.apply(
            5,
            &proto::Tick {
                resets: vec![proto::SubscriptionReset { subscription: 1 }],
                ..proto::Tick::default()
            },
        );
        assert!(view.of(1).is_empty());
    }
}
