//! ASAM OpenSCENARIO 1.x: parsing ([`Scenario::parse`]) and the fixed-step
//! scenario runner ([`Runner`]), with KPIs and report writers. The crate does no
//! I/O and never reads the clock: files arrive through a [`Resolver`], time
//! advances only by the runner's fixed step.
//!
//! ```
//! use sim::{MapResolver, Runner, Scenario};
//!
//! let xml = r#"<OpenSCENARIO><FileHeader revMajor="1" revMinor="2"/>
//!   <Entities><ScenarioObject name="Car"><Vehicle name="car" vehicleCategory="car">
//!     <BoundingBox><Center x="1.4" y="0" z="0.7"/><Dimensions width="2" length="4.5" height="1.5"/></BoundingBox>
//!     <Performance maxSpeed="60" maxAcceleration="5" maxDeceleration="9"/></Vehicle></ScenarioObject></Entities>
//!   <Storyboard><Init><Actions><Private entityRef="Car">
//!     <PrivateAction><TeleportAction><Position><WorldPosition x="0" y="0" h="0"/></Position></TeleportAction></PrivateAction>
//!     <PrivateAction><LongitudinalAction><SpeedAction>
//!       <SpeedActionDynamics dynamicsShape="linear" value="2" dynamicsDimension="rate"/>
//!       <SpeedActionTarget><AbsoluteTargetSpeed value="10"/></SpeedActionTarget>
//!     </SpeedAction></LongitudinalAction></PrivateAction></Private></Actions></Init>
//!   <StopTrigger><ConditionGroup><Condition name="End" delay="0" conditionEdge="rising"><ByValueCondition>
//!     <SimulationTimeCondition value="10" rule="greaterOrEqual"/></ByValueCondition></Condition></ConditionGroup></StopTrigger>
//!   </Storyboard></OpenSCENARIO>"#;
//! // Catalogs and road files would come from the resolver; this scenario needs none.
//! let scenario = Scenario::parse(xml, "example.xosc", &MapResolver::new())?;
//! let mut runner = Runner::new(scenario, None, 0.01)?;
//! runner.set_recording(true);
//! let report = runner.run_to_end(60.0)?;
//! assert!(report.passed());
//! assert!((runner.entities()[0].speed - 10.0).abs() < 1e-9);
//! let csv = sim::record_csv(runner.record().unwrap_or_default());
//! assert!(csv.starts_with(sim::RECORD_CSV_HEADER));
//! # Ok::<(), sim::Error>(())
//! ```

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
