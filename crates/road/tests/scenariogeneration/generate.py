"""Writes OpenDRIVE files with PyPI `scenariogeneration`, an independent writer,
for the road crate's cross-check (tests/scenariogeneration.rs).

scenariogeneration places every geometry record and every linked road with its
own geometry code (adjust_roads_and_lanes), so where our evaluation of one
record's end meets the next record's start, and where a lane's end meets its
linked successor's start, two implementations are compared.

Usage: python generate.py OUT_DIR   (prints the file names written)
"""

import os
import sys

from scenariogeneration import xodr


def mixed_geometry(out: str) -> str:
    """One road of line, spirals in and out of an arc, a reverse spiral and an
    arcLength paramPoly3, with widening lanes."""
    geometry = [
        xodr.Line(40),
        xodr.Spiral(0.0, 0.025, 35),
        xodr.Arc(0.025, 40),
        xodr.Spiral(0.025, -0.015, 60),
        xodr.ParamPoly3(0, 40, 0, 0, 0, 0, 3, -1.2, prange="arcLength", length=40.25),
        xodr.Spiral(-0.015, 0.0, 30),
        xodr.Line(20),
    ]
    road = xodr.create_road(geometry, id=0, left_lanes=2, right_lanes=3, lane_width=3.2, lane_width_end=3.8)
    odr = xodr.OpenDrive("mixed_geometry")
    odr.add_road(road)
    odr.adjust_roads_and_lanes()
    path = os.path.join(out, "sg_mixed_geometry.xodr")
    odr.write_xml(path)
    return path


def normalized_chain(out: str) -> str:
    """Three roads linked end to start: normalized paramPoly3, arc, spiral."""
    roads = [
        xodr.create_road(xodr.ParamPoly3(0, 30, -4, 1, 0, 0, 6, -2.5, prange="normalized"), id=1, left_lanes=1, right_lanes=2),
        xodr.create_road(xodr.Arc(-0.03, 45), id=2, left_lanes=1, right_lanes=2),
        xodr.create_road(xodr.Spiral(-0.03, 0.01, 70), id=3, left_lanes=1, right_lanes=2),
    ]
    roads[0].add_successor(xodr.ElementType.road, 2, xodr.ContactPoint.start)
    roads[1].add_predecessor(xodr.ElementType.road, 1, xodr.ContactPoint.end)
    roads[1].add_successor(xodr.ElementType.road, 3, xodr.ContactPoint.start)
    roads[2].add_predecessor(xodr.ElementType.road, 2, xodr.ContactPoint.end)
    odr = xodr.OpenDrive("normalized_chain")
    for road in roads:
        odr.add_road(road)
    odr.adjust_roads_and_lanes()
    path = os.path.join(out, "sg_normalized_chain.xodr")
    odr.write_xml(path)
    return path


def three_way_junction(out: str) -> str:
    """A T junction of three curved roads, every lane connected."""
    roads = [
        xodr.create_road([xodr.Line(30), xodr.Spiral(0.0, 0.01, 30)], id=1, left_lanes=2, right_lanes=2),
        xodr.create_road([xodr.Arc(-0.01, 50)], id=2, left_lanes=2, right_lanes=2),
        xodr.create_road([xodr.Spiral(0.0, 0.02, 40), xodr.Arc(0.02, 20)], id=3, left_lanes=2, right_lanes=2),
    ]
    junction = xodr.CommonJunctionCreator(id=100, name="t_junction", startnum=100)
    junction.add_incoming_road_circular_geometry(roads[0], 20, 0, "successor")
    junction.add_incoming_road_circular_geometry(roads[1], 20, 3.1415926 / 2, "predecessor")
    junction.add_incoming_road_circular_geometry(roads[2], 20, 3.1415926, "successor")
    junction.add_connection(1, 2)
    junction.add_connection(2, 3)
    junction.add_connection(1, 3)
    odr = xodr.OpenDrive("three_way_junction")
    for road in roads:
        odr.add_road(road)
    odr.add_junction_creator(junction)
    odr.adjust_roads_and_lanes()
    path = os.path.join(out, "sg_three_way_junction.xodr")
    odr.write_xml(path)
    return path


def lane_merge(out: str) -> str:
    """A road whose right side goes from 3 lanes to 2 (lane sections, a merging
    lane) and back."""
    right = [xodr.LaneDef(50, 100, 3, 2, -3), xodr.LaneDef(150, 200, 2, 3, -3)]
    road = xodr.create_road([xodr.Line(120), xodr.Arc(0.004, 130)], id=5, left_lanes=2, right_lanes=right)
    odr = xodr.OpenDrive("lane_merge")
    odr.add_road(road)
    odr.adjust_roads_and_lanes()
    path = os.path.join(out, "sg_lane_merge.xodr")
    odr.write_xml(path)
    return path


def main() -> None:
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for make in (mixed_geometry, normalized_chain, three_way_junction, lane_merge):
        try:
            print(make(out))
        except Exception as error:  # noqa: BLE001 - reported, the others still run
            print(f"ERROR {make.__name__}: {type(error).__name__}: {error}", file=sys.stderr)


if __name__ == "__main__":
    main()
