//! DTDL v2/v3 models: parsing, validation and the resolved model graph.
//!
//! The entry point is [`ModelSet`]: it takes batches of DTDL documents
//! ([`ModelSource`] text or already parsed JSON), validates them against the
//! DTDL v2 or v3 rules (chosen per element by its `@context`), and keeps the
//! resolved interfaces so that the rest of the server can ask for inherited
//! contents, subtype relations (`IS_OF_MODEL`) and check twin values against
//! schemas. Everything here is pure: no I/O, no async, no clock.

#![warn(missing_docs)]

mod dtmi;
mod error;
mod limits;
mod metamodel;
mod parse;
mod semantic;
mod set;
mod types;
mod value;

pub use dtmi::Dtmi;
pub use error::{ModelError, Problem, Problems, ValueError};
pub use limits::*;
pub use parse::ParseOptions;
pub use set::{ModelSet, ModelSource};
pub use types::*;
