//! Triangle meshes of a network's road surface (one strip per lane, grouped by
//! surface kind) and lane markings (solid and broken lines from `roadMark`), and
//! their export as a binary glTF 2.0 file (GLB) that any viewer opens.
//!
//! glTF is y-up and right-handed; OpenDRIVE is z-up: a point (x, y, z) becomes
//! (x, z, −y). Vertices are stored relative to the network's centre, which goes
//! into the node's translation, so that georeferenced coordinates of hundreds of
//! kilometres keep millimetre precision in 32-bit floats.

use serde_json::json;

use crate::network::{Network, pose_on};
use crate::road::{LaneSection, Road};

/// What a mesh part shows; each becomes one glTF material.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Surface {
    /// Lanes vehicles drive on.
    Driving,
    /// Sidewalks, walking and cycling lanes.
    Sidewalk,
    /// Shoulders, borders, stops, parking, medians, curbs, …
    Verge,
    /// Lanes of type `none` and anything else.
    Other,
    /// White markings.
    MarkingWhite,
    /// Yellow markings.
    MarkingYellow,
}

impl Surface {
    fn name(self) -> &'static str {
        match self {
            Surface::Driving => "driving",
            Surface::Sidewalk => "sidewalk",
            Surface::Verge => "verge",
            Surface::Other => "other",
            Surface::MarkingWhite => "marking-white",
            Surface::MarkingYellow => "marking-yellow",
        }
    }

    fn color(self) -> [f64; 4] {
        match self {
            Surface::Driving => [0.25, 0.25, 0.27, 1.0],
            Surface::Sidewalk => [0.62, 0.60, 0.57, 1.0],
            Surface::Verge => [0.42, 0.40, 0.36, 1.0],
            Surface::Other => [0.30, 0.45, 0.25, 1.0],
            Surface::MarkingWhite => [0.95, 0.95, 0.95, 1.0],
            Surface::MarkingYellow => [0.95, 0.75, 0.10, 1.0],
        }
    }

    fn of_lane(lane_type: &str) -> Surface {
        match lane_type {
            "driving" | "entry" | "exit" | "onRamp" | "offRamp" | "connectingRamp"
            | "bidirectional" | "slipLane" | "bus" | "taxi" | "HOV" | "mwyEntry" | "mwyExit" => {
                Surface::Driving
            }
            "sidewalk" | "walking" | "biking" | "bicycle" => Surface::Sidewalk,
            "shoulder" | "border" | "stop" | "parking" | "median" | "curb" | "restricted"
            | "special1" | "special2" | "special3" | "roadWorks" | "tram" | "rail" => {
                Surface::Verge
            }
            _ => Surface::Other,
        }
    }
}

/// How to build a mesh.
#[derive(Debug, Clone, PartialEq)]
pub struct MeshOptions {
    /// Longest step along s between cross-sections, m.
    pub step_m: f64,
    /// Whether to add lane markings.
    pub markings: bool,
    /// Most vertices in the whole mesh; building stops there and sets
    /// [`RoadMesh::truncated`]. Bounds memory for huge or hostile networks.
    pub max_vertices: usize,
}

impl Default for MeshOptions {
    fn default() -> MeshOptions {
        MeshOptions {
            step_m: 1.0,
            markings: true,
            // 4 M vertices ≈ 100 MB of GLB: a city-sized network at 1 m steps.
            max_vertices: 4_000_000,
        }
    }
}

/// One material's triangles, in glTF's frame relative to [`RoadMesh::origin`].
#[derive(Debug, Clone, PartialEq)]
pub struct MeshPart {
    /// What it shows.
    pub surface: Surface,
    /// Vertex positions (x, y up, z), m.
    pub positions: Vec<[f32; 3]>,
    /// Unit vertex normals.
    pub normals: Vec<[f32; 3]>,
    /// Triangle list, counter-clockwise seen from above.
    pub indices: Vec<u32>,
}

/// A road network's surface and markings as triangles.
#[derive(Debug, Clone, PartialEq)]
pub struct RoadMesh {
    /// OpenDRIVE (x, y, z) subtracted from every vertex.
    pub origin: [f64; 3],
    /// Parts, one per surface kind that has triangles.
    pub parts: Vec<MeshPart>,
    /// True when [`MeshOptions::max_vertices`] cut the mesh short.
    pub truncated: bool,
}

/// Length of the painted dash and of the gap of a `broken` marking, m (the
/// common European 3 m line, 6 m gap; OpenDRIVE leaves it to `roadMark/type`,
/// which is not modelled).
const DASH_M: f64 = 3.0;
const GAP_M: f64 = 6.0;
/// Marking width when `roadMark` gives none, m.
const DEFAULT_MARK_WIDTH_M: f64 = 0.12;
/// Markings float this far above the surface so viewers draw them on top, m.
const MARK_LIFT_M: f64 = 0.01;

struct Builder {
    origin: [f64; 3],
    parts: Vec<MeshPart>,
    vertices: usize,
    max_vertices: usize,
    truncated: bool,
}

impl Builder {
    fn part(&mut self, surface: Surface) -> &mut MeshPart {
        let index = match self.parts.iter().position(|part| part.surface == surface) {
            Some(index) => index,
            None => {
                self.parts.push(MeshPart {
                    surface,
                    positions: Vec::new(),
                    normals: Vec::new(),
                    indices: Vec::new(),
                });
                self.parts.len() - 1
            }
        };
        &mut self.parts[index]
    }

    /// Adds a strip between two polylines of equal length (OpenDRIVE frame).
    fn strip(&mut self, surface: Surface, left: &[[f64; 3]], right: &[[f64; 3]]) {
        let count = left.len().min(right.len());
        if count < 2 {
            return;
        }
        if self.vertices + 2 * count > self.max_vertices {
            self.truncated = true;
            return;
        }
        self.vertices += 2 * count;
        let origin = self.origin;
        let to_gltf = |point: &[f64; 3]| -> [f32; 3] {
            [
                (point[0] - origin[0]) as f32,
                (point[2] - origin[2]) as f32,
                (-(point[1] - origin[1])) as f32,
            ]
        };
        let part = self.part(surface);
        let base = part.positions.len() as u32;
        let mut normals = vec![[0.0f64; 3]; 2 * count];
        for index in 0..count {
            part.positions.push(to_gltf(&left[index]));
            part.positions.push(to_gltf(&right[index]));
        }
        for index in 0..count - 1 {
            let a = 2 * index; // left i
            let b = a + 1; // right i
            let c = a + 3; // right i+1
            let d = a + 2; // left i+1
            for [p, q, r] in [[a, b, c], [a, c, d]] {
                let (pp, qq, rr) = (
                    part.positions[base as usize + p],
                    part.positions[base as usize + q],
                    part.positions[base as usize + r],
                );
                let u = [
                    f64::from(qq[0] - pp[0]),
                    f64::from(qq[1] - pp[1]),
                    f64::from(qq[2] - pp[2]),
                ];
                let v = [
                    f64::from(rr[0] - pp[0]),
                    f64::from(rr[1] - pp[1]),
                    f64::from(rr[2] - pp[2]),
                ];
                let mut n = [
                    u[1] * v[2] - u[2] * v[1],
                    u[2] * v[0] - u[0] * v[2],
                    u[0] * v[1] - u[1] * v[0],
                ];
                let mut order = [p, q, r];
                // Face up (+y in glTF) whichever side of the reference line.
                if n[1] < 0.0 {
                    order = [p, r, q];
                    n = [-n[0], -n[1], -n[2]];
                }
                for vertex in [p, q, r] {
                    for axis in 0..3 {
                        normals[vertex][axis] += n[axis];
                    }
                }
                part.indices
                    .extend(order.iter().map(|&vertex| base + vertex as u32));
            }
        }
        for normal in normals {
            let length =
                (normal[0] * normal[0] + normal[1] * normal[1] + normal[2] * normal[2]).sqrt();
            part.normals.push(if length > 0.0 {
                [
                    (normal[0] / length) as f32,
                    (normal[1] / length) as f32,
                    (normal[2] / length) as f32,
                ]
            } else {
                [0.0, 1.0, 0.0]
            });
        }
    }
}

/// s values from `from` to `to` at most `step` apart, both ends included.
fn stations(from: f64, to: f64, step: f64) -> Vec<f64> {
    // Bounded by the vertex limit in practice; this caps a single run too.
    const MAX_STATIONS: f64 = 1_000_000.0;
    if to.partial_cmp(&from) != Some(std::cmp::Ordering::Greater) {
        return Vec::new();
    }
    let count = ((to - from) / step).ceil().clamp(1.0, MAX_STATIONS) as usize;
    (0..=count)
        .map(|index| from + (to - from) * index as f64 / count as f64)
        .collect()
}

fn point(road: &Road, s: f64, t: f64, lift: f64) -> [f64; 3] {
    let pose = pose_on(road, s, t);
    [pose.x, pose.y, pose.z + lift]
}

fn lane_surfaces(
    builder: &mut Builder,
    road: &Road,
    section_index: usize,
    section: &LaneSection,
    step: f64,
) {
    let end = road.lane_section_end(section_index);
    let stations = stations(section.s, end, step);
    for lane in &section.lanes {
        if lane.id == 0 {
            continue;
        }
        let mut inner_line = Vec::with_capacity(stations.len());
        let mut outer_line = Vec::with_capacity(stations.len());
        for &s in &stations {
            let Some((inner, outer)) = road.lane_border_t_in_section(section_index, lane.id, s)
            else {
                continue;
            };
            inner_line.push(point(road, s, inner, 0.0));
            outer_line.push(point(road, s, outer, 0.0));
        }
        builder.strip(Surface::of_lane(&lane.lane_type), &inner_line, &outer_line);
    }
}

fn lane_markings(
    builder: &mut Builder,
    road: &Road,
    section_index: usize,
    section: &LaneSection,
    step: f64,
) {
    let section_end = road.lane_section_end(section_index);
    for lane in &section.lanes {
        for (index, mark) in lane.road_marks.iter().enumerate() {
            let from = section.s + mark.s_offset;
            let to = lane
                .road_marks
                .get(index + 1)
                .map_or(section_end, |next| section.s + next.s_offset)
                .min(section_end);
            let width = mark
                .width
                .filter(|width| *width > 0.0)
                .unwrap_or(DEFAULT_MARK_WIDTH_M);
            let surface = match mark.color.as_deref() {
                Some("yellow") | Some("orange") => Surface::MarkingYellow,
                _ => Surface::MarkingWhite,
            };
            // Lines of the mark, as offsets from the lane's outer border.
            let words: Vec<&str> = mark.mark_type.split_whitespace().collect();
            let lines: Vec<(bool, f64)> = match words.as_slice() {
                ["solid"] => vec![(false, 0.0)],
                ["broken"] => vec![(true, 0.0)],
                [first, second] => {
                    let offset = width;
                    vec![(*first == "broken", offset), (*second == "broken", -offset)]
                }
                _ => Vec::new(), // none, botts dots, grass, curb, edge, custom
            };
            for (broken, offset) in lines {
                let pieces: Vec<(f64, f64)> = if broken {
                    let mut pieces = Vec::new();
                    let mut start = from;
                    // The dash count is bounded by the vertex limit checked in strip().
                    while start < to && !builder.truncated {
                        pieces.push((start, (start + DASH_M).min(to)));
                        start += DASH_M + GAP_M;
                    }
                    pieces
                } else {
                    vec![(from, to)]
                };
                for (piece_from, piece_to) in pieces {
                    let mut left = Vec::new();
                    let mut right = Vec::new();
                    for s in stations(piece_from, piece_to, step) {
                        let Some((_, outer)) =
                            road.lane_border_t_in_section(section_index, lane.id, s)
                        else {
                            continue;
                        };
                        // Offsets point away from the centre lane on either side.
                        let side = if lane.id < 0 { -1.0 } else { 1.0 };
                        let centre = outer + side * offset;
                        left.push(point(road, s, centre + 0.5 * width, MARK_LIFT_M));
                        right.push(point(road, s, centre - 0.5 * width, MARK_LIFT_M));
                    }
                    builder.strip(surface, &left, &right);
                }
            }
        }
    }
}

impl Network {
    /// Triangulates every road's lanes (and, if asked, markings).
    pub fn mesh(&self, options: &MeshOptions) -> RoadMesh {
        let step = if options.step_m.is_finite() && options.step_m > 0.01 {
            options.step_m
        } else {
            1.0
        };
        // Centre of the reference lines' start points: good enough to keep
        // coordinates small.
        let (mut sum_x, mut sum_y, mut count) = (0.0, 0.0, 0.0);
        for road in self.roads() {
            if let Some(first) = road.geometry.first()
                && first.x.is_finite()
                && first.y.is_finite()
            {
                sum_x += first.x;
                sum_y += first.y;
                count += 1.0;
            }
        }
        let origin = if count > 0.0 {
            [sum_x / count, sum_y / count, 0.0]
        } else {
            [0.0; 3]
        };
        let mut builder = Builder {
            origin,
            parts: Vec::new(),
            vertices: 0,
            max_vertices: options.max_vertices,
            truncated: false,
        };
        for road in self.roads() {
            for (index, section) in road.lane_sections.iter().enumerate() {
                lane_surfaces(&mut builder, road, index, section, step);
                if options.markings {
                    lane_markings(&mut builder, road, index, section, step);
                }
            }
        }
        builder.parts.sort_by_key(|part| part.surface);
        RoadMesh {
            origin,
            parts: builder.parts,
            truncated: builder.truncated,
        }
    }
}

impl RoadMesh {
    /// Number of triangles.
    pub fn triangle_count(&self) -> usize {
        self.parts.iter().map(|part| part.indices.len() / 3).sum()
    }

    /// The mesh as a binary glTF 2.0 file: one node (translated to `origin`),
    /// one mesh with a primitive per surface kind, one material each.
    pub fn to_glb(&self) -> Vec<u8> {
        let mut binary: Vec<u8> = Vec::new();
        let mut buffer_views = Vec::new();
        let mut accessors = Vec::new();
        let mut primitives = Vec::new();
        let mut materials = Vec::new();
        for part in self.parts.iter().filter(|part| !part.indices.is_empty()) {
            let mut view = |bytes: &[u8], target: u32| -> usize {
                let offset = binary.len();
                binary.extend_from_slice(bytes);
                // Keep every view 4-byte aligned, as glTF requires for floats.
                while !binary.len().is_multiple_of(4) {
                    binary.push(0);
                }
                buffer_views.push(json!({
                    "buffer": 0, "byteOffset": offset, "byteLength": bytes.len(), "target": target
                }));
                buffer_views.len() - 1
            };
            let positions: Vec<u8> = part
                .positions
                .iter()
                .flatten()
                .flat_map(|v| v.to_le_bytes())
                .collect();
            let normals: Vec<u8> = part
                .normals
                .iter()
                .flatten()
                .flat_map(|v| v.to_le_bytes())
                .collect();
            let indices: Vec<u8> = part.indices.iter().flat_map(|v| v.to_le_bytes()).collect();
            let position_view = view(&positions, 34962);
            let normal_view = view(&normals, 34962);
            let index_view = view(&indices, 34963);
            let mut min = [f32::INFINITY; 3];
            let mut max = [f32::NEG_INFINITY; 3];
            for position in &part.positions {
                for axis in 0..3 {
                    min[axis] = min[axis].min(position[axis]);
                    max[axis] = max[axis].max(position[axis]);
                }
            }
            accessors.push(json!({
                "bufferView": position_view, "componentType": 5126, "count": part.positions.len(),
                "type": "VEC3", "min": min, "max": max
            }));
            accessors.push(json!({
                "bufferView": normal_view, "componentType": 5126, "count": part.normals.len(), "type": "VEC3"
            }));
            accessors.push(json!({
                "bufferView": index_view, "componentType": 5125, "count": part.indices.len(), "type": "SCALAR"
            }));
            let base = accessors.len() - 3;
            materials.push(json!({
                "name": part.surface.name(),
                "pbrMetallicRoughness": {
                    "baseColorFactor": part.surface.color(), "metallicFactor": 0.0, "roughnessFactor": 0.9
                }
            }));
            primitives.push(json!({
                "attributes": { "POSITION": base, "NORMAL": base + 1 },
                "indices": base + 2,
                "material": materials.len() - 1,
                "mode": 4
            }));
        }
        let mut document = json!({
            "asset": { "version": "2.0", "generator": "twinspace road (OpenDRIVE)" },
            "scene": 0,
            "scenes": [{ "name": "road network", "nodes": [0] }],
            "nodes": [{
                "name": "road network",
                "translation": [self.origin[0], self.origin[2], -self.origin[1]]
            }],
        });
        if !primitives.is_empty() {
            document["nodes"][0]["mesh"] = json!(0);
            document["meshes"] = json!([{ "name": "roads", "primitives": primitives }]);
            document["materials"] = json!(materials);
            document["accessors"] = json!(accessors);
            document["bufferViews"] = json!(buffer_views);
            document["buffers"] = json!([{ "byteLength": binary.len() }]);
        }
        let mut json_bytes = document.to_string().into_bytes();
        while !json_bytes.len().is_multiple_of(4) {
            json_bytes.push(b' ');
        }
        let has_binary = !binary.is_empty();
        let total = 12 + 8 + json_bytes.len() + if has_binary { 8 + binary.len() } else { 0 };
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(b"glTF");
        out.extend_from_slice(&2u32.to_le_bytes());
        out.extend_from_slice(&(total as u32).to_le_bytes());
        out.extend_from_slice(&(json_bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(b"JSON");
        out.extend_from_slice(&json_bytes);
        if has_binary {
            out.extend_from_slice(&(binary.len() as u32).to_le_bytes());
            out.extend_from_slice(b"BIN\0");
            out.extend_from_slice(&binary);
        }
        out
    }
}
