//! The `serve` configuration: defaults, then the TOML file (`--config`), then
//! environment variables (`TWINSPACE_*`), then command-line flags, each
//! overriding the one before.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use server::Limits;

/// Everything `twinspace serve` needs.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Config {
    /// Address to listen on. Loopback by default: exposing the server is a choice.
    pub(crate) bind: SocketAddr,
    /// Directory of the store (`twinspace.redb`) and generated TLS files.
    pub(crate) data_dir: PathBuf,
    pub(crate) tls: TlsConfig,
    pub(crate) log: LogConfig,
    pub(crate) limits: Limits,
    pub(crate) mqtt: MqttConfig,
    pub(crate) history: HistorySettings,
}

/// `[history]`: how long recorded values are kept and the memory they may use.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct HistorySettings {
    /// Compressed chunks whose newest point is older than this many days are
    /// dropped (hourly); absent: everything is kept.
    pub(crate) retention_days: Option<f64>,
    /// Memory for the cache of recently written twins' series, per world.
    pub(crate) cache_mib: usize,
    /// Head log not yet folded into twin records, per world: what a restart
    /// after a crash reads back (about 30 MiB a second).
    pub(crate) log_mib: usize,
}

impl Default for HistorySettings {
    fn default() -> Self {
        let defaults = history::HistoryConfig::default();
        HistorySettings {
            retention_days: None,
            cache_mib: defaults.cache_bytes_max >> 20,
            log_mib: defaults.log_bytes_max >> 20,
        }
    }
}

impl HistorySettings {
    /// The history crate's configuration.
    pub(crate) fn to_config(&self) -> history::HistoryConfig {
        history::HistoryConfig {
            retention_ns: self
                .retention_days
                .map(|days| (days * 86_400e9).min(i64::MAX as f64) as i64),
            cache_bytes_max: self.cache_mib << 20,
            log_bytes_max: self.log_mib << 20,
            ..history::HistoryConfig::default()
        }
    }
}

/// The embedded MQTT broker: off unless `listen` or `ws_listen` is set (or
/// `--demo` turns it on). Rules map topics to twins (see the `ingest` crate);
/// the default rule maps `twinspace/{world}/{twinId}` JSON objects.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct MqttConfig {
    /// MQTT over TCP, e.g. `127.0.0.1:1883`.
    pub(crate) listen: Option<SocketAddr>,
    /// MQTT over WebSocket (subprotocol `mqtt`), e.g. `127.0.0.1:8083`.
    pub(crate) ws_listen: Option<SocketAddr>,
    pub(crate) limits: mqtt::Limits,
    pub(crate) rules: Vec<ingest::Rule>,
    pub(crate) default_rule: bool,
    /// Connections out to external brokers (`[[mqtt.bridges]]`), mapped by the
    /// same rules; they run whether or not the embedded broker listens.
    pub(crate) bridges: Vec<bridge::BridgeConfig>,
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            listen: None,
            ws_listen: None,
            limits: mqtt::Limits::default(),
            rules: Vec::new(),
            default_rule: true,
            bridges: Vec::new(),
        }
    }
}

impl MqttConfig {
    /// Whether the broker is to run.
    pub(crate) fn enabled(&self) -> bool {
        self.listen.is_some() || self.ws_listen.is_some()
    }
}

/// TLS: a certificate and key (PEM), or a self-signed certificate made at start.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct TlsConfig {
    pub(crate) cert: Option<PathBuf>,
    pub(crate) key: Option<PathBuf>,
    pub(crate) self_signed: bool,
}

/// Logging: an `EnvFilter` directive and the output format.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct LogConfig {
    pub(crate) filter: String,
    pub(crate) json: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            filter: "info".into(),
            json: false,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("twinspace-data"),
            tls: TlsConfig::default(),
            log: LogConfig::default(),
            limits: Limits::default(),
            mqtt: MqttConfig::default(),
            history: HistorySettings::default(),
        }
    }
}

/// Flags of `twinspace serve` that override the file and the environment.
#[derive(Clone, Debug, Default)]
pub(crate) struct Overrides {
    pub(crate) bind: Option<SocketAddr>,
    pub(crate) data_dir: Option<PathBuf>,
    pub(crate) tls_cert: Option<PathBuf>,
    pub(crate) tls_key: Option<PathBuf>,
    pub(crate) tls_self_signed: bool,
    pub(crate) log_json: bool,
}

fn parse_bool(name: &str, value: &str) -> Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => bail!("{name}={value:?} is not a boolean; use true or false"),
    }
}

/// An MQTT listen address from the environment; empty turns the listener off.
fn mqtt_address(name: &str, value: &str) -> Result<Option<SocketAddr>> {
    if value.is_empty() {
        return Ok(None);
    }
    value
        .parse()
        .map(Some)
        .with_context(|| format!("{name}={value:?} is not an address like 127.0.0.1:1883"))
}

impl Config {
    /// Reads the file (if any), then applies `env` (name, value) pairs and the flags.
    pub(crate) fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
        flags: &Overrides,
    ) -> Result<Config> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the config file {}", path.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("the config file {} is not valid", path.display()))?
            }
            None => Config::default(),
        };
        if let Some(v) = env("TWINSPACE_BIND") {
            config.bind = v.parse().with_context(|| {
                format!("TWINSPACE_BIND={v:?} is not an address like 127.0.0.1:8080")
            })?;
        }
        if let Some(v) = env("TWINSPACE_DATA_DIR") {
            config.data_dir = PathBuf::from(v);
        }
        if let Some(v) = env("TWINSPACE_TLS_CERT") {
            config.tls.cert = Some(PathBuf::from(v));
        }
        if let Some(v) = env("TWINSPACE_TLS_KEY") {
            config.tls.key = Some(PathBuf::from(v));
        }
        if let Some(v) = env("TWINSPACE_TLS_SELF_SIGNED") {
            config.tls.self_signed = parse_bool("TWINSPACE_TLS_SELF_SIGNED", &v)?;
        }
        if let Some(v) = env("TWINSPACE_LOG") {
            config.log.filter = v;
        }
        if let Some(v) = env("TWINSPACE_LOG_FORMAT") {
            config.log.json = match v.as_str() {
                "json" => true,
                "text" => false,
                _ => bail!("TWINSPACE_LOG_FORMAT={v:?}: use json or text"),
            };
        }
        if let Some(v) = env("TWINSPACE_MQTT_LISTEN") {
            config.mqtt.listen = mqtt_address("TWINSPACE_MQTT_LISTEN", &v)?;
        }
        if let Some(v) = env("TWINSPACE_MQTT_WS_LISTEN") {
            config.mqtt.ws_listen = mqtt_address("TWINSPACE_MQTT_WS_LISTEN", &v)?;
        }
        if let Some(v) = env("TWINSPACE_MQTT_DEFAULT_RULE") {
            config.mqtt.default_rule = parse_bool("TWINSPACE_MQTT_DEFAULT_RULE", &v)?;
        }
        if let Some(bind) = flags.bind {
            config.bind = bind;
        }
        if let Some(dir) = &flags.data_dir {
            config.data_dir = dir.clone();
        }
        if flags.tls_cert.is_some() || flags.tls_key.is_some() {
            config.tls.cert = flags.tls_cert.clone();
            config.tls.key = flags.tls_key.clone();
        }
        config.tls.self_signed |= flags.tls_self_signed;
        config.log.json |= flags.log_json;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<()> {
        self.mqtt
            .limits
            .validate()
            .context("the [mqtt.limits] section is not valid")?;
        ingest::Mapper::new(self.mqtt.rules.clone(), self.mqtt.default_rule)
            .context("the [[mqtt.rules]] are not valid")?;
        let mut names = std::collections::BTreeSet::new();
        for bridge in &self.mqtt.bridges {
            bridge.validate().with_context(|| {
                format!("the [[mqtt.bridges]] entry '{}' is not valid", bridge.name)
            })?;
            if !names.insert(bridge.name.as_str()) {
                bail!(
                    "two [[mqtt.bridges]] entries are named '{}'; each needs its own name (it labels its metrics and its client id)",
                    bridge.name
                );
            }
        }
        let history = &self.history;
        if history
            .retention_days
            .is_some_and(|d| !(d.is_finite() && d > 0.0))
        {
            bail!("[history] retention_days must be a positive number of days");
        }
        if history.cache_mib == 0 || history.log_mib == 0 {
            bail!("[history] cache_mib and log_mib must be at least 1");
        }
        let tls = &self.tls;
        if tls.cert.is_some() != tls.key.is_some() {
            bail!("TLS needs both a certificate and a key (--tls-cert and --tls-key)");
        }
        if tls.cert.is_some() && tls.self_signed {
            bail!("choose either --tls-cert/--tls-key or --tls-self-signed, not both");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_env_beat_file_beat_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("twinspace.toml");
        std::fs::write(
            &file,
            "bind = \"127.0.0.1:9000\"\ndata_dir = \"/from/file\"\n[limits]\ntwin_body_bytes_max = 5\n[log]\njson = true\n",
        )
        .unwrap();
        let env = |name: &str| match name {
            "TWINSPACE_DATA_DIR" => Some("/from/env".to_owned()),
            _ => None,
        };
        let config = Config::load(Some(&file), env, &Overrides::default()).unwrap();
        assert_eq!(config.bind, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(config.data_dir, PathBuf::from("/from/env"));
        assert_eq!(config.limits.twin_body_bytes_max, 5);
        assert_eq!(config.limits.page_items_max, 1_000);
        assert!(config.log.json);
        let flags = Overrides {
            bind: Some("127.0.0.1:1".parse().unwrap()),
            ..Overrides::default()
        };
        let config = Config::load(Some(&file), env, &flags).unwrap();
        assert_eq!(config.bind, "127.0.0.1:1".parse().unwrap());

        let defaults = Config::load(None, |_| None, &Overrides::default()).unwrap();
        assert_eq!(defaults.bind, "127.0.0.1:8080".parse().unwrap());
    }

    #[test]
    fn the_example_config_is_valid_and_matches_the_defaults() {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("twinspace.example.toml");
        let config = Config::load(Some(&example), |_| None, &Overrides::default()).unwrap();
        let defaults = Config::default();
        assert_eq!(config.bind, defaults.bind);
        assert_eq!(config.data_dir, defaults.data_dir);
        assert_eq!(config.limits, defaults.limits);
        assert_eq!(config.log.filter, defaults.log.filter);
    }

    #[test]
    fn mqtt_settings_from_file_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("twinspace.toml");
        std::fs::write(
            &file,
            "[mqtt]\nlisten = \"127.0.0.1:1883\"\ndefault_rule = false\n[mqtt.limits]\ninflight_max = 8\n\
             [[mqtt.rules]]\nname = \"plc\"\ntopic = \"plant/{world}/{twinId}\"\ntwin = \"{twinId}\"\n",
        )
        .unwrap();
        let config = Config::load(Some(&file), |_| None, &Overrides::default()).unwrap();
        assert!(config.mqtt.enabled());
        assert_eq!(config.mqtt.listen, Some("127.0.0.1:1883".parse().unwrap()));
        assert!(!config.mqtt.default_rule);
        assert_eq!(config.mqtt.limits.inflight_max, 8);
        assert_eq!(config.mqtt.limits.packet_bytes_max, 256 * 1024);
        assert_eq!(config.mqtt.rules.len(), 1);
        let env = |name: &str| match name {
            "TWINSPACE_MQTT_LISTEN" => Some(String::new()),
            "TWINSPACE_MQTT_WS_LISTEN" => Some("127.0.0.1:8083".to_owned()),
            _ => None,
        };
        let config = Config::load(Some(&file), env, &Overrides::default()).unwrap();
        assert_eq!(config.mqtt.listen, None);
        assert_eq!(
            config.mqtt.ws_listen,
            Some("127.0.0.1:8083".parse().unwrap())
        );
        assert!(!Config::default().mqtt.enabled());

        std::fs::write(&file, "[mqtt.limits]\ninflight_max = 0\n").unwrap();
        let error = Config::load(Some(&file), |_| None, &Overrides::default()).unwrap_err();
        assert!(format!("{error:#}").contains("inflight_max"), "{error:#}");
    }

    #[test]
    fn bridges_are_read_checked_and_named_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("twinspace.toml");
        let bridge = |name: &str| {
            format!(
                "[[mqtt.bridges]]\nname = \"{name}\"\nurl = \"mqtt://127.0.0.1:1883\"\n\
                 [[mqtt.bridges.subscriptions]]\nfilter = \"plant/#\"\n"
            )
        };
        std::fs::write(&file, bridge("a") + &bridge("b")).unwrap();
        let config = Config::load(Some(&file), |_| None, &Overrides::default()).unwrap();
        assert_eq!(config.mqtt.bridges.len(), 2);
        assert!(!config.mqtt.enabled(), "bridges alone start no listener");

        std::fs::write(&file, bridge("a") + &bridge("a")).unwrap();
        let error = Config::load(Some(&file), |_| None, &Overrides::default()).unwrap_err();
        assert!(
            format!("{error:#}").contains("two [[mqtt.bridges]]"),
            "{error:#}"
        );

        std::fs::write(
            &file,
            bridge("a").replace("mqtt://127.0.0.1:1883", "http://x"),
        )
        .unwrap();
        let error = Config::load(Some(&file), |_| None, &Overrides::default()).unwrap_err();
        assert!(format!("{error:#}").contains("'a'"), "{error:#}");
    }

    #[test]
    fn history_settings_become_the_history_config() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("twinspace.toml");
        std::fs::write(&file, "[history]\nretention_days = 2\ncache_mib = 8\n").unwrap();
        let config = Config::load(Some(&file), |_| None, &Overrides::default()).unwrap();
        let history = config.history.to_config();
        assert_eq!(history.retention_ns, Some(2 * 86_400 * 1_000_000_000));
        assert_eq!(history.cache_bytes_max, 8 << 20);
        assert_eq!(history.log_bytes_max, 32 << 20);
        std::fs::write(&file, "[history]\nretention_days = 0\n").unwrap();
        let error = Config::load(Some(&file), |_| None, &Overrides::default()).unwrap_err();
        assert!(format!("{error:#}").contains("retention_days"), "{error:#}");
    }

    #[test]
    fn bad_settings_say_what_is_wrong() {
        let error = Config::load(
            None,
            |n| (n == "TWINSPACE_BIND").then(|| "nowhere".into()),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(error.to_string().contains("TWINSPACE_BIND"), "{error}");
        let flags = Overrides {
            tls_cert: Some("c.pem".into()),
            ..Overrides::default()
        };
        assert!(Config::load(None, |_| None, &flags).is_err());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "bnd = 1\n").unwrap();
        let error = Config::load(Some(&file), |_| None, &Overrides::default()).unwrap_err();
        assert!(format!("{error:#}").contains("bnd"), "{error:#}");
    }
}
