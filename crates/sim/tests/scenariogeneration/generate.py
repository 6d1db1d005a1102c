"""Writes OpenSCENARIO scenarios and their OpenDRIVE roads with PyPI
`scenariogeneration`, an independent writer, for `tests/scenariogeneration.rs`.

Usage: python generate.py OUT_DIR

Each scenario comes with a road of its own (straight, arc, spiral-arc-spiral
curve, a long paramPoly3 bend), so the runner meets the writer's geometry as
well as its scenario structure:
- cut_in: a target overtakes the ego in the left lane and cuts in ahead of it
  once it leads by a relative distance;
- lane_change: the ego changes one lane right on a curved road at a given time,
  then back left by a relative target;
- acc_follow: the ego follows a slower lead that brakes; a time-headway
  condition makes the ego slow down before it reaches the lead;
- overtaking: the ego closes on a slower target, changes left when near,
  passes, and changes back in once it leads.
Prints the written scenario file names, one a line.
"""

import os
import sys

from scenariogeneration import xodr, xosc


def car(name):
    # A passenger car: 4.5 m x 1.8 m, reference point on the rear axle.
    box = xosc.BoundingBox(1.8, 4.5, 1.5, 1.4, 0.0, 0.75)
    front = xosc.Axle(0.5, 0.8, 1.68, 2.8, 0.4)
    rear = xosc.Axle(0.5, 0.8, 1.68, 0.0, 0.4)
    return xosc.Vehicle(name, xosc.VehicleCategory.car, box, front, rear, 60, 6, 9)


def road_file(out_dir, name, geometries):
    road = xodr.create_road(geometries, id=0, left_lanes=2, right_lanes=2, lane_width=3.5)
    odr = xodr.OpenDrive(name)
    odr.add_road(road)
    odr.adjust_roads_and_lanes()
    path = os.path.join(out_dir, name + ".xodr")
    odr.write_xml(path)
    return name + ".xodr"


def at_time(name, seconds):
    return xosc.ValueTrigger(
        name, 0, xosc.ConditionEdge.rising, xosc.SimulationTimeCondition(seconds, xosc.Rule.greaterThan)
    )


def stop_after(seconds):
    return xosc.ValueTrigger(
        "stop",
        0,
        xosc.ConditionEdge.rising,
        xosc.SimulationTimeCondition(seconds, xosc.Rule.greaterThan),
        triggeringpoint="stop",
    )


def speed(value):
    return xosc.AbsoluteSpeedAction(
        value, xosc.TransitionDynamics(xosc.DynamicsShapes.step, xosc.DynamicsDimension.time, 0)
    )


def story(name, actor, events):
    maneuver = xosc.Maneuver(name + "_maneuver")
    for event in events:
        maneuver.add_event(event)
    group = xosc.ManeuverGroup(name + "_group")
    group.add_actor(actor)
    group.add_maneuver(maneuver)
    act = xosc.Act(name + "_act", at_time(name + "_start", 0))
    act.add_maneuver_group(group)
    result = xosc.Story(name + "_story")
    result.add_act(act)
    return result


def event(name, trigger, action_name, action):
    result = xosc.Event(name, xosc.Priority.parallel)
    result.add_trigger(trigger)
    result.add_action(action_name, action)
    return result


def write(out_dir, name, road, entities, init, stories, seconds):
    board = xosc.StoryBoard(init, stop_after(seconds))
    for s in stories:
        board.add_story(s)
    scenario = xosc.Scenario(
        name,
        "twinspace tests",
        xosc.ParameterDeclarations(),
        entities=entities,
        storyboard=board,
        roadnetwork=xosc.RoadNetwork(roadfile=road),
        catalog=xosc.Catalog(),
    )
    scenario.write_xml(os.path.join(out_dir, name + ".xosc"))
    print(name + ".xosc")


def two_cars(first, second):
    entities = xosc.Entities()
    entities.add_scenario_object(first, car(first))
    entities.add_scenario_object(second, car(second))
    return entities


def cut_in(out_dir):
    road = road_file(out_dir, "cut_in_road", [xodr.Line(300), xodr.Arc(0.002, angle=0.3), xodr.Line(400)])
    init = xosc.Init()
    init.add_init_action("Ego", xosc.TeleportAction(xosc.LanePosition(50, 0, -1, 0)))
    init.add_init_action("Ego", speed(20))
    init.add_init_action("Target", xosc.TeleportAction(xosc.LanePosition(20, 0, -2, 0)))
    init.add_init_action("Target", speed(28))
    # Cut in once the target leads the ego by 15 m (longitudinal, road coordinates).
    ahead = xosc.EntityTrigger(
        "target_ahead",
        0,
        xosc.ConditionEdge.rising,
        xosc.RelativeDistanceCondition(
            15, xosc.Rule.greaterThan, xosc.RelativeDistanceType.longitudinal, "Ego", freespace=False
        ),
        "Target",
    )
    shape = xosc.TransitionDynamics(xosc.DynamicsShapes.sinusoidal, xosc.DynamicsDimension.time, 3)
    change = event("cut_in", ahead, "cut_in_lane_change", xosc.AbsoluteLaneChangeAction(-1, shape))
    write(out_dir, "cut_in", road, two_cars("Ego", "Target"), init, [story("cut_in", "Target", [change])], 20)


def lane_change(out_dir):
    curve = xodr.Spiral(0.0, 0.004, 60)
    road = road_file(
        out_dir,
        "lane_change_road",
        [xodr.Line(100), curve, xodr.Arc(0.004, 120), xodr.Spiral(0.004, 0.0, 60), xodr.Line(300)],
    )
    entities = xosc.Entities()
    entities.add_scenario_object("Ego", car("Ego"))
    init = xosc.Init()
    init.add_init_action("Ego", xosc.TeleportAction(xosc.LanePosition(10, 0, -1, 0)))
    init.add_init_action("Ego", speed(15))
    shape = xosc.TransitionDynamics(xosc.DynamicsShapes.cubic, xosc.DynamicsDimension.time, 4)
    right = event("change_right", at_time("at_3s", 3), "to_lane_2", xosc.AbsoluteLaneChangeAction(-2, shape))
    # Back left by a relative target: one lane to the left of the ego's own lane.
    left = event(
        "change_left",
        at_time("at_15s", 15),
        "back_to_lane_1",
        xosc.RelativeLaneChangeAction(1, "Ego", xosc.TransitionDynamics(xosc.DynamicsShapes.linear, xosc.DynamicsDimension.distance, 60)),
    )
    write(out_dir, "lane_change", road, entities, init, [story("lane_change", "Ego", [right, left])], 25)


def acc_follow(out_dir):
    road = road_file(out_dir, "acc_follow_road", [xodr.Line(200), xodr.Arc(-0.001, angle=0.4), xodr.Line(600)])
    init = xosc.Init()
    init.add_init_action("Ego", xosc.TeleportAction(xosc.LanePosition(10, 0, -1, 0)))
    init.add_init_action("Ego", speed(25))
    init.add_init_action("Lead", xosc.TeleportAction(xosc.LanePosition(90, 0, -1, 0)))
    init.add_init_action("Lead", speed(20))
    brake = event(
        "lead_brakes",
        at_time("at_4s", 4),
        "lead_to_10",
        xosc.AbsoluteSpeedAction(10, xosc.TransitionDynamics(xosc.DynamicsShapes.linear, xosc.DynamicsDimension.rate, 4)),
    )
    # The ego matches the lead's speed when the time headway falls below 2 s.
    close = xosc.EntityTrigger(
        "headway_short",
        0,
        xosc.ConditionEdge.rising,
        xosc.TimeHeadwayCondition("Lead", 2.0, xosc.Rule.lessThan, alongroute=False, freespace=True),
        "Ego",
    )
    follow = event(
        "ego_follows",
        close,
        "match_lead",
        xosc.RelativeSpeedAction(
            0,
            "Lead",
            xosc.TransitionDynamics(xosc.DynamicsShapes.linear, xosc.DynamicsDimension.rate, 6),
            xosc.SpeedTargetValueType.delta,
            True,
        ),
    )
    write(
        out_dir,
        "acc_follow",
        road,
        two_cars("Ego", "Lead"),
        init,
        [story("lead", "Lead", [brake]), story("ego", "Ego", [follow])],
        30,
    )


def overtaking(out_dir):
    # u = p, v = 0.0005 p² − 1.5e-6 p³ over p in [0, 200]: a gentle S-bend.
    bend = xodr.ParamPoly3(0, 1, 0, 0, 0, 0, 0.0005, -1.5e-6, prange="arcLength", length=200)
    road = road_file(out_dir, "overtaking_road", [xodr.Line(150), bend, xodr.Line(800)])
    init = xosc.Init()
    init.add_init_action("Ego", xosc.TeleportAction(xosc.LanePosition(10, 0, -1, 0)))
    init.add_init_action("Ego", speed(30))
    init.add_init_action("Slow", xosc.TeleportAction(xosc.LanePosition(120, 0, -1, 0)))
    init.add_init_action("Slow", speed(18))
    near = xosc.EntityTrigger(
        "slow_near",
        0,
        xosc.ConditionEdge.rising,
        xosc.RelativeDistanceCondition(
            30, xosc.Rule.lessThan, xosc.RelativeDistanceType.longitudinal, "Slow", freespace=True
        ),
        "Ego",
    )
    shape = xosc.TransitionDynamics(xosc.DynamicsShapes.sinusoidal, xosc.DynamicsDimension.time, 2.5)
    out = event("pull_out", near, "to_lane_2", xosc.AbsoluteLaneChangeAction(-2, shape))
    passed = xosc.EntityTrigger(
        "slow_passed",
        0,
        xosc.ConditionEdge.rising,
        xosc.RelativeDistanceCondition(
            20, xosc.Rule.greaterThan, xosc.RelativeDistanceType.longitudinal, "Slow", freespace=True
        ),
        "Ego",
    )
    # Only after pulling out: the pass is measured from the ego's own front.
    back = xosc.Event("pull_in", xosc.Priority.parallel)
    group = xosc.ConditionGroup()
    group.add_condition(passed)
    group.add_condition(
        xosc.ValueTrigger(
            "pulled_out",
            0,
            xosc.ConditionEdge.none,
            xosc.StoryboardElementStateCondition(
                xosc.StoryboardElementType.event, "pull_out", xosc.StoryboardElementState.completeState
            ),
        )
    )
    back.add_trigger(group)
    back.add_action("to_lane_1", xosc.AbsoluteLaneChangeAction(-1, shape))
    write(out_dir, "overtaking", road, two_cars("Ego", "Slow"), init, [story("overtake", "Ego", [out, back])], 30)


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    cut_in(out_dir)
    lane_change(out_dir)
    acc_follow(out_dir)
    overtaking(out_dir)


if __name__ == "__main__":
    main()
