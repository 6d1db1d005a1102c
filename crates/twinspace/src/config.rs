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
