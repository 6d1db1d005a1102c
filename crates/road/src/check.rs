//! Consistency checks of a parsed network that the XML reader cannot make alone:
//! links and junction connections naming roads, junctions and lanes that exist,
//! geometry records that follow each other in s and in space, lane sections
//! inside their road. They are reported all at once as [`Problem`]s, not as
//! errors: real files often carry small inconsistencies that the rest of the
//! crate tolerates, and a user should see them all.

use crate::network::Network;
use crate::road::{ContactPoint, ElementType, Road};

/// Largest gap (m) between a geometry record's end and the next one's start, and
/// between the records' total length and the road's, accepted without comment.
pub const GEOMETRY_GAP_TOLERANCE_M: f64 = 0.01;

/// One inconsistency found by [`Network::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: `road 3`, `junction 10`, `road 3 lane -1`, …
    pub at: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

fn end_section(road: &Road, end: ContactPoint) -> Option<&crate::road::LaneSection> {
    match end {
        ContactPoint::Start => road.lane_sections.first(),
        ContactPoint::End => road.lane_sections.last(),
    }
}

impl Network {
    /// Every inconsistency between the network's parts (see the module docs).
    /// Empty for a clean network.
    pub fn check(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut report = |at: String, message: String| problems.push(Problem { at, message });
        for road in self.roads() {
            let at = format!("road {}", road.id);
            // Geometry records in s and in space.
            for pair in road.geometry.windows(2) {
                let end_s = pair[0].s + pair[0].length;
                if (end_s - pair[1].s).abs() > GEOMETRY_GAP_TOLERANCE_M {
                    report(
                        at.clone(),
                        format!(
                            "geometry at s = {} ends at s = {end_s}, but the next starts at s = {}",
                            pair[0].s, pair[1].s
                        ),
                    );
                    continue;
                }
                let end = pair[0].point(pair[0].length);
                let gap = (end.x - pair[1].x).hypot(end.y - pair[1].y);
                if gap > GEOMETRY_GAP_TOLERANCE_M {
                    report(
                        at.clone(),
                        format!(
                            "geometry at s = {} ends {gap:.3} m away from where the next one starts",
                            pair[0].s
                        ),
                    );
                }
            }
            if let Some(last) = road.geometry.last() {
                let covered = last.s + last.length;
                if (covered - road.length).abs() > GEOMETRY_GAP_TOLERANCE_M {
                    report(
                        at.clone(),
                        format!(
                            "geometry covers s up to {covered}, the road's length is {}",
                            road.length
                        ),
                    );
                }
            }
            if road.lane_sections.is_empty() {
                report(
                    at.clone(),
                    "no lane section; OpenDRIVE requires at least one".into(),
                );
            }
            for section in &road.lane_sections {
                if section.s < -GEOMETRY_GAP_TOLERANCE_M
                    || section.s > road.length + GEOMETRY_GAP_TOLERANCE_M
                {
                    report(
                        at.clone(),
                        format!(
                            "lane section at s = {} lies outside 0..={}",
                            section.s, road.length
                        ),
                    );
                }
            }
            // Road links.
            for end in [ContactPoint::Start, ContactPoint::End] {
                let Some(link) = road.link(end) else { continue };
                match link.element_type {
                    ElementType::Road => {
                        let Some(other) = self.road(&link.element_id) else {
                            report(
                                at.clone(),
                                format!(
                                    "links to road {:?}, which does not exist",
                                    link.element_id
                                ),
                            );
                            continue;
                        };
                        // Lane links across the road link.
                        let (Some(section), Some(contact)) =
                            (end_section(road, end), link.contact_point)
                        else {
                            continue;
                        };
                        let Some(other_section) = end_section(other, contact) else {
                            continue;
                        };
                        for lane in &section.lanes {
                            let linked = match end {
                                ContactPoint::Start => lane.predecessor,
                                ContactPoint::End => lane.successor,
                            };
                            if let Some(id) = linked
                                && other_section.lane(id).is_none()
                            {
                                report(
                                    format!("{at} lane {}", lane.id),
                                    format!(
                                        "links to lane {id} of road {}, which has no such lane at that end",
                                        other.id
                                    ),
                                );
                            }
                        }
                    }
                    ElementType::Junction => {
                        if self.junction(&link.element_id).is_none() {
                            report(
                                at.clone(),
                                format!(
                                    "links to junction {:?}, which does not exist",
                                    link.element_id
                                ),
                            );
                        }
                    }
                }
            }
            // Lane links between the road's own lane sections.
            for pair in road.lane_sections.windows(2) {
                for lane in &pair[0].lanes {
                    if let Some(id) = lane.successor
                        && pair[1].lane(id).is_none()
                    {
                        report(
                            format!("{at} lane {}", lane.id),
                            format!(
                                "successor lane {id} does not exist in the lane section at s = {}",
                                pair[1].s
                            ),
                        );
                    }
                }
                for lane in &pair[1].lanes {
                    if let Some(id) = lane.predecessor
                        && pair[0].lane(id).is_none()
                    {
                        report(
                            format!("{at} lane {}", lane.id),
                            format!(
                                "predecessor lane {id} does not exist in the lane section at s = {}",
                                pair[0].s
                            ),
                        );
                    }
                }
            }
        }
        for junction in self.junctions() {
            let at = format!("junction {}", junction.id);
            for connection in &junction.connections {
                let incoming = self.road(&connection.incoming_road);
                let connecting = self.road(&connection.connecting_road);
                if incoming.is_none() {
                    report(
                        at.clone(),
                        format!(
                            "connection {} names incoming road {:?}, which does not exist",
                            connection.id, connection.incoming_road
                        ),
                    );
                }
                let Some(connecting) = connecting else {
                    report(
                        at.clone(),
                        format!(
                            "connection {} names connecting road {:?}, which does not exist",
                            connection.id, connection.connecting_road
                        ),
                    );
                    continue;
                };
                let Some(section) = end_section(connecting, connection.contact_point) else {
                    continue;
                };
                for lane_link in &connection.lane_links {
                    if section.lane(lane_link.to).is_none() {
                        report(
                            at.clone(),
                            format!(
                                "connection {} links to lane {} of road {}, which has no such lane at its {:?}",
                                connection.id,
                                lane_link.to,
                                connecting.id,
                                connection.contact_point
                            ),
                        );
                    }
                    let from_exists = incoming.is_some_and(|incoming| {
                        incoming
                            .lane_sections
                            .iter()
                            .any(|section| section.lane(lane_link.from).is_some())
                    });
                    if incoming.is_some() && !from_exists {
                        report(
                            at.clone(),
                            format!(
                                "connection {} links from lane {} of road {}, which has no such lane",
                                connection.id, lane_link.from, connection.incoming_road
                            ),
                        );
                    }
                }
            }
        }
        problems
    }
}
