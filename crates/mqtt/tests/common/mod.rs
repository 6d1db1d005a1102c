//! What the broker's tests share: a broker started in process on 127.0.0.1 with
//! a free port, a real sink (patches applied to `world::World`s and committed
//! through `store::GroupCommit` to a `RedbStore` in a temp dir; QoS 1 acked only
//! after that commit), fixed tokens, a raw MQTT 3.1.1 client for what the
//! command-line clients cannot do (never read, send oversized packets, die with
//! a will), and the lookup of Debian's mosquitto clients and the paho venv.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test binary uses a different part of this module"
)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use ingest::{Mapper, TwinUpdate};
use mqtt::{Access, Broker, Durable, Grant, Limits, PasswordTable, Sink, SinkError, Submitted};
use parking_lot::Mutex;
use rmqtt_codec::v3;
use serde_json::{Value, json};
use store::{Batch, CommitLimits, GroupCommit, RedbStore, Store, TableName};
use tokio_util::codec::{Decoder, Encoder};
use world::{Command, Condition, Record, Timestamp, World, WorldId};

pub const INGEST_PLANT: &str = "tsk_plant_ingest";
pub const VIEWER_PLANT: &str = "tsk_plant_viewer";
pub const ADMIN: &str = "tsk_admin";
pub const INGEST_OTHER: &str = "tsk_other_ingest";

/// Applies updates to worlds and commits the twins' records durably.
pub struct WorldSink {
    pub worlds: HashMap<WorldId, Mutex<World>>,
    pub group: GroupCommit,
    pub store: Arc<RedbStore>,
}

impl WorldSink {
    pub fn twins_table(world: &str) -> TableName {
        TableName::new(&format!("w/{world}/twins")).expect("table name")
    }

    /// The twin as the store has it (what survives a crash).
    pub fn stored_twin(&self, world: &str, twin: &str) -> Option<Value> {
        let bytes = self
            .store
            .get(&Self::twins_table(world), twin.as_bytes())
            .expect("store read")?;
        Some(serde_json::from_slice(&bytes).expect("stored JSON"))
    }

    /// The twin as the world has it now.
    pub fn twin(&self, world: &str, twin: &str) -> Option<Value> {
        let id = WorldId::parse(world).ok()?;
        self.worlds.get(&id)?.lock().twin_json(twin)
    }
}

impl Sink for WorldSink {
    fn submit(&self, updates: Vec<TwinUpdate>) -> Submitted {
        let mut refused = Vec::new();
        let mut batch = Batch::new();
        for (index, update) in updates.iter().enumerate() {
            let Some(world) = self.worlds.get(&update.world) else {
                refused.push((index, format!("no world '{}'", update.world)));
                continue;
            };
            let command = Command::PatchTwin {
                id: update.twin.to_string(),
                patch: update.property_patch(),
                condition: Condition::None,
            };
            match world.lock().apply(command, update.source_time) {
                Ok(applied) => {
                    for record in applied.records {
                        if let Record::Twin { id, value } = record {
                            batch.put(
                                &Self::twins_table(update.world.as_str()),
                                id.as_str(),
                                value.to_string(),
                            );
                        }
                    }
                }
                Err(error) => refused.push((index, error.to_string())),
            }
        }
        if batch.is_empty() {
            return Submitted {
                refused,
                durable: None,
            };
        }
        let ticket = self.group.submit(batch);
        let durable: Durable =
            Box::pin(async move { ticket.await.map_err(|e| SinkError(e.to_string())) });
        Submitted {
            refused,
            durable: Some(durable),
        }
    }
}

fn sensor_world(name: &str, twins: &[&str]) -> World {
    let mut world = World::new(WorldId::parse(name).expect("world id"));
    let model = json!({
        "@id": "dtmi:test:Sensor;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
        "contents": [
            { "@type": "Property", "name": "temperature", "schema": "double", "writable": true },
            { "@type": "Property", "name": "running", "schema": "boolean", "writable": true },
            { "@type": "Property", "name": "mode", "schema": "string", "writable": true }
        ]
    });
    world
        .apply(Command::AddModels(vec![model]), Timestamp(0))
        .expect("model loads");
    for twin in twins {
        let body = json!({ "$metadata": { "$model": "dtmi:test:Sensor;1" }, "temperature": 0.0 });
        world
            .apply(
                Command::PutTwin {
                    id: (*twin).into(),
                    body,
                    condition: Condition::None,
                },
                Timestamp(1),
            )
            .expect("twin is valid");
    }
    world
}

pub fn tokens() -> PasswordTable {
    let grant = |world: &str, publish: bool, subscribe: bool| Grant {
        world: world.into(),
        publish,
        subscribe,
    };
    let mut table = PasswordTable::new();
    table.insert(
        INGEST_PLANT,
        Access {
            principal: "ingest-plant".into(),
            grants: vec![grant("plant", true, false)],
        },
    );
    table.insert(
        VIEWER_PLANT,
        Access {
            principal: "viewer-plant".into(),
            grants: vec![grant("plant", false, true)],
        },
    );
    table.insert(
        INGEST_OTHER,
        Access {
            principal: "ingest-other".into(),
            grants: vec![grant("other", true, false)],
        },
    );
    table.insert(
        ADMIN,
        Access {
            principal: "admin".into(),
            grants: vec![grant("*", true, true)],
        },
    );
    table
}

/// A broker on free ports (TCP and WebSocket) with its own runtime.
pub struct Harness {
    pub runtime: tokio::runtime::Runtime,
    pub broker: Broker,
    pub sink: Arc<WorldSink>,
    pub tcp: SocketAddr,
    pub ws: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Harness {
    pub fn start(limits: Limits) -> Harness {
        Self::start_with(limits, Mapper::new(Vec::new(), true).expect("default rule"))
    }

    pub fn start_with(limits: Limits, mapper: Mapper) -> Harness {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(RedbStore::open(&dir.path().join("twins.redb")).expect("store opens"));
        let group = GroupCommit::new(store.clone(), CommitLimits::default());
        let worlds = [
            (
                WorldId::parse("plant").unwrap(),
                Mutex::new(sensor_world("plant", &["t1", "t2", "t3"])),
            ),
            (
                WorldId::parse("other").unwrap(),
                Mutex::new(sensor_world("other", &["t1"])),
            ),
        ]
        .into_iter()
        .collect();
        let sink = Arc::new(WorldSink {
            worlds,
            group,
            store,
        });
        let broker = Broker::new(limits, Arc::new(tokens()), sink.clone(), mapper).expect("broker");
        let (tcp, ws) = runtime.block_on(async {
            let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
            (
                broker.listen_tcp(any).await.expect("tcp"),
                broker.listen_ws(any).await.expect("ws"),
            )
        });
        Harness {
            runtime,
            broker,
            sink,
            tcp,
            ws,
            _dir: dir,
        }
    }

    /// Waits (bounded) until `done` holds.
    pub fn wait_for(&self, what: &str, mut done: impl FnMut() -> bool) {
        for _ in 0..500 {
            if done() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "timed out waiting for {what}; metrics: {:?}",
            self.broker.metrics()
        );
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.broker.shutdown();
    }
}

/// The path of a Debian mosquitto client, or None (the test says it skipped).
pub fn mosquitto_tool(name: &str) -> Option<PathBuf> {
    for dir in ["/usr/bin", "/usr/local/bin", "/usr/sbin"] {
        let path = Path::new(dir).join(name);
        if path.exists() {
            return Some(path);
        }
    }
    eprintln!(
        "SKIPPED: {name} not found in /usr/bin; install Debian's clients: apt-get install -y mosquitto-clients"
    );
    None
}

/// Python of the venv with paho-mqtt, or None (the test says it skipped).
pub fn paho_python() -> Option<PathBuf> {
    let Ok(venv) = std::env::var("TWINSPACE_VENV") else {
        eprintln!(
            "SKIPPED: TWINSPACE_VENV is not set; make a venv with: python3 -m venv DIR && DIR/bin/pip install 'paho-mqtt>=2,<3', then TWINSPACE_VENV=DIR"
        );
        return None;
    };
    let python = Path::new(&venv).join("bin/python");
    let ok = std::process::Command::new(&python)
        .args(["-c", "import paho.mqtt.client"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!(
            "SKIPPED: {} cannot import paho.mqtt; run: {}/bin/pip install 'paho-mqtt>=2,<3'",
            python.display(),
            venv
        );
        return None;
    }
    Some(python)
}

/// A raw MQTT 3.1.1 client over a blocking socket.
pub struct RawClient {
    pub stream: TcpStream,
    codec: v3::Codec,
    buf: BytesMut,
}

impl RawClient {
    pub fn connect(
        addr: SocketAddr,
        client_id: &str,
        password: &str,
        will: Option<(&str, &str)>,
    ) -> RawClient {
        Self::connect_with(addr, client_id, password, will, 60)
    }

    pub fn connect_with(
        addr: SocketAddr,
        client_id: &str,
        password: &str,
        will: Option<(&str, &str)>,
        keep_alive: u16,
    ) -> RawClient {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut client = RawClient {
            stream,
            codec: v3::Codec::new(0),
            buf: BytesMut::new(),
        };
        let connect = v3::Connect {
            protocol: rmqtt_codec::types::Protocol(4),
            clean_session: true,
            keep_alive,
            last_will: will.map(|(topic, message)| v3::LastWill {
                qos: rmqtt_codec::types::QoS::AtMostOnce,
                retain: false,
                topic: topic.into(),
                message: bytes::Bytes::copy_from_slice(message.as_bytes()),
            }),
            client_id: client_id.into(),
            username: Some("any".into()),
            password: Some(bytes::Bytes::copy_from_slice(password.as_bytes())),
            cert: None,
        };
        client.send(v3::Packet::Connect(Box::new(connect)));
        match client.receive() {
            Some(v3::Packet::ConnectAck(ack)) => {
                assert_eq!(ack.return_code, v3::ConnectAckReason::ConnectionAccepted)
            }
            other => panic!("expected CONNACK, got {other:?}"),
        }
        client
    }

    pub fn send(&mut self, packet: v3::Packet) {
        let mut out = BytesMut::new();
        self.codec.encode(packet, &mut out).expect("encode");
        self.stream.write_all(&out).expect("write");
    }

    /// Sends raw bytes; false when the broker closed the connection.
    pub fn send_bytes(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok()
    }

    /// The next packet, or None when the connection closed.
    pub fn receive(&mut self) -> Option<v3::Packet> {
        loop {
            if let Some((packet, _)) = self.codec.decode(&mut self.buf).expect("decode") {
                return Some(packet);
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    pub fn subscribe(&mut self, filter: &str, qos: u8) -> v3::SubscribeReturnCode {
        let qos = if qos == 0 {
            rmqtt_codec::types::QoS::AtMostOnce
        } else {
            rmqtt_codec::types::QoS::AtLeastOnce
        };
        self.send(v3::Packet::Subscribe {
            packet_id: std::num::NonZeroU16::new(1).unwrap(),
            topic_filters: vec![(filter.into(), qos)],
        });
        loop {
            match self.receive() {
                Some(v3::Packet::SubscribeAck { status, .. }) => return status[0],
                Some(_) => continue,
                None => panic!("connection closed before SUBACK"),
            }
        }
    }

    pub fn publish(&mut self, topic: &str, payload: &[u8], packet_id: Option<u16>) {
        let publish = rmqtt_codec::types::Publish {
            dup: false,
            retain: false,
            qos: if packet_id.is_some() {
                rmqtt_codec::types::QoS::AtLeastOnce
            } else {
                rmqtt_codec::types::QoS::AtMostOnce
            },
            topic: topic.into(),
            packet_id: packet_id.and_then(std::num::NonZeroU16::new),
            payload: bytes::Bytes::copy_from_slice(payload),
            properties: None,
        };
        self.send(v3::Packet::Publish(Box::new(publish)));
    }

    /// The next PUBLISH's topic and payload, skipping other packets.
    pub fn next_publish(&mut self) -> Option<(String, Vec<u8>)> {
        loop {
            match self.receive()? {
                v3::Packet::Publish(publish) => {
                    return Some((publish.topic.to_string(), publish.payload.to_vec()));
                }
                _ => continue,
            }
        }
    }
}
