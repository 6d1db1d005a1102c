//! Feature tests of `Network` on a small network written for them
//! (`tests/data/junction_chain.xodr`): positions of lanes with elevation, widening
//! and lane offset, lane following across lane sections, junctions and an
//! end-to-end road link, routing, and world → lane projection.

use std::f64::consts::PI;

use road::{LanePosition, Network, RoadError};

fn network() -> Network {
    Network::parse(include_str!("data/junction_chain.xodr")).expect("test network parses")
}

fn close(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance
}

fn at(road: &str, lane: i32, s: f64) -> LanePosition {
    LanePosition {
        road: road.into(),
        lane,
        s,
        offset: 0.0,
    }
}

#[test]
fn lane_centres_with_elevation_and_widening() {
    let network = network();
    let pose = network.lane_to_world("1", -1, 50.0, 0.0).expect("lane -1");
    assert!(close(pose.x, 50.0, 1e-12) && close(pose.y, -1.75, 1e-12));
    assert!(close(pose.z, 2.0, 1e-12), "z = 1 + 0.02·50");
    assert!(close(pose.pitch, -(0.02f64).atan(), 1e-12));
    let sidewalk = network.lane_to_world("1", -2, 40.0, 0.0).expect("lane -2");
    // Sidewalk is 2 + 0.01·40 = 2.4 wide, outside 3.5 of lane -1.
    assert!(close(sidewalk.y, -(3.5 + 1.2), 1e-12));
    assert!(close(
        network.lane_width("1", -2, 40.0).expect("width"),
        2.4,
        1e-12
    ));
    let left = network.lane_to_world("1", 1, 0.0, 0.5).expect("lane 1");
    assert!(close(left.y, 1.75 + 0.5, 1e-12));
}

#[test]
fn lane_offset_shifts_every_lane() {
    let network = network();
    // Road 4 heads −y from (160, 90); +t points to +x; lane offset 1 m.
    let pose = network.lane_to_world("4", 1, 10.0, 0.0).expect("lane 1");
    assert!(close(pose.x, 160.0 + 1.0 + 1.75, 1e-9) && close(pose.y, 80.0, 1e-9));
    let (inner, outer) = network.lane_borders("4", -1, 10.0).expect("borders");
    assert!(close(inner, 1.0, 1e-12) && close(outer, -2.5, 1e-12));
}

#[test]
fn arc_road_end_pose() {
    let network = network();
    let end = network
        .road_to_world("2", 62.831_853_071_795_86, -2.0)
        .expect("end of road 2");
    // Quarter circle of radius 40 from (120, 0): ends at (160, 40) heading +y;
    // t = −2 is 2 m to the right, i.e. +x.
    assert!(close(end.x, 162.0, 1e-9) && close(end.y, 40.0, 1e-9));
    assert!(close(end.heading, PI / 2.0, 1e-12));
}

#[test]
fn follows_lanes_through_junction_sections_and_end_to_end_link() {
    let network = network();
    let into_junction = network.next_lanes(&at("1", -1, 90.0), true);
    assert_eq!(into_junction.len(), 1, "{into_junction:?}");
    assert_eq!(into_junction[0].position, at("3", -1, 0.0));
    assert!(into_junction[0].forward);
    let out_of_junction = network.successors(&at("3", -1, 5.0), true);
    assert_eq!(out_of_junction, vec![at("2", -1, 0.0)]);
    let next_section = network.successors(&at("2", -1, 10.0), true);
    assert_eq!(next_section, vec![at("2", -2, 30.0)]);
    // A probe exactly at the end of section 0 leaves section 0 (it does not skip
    // section 1 because s = 30 is also where section 1 starts).
    assert_eq!(
        network.successors(&at("2", -1, 30.0), true),
        vec![at("2", -2, 30.0)]
    );
    // Backwards from section 1 into section 0: just before the boundary.
    let back_section = network.successors(&at("2", -2, 40.0), false);
    assert_eq!(back_section, vec![at("2", -1, 30.0 - road::BOUNDARY_STEP)]);
    assert_eq!(network.successors(&at("2", -2, 30.0), false), back_section);
    // Fed back, that position continues into the junction, not to section 1 again.
    let into_junction_backwards = network.next_lanes(&back_section[0], false);
    assert_eq!(into_junction_backwards.len(), 1);
    assert_eq!(into_junction_backwards[0].position.road, "3");
    // Road 2 ends against road 4's end: lane −2 continues in lane 1 of road 4,
    // travelling towards decreasing s.
    let reversed = network.next_lanes(&at("2", -2, 50.0), true);
    assert_eq!(reversed.len(), 1);
    assert_eq!(reversed[0].position, at("4", 1, 50.0));
    assert!(!reversed[0].forward);
    // Backwards from road 2 lane 1 (which runs −s) into the junction.
    let back = network.successors(&at("2", 1, 5.0), false);
    assert_eq!(back, vec![at("3", 1, 20.0)]);
    // Nothing continues the sidewalk of road 1 into the junction.
    assert!(network.successors(&at("1", -2, 90.0), true).is_empty());
    // Unknown road or lane: no continuation rather than a panic.
    assert!(network.successors(&at("99", -1, 0.0), true).is_empty());
    assert!(network.successors(&at("1", -7, 0.0), true).is_empty());
}

#[test]
fn routes_across_the_junction() {
    let network = network();
    let route = network
        .route(&at("1", -1, 10.0), &at("4", 1, 5.0))
        .expect("a route exists");
    let steps: Vec<(&str, i32)> = route
        .iter()
        .map(|step| (step.road.as_str(), step.lane))
        .collect();
    assert_eq!(
        steps,
        vec![
            ("1", -1),
            ("3", -1),
            ("2", -1),
            ("2", -2),
            ("4", 1),
            ("4", 1)
        ]
    );
    // From road 4 lane −1 (runs +s, ends nowhere) road 1 is unreachable.
    assert!(
        network
            .route(&at("4", -1, 5.0), &at("1", -1, 5.0))
            .is_none()
    );
    // Same lane, ahead: a one-step route.
    let short = network
        .route(&at("1", -1, 10.0), &at("1", -1, 60.0))
        .expect("ahead");
    assert_eq!(short.len(), 2);
}

#[test]
fn world_to_lane_inverts_lane_to_world() {
    let network = network();
    for (road, lane, s, offset) in [
        ("1", -1, 30.0, 0.3),
        ("1", 1, 75.0, -0.4),
        ("2", -1, 20.0, 0.0),
        ("2", -2, 45.0, 0.5),
        ("4", 1, 25.0, 0.2),
        ("1", -2, 10.0, 0.0),
    ] {
        let pose = network.lane_to_world(road, lane, s, offset).expect("pose");
        let found = network
            .world_to_lane(pose.x, pose.y, Some(pose.z))
            .expect("found");
        assert_eq!(
            (found.road.as_str(), found.lane),
            (road, lane),
            "at {road}/{lane}/{s}"
        );
        assert!(close(found.s, s, 1e-6), "s {} vs {s}", found.s);
        assert!(
            close(found.offset, offset, 1e-6),
            "offset {} vs {offset}",
            found.offset
        );
    }
    assert!(network.world_to_lane(f64::NAN, 0.0, None).is_none());
}

#[test]
fn query_errors_name_what_is_wrong() {
    let network = network();
    assert_eq!(
        network.road_to_world("nope", 0.0, 0.0),
        Err(RoadError::UnknownRoad {
            road: "nope".into()
        })
    );
    let error = network
        .road_to_world("1", 120.0, 0.0)
        .expect_err("beyond the road");
    assert!(
        error.to_string().contains("outside the road's range"),
        "{error}"
    );
    let error = network
        .lane_to_world("1", -5, 10.0, 0.0)
        .expect_err("no lane -5");
    assert!(error.to_string().contains("no lane -5"), "{error}");
    assert!(network.road_to_world("1", f64::NAN, 0.0).is_err());
}

#[test]
fn model_holds_links_marks_and_ignored_elements() {
    let network = network();
    let road = network.road("3").expect("road 3");
    assert_eq!(road.junction.as_deref(), Some("10"));
    let junction = network.junction("10").expect("junction");
    assert_eq!(junction.connections.len(), 2);
    let marks = &network.road("1").expect("road 1").lane_sections[0]
        .lane(-1)
        .expect("lane")
        .road_marks;
    assert_eq!(marks[0].mark_type, "solid");
    assert_eq!(marks[0].width, Some(0.12));
    assert_eq!(network.ignored_elements().get("road/objects"), Some(&1));
    assert_eq!(network.header().rev_minor, Some(6));
    assert_eq!(
        network.header().geo_reference.as_deref(),
        Some("+proj=tmerc +lat_0=57.7 +lon_0=11.9 +k=1 +x_0=0 +y_0=0 +ellps=GRS80")
    );
    let types = &network.road("1").expect("road 1").types;
    assert_eq!(types.len(), 2);
    assert_eq!(
        (types[0].road_type.as_str(), types[0].speed_max),
        ("town", Some(50.0))
    );
    assert_eq!(types[0].speed_unit.as_deref(), Some("km/h"));
    assert_eq!(
        (types[1].road_type.as_str(), types[1].speed_max),
        ("rural", None)
    );
}

#[test]
fn network_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync + Clone>() {}
    shareable::<Network>();
}

#[test]
fn border_lanes_and_left_hand_traffic() {
    // Lane -1 has a width, lane -2 only an outer border (t from the lane-offset
    // line); left-hand traffic makes left lanes run along +s.
    let xml = r#"<OpenDRIVE><header/>
      <road id="9" length="50" junction="-1" rule="LHT">
        <planView><geometry s="0" x="0" y="0" hdg="0" length="50"><line/></geometry></planView>
        <lanes>
          <laneOffset s="0" a="0.5" b="0" c="0" d="0"/>
          <laneSection s="0">
            <left><lane id="1" type="driving"><width sOffset="0" a="3" b="0" c="0" d="0"/></lane></left>
            <center><lane id="0" type="none"/></center>
            <right>
              <lane id="-1" type="driving"><width sOffset="0" a="3" b="0" c="0" d="0"/></lane>
              <lane id="-2" type="border"><border sOffset="0" a="4" b="0.04" c="0" d="0"/></lane>
            </right>
          </laneSection>
        </lanes>
      </road></OpenDRIVE>"#;
    let network = Network::parse(xml).expect("parses");
    // At s = 25 the border is at |t| = 4 + 1 = 5 from the offset line: lane −2
    // spans from 0.5 − 3 = −2.5 to 0.5 − 5 = −4.5.
    let (inner, outer) = network.lane_borders("9", -2, 25.0).expect("lane -2");
    assert!(
        close(inner, -2.5, 1e-12) && close(outer, -4.5, 1e-12),
        "{inner} {outer}"
    );
    assert!(close(
        network.lane_width("9", -2, 25.0).expect("width"),
        2.0,
        1e-12
    ));
    let road = network.road("9").expect("road");
    assert!(road.lane_runs_forward(1) && !road.lane_runs_forward(-1));
    // A route in lane 1 runs with s; in lane −1 against it.
    assert!(network.route(&at("9", 1, 5.0), &at("9", 1, 40.0)).is_some());
    assert!(network.route(&at("9", 1, 40.0), &at("9", 1, 5.0)).is_none());
    assert!(
        network
            .route(&at("9", -1, 40.0), &at("9", -1, 5.0))
            .is_some()
    );
}

#[test]
fn road_longer_than_its_geometry_continues_straight() {
    let xml = r#"<OpenDRIVE><header/>
      <road id="1" length="30" junction="-1">
        <planView><geometry s="0" x="0" y="0" hdg="0" length="20"><arc curvature="0.05"/></geometry></planView>
      </road></OpenDRIVE>"#;
    let network = Network::parse(xml).expect("parses");
    let end = network.road_to_world("1", 20.0, 0.0).expect("end of arc");
    let past = network.road_to_world("1", 30.0, 0.0).expect("10 m further");
    assert!(close((past.x - end.x).hypot(past.y - end.y), 10.0, 1e-9));
    assert!(close(past.heading, 1.0, 1e-12));
}
