//! Turns the element tree of an OpenDRIVE document into [`Road`]s and
//! [`Junction`]s. Every attribute is checked (present when required, a finite
//! number where a number is due, one of the allowed words for enumerations) and
//! every problem is reported with its line, column and element path. Elements the
//! crate does not model are not silently dropped: their names are counted in
//! [`Ignored`], which `Network::ignored_elements` exposes.

use std::collections::BTreeMap;

use crate::error::{Location, RoadError};
use crate::geometry::{Geometry, ParamRange, Shape};
use crate::road::{
    Connection, ContactPoint, Cubic, ElementType, Junction, Lane, LaneLink, LaneSection, LaneSpeed,
    Road, RoadLink, RoadMark, RoadType, TrafficRule,
};
use crate::xml::Element;

/// Largest |lane id| accepted. Real roads have fewer than 20 lanes a side; the
/// bound keeps lane arithmetic far from integer overflow.
pub const MAX_LANE_ID: i32 = 10_000;

/// Most lanes accepted in one lane section. Real roads have fewer than 40; the
/// bound keeps per-lane work (borders are sums over the lanes inside) small on
/// hostile input.
pub const MAX_LANES_PER_SECTION: usize = 256;

/// Names of elements met but not modelled, as `parent/child`, with counts.
pub(crate) type Ignored = BTreeMap<String, usize>;

/// The OpenDRIVE `<header>` facts kept.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Header {
    /// `revMajor`.
    pub rev_major: Option<u32>,
    /// `revMinor`.
    pub rev_minor: Option<u32>,
    /// `name`.
    pub name: String,
    /// Text of `<geoReference>` (usually a PROJ string, often in CDATA), if any.
    pub geo_reference: Option<String>,
}

pub(crate) struct Parsed {
    pub(crate) header: Header,
    pub(crate) roads: Vec<Road>,
    pub(crate) junctions: Vec<Junction>,
    pub(crate) ignored: Ignored,
}

struct Reader<'a> {
    source: &'a str,
    ignored: Ignored,
}

impl<'a> Reader<'a> {
    fn at(&self, element: &Element, path: &str) -> Location {
        Location::new(self.source, element.offset, path.to_owned())
    }

    fn ignore(&mut self, parent: &str, child: &Element) {
        *self
            .ignored
            .entry(format!("{parent}/{}", child.name))
            .or_insert(0) += 1;
    }

    fn string(
        &self,
        element: &Element,
        path: &str,
        attribute: &'static str,
    ) -> Result<String, RoadError> {
        element
            .attribute(attribute)
            .map(str::to_owned)
            .ok_or_else(|| RoadError::MissingAttribute {
                at: self.at(element, path),
                attribute,
            })
    }

    fn number_from(
        &self,
        element: &Element,
        path: &str,
        attribute: &'static str,
        text: &str,
    ) -> Result<f64, RoadError> {
        match text.trim().parse::<f64>() {
            Ok(value) if value.is_finite() => Ok(value),
            _ => Err(RoadError::InvalidAttribute {
                at: self.at(element, path),
                attribute,
                value: text.to_owned(),
                expected: "a finite decimal number",
            }),
        }
    }

    fn number(
        &self,
        element: &Element,
        path: &str,
        attribute: &'static str,
    ) -> Result<f64, RoadError> {
        let text = element
            .attribute(attribute)
            .ok_or_else(|| RoadError::MissingAttribute {
                at: self.at(element, path),
                attribute,
            })?;
        self.number_from(element, path, attribute, text)
    }

    fn optional_number(
        &self,
        element: &Element,
        path: &str,
        attribute: &'static str,
    ) -> Result<Option<f64>, RoadError> {
        element
            .attribute(attribute)
            .map(|text| self.number_from(element, path, attribute, text))
            .transpose()
    }

    fn non_negative(
        &self,
        element: &Element,
        path: &str,
        attribute: &'static str,
    ) -> Result<f64, RoadError> {
        let value = self.number(element, path, attribute)?;
        if value < 0.0 {
            return Err(RoadError::InvalidAttribute {
                at: self.at(element, path),
                attribute,
                value: value.to_string(),
                expected: "a number ≥ 0",
            });
        }
        Ok(value)
    }

    fn integer(
        &self,
        element: &Element,
        path: &str,
        attribute: &'static str,
    ) -> Result<i32, RoadError> {
        let text = element
            .attribute(attribute)
            .ok_or_else(|| RoadError::MissingAttribute {
                at: self.at(element, path),
                attribute,
            })?;
        self.integer_from(element, path, attribute, text)
    }

    fn integer_from(
        &self,
        element: &Element,
        path: &str,
        attribute: &'static str,
        text: &str,
    ) -> Result<i32, RoadError> {
        let trimmed = text.trim();
        // Some writers emit lane ids as "-1.0"; accept whole-number decimals.
        trimmed
            .parse::<i32>()
            .ok()
            .or_else(|| {
                trimmed
                    .parse::<f64>()
                    .ok()
                    .filter(|value| value.fract() == 0.0 && value.abs() <= 1e9)
                    .map(|value| value as i32)
            })
            .ok_or_else(|| RoadError::InvalidAttribute {
                at: self.at(element, path),
                attribute,
                value: text.to_owned(),
                expected: "an integer",
            })
    }

    fn cubic(
        &self,
        element: &Element,
        path: &str,
        start: &'static str,
    ) -> Result<Cubic, RoadError> {
        Ok(Cubic {
            s: self.number(element, path, start)?,
            coefficients: [
                self.number(element, path, "a")?,
                self.number(element, path, "b")?,
                self.number(element, path, "c")?,
                self.number(element, path, "d")?,
            ],
        })
    }

    fn contact_point(
        &self,
        element: &Element,
        path: &str,
        attribute: &'static str,
    ) -> Result<Option<ContactPoint>, RoadError> {
        match element.attribute(attribute) {
            None => Ok(None),
            Some("start") => Ok(Some(ContactPoint::Start)),
            Some("end") => Ok(Some(ContactPoint::End)),
            Some(other) => Err(RoadError::InvalidAttribute {
                at: self.at(element, path),
                attribute,
                value: other.to_owned(),
                expected: "`start` or `end`",
            }),
        }
    }
}

fn sort_by_s(profile: &mut [Cubic]) {
    profile.sort_by(|a, b| a.s.total_cmp(&b.s));
}

/// Reads a whole `<OpenDRIVE>` document tree.
pub(crate) fn read_document(source: &str, root: &Element) -> Result<Parsed, RoadError> {
    let mut reader = Reader {
        source,
        ignored: Ignored::new(),
    };
    let root_path = format!("/{}", root.name);
    if root.name != "OpenDRIVE" {
        return Err(RoadError::Invalid {
            at: reader.at(root, &root_path),
            message: format!("the root element is <{}>, expected <OpenDRIVE>", root.name),
        });
    }
    let mut header = Header::default();
    let mut roads = Vec::new();
    let mut junctions = Vec::new();
    let mut road_count = 0usize;
    let mut junction_count = 0usize;
    let mut road_ids = std::collections::HashSet::new();
    let mut junction_ids = std::collections::HashSet::new();
    for child in &root.children {
        match child.name.as_str() {
            "header" => header = read_header(&mut reader, child, &format!("{root_path}/header"))?,
            "road" => {
                road_count += 1;
                let path = match child.attribute("id") {
                    Some(id) => format!("{root_path}/road[id={id}]"),
                    None => format!("{root_path}/road[{road_count}]"),
                };
                let road = read_road(&mut reader, child, &path)?;
                if !road_ids.insert(road.id.clone()) {
                    return Err(RoadError::Invalid {
                        at: reader.at(child, &path),
                        message: format!(
                            "road id {:?} is used by more than one road; ids are unique",
                            road.id
                        ),
                    });
                }
                roads.push(road);
            }
            "junction" => {
                junction_count += 1;
                let path = match child.attribute("id") {
                    Some(id) => format!("{root_path}/junction[id={id}]"),
                    None => format!("{root_path}/junction[{junction_count}]"),
                };
                let junction = read_junction(&mut reader, child, &path)?;
                if !junction_ids.insert(junction.id.clone()) {
                    return Err(RoadError::Invalid {
                        at: reader.at(child, &path),
                        message: format!(
                            "junction id {:?} is used by more than one junction; ids are unique",
                            junction.id
                        ),
                    });
                }
                junctions.push(junction);
            }
            _ => reader.ignore("OpenDRIVE", child),
        }
    }
    Ok(Parsed {
        header,
        roads,
        junctions,
        ignored: reader.ignored,
    })
}

fn read_header(
    reader: &mut Reader<'_>,
    element: &Element,
    path: &str,
) -> Result<Header, RoadError> {
    let rev = |attribute: &'static str| -> Result<Option<u32>, RoadError> {
        element
            .attribute(attribute)
            .map(|text| {
                text.trim()
                    .parse::<u32>()
                    .map_err(|_| RoadError::InvalidAttribute {
                        at: reader.at(element, path),
                        attribute,
                        value: text.to_owned(),
                        expected: "a non-negative integer",
                    })
            })
            .transpose()
    };
    let rev_major = rev("revMajor")?;
    let rev_minor = rev("revMinor")?;
    let mut header = Header {
        rev_major,
        rev_minor,
        name: element.attribute("name").unwrap_or_default().to_owned(),
        geo_reference: None,
    };
    for child in &element.children {
        match child.name.as_str() {
            "geoReference" => header.geo_reference = Some(child.text.trim().to_owned()),
            _ => reader.ignore("header", child),
        }
    }
    Ok(header)
}

fn read_link(reader: &Reader<'_>, element: &Element, path: &str) -> Result<RoadLink, RoadError> {
    let element_type = match reader.string(element, path, "elementType")?.as_str() {
        "road" => ElementType::Road,
        "junction" => ElementType::Junction,
        other => {
            return Err(RoadError::InvalidAttribute {
                at: reader.at(element, path),
                attribute: "elementType",
                value: other.to_owned(),
                expected: "`road` or `junction`",
            });
        }
    };
    let element_id = reader.string(element, path, "elementId")?;
    let contact_point = reader.contact_point(element, path, "contactPoint")?;
    Ok(RoadLink {
        element_type,
        element_id,
        contact_point,
    })
}

fn read_road(reader: &mut Reader<'_>, element: &Element, path: &str) -> Result<Road, RoadError> {
    let id = reader.string(element, path, "id")?;
    let length = reader.non_negative(element, path, "length")?;
    let junction = match element.attribute("junction").map(str::trim) {
        None | Some("-1") | Some("") => None,
        Some(other) => Some(other.to_owned()),
    };
    let rule = match element.attribute("rule") {
        None | Some("RHT") | Some("rht") => TrafficRule::RightHand,
        Some("LHT") | Some("lht") => TrafficRule::LeftHand,
        Some(other) => {
            return Err(RoadError::InvalidAttribute {
                at: reader.at(element, path),
                attribute: "rule",
                value: other.to_owned(),
                expected: "`RHT` or `LHT`",
            });
        }
    };
    let mut road = Road {
        id,
        name: element.attribute("name").unwrap_or_default().to_owned(),
        length,
        junction,
        rule,
        types: Vec::new(),
        predecessor: None,
        successor: None,
        geometry: Vec::new(),
        elevation: Vec::new(),
        superelevation: Vec::new(),
        lane_offset: Vec::new(),
        lane_sections: Vec::new(),
    };
    let mut saw_plan_view = false;
    for child in &element.children {
        let child_path = format!("{path}/{}", child.name);
        match child.name.as_str() {
            "link" => {
                for link in &child.children {
                    let link_path = format!("{child_path}/{}", link.name);
                    match link.name.as_str() {
                        "predecessor" => {
                            road.predecessor = Some(read_link(reader, link, &link_path)?)
                        }
                        "successor" => road.successor = Some(read_link(reader, link, &link_path)?),
                        _ => reader.ignore("road/link", link),
                    }
                }
            }
            "type" => road.types.push(read_road_type(reader, child, &child_path)?),
            "planView" => {
                saw_plan_view = true;
                for (index, geometry) in child.children.iter().enumerate() {
                    let geometry_path = format!("{child_path}/{}[{}]", geometry.name, index + 1);
                    if geometry.name != "geometry" {
                        reader.ignore("planView", geometry);
                        continue;
                    }
                    road.geometry
                        .push(read_geometry(reader, geometry, &geometry_path)?);
                }
            }
            "elevationProfile" => {
                for record in &child.children {
                    if record.name == "elevation" {
                        let record_path = format!("{child_path}/elevation");
                        road.elevation
                            .push(reader.cubic(record, &record_path, "s")?);
                    } else {
                        reader.ignore("elevationProfile", record);
                    }
                }
            }
            "lateralProfile" => {
                for record in &child.children {
                    if record.name == "superelevation" {
                        let record_path = format!("{child_path}/superelevation");
                        road.superelevation
                            .push(reader.cubic(record, &record_path, "s")?);
                    } else {
                        reader.ignore("lateralProfile", record);
                    }
                }
            }
            "lanes" => {
                for (index, record) in child.children.iter().enumerate() {
                    let record_path = format!("{child_path}/{}[{}]", record.name, index + 1);
                    match record.name.as_str() {
                        "laneOffset" => {
                            road.lane_offset
                                .push(reader.cubic(record, &record_path, "s")?)
                        }
                        "laneSection" => road.lane_sections.push(read_lane_section(
                            reader,
                            record,
                            &record_path,
                        )?),
                        _ => reader.ignore("lanes", record),
                    }
                }
            }
            _ => reader.ignore("road", child),
        }
    }
    if !saw_plan_view || road.geometry.is_empty() {
        return Err(RoadError::Invalid {
            at: reader.at(element, path),
            message: "a road needs a <planView> with at least one <geometry>".into(),
        });
    }
    road.geometry.sort_by(|a, b| a.s.total_cmp(&b.s));
    road.types.sort_by(|a, b| a.s.total_cmp(&b.s));
    sort_by_s(&mut road.elevation);
    sort_by_s(&mut road.superelevation);
    sort_by_s(&mut road.lane_offset);
    road.lane_sections.sort_by(|a, b| a.s.total_cmp(&b.s));
    Ok(road)
}

fn read_road_type(
    reader: &mut Reader<'_>,
    element: &Element,
    path: &str,
) -> Result<RoadType, RoadError> {
    let mut road_type = RoadType {
        s: reader.number(element, path, "s")?,
        road_type: reader.string(element, path, "type")?,
        speed_max: None,
        speed_unit: None,
    };
    for child in &element.children {
        if child.name != "speed" {
            reader.ignore("type", child);
            continue;
        }
        let speed_path = format!("{path}/speed");
        road_type.speed_max = match child.attribute("max").map(str::trim) {
            None | Some("no limit") | Some("undefined") => None,
            Some(text) => Some(reader.number_from(child, &speed_path, "max", text)?),
        };
        road_type.speed_unit = child.attribute("unit").map(str::to_owned);
    }
    Ok(road_type)
}

fn read_geometry(
    reader: &mut Reader<'_>,
    element: &Element,
    path: &str,
) -> Result<Geometry, RoadError> {
    let s = reader.number(element, path, "s")?;
    let x = reader.number(element, path, "x")?;
    let y = reader.number(element, path, "y")?;
    let heading = reader.number(element, path, "hdg")?;
    let length = reader.non_negative(element, path, "length")?;
    let mut shape = None;
    for child in &element.children {
        let child_path = format!("{path}/{}", child.name);
        let this = match child.name.as_str() {
            "line" => Shape::Line,
            "arc" => Shape::Arc {
                curvature: reader.number(child, &child_path, "curvature")?,
            },
            "spiral" => Shape::Spiral {
                curvature_start: reader.number(child, &child_path, "curvStart")?,
                curvature_end: reader.number(child, &child_path, "curvEnd")?,
            },
            "poly3" => Shape::Poly3 {
                coefficients: [
                    reader.number(child, &child_path, "a")?,
                    reader.number(child, &child_path, "b")?,
                    reader.number(child, &child_path, "c")?,
                    reader.number(child, &child_path, "d")?,
                ],
            },
            "paramPoly3" => {
                let range = match child.attribute("pRange") {
                    None | Some("normalized") => ParamRange::Normalized,
                    Some("arcLength") => ParamRange::ArcLength,
                    Some(other) => {
                        return Err(RoadError::InvalidAttribute {
                            at: reader.at(child, &child_path),
                            attribute: "pRange",
                            value: other.to_owned(),
                            expected: "`arcLength` or `normalized`",
                        });
                    }
                };
                Shape::ParamPoly3 {
                    u: [
                        reader.number(child, &child_path, "aU")?,
                        reader.number(child, &child_path, "bU")?,
                        reader.number(child, &child_path, "cU")?,
                        reader.number(child, &child_path, "dU")?,
                    ],
                    v: [
                        reader.number(child, &child_path, "aV")?,
                        reader.number(child, &child_path, "bV")?,
                        reader.number(child, &child_path, "cV")?,
                        reader.number(child, &child_path, "dV")?,
                    ],
                    range,
                }
            }
            _ => {
                reader.ignore("geometry", child);
                continue;
            }
        };
        if shape.is_some() {
            return Err(RoadError::Invalid {
                at: reader.at(child, &child_path),
                message: "a <geometry> holds exactly one of line, arc, spiral, poly3, paramPoly3; found a second".into(),
            });
        }
        shape = Some(this);
    }
    let shape = shape.ok_or_else(|| RoadError::Invalid {
        at: reader.at(element, path),
        message: "a <geometry> needs one of line, arc, spiral, poly3, paramPoly3".into(),
    })?;
    Ok(Geometry::new(s, x, y, heading, length, shape))
}

fn read_lane_section(
    reader: &mut Reader<'_>,
    element: &Element,
    path: &str,
) -> Result<LaneSection, RoadError> {
    let s = reader.number(element, path, "s")?;
    let single_side = matches!(element.attribute("singleSide"), Some("true") | Some("1"));
    let mut lanes: Vec<Lane> = Vec::new();
    for side in &element.children {
        let side_path = format!("{path}/{}", side.name);
        let allowed: fn(i32) -> bool = match side.name.as_str() {
            "left" => |id| id > 0,
            "center" => |id| id == 0,
            "right" => |id| id < 0,
            _ => {
                reader.ignore("laneSection", side);
                continue;
            }
        };
        for lane in &side.children {
            if lane.name != "lane" {
                reader.ignore(&format!("laneSection/{}", side.name), lane);
                continue;
            }
            let lane_path = match lane.attribute("id") {
                Some(id) => format!("{side_path}/lane[id={id}]"),
                None => format!("{side_path}/lane"),
            };
            let parsed = read_lane(reader, lane, &lane_path)?;
            if !allowed(parsed.id) {
                return Err(RoadError::Invalid {
                    at: reader.at(lane, &lane_path),
                    message: format!(
                        "lane id {} is not allowed in <{}>: left lanes are > 0, the centre lane 0, right lanes < 0",
                        parsed.id, side.name
                    ),
                });
            }
            if lanes.len() >= MAX_LANES_PER_SECTION {
                return Err(RoadError::Limit {
                    at: reader.at(lane, &lane_path),
                    what: "number of lanes in a lane section",
                    limit: MAX_LANES_PER_SECTION,
                });
            }
            if lanes.iter().any(|existing| existing.id == parsed.id) {
                return Err(RoadError::Invalid {
                    at: reader.at(lane, &lane_path),
                    message: format!("lane id {} appears twice in this lane section", parsed.id),
                });
            }
            lanes.push(parsed);
        }
    }
    lanes.sort_by_key(|lane| lane.id);
    Ok(LaneSection {
        s,
        single_side,
        lanes,
    })
}

fn read_lane(reader: &mut Reader<'_>, element: &Element, path: &str) -> Result<Lane, RoadError> {
    let id = reader.integer(element, path, "id")?;
    if id.unsigned_abs() > MAX_LANE_ID.unsigned_abs() {
        return Err(RoadError::InvalidAttribute {
            at: reader.at(element, path),
            attribute: "id",
            value: id.to_string(),
            expected: "a lane id between -10000 and 10000 (MAX_LANE_ID)",
        });
    }
    let lane_type = reader.string(element, path, "type")?;
    let level = matches!(element.attribute("level"), Some("true") | Some("1"));
    let mut lane = Lane {
        id,
        lane_type,
        level,
        widths: Vec::new(),
        borders: Vec::new(),
        road_marks: Vec::new(),
        speeds: Vec::new(),
        predecessor: None,
        successor: None,
    };
    for child in &element.children {
        let child_path = format!("{path}/{}", child.name);
        match child.name.as_str() {
            "link" => {
                for link in &child.children {
                    let link_path = format!("{child_path}/{}", link.name);
                    match link.name.as_str() {
                        "predecessor" => {
                            lane.predecessor = Some(reader.integer(link, &link_path, "id")?)
                        }
                        "successor" => {
                            lane.successor = Some(reader.integer(link, &link_path, "id")?)
                        }
                        _ => reader.ignore("lane/link", link),
                    }
                }
            }
            "width" => lane
                .widths
                .push(reader.cubic(child, &child_path, "sOffset")?),
            "border" => lane
                .borders
                .push(reader.cubic(child, &child_path, "sOffset")?),
            "roadMark" => {
                lane.road_marks.push(RoadMark {
                    s_offset: reader.number(child, &child_path, "sOffset")?,
                    mark_type: reader.string(child, &child_path, "type")?,
                    weight: child.attribute("weight").map(str::to_owned),
                    color: child.attribute("color").map(str::to_owned),
                    width: reader.optional_number(child, &child_path, "width")?,
                    height: reader.optional_number(child, &child_path, "height")?,
                    lane_change: child.attribute("laneChange").map(str::to_owned),
                });
                for detail in &child.children {
                    reader.ignore("roadMark", detail);
                }
            }
            "speed" => lane.speeds.push(LaneSpeed {
                s_offset: reader.number(child, &child_path, "sOffset")?,
                max: reader.number(child, &child_path, "max")?,
                unit: child.attribute("unit").map(str::to_owned),
            }),
            _ => reader.ignore("lane", child),
        }
    }
    sort_by_s(&mut lane.widths);
    sort_by_s(&mut lane.borders);
    lane.road_marks
        .sort_by(|a, b| a.s_offset.total_cmp(&b.s_offset));
    Ok(lane)
}

fn read_junction(
    reader: &mut Reader<'_>,
    element: &Element,
    path: &str,
) -> Result<Junction, RoadError> {
    let id = reader.string(element, path, "id")?;
    let mut junction = Junction {
        id,
        name: element.attribute("name").unwrap_or_default().to_owned(),
        junction_type: element.attribute("type").unwrap_or("default").to_owned(),
        connections: Vec::new(),
    };
    for child in &element.children {
        if child.name != "connection" {
            reader.ignore("junction", child);
            continue;
        }
        let child_path = match child.attribute("id") {
            Some(id) => format!("{path}/connection[id={id}]"),
            None => format!("{path}/connection"),
        };
        let incoming_road = reader.string(child, &child_path, "incomingRoad")?;
        // OpenDRIVE 1.7 direct junctions name the target `linkedRoad`.
        let connecting_road = match child.attribute("connectingRoad") {
            Some(road) => road.to_owned(),
            None => reader
                .string(child, &child_path, "linkedRoad")
                .map_err(|_| RoadError::MissingAttribute {
                    at: reader.at(child, &child_path),
                    attribute: "connectingRoad",
                })?,
        };
        let contact_point = reader
            .contact_point(child, &child_path, "contactPoint")?
            .ok_or_else(|| RoadError::MissingAttribute {
                at: reader.at(child, &child_path),
                attribute: "contactPoint",
            })?;
        let mut lane_links = Vec::new();
        for link in &child.children {
            if link.name != "laneLink" {
                reader.ignore("connection", link);
                continue;
            }
            let link_path = format!("{child_path}/laneLink");
            lane_links.push(LaneLink {
                from: reader.integer(link, &link_path, "from")?,
                to: reader.integer(link, &link_path, "to")?,
            });
        }
        junction.connections.push(Connection {
            id: reader.string(child, &child_path, "id")?,
            incoming_road,
            connecting_road,
            contact_point,
            lane_links,
        });
    }
    Ok(junction)
}
