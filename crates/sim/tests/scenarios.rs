//! Feature tests on scenarios written for them: parameters and expressions,
//! catalogs, the storyboard state machine (priorities, execution counts, edges,
//! delays, element states, parameters), speed and lateral dynamics, collisions,
//! KPIs and the report writers. Small scenarios use world positions on no road;
//! lane behaviour runs on `tests/data/highway.xodr`.

mod common;

use std::path::Path;

use sim::{EndReason, LogKind, MapResolver, Runner, Scenario};

const CAR: &str = r#"<Vehicle name="car" vehicleCategory="car">
  <BoundingBox><Center x="1.4" y="0" z="0.75"/><Dimensions width="2" length="4" height="1.5"/></BoundingBox>
  <Performance maxSpeed="70" maxAcceleration="5" maxDeceleration="10"/></Vehicle>"#;

/// A scenario with entities A and B on the x axis (A at x=0, B at x=100, both
/// heading +x), `init_extra` inside Init/Actions, `story` after Init, and
/// `parameters` declared globally.
fn scenario(parameters: &str, init_extra: &str, story: &str) -> String {
    format!(
        r#"<?xml version="1.0"?>
<OpenSCENARIO>
  <FileHeader revMajor="1" revMinor="2" date="2026-01-01T00:00:00" description="test" author="t"/>
  <ParameterDeclarations>{parameters}</ParameterDeclarations>
  <Entities>
    <ScenarioObject name="A">{CAR}</ScenarioObject>
    <ScenarioObject name="B">{CAR}</ScenarioObject>
  </Entities>
  <Storyboard>
    <Init><Actions>
      <Private entityRef="A"><PrivateAction><TeleportAction><Position><WorldPosition x="0" y="0" h="0"/></Position></TeleportAction></PrivateAction></Private>
      <Private entityRef="B"><PrivateAction><TeleportAction><Position><WorldPosition x="100" y="0" h="0"/></Position></TeleportAction></PrivateAction></Private>
      {init_extra}
    </Actions></Init>
    {story}
  </Storyboard>
</OpenSCENARIO>"#
    )
}

fn speed_action(entity: &str, shape: &str, dimension: &str, value: f64, target: f64) -> String {
    format!(
        r#"<Private entityRef="{entity}"><PrivateAction><LongitudinalAction><SpeedAction>
        <SpeedActionDynamics dynamicsShape="{shape}" value="{value}" dynamicsDimension="{dimension}"/>
        <SpeedActionTarget><AbsoluteTargetSpeed value="{target}"/></SpeedActionTarget>
        </SpeedAction></LongitudinalAction></PrivateAction></Private>"#
    )
}

fn event(name: &str, priority: &str, max: u32, action: &str, trigger: &str) -> String {
    format!(
        r#"<Event name="{name}" priority="{priority}" maximumExecutionCount="{max}">
          <Action name="{name}Action">{action}</Action>
          <StartTrigger><ConditionGroup>{trigger}</ConditionGroup></StartTrigger>
        </Event>"#
    )
}

fn story(actor: &str, events: &str, stop: &str) -> String {
    format!(
        r#"<Story name="S"><Act name="Act"><ManeuverGroup name="G" maximumExecutionCount="1">
          <Actors selectTriggeringEntities="false"><EntityRef entityRef="{actor}"/></Actors>
          <Maneuver name="M">{events}</Maneuver></ManeuverGroup></Act></Story>
          <StopTrigger><ConditionGroup>{stop}</ConditionGroup></StopTrigger>"#
    )
}

fn time_condition(name: &str, rule: &str, value: f64, edge: &str, delay: f64) -> String {
    format!(
        r#"<Condition name="{name}" delay="{delay}" conditionEdge="{edge}"><ByValueCondition>
        <SimulationTimeCondition value="{value}" rule="{rule}"/></ByValueCondition></Condition>"#
    )
}

fn private_speed(target: f64, shape: &str, dimension: &str, value: f64) -> String {
    format!(
        r#"<PrivateAction><LongitudinalAction><SpeedAction>
        <SpeedActionDynamics dynamicsShape="{shape}" value="{value}" dynamicsDimension="{dimension}"/>
        <SpeedActionTarget><AbsoluteTargetSpeed value="{target}"/></SpeedActionTarget>
        </SpeedAction></LongitudinalAction></PrivateAction>"#
    )
}

fn run(xml: &str, step: f64, max_time: f64) -> (Runner, sim::Report) {
    let scenario =
        Scenario::parse(xml, "test.xosc", &MapResolver::new()).unwrap_or_else(|e| panic!("{e}"));
    let mut runner = Runner::new(scenario, None, step).unwrap();
    let report = runner.run_to_end(max_time).unwrap();
    (runner, report)
}

fn logged_at(report: &sim::Report, what: impl Fn(&LogKind) -> bool) -> Vec<f64> {
    report
        .log
        .iter()
        .filter(|e| what(&e.kind))
        .map(|e| e.time)
        .collect()
}

fn started(report: &sim::Report, element: &str) -> Vec<f64> {
    logged_at(
        report,
        |k| matches!(k, LogKind::StateChange { element: e, transition: "startTransition", .. } if e == element),
    )
}

fn parse_error(xml: &str) -> sim::Error {
    match Scenario::parse(xml, "bad.xosc", &MapResolver::new()) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

#[test]
fn speed_shapes_follow_their_curves() {
    for (shape, dimension, value, at_half) in [
        ("linear", "time", 2.0, 10.0),
        ("cubic", "time", 2.0, 10.0),
        ("sinusoidal", "time", 2.0, 10.0),
        ("linear", "rate", 4.0, 4.0),
        // 10 m/s² is beyond the car's maxAcceleration of 5: held to 5.
        ("linear", "rate", 10.0, 5.0),
    ] {
        let xml = scenario("", &speed_action("A", shape, dimension, value, 20.0), "");
        let scenario = Scenario::parse(&xml, "t.xosc", &MapResolver::new()).unwrap();
        let mut runner = Runner::new(scenario, None, 0.01).unwrap();
        for _ in 0..=100 {
            runner.step().unwrap();
        }
        let a = &runner.entities()[0];
        assert!(
            (a.speed - at_half).abs() < 1e-6,
            "{shape}/{dimension}: speed at 1 s is {}",
            a.speed
        );
        // The slowest (4 m/s²) reaches 20 m/s at 5 s.
        for _ in 0..400 {
            runner.step().unwrap();
        }
        assert!((runner.entities()[0].speed - 20.0).abs() < 1e-9);
    }
    // Over a distance: 0 → 20 m/s in 100 m takes 2·100/20 = 10 s.
    let xml = scenario(
        "",
        &speed_action("A", "linear", "distance", 100.0, 20.0),
        "",
    );
    let scenario = Scenario::parse(&xml, "t.xosc", &MapResolver::new()).unwrap();
    let mut runner = Runner::new(scenario, None, 0.01).unwrap();
    for _ in 0..=500 {
        runner.step().unwrap();
    }
    assert!((runner.entities()[0].speed - 10.0).abs() < 1e-6);
}

#[test]
fn default_driver_keeps_heading_and_speed_off_road() {
    let xml = scenario("", &speed_action("A", "step", "time", 0.0, 10.0), "");
    let scenario = Scenario::parse(&xml, "t.xosc", &MapResolver::new()).unwrap();
    let mut runner = Runner::new(scenario, None, 0.1).unwrap();
    for _ in 0..=50 {
        runner.step().unwrap();
    }
    let a = &runner.entities()[0];
    assert!((a.x - 50.0).abs() < 1e-9 && a.y.abs() < 1e-9, "{a:?}");
    assert!((a.odometer - 50.0).abs() < 1e-9);
}

#[test]
fn parameters_expressions_and_parameter_actions() {
    let parameters = r#"<ParameterDeclaration name="Speed" parameterType="double" value="${36 / 3.6}"/>
        <ParameterDeclaration name="Flag" parameterType="integer" value="0"/>"#;
    let set = r#"<GlobalAction><ParameterAction parameterRef="Flag"><SetAction value="1"/></ParameterAction></GlobalAction>"#;
    let on_flag = r#"<Condition name="FlagSet" delay="0" conditionEdge="rising"><ByValueCondition>
        <ParameterCondition parameterRef="Flag" value="1" rule="equalTo"/></ByValueCondition></Condition>"#;
    let events = event(
        "SetFlag",
        "parallel",
        1,
        set,
        &time_condition("T2", "greaterThan", 2.0, "rising", 0.0),
    ) + &event(
        "Go",
        "parallel",
        1,
        &private_speed(0.0, "step", "time", 0.0).replace(
            "AbsoluteTargetSpeed value=\"0\"",
            "AbsoluteTargetSpeed value=\"$Speed\"",
        ),
        on_flag,
    );
    let xml = scenario(
        parameters,
        "",
        &story(
            "A",
            &events,
            &time_condition("End", "greaterThan", 5.0, "none", 0.0),
        ),
    );
    let (runner, report) = run(&xml, 0.1, 100.0);
    assert_eq!(report.end_reason, Some(EndReason::StopTrigger));
    assert!(
        logged_at(
            &report,
            |k| matches!(k, LogKind::ParameterSet { name, value } if name == "Flag" && value == "1")
        )
        .len()
            == 1
    );
    let go = started(&report, "Go");
    assert_eq!(go.len(), 1);
    // The flag is set at 2.1 s and the later event in the same maneuver sees it
    // in the same step.
    assert!((go[0] - 2.1).abs() < 1e-9, "Go started at {go:?}");
    assert!(
        (runner.entities()[0].speed - 10.0).abs() < 1e-9,
        "{}",
        runner.entities()[0].speed
    );
}

#[test]
fn condition_delay_and_edges() {
    // Rising edge with a 1 s delay: SimulationTime > 1 becomes true at 1.1 and counts at 2.1.
    let events = event(
        "E",
        "overwrite",
        1,
        &private_speed(5.0, "step", "time", 0.0),
        &time_condition("C", "greaterThan", 1.0, "rising", 1.0),
    );
    let xml = scenario(
        "",
        "",
        &story(
            "A",
            &events,
            &time_condition("End", "greaterThan", 3.0, "none", 0.0),
        ),
    );
    let (_, report) = run(&xml, 0.1, 100.0);
    let true_at = logged_at(
        &report,
        |k| matches!(k, LogKind::ConditionTrue { condition, .. } if condition == "C"),
    );
    assert_eq!(true_at.len(), 1);
    assert!((true_at[0] - 1.1).abs() < 1e-9);
    let e = started(&report, "E");
    assert!((e[0] - 2.1).abs() < 1e-9, "{e:?}");
    // Falling edge: SimulationTime < 1 stops holding at 1.0.
    let events = event(
        "F",
        "overwrite",
        1,
        &private_speed(5.0, "step", "time", 0.0),
        &time_condition("C", "lessThan", 1.0, "falling", 0.0),
    );
    let xml = scenario(
        "",
        "",
        &story(
            "A",
            &events,
            &time_condition("End", "greaterThan", 3.0, "none", 0.0),
        ),
    );
    let (_, report) = run(&xml, 0.1, 100.0);
    assert!((started(&report, "F")[0] - 1.0).abs() < 1e-9);
}

#[test]
fn priorities_and_execution_counts() {
    // Three events in one maneuver; Slow runs 5 s. Overwrite stops it, skip waits.
    let long = private_speed(30.0, "linear", "time", 5.0);
    let events = event(
        "Slow",
        "overwrite",
        1,
        &long,
        &time_condition("C1", "greaterThan", 0.5, "rising", 0.0),
    ) + &event(
        "Skipper",
        "skip",
        1,
        &private_speed(1.0, "step", "time", 0.0),
        &time_condition("C2", "greaterThan", 1.0, "rising", 0.0),
    ) + &event(
        "Overwriter",
        "overwrite",
        1,
        &private_speed(2.0, "step", "time", 0.0),
        &time_condition("C3", "greaterThan", 2.0, "rising", 0.0),
    );
    let xml = scenario(
        "",
        "",
        &story(
            "A",
            &events,
            &time_condition("End", "greaterThan", 4.0, "none", 0.0),
        ),
    );
    let (runner, report) = run(&xml, 0.1, 100.0);
    let skipped = logged_at(
        &report,
        |k| matches!(k, LogKind::StateChange { element, transition: "skipTransition", .. } if element == "Skipper"),
    );
    assert_eq!(skipped.len(), 1, "{:#?}", report.log);
    let stopped = logged_at(
        &report,
        |k| matches!(k, LogKind::StateChange { element, transition: "stopTransition", .. } if element == "Slow"),
    );
    assert!((stopped[0] - 2.1).abs() < 1e-9, "{stopped:?}");
    assert!((runner.entities()[0].speed - 2.0).abs() < 1e-9);

    // An event with maximumExecutionCount 3 on a level condition runs three times.
    let events = event(
        "Repeat",
        "parallel",
        3,
        &private_speed(1.0, "step", "time", 0.0),
        &time_condition("Always", "greaterThan", 0.0, "none", 0.0),
    );
    let xml = scenario(
        "",
        "",
        &story(
            "A",
            &events,
            &time_condition("End", "greaterThan", 1.0, "none", 0.0),
        ),
    );
    let (_, report) = run(&xml, 0.1, 100.0);
    assert_eq!(started(&report, "Repeat").len(), 3);
}

#[test]
fn element_state_conditions_chain_events() {
    let first = private_speed(10.0, "linear", "time", 1.0);
    let chained = r#"<Condition name="AfterFirst" delay="0" conditionEdge="none"><ByValueCondition>
        <StoryboardElementStateCondition storyboardElementType="event" storyboardElementRef="First" state="endTransition"/>
        </ByValueCondition></Condition>"#;
    let events = event(
        "First",
        "parallel",
        1,
        &first,
        &time_condition("Start", "greaterThan", 0.0, "none", 0.0),
    ) + &event(
        "Second",
        "parallel",
        1,
        &private_speed(0.0, "step", "time", 0.0),
        chained,
    );
    let xml = scenario(
        "",
        "",
        &story(
            "A",
            &events,
            &time_condition("End", "greaterThan", 3.0, "none", 0.0),
        ),
    );
    let (_, report) = run(&xml, 0.1, 100.0);
    let second = started(&report, "Second");
    assert_eq!(second.len(), 1);
    assert!((second[0] - 1.1).abs() < 0.11, "{second:?}");
}

#[test]
fn entity_conditions_and_collisions() {
    // A drives at 20 m/s into B standing at x=100: TTC, distance, headway and the collision.
    let init = speed_action("A", "step", "time", 0.0, 20.0);
    let by_entity = |name: &str, body: &str| {
        format!(
            r#"<Condition name="{name}" delay="0" conditionEdge="rising"><ByEntityCondition>
            <TriggeringEntities triggeringEntitiesRule="any"><EntityRef entityRef="A"/></TriggeringEntities>
            <EntityCondition>{body}</EntityCondition></ByEntityCondition></Condition>"#
        )
    };
    let noop = private_speed(20.0, "step", "time", 0.0);
    let events = event(
        "Ttc",
        "parallel",
        1,
        &noop,
        &by_entity(
            "TTC",
            r#"<TimeToCollisionCondition value="2" freespace="false" rule="lessThan"><TimeToCollisionConditionTarget><EntityRef entityRef="B"/></TimeToCollisionConditionTarget></TimeToCollisionCondition>"#,
        ),
    ) + &event(
        "Near",
        "parallel",
        1,
        &noop,
        &by_entity(
            "Near",
            r#"<RelativeDistanceCondition entityRef="B" relativeDistanceType="longitudinal" value="50" freespace="false" rule="lessThan"/>"#,
        ),
    ) + &event(
        "Hit",
        "parallel",
        1,
        &noop,
        &by_entity(
            "Hit",
            r#"<CollisionCondition><EntityRef entityRef="B"/></CollisionCondition>"#,
        ),
    ) + &event(
        "Far",
        "parallel",
        1,
        &noop,
        &by_entity("Far", r#"<TraveledDistanceCondition value="30"/>"#),
    ) + &event(
        "Reach",
        "parallel",
        1,
        &noop,
        &by_entity(
            "Reach",
            r#"<ReachPositionCondition tolerance="1"><Position><WorldPosition x="60" y="0"/></Position></ReachPositionCondition>"#,
        ),
    );
    let xml = scenario(
        "",
        &init,
        &story(
            "A",
            &events,
            &time_condition("End", "greaterThan", 6.0, "none", 0.0),
        ),
    );
    let (_, report) = run(&xml, 0.01, 100.0);
    let at = |name: &str| started(&report, name).first().copied().unwrap_or(f64::NAN);
    assert!((at("Ttc") - 3.01).abs() < 0.015, "TTC {}", at("Ttc"));
    assert!((at("Near") - 2.51).abs() < 0.015, "Near {}", at("Near"));
    assert!((at("Far") - 1.5).abs() < 0.015, "Far {}", at("Far"));
    assert!((at("Reach") - 2.96).abs() < 0.03, "Reach {}", at("Reach"));
    // Boxes 4 m long centred 1.4 m ahead of the reference point: contact when A's
    // reference point is 4 m behind B's, at t = 96 / 20 = 4.8 s.
    assert!((at("Hit") - 4.8).abs() < 0.015, "Hit {}", at("Hit"));
    assert_eq!(report.collisions.len(), 1);
    assert!((report.collisions[0].time_s - 4.8).abs() < 0.015);
    assert!(!report.passed());
    let pair = report
        .pairs
        .iter()
        .find(|p| p.a == "A" && p.b == "B")
        .unwrap();
    assert_eq!(pair.min_time_to_collision_s, Some(0.0));
    assert!(
        report
            .failure()
            .unwrap()
            .contains("collision between A and B")
    );
}

#[test]
fn catalogs_with_parameter_assignments() {
    let catalog = r#"<OpenSCENARIO><FileHeader revMajor="1" revMinor="2"/><Catalog name="Cars">
      <Vehicle name="fast" vehicleCategory="car">
        <ParameterDeclarations><ParameterDeclaration name="Top" parameterType="double" value="50"/></ParameterDeclarations>
        <BoundingBox><Center x="1" y="0" z="0.7"/><Dimensions width="1.8" length="4.2" height="1.4"/></BoundingBox>
        <Performance maxSpeed="$Top" maxAcceleration="${$Top / 10}" maxDeceleration="8"/>
      </Vehicle></Catalog></OpenSCENARIO>"#;
    let xml = r#"<OpenSCENARIO><FileHeader revMajor="1" revMinor="2"/>
      <ParameterDeclarations><ParameterDeclaration name="Limit" parameterType="double" value="20"/></ParameterDeclarations>
      <CatalogLocations><VehicleCatalog><Directory path="cat"/></VehicleCatalog></CatalogLocations>
      <Entities>
        <ScenarioObject name="Default"><CatalogReference catalogName="Cars" entryName="fast"/></ScenarioObject>
        <ScenarioObject name="Limited"><CatalogReference catalogName="Cars" entryName="fast">
          <ParameterAssignments><ParameterAssignment parameterRef="Top" value="$Limit"/></ParameterAssignments>
        </CatalogReference></ScenarioObject>
      </Entities>
      <Storyboard><Init><Actions/></Init></Storyboard></OpenSCENARIO>"#;
    let resolver = MapResolver::new()
        .with("scenarios/cat/cars.xosc", catalog)
        .with("cat/cars.xosc", catalog);
    let scenario = Scenario::parse(xml, "s.xosc", &resolver).unwrap();
    assert_eq!(scenario.entities[0].performance.max_speed, 50.0);
    assert_eq!(scenario.entities[0].performance.max_acceleration, 5.0);
    assert_eq!(scenario.entities[1].performance.max_speed, 20.0);
    assert_eq!(scenario.entities[1].bounding_box.length, 4.2);
    // A missing entry names the catalog and what it has.
    let missing = xml.replace("entryName=\"fast\"/>", "entryName=\"slow\"/>");
    let err = Scenario::parse(&missing, "s.xosc", &resolver)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no entry `slow`") && err.contains("fast") && err.contains("s.xosc:"),
        "{err}"
    );
}

#[test]
fn errors_name_file_position_and_rule() {
    let base = scenario("", "", "");
    // Malformed XML.
    let err = parse_error(&base.replace("</Entities>", "</Entitie>"));
    assert!(matches!(err, sim::Error::Xml { .. }), "{err}");
    assert!(err.to_string().starts_with("bad.xosc:"), "{err}");
    // Division by zero with the position inside the expression.
    let err = parse_error(&scenario(
        r#"<ParameterDeclaration name="X" parameterType="double" value="${1 / (2 - 2)}"/>"#,
        "",
        "",
    ));
    match &err {
        sim::Error::Expression {
            offset,
            message,
            at,
            ..
        } => {
            assert_eq!(*offset, 2);
            assert!(message.contains("division by zero"));
            assert_eq!(at.line, 4);
        }
        other => panic!("{other}"),
    }
    // Unknown parameter, wrong type, bad enumeration, missing entity.
    assert!(matches!(
        parse_error(&base.replace("x=\"100\"", "x=\"$Nope\"")),
        sim::Error::UnknownParameter { .. }
    ));
    let err = parse_error(&base.replace("x=\"100\"", "x=\"far\""));
    assert!(err.to_string().contains("finite decimal number"), "{err}");
    let err = parse_error(&scenario(
        r#"<ParameterDeclaration name="X" parameterType="double" value="abc"/>"#,
        "",
        "",
    ));
    assert!(err.to_string().contains("parameterType double"), "{err}");
    let err = parse_error(&base.replace("<Private entityRef=\"B\">", "<Private entityRef=\"C\">"));
    assert!(
        err.to_string().contains("names no entity") && err.to_string().contains("A, B"),
        "{err}"
    );
    let err = parse_error(&scenario(
        "",
        &speed_action("A", "wobbly", "time", 1.0, 1.0),
        "",
    ));
    assert!(
        err.to_string()
            .contains("allowed: step, linear, cubic, sinusoidal"),
        "{err}"
    );
    // A storyboard element reference that does not exist.
    let chained = r#"<Condition name="X" delay="0" conditionEdge="none"><ByValueCondition>
        <StoryboardElementStateCondition storyboardElementType="event" storyboardElementRef="Ghost" state="endTransition"/>
        </ByValueCondition></Condition>"#;
    let events = event(
        "E",
        "parallel",
        1,
        &private_speed(1.0, "step", "time", 0.0),
        chained,
    );
    let err = parse_error(&scenario("", "", &story("A", &events, "")));
    assert!(err.to_string().contains("Ghost"), "{err}");
}

#[test]
fn runner_refuses_bad_steps_and_lane_positions_without_roads() {
    let xml = scenario("", "", "");
    let parsed = Scenario::parse(&xml, "t.xosc", &MapResolver::new()).unwrap();
    assert!(Runner::new(parsed.clone(), None, 0.0).is_err());
    assert!(Runner::new(parsed, None, f64::NAN).is_err());
    let lane = xml.replace(
        r#"<WorldPosition x="100" y="0" h="0"/>"#,
        r#"<LanePosition roadId="1" laneId="-1" s="10"/>"#,
    );
    let parsed = Scenario::parse(&lane, "t.xosc", &MapResolver::new()).unwrap();
    let mut runner = Runner::new(parsed, None, 0.1).unwrap();
    let err = runner.step().unwrap_err().to_string();
    assert!(err.contains("needs a road network"), "{err}");
}

fn highway() -> (Scenario, road::Network, common::DirResolver) {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let resolver = common::DirResolver {
        base: data.clone(),
        fallbacks: Vec::new(),
    };
    let text = std::fs::read_to_string(data.join("highway_cut_in.xosc")).unwrap();
    let scenario = Scenario::parse(&text, "highway_cut_in.xosc", &resolver).unwrap();
    let network = sim::load_network(&scenario, &resolver).unwrap().unwrap();
    (scenario, network, resolver)
}

#[test]
fn highway_cut_in_changes_lane_and_reports_kpis() {
    let (scenario, network, _) = highway();
    assert_eq!(scenario.entities.len(), 10);
    let mut runner = Runner::new(scenario, Some(network), 0.01).unwrap();
    runner.set_recording(true);
    let report = runner.run_to_end(120.0).unwrap();
    assert_eq!(report.end_reason, Some(EndReason::StopTrigger));
    assert!((report.time_s - 60.0).abs() < 1e-6);
    assert!(report.passed(), "{:?}", report.failure());
    let cut_in = runner
        .entities()
        .iter()
        .find(|e| e.name == "CutIn")
        .unwrap();
    assert_eq!(
        cut_in.lane.as_ref().map(|l| l.lane),
        Some(-2),
        "CutIn ends in Ego's lane"
    );
    assert!(cut_in.lane.as_ref().unwrap().offset.abs() < 1e-6);
    // The lane change happened at a 0.6 s freespace headway; Ego then braked.
    let ego_cut_in = report
        .pairs
        .iter()
        .find(|p| p.a == "Ego" && p.b == "CutIn")
        .unwrap();
    let headway = ego_cut_in.min_time_headway_s.unwrap();
    assert!(headway > 0.4 && headway < 0.7, "min headway {headway}");
    let ego = report.entities.iter().find(|e| e.name == "Ego").unwrap();
    assert!(
        ego.max_deceleration > 1.0 && ego.max_deceleration < 9.0,
        "{}",
        ego.max_deceleration
    );
    // Trucks are held to their 25 m/s limit.
    assert!(
        runner
            .entities()
            .iter()
            .filter(|e| e.name.starts_with("Right"))
            .all(|e| (e.speed - 25.0).abs() < 1e-9)
    );
    // Everyone stayed on the road, following its arc.
    assert!(runner.entities().iter().all(|e| e.lane.is_some()));
    // The record: one row per entity per step (Init row included), documented columns.
    let csv = sim::record_csv(runner.record().unwrap());
    assert_eq!(csv.lines().next(), Some(sim::RECORD_CSV_HEADER));
    assert_eq!(csv.lines().count(), 1 + 10 * 6001);
}

#[test]
fn runs_are_deterministic() {
    let record = || {
        let (scenario, network, _) = highway();
        let mut runner = Runner::new(scenario, Some(network), 0.02).unwrap();
        runner.set_recording(true);
        runner.run_to_end(30.0).unwrap();
        sim::record_csv(runner.record().unwrap())
    };
    assert_eq!(record(), record());
}

#[test]
fn report_writers() {
    let (scenario, network, _) = highway();
    let mut runner = Runner::new(scenario, Some(network), 0.05).unwrap();
    let good = runner.run_to_end(120.0).unwrap();
    let events = event(
        "E",
        "parallel",
        1,
        &private_speed(30.0, "step", "time", 0.0),
        &time_condition("T", "greaterThan", 0.0, "none", 0.0),
    );
    let (_, bad) = run(&scenario_with_collision(&events), 0.1, 10.0);
    let json: serde_json::Value =
        serde_json::from_str(&sim::report_json(&[good.clone(), bad.clone()])).unwrap();
    assert_eq!(json["passed"], 1);
    assert_eq!(json["failed"], 1);
    assert_eq!(json["scenarios"][0]["end_reason"], "stop_trigger");
    assert!(json["scenarios"][1]["collisions"].as_array().unwrap().len() == 1);
    let junit = sim::junit_xml("scenarios & more", &[good, bad]);
    assert!(
        junit.contains("<testsuite name=\"scenarios &amp; more\" tests=\"2\" failures=\"1\""),
        "{junit}"
    );
    assert!(junit.contains("<failure message=\"collision between A and B"));
    assert!(junit.contains("min_time_headway_s.Ego.CutIn"));
}

fn scenario_with_collision(events: &str) -> String {
    scenario(
        "",
        &speed_action("A", "step", "time", 0.0, 30.0),
        &story(
            "A",
            events,
            &time_condition("End", "greaterThan", 5.0, "none", 0.0),
        ),
    )
}

/// Determinism golden: the state of every entity each simulated second of the
/// highway run, to the millimetre. A change in behaviour shows up here as a
/// diff; regenerate on purpose with `UPDATE_GOLDEN=1 cargo test -p sim --test scenarios`.
#[test]
fn highway_golden() {
    let (scenario, network, _) = highway();
    let mut runner = Runner::new(scenario, Some(network), 0.01).unwrap();
    runner.set_recording(true);
    runner.run_to_end(120.0).unwrap();
    let mut out = String::from("time_s,entity,x_m,y_m,heading_rad,speed_mps,lane\n");
    for row in runner.record().unwrap() {
        // Whole seconds only, to keep the file small.
        if (row.time_s - row.time_s.round()).abs() > 1e-6 {
            continue;
        }
        out.push_str(&format!(
            "{:.0},{},{:.3},{:.3},{:.4},{:.3},{}\n",
            row.time_s,
            row.entity,
            row.x,
            row.y,
            row.heading,
            row.speed,
            row.lane.map(|l| l.to_string()).unwrap_or_default()
        ));
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/highway_cut_in.golden.csv");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &out).unwrap();
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_default();
    if golden != out {
        let first = golden.lines().zip(out.lines()).find(|(a, b)| a != b);
        panic!(
            "highway run differs from {}: first differing line {first:?}",
            path.display()
        );
    }
}

#[test]
fn longitudinal_distance_keeps_the_gap() {
    let keep = r#"<PrivateAction><LongitudinalAction>
        <LongitudinalDistanceAction entityRef="B" distance="20" freespace="false" continuous="true">
          <DynamicConstraints maxAcceleration="3" maxDeceleration="5" maxSpeed="40"/>
        </LongitudinalDistanceAction></LongitudinalAction></PrivateAction>"#;
    let init = speed_action("B", "step", "time", 0.0, 10.0);
    let events = event(
        "Keep",
        "overwrite",
        1,
        keep,
        &time_condition("Start", "greaterThan", 0.0, "none", 0.0),
    );
    let xml = scenario(
        "",
        &init,
        &story(
            "A",
            &events,
            &time_condition("End", "greaterThan", 60.0, "none", 0.0),
        ),
    );
    let (runner, report) = run(&xml, 0.05, 100.0);
    assert!(report.passed(), "{:?}", report.failure());
    let (a, b) = (&runner.entities()[0], &runner.entities()[1]);
    assert!((b.x - a.x - 20.0).abs() < 0.5, "gap {}", b.x - a.x);
    assert!((a.speed - 10.0).abs() < 0.2, "speed {}", a.speed);
    let a_summary = report.entities.iter().find(|e| e.name == "A").unwrap();
    assert!(a_summary.max_deceleration <= 5.0 + 1e-9);
}

#[test]
fn relative_speed_direction_resolves_along_the_reference_entity() {
    // A heads +x at 10 m/s, B heads +y (h = π/2) at 10 m/s: equal speeds, but
    // A's velocity relative to B, (10, −10), is −10 along B's heading (+y) and
    // −10 towards B's left (−x).
    let init = speed_action("A", "step", "time", 0.0, 10.0)
        + &speed_action("B", "step", "time", 0.0, 10.0)
        + r#"<Private entityRef="B"><PrivateAction><TeleportAction><Position><WorldPosition x="100" y="0" h="1.5707963267948966"/></Position></TeleportAction></PrivateAction></Private>"#;
    let condition = |name: &str, direction: &str| {
        let attribute = if direction.is_empty() {
            String::new()
        } else {
            format!(r#" direction="{direction}""#)
        };
        format!(
            r#"<Condition name="{name}" delay="0" conditionEdge="none"><ByEntityCondition>
            <TriggeringEntities triggeringEntitiesRule="any"><EntityRef entityRef="A"/></TriggeringEntities>
            <EntityCondition><RelativeSpeedCondition entityRef="B" value="-9.5" rule="lessThan"{attribute}/></EntityCondition>
            </ByEntityCondition></Condition>"#
        )
    };
    let noop = private_speed(10.0, "step", "time", 0.0);
    let events = event("Plain", "parallel", 1, &noop, &condition("Plain", ""))
        + &event(
            "Long",
            "parallel",
            1,
            &noop,
            &condition("Long", "longitudinal"),
        )
        + &event("Lat", "parallel", 1, &noop, &condition("Lat", "lateral"))
        + &event("Up", "parallel", 1, &noop, &condition("Up", "vertical"));
    let xml = scenario(
        "",
        &init,
        &story(
            "A",
            &events,
            &time_condition("End", "greaterThan", 1.0, "rising", 0.0),
        ),
    );
    let (_, report) = run(&xml, 0.01, 5.0);
    assert!(started(&report, "Plain").is_empty(), "equal speeds");
    assert_eq!(started(&report, "Long").len(), 1, "−10 along B's heading");
    assert_eq!(started(&report, "Lat").len(), 1, "−10 towards B's left");
    assert!(started(&report, "Up").is_empty(), "planar motion");

    let bad = scenario(
        "",
        "",
        &story(
            "A",
            &event("Bad", "parallel", 1, &noop, &condition("Bad", "sideways")),
            &time_condition("End", "greaterThan", 1.0, "rising", 0.0),
        ),
    );
    let error = parse_error(&bad).to_string();
    assert!(
        error.contains("sideways") && error.contains("longitudinal"),
        "{error}"
    );
}

#[test]
fn offroad_condition_counts_time_off_every_lane() {
    // On the highway network: A stands in lane -1, B 50 m beside the road.
    let offroad = |name: &str, entity: &str| {
        format!(
            r#"<Event name="{name}" priority="parallel" maximumExecutionCount="1">
              <Action name="{name}Action">{noop}</Action>
              <StartTrigger><ConditionGroup><Condition name="{name}" delay="0" conditionEdge="none"><ByEntityCondition>
                <TriggeringEntities triggeringEntitiesRule="any"><EntityRef entityRef="{entity}"/></TriggeringEntities>
                <EntityCondition><OffroadCondition duration="1.5"/></EntityCondition>
              </ByEntityCondition></Condition></ConditionGroup></StartTrigger></Event>"#,
            noop = private_speed(0.0, "step", "time", 0.0)
        )
    };
    let xml = format!(
        r#"<?xml version="1.0"?>
<OpenSCENARIO>
  <FileHeader revMajor="1" revMinor="2" date="2026-01-01T00:00:00" description="offroad" author="t"/>
  <RoadNetwork><LogicFile filepath="highway.xodr"/></RoadNetwork>
  <Entities>
    <ScenarioObject name="A">{CAR}</ScenarioObject>
    <ScenarioObject name="B">{CAR}</ScenarioObject>
  </Entities>
  <Storyboard>
    <Init><Actions>
      <Private entityRef="A"><PrivateAction><TeleportAction><Position><LanePosition roadId="1" laneId="-1" s="50"/></Position></TeleportAction></PrivateAction></Private>
      <Private entityRef="B"><PrivateAction><TeleportAction><Position><WorldPosition x="50" y="50" h="0"/></Position></TeleportAction></PrivateAction></Private>
    </Actions></Init>
    {}
  </Storyboard>
</OpenSCENARIO>"#,
        story(
            "A",
            &(offroad("OffA", "A") + &offroad("OffB", "B")),
            &time_condition("End", "greaterThan", 3.0, "rising", 0.0)
        )
    );
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let resolver = common::DirResolver {
        base: data,
        fallbacks: Vec::new(),
    };
    let scenario = Scenario::parse(&xml, "offroad.xosc", &resolver).unwrap();
    let network = sim::load_network(&scenario, &resolver).unwrap();
    let mut runner = Runner::new(scenario, network, 0.01).unwrap();
    let report = runner.run_to_end(10.0).unwrap();
    assert!(started(&report, "OffA").is_empty(), "A is on the road");
    let off_b = started(&report, "OffB");
    assert_eq!(off_b.len(), 1);
    assert!(
        (off_b[0] - 1.5).abs() <= 0.02,
        "B off road for 1.5 s at {}",
        off_b[0]
    );
}
