//! Topic-to-twin mapping for IoT ingest: which twin a message on an MQTT topic
//! updates, with which values, stamped with which time. Pure logic: no I/O, no
//! clock (the arrival time is an argument), so the broker, the bridge and HTTP
//! ingest share one engine and every test replays exactly.
//!
//! A [`Mapper`] holds compiled [`Rule`]s and, unless turned off, the default rule
//! `twinspace/{world}/{twinId}` (a JSON object of values for that twin). The first
//! rule whose topic filter matches decides; [`Mapper::map`] answers
//! [`MapOutcome::Mapped`] with a [`TwinUpdate`], [`MapOutcome::Rejected`] with a
//! [`Rejection`] (a counted reason and the dead-letter topic), or
//! [`MapOutcome::Unmatched`] when no rule is about the topic.
//!
//! ```
//! use ingest::{MapOutcome, Mapper, Rule};
//! use world::Timestamp;
//!
//! let rule: Rule = serde_json::from_value(serde_json::json!({
//!     "name": "press-lines",
//!     "topic": "plant/{line}/+/{machine}/#",
//!     "world": "factory",
//!     "twin": "{line}-{machine}",
//!     "values": [{ "pointer": "/temp/value", "name": "temperature",
//!                  "factor": 0.1, "offset": -40 }],
//!     "timestamp": { "pointer": "/ts", "format": "epochMs" }
//! })).unwrap();
//! let mapper = Mapper::new(vec![rule], true).unwrap();
//! let outcome = mapper.map("plant/l1/cell/press7/status",
//!     br#"{"temp": {"value": 615}, "ts": 1700000000000}"#, Timestamp(0));
//! let MapOutcome::Mapped(update) = outcome else { panic!("{outcome:?}") };
//! assert_eq!(update.twin.as_str(), "l1-press7");
//! assert_eq!(update.values[0].value, serde_json::json!(21.5));
//! assert_eq!(update.source_time, Timestamp(1_700_000_000_000_000_000));
//! ```

mod error;
mod mapper;
mod rule;

pub use error::{RejectReason, RuleError, RuleProblem};
pub use mapper::{
    MapOutcome, MappedValue, Mapper, Rejection, TwinBatch, TwinUpdate, group_by_twin,
};
pub use rule::{
    DEFAULT_DEAD_LETTER, DEFAULT_TOPIC, NAME_CHARS_MAX, PAYLOAD_BYTES_MAX, POINTER_CHARS_MAX,
    RULES_MAX, Rule, TOPIC_LEVELS_MAX, TimeFormat, TimestampRule, VALUES_PER_MESSAGE_MAX,
    ValueKind, ValueRule,
};
