//! Worlds: the twin graph of Twinspace and the core every change goes through.
//!
//! A [`World`] holds one world's DTDL models, twins, relationships and placements.
//! It is changed only by [`World::apply`], which takes a [`Command`] and the current
//! time and either refuses the command (leaving the world untouched) or returns
//! [`Applied`]: the new [`Seq`], the API's answer, the [`Record`]s a store must keep
//! and the [`Change`]s observers see. Nothing here does I/O, reads the clock or
//! draws random numbers, so every test replays exactly.

mod codec;
mod columns;
mod command;
mod error;
mod graph;
mod ids;
mod placement;
mod twin;
mod value;
mod world;

pub use codec::TWIN_FORMAT_V1;
pub use command::{Applied, Change, Command, Condition, Record, StoredRecord};
pub use error::{Invalid, WorldError};
pub use ids::{Etag, Seq, TWIN_ID_LEN_MAX, Timestamp, TwinId, WORLD_ID_LEN_MAX, WorldId};
pub use placement::{ASSET_LEN_MAX, COORDINATE_ABS_MAX, Placement, Pose};
pub use world::{
    Accepted, FieldValue, PATCHED_NODES_MAX, VALUES_PER_UPDATE_MAX, ValueKind, ValueUpdate,
    ValuesApplied, World,
};

pub use model;
pub use query;
