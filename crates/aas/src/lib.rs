//! The Asset Administration Shell metamodel v3.0 (IDTA-01001-3-0) as typed Rust,
//! its JSON and XML serializations, and verification of its constraints.
//!
//! - [`model`]: every class ([`Environment`], [`AssetAdministrationShell`],
//!   [`Submodel`], the fourteen [`SubmodelElement`] kinds, [`ConceptDescription`],
//!   [`Reference`], [`DataSpecificationIec61360`], …) and enumeration.
//! - [`json`] and [`xml`]: strict reading of 3.0 documents (what the official
//!   schemas allow, nothing else), lenient reading of 3.0, 3.1 and 3.2 documents
//!   with [`Warning`]s, and strict 3.0 writing. A document that cannot be read is
//!   a [`ReadError`] naming the element path and what was allowed.
//! - [`verify()`]: every constraint a value breaks (AASd-…, AASc-3a-…, lengths,
//!   patterns, value types), each a [`Problem`] with its path and constraint id.
//! - [`Submodel::element`]: submodel elements by idShort path (`Motor.Readings[3]`),
//!   as the Part 2 API addresses them.
//! - [`aasx`]: AASX packages (Part 5), read within [`aasx::AasxLimits`] and
//!   written deterministically; errors are [`AasxError`]s naming the part.
//!
//! The crate does no I/O beyond the text it is given, spawns nothing and reads
//! no clock. Documents nest at most [`MAX_DEPTH`] levels.
//!
//! ```
//! let text = r#"{"submodels": [{"modelType": "Submodel", "id": "urn:x:1",
//!     "submodelElements": [{"modelType": "Property", "idShort": "Speed",
//!                           "valueType": "xs:int", "value": "fast"}]}]}"#;
//! let environment: aas::Environment = aas::json::from_str(text)?;
//! let problems = aas::verify(&environment);
//! assert_eq!(problems.len(), 1);
//! assert_eq!(problems[0].path, "submodels[0].submodelElements[0].value");
//! let xml = aas::xml::to_string(&environment);
//! assert_eq!(aas::xml::from_str::<aas::Environment>(&xml)?, environment);
//! # Ok::<(), aas::ReadError>(())
//! ```

pub mod aasx;
mod codec;
mod error;
pub mod json;
pub mod model;
mod path;
mod verify;
pub mod xml;
pub mod xsd;

pub use codec::{MAX_DEPTH, ReadOptions};
pub use error::{AasxError, ReadError, Warning};
pub use model::*;
pub use path::{ID_SHORT_PATH_STEPS_MAX, Step, parse_id_short_path};
pub use verify::{MAX_PROBLEMS, Problem, Verifier, Verify, verify};

/// A class or abstract class that can be a whole JSON or XML document (or a
/// request body): every metamodel class, [`SubmodelElement`] and
/// [`DataSpecificationContent`]. Implemented by this crate only.
pub trait Class: codec::Node + Verify {}

impl<T: codec::Node + Verify> Class for T {}
