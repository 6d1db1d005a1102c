//! `twinspace bench live`: live fan-out under load, and `nats-server` fanning out
//! the same traffic in the same run.
//!
//! 1. A scratch world of `--twins` placed twins on a 2 m grid is written straight
//!    through the server's write path (in process, durable), then a `twinspace
//!    serve` child process is started on it, so its CPU and RSS are its own.
//! 2. `--clients` WebSocket clients (the `twinspace-client` crate) each subscribe
//!    to a sphere of `--radius` m around a viewpoint that random-walks
//!    `--region-hz` times a second. `--writers` live connections patch random
//!    twins' temperature (and move `--move-share` of them) at up to
//!    `--updates-per-second` in all, each write durable before the next.
//! 3. For `--seconds` it counts the twin events clients receive, their latency
//!    from the change's timestamp (server clock, applied) to receipt, and the
//!    bytes on the wire; it samples the server's CPU time and RSS from /proc.
//! 4. `nats-server` (Debian package) is started; as many subscribers connect, in
//!    groups so that each message reaches as many subscribers as an update reached
//!    on average, and one publisher sends the same number of messages per second
//!    of the same size. Its delivered rate and latency are printed, and the ratio.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use parking_lot::Mutex;
use serde_json::json;
use twinspace_client::{Client, Event, SubscribeExt, proto, sphere, subscription};

/// Most clients (each holds a socket in this process and one in the server's).
const CLIENTS_MAX: usize = 10_000;
/// Most twins in the scratch world.
const TWINS_MAX: usize = 1_000_000;
/// Longest measurement.
const SECONDS_MAX: u64 = 300;
/// Grid spacing of the twins, metres.
const SPACING_M: f64 = 2.0;
/// Writes in flight while the scratch world is built.
const BUILD_CONCURRENCY: usize = 512;
const MODEL: &str = "dtmi:bench:Sensor;1";

#[derive(clap::Args)]
pub(crate) struct LiveArgs {
    /// WebSocket clients with moving region subscriptions (up to 10,000; raise
    /// `ulimit -n` first: each takes a descriptor here and one in the server).
    #[arg(long, default_value_t = 1_000)]
    clients: usize,
    /// Twins in the world.
    #[arg(long, default_value_t = 100_000)]
    twins: usize,
    /// Target world updates per second (patches, all writers together).
    #[arg(long, default_value_t = 100_000)]
    updates_per_second: u64,
    /// Live connections that write.
    #[arg(long, default_value_t = 256)]
    writers: usize,
    /// Share of writes that move a twin instead of changing its temperature.
    #[arg(long, default_value_t = 0.1)]
    move_share: f64,
    /// Radius of each client's region, metres.
    #[arg(long, default_value_t = 10.0)]
    radius: f64,
    /// Region moves per second per client.
    #[arg(long, default_value_t = 2.0)]
    region_hz: f64,
    /// The server's tick rate (20..60).
    #[arg(long, default_value_t = 20)]
    tick_hz: u32,
    /// Seconds of measurement (after every client is synced and a 2 s warm-up).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// The nats-server binary; `none` skips the peer.
    #[arg(long, default_value = "nats-server")]
    nats_server: String,
}

/// Latencies in logarithmic buckets of 1/16 octave over microseconds (~4%
/// resolution), so that any number of samples takes a fixed 1 KiB-ish table.
#[derive(Clone)]
struct Histogram {
    buckets: Vec<u64>,
    count: u64,
    max_us: u64,
}

impl Histogram {
    const PER_OCTAVE: f64 = 16.0;
    const BUCKETS: usize = 16 * 40;

    fn new() -> Histogram {
        Histogram {
            buckets: vec![0; Self::BUCKETS],
            count: 0,
            max_us: 0,
        }
    }

    fn record(&mut self, us: u64) {
        let us = us.max(1);
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "a bucket index from a log of a positive number"
        )]
        let index = ((us as f64).log2() * Self::PER_OCTAVE) as usize;
        self.buckets[index.min(Self::BUCKETS - 1)] += 1;
        self.count += 1;
        self.max_us = self.max_us.max(us);
    }

    fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a += b;
        }
        self.count += other.count;
        self.max_us = self.max_us.max(other.max_us);
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        if self.count == 0 {
            return f64::NAN;
        }
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "a rank from a share of a count"
        )]
        let rank = ((self.count as f64) * p).ceil() as u64;
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank.max(1) {
                #[expect(clippy::cast_precision_loss, reason = "bucket index")]
                let upper_us = 2f64.powf((i + 1) as f64 / Self::PER_OCTAVE);
                return upper_us / 1_000.0;
            }
        }
        self.max_us as f64 / 1_000.0
    }
}

fn unix_ns() -> i64 {
    let ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    i64::try_from(ns).unwrap_or(i64::MAX)
}

/// The scratch server: a child process over a data directory.
struct ServerProcess {
    child: Child,
    ws: String,
    token: String,
    dir: std::path::PathBuf,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// CPU seconds (user + system) and RSS / peak RSS in bytes of a process.
fn process_usage(pid: u32) -> Option<(f64, u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Linux reports in clock ticks of 100 Hz on every architecture we run on.
    let cpu = (utime + stime) / 100.0;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |name: &str| -> Option<u64> {
        status
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    Some((cpu, kib("VmRSS:")? * 1024, kib("VmHWM:")? * 1024))
}

fn grid_side(twins: usize) -> usize {
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "the side of a square grid of at most a million twins"
    )]
    let side = (twins as f64).sqrt().ceil() as usize;
    side.max(1)
}

fn twin_position(n: usize, side: usize) -> [f64; 3] {
    #[expect(clippy::cast_precision_loss, reason = "grid indexes below 2^20")]
    let p = [
        (n % side) as f64 * SPACING_M,
        (n / side) as f64 * SPACING_M,
        0.0,
    ];
    p
}

/// Writes the scratch world through the server's own write path, durably.
fn build_world(dir: &std::path::Path, twins: usize) -> Result<String> {
    let store: Arc<dyn store::Store> = Arc::new(crate::serve::open_store(dir)?);
    let opened = server::App::open(store, server::ServerOptions::default())?;
    let app = opened.app;
    let grant = server::Grant {
        world: "*".into(),
        role: server::Role::Admin,
    };
    let (token, _) = app
        .tokens()
        .create(vec![grant], "bench live", server::worlds::now())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let handle = app
            .worlds()
            .get("default")
            .context("the default world exists")?;
        let model = json!({
            "@id": MODEL, "@type": "Interface", "@context": "dtmi:dtdl:context;3",
            "contents": [{ "@type": "Property", "name": "temperature", "schema": "double", "writable": true }]
        });
        app.worlds()
            .apply(&handle, world::Command::AddModels(vec![model]))
            .await?;
        let side = grid_side(twins);
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..twins {
            if tasks.len() >= BUILD_CONCURRENCY {
                tasks.join_next().await.context("a task")???;
            }
            let app = app.clone();
            let handle = Arc::clone(&handle);
            tasks.spawn(async move {
                let body = json!({
                    "$metadata": { "$model": MODEL }, "temperature": 20.0,
                    "$placement": { "position": twin_position(n, side) }
                });
                let command = world::Command::PutTwin {
                    id: format!("s{n}"),
                    body,
                    condition: world::Condition::None,
                };
                app.worlds().apply(&handle, command).await.map(drop)
            });
        }
        while let Some(done) = tasks.join_next().await {
            done??;
        }
        app.shutdown().await;
        anyhow::Ok(())
    })?;
    Ok(token)
}

fn start_server(args: &LiveArgs) -> Result<ServerProcess> {
    let dir = std::env::temp_dir().join(format!("twinspace-bench-live-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let data = dir.join("data");
    let started = Instant::now();
    let token = build_world(&data, args.twins)?;
    println!(
        "world: {} placed twins written durably in {:.1} s",
        args.twins,
        started.elapsed().as_secs_f64()
    );
    let config = dir.join("bench.toml");
    let mut file = std::fs::File::create(&config)?;
    writeln!(
        file,
        "[limits]\nlive_tick_hz = {}\nlive_connections_per_token_max = 100000\nlive_messages_per_second_max = 100000\nlive_participants_max = 100000",
        args.tick_hz
    )?;
    let mut child = Command::new(std::env::current_exe()?)
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .arg("--config")
        .arg(&config)
        .env("TWINSPACE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting the server")?;
    let stdout = child.stdout.take().context("server stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines
            .next()
            .context("the server ended before listening")??;
        if let Some(url) = line.strip_prefix("listening on ") {
            break url.to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines.by_ref() {});
    Ok(ServerProcess {
        child,
        ws: format!("{}/live", url.replacen("http://", "ws://", 1)),
        token,
        dir,
    })
}

/// What the subscriber clients counted during the measurement.
struct Tally {
    events: AtomicU64,
    bytes: AtomicU64,
    frames: AtomicU64,
    latency: Mutex<Histogram>,
    measuring: AtomicBool,
    stop: AtomicBool,
    synced: AtomicU64,
    writes: AtomicU64,
    write_errors: AtomicU64,
    closed: AtomicU64,
}

pub(crate) fn run(args: &LiveArgs) -> Result<()> {
    if args.clients == 0 || args.clients > CLIENTS_MAX {
        bail!("--clients takes 1 to {CLIENTS_MAX}");
    }
    if args.twins == 0 || args.twins > TWINS_MAX {
        bail!("--twins takes 1 to {TWINS_MAX}");
    }
    if args.seconds == 0 || args.seconds > SECONDS_MAX {
        bail!("--seconds takes 1 to {SECONDS_MAX}");
    }
    let server = start_server(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let live = runtime.block_on(measure_live(args, &server))?;
    drop(server);
    if args.nats_server != "none" {
        let nats = runtime.block_on(measure_nats(args, &live))?;
        println!(
            "ratio: Twinspace delivered {:.2}x the updates/s NATS delivered (PRODUCT.md target: >= 1)",
            live.delivered_per_second / nats.max(1.0)
        );
    }
    Ok(())
}

struct LiveFigures {
    delivered_per_second: f64,
    writes_per_second: f64,
    bytes_per_update: f64,
}

async fn measure_live(args: &LiveArgs, server: &ServerProcess) -> Result<LiveFigures> {
    let tally = Arc::new(Tally {
        events: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        frames: AtomicU64::new(0),
        latency: Mutex::new(Histogram::new()),
        measuring: AtomicBool::new(false),
        stop: AtomicBool::new(false),
        synced: AtomicU64::new(0),
        writes: AtomicU64::new(0),
        write_errors: AtomicU64::new(0),
        closed: AtomicU64::new(0),
    });
    let side = grid_side(args.twins);
    #[expect(clippy::cast_precision_loss, reason = "grid side below 2^20")]
    let extent = side as f64 * SPACING_M;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..args.clients {
        let tally = Arc::clone(&tally);
        let url = server.ws.clone();
        let token = server.token.clone();
        let radius = args.radius;
        let region_hz = args.region_hz;
        // Connect in waves, so the server's accept queue is not flooded.
        if n % 200 == 199 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tasks.spawn(async move {
            let outcome = subscriber(n, &url, &token, extent, radius, region_hz, &tally).await;
            if let Err(error) = outcome
                && !tally.stop.load(Ordering::Relaxed)
            {
                tally.closed.fetch_add(1, Ordering::Relaxed);
                eprintln!("client {n}: {error}");
            }
        });
    }
    let wait_until = Instant::now() + Duration::from_secs(120);
    while tally.synced.load(Ordering::Relaxed) < args.clients as u64 {
        if Instant::now() > wait_until {
            bail!(
                "only {} of {} clients synced in 120 s",
                tally.synced.load(Ordering::Relaxed),
                args.clients
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "{} clients connected and synced in {:.1} s",
        args.clients,
        started.elapsed().as_secs_f64()
    );
    for w in 0..args.writers {
        let tally = Arc::clone(&tally);
        let url = server.ws.clone();
        let token = server.token.clone();
        #[expect(clippy::cast_precision_loss, reason = "rates")]
        let rate = args.updates_per_second as f64 / args.writers as f64;
        let twins = args.twins;
        let move_share = args.move_share;
        tasks.spawn(async move {
            let outcome = writer(w, &url, &token, rate, twins, side, move_share, &tally).await;
            if let Err(error) = outcome
                && !tally.stop.load(Ordering::Relaxed)
            {
                eprintln!("writer {w}: {error}");
            }
        });
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pid = server.child.id();
    let (cpu0, _, _) = process_usage(pid).unwrap_or_default();
    let (events0, bytes0, writes0) = (
        tally.events.load(Ordering::Relaxed),
        tally.bytes.load(Ordering::Relaxed),
        tally.writes.load(Ordering::Relaxed),
    );
    *tally.latency.lock() = Histogram::new();
    tally.measuring.store(true, Ordering::Relaxed);
    let window = Instant::now();
    let mut rss_max = 0;
    while window.elapsed() < Duration::from_secs(args.seconds) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if let Some((_, rss, _)) = process_usage(pid) {
            rss_max = rss_max.max(rss);
        }
    }
    let elapsed = window.elapsed().as_secs_f64();
    tally.measuring.store(false, Ordering::Relaxed);
    let (cpu1, _, hwm) = process_usage(pid).unwrap_or_default();
    let events = tally.events.load(Ordering::Relaxed) - events0;
    let bytes = tally.bytes.load(Ordering::Relaxed) - bytes0;
    let writes = tally.writes.load(Ordering::Relaxed) - writes0;
    tally.stop.store(true, Ordering::Relaxed);
    tasks.abort_all();
    let latency = tally.latency.lock().clone();
    #[expect(clippy::cast_precision_loss, reason = "counts to rates")]
    let figures = LiveFigures {
        delivered_per_second: events as f64 / elapsed,
        writes_per_second: writes as f64 / elapsed,
        bytes_per_update: bytes as f64 / events.max(1) as f64,
    };
    println!(
        "twinspace live: {} clients, {} twins, regions r={} m moving {} Hz, tick {} Hz, {:.1} s",
        args.clients, args.twins, args.radius, args.region_hz, args.tick_hz, elapsed
    );
    println!(
        "  world updates/s (durable writes): {:.0} (target {}; write errors {})",
        figures.writes_per_second,
        args.updates_per_second,
        tally.write_errors.load(Ordering::Relaxed)
    );
    println!(
        "  delivered updates/s: {:.0} ({:.1} per world update; clients closed {})",
        figures.delivered_per_second,
        figures.delivered_per_second / figures.writes_per_second.max(1.0),
        tally.closed.load(Ordering::Relaxed)
    );
    println!(
        "  latency change->client: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} samples)",
        latency.percentile_ms(0.50),
        latency.percentile_ms(0.99),
        latency.max_us as f64 / 1_000.0,
        latency.count
    );
    println!(
        "  server: CPU {:.2} cores, RSS {:.0} MiB (peak {:.0} MiB); bytes/update on the wire {:.1}",
        (cpu1 - cpu0) / elapsed,
        rss_max as f64 / 1_048_576.0,
        hwm as f64 / 1_048_576.0,
        figures.bytes_per_update
    );
    Ok(figures)
}

async fn subscriber(
    n: usize,
    url: &str,
    token: &str,
    extent: f64,
    radius: f64,
    region_hz: f64,
    tally: &Tally,
) -> Result<()> {
    let mut client = Client::connect(url, token, "", "").await?;
    // A deterministic start per client, spread over the grid.
    let mut rng = SmallRng(0x9E37_79B9_7F4A_7C15 ^ (n as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let mut at = [rng.unit() * extent, rng.unit() * extent, 0.0];
    client
        .subscribe(
            subscription(1)
                .region(sphere(at, radius))
                .fields(&["temperature", "$placement"]),
        )
        .await?;
    let mut synced = false;
    let period = Duration::from_secs_f64(1.0 / region_hz.max(0.01));
    let mut next_move = Instant::now() + period;
    loop {
        let wait = next_move.saturating_duration_since(Instant::now());
        let event = tokio::time::timeout(wait, client.next()).await;
        match event {
            Ok(event) => {
                let Event::Tick { tick, .. } = event?;
                if !synced && tick.synced.iter().any(|s| s.subscription == 1) {
                    synced = true;
                    tally.synced.fetch_add(1, Ordering::Relaxed);
                }
                if tally.measuring.load(Ordering::Relaxed) {
                    let now = unix_ns();
                    let mut local = Histogram::new();
                    let mut counted = 0;
                    for event in &tick.events {
                        counted += 1;
                        if event.changed_at_unix_ns > 0
                            && event.kind() != proto::TwinEventKind::Leave
                        {
                            let us = (now - event.changed_at_unix_ns).max(0) / 1_000;
                            local.record(u64::try_from(us).unwrap_or(0));
                        }
                    }
                    use prost::Message as _;
                    tally.events.fetch_add(counted, Ordering::Relaxed);
                    tally.frames.fetch_add(1, Ordering::Relaxed);
                    tally
                        .bytes
                        .fetch_add(tick.encoded_len() as u64 + 12, Ordering::Relaxed);
                    tally.latency.lock().merge(&local);
                }
            }
            Err(_) => {
                // Walk the viewpoint one radius-tenth in a random direction.
                let step = radius / 10.0;
                at[0] = (at[0] + (rng.unit() - 0.5) * 2.0 * step).clamp(0.0, extent);
                at[1] = (at[1] + (rng.unit() - 0.5) * 2.0 * step).clamp(0.0, extent);
                client.move_region(1, sphere(at, radius)).await?;
                next_move += period;
            }
        }
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "one call site; a struct would only rename them"
)]
async fn writer(
    w: usize,
    url: &str,
    token: &str,
    rate: f64,
    twins: usize,
    side: usize,
    move_share: f64,
    tally: &Tally,
) -> Result<()> {
    let mut client = Client::connect(url, token, "", "").await?;
    let mut rng =
        SmallRng(0xD1B5_4A32_D192_ED03 ^ (w as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let period = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let mut next = Instant::now();
    loop {
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "a random index below the twin count"
        )]
        let n = ((rng.unit() * twins as f64) as usize).min(twins - 1);
        let twin = format!("s{n}");
        let result = if rng.unit() < move_share {
            let home = twin_position(n, side);
            let jitter = |r: f64| (r - 0.5) * SPACING_M * 0.9;
            client
                .move_twin(
                    &twin,
                    [
                        home[0] + jitter(rng.unit()),
                        home[1] + jitter(rng.unit()),
                        0.0,
                    ],
                )
                .await
        } else {
            client
                .patch(&twin, "/temperature", &json!(rng.unit() * 100.0), false)
                .await
        };
        match result {
            Ok(_) => tally.writes.fetch_add(1, Ordering::Relaxed),
            Err(twinspace_client::ClientError::Refused { .. }) => {
                tally.write_errors.fetch_add(1, Ordering::Relaxed)
            }
            Err(other) => return Err(other.into()),
        };
        // Pace to the rate; when behind, go on at once (durability is the limit).
        next += period;
        let now = Instant::now();
        if next > now {
            tokio::time::sleep(next - now).await;
        } else if now - next > Duration::from_secs(1) {
            next = now;
        }
    }
}

/// A xorshift generator: the bench needs cheap, repeatable spread, not quality.
struct SmallRng(u64);

impl SmallRng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        #[expect(clippy::cast_precision_loss, reason = "53 random bits to a double")]
        let unit = (self.0 >> 11) as f64 / (1u64 << 53) as f64;
        unit
    }
}

/// Fans out the live run's traffic through nats-server and returns its
/// delivered messages per second.
async fn measure_nats(args: &LiveArgs, live: &LiveFigures) -> Result<f64> {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.local_addr()?.port()
    };
    let mut child = Command::new(&args.nats_server)
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| {
            format!(
                "starting {} (apt-get install nats-server)",
                args.nats_server
            )
        })?;
    let result = nats_run(args, live, port, child.id()).await;
    let _ = child.kill();
    let _ = child.wait();
    result
}

async fn nats_run(args: &LiveArgs, live: &LiveFigures, port: u16, pid: u32) -> Result<f64> {
    let url = format!("nats://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("nats-server did not listen within 10 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Each message reaches `fanout` subscribers, as an update reached on average.
    let fanout = (live.delivered_per_second / live.writes_per_second.max(1.0)).max(1.0);
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "group count from a ratio"
    )]
    let groups = ((args.clients as f64 / fanout).round() as usize).max(1);
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a payload size"
    )]
    let size = (live.bytes_per_update.round() as usize).max(16);
    let delivered = Arc::new(AtomicU64::new(0));
    let measuring = Arc::new(AtomicBool::new(false));
    let latency = Arc::new(Mutex::new(Histogram::new()));
    let mut tasks = tokio::task::JoinSet::new();
    let mut ready = 0;
    for n in 0..args.clients {
        let client = async_nats::ConnectOptions::new()
            .subscription_capacity(65_536)
            .connect(&url)
            .await
            .with_context(|| format!("NATS subscriber {n} connecting"))?;
        let mut subscriber = client.subscribe(format!("g.{}", n % groups)).await?;
        client.flush().await?;
        ready += 1;
        let delivered = Arc::clone(&delivered);
        let measuring = Arc::clone(&measuring);
        let latency = Arc::clone(&latency);
        tasks.spawn(async move {
            use futures_util::StreamExt;
            let _client = client;
            let mut local = Histogram::new();
            while let Some(message) = subscriber.next().await {
                if !measuring.load(Ordering::Relaxed) {
                    continue;
                }
                delivered.fetch_add(1, Ordering::Relaxed);
                if let Some(sent) = message.payload.get(..8) {
                    let sent = i64::from_le_bytes(sent.try_into().unwrap_or_default());
                    local.record(u64::try_from((unix_ns() - sent).max(0) / 1_000).unwrap_or(0));
                    // Merged in small batches: a subscriber's task may be
                    // aborted at the end before a larger batch fills.
                    if local.count >= 16 {
                        latency.lock().merge(&local);
                        local = Histogram::new();
                    }
                }
            }
            latency.lock().merge(&local);
        });
    }
    let publisher = async_nats::connect(&url).await?;
    let rate = live.writes_per_second.max(1.0);
    let stop = Arc::new(AtomicBool::new(false));
    let published = Arc::new(AtomicU64::new(0));
    let publish = {
        let stop = Arc::clone(&stop);
        let published = Arc::clone(&published);
        tokio::spawn(async move {
            let mut payload = vec![0u8; size];
            let start = Instant::now();
            let mut sent: u64 = 0;
            let mut group = 0usize;
            while !stop.load(Ordering::Relaxed) {
                // Publish what the rate allows so far, in one burst per millisecond.
                #[expect(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "a message count"
                )]
                let due = (start.elapsed().as_secs_f64() * rate) as u64;
                while sent < due {
                    payload[..8].copy_from_slice(&unix_ns().to_le_bytes());
                    if publisher
                        .publish(format!("g.{group}"), payload.clone().into())
                        .await
                        .is_err()
                    {
                        return;
                    }
                    group = (group + 1) % groups;
                    sent += 1;
                }
                published.store(sent, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (cpu0, _, _) = process_usage(pid).unwrap_or_default();
    measuring.store(true, Ordering::Relaxed);
    let published0 = published.load(Ordering::Relaxed);
    let window = Instant::now();
    let mut rss_max = 0;
    while window.elapsed() < Duration::from_secs(args.seconds) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if let Some((_, rss, _)) = process_usage(pid) {
            rss_max = rss_max.max(rss);
        }
    }
    let elapsed = window.elapsed().as_secs_f64();
    measuring.store(false, Ordering::Relaxed);
    let (cpu1, _, _) = process_usage(pid).unwrap_or_default();
    let published = published.load(Ordering::Relaxed) - published0;
    stop.store(true, Ordering::Relaxed);
    let _ = publish.await;
    tasks.abort_all();
    let latency = latency.lock().clone();
    #[expect(clippy::cast_precision_loss, reason = "counts to rates")]
    let delivered_per_second = delivered.load(Ordering::Relaxed) as f64 / elapsed;
    #[expect(clippy::cast_precision_loss, reason = "counts to rates")]
    let published_per_second = published as f64 / elapsed;
    println!(
        "nats-server: {ready} subscribers in {groups} groups (each message to ~{fanout:.1}), {size}-byte messages"
    );
    println!("  published/s: {published_per_second:.0}; delivered/s: {delivered_per_second:.0}");
    println!(
        "  latency publish->subscriber: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (samples from subscribers' batches)",
        latency.percentile_ms(0.50),
        latency.percentile_ms(0.99),
        latency.max_us as f64 / 1_000.0
    );
    println!(
        "  nats-server: CPU {:.2} cores, RSS {:.0} MiB",
        (cpu1 - cpu0) / elapsed,
        rss_max as f64 / 1_048_576.0
    );
    Ok(delivered_per_second)
}
