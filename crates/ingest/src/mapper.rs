//! The mapping engine: a message (topic, payload, arrival time) in, a typed twin
//! update or a counted rejection out.

use std::sync::Arc;

use serde_json::Value;
use world::{Timestamp, TwinId, WorldId};

use crate::error::{RejectReason, RuleError, RuleProblem};
use crate::rule::{
    Compiled, PAYLOAD_BYTES_MAX, RULES_MAX, Rule, TimeFormat, VALUES_PER_MESSAGE_MAX, ValueKind,
    bad_name, compile,
};

/// Compiled rules, tried in order; the default rule (when on) comes last.
#[derive(Clone, Debug)]
pub struct Mapper {
    rules: Vec<Compiled>,
}

/// What a message became.
#[derive(Clone, Debug, PartialEq)]
pub enum MapOutcome {
    /// No rule is about this topic: the message is only relayed.
    Unmatched,
    /// The update for one twin.
    Mapped(TwinUpdate),
    /// A rule matched but the message does not validate.
    Rejected(Rejection),
}

/// The values one message sets on one twin.
#[derive(Clone, Debug, PartialEq)]
pub struct TwinUpdate {
    /// The rule that matched.
    pub rule: Arc<str>,
    /// The twin's world.
    pub world: WorldId,
    /// The twin.
    pub twin: TwinId,
    /// The values, in the rule's (or the payload's) order.
    pub values: Vec<MappedValue>,
    /// When the values were measured: from the payload, or the arrival time.
    pub source_time: Timestamp,
}

/// One value of an update.
#[derive(Clone, Debug, PartialEq)]
pub struct MappedValue {
    /// Property or telemetry name.
    pub name: String,
    /// The value, scaled when the rule says so.
    pub value: Value,
    /// What kind of value it is.
    pub kind: ValueKind,
}

/// A message a rule matched but could not map.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejection {
    /// The rule that matched.
    pub rule: Arc<str>,
    /// The counted reason.
    pub reason: RejectReason,
    /// What exactly was wrong, for the dead-letter record and logs.
    pub detail: String,
    /// The world the message was for, when the topic named a valid one.
    pub world: Option<WorldId>,
    /// Where the message goes as a dead letter, if the rule has such a topic.
    pub dead_letter: Option<String>,
}

impl TwinUpdate {
    /// The JSON Patch that sets every property (and `Auto`) value: `add`, which
    /// creates or replaces a property. Telemetry values are not part of it.
    pub fn property_patch(&self) -> json_patch::Patch {
        self.property_patch_where(|value| value.kind != ValueKind::Telemetry)
    }

    /// The JSON Patch of the values that `keep` selects.
    pub fn property_patch_where(&self, keep: impl Fn(&MappedValue) -> bool) -> json_patch::Patch {
        let ops = self
            .values
            .iter()
            .filter(|value| keep(value))
            .map(|value| {
                json_patch::PatchOperation::Add(json_patch::AddOperation {
                    path: json_patch::jsonptr::PointerBuf::from_tokens([value.name.as_str()]),
                    value: value.value.clone(),
                })
            })
            .collect();
        json_patch::Patch(ops)
    }
}

/// The updates of one batch for one twin, merged into one patch: every
/// message's values in arrival order (a later value of a property replaces an
/// earlier one, as applying them one by one would). Applying a twin's updates as
/// one command costs the world one validation instead of one per message.
#[derive(Clone, Debug, PartialEq)]
pub struct TwinBatch {
    /// The twin's world.
    pub world: WorldId,
    /// The twin.
    pub twin: TwinId,
    /// Every member's property patch, concatenated in order.
    pub patch: json_patch::Patch,
    /// The latest source time among the members.
    pub source_time: Timestamp,
    /// Indices of the merged updates in the batch, in order.
    pub members: Vec<usize>,
}

/// Groups a batch's updates per twin (groups in order of first appearance).
pub fn group_by_twin(updates: &[TwinUpdate]) -> Vec<TwinBatch> {
    let mut groups: Vec<TwinBatch> = Vec::new();
    let mut index: std::collections::HashMap<(&WorldId, &TwinId), usize> =
        std::collections::HashMap::new();
    for (i, update) in updates.iter().enumerate() {
        let slot = *index
            .entry((&update.world, &update.twin))
            .or_insert_with(|| {
                groups.push(TwinBatch {
                    world: update.world.clone(),
                    twin: update.twin.clone(),
                    patch: json_patch::Patch(Vec::new()),
                    source_time: update.source_time,
                    members: Vec::new(),
                });
                groups.len() - 1
            });
        let group = &mut groups[slot];
        group.patch.0.extend(update.property_patch().0);
        group.source_time = group.source_time.max(update.source_time);
        group.members.push(i);
    }
    groups
}

impl Mapper {
    /// Compiles `rules` (in order) and, when `default_rule`, the default rule
    /// after them. Every problem of every rule is reported at once.
    pub fn new(rules: Vec<Rule>, default_rule: bool) -> Result<Mapper, RuleError> {
        let mut problems = Vec::new();
        if rules.len() > RULES_MAX {
            problems.push(RuleProblem {
                rule: "(all)".into(),
                field: "rules".into(),
                message: format!("{} rules, at most {RULES_MAX} are allowed", rules.len()),
            });
        }
        let mut compiled = Vec::with_capacity(rules.len() + 1);
        for (i, rule) in rules.iter().enumerate() {
            if rules[..i].iter().any(|r| r.name == rule.name) {
                problems.push(RuleProblem {
                    rule: rule.name.clone(),
                    field: "name".into(),
                    message: "two rules have this name; names identify rules in metrics".into(),
                });
            }
            if let Some(rule) = compile(rule, &mut problems) {
                compiled.push(rule);
            }
        }
        if default_rule && let Some(rule) = compile(&Rule::default_rule(), &mut problems) {
            compiled.push(rule);
        }
        if problems.is_empty() {
            Ok(Mapper { rules: compiled })
        } else {
            Err(RuleError { problems })
        }
    }

    /// The world a message on `topic` would update, without reading a payload
    /// (the broker's access check). `None` when no rule matches or the world the
    /// topic names is not valid.
    pub fn world_of(&self, topic: &str) -> Option<Option<WorldId>> {
        let mut captures = Vec::new();
        let rule = self
            .rules
            .iter()
            .find(|r| r.matches(topic, &mut captures))?;
        Some(WorldId::parse(&rule.world.expand(&captures)).ok())
    }

    /// The dead-letter topic of the rule that matches `topic`, for messages
    /// refused after mapping (by the world).
    pub fn dead_letter_of(&self, topic: &str) -> Option<String> {
        let mut captures = Vec::new();
        let rule = self
            .rules
            .iter()
            .find(|r| r.matches(topic, &mut captures))?;
        rule.dead_letter.as_ref().map(|t| t.expand(&captures))
    }

    /// Maps one message. `arrival` stamps values when the rule takes no time from
    /// the payload.
    pub fn map(&self, topic: &str, payload: &[u8], arrival: Timestamp) -> MapOutcome {
        let mut captures = Vec::new();
        let Some(rule) = self.rules.iter().find(|r| r.matches(topic, &mut captures)) else {
            return MapOutcome::Unmatched;
        };
        let world = WorldId::parse(&rule.world.expand(&captures));
        let reject = |reason: RejectReason, detail: String| {
            MapOutcome::Rejected(Rejection {
                rule: rule.name.clone(),
                reason,
                detail,
                world: world.as_ref().ok().cloned(),
                dead_letter: rule.dead_letter.as_ref().map(|t| t.expand(&captures)),
            })
        };
        let world_id = match &world {
            Ok(world) => world.clone(),
            Err(error) => return reject(RejectReason::BadId, error.to_string()),
        };
        let twin = match TwinId::parse(&rule.twin.expand(&captures)) {
            Ok(twin) => twin,
            Err(error) => return reject(RejectReason::BadId, error.to_string()),
        };
        if payload.len() > PAYLOAD_BYTES_MAX {
            return reject(
                RejectReason::PayloadTooLarge,
                format!(
                    "{} bytes, at most {PAYLOAD_BYTES_MAX} are mapped",
                    payload.len()
                ),
            );
        }
        let document: Value = match serde_json::from_slice(payload) {
            Ok(document) => document,
            Err(error) => {
                return reject(
                    RejectReason::NotJson,
                    format!("payload is not JSON: {error}"),
                );
            }
        };

        let mut values = Vec::new();
        if rule.values.is_empty() {
            let Value::Object(members) = &document else {
                return reject(
                    RejectReason::NotObject,
                    format!(
                        "payload is {}, the rule takes the members of a JSON object",
                        kind_of(&document)
                    ),
                );
            };
            if members.len() > VALUES_PER_MESSAGE_MAX {
                return reject(
                    RejectReason::TooManyValues,
                    format!(
                        "{} members, at most {VALUES_PER_MESSAGE_MAX} a message",
                        members.len()
                    ),
                );
            }
            for (name, value) in members {
                if let Some(reason) = bad_name(name) {
                    return reject(RejectReason::BadName, reason);
                }
                values.push(MappedValue {
                    name: name.clone(),
                    value: value.clone(),
                    kind: ValueKind::Auto,
                });
            }
        } else {
            for spec in &rule.values {
                let Some(found) = document.pointer(&spec.pointer) else {
                    if spec.optional {
                        continue;
                    }
                    return reject(
                        RejectReason::MissingValue,
                        format!("no value at '{}' for '{}'", spec.pointer, spec.name),
                    );
                };
                let value = if spec.factor.is_some() || spec.offset.is_some() {
                    let Some(number) = found.as_f64() else {
                        return reject(
                            RejectReason::NotNumber,
                            format!(
                                "'{}' is {}, and the rule scales it as a number",
                                spec.pointer,
                                kind_of(found)
                            ),
                        );
                    };
                    let scaled = number * spec.factor.unwrap_or(1.0) + spec.offset.unwrap_or(0.0);
                    match serde_json::Number::from_f64(scaled) {
                        Some(n) => Value::Number(n),
                        None => {
                            return reject(
                                RejectReason::NotNumber,
                                format!(
                                    "scaling '{}' gave {scaled}, not a finite number",
                                    spec.pointer
                                ),
                            );
                        }
                    }
                } else {
                    found.clone()
                };
                values.push(MappedValue {
                    name: spec.name.clone(),
                    value,
                    kind: spec.kind,
                });
            }
        }

        let source_time = match &rule.timestamp {
            None => arrival,
            Some(ts) => match document.pointer(&ts.pointer) {
                None if ts.optional => arrival,
                None => {
                    return reject(
                        RejectReason::BadTimestamp,
                        format!("no timestamp at '{}'", ts.pointer),
                    );
                }
                Some(found) => match parse_time(found, ts.format) {
                    Some(time) => time,
                    None => {
                        return reject(
                            RejectReason::BadTimestamp,
                            format!(
                                "'{}' is no {:?} time between 1970 and 9999: {}",
                                ts.pointer,
                                ts.format,
                                truncate(&found.to_string(), 80)
                            ),
                        );
                    }
                },
            },
        };

        MapOutcome::Mapped(TwinUpdate {
            rule: rule.name.clone(),
            world: world_id,
            twin,
            values,
            source_time,
        })
    }
}

/// Last instant accepted as a source time: 9999-12-31T23:59:59Z in seconds.
const TIME_SECONDS_MAX: f64 = 253_402_300_799.0;

fn parse_time(value: &Value, format: TimeFormat) -> Option<Timestamp> {
    let from_seconds = |seconds: f64| -> Option<Timestamp> {
        // Before the epoch or past year 9999 is a sensor's clock gone wrong.
        (seconds.is_finite() && (0.0..=TIME_SECONDS_MAX).contains(&seconds))
            .then(|| Timestamp((seconds * 1e9).round() as i64))
    };
    match (format, value) {
        (TimeFormat::Auto | TimeFormat::Rfc3339, Value::String(text)) => {
            let time = Timestamp::parse_rfc3339(text)?;
            from_seconds(time.0 as f64 / 1e9).map(|_| time)
        }
        (TimeFormat::EpochMs, Value::Number(n)) => from_seconds(n.as_f64()? / 1e3),
        (TimeFormat::EpochS, Value::Number(n)) => from_seconds(n.as_f64()?),
        (TimeFormat::Auto, Value::Number(n)) => {
            let number = n.as_f64()?;
            // 1e11 s is the year 5138; 1e11 ms is 1973: a number this large is ms.
            from_seconds(if number >= 1e11 { number / 1e3 } else { number })
        }
        _ => None,
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn truncate(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}
