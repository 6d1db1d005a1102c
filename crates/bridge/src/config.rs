//! `[[mqtt.bridges]]`: where the external broker is, how to log in, what to
//! subscribe to, and the bridge's back-off and limits. Every field has a safe
//! default except the name, the broker's address and the subscriptions;
//! [`BridgeConfig::validate`] reports the first field that cannot work, with what
//! is allowed.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::BridgeError;

/// The port of plain MQTT when the configuration names none.
pub const PORT_MQTT: u16 = 1883;
/// The port of MQTT over TLS when the configuration names none.
pub const PORT_MQTTS: u16 = 8883;
/// Subscriptions one bridge may hold: a bridge follows a plant's topic tree with
/// a handful of filters; hundreds would be a configuration mistake.
pub const SUBSCRIPTIONS_MAX: usize = 256;
/// Longest topic filter (bytes), as the embedded broker's default topic limit.
pub const FILTER_BYTES_MAX: usize = 512;
/// Longest client id (bytes). MQTT 3.1.1 servers must accept 23; most take far
/// more, and 256 is plenty for `twinspace-{name}`-style ids.
pub const CLIENT_ID_BYTES_MAX: usize = 256;
/// Longest bridge name (bytes): names are metric labels and log fields.
pub const NAME_BYTES_MAX: usize = 64;

/// One bridge to an external broker. Its `Debug` form hides the password, so
/// logging a configuration never leaks it.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct BridgeConfig {
    /// Names the bridge in metrics (`bridge="…"`) and logs: letters, digits,
    /// `-` and `_`.
    pub name: String,
    /// The broker as a URL: `mqtt://host:port` (or `tcp://`) for plain MQTT,
    /// `mqtts://host:port` (or `ssl://`) for MQTT over TLS. Either this or `host`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The broker's host name or IP address, when no `url` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The broker's port, when no `url` is given (1883, or 8883 with `tls`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// TLS settings. Present (even empty) means TLS; an `mqtts://` URL implies it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    /// User name for the external broker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Password for the external broker. Prefer `password_env` so the secret
    /// stays out of the configuration file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Name of an environment variable holding the password (read at start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// The MQTT client id; `twinspace-{name}` when not given. A persistent
    /// session is found again by this id, so keep it stable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The MQTT version spoken to the external broker: `"3.1.1"` (the
    /// default) or `"5"` (session expiry, receive maximum as flow control).
    #[serde(default)]
    pub protocol: Protocol,
    /// Start a clean session at every connection. The default, `false`, keeps a
    /// persistent session: QoS 1 messages published while the bridge was away
    /// are delivered when it returns.
    #[serde(default)]
    pub clean_start: bool,
    /// Topic filters to subscribe to, with their QoS.
    pub subscriptions: Vec<Subscription>,
    /// Seconds between keep-alive pings (5 to 65535).
    #[serde(default = "default_keep_alive_secs")]
    pub keep_alive_secs: u16,
    /// Waiting between connection attempts.
    #[serde(default)]
    pub backoff: Backoff,
    /// Caps on what the bridge holds.
    #[serde(default)]
    pub limits: BridgeLimits,
    /// Publish rejected messages on their rule's dead-letter topic on the
    /// external broker (QoS 0, so they never hold up acknowledgements; dropped
    /// and counted when the outgoing queue is full).
    #[serde(default = "default_true")]
    pub dead_letters: bool,
}

impl std::fmt::Debug for BridgeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BridgeConfig")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("password_env", &self.password_env)
            .field("client_id", &self.client_id)
            .field("protocol", &self.protocol)
            .field("clean_start", &self.clean_start)
            .field("subscriptions", &self.subscriptions)
            .field("keep_alive_secs", &self.keep_alive_secs)
            .field("backoff", &self.backoff)
            .field("limits", &self.limits)
            .field("dead_letters", &self.dead_letters)
            .finish()
    }
}

/// The MQTT protocol version of a bridge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Protocol {
    /// MQTT 3.1.1.
    #[default]
    #[serde(rename = "3.1.1")]
    V311,
    /// MQTT 5.
    #[serde(rename = "5")]
    V5,
}

/// TLS towards the external broker.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct TlsConfig {
    /// PEM file of the CA certificate(s) to trust; the operating system's roots
    /// when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// PEM file of the client certificate chain, for brokers that require
    /// client certificates; needs `client_key_file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert_file: Option<String>,
    /// PEM file of the client certificate's private key (PKCS#8, PKCS#1 or SEC1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key_file: Option<String>,
    /// Accept any server certificate. Defeats TLS's protection against a man in
    /// the middle: only for tests and lab brokers, and only when set explicitly.
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

/// One subscription on the external broker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct Subscription {
    /// The topic filter (`+` and `#` wildcards as MQTT has them).
    pub filter: String,
    /// 0 (at most once) or 1 (at least once, acknowledged only when durable).
    #[serde(default = "default_qos")]
    pub qos: u8,
}

/// Exponential back-off between connection attempts: the first wait is
/// `initial_ms`, each failure doubles it up to `max_ms`, and every wait is
/// spread by ±`jitter` (a fraction) so many bridges do not return in step.
/// A successful connection starts over at `initial_ms`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "snake_case")]
pub struct Backoff {
    /// First wait after a failure (at least 10 ms).
    pub initial_ms: u64,
    /// Longest wait (at least `initial_ms`).
    pub max_ms: u64,
    /// Spread of each wait, 0.0 to 1.0.
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial_ms: 500,
            max_ms: 30_000,
            jitter: 0.2,
        }
    }
}

/// Caps on what one bridge holds in memory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "snake_case")]
pub struct BridgeLimits {
    /// Largest packet read from the broker (bytes). A larger one breaks the
    /// connection (the client cannot skip it), so set the broker's own
    /// `max_packet_size` no higher. Payloads over the mapper's 256 KiB are
    /// rejected and counted, not mapped.
    pub packet_bytes_max: usize,
    /// QoS 1 messages held unacknowledged (waiting for durability) before the
    /// bridge stops handing more to the sink.
    pub inflight_max: u16,
    /// Messages received and not yet handed to the sink. QoS 0 messages beyond
    /// it are dropped and counted; QoS 1 messages beyond twice it make the
    /// bridge reconnect (the broker redelivers them), so a broker ignoring flow
    /// control cannot grow memory.
    pub queue_messages_max: usize,
    /// Messages handed to the sink in one submission.
    pub batch_messages_max: usize,
    /// Longest wait at shutdown for durability of what the sink took (ms);
    /// messages not durable by then stay unacknowledged and are redelivered.
    pub shutdown_grace_ms: u64,
}

impl Default for BridgeLimits {
    fn default() -> Self {
        BridgeLimits {
            packet_bytes_max: 1024 * 1024,
            inflight_max: 64,
            queue_messages_max: 10_000,
            batch_messages_max: 256,
            shutdown_grace_ms: 5_000,
        }
    }
}

fn default_keep_alive_secs() -> u16 {
    30
}

fn default_true() -> bool {
    true
}

fn default_qos() -> u8 {
    1
}

/// Where to connect, worked out from `url` or `host`/`port`/`tls`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Whether the connection uses TLS.
    pub tls: bool,
}

impl BridgeConfig {
    /// A configuration with the defaults, for `host:port` and the given
    /// subscriptions (QoS 1 each).
    pub fn new(name: &str, host: &str, port: u16, filters: &[&str]) -> BridgeConfig {
        BridgeConfig {
            name: name.into(),
            url: None,
            host: Some(host.into()),
            port: Some(port),
            tls: None,
            username: None,
            password: None,
            password_env: None,
            client_id: None,
            protocol: Protocol::default(),
            clean_start: false,
            subscriptions: filters
                .iter()
                .map(|filter| Subscription {
                    filter: (*filter).into(),
                    qos: 1,
                })
                .collect(),
            keep_alive_secs: default_keep_alive_secs(),
            backoff: Backoff::default(),
            limits: BridgeLimits::default(),
            dead_letters: true,
        }
    }

    /// The client id used: the configured one or `twinspace-{name}`.
    pub fn client_id(&self) -> String {
        self.client_id
            .clone()
            .unwrap_or_else(|| format!("twinspace-{}", self.name))
    }

    fn problem(&self, field: impl Into<String>, message: impl Into<String>) -> BridgeError {
        BridgeError::Config {
            bridge: if self.name.is_empty() {
                "(unnamed)".into()
            } else {
                self.name.clone()
            },
            field: field.into(),
            message: message.into(),
        }
    }

    /// Where to connect; an error when neither or both of `url` and `host` are
    /// given, or the URL is not `mqtt[s]://host[:port]`.
    pub fn endpoint(&self) -> Result<Endpoint, BridgeError> {
        match (&self.url, &self.host) {
            (Some(_), Some(_)) | (Some(_), None) if self.port.is_some() => Err(self.problem(
                "port",
                "give the port inside `url`, or use `host` and `port` without `url`",
            )),
            (Some(_), Some(_)) => Err(self.problem(
                "host",
                "give either `url` or `host` (with `port`), not both",
            )),
            (None, None) => Err(self.problem(
                "url",
                "missing: give `url` (mqtt://host:port or mqtts://host:port) or `host`",
            )),
            (None, Some(host)) => {
                let tls = self.tls.is_some();
                if host.is_empty() || host.contains(['/', ' ']) {
                    return Err(
                        self.problem("host", format!("'{host}' is no host name or IP address"))
                    );
                }
                Ok(Endpoint {
                    host: host.clone(),
                    port: self
                        .port
                        .unwrap_or(if tls { PORT_MQTTS } else { PORT_MQTT }),
                    tls,
                })
            }
            (Some(url), None) => {
                let bad = |why: &str| {
                    self.problem(
                        "url",
                        format!("'{url}' {why}; write mqtt://host[:port] or mqtts://host[:port]"),
                    )
                };
                let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("has no scheme"))?;
                let tls = match scheme.to_ascii_lowercase().as_str() {
                    "mqtt" | "tcp" => false,
                    "mqtts" | "ssl" | "tls" => true,
                    _ => return Err(bad("has an unknown scheme")),
                };
                let authority = rest.strip_suffix('/').unwrap_or(rest);
                if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
                    return Err(bad("is not scheme://host[:port]"));
                }
                // An IPv6 literal is written [::1]:1883.
                let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
                    let (host, after) = v6.split_once(']').ok_or_else(|| bad("has no ']'"))?;
                    (host, after.strip_prefix(':'))
                } else {
                    match authority.rsplit_once(':') {
                        Some((host, port)) => (host, Some(port)),
                        None => (authority, None),
                    }
                };
                if host.is_empty() {
                    return Err(bad("has no host"));
                }
                let port = match port {
                    None => {
                        if tls {
                            PORT_MQTTS
                        } else {
                            PORT_MQTT
                        }
                    }
                    Some(port) => port
                        .parse::<u16>()
                        .ok()
                        .filter(|p| *p != 0)
                        .ok_or_else(|| bad("has no port between 1 and 65535"))?,
                };
                if !tls && self.tls.is_some() {
                    return Err(self.problem(
                        "tls",
                        "a `tls` section needs an mqtts:// URL (or `host` instead of `url`)",
                    ));
                }
                Ok(Endpoint {
                    host: host.into(),
                    port,
                    tls,
                })
            }
        }
    }

    /// Checks every field; the first that cannot work is reported with what
    /// is allowed.
    pub fn validate(&self) -> Result<(), BridgeError> {
        if self.name.is_empty()
            || self.name.len() > NAME_BYTES_MAX
            || !self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(self.problem(
                "name",
                format!(
                    "'{}' is not allowed: 1 to {NAME_BYTES_MAX} letters, digits, '-' or '_'",
                    self.name
                ),
            ));
        }
        let endpoint = self.endpoint()?;
        if endpoint.port == 0 {
            return Err(self.problem("port", "0 is no port; 1 to 65535"));
        }
        let client_id = self.client_id();
        if client_id.is_empty() || client_id.len() > CLIENT_ID_BYTES_MAX {
            return Err(self.problem(
                "client_id",
                format!("{} bytes; 1 to {CLIENT_ID_BYTES_MAX}", client_id.len()),
            ));
        }
        if self.password.is_some() && self.password_env.is_some() {
            return Err(self.problem(
                "password_env",
                "give either `password` or `password_env`, not both",
            ));
        }
        if (self.password.is_some() || self.password_env.is_some()) && self.username.is_none() {
            return Err(self.problem(
                "username",
                "MQTT 3.1.1 sends a password only with a user name; give `username`",
            ));
        }
        if self.subscriptions.is_empty() || self.subscriptions.len() > SUBSCRIPTIONS_MAX {
            return Err(self.problem(
                "subscriptions",
                format!(
                    "{} subscriptions; 1 to {SUBSCRIPTIONS_MAX}",
                    self.subscriptions.len()
                ),
            ));
        }
        for (i, subscription) in self.subscriptions.iter().enumerate() {
            if let Err(why) = check_filter(&subscription.filter) {
                return Err(self.problem(format!("subscriptions[{i}].filter"), why));
            }
            if subscription.qos > 1 {
                return Err(self.problem(
                    format!("subscriptions[{i}].qos"),
                    format!(
                        "{} is not supported; 0 (at most once) or 1 (at least once)",
                        subscription.qos
                    ),
                ));
            }
        }
        if self.keep_alive_secs < 5 {
            return Err(self.problem(
                "keep_alive_secs",
                format!("{} is too short; 5 to 65535", self.keep_alive_secs),
            ));
        }
        let backoff = &self.backoff;
        if backoff.initial_ms < 10 {
            return Err(self.problem(
                "backoff.initial_ms",
                format!(
                    "{} would retry in a busy loop; at least 10",
                    backoff.initial_ms
                ),
            ));
        }
        if backoff.max_ms < backoff.initial_ms || backoff.max_ms > 24 * 3600 * 1000 {
            return Err(self.problem(
                "backoff.max_ms",
                format!(
                    "{}; from initial_ms ({}) to one day",
                    backoff.max_ms, backoff.initial_ms
                ),
            ));
        }
        if !(0.0..=1.0).contains(&backoff.jitter) {
            return Err(self.problem(
                "backoff.jitter",
                format!("{}; a fraction from 0.0 to 1.0", backoff.jitter),
            ));
        }
        let limits = &self.limits;
        if !(1024..=256 * 1024 * 1024).contains(&limits.packet_bytes_max) {
            return Err(self.problem(
                "limits.packet_bytes_max",
                format!("{}; 1024 to 268435456", limits.packet_bytes_max),
            ));
        }
        if limits.inflight_max == 0 {
            return Err(self.problem("limits.inflight_max", "0; 1 to 65535"));
        }
        if limits.queue_messages_max == 0 || limits.queue_messages_max > 1_000_000 {
            return Err(self.problem(
                "limits.queue_messages_max",
                format!("{}; 1 to 1000000", limits.queue_messages_max),
            ));
        }
        if limits.batch_messages_max == 0 || limits.batch_messages_max > 65_536 {
            return Err(self.problem(
                "limits.batch_messages_max",
                format!("{}; 1 to 65536", limits.batch_messages_max),
            ));
        }
        if let Some(tls) = &self.tls
            && tls.client_cert_file.is_some() != tls.client_key_file.is_some()
        {
            return Err(self.problem(
                "tls.client_key_file",
                "a client certificate needs its key and a key its certificate: give both",
            ));
        }
        Ok(())
    }

    pub(crate) fn keep_alive(&self) -> Duration {
        Duration::from_secs(self.keep_alive_secs.into())
    }
}

/// Checks an MQTT topic filter: not empty, not too long, no NUL, `#` only as
/// the whole last level, `+` only as a whole level.
fn check_filter(filter: &str) -> Result<(), String> {
    if filter.is_empty() || filter.len() > FILTER_BYTES_MAX {
        return Err(format!(
            "{} bytes; a filter has 1 to {FILTER_BYTES_MAX}",
            filter.len()
        ));
    }
    if filter.contains('\0') {
        return Err("contains NUL, which MQTT forbids".into());
    }
    let levels: Vec<&str> = filter.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        if level.contains('#') && (*level != "#" || i + 1 != levels.len()) {
            return Err(format!("'{filter}': '#' must be the whole last level"));
        }
        if level.contains('+') && *level != "+" {
            return Err(format!("'{filter}': '+' must be a whole level"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> BridgeConfig {
        toml::from_str(text).expect("config parses")
    }

    #[test]
    fn toml_with_defaults() {
        let config = parse(
            r#"
name = "plant-a"
url = "mqtts://broker.example.com"
username = "twin"
password_env = "PLANT_A_PASSWORD"
[tls]
ca_file = "/etc/twinspace/plant-ca.pem"
[[subscriptions]]
filter = "plant/+/telemetry/#"
[[subscriptions]]
filter = "plant/status"
qos = 0
"#,
        );
        config.validate().expect("valid");
        assert_eq!(
            config.endpoint().expect("endpoint"),
            Endpoint {
                host: "broker.example.com".into(),
                port: PORT_MQTTS,
                tls: true
            }
        );
        assert_eq!(config.client_id(), "twinspace-plant-a");
        assert!(!config.clean_start);
        assert!(config.dead_letters);
        assert_eq!(config.subscriptions[0].qos, 1);
        assert_eq!(config.protocol, Protocol::V311);
        let v5: BridgeConfig = parse(
            "name = \"b\"\nhost = \"h\"\nprotocol = \"5\"\n[[subscriptions]]\nfilter = \"a\"\n",
        );
        assert_eq!(v5.protocol, Protocol::V5);
        assert_eq!(config.subscriptions[1].qos, 0);
        assert_eq!(config.backoff, Backoff::default());
        assert!(!config.tls.as_ref().is_some_and(|t| t.insecure_skip_verify));
    }

    #[test]
    fn urls() {
        let endpoint = |url: &str| {
            let mut config = BridgeConfig::new("b", "x", 1, &["a/#"]);
            config.host = None;
            config.port = None;
            config.url = Some(url.into());
            config.endpoint().map_err(|e| e.to_string())
        };
        let ok = |host: &str, port: u16, tls: bool| {
            Ok(Endpoint {
                host: host.into(),
                port,
                tls,
            })
        };
        assert_eq!(endpoint("mqtt://h"), ok("h", 1883, false));
        assert_eq!(endpoint("tcp://h:1999/"), ok("h", 1999, false));
        assert_eq!(
            endpoint("MQTTS://10.0.0.1:8884"),
            ok("10.0.0.1", 8884, true)
        );
        assert_eq!(endpoint("ssl://[::1]:9"), ok("::1", 9, true));
        assert_eq!(endpoint("mqtts://[fe80::1]"), ok("fe80::1", 8883, true));
        for bad in [
            "h:1883",
            "http://h",
            "mqtt://",
            "mqtt://h:0",
            "mqtt://h:99999",
            "mqtt://u:p@h",
            "mqtt://h/path",
            "mqtt://:1883",
        ] {
            let error = endpoint(bad).expect_err(bad);
            assert!(error.contains("url"), "{bad}: {error}");
        }
    }

    #[test]
    fn every_bad_field_is_named() {
        let check = |change: &dyn Fn(&mut BridgeConfig), field: &str| {
            let mut config = BridgeConfig::new("b", "localhost", 1883, &["a/#"]);
            change(&mut config);
            let error = config.validate().expect_err(field).to_string();
            assert!(error.contains(field), "{field}: {error}");
        };
        check(&|c| c.name = "a b".into(), "name");
        check(&|c| c.name = String::new(), "name");
        check(&|c| c.url = Some("mqtt://h".into()), "port");
        check(&|c| c.host = None, "url");
        check(&|c| c.client_id = Some(String::new()), "client_id");
        check(&|c| c.password = Some("p".into()), "username");
        check(
            &|c| {
                c.username = Some("u".into());
                c.password = Some("p".into());
                c.password_env = Some("P".into());
            },
            "password_env",
        );
        check(&|c| c.subscriptions.clear(), "subscriptions");
        check(
            &|c| c.subscriptions[0].filter = "a/#/b".into(),
            "subscriptions[0].filter",
        );
        check(
            &|c| c.subscriptions[0].filter = "a/b+".into(),
            "subscriptions[0].filter",
        );
        check(
            &|c| c.subscriptions[0].filter = String::new(),
            "subscriptions[0].filter",
        );
        check(&|c| c.subscriptions[0].qos = 2, "subscriptions[0].qos");
        check(&|c| c.keep_alive_secs = 1, "keep_alive_secs");
        check(&|c| c.backoff.initial_ms = 0, "backoff.initial_ms");
        check(&|c| c.backoff.max_ms = 1, "backoff.max_ms");
        check(&|c| c.backoff.jitter = 1.5, "backoff.jitter");
        check(&|c| c.backoff.jitter = f64::NAN, "backoff.jitter");
        check(
            &|c| c.limits.packet_bytes_max = 10,
            "limits.packet_bytes_max",
        );
        check(&|c| c.limits.inflight_max = 0, "limits.inflight_max");
        check(
            &|c| c.limits.queue_messages_max = 0,
            "limits.queue_messages_max",
        );
        check(
            &|c| c.limits.batch_messages_max = 0,
            "limits.batch_messages_max",
        );
        check(
            &|c| {
                c.tls = Some(TlsConfig {
                    client_cert_file: Some("c.pem".into()),
                    ..TlsConfig::default()
                })
            },
            "tls.client_key_file",
        );
    }

    #[test]
    fn debug_hides_the_password() {
        let mut config = BridgeConfig::new("b", "h", 1883, &["a/#"]);
        config.username = Some("user".into());
        config.password = Some("hunter2".into());
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("<redacted>"),
            "{shown}"
        );
        assert!(shown.contains("user"), "{shown}");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let error = toml::from_str::<BridgeConfig>(
            "name = \"b\"\nhost = \"h\"\nsubscriptions = []\ncleanstart = true\n",
        )
        .expect_err("unknown field");
        assert!(error.to_string().contains("cleanstart"), "{error}");
    }

    proptest::proptest! {
        /// Any URL text gives an endpoint or an error naming `url`, never a
        /// panic; an accepted endpoint has a host and a non-zero port.
        #[test]
        fn any_url_is_parsed_or_refused(url in "\\PC{0,40}", scheme in "(mqtt|mqtts|tcp|ssl|http|)://") {
            let mut config = BridgeConfig::new("b", "x", 1, &["a/#"]);
            config.host = None;
            config.port = None;
            config.url = Some(format!("{scheme}{url}"));
            match config.endpoint() {
                Ok(endpoint) => {
                    proptest::prop_assert!(!endpoint.host.is_empty());
                    proptest::prop_assert!(endpoint.port != 0);
                }
                Err(error) => proptest::prop_assert!(error.to_string().contains("url")),
            }
        }

        /// Filters are accepted exactly when every level is plain, `+`, or a
        /// final `#`.
        #[test]
        fn filters_follow_the_mqtt_wildcard_rules(levels in proptest::collection::vec("(a|b|\\+|#|a#|b\\+|)", 1..6)) {
            let filter = levels.join("/");
            let valid = levels.iter().enumerate().all(|(i, level)| {
                level.as_str() == "+"
                    || (level.as_str() == "#" && i + 1 == levels.len())
                    || !level.contains(['+', '#'])
            }) && !filter.is_empty();
            proptest::prop_assert_eq!(check_filter(&filter).is_ok(), valid, "{}", filter);
        }
    }
}
