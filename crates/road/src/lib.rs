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
//!
//! ```
//! use road::{LanePosition, Network};
//!
//! let xml = r#"<OpenDRIVE><header/>
//!   <road id="1" length="100" junction="-1">
//!     <planView><geometry s="0" x="0" y="0" hdg="0" length="100"><arc curvature="0.01"/></geometry></planView>
//!     <lanes><laneSection s="0">
//!       <center><lane id="0" type="none"/></center>
//!       <right><lane id="-1" type="driving"><width sOffset="0" a="3.5" b="0" c="0" d="0"/></lane></right>
//!     </laneSection></lanes>
//!   </road></OpenDRIVE>"#;
//! let network = Network::parse(xml)?;
//! let pose = network.lane_to_world("1", -1, 50.0, 0.0)?;
//! let found = network.world_to_lane(pose.x, pose.y, None).expect("on the road");
//! assert_eq!((found.road.as_str(), found.lane), ("1", -1));
//! assert!((found.s - 50.0).abs() < 1e-6);
//! # Ok::<(), road::RoadError>(())
//! ```

mod check;
mod error;
pub mod geometry;
mod mesh;
mod network;
mod parse;
mod road;
mod xml;

pub use check::{GEOMETRY_GAP_TOLERANCE_M, Problem};
pub use error::{Location, RoadError};
pub use geometry::{Geometry, LinePoint, ParamRange, Shape, fresnel};
pub use mesh::{MeshOptions, MeshPart, RoadMesh, Surface};
pub use network::{BOUNDARY_STEP, LanePosition, LaneStep, Network, Pose, S_TOLERANCE};
pub use parse::{Header, MAX_LANE_ID, MAX_LANES_PER_SECTION};
pub use road::{
    Connection, ContactPoint, Cubic, ElementType, Junction, Lane, LaneLink, LaneSection, LaneSpeed,
    Road, RoadLink, RoadMark, RoadType, TrafficRule,
};
pub use xml::{MAX_DEPTH, MAX_ELEMENTS};
