//! What can be wrong with a rule set (found when it is compiled, all problems at
//! once) and why a message was rejected (a short, stable reason for metrics plus a
//! sentence for the dead-letter record).

use std::fmt;

/// A rule set that cannot be compiled; every problem is listed.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{} problem(s) in the mapping rules: {}", problems.len(), list(problems))]
pub struct RuleError {
    /// Each problem with the rule it is in.
    pub problems: Vec<RuleProblem>,
}

fn list(problems: &[RuleProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// One problem of one rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleProblem {
    /// The rule's name (or its position when the name is missing).
    pub rule: String,
    /// The field at fault (`topic`, `twin`, `values[2].pointer`, …).
    pub field: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule '{}', {}: {}", self.rule, self.field, self.message)
    }
}

/// Why a message that a rule matched did not become a twin update. The names are
/// stable: they are metric labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    /// The payload is larger than the mapper accepts.
    PayloadTooLarge,
    /// The payload is not JSON (or not UTF-8).
    NotJson,
    /// The rule takes every member of an object, and the payload is no object.
    NotObject,
    /// A value the rule requires is missing.
    MissingValue,
    /// A value to be scaled is not a number, or scaling left no finite number.
    NotNumber,
    /// The payload's timestamp is missing, malformed or out of range.
    BadTimestamp,
    /// The world or twin id built from the topic is not valid.
    BadId,
    /// A value name is empty, too long or reserved.
    BadName,
    /// The payload carries more values than one message may.
    TooManyValues,
    /// The world refused the update (unknown twin, value against the model, …):
    /// reported by whoever applies updates, not by the mapper.
    Refused,
}

impl RejectReason {
    /// Every reason, for metrics that list zero counts too.
    pub const ALL: [RejectReason; 10] = [
        RejectReason::PayloadTooLarge,
        RejectReason::NotJson,
        RejectReason::NotObject,
        RejectReason::MissingValue,
        RejectReason::NotNumber,
        RejectReason::BadTimestamp,
        RejectReason::BadId,
        RejectReason::BadName,
        RejectReason::TooManyValues,
        RejectReason::Refused,
    ];

    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::PayloadTooLarge => "payload_too_large",
            RejectReason::NotJson => "not_json",
            RejectReason::NotObject => "not_object",
            RejectReason::MissingValue => "missing_value",
            RejectReason::NotNumber => "not_number",
            RejectReason::BadTimestamp => "bad_timestamp",
            RejectReason::BadId => "bad_id",
            RejectReason::BadName => "bad_name",
            RejectReason::TooManyValues => "too_many_values",
            RejectReason::Refused => "refused",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
