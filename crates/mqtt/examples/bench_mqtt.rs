//! MQTT QoS 0 ingest, end to end, against Debian's mosquitto merely relaying.
//!
//! One load generator (the same code for both brokers: one TCP connection
//! writing pre-encoded MQTT 3.1.1 PUBLISHes of `{"temperature": …}` to N twins'
//! topics as fast as the broker takes them) and one subscriber on
//! `twinspace/bench/#` that counts the PUBLISHes it receives.
//! (a) Twinspace's broker maps every message through the default rule and
//! applies it to an in-process `world::World` (a JSON Patch per message) while
//! relaying it to the subscriber; (b) mosquitto (started on a free port with a
//! temporary config) only relays. Printed: messages/s for both and the ratio
//! (target ≥ 2.0). Ours counts a message when it is both in the world and at
//! the subscriber (the smaller of the two rates).
//!
//! `cargo run --release -p mqtt --example bench_mqtt [-- --seconds 5 --twins 1000]`

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
use parking_lot::Mutex;
use rmqtt_codec::types::{Protocol, Publish, QoS};
use rmqtt_codec::v3;
use serde_json::json;
use tokio_util::codec::Encoder;
use world::{Command as WorldCommand, Condition, Timestamp, World, WorldId};

const TOKEN: &str = "tsk_bench";
/// Messages pre-encoded into the generator's buffer (it is written in a loop).
const GENERATOR_MESSAGES: usize = 20_000;
/// Warm-up before the measured window.
const WARM_UP: Duration = Duration::from_secs(1);

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

struct WorldSink {
    world: Mutex<World>,
    applied: AtomicU64,
    refused: AtomicU64,
}

impl Sink for WorldSink {
    /// Applies a batch as one JSON Patch per twin (every message's values in
    /// order); a twin whose merged patch is refused has its updates applied one
    /// by one, so that only the offending messages are refused.
    fn submit(&self, updates: Vec<TwinUpdate>) -> Submitted {
        let mut refused = Vec::new();
        let mut world = self.world.lock();
        for group in ingest::group_by_twin(&updates) {
            let command = WorldCommand::PatchTwin {
                id: group.twin.to_string(),
                patch: group.patch,
                condition: Condition::None,
            };
            if world.apply(command, group.source_time).is_ok() {
                continue;
            }
            for index in group.members {
                let update = &updates[index];
                let command = WorldCommand::PatchTwin {
                    id: update.twin.to_string(),
                    patch: update.property_patch(),
                    condition: Condition::None,
                };
                if let Err(error) = world.apply(command, update.source_time) {
                    refused.push((index, error.to_string()));
                }
            }
        }
        drop(world);
        self.applied
            .fetch_add((updates.len() - refused.len()) as u64, Ordering::Relaxed);
        self.refused
            .fetch_add(refused.len() as u64, Ordering::Relaxed);
        Submitted {
            refused,
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
        let payload = json!({ "temperature": 20.0 + (i % 1000) as f64 / 100.0 }).to_string();
        buffer.extend_from_slice(&encode(v3::Packet::Publish(Box::new(Publish {
            dup: false,
            retain: false,
            qos: QoS::AtMostOnce,
            topic: format!("twinspace/bench/sensor-{}", i % twins).into(),
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
    let mut stream = open(address, "subscriber", password, Some("twinspace/bench/#"));
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
                    if count.is_multiple_of(1024) {
                        received.store(count, Ordering::Relaxed);
                    }
                }
            }
            received.store(count, Ordering::Relaxed);
        }
    })
}

struct Figures {
    delivered_per_s: f64,
    applied_per_s: Option<f64>,
}

/// Runs generator and subscriber against `address` and measures.
fn measure(
    address: SocketAddr,
    password: Option<&str>,
    twins: usize,
    seconds: f64,
    applied: Option<&AtomicU64>,
) -> Figures {
    let stop = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));
    let sub = subscriber(address, password, received.clone(), stop.clone());
    let generator = generator(address, password, twins, stop.clone());
    std::thread::sleep(WARM_UP);
    let (r0, a0, t0) = (
        received.load(Ordering::Relaxed),
        applied.map(|a| a.load(Ordering::Relaxed)),
        Instant::now(),
    );
    std::thread::sleep(Duration::from_secs_f64(seconds));
    let (r1, a1, elapsed) = (
        received.load(Ordering::Relaxed),
        applied.map(|a| a.load(Ordering::Relaxed)),
        t0.elapsed().as_secs_f64(),
    );
    stop.store(true, Ordering::Relaxed);
    let _ = generator.join();
    let _ = sub.join();
    Figures {
        delivered_per_s: (r1 - r0) as f64 / elapsed,
        applied_per_s: a0.zip(a1).map(|(a0, a1)| (a1 - a0) as f64 / elapsed),
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

    // (a) Twinspace: broker + mapping + World + one subscriber.
    let mut world = World::new(WorldId::parse("bench").expect("world id"));
    let model = json!({
        "@id": "dtmi:bench:Sensor;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
        "contents": [{ "@type": "Property", "name": "temperature", "schema": "double", "writable": true }]
    });
    world
        .apply(WorldCommand::AddModels(vec![model]), Timestamp(0))
        .expect("model loads");
    for i in 0..twins {
        let body = json!({ "$metadata": { "$model": "dtmi:bench:Sensor;1" }, "temperature": 0.0 });
        world
            .apply(
                WorldCommand::PutTwin {
                    id: format!("sensor-{i}"),
                    body,
                    condition: Condition::None,
                },
                Timestamp(1),
            )
            .expect("twin is valid");
    }
    let sink = Arc::new(WorldSink {
        world: Mutex::new(world),
        applied: AtomicU64::new(0),
        refused: AtomicU64::new(0),
    });
    let mut tokens = PasswordTable::new();
    tokens.insert(
        TOKEN,
        Access {
            principal: "bench".into(),
            grants: vec![Grant {
                world: "*".into(),
                publish: true,
                subscribe: true,
            }],
        },
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let broker = Broker::new(
        Limits::default(),
        Arc::new(tokens),
        sink.clone(),
        Mapper::new(Vec::new(), true).expect("default rule"),
    )
    .expect("broker");
    let address = runtime
        .block_on(broker.listen_tcp("127.0.0.1:0".parse().expect("address")))
        .expect("listens");
    let ours = measure(address, Some(TOKEN), twins, seconds, Some(&sink.applied));
    broker.shutdown();
    let metrics = broker.metrics();
    drop(runtime);
    let applied = ours.applied_per_s.unwrap_or(0.0);
    let ours_rate = applied.min(ours.delivered_per_s);
    println!(
        "twinspace: {:>10.0} msg/s end to end ({:.0}/s into {} twins, {:.0}/s to the subscriber; {} refused, {} dropped for the subscriber)",
        ours_rate,
        applied,
        twins,
        ours.delivered_per_s,
        sink.refused.load(Ordering::Relaxed),
        metrics.qos0_dropped
    );

    // For reference: the broker and the mapping without the world.
    let counting = Arc::new(CountingSink(AtomicU64::new(0)));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut tokens = PasswordTable::new();
    tokens.insert(
        TOKEN,
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
    let alone = measure(address, Some(TOKEN), twins, seconds, Some(&counting.0));
    broker.shutdown();
    drop(runtime);
    println!(
        "           ({:.0} msg/s mapped and relayed by the broker alone, nothing applied)",
        alone
            .applied_per_s
            .unwrap_or(0.0)
            .min(alone.delivered_per_s)
    );

    // (b) mosquitto relaying the same load.
    let dir = std::env::temp_dir().join(format!("twinspace-bench-mqtt-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    match start_mosquitto(&dir) {
        Some((mut child, address)) => {
            let theirs = measure(address, None, twins, seconds, None);
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
    let _ = std::fs::remove_dir_all(&dir);
}
