//! [`Network`]: a parsed OpenDRIVE road network and the questions asked of it —
//! where is (road, s, t) or (road, lane, s, offset) in the world, which lane is
//! nearest a world point, which lanes continue a lane across lane sections, road
//! links and junctions, and how to get from one lane to another.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

use crate::error::RoadError;
use crate::parse::{Header, read_document};
use crate::road::{ContactPoint, ElementType, Junction, Road, profile_slope, profile_value};
use crate::xml::parse_tree;

/// How far (m) a query's s may lie outside `0..=length` and still be clamped onto
/// the road rather than refused: the rounding of lengths in real files.
pub const S_TOLERANCE: f64 = 1e-3;

/// Longest stretch (m) between reference-line samples kept for nearest-point
/// search; the search refines from the nearest sample with Newton steps.
const SAMPLE_STEP: f64 = 1.0;

/// Most samples kept per road, bounding memory for absurdly long roads (the
/// sample step grows instead).
const MAX_SAMPLES_PER_ROAD: usize = 100_000;

/// Most samples kept for the whole network (~24 MB as (s, x, y) triples); a
/// network with more road metres than this samples each road more coarsely,
/// which only makes the Newton refinement work harder.
const MAX_SAMPLES_TOTAL: usize = 1_000_000;

/// Most search states a route may expand; a network of thousands of roads needs
/// far fewer, and the bound keeps a query on a hostile network finite.
const MAX_ROUTE_STATES: usize = 200_000;

/// How far (m) before a lane-section boundary a backward continuation into the
/// previous section is placed, so that it lies in that section (more at s so
/// large that 1 nm is below the rounding of s).
pub const BOUNDARY_STEP: f64 = 1e-9;

/// Cost (m of driving) a route charges for one lane change, so that routes
/// prefer staying in lane when distances tie.
const LANE_CHANGE_COST: f64 = 5.0;

/// A position and orientation in the network's world frame. Angles in radians:
/// heading from +x counter-clockwise (along +s); pitch positive nose down
/// (OpenDRIVE's right-handed convention, −atan of the surface's slope along s at
/// that t); roll positive right side down (the superelevation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pose {
    /// x, m.
    pub x: f64,
    /// y, m.
    pub y: f64,
    /// z, m.
    pub z: f64,
    /// Heading, rad.
    pub heading: f64,
    /// Pitch, rad.
    pub pitch: f64,
    /// Roll, rad.
    pub roll: f64,
}

/// A position in a lane: road id, OpenDRIVE lane id, s along the road and the
/// lateral offset (m, along +t) from the lane's centre.
#[derive(Debug, Clone, PartialEq)]
pub struct LanePosition {
    /// Road id.
    pub road: String,
    /// Lane id (negative right of the reference line).
    pub lane: i32,
    /// s along the road, m.
    pub s: f64,
    /// Offset from the lane centre along +t, m.
    pub offset: f64,
}

/// One continuation of a lane: where it starts and whether travel on it goes
/// along +s (`forward`) or −s.
#[derive(Debug, Clone, PartialEq)]
pub struct LaneStep {
    /// Start of the continuation.
    pub position: LanePosition,
    /// True when travel continues towards increasing s on the new road.
    pub forward: bool,
}

/// A parsed OpenDRIVE road network.
#[derive(Debug, Clone)]
pub struct Network {
    header: Header,
    roads: Vec<Road>,
    road_index: HashMap<String, usize>,
    junctions: Vec<Junction>,
    junction_index: HashMap<String, usize>,
    ignored: BTreeMap<String, usize>,
    /// Per road: reference-line samples and bounds for nearest-point search.
    samples: Vec<RoadSamples>,
}

impl Network {
    /// Parses an OpenDRIVE document (1.4–1.8). Errors carry line, column and the
    /// element path.
    pub fn parse(xml: &str) -> Result<Network, RoadError> {
        let root = parse_tree(xml)?;
        let parsed = read_document(xml, &root)?;
        // The reader refused duplicate ids, with their positions.
        let road_index: HashMap<String, usize> = parsed
            .roads
            .iter()
            .enumerate()
            .map(|(index, road)| (road.id.clone(), index))
            .collect();
        let junction_index: HashMap<String, usize> = parsed
            .junctions
            .iter()
            .enumerate()
            .map(|(index, junction)| (junction.id.clone(), index))
            .collect();
        let per_road =
            (MAX_SAMPLES_TOTAL / parsed.roads.len().max(1)).clamp(16, MAX_SAMPLES_PER_ROAD);
        let samples = parsed
            .roads
            .iter()
            .map(|road| RoadSamples::new(road, per_road))
            .collect();
        Ok(Network {
            header: parsed.header,
            roads: parsed.roads,
            road_index,
            junctions: parsed.junctions,
            junction_index,
            ignored: parsed.ignored,
            samples,
        })
    }

    /// The `<header>` facts.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// All roads in document order.
    pub fn roads(&self) -> impl Iterator<Item = &Road> {
        self.roads.iter()
    }

    /// The road with `id`.
    pub fn road(&self, id: &str) -> Option<&Road> {
        self.road_index.get(id).map(|&index| &self.roads[index])
    }

    /// All junctions in document order.
    pub fn junctions(&self) -> impl Iterator<Item = &Junction> {
        self.junctions.iter()
    }

    /// The junction with `id`.
    pub fn junction(&self, id: &str) -> Option<&Junction> {
        self.junction_index
            .get(id)
            .map(|&index| &self.junctions[index])
    }

    /// Elements met in the document but not modelled by this crate, as
    /// `parent/child` names with how often each occurred.
    pub fn ignored_elements(&self) -> &BTreeMap<String, usize> {
        &self.ignored
    }

    fn road_checked(&self, id: &str) -> Result<&Road, RoadError> {
        self.road(id).ok_or_else(|| RoadError::UnknownRoad {
            road: id.to_owned(),
        })
    }

    fn clamp_s(road: &Road, s: f64) -> Result<f64, RoadError> {
        if !s.is_finite() || s < -S_TOLERANCE || s > road.length + S_TOLERANCE {
            return Err(RoadError::OutOfRange {
                road: road.id.clone(),
                s,
                length: road.length,
            });
        }
        Ok(s.clamp(0.0, road.length))
    }

    /// Reference-line point at (s, t) with elevation, heading, pitch, roll. The
    /// point lies t metres left of the reference line measured along the road
    /// surface, which superelevation tilts: t·cos(roll) across and t·sin(roll) up
    /// (as the OpenDRIVE t axis, and esmini).
    pub fn road_to_world(&self, road: &str, s: f64, t: f64) -> Result<Pose, RoadError> {
        let road = self.road_checked(road)?;
        let s = Self::clamp_s(road, s)?;
        Ok(pose_on(road, s, t))
    }

    /// Centre of lane `lane` (OpenDRIVE lane id, negative = right) at s, plus
    /// `offset` metres along +t. The heading is the reference line's (along +s).
    pub fn lane_to_world(
        &self,
        road: &str,
        lane: i32,
        s: f64,
        offset: f64,
    ) -> Result<Pose, RoadError> {
        let road_ref = self.road_checked(road)?;
        let s = Self::clamp_s(road_ref, s)?;
        let t = lane_center_t(road_ref, lane, s).ok_or_else(|| RoadError::UnknownLane {
            road: road.to_owned(),
            lane,
            s,
        })?;
        Ok(pose_on(road_ref, s, t + offset))
    }

    /// Width of lane `lane` at s (0 for the centre lane).
    pub fn lane_width(&self, road: &str, lane: i32, s: f64) -> Result<f64, RoadError> {
        let road_ref = self.road_checked(road)?;
        let s = Self::clamp_s(road_ref, s)?;
        let (inner, outer) =
            road_ref
                .lane_border_t(lane, s)
                .ok_or_else(|| RoadError::UnknownLane {
                    road: road.to_owned(),
                    lane,
                    s,
                })?;
        Ok((outer - inner).abs())
    }

    /// (inner t, outer t) of a lane at s: its borders, signed like t.
    pub fn lane_borders(&self, road: &str, lane: i32, s: f64) -> Result<(f64, f64), RoadError> {
        let road_ref = self.road_checked(road)?;
        let s = Self::clamp_s(road_ref, s)?;
        road_ref
            .lane_border_t(lane, s)
            .ok_or_else(|| RoadError::UnknownLane {
                road: road.to_owned(),
                lane,
                s,
            })
    }

    /// Projects a world point onto road `road`: s of the nearest reference-line
    /// point and t of the point across the road (measured along the banked
    /// surface, like every t here), or None when the road is unknown.
    pub fn world_to_road(&self, road: &str, x: f64, y: f64) -> Option<(f64, f64)> {
        let index = *self.road_index.get(road)?;
        project(
            &self.roads[index],
            &self.samples[index],
            x,
            y,
            f64::INFINITY,
            true,
        )
        .into_iter()
        .min_by(|a, b| a.2.total_cmp(&b.2))
        .map(|(s, t, _, _)| (s, t))
    }

    /// Nearest lane position to a world point: the lane containing the point if
    /// any road's lanes do (preferring the road whose surface is nearest `z` when
    /// given, then the smallest |t|), else the lane whose edge is nearest.
    pub fn world_to_lane(&self, x: f64, y: f64, z: Option<f64>) -> Option<LanePosition> {
        if !(x.is_finite() && y.is_finite()) {
            return None;
        }
        let mut best: Option<(f64, f64, LanePosition)> = None;
        // Roads in order of how close their lanes could possibly be; once that
        // lower bound exceeds the best score found, no later road can win.
        let mut order: Vec<(f64, usize)> = self
            .samples
            .iter()
            .enumerate()
            .map(|(index, samples)| (samples.lower_bound(&samples.bounds, x, y), index))
            .collect();
        order.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (bound, index) in order {
            let best_score = best.as_ref().map_or(f64::INFINITY, |(score, _, _)| *score);
            if bound > best_score + 1e-9 {
                break;
            }
            let road = &self.roads[index];
            for (s, t, _, beyond) in
                project(road, &self.samples[index], x, y, best_score, z.is_none())
            {
                let Some((lane, outside, center)) = lane_at(road, s, t) else {
                    continue;
                };
                let height = z.map_or(0.0, |z| {
                    let roll = profile_value(&road.superelevation, s);
                    (road.elevation_at(s) + t * roll.sin() - z).abs()
                });
                // Primary: distance outside the lanes plus height difference;
                // secondary: closeness to the reference line.
                let score = outside.hypot(beyond) + height;
                let candidate = LanePosition {
                    road: road.id.clone(),
                    lane,
                    s,
                    offset: t - center,
                };
                let better = match &best {
                    None => true,
                    Some((best_score, best_t, _)) => {
                        score < best_score - 1e-9
                            || (score <= best_score + 1e-9 && t.abs() < *best_t)
                    }
                };
                if better {
                    best = Some((score, t.abs(), candidate));
                }
            }
        }
        best.map(|(_, _, position)| position)
    }

    /// The lane(s) that continue `at.lane` beyond the end of its lane section or
    /// road, travelling towards increasing s when `forward` (else decreasing s),
    /// through road links and junction connections. Each position is at the start
    /// of the continuation with `at.offset` kept: s at the boundary, except that a
    /// backward step into the previous lane section lands [`BOUNDARY_STEP`]
    /// before the boundary (so the usual look-up puts it in that section).
    ///
    /// `at.s` exactly on a lane-section boundary means the end of the section
    /// being left: the one ending there when `forward`, the one starting there
    /// otherwise (unless only the other section has `at.lane`).
    pub fn successors(&self, at: &LanePosition, forward: bool) -> Vec<LanePosition> {
        self.next_lanes(at, forward)
            .into_iter()
            .map(|step| step.position)
            .collect()
    }

    /// Like [`Network::successors`], also saying which way travel continues on
    /// each continuation (roads joined end to end reverse the s direction).
    pub fn next_lanes(&self, at: &LanePosition, forward: bool) -> Vec<LaneStep> {
        let Some(&road_index) = self.road_index.get(&at.road) else {
            return Vec::new();
        };
        let road = &self.roads[road_index];
        let Some(section_index) = section_for(road, at.s, forward, at.lane) else {
            return Vec::new();
        };
        let section = &road.lane_sections[section_index];
        let Some(lane) = section.lane(at.lane) else {
            return Vec::new();
        };
        let mut steps = Vec::new();
        // Within the road: the next or previous lane section.
        let neighbour = if forward {
            section_index
                .checked_add(1)
                .filter(|&next| next < road.lane_sections.len())
        } else {
            section_index.checked_sub(1)
        };
        if let Some(next_index) = neighbour {
            let next = &road.lane_sections[next_index];
            let linked = if forward {
                lane.successor
            } else {
                lane.predecessor
            };
            // Files often leave out links between sections when the id stays the
            // same; take the same id then.
            let id = linked.or_else(|| next.lane(at.lane).map(|lane| lane.id));
            if let Some(id) = id.filter(|&id| id != 0 && next.lane(id).is_some()) {
                // Forward, the next section starts at its own s. Backward, the
                // previous section's end is the boundary, which by the section
                // look-up rule (last section starting at or before s) belongs to
                // the section ahead; step a nanometre back into the previous one.
                let boundary = if forward {
                    next.s
                } else {
                    // At least a few ulps, so the step survives rounding at large s.
                    let step = BOUNDARY_STEP.max(section.s.abs() * 4.0 * f64::EPSILON);
                    (section.s - step).max(next.s)
                };
                steps.push(LaneStep {
                    position: LanePosition {
                        road: road.id.clone(),
                        lane: id,
                        s: boundary,
                        offset: at.offset,
                    },
                    forward,
                });
            }
            return steps;
        }
        let end = if forward {
            ContactPoint::End
        } else {
            ContactPoint::Start
        };
        let Some(link) = road.link(end) else {
            return steps;
        };
        let lane_link = if forward {
            lane.successor
        } else {
            lane.predecessor
        };
        match link.element_type {
            ElementType::Road => {
                let Some(next) = self.road(&link.element_id) else {
                    return steps;
                };
                let contact = link
                    .contact_point
                    .unwrap_or_else(|| infer_contact(next, &road.id));
                // Without a lane link, continue in the lane with the same id when
                // the roads meet start-to-end (same direction), and the mirrored id
                // when they meet end-to-end or start-to-start.
                let same_direction = (end == ContactPoint::End) == (contact == ContactPoint::Start);
                let id = lane_link.unwrap_or(if same_direction {
                    at.lane
                } else {
                    at.lane.saturating_neg()
                });
                if let Some(step) = entry_step(next, contact, id, at.offset) {
                    steps.push(step);
                }
            }
            ElementType::Junction => {
                let Some(junction) = self.junction(&link.element_id) else {
                    return steps;
                };
                // Connecting roads whose own lane links lead back into this lane
                // give the continuations against the junction's direction
                // (connections list only the lanes that enter the junction).
                for connection in &junction.connections {
                    let Some(connecting) = self.road(&connection.connecting_road) else {
                        continue;
                    };
                    for connecting_end in [ContactPoint::Start, ContactPoint::End] {
                        let Some(back) = connecting.link(connecting_end) else {
                            continue;
                        };
                        let touches = back.element_type == ElementType::Road
                            && back.element_id == road.id
                            && back.contact_point.is_none_or(|point| point == end);
                        if !touches {
                            continue;
                        }
                        let section = match connecting_end {
                            ContactPoint::Start => connecting.lane_sections.first(),
                            ContactPoint::End => connecting.lane_sections.last(),
                        };
                        for candidate in section.map_or(&[][..], |section| &section.lanes[..]) {
                            let link = match connecting_end {
                                ContactPoint::Start => candidate.predecessor,
                                ContactPoint::End => candidate.successor,
                            };
                            if candidate.id != 0
                                && link == Some(at.lane)
                                && let Some(step) =
                                    entry_step(connecting, connecting_end, candidate.id, at.offset)
                                && !steps.contains(&step)
                            {
                                steps.push(step);
                            }
                        }
                    }
                }
                // Direct junctions (OpenDRIVE 1.7) link roads without a
                // connecting road: against their direction, go from the linked
                // road back into the incoming road's lane.
                for connection in &junction.connections {
                    if connection.connecting_road != road.id || connection.contact_point != end {
                        continue;
                    }
                    let Some(incoming) = self.road(&connection.incoming_road) else {
                        continue;
                    };
                    let touches = |link: Option<&crate::road::RoadLink>| {
                        link.is_some_and(|link| {
                            link.element_type == ElementType::Junction
                                && link.element_id == junction.id
                        })
                    };
                    let incoming_end = if touches(incoming.successor.as_ref()) {
                        ContactPoint::End
                    } else if touches(incoming.predecessor.as_ref()) {
                        ContactPoint::Start
                    } else {
                        continue;
                    };
                    for lane_link in connection
                        .lane_links
                        .iter()
                        .filter(|link| link.to == at.lane)
                    {
                        if let Some(step) =
                            entry_step(incoming, incoming_end, lane_link.from, at.offset)
                            && !steps.contains(&step)
                        {
                            steps.push(step);
                        }
                    }
                }
                for connection in &junction.connections {
                    if connection.incoming_road != road.id {
                        continue;
                    }
                    let Some(connecting) = self.road(&connection.connecting_road) else {
                        continue;
                    };
                    // A road may touch the same junction with both ends; keep only
                    // connections whose connecting road attaches to this end.
                    if let Some(back) = connecting.link(connection.contact_point)
                        && back.element_type == ElementType::Road
                        && back.element_id == road.id
                        && back.contact_point.is_some_and(|point| point != end)
                    {
                        continue;
                    }
                    for lane_link in &connection.lane_links {
                        if lane_link.from != at.lane {
                            continue;
                        }
                        if let Some(step) = entry_step(
                            connecting,
                            connection.contact_point,
                            lane_link.to,
                            at.offset,
                        ) && !steps.contains(&step)
                        {
                            steps.push(step);
                        }
                    }
                }
            }
        }
        steps
    }

    /// A route from `from` to `to` along lanes in their driving direction: the
    /// list of (road, lane) steps with the s where each is entered, ending with
    /// `to` (round a loop when `to` lies behind `from` on a closed road). Lane changes to a neighbouring driving lane of the same direction are
    /// allowed at a small cost; the route is the shortest by driven distance.
    pub fn route(&self, from: &LanePosition, to: &LanePosition) -> Option<Vec<LanePosition>> {
        let start_road = self.road(&from.road)?;
        let goal_road = self.road(&to.road)?;
        start_road.lane_section(from.s)?.lane(from.lane)?;
        goal_road.lane_section(to.s)?.lane(to.lane)?;
        let forward = start_road.lane_runs_forward(from.lane);
        // SearchState: (road, section, lane, forward, still on the starting
        // stretch); value: best cost and entry s. The last flag lets a route
        // come back round a loop into the section it started in, as a new state.
        let start_state: SearchState = (
            self.road_index[&from.road],
            start_road.lane_section_index(from.s)?,
            from.lane,
            forward,
            true,
        );
        let goal_road_index = self.road_index[&to.road];
        let goal_section = goal_road.lane_section_index(to.s)?;
        let mut best: HashMap<SearchState, (f64, f64)> = HashMap::new();
        let mut previous: HashMap<SearchState, SearchState> = HashMap::new();
        let mut heap = BinaryHeap::new();
        best.insert(start_state, (0.0, from.s));
        heap.push(Queued(0.0, start_state));
        let mut expanded = 0usize;
        while let Some(Queued(cost, state)) = heap.pop() {
            let (road_index, section_index, lane, forward, starting) = state;
            let Some(&(known, entry_s)) = best.get(&state) else {
                continue;
            };
            if cost > known {
                continue;
            }
            expanded += 1;
            if expanded > MAX_ROUTE_STATES {
                return None;
            }
            let road = &self.roads[road_index];
            // Reached: the goal lane in the goal section, ahead of the entry.
            let goal_section_ok = road_index == goal_road_index
                && (section_index == goal_section
                    || (to.s - road.lane_sections[section_index].s).abs() < 1e-9);
            if goal_section_ok && lane == to.lane {
                let ahead = if forward {
                    to.s >= entry_s - 1e-9
                } else {
                    to.s <= entry_s + 1e-9
                };
                if ahead {
                    return Some(self.trace(state, &previous, &best, to));
                }
            }
            let section = &road.lane_sections[section_index];
            // Lane changes.
            for neighbour in [lane.saturating_sub(1), lane.saturating_add(1)] {
                if neighbour == 0 || neighbour.signum() != lane.signum() {
                    continue;
                }
                let Some(candidate) = section.lane(neighbour) else {
                    continue;
                };
                if !candidate.is_driving() || road.lane_runs_forward(neighbour) != forward {
                    continue;
                }
                let next_state = (road_index, section_index, neighbour, forward, starting);
                relax(
                    &mut best,
                    &mut previous,
                    &mut heap,
                    state,
                    next_state,
                    cost + LANE_CHANGE_COST,
                    entry_s,
                );
            }
            // Driving to the end of the section and on.
            let exit_s = if forward {
                road.lane_sections
                    .get(section_index + 1)
                    .map_or(road.length, |next| next.s)
            } else {
                section.s
            };
            let driven = (exit_s - entry_s).abs();
            let here = LanePosition {
                road: road.id.clone(),
                lane,
                s: entry_s,
                offset: 0.0,
            };
            for step in self.next_lanes_from_section(&here, section_index, forward) {
                let Some(&next_road) = self.road_index.get(&step.position.road) else {
                    continue;
                };
                let next_road_ref = &self.roads[next_road];
                let Some(next_section) = next_road_ref.lane_section_index(step.position.s) else {
                    continue;
                };
                let next_state = (
                    next_road,
                    next_section,
                    step.position.lane,
                    step.forward,
                    false,
                );
                relax(
                    &mut best,
                    &mut previous,
                    &mut heap,
                    state,
                    next_state,
                    cost + driven,
                    step.position.s,
                );
            }
        }
        None
    }

    /// `next_lanes` for a position known to lie in section `section_index`.
    fn next_lanes_from_section(
        &self,
        at: &LanePosition,
        section_index: usize,
        forward: bool,
    ) -> Vec<LaneStep> {
        let Some(road) = self.road(&at.road) else {
            return Vec::new();
        };
        // Place s strictly inside the section so `next_lanes` picks this section.
        let section = &road.lane_sections[section_index];
        let end = road
            .lane_sections
            .get(section_index + 1)
            .map_or(road.length, |next| next.s);
        let inside = LanePosition {
            s: 0.5 * (section.s + end),
            ..at.clone()
        };
        self.next_lanes(&inside, forward)
    }

    fn trace(
        &self,
        goal: SearchState,
        previous: &HashMap<SearchState, SearchState>,
        best: &HashMap<SearchState, (f64, f64)>,
        to: &LanePosition,
    ) -> Vec<LanePosition> {
        let mut states = vec![goal];
        let mut current = goal;
        // The chain is acyclic (Dijkstra's predecessor tree) and no longer than
        // the number of states expanded.
        while let Some(&before) = previous.get(&current) {
            states.push(before);
            current = before;
            if states.len() > MAX_ROUTE_STATES {
                break;
            }
        }
        states.reverse();
        let mut steps: Vec<LanePosition> = Vec::new();
        let mut last_starting = None;
        for state in &states {
            let (road_index, _, lane, _, starting) = *state;
            let road = &self.roads[road_index];
            // Lane sections of one lane merge into one step; coming back round a
            // loop onto the starting lane does not.
            let same_stretch = last_starting == Some(starting);
            last_starting = Some(starting);
            if same_stretch
                && steps
                    .last()
                    .is_some_and(|last| last.road == road.id && last.lane == lane)
            {
                continue;
            }
            steps.push(LanePosition {
                road: road.id.clone(),
                lane,
                s: best.get(state).map_or(0.0, |(_, s)| *s),
                offset: 0.0,
            });
        }
        steps.push(to.clone());
        steps
    }
}

/// A route search state: (road index, lane section index, lane id, travelling
/// +s, still on the stretch where the route started).
type SearchState = (usize, usize, i32, bool, bool);

#[derive(PartialEq)]
struct Queued(f64, SearchState);

impl Eq for Queued {}

impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Queued {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap and the cheapest state goes first.
        other
            .0
            .total_cmp(&self.0)
            .then_with(|| other.1.cmp(&self.1))
    }
}

fn relax(
    best: &mut HashMap<SearchState, (f64, f64)>,
    previous: &mut HashMap<SearchState, SearchState>,
    heap: &mut BinaryHeap<Queued>,
    from: SearchState,
    to: SearchState,
    cost: f64,
    entry_s: f64,
) {
    let improves = best.get(&to).is_none_or(|(known, _)| cost < *known);
    if improves {
        best.insert(to, (cost, entry_s));
        previous.insert(to, from);
        heap.push(Queued(cost, to));
    }
}

/// The lane section a traveller at `s` is leaving when it moves on: at a section
/// boundary, the section ending there when going forward and the one starting
/// there when going backward, unless `lane` exists only in the other one.
fn section_for(road: &Road, s: f64, forward: bool, lane: i32) -> Option<usize> {
    let index = road.lane_section_index(s)?;
    let at_boundary = index > 0 && (road.lane_sections[index].s - s).abs() < 1e-9;
    if !at_boundary {
        return Some(index);
    }
    let (preferred, other) = if forward {
        (index - 1, index)
    } else {
        (index, index - 1)
    };
    let has = |section: usize| road.lane_sections[section].lane(lane).is_some();
    if !has(preferred) && has(other) {
        Some(other)
    } else {
        Some(preferred)
    }
}

/// Which end of `road` links back to road `from` (start when it cannot be told).
fn infer_contact(road: &Road, from: &str) -> ContactPoint {
    let points_back = |link: Option<&crate::road::RoadLink>| {
        link.is_some_and(|link| link.element_type == ElementType::Road && link.element_id == from)
    };
    if !points_back(road.predecessor.as_ref()) && points_back(road.successor.as_ref()) {
        ContactPoint::End
    } else {
        ContactPoint::Start
    }
}

/// Entering `road` at `contact` in lane `lane`.
fn entry_step(road: &Road, contact: ContactPoint, lane: i32, offset: f64) -> Option<LaneStep> {
    if lane == 0 {
        return None;
    }
    let (s, forward) = match contact {
        ContactPoint::Start => (0.0, true),
        ContactPoint::End => (road.length, false),
    };
    let section = road.lane_section_index(s)?;
    road.lane_sections[section].lane(lane)?;
    Some(LaneStep {
        position: LanePosition {
            road: road.id.clone(),
            lane,
            s,
            offset,
        },
        forward,
    })
}

/// t of the centre of lane `lane` at `s`.
pub(crate) fn lane_center_t(road: &Road, lane: i32, s: f64) -> Option<f64> {
    let (inner, outer) = road.lane_border_t(lane, s)?;
    Some(0.5 * (inner + outer))
}

/// World pose at (s, t) on `road`; `s` already clamped.
pub(crate) fn pose_on(road: &Road, s: f64, t: f64) -> Pose {
    let Some(point) = road.reference_point(s) else {
        // A road always has geometry (checked by the parser); stay total anyway.
        return Pose {
            x: 0.0,
            y: 0.0,
            z: 0.0,
            heading: 0.0,
            pitch: 0.0,
            roll: 0.0,
        };
    };
    let (sin, cos) = point.heading.sin_cos();
    let roll = profile_value(&road.superelevation, s);
    // The surface's slope along s at t: the elevation's plus the change of
    // the banked height t·sin(roll) when the bank changes along the road.
    let slope =
        profile_slope(&road.elevation, s) + t * roll.cos() * profile_slope(&road.superelevation, s);
    // The t axis lies in the road surface, tilted by the superelevation: t
    // metres across a banked road are t·cos(roll) across and t·sin(roll) up.
    let (roll_sin, roll_cos) = roll.sin_cos();
    let across = t * roll_cos;
    Pose {
        x: point.x - across * sin,
        y: point.y + across * cos,
        z: road.elevation_at(s) + t * roll_sin,
        heading: point.heading,
        pitch: -slope.atan(),
        roll,
    }
}

/// Samples per bounding box in [`RoadSamples`]: small enough to skip most of a
/// long road, large enough that the boxes cost little to test.
const SAMPLES_PER_CHUNK: usize = 32;

/// Slack (m) added to lower bounds for the curve bulging out of its samples'
/// bounding box between samples (at most a sagitta of step²·κ/8).
const BOUND_SLACK_M: f64 = 1.0;

/// Reference-line samples of one road for nearest-point search, with bounding
/// boxes (whole road and per chunk) and the largest |t| any lane border reaches,
/// which together bound from below how far a point is from the road's lanes.
#[derive(Debug, Clone)]
struct RoadSamples {
    /// (s, x, y).
    points: Vec<(f64, f64, f64)>,
    /// [min x, min y, max x, max y] of all points.
    bounds: [f64; 4],
    /// Bounds of each run of [`SAMPLES_PER_CHUNK`] points (overlapping by one).
    chunks: Vec<[f64; 4]>,
    /// Largest |t| of any lane border at the samples, m.
    extent: f64,
}

fn bounds_of(points: &[(f64, f64, f64)]) -> [f64; 4] {
    points.iter().fold(
        [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ],
        |[min_x, min_y, max_x, max_y], &(_, x, y)| {
            [min_x.min(x), min_y.min(y), max_x.max(x), max_y.max(y)]
        },
    )
}

impl RoadSamples {
    fn new(road: &Road, max_samples: usize) -> RoadSamples {
        let steps = ((road.length / SAMPLE_STEP).ceil() as usize).clamp(1, max_samples);
        let mut extent: f64 = 0.0;
        let points: Vec<(f64, f64, f64)> = (0..=steps)
            .filter_map(|step| {
                let s = road.length * step as f64 / steps as f64;
                if let Some(section) = road.lane_section(s) {
                    for id in [section.lanes.first(), section.lanes.last()]
                        .into_iter()
                        .flatten()
                        .map(|lane| lane.id)
                    {
                        if let Some((inner, outer)) = road.lane_border_t(id, s) {
                            extent = extent.max(inner.abs()).max(outer.abs());
                        }
                    }
                }
                extent = extent.max(road.lane_offset_at(s).abs());
                road.reference_point(s).map(|point| (s, point.x, point.y))
            })
            .collect();
        let chunks = points
            .chunks(SAMPLES_PER_CHUNK)
            .enumerate()
            .map(|(index, chunk)| {
                // Include the next chunk's first point so the curve between
                // chunks is covered too.
                let end = ((index + 1) * SAMPLES_PER_CHUNK).min(points.len() - 1);
                let mut bounds = bounds_of(chunk);
                let [x, y] = [points[end].1, points[end].2];
                bounds = [
                    bounds[0].min(x),
                    bounds[1].min(y),
                    bounds[2].max(x),
                    bounds[3].max(y),
                ];
                bounds
            })
            .collect();
        RoadSamples {
            bounds: bounds_of(&points),
            points,
            chunks,
            extent: if extent.is_finite() {
                extent
            } else {
                f64::INFINITY
            },
        }
    }

    /// A lower bound of how far (x, y) lies outside this road's lanes, using the
    /// samples inside `bounds`.
    fn lower_bound(&self, bounds: &[f64; 4], x: f64, y: f64) -> f64 {
        let dx = (bounds[0] - x).max(x - bounds[2]).max(0.0);
        let dy = (bounds[1] - y).max(y - bounds[3]).max(0.0);
        dx.hypot(dy) - self.extent - BOUND_SLACK_M
    }
}

/// Candidate projections (s, t, distance, distance beyond the road's ends) of
/// (x, y) onto a road's reference line: one per local minimum of the sampled
/// distance (at most a few), each refined with Newton steps on (P − R(s))·T(s) = 0.
/// Chunks of samples whose lanes cannot come within `score_bound` of the point
/// are skipped.
fn project(
    road: &Road,
    samples: &RoadSamples,
    x: f64,
    y: f64,
    score_bound: f64,
    use_distance_bound: bool,
) -> Vec<(f64, f64, f64, f64)> {
    // A road that winds back past a point several times has several local minima;
    // a handful covers real roads (loops, hairpins) while bounding the work.
    const MAX_CANDIDATES: usize = 4;
    // Without a height to match, the nearest sample's distance bounds the best
    // score from above (a point is never further outside the lanes than from
    // the reference line), so chunks that cannot beat it are skipped too.
    let score_bound = if use_distance_bound {
        samples
            .points
            .iter()
            .step_by(SAMPLES_PER_CHUNK)
            .map(|&(_, sample_x, sample_y)| (sample_x - x).hypot(sample_y - y))
            .fold(score_bound, f64::min)
    } else {
        score_bound
    };
    let mut distances = vec![f64::INFINITY; samples.points.len()];
    for (chunk, bounds) in samples.chunks.iter().enumerate() {
        if samples.lower_bound(bounds, x, y) > score_bound {
            continue;
        }
        let start = chunk * SAMPLES_PER_CHUNK;
        let end = (start + SAMPLES_PER_CHUNK).min(samples.points.len());
        for (distance, &(_, sample_x, sample_y)) in distances[start..end]
            .iter_mut()
            .zip(&samples.points[start..end])
        {
            *distance = (sample_x - x).hypot(sample_y - y);
        }
    }
    let mut minima: Vec<usize> = (0..distances.len())
        .filter(|&index| {
            let left = index.checked_sub(1).map_or(f64::INFINITY, |i| distances[i]);
            let right = distances.get(index + 1).copied().unwrap_or(f64::INFINITY);
            distances[index].is_finite() && distances[index] <= left && distances[index] <= right
        })
        .collect();
    minima.sort_by(|&a, &b| distances[a].total_cmp(&distances[b]));
    minima.truncate(MAX_CANDIDATES);
    let samples = &samples.points;
    let step = samples.get(1).map_or(road.length, |sample| sample.0);
    minima
        .into_iter()
        .filter_map(|index| {
            let mut s = samples[index].0;
            let low = (s - step).max(0.0);
            let high = (s + step).min(road.length);
            for _ in 0..8 {
                let point = road.reference_point(s)?;
                let (sin, cos) = point.heading.sin_cos();
                let (dx, dy) = (x - point.x, y - point.y);
                let along = dx * cos + dy * sin;
                let across = -dx * sin + dy * cos;
                // d/ds of (P − R)·T is −(1 − κ·t); guard the denominator.
                let denominator = (1.0 - point.curvature * across).max(0.1);
                let next = (s + along / denominator).max(low).min(high);
                if (next - s).abs() < 1e-10 {
                    s = next;
                    break;
                }
                s = next;
            }
            let point = road.reference_point(s)?;
            let (sin, cos) = point.heading.sin_cos();
            let (dx, dy) = (x - point.x, y - point.y);
            // Horizontal distance across the road, turned into t along the
            // banked surface (cos(roll) is far from 0 on any drivable bank).
            let roll_cos = profile_value(&road.superelevation, s).cos();
            let t = (-dx * sin + dy * cos) / roll_cos.abs().max(1e-3).copysign(roll_cos);
            // Beyond either end of the road the point is off the road by the
            // along-track remainder, which the caller adds to its score.
            let along = (dx * cos + dy * sin).abs();
            let beyond = if s <= 1e-9 || s >= road.length - 1e-9 {
                along
            } else {
                0.0
            };
            Some((s, t, dx.hypot(dy), beyond))
        })
        .collect()
}

/// The lane at (s, t) on `road`: (lane id, distance outside it, lane centre t).
fn lane_at(road: &Road, s: f64, t: f64) -> Option<(i32, f64, f64)> {
    let section = road.lane_section(s)?;
    let mut best: Option<(i32, f64, f64)> = None;
    for lane in &section.lanes {
        if lane.id == 0 {
            continue;
        }
        let Some((inner, outer)) = road.lane_border_t(lane.id, s) else {
            continue;
        };
        let (low, high) = if inner <= outer {
            (inner, outer)
        } else {
            (outer, inner)
        };
        let outside = if t < low {
            low - t
        } else if t > high {
            t - high
        } else {
            0.0
        };
        if best.is_none_or(|(_, known, _)| outside < known) {
            best = Some((lane.id, outside, 0.5 * (inner + outer)));
        }
    }
    best
}
