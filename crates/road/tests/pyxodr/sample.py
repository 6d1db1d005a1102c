"""Samples an OpenDRIVE file with PyPI `pyxodr`, an independent implementation,
for the road crate's cross-check (tests/pyxodr.rs).

Usage: python sample.py FILE.xodr [FILE.xodr ...]
Prints one JSON object mapping each file given to {"roads": [{"id", "reference": [[x, y, z], ...],
"lanes": [{"section": ordinal, "section_s": s, "lane": id, "border": [[x, y], ...]}]}],
"errors": {road_id: message}}. Lane borders are each lane's outer border.
"""

import json
import sys

from pyxodr.road_objects.network import RoadNetwork

# pyxodr samples every geometry at this spacing (m) and interpolates between.
RESOLUTION = 0.1


def sample(path: str) -> dict:
    network = RoadNetwork(path, resolution=RESOLUTION)
    out = {"roads": [], "errors": {}}
    for road in network.get_roads():
        try:
            reference = road.reference_line
            z = road.z_coordinates
            entry = {
                "id": road.id,
                "reference": [[float(p[0]), float(p[1]), float(h)] for p, h in zip(reference, z)],
                "lanes": [],
            }
            for section in road.lane_sections:
                section_s = float(section.lane_section_xml.attrib["s"])
                for lane in section.lanes:
                    try:
                        border = lane.boundary_line
                    except (NotImplementedError, IndexError) as error:
                        out["errors"][f"{road.id}/{section.lane_section_ordinal}/{lane.id}"] = str(error)
                        continue
                    entry["lanes"].append(
                        {
                            "section": section.lane_section_ordinal,
                            "section_s": section_s,
                            "lane": int(lane.id),
                            "border": [[float(p[0]), float(p[1])] for p in border],
                        }
                    )
            out["roads"].append(entry)
        except Exception as error:  # noqa: BLE001 - reported to the Rust side by road id
            out["errors"][road.id] = f"{type(error).__name__}: {error}"
    return out


def main() -> None:
    result = {}
    for path in sys.argv[1:]:
        try:
            result[path] = sample(path)
        except Exception as error:  # noqa: BLE001 - the whole file failed in pyxodr
            result[path] = {"roads": [], "errors": {"*": f"{type(error).__name__}: {error}"}}
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
