//! One live connection: the upgrade route, the `Hello`/`Welcome` handshake
//! (token, role, world, protocol version), then a loop that answers the client's
//! requests (subscriptions, region moves, presence, chat, commands through the
//! durable write path with the same role checks as REST) and writes the frames
//! the tick task leaves in its outbox. Every refusal of the connection itself is
//! a WebSocket close with a code from `proto::close` and a reason that says what
//! was wrong; nothing a client sends affects another connection.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{RawPathParams, State};
use axum::response::Response;
use prost::Message as _;
use proto::client_message::Body;
use proto::close;
use serde_json::{Value, json};
use world::{Command, Condition, Etag, WorldId};

use super::{Outbox, WorldLive, annotations, timestamp, world_live};
use crate::auth::{Role, TokenInfo};
use crate::worlds::WorldHandle;
use crate::{ApiError, App};

/// How long a client may take to send `Hello` after the upgrade.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a single frame write may take before the connection is dropped: the
/// hub's own too-slow bound (`live_behind_ms_max`) acts first; this is for a
/// client that stopped reading altogether, whose close frame cannot get through.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// Read buffer per connection; larger client frames are read in several steps.
const READ_BUFFER_BYTES: usize = 8 * 1024;
/// Longest chat line, in bytes (as the protocol documents).
const CHAT_BYTES_MAX: usize = 1_024;
/// Longest display name or color, in bytes.
const NAME_BYTES_MAX: usize = 128;
/// Frames larger than this many times `live_frame_bytes_max` are cut off by the
/// WebSocket layer itself; smaller oversized ones are read and refused with
/// close code 1009 and a reason.
const OVERSIZE_READ_FACTOR: usize = 4;

/// `GET /live` and `GET /worlds/{world}/live`: upgrades to a WebSocket.
pub(crate) async fn upgrade(
    State(app): State<App>,
    params: RawPathParams,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let ws = ws.map_err(|rejection| {
        ApiError::bad_request(
            "WebSocketExpected",
            format!(
                "this route speaks the live protocol over WebSocket (see live.proto): {}",
                rejection.body_text()
            ),
        )
    })?;
    let world = params
        .iter()
        .find(|(key, _)| *key == "world")
        .map_or(WorldId::DEFAULT, |(_, value)| value)
        .to_owned();
    let frame_max = app.inner.limits.live_frame_bytes_max;
    Ok(ws
        // Client messages are small: a 128 KiB read buffer per connection (the
        // default) would be 1.25 GiB at 10,000 clients. Frames go out once per
        // tick, each flushed by its send, so nothing is gained by write buffering.
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_message_size(frame_max.saturating_mul(OVERSIZE_READ_FACTOR))
        .max_frame_size(frame_max.saturating_mul(OVERSIZE_READ_FACTOR))
        .on_upgrade(move |socket| run(socket, app, world)))
}

/// Why a session ends.
struct Closing {
    code: u16,
    reason: String,
}

impl Closing {
    fn new(code: u16, reason: impl Into<String>) -> Closing {
        Closing {
            code,
            reason: reason.into(),
        }
    }
}

async fn run(mut socket: WebSocket, app: App, world_name: String) {
    let closing = match handshake(&mut socket, &app, &world_name).await {
        Ok(session) => {
            let token_id = session.token.id.clone();
            let outcome = session.serve(&mut socket).await;
            app.inner.live.release(&token_id);
            outcome
        }
        Err(closing) => closing,
    };
    // The reason is cut to what a close frame holds (123 bytes).
    let mut reason = closing.reason;
    if reason.len() > 123 {
        let mut end = 120;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
        reason.push_str("...");
    }
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: closing.code,
            reason: Utf8Bytes::from(reason),
        })))
        .await;
}

struct Session {
    app: App,
    handle: Arc<WorldHandle>,
    live: Arc<WorldLive>,
    token: Arc<TokenInfo>,
    conn: live::ConnId,
    outbox: Arc<Outbox>,
    /// As sent in `Hello` (annotations name their author by it).
    display_name: String,
    /// Messages allowed right now (a token bucket refilled at the rate limit).
    allowance: f64,
    last_refill: Instant,
    /// The connection's replay of the world's history, when one runs.
    replay: Option<super::replay::ReplaySession>,
}

async fn handshake(
    socket: &mut WebSocket,
    app: &App,
    world_name: &str,
) -> Result<Session, Closing> {
    let limits = &app.inner.limits;
    let first = tokio::time::timeout(HELLO_TIMEOUT, socket.recv())
        .await
        .map_err(|_| {
            Closing::new(
                close::PROTOCOL,
                "no Hello within 10 s of the upgrade; send ClientMessage.hello first",
            )
        })?;
    let bytes = match first {
        Some(Ok(Message::Binary(bytes))) => bytes,
        Some(Ok(Message::Text(_))) => return Err(text_frame()),
        _ => {
            return Err(Closing::new(
                close::PROTOCOL,
                "the connection ended before Hello",
            ));
        }
    };
    let message = decode(&bytes, limits.live_frame_bytes_max)?;
    let Some(Body::Hello(hello)) = message.body else {
        return Err(Closing::new(
            close::PROTOCOL,
            "the first message must be ClientMessage.hello",
        ));
    };
    if hello.protocol_version != proto::PROTOCOL_VERSION {
        return Err(Closing::new(
            close::PROTOCOL,
            format!(
                "protocol version {} is not supported; this server speaks {}",
                hello.protocol_version,
                proto::PROTOCOL_VERSION
            ),
        ));
    }
    if !hello.world.is_empty() && hello.world != world_name {
        return Err(Closing::new(
            close::PROTOCOL,
            format!(
                "Hello names world '{}' but the URL is for '{world_name}'",
                hello.world
            ),
        ));
    }
    if hello.display_name.len() > NAME_BYTES_MAX || hello.color.len() > NAME_BYTES_MAX {
        return Err(Closing::new(
            close::PROTOCOL,
            format!("display_name and color take at most {NAME_BYTES_MAX} bytes each"),
        ));
    }
    let token = app.inner.tokens.authenticate(&hello.token).ok_or_else(|| {
        Closing::new(
            close::UNAUTHENTICATED,
            "the token is not known to this server (revoked, or from another server)",
        )
    })?;
    if !token.can(world_name, Role::Viewer) {
        return Err(Closing::new(
            close::POLICY,
            format!("this token has no 'viewer' role (or higher) on world '{world_name}'"),
        ));
    }
    let handle = app.inner.worlds.get(world_name).ok_or_else(|| {
        Closing::new(
            close::WORLD_NOT_FOUND,
            format!("there is no world named '{world_name}'"),
        )
    })?;
    if !app
        .inner
        .live
        .admit(&token.id, limits.live_connections_per_token_max)
    {
        return Err(Closing::new(
            close::TOO_MANY_CONNECTIONS,
            format!(
                "this token already has {} live connections, the most allowed (live_connections_per_token_max)",
                limits.live_connections_per_token_max
            ),
        ));
    }
    let live = match world_live(app, &handle) {
        Ok(live) => live,
        Err(error) => {
            tracing::error!(world = %world_name, %error, "reading the world's annotations failed");
            app.inner.live.release(&token.id);
            return Err(Closing::new(
                close::INTERNAL,
                "the server could not read this world's annotations",
            ));
        }
    };
    let outbox = Arc::new(Outbox::new());
    let connected = {
        let mut hub = live.hub.lock();
        let annotations = live.annotations.lock().list();
        hub.connect(&hello.display_name, &hello.color, annotations)
            .map(|conn| (conn, hub.seq(), hub.resume_floor()))
    };
    let (conn, seq, floor) = match connected {
        Ok(connected) => connected,
        Err(error) => {
            app.inner.live.release(&token.id);
            return Err(Closing::new(close::POLICY, error.to_string()));
        }
    };
    live.outboxes.lock().insert(conn, Arc::clone(&outbox));
    let role = [Role::Admin, Role::Editor, Role::Operator, Role::Viewer]
        .into_iter()
        .find(|role| token.can(world_name, *role))
        .unwrap_or(Role::Viewer);
    let welcome = proto::ServerMessage {
        seq: seq.0,
        sent_at_unix_ns: timestamp().0,
        body: Some(proto::server_message::Body::Welcome(proto::Welcome {
            protocol_version: proto::PROTOCOL_VERSION,
            world: world_name.to_owned(),
            participant_id: live.hub.lock().participant_id(conn),
            role: role.to_string(),
            tick_hz: live.tick_hz,
            frame_bytes_max: u32::try_from(limits.live_frame_bytes_max).unwrap_or(u32::MAX),
            subscriptions_max: u32::try_from(limits.live_subscriptions_max).unwrap_or(u32::MAX),
            messages_per_second_max: limits.live_messages_per_second_max,
            resume_floor_seq: floor.0,
        })),
    };
    let session = Session {
        app: app.clone(),
        handle,
        live,
        token,
        conn,
        outbox,
        display_name: hello.display_name.clone(),
        allowance: f64::from(limits.live_messages_per_second_max),
        last_refill: Instant::now(),
        replay: None,
    };
    if socket
        .send(Message::Binary(welcome.encode_to_vec().into()))
        .await
        .is_err()
    {
        session.leave();
        app.inner.live.release(&session.token.id);
        return Err(Closing::new(close::NORMAL, "gone"));
    }
    Ok(session)
}

fn text_frame() -> Closing {
    Closing::new(
        close::TEXT_FRAME,
        "text frames are not accepted; send protobuf ClientMessage as binary frames",
    )
}

fn decode(bytes: &[u8], max: usize) -> Result<proto::ClientMessage, Closing> {
    proto::decode_client(bytes, max).map_err(|error| match error {
        proto::ProtoError::TooLarge { .. } => Closing::new(close::TOO_BIG, error.to_string()),
        _ => Closing::new(close::MALFORMED, error.to_string()),
    })
}

impl Session {
    fn leave(&self) {
        self.live.outboxes.lock().remove(&self.conn);
        self.live.hub.lock().disconnect(self.conn);
    }

    async fn serve(mut self, socket: &mut WebSocket) -> Closing {
        let outcome = self.serve_loop(socket).await;
        self.leave();
        outcome
    }

    async fn serve_loop(&mut self, socket: &mut WebSocket) -> Closing {
        let frame_max = self.app.inner.limits.live_frame_bytes_max;
        // A replay advances at the world's tick rate, like live frames.
        let mut replay_ticks =
            tokio::time::interval(Duration::from_secs(1) / self.live.tick_hz.max(1));
        replay_ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            if let Some((code, reason)) = self.outbox.close.lock().take() {
                return Closing::new(code, reason);
            }
            let frame = self.outbox.frame.lock().take();
            if let Some(frame) = frame {
                // A client that reads nothing blocks this write once the socket
                // buffers are full; the hub meanwhile names it too slow, and the
                // close follows the write. One that never reads again is cut off.
                let send = socket.send(Message::Binary(frame.into()));
                match tokio::time::timeout(SEND_TIMEOUT, send).await {
                    Ok(Ok(())) => continue,
                    Ok(Err(_)) => return Closing::new(close::NORMAL, "gone"),
                    Err(_) => {
                        return Closing::new(
                            close::TOO_SLOW,
                            "one frame could not be written for 30 s",
                        );
                    }
                }
            }
            let wake = self.outbox.wake.notified();
            let replaying = self.replay.is_some();
            tokio::select! {
                () = wake => {}
                _ = replay_ticks.tick(), if replaying => {
                    if let Some(frame) = self.replay_frame().await
                        && socket.send(Message::Binary(frame.into())).await.is_err()
                    {
                        return Closing::new(close::NORMAL, "gone");
                    }
                }
                incoming = socket.recv() => {
                    let bytes = match incoming {
                        Some(Ok(Message::Binary(bytes))) => bytes,
                        Some(Ok(Message::Text(_))) => return text_frame(),
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                        Some(Ok(Message::Close(_))) | None => {
                            return Closing::new(close::NORMAL, "closed by the client");
                        }
                        Some(Err(error)) => {
                            return Closing::new(
                                close::TOO_BIG,
                                format!("the frame could not be read (at most {frame_max} bytes are accepted): {error}"),
                            );
                        }
                    };
                    if !self.take_allowance() {
                        return Closing::new(
                            close::RATE_LIMITED,
                            format!(
                                "more than {} messages per second (live_messages_per_second_max)",
                                self.app.inner.limits.live_messages_per_second_max
                            ),
                        );
                    }
                    let message = match decode(&bytes, frame_max) {
                        Ok(message) => message,
                        Err(closing) => return closing,
                    };
                    let request_id = message.request_id;
                    let reply = match message.body {
                        Some(Body::Hello(_)) => {
                            return Closing::new(close::PROTOCOL, "Hello was already sent on this connection");
                        }
                        Some(body) => self.handle(body).await,
                        None => continue,
                    };
                    if request_id != 0 {
                        let reply = self.reply(request_id, reply);
                        if socket.send(Message::Binary(reply.into())).await.is_err() {
                            return Closing::new(close::NORMAL, "gone");
                        }
                    }
                }
            }
        }
    }

    fn take_allowance(&mut self) -> bool {
        let rate = f64::from(self.app.inner.limits.live_messages_per_second_max);
        let elapsed = self.last_refill.elapsed().as_secs_f64();
        self.last_refill = Instant::now();
        self.allowance = (self.allowance + elapsed * rate).min(rate);
        if self.allowance < 1.0 {
            return false;
        }
        self.allowance -= 1.0;
        true
    }

    fn reply(&self, request_id: u32, outcome: Result<Answer, (String, String)>) -> Vec<u8> {
        let (outcome, ping_payload) = match outcome {
            Ok(answer) => (
                proto::reply::Outcome::Ok(proto::Ok {
                    seq: answer.seq,
                    id: answer.id,
                }),
                answer.ping,
            ),
            Err((code, message)) => (
                proto::reply::Outcome::Error(proto::Error { code, message }),
                0,
            ),
        };
        proto::ServerMessage {
            seq: self.live.hub.lock().seq().0,
            sent_at_unix_ns: timestamp().0,
            body: Some(proto::server_message::Body::Reply(proto::Reply {
                request_id,
                outcome: Some(outcome),
                ping_payload,
            })),
        }
        .encode_to_vec()
    }

    /// Carries out one request.
    async fn handle(&mut self, body: Body) -> Result<Answer, (String, String)> {
        let hub_error = |e: live::LiveError| (e.code().to_owned(), e.to_string());
        match body {
            Body::Hello(_) => Ok(Answer::default()),
            Body::Subscribe(request) => self
                .live
                .hub
                .lock()
                .subscribe(self.conn, &request)
                .map(|()| Answer::default())
                .map_err(hub_error),
            Body::Unsubscribe(request) => self
                .live
                .hub
                .lock()
                .unsubscribe(self.conn, request.subscription)
                .map(|()| Answer::default())
                .map_err(hub_error),
            Body::UpdateRegion(request) => self
                .live
                .hub
                .lock()
                .move_region(self.conn, request.subscription, request.region.as_ref())
                .map(|()| Answer::default())
                .map_err(hub_error),
            Body::SetPresence(request) => self
                .live
                .hub
                .lock()
                .set_presence(self.conn, &request)
                .map(|()| Answer::default())
                .map_err(hub_error),
            Body::SendChat(request) => {
                if request.text.len() > CHAT_BYTES_MAX {
                    return Err((
                        "LimitExceeded".into(),
                        format!(
                            "a chat line is {} bytes; at most {CHAT_BYTES_MAX} are allowed",
                            request.text.len()
                        ),
                    ));
                }
                self.live
                    .hub
                    .lock()
                    .chat(self.conn, &request.text, timestamp())
                    .map(|()| Answer::default())
                    .map_err(hub_error)
            }
            Body::Ping(ping) => Ok(Answer {
                ping: ping.payload,
                ..Answer::default()
            }),
            Body::PatchTwin(request) => {
                let value = request
                    .value
                    .as_ref()
                    .and_then(proto::Value::to_json)
                    .ok_or_else(|| invalid("PatchTwin.value is missing or is not a JSON value"))?;
                let op = if request.add { "add" } else { "replace" };
                let condition = if request.if_match.is_empty() {
                    Condition::None
                } else {
                    Etag::parse(&request.if_match)
                        .map(Condition::IfMatch)
                        .ok_or_else(|| {
                            invalid(&format!(
                                "if_match takes an ETag like W/\"42\", not '{}'",
                                request.if_match
                            ))
                        })?
                };
                let patch = json!([{ "op": op, "path": request.path, "value": value }]);
                self.patch(request.twin_id, patch, condition).await
            }
            Body::MoveTwin(request) => {
                let position = request
                    .position
                    .as_ref()
                    .ok_or_else(|| invalid("MoveTwin.position is missing"))?
                    .to_array();
                let placed = self
                    .handle
                    .read()
                    .twin_json(&request.twin_id)
                    .is_some_and(|twin| twin.get("$placement").is_some());
                let rotation = request.rotation.map(|q| json!([q.x, q.y, q.z, q.w]));
                let patch = if placed {
                    let mut ops = vec![
                        json!({ "op": "add", "path": "/$placement/position", "value": position }),
                    ];
                    if let Some(rotation) = rotation {
                        ops.push(json!({ "op": "add", "path": "/$placement/rotation", "value": rotation }));
                    }
                    Value::Array(ops)
                } else {
                    let mut placement = json!({ "position": position });
                    if let Some(rotation) = rotation {
                        placement["rotation"] = rotation;
                    }
                    json!([{ "op": "add", "path": "/$placement", "value": placement }])
                };
                self.patch(request.twin_id, patch, Condition::None).await
            }
            Body::CreateAnnotation(request) => self.create_annotation(request).await,
            Body::DeleteAnnotation(request) => self.delete_annotation(&request.annotation_id).await,
            Body::Replay(request) => self.replay(request).await,
        }
    }

    /// Starts, steers or stops this connection's replay of the world's history.
    async fn replay(&mut self, request: proto::Replay) -> Result<Answer, (String, String)> {
        use proto::replay::Action;
        let wall = timestamp().0;
        let action = Action::try_from(request.action).unwrap_or(Action::Unspecified);
        let refuse = |message: String| Err(("InvalidArgument".to_owned(), message));
        match action {
            Action::Start => {
                if request.subscription == 0 {
                    return refuse("Replay.subscription: choose a non-zero id".into());
                }
                let engine = live::replay::Replay::new(
                    request.subscription,
                    request.from_unix_ns,
                    request.speed,
                    wall,
                    super::replay::REPLAY_TWINS_MAX,
                )
                .map_err(|e| (e.code().to_owned(), e.to_string()))?;
                let store = Arc::clone(self.app.inner.worlds.store());
                let session =
                    super::replay::ReplaySession::start(Arc::clone(&self.handle), store, engine)
                        .await
                        .map_err(|e| api_error(&e))?;
                self.replay = Some(session);
            }
            Action::Stop => self.replay = None,
            Action::Pause | Action::Resume | Action::Speed => {
                let Some(replay) = self.replay.as_mut() else {
                    return refuse("no replay runs on this connection; send START first".into());
                };
                let clock = replay.engine.clock_mut();
                match action {
                    Action::Pause => clock.pause(wall),
                    Action::Resume => clock.resume(wall),
                    _ => clock
                        .set_speed(request.speed, wall)
                        .map_err(|e| (e.code().to_owned(), e.to_string()))?,
                }
            }
            Action::Unspecified => {
                return refuse("Replay.action: give START, PAUSE, RESUME, SPEED or STOP".into());
            }
        }
        Ok(Answer {
            seq: self.live.hub.lock().seq().0,
            id: String::new(),
            ping: 0,
        })
    }

    /// The replay's next tick as a frame, if it has one; a failed read ends the
    /// replay with a `SubscriptionClosed`.
    async fn replay_frame(&mut self) -> Option<Vec<u8>> {
        let replay = self.replay.as_mut()?;
        let store = Arc::clone(self.app.inner.worlds.store());
        let tick = match replay.tick(&self.handle, &store, timestamp().0).await {
            Ok(tick) => tick?,
            Err(error) => {
                tracing::warn!(world = %self.handle.id(), %error, "a replay ended");
                let subscription = replay.engine.subscription();
                self.replay = None;
                proto::Tick {
                    closed: vec![proto::SubscriptionClosed {
                        subscription,
                        error: Some(proto::Error {
                            code: "ReplayFailed".into(),
                            message: error.to_string(),
                        }),
                    }],
                    ..proto::Tick::default()
                }
            }
        };
        let message = proto::ServerMessage {
            seq: self.live.hub.lock().seq().0,
            sent_at_unix_ns: timestamp().0,
            body: Some(proto::server_message::Body::Tick(tick)),
        };
        Some(message.encode_to_vec())
    }

    /// Stores a new annotation (operator or higher), then tells every connection.
    async fn create_annotation(
        &self,
        request: proto::CreateAnnotation,
    ) -> Result<Answer, (String, String)> {
        let world = self.handle.id();
        if !self.token.can(world.as_str(), Role::Operator) {
            return Err(api_error(&ApiError::Forbidden {
                needed: Role::Operator,
                world: world.to_string(),
            }));
        }
        annotations::check(&request).map_err(|m| invalid(&m))?;
        if !request.twin_id.is_empty() && self.handle.read().twin_etag(&request.twin_id).is_none() {
            return Err((
                "TwinNotFound".into(),
                format!(
                    "CreateAnnotation.twin_id: there is no twin '{}' in world '{world}'",
                    request.twin_id
                ),
            ));
        }
        {
            let mut held = self.live.annotations.lock();
            if held.by_id.len() + held.reserved >= annotations::ANNOTATIONS_PER_WORLD_MAX {
                return Err((
                    "LimitExceeded".into(),
                    format!(
                        "world '{world}' holds {} annotations, the most allowed; delete one first",
                        annotations::ANNOTATIONS_PER_WORLD_MAX
                    ),
                ));
            }
            held.reserved += 1;
        }
        let created = timestamp();
        let counter = self
            .live
            .annotation_counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let author = if self.display_name.is_empty() {
            self.token.label.clone()
        } else {
            self.display_name.clone()
        };
        let stored = annotations::Stored {
            author_token: self.token.id.clone(),
            annotation: proto::Annotation {
                id: format!("an-{:x}-{counter:x}", created.0),
                twin_id: request.twin_id,
                point: request.point,
                text: request.text,
                author,
                created_at_unix_ns: created.0,
            },
        };
        let committed = self.commit(annotations::put_batch(world, &stored)).await;
        let mut hub = self.live.hub.lock();
        let mut held = self.live.annotations.lock();
        held.reserved -= 1;
        committed?;
        let id = stored.annotation.id.clone();
        hub.annotation(&proto::AnnotationEvent {
            kind: proto::annotation_event::Kind::Created.into(),
            annotation: Some(stored.annotation.clone()),
        });
        held.by_id.insert(id.clone(), stored);
        Ok(Answer {
            id,
            ..Answer::default()
        })
    }

    /// Deletes an annotation: its author (with operator or higher) or an editor.
    async fn delete_annotation(&self, id: &str) -> Result<Answer, (String, String)> {
        let world = self.handle.id();
        let author = self
            .live
            .annotations
            .lock()
            .by_id
            .get(id)
            .map(|stored| stored.author_token.clone())
            .ok_or_else(|| {
                (
                    "AnnotationNotFound".to_owned(),
                    format!("there is no annotation '{id}' in world '{world}'"),
                )
            })?;
        let own = author == self.token.id && self.token.can(world.as_str(), Role::Operator);
        if !own && !self.token.can(world.as_str(), Role::Editor) {
            return Err((
                "Forbidden".into(),
                format!(
                    "deleting annotation '{id}' in world '{world}' needs the 'editor' role, or 'operator' for its author"
                ),
            ));
        }
        self.commit(annotations::delete_batch(world, id)).await?;
        let mut hub = self.live.hub.lock();
        // A concurrent delete may have won; only the one that removes it tells.
        if let Some(stored) = self.live.annotations.lock().by_id.remove(id) {
            hub.annotation(&proto::AnnotationEvent {
                kind: proto::annotation_event::Kind::Deleted.into(),
                annotation: Some(stored.annotation),
            });
        }
        Ok(Answer::default())
    }

    /// Commits a batch through the shared group commit and waits until durable.
    async fn commit(
        &self,
        batch: Result<store::Batch, store::StoreError>,
    ) -> Result<(), (String, String)> {
        let batch = batch.map_err(|e| api_error(&ApiError::Store(e)))?;
        let ticket = self.app.inner.worlds.commit().submit_async(batch).await;
        ticket.await.map_err(|e| api_error(&ApiError::Store(e)))
    }

    /// A JSON Patch through the durable write path, as `PATCH /digitaltwins/{id}`.
    async fn patch(
        &self,
        twin: String,
        patch: Value,
        condition: Condition,
    ) -> Result<Answer, (String, String)> {
        let world = self.handle.id().as_str();
        if !self.token.can(world, Role::Operator) {
            return Err(api_error(&ApiError::Forbidden {
                needed: Role::Operator,
                world: world.to_owned(),
            }));
        }
        let patch: json_patch::Patch = serde_json::from_value(patch)
            .map_err(|e| invalid(&format!("the patch is malformed: {e}")))?;
        let command = Command::PatchTwin {
            id: twin,
            patch,
            condition,
        };
        let applied = self
            .app
            .inner
            .worlds
            .apply(&self.handle, command)
            .await
            .map_err(|e| api_error(&e))?;
        Ok(Answer {
            seq: applied.seq.0,
            ..Answer::default()
        })
    }
}

/// What a successful request answers.
#[derive(Default)]
struct Answer {
    seq: u64,
    id: String,
    ping: u64,
}

fn invalid(message: &str) -> (String, String) {
    ("InvalidArgument".into(), message.to_owned())
}

/// An API error as the protocol's code and message; internal details stay in the log.
fn api_error(error: &ApiError) -> (String, String) {
    let message = match error {
        ApiError::Internal(_) | ApiError::Store(_) => {
            tracing::error!(%error, "a live command failed on the server side");
            "the server failed to carry out the command".to_owned()
        }
        other => other.to_string(),
    };
    (error.code().to_owned(), message)
}
