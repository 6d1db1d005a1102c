//! The embedded MQTT broker of Twinspace: MQTT 3.1, 3.1.1 and 5 over TCP and
//! over WebSocket (subprotocol `mqtt`, for browsers), QoS 0 and 1 (QoS 2
//! PUBLISHes are accepted and answered PUBREC/PUBCOMP; deliveries are at most
//! QoS 1), retained messages, last wills, keep-alive, clean and persistent
//! sessions.
//!
//! What makes it Twinspace's: clients authenticate with a token (username any,
//! password the token) through an [`Authenticator`]; topics belong to worlds
//! (`twinspace/{world}/…`) and an [`Access`] says which worlds a client may
//! publish to and subscribe on; every PUBLISH goes through the `ingest`
//! [`ingest::Mapper`], and mapped updates go to a [`Sink`] in one batch per
//! socket read. A QoS 1 PUBLISH is acknowledged only after the sink's
//! [`Durable`] future says its update is durable; rejected messages are counted
//! per reason and published on their rule's dead-letter topic.
//!
//! Safe by default ([`Limits`]): packet size, per-client queue (messages and
//! bytes), connections, topic length and depth, inflight window, subscriptions,
//! retained store and sessions are all capped. A subscriber that does not read
//! fills only its own queue; then its QoS 0 messages are dropped and counted,
//! and publishers never wait for it. Packets are decoded and encoded by
//! `rmqtt-codec`; the session, routing and access logic is here.

mod auth;
mod broker;
mod config;
mod connection;
mod error;
mod metrics;
mod protocol;
mod sink;
mod topic;
mod transport;

pub use auth::{Access, Authenticator, Grant, PasswordTable};
pub use broker::Broker;
pub use config::Limits;
pub use error::{MqttError, SinkError};
pub use metrics::Metrics;
pub use sink::{Durable, Sink, Submitted};
pub use topic::{WORLD_TOPIC_ROOT, matches};
