//! Byte transports under MQTT: plain TCP, and WebSocket with the `mqtt`
//! subprotocol (binary frames carry MQTT bytes, possibly split or joined
//! arbitrarily). Both are split into a read half and a write half so that a
//! connection reads and writes from two tasks.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::{Bytes, BytesMut};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::broker::Shared;
use crate::connection;
use crate::metrics::Counters;

/// Bytes asked of the socket per read: many small PUBLISHes arrive in one read,
/// and the broker handles a read's packets as one batch.
pub(crate) const READ_BYTES: usize = 64 * 1024;

/// The reading half of a transport.
pub(crate) trait Reader: Send + 'static {
    /// Appends what arrived to `buf`; 0 means the peer closed.
    fn read(&mut self, buf: &mut BytesMut) -> impl Future<Output = io::Result<usize>> + Send;
}

/// The writing half of a transport.
pub(crate) trait Writer: Send + 'static {
    /// Writes all of `data`.
    fn write(&mut self, data: &[u8]) -> impl Future<Output = io::Result<()>> + Send;
    /// Closes the write side.
    fn close(&mut self) -> impl Future<Output = ()> + Send;
}

impl Reader for OwnedReadHalf {
    async fn read(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        buf.reserve(READ_BYTES);
        self.read_buf(buf).await
    }
}

impl Writer for OwnedWriteHalf {
    async fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.write_all(data).await
    }
    async fn close(&mut self) {
        let _ = self.shutdown().await;
    }
}

pub(crate) struct WsReader(SplitStream<WebSocketStream<TcpStream>>);
pub(crate) struct WsWriter(SplitSink<WebSocketStream<TcpStream>, Message>);

impl Reader for WsReader {
    async fn read(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        loop {
            match self.0.next().await {
                None | Some(Ok(Message::Close(_))) => return Ok(0),
                Some(Ok(Message::Binary(data))) => {
                    if data.is_empty() {
                        continue;
                    }
                    buf.extend_from_slice(&data);
                    return Ok(data.len());
                }
                Some(Ok(Message::Text(_))) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "MQTT over WebSocket must use binary frames",
                    ));
                }
                Some(Ok(_)) => continue,
                Some(Err(error)) => return Err(io::Error::other(error)),
            }
        }
    }
}

impl Writer for WsWriter {
    async fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.0
            .send(Message::Binary(Bytes::copy_from_slice(data)))
            .await
            .map_err(io::Error::other)
    }
    async fn close(&mut self) {
        let _ = self.0.close().await;
    }
}

/// Accepts connections until shutdown, refusing those over `connections_max`.
pub(crate) async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, websocket: bool) {
    let mut stop = shared.shutdown.subscribe();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stopped| *stopped) => return,
        };
        if shared.shutting_down.load(Ordering::Relaxed) {
            return;
        }
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::warn!(%error, "MQTT accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let open = shared
            .counters
            .connections_open
            .fetch_add(1, Ordering::Relaxed);
        if open as usize >= shared.limits.connections_max {
            shared
                .counters
                .connections_open
                .fetch_sub(1, Ordering::Relaxed);
            Counters::add(&shared.counters.connections_refused_limit, 1);
            drop(stream);
            continue;
        }
        Counters::add(&shared.counters.connections_total, 1);
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            if websocket {
                serve_websocket(shared.clone(), stream, peer).await;
            } else {
                let (reader, writer) = stream.into_split();
                connection::serve(shared.clone(), reader, writer, peer).await;
            }
            shared
                .counters
                .connections_open
                .fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// Accepts the WebSocket upgrade only for the MQTT subprotocol, and answers
/// with the name the client offered.
#[expect(
    clippy::result_large_err,
    reason = "the handshake callback's signature is tungstenite's"
)]
fn choose_subprotocol(
    request: &Request,
    mut response: Response,
) -> Result<Response, ErrorResponse> {
    let offered = request
        .headers()
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .find(|name| *name == "mqtt" || *name == "mqttv3.1")
        .map(str::to_owned);
    match offered {
        Some(name) => {
            if let Ok(value) = name.parse() {
                response
                    .headers_mut()
                    .insert("sec-websocket-protocol", value);
            }
            Ok(response)
        }
        None => {
            let mut refusal = ErrorResponse::new(Some(
                "MQTT over WebSocket needs the subprotocol 'mqtt'".into(),
            ));
            *refusal.status_mut() = tokio_tungstenite::tungstenite::http::StatusCode::BAD_REQUEST;
            Err(refusal)
        }
    }
}

async fn serve_websocket(shared: Arc<Shared>, stream: TcpStream, peer: std::net::SocketAddr) {
    // A frame or message never needs to be larger than one MQTT packet plus
    // its fixed header.
    let frame_max = shared.limits.packet_bytes_max as usize + 8;
    let config = WebSocketConfig::default()
        .max_message_size(Some(frame_max))
        .max_frame_size(Some(frame_max));
    let handshake =
        tokio_tungstenite::accept_hdr_async_with_config(stream, choose_subprotocol, Some(config));
    let websocket = match tokio::time::timeout(shared.limits.connect_timeout(), handshake).await {
        Ok(Ok(websocket)) => websocket,
        Ok(Err(error)) => {
            tracing::debug!(%peer, %error, "WebSocket handshake failed");
            return;
        }
        Err(_) => return,
    };
    let (sink, stream) = websocket.split();
    connection::serve(shared, WsReader(stream), WsWriter(sink), peer).await;
}
