//! MQTT QoS 0 ingest end to end through the server, against Debian's mosquitto
//! merely relaying the same messages.
//!
//! One load generator (the same code for both brokers: one TCP connection
//! writing pre-encoded MQTT 3.1.1 PUBLISHes of `{"temperature": …}` to N twins'
//! topics as fast as the broker takes them) and one MQTT subscriber on
//! `twinspace/bench/#` that counts the PUBLISHes it receives.
//!
//! (a) Twinspace: the embedded broker with the server's own token check and
//! `WorldsSink`, so every message is mapped by the default rule, applied to the
//! world through `Worlds::ingest` (model check, history when the server records
//! it, live capture) and committed to a redb file by the group commit, while the
//! broker relays it to the subscriber; a live WebSocket client subscribed to the
//! whole world counts the twin updates its ticks carry (conflated per tick, so
//! fewer than the messages) and their source→client latency. A message counts when it is durable in the world and
//! at the subscriber (the smaller of the two rates).
//! (b) The broker alone, mapping into a sink that only counts (for reference).
//! (c) mosquitto (started on a free port with a temporary config) relaying.
//! Printed: messages/s for each and the ratio (a)/(c) (target ≥ 2.0).
//!
//! `cargo run --release -p server --example bench_mqtt [-- --seconds 5 --twins 1000]`

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use bytes::BytesMut;
use ingest::{Mapper, TwinUpdate};
use mqtt::{Access, Broker, Grant, Limits, PasswordTable, Sink, Submitted};
use rmqtt_codec::types::{Protocol, Publish, QoS};
use rmqtt_codec::v3;
use serde_json::json;
use server::mqtt::{TokenAuthenticator, WorldsSink};
use server::{App, ServerOptions};
use tokio_util::codec::Encoder;
use world::{Command as WorldCommand, Condition, WorldId};

/// Messages pre-encoded into the generator's buffer (it is written in a loop).
const GENERATOR_MESSAGES: usize = 20_000;
/// Warm-up before the measured window.
const WARM_UP: Duration = Duration::from_secs(1);
/// The world the bench writes.
const WORLD: &str = "bench";

/// Counts mapped updates and applies nothing: the broker's own cost (decode,
/// access check, routing, mapping, fan-out), printed for reference.
struct CountingSink(AtomicU64);

impl Sink for CountingSink {
    fn submit(&self, updates: Vec<TwinUpdate>) -> Submitted {
        self.0.fetch_add(updates.len() as u64, Ordering::Relaxed);
        Submitted {
            refused: Vec::new(),
            durable: None,
        }
    }
}

/// The server's own sink, counting the updates that became durable. QoS 0
/// submissions are not awaited by the broker, so the count waits on its own.
struct DurableCounter {
    inner: WorldsSink,
    durable: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
}

impl Sink for DurableCounter {
    fn submit(&self, updates: Vec<TwinUpdate>) -> Submitted {
        let total = updates.len() as u64;
        let submitted = self.inner.submit(updates);
        let accepted = total - submitted.refused.len() as u64;
        self.refused
            .fetch_add(submitted.refused.len() as u64, Ordering::Relaxed);
        if let Some(durable) = submitted.durable {
            let counter = self.durable.clone();
            tokio::spawn(async move {
                if durable.await.is_ok() {
                    counter.fetch_add(accepted, Ordering::Relaxed);
                }
            });
        }
        Submitted {
            refused: submitted.refused,
            durable: None,
        }
    }
}

fn encode(packet: v3::Packet) -> BytesMut {
    let mut out = BytesMut::new();
    v3::Codec::new(0)
        .encode(packet, &mut out)
        .expect("encodable packet");
    out
}

fn connect_packet(client_id: &str, password: Option<&str>) -> BytesMut {
    encode(v3::Packet::Connect(Box::new(v3::Connect {
        protocol: Protocol(4),
        clean_session: true,
        keep_alive: 600,
        last_will: None,
        client_id: client_id.into(),
        username: password.map(|_| "bench".into()),
        password: password.map(|p| bytes::Bytes::copy_from_slice(p.as_bytes())),
        cert: None,
    })))
}

/// Connects and waits for CONNACK (and SUBACK when subscribing).
fn open(
    address: SocketAddr,
    client_id: &str,
    password: Option<&str>,
    subscribe: Option<&str>,
) -> TcpStream {
    let mut stream = TcpStream::connect(address).expect("broker reachable");
    stream.set_nodelay(true).expect("nodelay");
    stream
        .write_all(&connect_packet(client_id, password))
        .expect("CONNECT");
    let mut ack = [0u8; 4];
    stream.read_exact(&mut ack).expect("CONNACK");
    assert_eq!((ack[0], ack[3]), (0x20, 0), "connection refused");
    if let Some(filter) = subscribe {
        let packet = encode(v3::Packet::Subscribe {
            packet_id: std::num::NonZeroU16::MIN,
            topic_filters: vec![(filter.into(), QoS::AtMostOnce)],
        });
        stream.write_all(&packet).expect("SUBSCRIBE");
        let mut suback = [0u8; 5];
        stream.read_exact(&mut suback).expect("SUBACK");
        assert_eq!(suback[0], 0x90, "SUBACK expected");
    }
    stream
}

/// Writes pre-encoded PUBLISHes until `stop`.
fn generator(
    address: SocketAddr,
    password: Option<&str>,
    twins: usize,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<u64> {
    let mut buffer = BytesMut::new();
    for i in 0..GENERATOR_MESSAGES {
        // Each pass over the twins brings every twin a new value (an unchanged
        // value is not a change, and the world would rightly skip it).
        let payload =
            json!({ "temperature": 20.0 + (i / twins % 1000) as f64 / 100.0 }).to_string();
        buffer.extend_from_slice(&encode(v3::Packet::Publish(Box::new(Publish {
            dup: false,
            retain: false,
            qos: QoS::AtMostOnce,
            topic: format!("twinspace/{WORLD}/sensor-{}", i % twins).into(),
            packet_id: None,
            payload: payload.into(),
            properties: None,
        }))));
    }
    let mut stream = open(address, "generator", password, None);
    std::thread::spawn(move || {
        let mut sent = 0u64;
        while !stop.load(Ordering::Relaxed) {
            if stream.write_all(&buffer).is_err() {
                break;
            }
            sent += GENERATOR_MESSAGES as u64;
        }
        sent
    })
}

/// Counts PUBLISH packets arriving until `stop`.
fn subscriber(
    address: SocketAddr,
    password: Option<&str>,
    received: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    let filter = format!("twinspace/{WORLD}/#");
    let mut stream = open(address, "subscriber", password, Some(&filter));
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 256 * 1024];
        // Parser state: bytes of the current packet's body still to skip, and a
        // partial fixed header.
        let mut skip = 0usize;
        let mut header: Vec<u8> = Vec::with_capacity(5);
        let mut count = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let n = match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(_) => continue,
            };
            let mut i = 0;
            while i < n {
                if skip > 0 {
                    let take = skip.min(n - i);
                    skip -= take;
                    i += take;
                    continue;
                }
                header.push(buf[i]);
                i += 1;
                if header.len() >= 2 && header[header.len() - 1] & 0x80 == 0 {
                    let mut length = 0usize;
                    for (k, byte) in header[1..].iter().enumerate() {
                        length |= usize::from(byte & 0x7f) << (7 * k);
                    }
                    if header[0] >> 4 == 3 {
                        count += 1;
                    }
                    skip = length;
                    header.clear();
                }
            }
            received.store(count, Ordering::Relaxed);
        }
    })
}

struct Figures {
    delivered_per_s: f64,
    /// Per counter given: its increase per second over the window.
    counted_per_s: Vec<f64>,
}

/// Runs generator and subscriber against `address` and measures the subscriber
/// and the given counters over the same window.
fn measure(
    address: SocketAddr,
    password: Option<&str>,
    twins: usize,
    seconds: f64,
    counters: &[&AtomicU64],
) -> Figures {
    let stop = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));
    let sub = subscriber(address, password, received.clone(), stop.clone());
    let generator = generator(address, password, twins, stop.clone());
    std::thread::sleep(WARM_UP);
    let read = || -> Vec<u64> { counters.iter().map(|c| c.load(Ordering::Relaxed)).collect() };
    let (r0, c0, t0) = (received.load(Ordering::Relaxed), read(), Instant::now());
    std::thread::sleep(Duration::from_secs_f64(seconds));
    let (r1, c1, elapsed) = (
        received.load(Ordering::Relaxed),
        read(),
        t0.elapsed().as_secs_f64(),
    );
    stop.store(true, Ordering::Relaxed);
    let _ = generator.join();
    let _ = sub.join();
    Figures {
        delivered_per_s: (r1 - r0) as f64 / elapsed,
        counted_per_s: c0
            .iter()
            .zip(&c1)
            .map(|(a, b)| (b - a) as f64 / elapsed)
            .collect(),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn start_mosquitto(dir: &Path) -> Option<(Child, SocketAddr)> {
    let binary = [
        "/usr/sbin/mosquitto",
        "/usr/bin/mosquitto",
        "/usr/local/sbin/mosquitto",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())?;
    let port = free_port();
    let config = dir.join("mosquitto.conf");
    std::fs::write(
        &config,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\n"
        ),
    )
    .ok()?;
    let child = Command::new(binary)
        .arg("-c")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let address: SocketAddr = format!("127.0.0.1:{port}").parse().ok()?;
    for _ in 0..100 {
        if TcpStream::connect(address).is_ok() {
            return Some((child, address));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// The server on a fresh redb file, with world `bench`, its sensors, an admin
/// token and an ingest token.
fn open_app(dir: &Path, twins: usize) -> (App, String) {
    let store: Arc<dyn store::Store> =
        Arc::new(store::RedbStore::open(&dir.join("bench.redb")).expect("store opens"));
    let opened = App::open(store, ServerOptions::default()).expect("app opens");
    let app = opened.app;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let world = app
            .worlds()
            .create(WorldId::parse(WORLD).expect("world id"))
            .await
            .expect("world created");
        let model = json!({
            "@id": "dtmi:bench:Sensor;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
            "contents": [{ "@type": "Property", "name": "temperature", "schema": "double", "writable": true }]
        });
        app.worlds()
            .apply(&world, WorldCommand::AddModels(vec![model]))
            .await
            .expect("model loads");
        for i in 0..twins {
            let body =
                json!({ "$metadata": { "$model": "dtmi:bench:Sensor;1" }, "temperature": 0.0 });
            app.worlds()
                .apply(
                    &world,
                    WorldCommand::PutTwin {
                        id: format!("sensor-{i}"),
                        body,
                        condition: Condition::None,
                    },
                )
                .await
                .expect("twin is valid");
        }
    });
    // Operator: publishes and subscribes on the bench world, nothing else.
    let grant = server::Grant {
        world: WORLD.into(),
        role: server::Role::Operator,
    };
    let (token, _) = app
        .tokens()
        .create(vec![grant], "bench", server::worlds::now())
        .expect("a token");
    (app, token)
}

/// A live WebSocket client subscribed to the whole world: counts the twin
/// updates its ticks carry and keeps each event's source→client latency.
struct LiveWatcher {
    updates: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<f64>>,
}

/// Latencies kept at most (a sample is enough for percentiles).
const LATENCIES_MAX: usize = 1_000_000;

async fn live_watcher(app: &App, token: &str) -> LiveWatcher {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("HTTP listener");
    let http = listener.local_addr().expect("address");
    let router = app.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let url = format!("ws://{http}/worlds/{WORLD}/live");
    let mut client = twinspace_client::Client::connect(&url, token, "", "")
        .await
        .expect("live connection");
    client
        .subscribe(twinspace_client::subscription(1))
        .await
        .expect("subscribed");
    let updates = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let task = {
        let (updates, stop) = (updates.clone(), stop.clone());
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let next = tokio::time::timeout(Duration::from_millis(200), client.next()).await;
                let Ok(Ok(twinspace_client::Event::Tick { tick, .. })) = next else {
                    continue;
                };
                let now = server::worlds::now().0;
                updates.fetch_add(tick.events.len() as u64, Ordering::Relaxed);
                for event in &tick.events {
                    if event.changed_at_unix_ns > 0 && latencies.len() < LATENCIES_MAX {
                        latencies.push((now - event.changed_at_unix_ns) as f64 / 1e6);
                    }
                }
            }
            latencies
        })
    };
    LiveWatcher {
        updates,
        stop,
        task,
    }
}

/// The `q` quantile of `values` (NaN when empty).
fn percentile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: f64| -> f64 {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let seconds = arg("--seconds", 5.0).clamp(1.0, 60.0);
    let twins = arg("--twins", 1000.0).clamp(1.0, 1_000_000.0) as usize;
    let dir = tempfile::tempdir().expect("temp dir");

    // (a) Twinspace: the server's broker, tokens and write path.
    let (app, token) = open_app(dir.path(), twins);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let durable = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let broker = {
        let _guard = runtime.enter();
        Broker::new(
            Limits::default(),
            Arc::new(TokenAuthenticator::new(app.clone())),
            Arc::new(DurableCounter {
                inner: WorldsSink::new(app.clone()),
                durable: durable.clone(),
                refused: refused.clone(),
            }),
            Mapper::new(Vec::new(), true).expect("default rule"),
        )
        .expect("broker")
    };
    let address = runtime
        .block_on(broker.listen_tcp("127.0.0.1:0".parse().expect("address")))
        .expect("listens");
    let live = runtime.block_on(live_watcher(&app, &token));
    let ours = measure(
        address,
        Some(&token),
        twins,
        seconds,
        &[&durable, &live.updates],
    );
    live.stop.store(true, Ordering::Relaxed);
    let latencies = runtime.block_on(live.task).unwrap_or_default();
    broker.shutdown();
    let metrics = broker.metrics();
    runtime.block_on(app.shutdown());
    drop(runtime);
    let applied = ours.counted_per_s[0];
    let ours_rate = applied.min(ours.delivered_per_s);
    println!(
        "twinspace: {:>10.0} msg/s end to end ({:.0}/s durable in {} twins, {:.0}/s to the MQTT subscriber; {} refused, {} dropped for the subscriber)",
        ours_rate,
        applied,
        twins,
        ours.delivered_per_s,
        refused.load(Ordering::Relaxed),
        metrics.qos0_dropped
    );
    println!(
        "           live: {:.0} twin updates/s to a WebSocket subscriber of the whole world (conflated per tick), source→client p50 {:.1} ms, p99 {:.1} ms",
        ours.counted_per_s[1],
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
    );

    // (b) For reference: the broker and the mapping without the world.
    let counting = Arc::new(CountingSink(AtomicU64::new(0)));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let password = "tsk_bench";
    let mut tokens = PasswordTable::new();
    tokens.insert(
        password,
        Access {
            principal: "bench".into(),
            grants: vec![Grant {
                world: "*".into(),
                publish: true,
                subscribe: true,
            }],
        },
    );
    let broker = Broker::new(
        Limits::default(),
        Arc::new(tokens),
        counting.clone(),
        Mapper::new(Vec::new(), true).expect("default rule"),
    )
    .expect("broker");
    let address = runtime
        .block_on(broker.listen_tcp("127.0.0.1:0".parse().expect("address")))
        .expect("listens");
    let alone = measure(address, Some(password), twins, seconds, &[&counting.0]);
    broker.shutdown();
    drop(runtime);
    println!(
        "           ({:.0} msg/s mapped and relayed by the broker alone, nothing applied)",
        alone.counted_per_s[0].min(alone.delivered_per_s)
    );

    // (c) mosquitto relaying the same load.
    match start_mosquitto(dir.path()) {
        Some((mut child, address)) => {
            let theirs = measure(address, None, twins, seconds, &[]);
            let _ = child.kill();
            let _ = child.wait();
            println!(
                "mosquitto: {:>10.0} msg/s relayed to the subscriber",
                theirs.delivered_per_s
            );
            println!(
                "ratio:     {:>10.2} (target >= 2.0)",
                ours_rate / theirs.delivered_per_s.max(1.0)
            );
        }
        None => {
            println!("mosquitto: not run (install Debian's broker: apt-get install -y mosquitto)")
        }
    }
}
