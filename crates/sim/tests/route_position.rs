//! RoutePosition on a hand-written two-road network: road 1 runs 100 m along
//! +x from the origin; road 2 runs 50 m from x=150 back towards x=100, its end
//! joined to road 1's end. A route from road 1 lane -1 (s 20) to road 2 lane 1
//! (s 10) drives 80 m on road 1 with increasing s, then 40 m on road 2 with
//! decreasing s, so the expected poses are known in closed form. The last test
//! checks route distances on esmini's Fabriksgatan network against esmini's own
//! log (skipped when the corpora are missing).

mod common;

use sim::{MapResolver, Runner, Scenario};

const ROADS: &str = r#"<OpenDRIVE><header revMajor="1" revMinor="6" name="two"/>
  <road name="a" length="100" id="1" junction="-1">
    <link><successor elementType="road" elementId="2" contactPoint="end"/></link>
    <planView><geometry s="0" x="0" y="0" hdg="0" length="100"><line/></geometry></planView>
    <lanes><laneSection s="0">
      <left><lane id="1" type="driving" level="false"><link><predecessor id="-1"/></link><width sOffset="0" a="3.5" b="0" c="0" d="0"/></lane></left>
      <center><lane id="0" type="none" level="false"/></center>
      <right><lane id="-1" type="driving" level="false"><link><successor id="1"/></link><width sOffset="0" a="3.5" b="0" c="0" d="0"/></lane></right>
    </laneSection></lanes>
  </road>
  <road name="b" length="50" id="2" junction="-1">
    <link><successor elementType="road" elementId="1" contactPoint="end"/></link>
    <planView><geometry s="0" x="150" y="0" hdg="3.141592653589793" length="50"><line/></geometry></planView>
    <lanes><laneSection s="0">
      <left><lane id="1" type="driving" level="false"><link><successor id="-1"/></link><width sOffset="0" a="3.5" b="0" c="0" d="0"/></lane></left>
      <center><lane id="0" type="none" level="false"/></center>
      <right><lane id="-1" type="driving" level="false"><link><successor id="1"/></link><width sOffset="0" a="3.5" b="0" c="0" d="0"/></lane></right>
    </laneSection></lanes>
  </road>
</OpenDRIVE>"#;

const CAR: &str = r#"<Vehicle name="car" vehicleCategory="car">
  <BoundingBox><Center x="1.4" y="0" z="0.75"/><Dimensions width="2" length="4" height="1.5"/></BoundingBox>
  <Performance maxSpeed="70" maxAcceleration="5" maxDeceleration="10"/></Vehicle>"#;

const ROUTE: &str = r#"<Route name="over" closed="false">
  <Waypoint routeStrategy="shortest"><Position><LanePosition roadId="1" laneId="-1" s="20"/></Position></Waypoint>
  <Waypoint routeStrategy="shortest"><Position><LanePosition roadId="2" laneId="1" s="10"/></Position></Waypoint>
</Route>"#;

/// A scenario placing A at a lane position and B at `b_position` (inner XML
/// of B's Position), with `catalogs` inside CatalogLocations.
fn scenario(b_position: &str, catalogs: &str) -> String {
    format!(
        r#"<OpenSCENARIO><FileHeader revMajor="1" revMinor="2"/>
  <CatalogLocations>{catalogs}</CatalogLocations>
  <Entities>
    <ScenarioObject name="A">{CAR}</ScenarioObject>
    <ScenarioObject name="B">{CAR}</ScenarioObject>
  </Entities>
  <Storyboard><Init><Actions>
    <Private entityRef="A"><PrivateAction><TeleportAction><Position><LanePosition roadId="2" laneId="1" s="40"/></Position></TeleportAction></PrivateAction></Private>
    <Private entityRef="B"><PrivateAction><TeleportAction><Position>{b_position}</Position></TeleportAction></PrivateAction></Private>
  </Actions></Init></Storyboard></OpenSCENARIO>"#
    )
}

fn route_position(route_ref: &str, orientation: &str, in_route: &str) -> String {
    format!(
        "<RoutePosition><RouteRef>{route_ref}</RouteRef>{orientation}<InRoutePosition>{in_route}</InRoutePosition></RoutePosition>"
    )
}

/// B's pose (x, y, heading, road, lane, s) after the Init actions, or the run's error.
fn place_b(xml: &str, resolver: &MapResolver) -> Result<(f64, f64, f64, String, i32, f64), String> {
    let scenario = Scenario::parse(xml, "s.xosc", resolver).map_err(|e| e.to_string())?;
    let network = road::Network::parse(ROADS).map_err(|e| e.to_string())?;
    let mut runner = Runner::new(scenario, Some(network), 0.01).map_err(|e| e.to_string())?;
    runner.step().map_err(|e| e.to_string())?;
    let b = &runner.entities()[1];
    let lane = b.lane.clone().ok_or("B is on no lane")?;
    Ok((b.x, b.y, b.heading, lane.road, lane.lane, lane.s))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

/// Heading difference folded into (−π, π].
fn angle_close(a: f64, b: f64) -> bool {
    let d = (a - b).rem_euclid(std::f64::consts::TAU);
    d < 1e-6 || std::f64::consts::TAU - d < 1e-6
}

#[test]
fn lane_coordinates_measure_path_s_across_roads_and_directions() {
    let resolver = MapResolver::new();
    // 30 m in: still on road 1, s = 20 + 30.
    let xml = scenario(
        &route_position(
            ROUTE,
            "",
            r#"<FromLaneCoordinates pathS="30" laneId="-1"/>"#,
        ),
        "",
    );
    let (x, y, h, road, lane, s) = place_b(&xml, &resolver).unwrap();
    assert!(
        close(x, 50.0) && close(y, -1.75) && angle_close(h, 0.0),
        "{x} {y} {h}"
    );
    assert_eq!((road.as_str(), lane), ("1", -1));
    assert!(close(s, 50.0));
    // 100 m in: 80 m on road 1, then 20 m on road 2 against its s (50 → 30),
    // so x = 150 − 30; lane 1 of road 2 lies at −y and is driven along +x.
    let xml = scenario(
        &route_position(
            ROUTE,
            "",
            r#"<FromLaneCoordinates pathS="100" laneId="1" laneOffset="0.5"/>"#,
        ),
        "",
    );
    let (x, y, h, road, lane, s) = place_b(&xml, &resolver).unwrap();
    assert!(
        close(x, 120.0) && close(y, -1.75 - 0.5) && angle_close(h, 0.0),
        "{x} {y} {h}"
    );
    assert_eq!((road.as_str(), lane), ("2", 1));
    assert!(close(s, 30.0), "{s}");
    // Relative orientation turns from the driving direction; absolute replaces it.
    let xml = scenario(
        &route_position(
            ROUTE,
            r#"<Orientation type="relative" h="3.141592653589793"/>"#,
            r#"<FromLaneCoordinates pathS="30" laneId="-1"/>"#,
        ),
        "",
    );
    let (_, _, h, ..) = place_b(&xml, &resolver).unwrap();
    assert!(angle_close(h, std::f64::consts::PI), "{h}");
    let xml = scenario(
        &route_position(
            ROUTE,
            r#"<Orientation type="absolute" h="1"/>"#,
            r#"<FromLaneCoordinates pathS="100" laneId="1"/>"#,
        ),
        "",
    );
    let (_, _, h, ..) = place_b(&xml, &resolver).unwrap();
    assert!(angle_close(h, 1.0), "{h}");
}

#[test]
fn road_coordinates_follow_the_travel_direction() {
    let xml = scenario(
        &route_position(ROUTE, "", r#"<FromRoadCoordinates pathS="110" t="-1"/>"#),
        "",
    );
    // 30 m along road 2 from its end: s = 20; t = −1 is +y on a road heading −x.
    let (x, y, h, road, _, s) = place_b(&xml, &MapResolver::new()).unwrap();
    assert!(
        close(x, 130.0) && close(y, 1.0) && angle_close(h, 0.0),
        "{x} {y} {h}"
    );
    assert_eq!(road, "2");
    assert!(close(s, 20.0), "{s}");
    // The route's far end is 120 m in; beyond it is an error naming the length.
    let xml = scenario(
        &route_position(ROUTE, "", r#"<FromRoadCoordinates pathS="121" t="0"/>"#),
        "",
    );
    let err = place_b(&xml, &MapResolver::new()).unwrap_err();
    assert!(
        err.contains("pathS 121") && err.contains("120.000 m long"),
        "{err}"
    );
}

#[test]
fn current_entity_must_be_on_the_route() {
    let xml = scenario(
        &route_position(ROUTE, "", r#"<FromCurrentEntity entityRef="A"/>"#),
        "",
    );
    // A stands on road 2 lane 1 at s = 40 (x = 110, y = −1.75), heading +x.
    let (x, y, h, road, lane, _) = place_b(&xml, &MapResolver::new()).unwrap();
    assert!(
        close(x, 110.0) && close(y, -1.75) && angle_close(h, 0.0),
        "{x} {y} {h}"
    );
    assert_eq!((road.as_str(), lane), ("2", 1));
    // A route that stays on road 1 does not contain A.
    let short = ROUTE.replace(
        r#"<LanePosition roadId="2" laneId="1" s="10"/>"#,
        r#"<LanePosition roadId="1" laneId="-1" s="90"/>"#,
    );
    let xml = scenario(
        &route_position(&short, "", r#"<FromCurrentEntity entityRef="A"/>"#),
        "",
    );
    let err = place_b(&xml, &MapResolver::new()).unwrap_err();
    assert!(
        err.contains("`A` is not on a road of route `over`"),
        "{err}"
    );
}

#[test]
fn routes_come_from_catalogs_with_parameters() {
    let catalog = format!(
        r#"<OpenSCENARIO><FileHeader revMajor="1" revMinor="2"/><Catalog name="Routes">{}</Catalog></OpenSCENARIO>"#,
        ROUTE
            .replace(
                r#"<Route name="over" closed="false">"#,
                r#"<Route name="over" closed="false"><ParameterDeclarations><ParameterDeclaration name="StartS" parameterType="double" value="20"/></ParameterDeclarations>"#
            )
            .replace(r#"s="20""#, r#"s="$StartS""#)
    );
    let resolver = MapResolver::new().with("routes/routes.xosc", &catalog);
    let reference = r#"<CatalogReference catalogName="Routes" entryName="over">
      <ParameterAssignments><ParameterAssignment parameterRef="StartS" value="40"/></ParameterAssignments></CatalogReference>"#;
    let xml = scenario(
        &route_position(
            reference,
            "",
            r#"<FromLaneCoordinates pathS="30" laneId="-1"/>"#,
        ),
        r#"<RouteCatalog><Directory path="routes"/></RouteCatalog>"#,
    );
    // The route now starts at s = 40, so 30 m in is s = 70.
    let (x, _, _, _, _, s) = place_b(&xml, &resolver).unwrap();
    assert!(close(x, 70.0) && close(s, 70.0), "{x} {s}");
    // Elements inside RoutePosition are checked like everywhere else.
    let bad = xml.replace("<FromLaneCoordinates", "<FromNowhere");
    let err = Scenario::parse(&bad, "s.xosc", &resolver)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("FromNowhere") && err.contains("s.xosc:"),
        "{err}"
    );
}

/// esmini's `test_route_lane_change` (esmini-expectations.json) logs the
/// route `TargetLeftTurnRoute` as: waypoint 1 at route distance 209.10 m on
/// road 15 lane -1 s 4.91, waypoint 2 at 224.06 m on road 1 lane -1 s 5.00.
/// The same pathS values must land on the same roads and s (to esmini's
/// printed precision, two decimals).
#[test]
fn route_distances_match_esmini_on_fabriksgatan() {
    let esmini = common::corpora().join("esmini");
    if !esmini.join("resources/xodr/fabriksgatan.xodr").exists() {
        eprintln!(
            "esmini corpus not found at {}; set TWINSPACE_CORPORA to the corpora folder",
            esmini.display()
        );
        return;
    }
    let resolver = common::esmini_resolver(&esmini.join("resources/xosc/route.xosc"), &esmini);
    let expected = [(209.10, "15", 4.91), (224.05, "1", 4.99), (0.0, "2", 100.0)];
    for (path_s, road, s) in expected {
        let xml = format!(
            r#"<OpenSCENARIO><FileHeader revMajor="1" revMinor="0"/>
  <CatalogLocations><RouteCatalog><Directory path="Catalogs/Routes"/></RouteCatalog></CatalogLocations>
  <RoadNetwork><LogicFile filepath="../xodr/fabriksgatan.xodr"/></RoadNetwork>
  <Entities><ScenarioObject name="B">{CAR}</ScenarioObject></Entities>
  <Storyboard><Init><Actions><Private entityRef="B"><PrivateAction><TeleportAction><Position>{}</Position></TeleportAction></PrivateAction></Private></Actions></Init></Storyboard></OpenSCENARIO>"#,
            route_position(
                r#"<CatalogReference catalogName="RoutesAtFabriksgatan" entryName="TargetLeftTurnRoute"/>"#,
                "",
                &format!(r#"<FromLaneCoordinates pathS="{path_s}" laneId="-1"/>"#)
            )
        );
        let scenario = Scenario::parse(&xml, "route.xosc", &resolver).unwrap();
        let network = sim::load_network(&scenario, &resolver).unwrap();
        let mut runner = Runner::new(scenario, network, 0.01).unwrap();
        runner.step().unwrap();
        let lane = runner.entities()[0].lane.clone().unwrap();
        assert_eq!(lane.road, road, "pathS {path_s}: {lane:?}");
        assert!(
            (lane.s - s).abs() < 0.006,
            "pathS {path_s}: s {} vs esmini {s}",
            lane.s
        );
    }
}
