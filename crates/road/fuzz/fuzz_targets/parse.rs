//! Fuzz target: any byte string given to `Network::parse` (as UTF-8 when it is)
//! must give a network or an error, never a panic or a hang; a parsed network
//! must answer every query without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use road::{LanePosition, Network};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(network) = Network::parse(text) else {
        return;
    };
    let roads: Vec<(String, f64)> = network
        .roads()
        .take(4)
        .map(|road| (road.id.clone(), road.length))
        .collect();
    for (id, length) in &roads {
        for s in [0.0, length * 0.5, *length] {
            let _ = network.road_to_world(id, s, 1.0);
            for lane in [-1, 1] {
                let _ = network.lane_to_world(id, lane, s, 0.0);
                let position = LanePosition {
                    road: id.clone(),
                    lane,
                    s,
                    offset: 0.0,
                };
                let _ = network.next_lanes(&position, true);
                let _ = network.next_lanes(&position, false);
            }
        }
    }
    let _ = network.check();
    let _ = network.world_to_lane(1.0, 1.0, None);
    if let (Some(first), Some(last)) = (roads.first(), roads.last()) {
        let from = LanePosition {
            road: first.0.clone(),
            lane: -1,
            s: 0.0,
            offset: 0.0,
        };
        let to = LanePosition {
            road: last.0.clone(),
            lane: -1,
            s: 0.0,
            offset: 0.0,
        };
        let _ = network.route(&from, &to);
    }
});
