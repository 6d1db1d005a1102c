//! The bridge's error type: a configuration that cannot work (said with the
//! bridge's name, the field and what is allowed) or TLS material that cannot be
//! read. Connection failures at run time are not errors of `spawn`: the bridge
//! retries them with back-off and shows the last one in its metrics.

/// What is wrong with a bridge before it starts.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// A configuration field has a value the bridge cannot work with.
    #[error("MQTT bridge '{bridge}', {field}: {message}")]
    Config {
        /// The bridge's name (or `(unnamed)`).
        bridge: String,
        /// The field at fault (`url`, `subscriptions[1].qos`, …).
        field: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// A TLS file (CA, client certificate or key) cannot be read or used.
    #[error("MQTT bridge '{bridge}', TLS {what} '{path}': {message}")]
    Tls {
        /// The bridge's name.
        bridge: String,
        /// `ca_file`, `client_cert_file` or `client_key_file`.
        what: &'static str,
        /// The file named in the configuration.
        path: String,
        /// What went wrong reading or using it.
        message: String,
    },
}
