//! ASAM OpenDRIVE (1.4–1.8) road networks: parse a `.xodr` document given as a
//! string into a [`Network`], evaluate reference-line geometry (line, arc, clothoid
//! spiral, poly3, paramPoly3), elevation, superelevation, lane offsets and lane
//! widths, convert between road/lane coordinates and the world, follow lanes
//! across lane sections, road links and junctions, and route between lanes.
//!
//! The crate does no I/O beyond parsing the string it is given and never reads the
//! clock. [`Network::mesh`] triangulates the road surface and lane markings and
//! [`RoadMesh::to_glb`] writes them as binary glTF. Elements it does not model are listed by
//! [`Network::ignored_elements`], never dropped silently.

mod error;
pub mod geometry;
mod mesh;
mod network;
mod parse;
mod road;
mod xml;

pub use error::{Location, RoadError};
pub use geometry::{Geometry, LinePoint, ParamRange, Shape, fresnel};
pub use mesh::{MeshOptions, MeshPart, RoadMesh, Surface};
pub use network::{LanePosition, LaneStep, Network, Pose, S_TOLERANCE};
pub use parse::{Header, MAX_LANE_ID};
pub use road::{
    Connection, ContactPoint, Cubic, ElementType, Junction, Lane, LaneLink, LaneSection, LaneSpeed,
    Road, RoadLink, RoadMark, RoadType, TrafficRule,
};
pub use xml::{MAX_DEPTH, MAX_ELEMENTS};
