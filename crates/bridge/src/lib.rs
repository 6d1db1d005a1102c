//! The bridge to an external MQTT broker. Plants often already run a broker
//! (mosquitto, HiveMQ, EMQX); a [`Bridge`] connects out to it as an MQTT 3.1.1
//! or MQTT 5 client (rumqttc; TCP, or TLS through rustls with the ring
//! provider), subscribes to the configured topic filters, runs every message through the
//! same `ingest::Mapper` as the embedded broker, and hands mapped updates to an
//! `mqtt::Sink` in batches.
//!
//! Delivery: QoS 1 messages are acknowledged to the external broker only after
//! the sink's `Durable` resolves (rumqttc's manual acks), in the order they
//! arrived, so a crash never loses an acknowledged message. The session is
//! persistent by default (`clean_start = false`), so QoS 1 messages published
//! while the bridge was away arrive when it returns. Connections are retried
//! with exponential back-off and jitter. Rejected messages are counted per
//! reason and, unless turned off, published on their rule's dead-letter topic
//! on the external broker.
//!
//! ```no_run
//! # async fn run(sink: std::sync::Arc<dyn mqtt::Sink>) -> Result<(), bridge::BridgeError> {
//! use bridge::{Bridge, BridgeConfig};
//!
//! let config = BridgeConfig::new("plant-a", "broker.plant-a.local", 1883, &["twinspace/#"]);
//! let mapper = ingest::Mapper::new(Vec::new(), true).expect("default rule compiles");
//! let handle = Bridge::spawn(config, mapper, sink)?;
//! println!("{:?}", handle.metrics());
//! handle.shutdown().await;
//! # Ok(()) }
//! ```

mod bridge;
mod client;
mod config;
mod error;
mod metrics;
mod tls;

pub use bridge::{Bridge, BridgeHandle};
pub use config::{
    Backoff, BridgeConfig, BridgeLimits, CLIENT_ID_BYTES_MAX, Endpoint, FILTER_BYTES_MAX,
    NAME_BYTES_MAX, PORT_MQTT, PORT_MQTTS, Protocol, SUBSCRIPTIONS_MAX, Subscription, TlsConfig,
};
pub use error::BridgeError;
pub use metrics::BridgeMetrics;
