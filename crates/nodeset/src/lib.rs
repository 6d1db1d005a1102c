//! OPC UA information models (`*.NodeSet2.xml`) turned into DTDL v3 interfaces.
//!
//! [`parse_nodeset`] reads one document into a [`NodeSet`] whose node ids carry
//! namespace URIs instead of the file's indexes (aliases expanded); [`import`]
//! joins several (a model with the models it requires, checked) and generates
//! interfaces, which it validates with the team's DTDL validator
//! ([`model::ModelSet`]) before returning them. Pure: no file system, no async;
//! every size, depth and count has a named bound in [`limits`].

mod error;
mod import;
pub mod limits;
pub mod names;
mod parse;
pub mod units;
mod xml;

pub use error::NodesetError;
pub use import::{Import, ImportStats, dependencies, import};
pub use parse::{
    Argument, Definition, EngineeringUnit, Field, Model, Node, NodeClass, NodeKey, NodeSet,
    Reference, UA_NAMESPACE, parse_nodeset,
};
