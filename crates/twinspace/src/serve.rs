//! `twinspace serve`: opens the store in the data directory, restores the worlds,
//! serves the API over HTTP or HTTPS (rustls), prints `listening on URL` once the
//! socket is bound, and on SIGTERM or Ctrl-C stops taking connections, finishes
//! the requests in flight and flushes every pending commit before exiting.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum_server::tls_rustls::RustlsConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use server::{App, ServerOptions};

use crate::config::{Config, Overrides};

/// How long in-flight requests may take to finish at shutdown.
const GRACEFUL_SHUTDOWN: Duration = Duration::from_secs(10);

/// The store file inside the data directory.
pub(crate) const STORE_FILE: &str = "twinspace.redb";

#[derive(clap::Args)]
pub(crate) struct ServeArgs {
    /// A TOML config file (keys: bind, data_dir, [tls], [log], [limits]).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Data directory (env TWINSPACE_DATA_DIR).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Address to listen on, default 127.0.0.1:8080 (env TWINSPACE_BIND).
    #[arg(long)]
    bind: Option<std::net::SocketAddr>,
    /// TLS certificate chain, PEM (env TWINSPACE_TLS_CERT).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key, PEM (env TWINSPACE_TLS_KEY).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve HTTPS with a certificate made at start for localhost and the bind
    /// address (written to DATA_DIR/tls/self-signed.pem for clients to trust).
    #[arg(long, conflicts_with = "tls_cert")]
    tls_self_signed: bool,
    /// Log JSON lines instead of text (env TWINSPACE_LOG_FORMAT=json).
    #[arg(long)]
    log_json: bool,
    /// Build the demo factory world on first start, and keep a demo admin token
    /// in DATA_DIR/demo-token so every start can print a ready-to-use URL.
    #[arg(long)]
    demo: bool,
    /// With --demo: publish simulated machine and sensor telemetry to the
    /// server's own MQTT broker (`--demo-telemetry=false` turns it off).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    demo_telemetry: bool,
}

/// Opens the store of a data directory, creating the directory if needed.
pub(crate) fn open_store(data_dir: &Path) -> Result<store::RedbStore> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let path = data_dir.join(STORE_FILE);
    store::RedbStore::open(&path).with_context(|| {
        format!(
            "cannot open {} (is another twinspace process using this data directory?)",
            path.display()
        )
    })
}

fn init_logging(config: &Config) -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.filter)
        .with_context(|| format!("the log filter {:?} is not valid", config.log.filter))?;
    use std::io::IsTerminal as _;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if config.log.json {
        builder.json().init();
    } else {
        builder.init();
    }
    Ok(())
}

pub(crate) fn run(args: ServeArgs) -> Result<()> {
    let flags = Overrides {
        bind: args.bind,
        data_dir: args.data_dir,
        tls_cert: args.tls_cert,
        tls_key: args.tls_key,
        tls_self_signed: args.tls_self_signed,
        log_json: args.log_json,
    };
    let config = Config::load(
        args.config.as_deref(),
        |name| std::env::var(name).ok(),
        &flags,
    )?;
    init_logging(&config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(config, args.demo, args.demo_telemetry))
}

/// Builds the demo factory if its world is missing and returns a token for it,
/// kept in `DATA_DIR/demo-token` (readable by the owner only) so that later
/// starts print the same URL.
async fn seed_demo(app: &App, data_dir: &Path) -> Result<String> {
    let token_file = data_dir.join("demo-token");
    let token = match std::fs::read_to_string(&token_file) {
        Ok(text) if app.tokens().authenticate(text.trim()).is_some() => text.trim().to_owned(),
        _ => {
            let grants = vec![server::Grant {
                world: "*".into(),
                role: server::Role::Admin,
            }];
            let (secret, _) = app.tokens().create(grants, "demo", server::worlds::now())?;
            write_private(&token_file, &secret)?;
            secret
        }
    };
    let worlds = app.worlds();
    if worlds.get(crate::demo::WORLD).is_none() {
        let handle = worlds
            .create(world::WorldId::parse(crate::demo::WORLD)?)
            .await?;
        let commands = crate::demo::commands();
        let count = commands.len();
        for command in commands {
            worlds.apply(&handle, command).await?;
        }
        tracing::info!(
            world = crate::demo::WORLD,
            commands = count,
            "demo factory built"
        );
    }
    Ok(token)
}

pub(crate) fn write_private(path: &Path, secret: &str) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    std::io::Write::write_all(&mut file, secret.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

async fn serve(config: Config, demo: bool, demo_telemetry: bool) -> Result<()> {
    let tls = tls_config(&config).await?;
    let store: Arc<dyn store::Store> = Arc::new(open_store(&config.data_dir)?);
    let options = ServerOptions {
        limits: config.limits.clone(),
        tls: tls.is_some(),
        history: config.history.to_config(),
    };
    let opened = tokio::task::spawn_blocking(move || App::open(store, options))
        .await
        .context("opening the worlds panicked")??;
    let app = opened.app;
    if config.history.retention_days.is_some() {
        // Old chunks are dropped hourly (and once now): retention is a budget
        // of days, so an hour's slack is nothing.
        let app = app.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(3_600));
            loop {
                every.tick().await;
                match app.worlds().retain().await {
                    Ok(0) => {}
                    Ok(dropped) => tracing::info!(dropped, "history retention dropped old chunks"),
                    Err(error) => tracing::warn!(%error, "history retention failed"),
                }
            }
        });
    }
    if let Some(secret) = opened.first_admin_token {
        println!("admin token (shown only this once; store it now): {secret}");
    }
    for handle in app.worlds().list() {
        let world = handle.read();
        tracing::info!(world = %handle.id(), twins = world.twin_count(), seq = %world.seq(), "world restored");
    }
    let demo_token = if demo {
        Some(seed_demo(&app, &config.data_dir).await?)
    } else {
        None
    };
    let broker = if config.mqtt.enabled() || demo {
        let (broker, tcp) = start_mqtt(&app, &config.mqtt, demo).await?;
        if let (Some(tcp), true) = (tcp, demo && demo_telemetry) {
            let token = crate::demo::telemetry_token(&app, &config.data_dir)?;
            tokio::spawn(crate::demo::telemetry(tcp, token));
        }
        Some(broker)
    } else {
        None
    };
    let bridges = start_bridges(&app, &config.mqtt)?;

    let handle = axum_server::Handle::new();
    let scheme = if tls.is_some() { "https" } else { "http" };
    {
        let handle = handle.clone();
        tokio::spawn(async move {
            if let Some(address) = handle.listening().await {
                println!("listening on {scheme}://{address}");
                if let Some(token) = demo_token {
                    let world = crate::demo::WORLD;
                    println!("demo world '{world}' is ready; open it in a browser:");
                    println!("  {scheme}://{address}/?token={token}&world={world}");
                    println!("or from a shell:");
                    println!(
                        "  curl -s -H 'Authorization: Bearer {token}' {scheme}://{address}/worlds/{world}/digitaltwins/cnc1"
                    );
                    println!(
                        "  curl -s -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\"
                    );
                    println!(
                        "       -d '{{\"query\": \"SELECT T.name, T.spindleTemperature FROM DIGITALTWINS T WHERE IS_OF_MODEL(\\\"dtmi:twinspace:demo:CncMachine;1\\\")\"}}' {scheme}://{address}/worlds/{world}/query"
                    );
                }
                use std::io::Write as _;
                let _ = std::io::stdout().flush();
            }
        });
    }
    {
        let handle = handle.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutting down: finishing requests in flight");
            handle.graceful_shutdown(Some(GRACEFUL_SHUTDOWN));
        });
    }
    let service = app.router().into_make_service();
    let served = match tls {
        Some(tls) => {
            axum_server::bind_rustls(config.bind, tls)
                .handle(handle)
                .serve(service)
                .await
        }
        None => {
            axum_server::bind(config.bind)
                .handle(handle)
                .serve(service)
                .await
        }
    };
    if let Some(broker) = &broker {
        // Closes every MQTT connection: QoS 1 PUBLISHes not yet durable get no
        // PUBACK, so their clients send them again after the restart.
        broker.shutdown();
    }
    // Bridges acknowledge what became durable before they disconnect, so the
    // external broker redelivers only what was not.
    for bridge in &bridges {
        bridge.shutdown().await;
    }
    app.shutdown().await;
    tracing::info!("stopped; every acknowledged write is durable");
    served.with_context(|| format!("serving on {} failed", config.bind))
}

/// The MQTT address `--demo` uses when the config names none.
const DEMO_MQTT: ([u8; 4], u16) = ([127, 0, 0, 1], 1883);

/// Starts the embedded MQTT broker on the configured listeners (with `--demo`
/// and none configured, on 127.0.0.1:1883, or a free port when that is taken),
/// prints where it listens, and returns it with its TCP address.
async fn start_mqtt(
    app: &App,
    config: &crate::config::MqttConfig,
    demo: bool,
) -> Result<(mqtt::Broker, Option<std::net::SocketAddr>)> {
    let mapper = app
        .ingest_rules()
        .configure(config.rules.clone(), config.default_rule)
        .context("the [[mqtt.rules]] and the worlds' stored rules do not compile together")?;
    let broker = mqtt::Broker::new(
        config.limits.clone(),
        Arc::new(server::mqtt::TokenAuthenticator::new(app.clone())),
        Arc::new(server::mqtt::WorldsSink::new(app.clone())),
        mapper,
    )?;
    let mut tcp = None;
    if let Some(address) = config.listen {
        tcp = Some(broker.listen_tcp(address).await?);
    } else if demo && config.ws_listen.is_none() {
        let preferred = std::net::SocketAddr::from(DEMO_MQTT);
        let bound = match broker.listen_tcp(preferred).await {
            Ok(bound) => bound,
            Err(error) => {
                tracing::warn!(%error, "the demo's MQTT port is taken; using a free one");
                broker
                    .listen_tcp(std::net::SocketAddr::from((DEMO_MQTT.0, 0)))
                    .await?
            }
        };
        tcp = Some(bound);
    }
    if let Some(bound) = tcp {
        println!("mqtt listening on mqtt://{bound}");
    }
    if let Some(address) = config.ws_listen {
        let bound = broker.listen_ws(address).await?;
        println!("mqtt over websocket listening on ws://{bound}");
    }
    app.attach_mqtt(broker.clone());
    // Rules changed over REST are in force for the next message.
    let follower = broker.clone();
    app.ingest_rules()
        .follow(Arc::new(move |mapper| follower.set_mapper(mapper)));
    Ok((broker, tcp))
}

/// Starts the `[[mqtt.bridges]]`: each follows its external broker, maps what
/// arrives by the same rules as the embedded broker and writes it through the same
/// durable path; their metrics join `/metrics`.
fn start_bridges(
    app: &App,
    config: &crate::config::MqttConfig,
) -> Result<Vec<Arc<bridge::BridgeHandle>>> {
    if config.bridges.is_empty() {
        return Ok(Vec::new());
    }
    let mapper = app
        .ingest_rules()
        .configure(config.rules.clone(), config.default_rule)
        .context("the [[mqtt.rules]] and the worlds' stored rules do not compile together")?;
    let sink: Arc<dyn mqtt::Sink> = Arc::new(server::mqtt::WorldsSink::new(app.clone()));
    let mut bridges = Vec::with_capacity(config.bridges.len());
    for bridge_config in &config.bridges {
        let name = bridge_config.name.clone();
        let endpoint = bridge_config
            .endpoint()
            .with_context(|| format!("the MQTT bridge '{name}' has no usable address"))?;
        let bridge = bridge::Bridge::spawn(bridge_config.clone(), mapper.clone(), sink.clone())
            .with_context(|| format!("the MQTT bridge '{name}' cannot start"))?;
        let scheme = if endpoint.tls { "mqtts" } else { "mqtt" };
        println!(
            "mqtt bridge '{name}' following {scheme}://{}:{}",
            endpoint.host, endpoint.port
        );
        bridges.push(Arc::new(bridge));
    }
    let following = bridges.clone();
    app.ingest_rules().follow(Arc::new(move |mapper| {
        for bridge in &following {
            bridge.set_mapper(mapper.clone());
        }
    }));
    let observed = bridges.clone();
    app.add_metrics(Arc::new(move |out: &mut String| {
        bridge::BridgeMetrics::prometheus_header(out);
        for bridge in &observed {
            bridge.metrics().render_prometheus(bridge.name(), out);
        }
    }));
    Ok(bridges)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

/// The rustls server config from files or a fresh self-signed certificate.
async fn tls_config(config: &Config) -> Result<Option<RustlsConfig>> {
    let (certs, key) = if let (Some(cert), Some(key)) = (&config.tls.cert, &config.tls.key) {
        let cert_pem =
            std::fs::read(cert).with_context(|| format!("cannot read {}", cert.display()))?;
        let key_pem =
            std::fs::read(key).with_context(|| format!("cannot read {}", key.display()))?;
        let certs = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("{} holds no valid PEM certificate", cert.display()))?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem)
            .with_context(|| format!("{} holds no valid PEM private key", key.display()))?;
        (certs, key)
    } else if config.tls.self_signed {
        self_signed(config)?
    } else {
        return Ok(None);
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("rustls refused its default protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the TLS certificate and key do not fit together")?;
    server_config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(RustlsConfig::from_config(Arc::new(server_config))))
}

fn self_signed(config: &Config) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let ip = config.bind.ip().to_string();
    if !names.contains(&ip) && !config.bind.ip().is_unspecified() {
        names.push(ip);
    }
    let certified = rcgen::generate_simple_self_signed(names)
        .context("cannot make a self-signed certificate")?;
    let dir = config.data_dir.join("tls");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let pem_path = dir.join("self-signed.pem");
    std::fs::write(&pem_path, certified.cert.pem())
        .with_context(|| format!("cannot write {}", pem_path.display()))?;
    tracing::info!(certificate = %pem_path.display(), "serving HTTPS with a self-signed certificate");
    let key = PrivateKeyDer::try_from(certified.signing_key.serialize_der())
        .map_err(|e| anyhow::anyhow!("the generated key is not usable: {e}"))?;
    Ok((vec![certified.cert.der().clone()], key))
}
