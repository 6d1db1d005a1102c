//! The broker's error type: what failed (binding a listener, the configuration)
//! and where. Protocol violations of one client are not errors of the broker:
//! they end that client's connection with a reason code and are counted.

/// What went wrong starting or running the broker.
#[derive(Debug, thiserror::Error)]
pub enum MqttError {
    /// A listener could not be bound.
    #[error("cannot listen for MQTT {what} on {address}: {source}")]
    Bind {
        /// `TCP` or `WebSocket`.
        what: &'static str,
        /// The address asked for.
        address: String,
        /// The operating system's answer.
        source: std::io::Error,
    },
    /// A limit is set to a value the broker cannot work with.
    #[error("MQTT limit {name} = {value} is not allowed: {allowed}")]
    Limit {
        /// The limit's name.
        name: &'static str,
        /// The value given.
        value: u64,
        /// What is allowed.
        allowed: &'static str,
    },
}

/// The sink could not make an update durable; QoS 1 publishers get no PUBACK
/// and are disconnected so that they resend after reconnecting.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the ingest sink failed: {0}")]
pub struct SinkError(pub String);
