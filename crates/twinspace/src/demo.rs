//! The demo factory: DTDL models (`demo/factory/models.json`) and the commands
//! that build a believable plant from them — three halls with conveyor lines,
//! robot arms, CNC machines and sensors, each twin placed in its hall, linked by
//! `contains`, `feeds` and `observes` relationships.
//!
//! With `--demo` the plant also runs: [`telemetry`] connects to the server's
//! own MQTT broker over TCP as an ordinary client with an `ingest` token and
//! publishes `twinspace/factory/{twinId}` JSON for every machine and sensor once
//! a second — work cycles, slow drift, noise quantized to each instrument's
//! resolution, and now and then a fault that clears after a while.

use serde_json::{Value, json};
use world::{Command, Condition};

/// The demo's DTDL interfaces.
const MODELS: &str = include_str!("../../../demo/factory/models.json");

/// The world the demo lives in.
pub(crate) const WORLD: &str = "factory";

fn twin(
    id: &str,
    model: &str,
    mut body: Value,
    parent: Option<&str>,
    position: [f64; 3],
    asset: &str,
) -> Command {
    body["$metadata"] = json!({ "$model": format!("dtmi:twinspace:demo:{model};1") });
    body["$placement"] =
        json!({ "parent": parent, "position": position, "asset": format!("asset:{asset}") });
    Command::PutTwin {
        id: id.into(),
        body,
        condition: Condition::None,
    }
}

fn relationship(source: &str, name: &str, target: &str) -> Command {
    Command::PutRelationship {
        source: source.into(),
        id: format!("{name}-{target}"),
        body: json!({ "$targetId": target, "$relationshipName": name }),
        condition: Condition::None,
    }
}

/// Every command that builds the demo factory, in an order that applies cleanly
/// to an empty world.
pub(crate) fn commands() -> Vec<Command> {
    let models: Vec<Value> = serde_json::from_str(MODELS).expect("the demo models are valid JSON");
    let mut out = vec![Command::AddModels(models)];
    out.push(twin(
        "site",
        "Site",
        json!({ "name": "Twinspace demo plant" }),
        None,
        [0.0, 0.0, 0.0],
        "site",
    ));
    let halls = [
        ("assembly", "Assembly hall", [0.0, 0.0, 0.0], 21.5),
        ("machining", "Machining hall", [0.0, 40.0, 0.0], 23.0),
        ("warehouse", "Warehouse", [50.0, 0.0, 0.0], 17.0),
    ];
    for (id, name, position, temperature) in halls {
        out.push(twin(
            id,
            "Area",
            json!({ "name": name, "temperature": temperature, "humidity": 45.0 }),
            Some("site"),
            position,
            "hall",
        ));
        out.push(relationship("site", "contains", id));
        let sensor = format!("{id}-climate");
        out.push(twin(&sensor, "Sensor", json!({ "name": format!("{name} climate"), "value": temperature, "quantity": "temperature" }), Some(id), [1.0, 1.0, 3.0], "sensor"));
    }
    // Two assembly lines: six conveyors each, a robot arm beside every other one.
    for line in 0..2 {
        let y = 8.0 + 12.0 * f64::from(line);
        let mut previous: Option<String> = None;
        for station in 0..6 {
            let x = 4.0 + 5.0 * f64::from(station);
            let conveyor = format!("line{}-conveyor{}", line + 1, station + 1);
            out.push(twin(&conveyor, "Conveyor", json!({ "name": format!("Line {} conveyor {}", line + 1, station + 1), "state": "running", "power": 1.2, "speed": 0.5, "itemsPerMinute": 30.0 }), Some("assembly"), [x, y, 0.0], "conveyor"));
            out.push(relationship("assembly", "contains", &conveyor));
            if let Some(previous) = previous {
                out.push(relationship(&previous, "feeds", &conveyor));
            }
            if station % 2 == 1 {
                let robot = format!("line{}-robot{}", line + 1, station / 2 + 1);
                out.push(twin(&robot, "RobotArm", json!({ "name": format!("Line {} robot {}", line + 1, station / 2 + 1), "state": "running", "power": 4.5, "cycleTime": 12.0, "cycles": 0, "gripper": { "$metadata": {}, "closed": false, "force": 0.0 } }), Some("assembly"), [x, y + 2.5, 0.0], "robot-arm"));
                out.push(relationship("assembly", "contains", &robot));
                out.push(relationship(&robot, "feeds", &conveyor));
            }
            previous = Some(conveyor);
        }
    }
    // A row of CNC machines, each watched by a spindle temperature sensor.
    for machine in 0..6 {
        let id = format!("cnc{}", machine + 1);
        let x = 5.0 + 6.0 * f64::from(machine);
        out.push(twin(&id, "CncMachine", json!({ "name": format!("CNC {}", machine + 1), "state": "running", "power": 11.0, "spindleSpeed": 8000.0, "spindleTemperature": 35.0, "program": "O1001", "partsMade": 0 }), Some("machining"), [x, 10.0, 0.0], "cnc"));
        out.push(relationship("machining", "contains", &id));
        let sensor = format!("{id}-spindle");
        out.push(twin(&sensor, "Sensor", json!({ "name": format!("CNC {} spindle temperature", machine + 1), "value": 35.0, "quantity": "temperature" }), Some(&id), [0.0, 0.0, 2.0], "sensor"));
        out.push(relationship(&sensor, "observes", &id));
    }
    // The warehouse: an outbound conveyor fed by both lines.
    out.push(twin("outbound", "Conveyor", json!({ "name": "Outbound conveyor", "state": "running", "power": 2.0, "speed": 0.8, "itemsPerMinute": 60.0 }), Some("warehouse"), [5.0, 14.0, 0.0], "conveyor"));
    out.push(relationship("warehouse", "contains", "outbound"));
    out.push(relationship("line1-conveyor6", "feeds", "outbound"));
    out.push(relationship("line2-conveyor6", "feeds", "outbound"));
    out
}

/// The file in the data directory holding the simulator's ingest token.
const TELEMETRY_TOKEN_FILE: &str = "demo-ingest-token";
/// Time between two rounds of telemetry: one message per twin per round.
const TELEMETRY_PERIOD: std::time::Duration = std::time::Duration::from_secs(1);
/// How long the simulator waits before reconnecting after the broker dropped it.
const TELEMETRY_RECONNECT: std::time::Duration = std::time::Duration::from_secs(2);
/// Chance per round that a running machine faults, and rounds a fault lasts.
const FAULT_CHANCE: f64 = 0.002;
const FAULT_ROUNDS: u32 = 20;

/// An `ingest` token on the demo world for the simulator, kept in the data
/// directory (owner-only) so restarts do not pile up tokens.
pub(crate) fn telemetry_token(
    app: &server::App,
    data_dir: &std::path::Path,
) -> anyhow::Result<String> {
    let file = data_dir.join(TELEMETRY_TOKEN_FILE);
    if let Ok(text) = std::fs::read_to_string(&file)
        && app.tokens().authenticate(text.trim()).is_some()
    {
        return Ok(text.trim().to_owned());
    }
    let grants = vec![server::Grant {
        world: WORLD.into(),
        role: server::Role::Ingest,
    }];
    let (secret, _) =
        app.tokens()
            .create(grants, "demo telemetry simulator", server::worlds::now())?;
    crate::serve::write_private(&file, &secret)?;
    Ok(secret)
}

/// A small deterministic generator (xorshift64*): the simulation needs
/// plausible noise, not cryptographic randomness.
struct Noise(u64);

impl Noise {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let bits = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
        bits as f64 / (1u64 << 53) as f64
    }

    /// Roughly normal noise (sum of uniforms) with this spread.
    fn gauss(&mut self, spread: f64) -> f64 {
        (self.unit() + self.unit() + self.unit() - 1.5) * spread
    }
}

/// Rounds to the instrument's resolution, as a real sensor reports.
fn quantize(value: f64, resolution: f64) -> f64 {
    let q = (value / resolution).round() * resolution;
    // Keep the decimal text short (0.30000000000000004 is not what a sensor sends).
    (q * 1e6).round() / 1e6
}

/// One machine's simulated state.
struct Machine {
    id: String,
    kind: Kind,
    fault_rounds: u32,
    counter: u64,
    level: f64,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Cnc,
    Robot,
    Conveyor,
    Hall(f64),
}

/// The messages of one round: (topic, JSON payload).
fn round(machines: &mut [Machine], noise: &mut Noise, tick: u64) -> Vec<(String, Value)> {
    let mut out = Vec::with_capacity(machines.len() * 2);
    let t = tick as f64;
    for machine in machines.iter_mut() {
        let running = machine.fault_rounds == 0;
        if machine.fault_rounds > 0 {
            machine.fault_rounds -= 1;
        } else if !matches!(machine.kind, Kind::Hall(_)) && noise.unit() < FAULT_CHANCE {
            machine.fault_rounds = FAULT_ROUNDS;
        }
        let state = if running { "running" } else { "fault" };
        let topic = format!("twinspace/{WORLD}/{}", machine.id);
        match machine.kind {
            Kind::Cnc => {
                // The spindle warms toward 35 °C + load while cutting, cools when stopped.
                let target = if running {
                    38.0 + 4.0 * (t / 90.0).sin()
                } else {
                    24.0
                };
                machine.level += (target - machine.level) * 0.05 + noise.gauss(0.05);
                if running && tick.is_multiple_of(30) {
                    machine.counter += 1;
                }
                let temperature = quantize(machine.level, 0.1);
                let speed = if running {
                    quantize(8000.0 + noise.gauss(40.0), 10.0)
                } else {
                    0.0
                };
                let power = if running {
                    quantize(11.0 + noise.gauss(0.4), 0.01)
                } else {
                    0.8
                };
                out.push((topic, json!({ "state": state, "power": power, "spindleSpeed": speed, "spindleTemperature": temperature, "partsMade": machine.counter })));
                out.push((
                    format!("twinspace/{WORLD}/{}-spindle", machine.id),
                    json!({ "value": temperature }),
                ));
            }
            Kind::Robot => {
                let cycle_time = quantize(12.0 + noise.gauss(0.3), 0.01);
                if running && tick.is_multiple_of(12) {
                    machine.counter += 1;
                }
                let power = if running {
                    quantize(4.5 + noise.gauss(0.3), 0.01)
                } else {
                    0.3
                };
                out.push((topic, json!({ "state": state, "power": power, "cycleTime": cycle_time, "cycles": machine.counter })));
            }
            Kind::Conveyor => {
                let speed = if running {
                    quantize(0.5 + noise.gauss(0.01), 0.01)
                } else {
                    0.0
                };
                let items = if running {
                    quantize(30.0 + noise.gauss(2.0), 1.0)
                } else {
                    0.0
                };
                let power = if running {
                    quantize(1.2 + noise.gauss(0.05), 0.01)
                } else {
                    0.1
                };
                out.push((topic, json!({ "state": state, "power": power, "speed": speed, "itemsPerMinute": items })));
            }
            Kind::Hall(base) => {
                // A day's swing, compressed to ten minutes so a visitor sees it move.
                let temperature = base + 1.5 * (t * std::f64::consts::TAU / 600.0).sin();
                machine.level = temperature + noise.gauss(0.1);
                let value = quantize(machine.level, 0.1);
                let humidity = quantize(45.0 + 5.0 * (t / 200.0).cos() + noise.gauss(0.5), 0.5);
                out.push((topic, json!({ "temperature": value, "humidity": humidity })));
                out.push((
                    format!("twinspace/{WORLD}/{}-climate", machine.id),
                    json!({ "value": value }),
                ));
            }
        }
    }
    out
}

/// The demo plant's simulated machines, matching what [`commands`] builds.
fn machines() -> Vec<Machine> {
    let mut out = Vec::new();
    let mut add = |id: String, kind: Kind, level: f64| {
        out.push(Machine {
            id,
            kind,
            fault_rounds: 0,
            counter: 0,
            level,
        });
    };
    for (id, base) in [("assembly", 21.5), ("machining", 23.0), ("warehouse", 17.0)] {
        add(id.into(), Kind::Hall(base), base);
    }
    for line in 1..=2 {
        for station in 1..=6 {
            add(format!("line{line}-conveyor{station}"), Kind::Conveyor, 0.0);
        }
        for robot in 1..=3 {
            add(format!("line{line}-robot{robot}"), Kind::Robot, 0.0);
        }
    }
    for machine in 1..=6 {
        add(format!("cnc{machine}"), Kind::Cnc, 35.0);
    }
    add("outbound".into(), Kind::Conveyor, 0.0);
    out
}

/// Runs the telemetry simulator against the broker at `broker` until the
/// process ends, reconnecting when the connection drops.
pub(crate) async fn telemetry(broker: std::net::SocketAddr, token: String) {
    let mut options = rumqttc::MqttOptions::new(
        "twinspace-demo-telemetry",
        broker.ip().to_string(),
        broker.port(),
    );
    options.set_credentials("demo", token);
    options.set_keep_alive(std::time::Duration::from_secs(30));
    // Room for two rounds: the simulator never waits on a slow broker for long.
    let (client, mut events) = rumqttc::AsyncClient::new(options, 128);
    tokio::spawn(async move {
        loop {
            if let Err(error) = events.poll().await {
                tracing::debug!(%error, "demo telemetry: connection to the broker lost");
                tokio::time::sleep(TELEMETRY_RECONNECT).await;
            }
        }
    });
    let mut machines = machines();
    let mut noise = Noise(0x5EED_CAFE_F00D_1234);
    let mut tick = tokio::time::interval(TELEMETRY_PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    for round_number in 0u64.. {
        tick.tick().await;
        for (topic, payload) in round(&mut machines, &mut noise, round_number) {
            let bytes = payload.to_string().into_bytes();
            if client
                .try_publish(topic, rumqttc::QoS::AtMostOnce, false, bytes)
                .is_err()
            {
                // The client's queue is full while the broker is away: drop this
                // round's rest, as a real sensor gateway would.
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use world::{Timestamp, World, WorldId};

    #[test]
    fn the_demo_factory_builds_in_an_empty_world() {
        let mut w = World::new(WorldId::parse(super::WORLD).unwrap());
        for (n, command) in super::commands().into_iter().enumerate() {
            if let Err(e) = w.apply(command, Timestamp(0)) {
                panic!("demo command {n} refused: {e}");
            }
        }
        // site, 3 halls with a climate sensor each, 12 conveyors, 6 robots, 6 CNCs
        // with a spindle sensor each, and the outbound conveyor.
        assert_eq!(w.twin_count(), 38);
        let pose = w.twin_pose("cnc1-spindle").unwrap();
        assert_eq!(
            pose.position.to_array(),
            [5.0, 50.0, 2.0],
            "sensors sit on their machine in the machining hall"
        );
    }

    /// Every simulated message, through the default mapping rule, patches a
    /// demo twin with values its model accepts, over many rounds (faults too).
    #[test]
    fn simulated_telemetry_validates_against_the_demo_models() {
        let mut w = World::new(WorldId::parse(super::WORLD).unwrap());
        for command in super::commands() {
            w.apply(command, Timestamp(0)).unwrap();
        }
        let mapper = ingest::Mapper::new(Vec::new(), true).unwrap();
        let mut machines = super::machines();
        let mut noise = super::Noise(7);
        let mut twins = std::collections::BTreeSet::new();
        let mut faults = 0;
        for tick in 0..400 {
            for (topic, payload) in super::round(&mut machines, &mut noise, tick) {
                faults += usize::from(payload["state"] == "fault");
                let bytes = payload.to_string();
                let update = match mapper.map(&topic, bytes.as_bytes(), Timestamp(1)) {
                    ingest::MapOutcome::Mapped(update) => update,
                    other => panic!("{topic} {bytes}: {other:?}"),
                };
                twins.insert(update.twin.as_str().to_owned());
                let command = world::Command::PatchTwin {
                    id: update.twin.as_str().to_owned(),
                    patch: update.property_patch(),
                    condition: world::Condition::IfExists,
                };
                if let Err(error) = w.apply(command, Timestamp(tick as i64 + 1)) {
                    panic!("{topic} {bytes} refused: {error}");
                }
            }
        }
        // Every twin but the site is fed.
        assert_eq!(twins.len(), 37, "{twins:?}");
        assert!(
            faults > 0,
            "400 rounds of 25 machines see a fault now and then"
        );
        let cnc = w.twin_json("cnc1").unwrap();
        assert!(cnc["partsMade"].as_u64().unwrap() > 0, "{cnc}");
    }

    #[test]
    fn quantize_reports_at_the_resolution() {
        assert_eq!(super::quantize(35.04, 0.1), 35.0);
        assert_eq!(super::quantize(0.299_999, 0.1), 0.3);
        assert_eq!(super::quantize(8013.0, 10.0), 8010.0);
    }
}
