//! ASAM OpenSCENARIO 1.x: parsing ([`Scenario::parse`]) and the fixed-step
//! scenario runner ([`Runner`]), with KPIs and report writers. The crate does no
//! I/O and never reads the clock: files arrive through a [`Resolver`], time
//! advances only by the runner's fixed step.

#![expect(
    clippy::result_large_err,
    reason = "errors are rare and carry their full location; boxing every one would add noise for no speed"
)]

pub mod coverage;
mod error;
mod expr;
mod geometry;
mod model;
mod parse;
mod report;
mod runner;
mod xml;

pub use error::{Error, Location, Result};
pub use model::*;
pub use parse::{MapResolver, Resolver};
pub use report::{
    CollisionRecord, EndReason, EntitySummary, LogEntry, LogKind, PairSummary, RECORD_CSV_HEADER,
    RecordRow, Report, junit_xml, record_csv, report_json,
};
pub use runner::{EntityState, MAX_STEPS, Runner};

/// Parses the scenario's road network (if it names one) through the resolver.
pub fn load_network(scenario: &Scenario, resolver: &dyn Resolver) -> Result<Option<road::Network>> {
    let Some(path) = scenario.road_network.as_deref() else {
        return Ok(None);
    };
    let at = Location {
        file: scenario.file.clone(),
        line: 0,
        column: 0,
    };
    let text = resolver.read(path).map_err(|message| Error::Resolve {
        path: path.to_string(),
        message,
        at,
    })?;
    road::Network::parse(&text)
        .map(Some)
        .map_err(|e| Error::Road(format!("{path}: {e}")))
}
