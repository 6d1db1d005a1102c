//! The parsed road network's data: roads with their reference-line geometry,
//! elevation, superelevation and lane-offset profiles, lane sections with lanes,
//! widths and road marks, road links, and junctions with their connections. The
//! evaluation of a single road (reference line at s, lane borders at s) lives here
//! too; queries across roads live in `network.rs`.

use crate::geometry::{Geometry, LinePoint};

/// A cubic `a + b·ds + c·ds² + d·ds³` valid from `s` on, with `ds` measured from `s`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cubic {
    /// Start of validity (s, or sOffset within a lane section).
    pub s: f64,
    /// a, b, c, d.
    pub coefficients: [f64; 4],
}

impl Cubic {
    /// Value at `s` (absolute, in the same frame as `self.s`).
    pub fn value(&self, s: f64) -> f64 {
        let ds = s - self.s;
        let [a, b, c, d] = self.coefficients;
        a + ds * (b + ds * (c + ds * d))
    }

    /// First derivative at `s`.
    pub fn slope(&self, s: f64) -> f64 {
        let ds = s - self.s;
        let [_, b, c, d] = self.coefficients;
        b + ds * (2.0 * c + ds * 3.0 * d)
    }
}

/// The record of a piecewise cubic profile in force at `s`: the last one starting
/// at or before `s` (the first one before any start).
pub(crate) fn profile_at(profile: &[Cubic], s: f64) -> Option<&Cubic> {
    let index = profile.partition_point(|cubic| cubic.s <= s);
    profile.get(index.saturating_sub(1))
}

/// Value of a piecewise cubic profile at `s`; 0 where none is defined.
pub(crate) fn profile_value(profile: &[Cubic], s: f64) -> f64 {
    profile_at(profile, s).map_or(0.0, |cubic| cubic.value(s))
}

/// Slope of a piecewise cubic profile at `s`; 0 where none is defined.
pub(crate) fn profile_slope(profile: &[Cubic], s: f64) -> f64 {
    profile_at(profile, s).map_or(0.0, |cubic| cubic.slope(s))
}

/// What a road link points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElementType {
    /// Another road.
    Road,
    /// A junction.
    Junction,
}

/// Which end of a road a link attaches to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactPoint {
    /// s = 0.
    Start,
    /// s = length.
    End,
}

/// A road's `<predecessor>` or `<successor>`.
#[derive(Debug, Clone, PartialEq)]
pub struct RoadLink {
    /// Road or junction.
    pub element_type: ElementType,
    /// Its id.
    pub element_id: String,
    /// For a road: which end of it touches this road.
    pub contact_point: Option<ContactPoint>,
}

/// Traffic rule of a road: which side vehicles drive on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrafficRule {
    /// Right-hand traffic (the default): right lanes (negative ids) run along +s.
    RightHand,
    /// Left-hand traffic: left lanes (positive ids) run along +s.
    LeftHand,
}

/// A road `<type>` record: the kind of road from `s` on and its speed limit.
#[derive(Debug, Clone, PartialEq)]
pub struct RoadType {
    /// Start s.
    pub s: f64,
    /// `motorway`, `rural`, `town`, …
    pub road_type: String,
    /// Speed limit from `<speed max>`, in `speed_unit`; None when absent,
    /// `no limit` or `undefined`.
    pub speed_max: Option<f64>,
    /// Unit of the limit (`m/s`, `km/h`, `mph`).
    pub speed_unit: Option<String>,
}

/// A `<roadMark>` of a lane (parsed; used by the mesh).
#[derive(Debug, Clone, PartialEq)]
pub struct RoadMark {
    /// Start, relative to the lane section's s.
    pub s_offset: f64,
    /// `solid`, `broken`, `solid solid`, `none`, …
    pub mark_type: String,
    /// `standard` or `bold`.
    pub weight: Option<String>,
    /// `standard`, `white`, `yellow`, …
    pub color: Option<String>,
    /// Width in m.
    pub width: Option<f64>,
    /// Height in m.
    pub height: Option<f64>,
    /// `increase`, `decrease`, `both`, `none`.
    pub lane_change: Option<String>,
}

/// A lane's `<speed>` record.
#[derive(Debug, Clone, PartialEq)]
pub struct LaneSpeed {
    /// Start, relative to the lane section's s.
    pub s_offset: f64,
    /// Maximum speed in the unit given.
    pub max: f64,
    /// Unit (`m/s`, `km/h`, `mph`); m/s when absent.
    pub unit: Option<String>,
}

/// One lane of a lane section.
#[derive(Debug, Clone, PartialEq)]
pub struct Lane {
    /// OpenDRIVE id: positive left of the reference line, negative right, 0 centre.
    pub id: i32,
    /// `driving`, `sidewalk`, `shoulder`, `border`, `none`, …
    pub lane_type: String,
    /// Kept level (no superelevation).
    pub level: bool,
    /// Width polynomials, `s` relative to the lane section start.
    pub widths: Vec<Cubic>,
    /// Outer-border polynomials (used when no width is given).
    pub borders: Vec<Cubic>,
    /// Road marks.
    pub road_marks: Vec<RoadMark>,
    /// Speed limits.
    pub speeds: Vec<LaneSpeed>,
    /// Lane id this lane continues from in the previous section/road.
    pub predecessor: Option<i32>,
    /// Lane id this lane continues into in the next section/road.
    pub successor: Option<i32>,
}

impl Lane {
    /// Whether vehicles may drive in this lane.
    pub fn is_driving(&self) -> bool {
        matches!(
            self.lane_type.as_str(),
            "driving"
                | "entry"
                | "exit"
                | "onRamp"
                | "offRamp"
                | "connectingRamp"
                | "bidirectional"
                | "slipLane"
        )
    }
}

/// A `<laneSection>`: lanes valid from `s` to the next section.
#[derive(Debug, Clone, PartialEq)]
pub struct LaneSection {
    /// Start s on the road.
    pub s: f64,
    /// `singleSide` flag.
    pub single_side: bool,
    /// All lanes sorted by id, left (positive) and right (negative) and centre (0).
    pub lanes: Vec<Lane>,
}

impl LaneSection {
    /// The lane with `id`.
    pub fn lane(&self, id: i32) -> Option<&Lane> {
        self.lanes
            .binary_search_by_key(&id, |lane| lane.id)
            .ok()
            .map(|index| &self.lanes[index])
    }

    /// Width of lane `id` at `ds` from the section start (0 for the centre lane).
    fn width(&self, lane: &Lane, ds: f64) -> f64 {
        profile_value(&lane.widths, ds)
    }

    /// The outer border of every lane on the side of `id` out to `id`, as
    /// |t| from the lane-offset line: (inner, outer) for lane `id` at `ds`.
    pub(crate) fn lane_borders(&self, id: i32, ds: f64) -> Option<(f64, f64)> {
        let lane = self.lane(id)?;
        if id == 0 {
            return Some((0.0, 0.0));
        }
        let step = id.signum();
        let mut inner = 0.0;
        let mut current = step;
        // Walk outward from the centre lane; lanes are contiguous per the spec,
        // and ids are bounded by the section's lane count.
        while current != id {
            match self.lane(current) {
                Some(between) => inner = self.outer_border(between, inner, ds),
                None => return None,
            }
            current += step;
        }
        let outer = self.outer_border(lane, inner, ds);
        Some((inner, outer))
    }

    /// |t| of a lane's outer border given its inner border: from `<border>` when
    /// the lane has no `<width>`, else inner + width.
    fn outer_border(&self, lane: &Lane, inner: f64, ds: f64) -> f64 {
        if lane.widths.is_empty() && !lane.borders.is_empty() {
            profile_value(&lane.borders, ds).abs()
        } else {
            inner + self.width(lane, ds)
        }
    }
}

/// A `<road>`.
#[derive(Debug, Clone)]
pub struct Road {
    /// Road id.
    pub id: String,
    /// Name, empty when absent.
    pub name: String,
    /// Length of the reference line, m.
    pub length: f64,
    /// The junction this road belongs to (None for `junction="-1"`).
    pub junction: Option<String>,
    /// Traffic rule.
    pub rule: TrafficRule,
    /// Road types with their speed limits, sorted by s.
    pub types: Vec<RoadType>,
    /// Link at s = 0.
    pub predecessor: Option<RoadLink>,
    /// Link at s = length.
    pub successor: Option<RoadLink>,
    /// Plan-view geometry, sorted by s.
    pub geometry: Vec<Geometry>,
    /// Elevation profile (z against s).
    pub elevation: Vec<Cubic>,
    /// Superelevation profile (roll angle, rad, against s).
    pub superelevation: Vec<Cubic>,
    /// Lane offset profile (t of the centre lane against s).
    pub lane_offset: Vec<Cubic>,
    /// Lane sections, sorted by s.
    pub lane_sections: Vec<LaneSection>,
}

impl Road {
    /// The reference-line point at `s`. Past the end of the last geometry record
    /// (a road whose `length` exceeds its records' total) the line continues
    /// straight along the last heading, so positions keep moving.
    pub fn reference_point(&self, s: f64) -> Option<LinePoint> {
        let index = self.geometry.partition_point(|geometry| geometry.s <= s);
        let geometry = self.geometry.get(index.saturating_sub(1))?;
        let ds = s - geometry.s;
        let point = geometry.point(ds);
        let beyond = ds - geometry.length;
        if index == self.geometry.len() && beyond > 0.0 {
            let (sin, cos) = point.heading.sin_cos();
            return Some(LinePoint {
                x: point.x + beyond * cos,
                y: point.y + beyond * sin,
                heading: point.heading,
                curvature: 0.0,
            });
        }
        Some(point)
    }

    /// Index of the lane section in force at `s`.
    pub fn lane_section_index(&self, s: f64) -> Option<usize> {
        if self.lane_sections.is_empty() {
            return None;
        }
        let index = self.lane_sections.partition_point(|section| section.s <= s);
        Some(index.saturating_sub(1))
    }

    /// The lane section in force at `s`.
    pub fn lane_section(&self, s: f64) -> Option<&LaneSection> {
        self.lane_section_index(s)
            .map(|index| &self.lane_sections[index])
    }

    /// Lane offset (t of the centre lane) at `s`.
    pub fn lane_offset_at(&self, s: f64) -> f64 {
        profile_value(&self.lane_offset, s)
    }

    /// Elevation at `s`.
    pub fn elevation_at(&self, s: f64) -> f64 {
        profile_value(&self.elevation, s)
    }

    /// (inner t, outer t) of lane `id` at `s`, signed (negative on the right).
    /// Exactly at a lane-section boundary a lane that exists only in the section
    /// ending there is found too: a lane position at its section's end s is valid.
    pub fn lane_border_t(&self, id: i32, s: f64) -> Option<(f64, f64)> {
        let index = self.lane_section_index(s)?;
        self.lane_border_t_in_section(index, id, s).or_else(|| {
            let at_boundary = index > 0 && (self.lane_sections[index].s - s).abs() < 1e-9;
            if at_boundary {
                self.lane_border_t_in_section(index - 1, id, s)
            } else {
                None
            }
        })
    }

    /// Like [`Road::lane_border_t`] but in lane section `section` (by index),
    /// so that a section's own lanes can be evaluated at its end s, where
    /// [`Road::lane_section`] would already pick the next section.
    pub fn lane_border_t_in_section(&self, section: usize, id: i32, s: f64) -> Option<(f64, f64)> {
        let section_ref = self.lane_sections.get(section)?;
        let (inner, outer) = section_ref.lane_borders(id, s - section_ref.s)?;
        let sign = f64::from(id.signum());
        let offset = self.lane_offset_at(s);
        Some((offset + sign * inner, offset + sign * outer))
    }

    /// End s of lane section `section`: the next section's start or the road's end.
    pub fn lane_section_end(&self, section: usize) -> f64 {
        self.lane_sections
            .get(section + 1)
            .map_or(self.length, |next| next.s)
            .min(self.length)
    }

    /// The direction of travel of lane `id` along s: true for +s.
    pub fn lane_runs_forward(&self, id: i32) -> bool {
        match self.rule {
            TrafficRule::RightHand => id < 0,
            TrafficRule::LeftHand => id > 0,
        }
    }

    /// The other end of this road's link at `end`.
    pub fn link(&self, end: ContactPoint) -> Option<&RoadLink> {
        match end {
            ContactPoint::Start => self.predecessor.as_ref(),
            ContactPoint::End => self.successor.as_ref(),
        }
    }
}

/// A `<laneLink>` of a junction connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaneLink {
    /// Lane on the incoming road.
    pub from: i32,
    /// Lane on the connecting road.
    pub to: i32,
}

/// A `<connection>` of a junction.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    /// Connection id.
    pub id: String,
    /// Road entering the junction.
    pub incoming_road: String,
    /// Road inside the junction that continues it.
    pub connecting_road: String,
    /// End of the connecting road that touches the incoming road.
    pub contact_point: ContactPoint,
    /// Lane links.
    pub lane_links: Vec<LaneLink>,
}

/// A `<junction>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Junction {
    /// Junction id.
    pub id: String,
    /// Name, empty when absent.
    pub name: String,
    /// `default`, `virtual`, `direct`, … (`default` when absent).
    pub junction_type: String,
    /// Connections.
    pub connections: Vec<Connection>,
}
