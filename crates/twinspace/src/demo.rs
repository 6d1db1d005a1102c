//! The demo factory: DTDL models (`demo/factory/models.json`) and the commands
//! that build a believable plant from them — three halls with conveyor lines,
//! robot arms, CNC machines and sensors, each twin placed in its hall, linked by
//! `contains`, `feeds` and `observes` relationships.

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
}
