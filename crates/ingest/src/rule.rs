//! Declarative mapping rules as they appear in the config file and the REST API
//! (serde, camelCase), and their compiled form: a topic pattern of levels with
//! named captures, and templates that build the world and twin ids from them.

use serde::{Deserialize, Serialize};

use crate::error::RuleProblem;

/// Most rules one mapper holds: each message is tried against them in order.
pub const RULES_MAX: usize = 1_000;
/// Most levels in a rule's topic filter; deeper topics are refused by the broker
/// anyway, so longer patterns could never match.
pub const TOPIC_LEVELS_MAX: usize = 32;
/// Largest payload the mapper parses: telemetry messages are small, and JSON
/// parsing cost grows with size.
pub const PAYLOAD_BYTES_MAX: usize = 256 * 1024;
/// Most values one message may set (a rule's `values`, or the members of the
/// default rule's object), so one message cannot turn into a huge patch.
pub const VALUES_PER_MESSAGE_MAX: usize = 256;
/// Longest value name: DTDL names are at most 512 characters.
pub const NAME_CHARS_MAX: usize = 512;
/// Longest JSON pointer in a rule.
pub const POINTER_CHARS_MAX: usize = 1_024;
/// Longest template (twin, world, dead-letter topic) in a rule.
const TEMPLATE_CHARS_MAX: usize = 1_024;
/// The default rule's topic filter.
pub const DEFAULT_TOPIC: &str = "twinspace/{world}/{twinId}";
/// The default rule's dead-letter topic: one level deeper than any twin topic, so
/// dead letters never match the default rule themselves.
pub const DEFAULT_DEAD_LETTER: &str = "twinspace/{world}/deadletter/{twinId}";

/// One mapping rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Rule {
    /// A name for metrics and dead letters.
    pub name: String,
    /// An MQTT topic filter whose levels may also be `{name}`: one level, captured.
    pub topic: String,
    /// The world's id; may use captures (`{site}`). Default `{world}`.
    #[serde(default = "default_world")]
    pub world: String,
    /// The twin id, built from captures and literal text (`{line}-{machine}`).
    pub twin: String,
    /// Where the values are. Empty: every member of the payload's JSON object.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<ValueRule>,
    /// Where the source time is. Absent: the arrival time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<TimestampRule>,
    /// Topic template for rejected messages (same captures); absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter: Option<String>,
}

fn default_world() -> String {
    "{world}".into()
}

impl Rule {
    /// The rule behind `twinspace/{world}/{twinId}`.
    pub fn default_rule() -> Rule {
        Rule {
            name: "default".into(),
            topic: DEFAULT_TOPIC.into(),
            world: default_world(),
            twin: "{twinId}".into(),
            values: Vec::new(),
            timestamp: None,
            dead_letter: Some(DEFAULT_DEAD_LETTER.into()),
        }
    }
}

/// One value taken from the payload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ValueRule {
    /// RFC 6901 JSON pointer into the payload (`""` is the whole payload).
    pub pointer: String,
    /// The property or telemetry name on the twin.
    pub name: String,
    /// Property, telemetry, or decided by the twin's model.
    #[serde(default)]
    pub kind: ValueKind,
    /// Multiply a numeric value by this (unit scaling), before `offset`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<f64>,
    /// Add this to a numeric value, after `factor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<f64>,
    /// When true a missing value is skipped instead of rejecting the message.
    #[serde(default)]
    pub optional: bool,
}

/// Whether a value patches a property or is a telemetry point.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ValueKind {
    /// The twin's model decides: a DTDL Telemetry of that name makes it a
    /// telemetry point, anything else a property patch.
    #[default]
    Auto,
    /// A property patch.
    Property,
    /// A telemetry point (kept in history, not on the twin).
    Telemetry,
}

/// Where a message's source time comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TimestampRule {
    /// JSON pointer to the time in the payload.
    pub pointer: String,
    /// How it is written.
    #[serde(default)]
    pub format: TimeFormat,
    /// When true a missing time falls back to the arrival time instead of
    /// rejecting the message.
    #[serde(default)]
    pub optional: bool,
}

/// How a timestamp is written in a payload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TimeFormat {
    /// A string is RFC 3339; a number is epoch milliseconds when at least 1e11
    /// (after 1973-03-03 in ms), else epoch seconds.
    #[default]
    Auto,
    /// An RFC 3339 string.
    Rfc3339,
    /// Milliseconds since the Unix epoch (a number, fractions allowed).
    EpochMs,
    /// Seconds since the Unix epoch (a number, fractions allowed).
    EpochS,
}

/// One level of a compiled topic pattern.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Level {
    Literal(String),
    /// `+` (None) or `{name}` (Some(capture index)).
    One(Option<usize>),
    /// `#`: the rest, zero or more levels.
    Rest,
}

/// A piece of a template.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Piece {
    Text(String),
    Capture(usize),
}

/// A template compiled against its rule's captures.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Template(pub(crate) Vec<Piece>);

impl Template {
    /// Writes the template with `captures` (indexed as the pattern numbered them).
    pub(crate) fn expand(&self, captures: &[&str]) -> String {
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Capture(i) => out.push_str(captures.get(*i).copied().unwrap_or("")),
            }
        }
        out
    }

    /// The literal text when the template has no captures.
    pub(crate) fn literal(&self) -> Option<String> {
        match self.0.as_slice() {
            [] => Some(String::new()),
            [Piece::Text(text)] => Some(text.clone()),
            _ => None,
        }
    }
}

/// A rule ready to match.
#[derive(Clone, Debug)]
pub(crate) struct Compiled {
    pub(crate) name: std::sync::Arc<str>,
    pub(crate) levels: Vec<Level>,
    pub(crate) captures: usize,
    pub(crate) world: Template,
    pub(crate) twin: Template,
    pub(crate) values: Vec<ValueRule>,
    pub(crate) timestamp: Option<TimestampRule>,
    pub(crate) dead_letter: Option<Template>,
}

impl Compiled {
    /// Matches a topic, filling `captures`; false when it does not match.
    pub(crate) fn matches<'t>(&self, topic: &'t str, captures: &mut Vec<&'t str>) -> bool {
        captures.clear();
        captures.resize(self.captures, "");
        // As MQTT filters do, a wildcard in the first level never matches topics
        // starting with `$` (broker-internal topics).
        if topic.starts_with('$') && !matches!(self.levels.first(), Some(Level::Literal(_))) {
            return false;
        }
        let mut parts = topic.split('/');
        for level in &self.levels {
            match level {
                Level::Rest => return true,
                Level::Literal(text) => {
                    if parts.next() != Some(text.as_str()) {
                        return false;
                    }
                }
                Level::One(capture) => {
                    let Some(part) = parts.next() else {
                        return false;
                    };
                    if let Some(i) = capture {
                        captures[*i] = part;
                    }
                }
            }
        }
        parts.next().is_none()
    }
}

fn is_capture_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Compiles one rule, adding every problem found to `problems`.
pub(crate) fn compile(rule: &Rule, problems: &mut Vec<RuleProblem>) -> Option<Compiled> {
    let before = problems.len();
    let label = if rule.name.is_empty() {
        "(unnamed)".to_string()
    } else {
        rule.name.chars().take(80).collect()
    };
    let mut problem = |field: &str, message: String| {
        problems.push(RuleProblem {
            rule: label.clone(),
            field: field.into(),
            message,
        })
    };
    if rule.name.is_empty()
        || rule.name.chars().count() > 80
        || rule.name.contains(char::is_control)
    {
        problem(
            "name",
            "a rule needs a name of 1 to 80 characters without control characters".into(),
        );
    }

    let mut names: Vec<String> = Vec::new();
    let mut levels = Vec::new();
    if rule.topic.is_empty() || rule.topic.len() > TEMPLATE_CHARS_MAX {
        problem(
            "topic",
            format!("the topic filter must have 1 to {TEMPLATE_CHARS_MAX} bytes"),
        );
    } else {
        let parts: Vec<&str> = rule.topic.split('/').collect();
        if parts.len() > TOPIC_LEVELS_MAX {
            problem(
                "topic",
                format!(
                    "{} levels, at most {TOPIC_LEVELS_MAX} are allowed",
                    parts.len()
                ),
            );
        }
        for (i, part) in parts.iter().enumerate() {
            let level = match *part {
                "#" if i + 1 == parts.len() => Level::Rest,
                "#" => {
                    problem(
                        "topic",
                        format!("'#' may only be the last level, not level {}", i + 1),
                    );
                    continue;
                }
                "+" => Level::One(None),
                _ if part.starts_with('{') && part.ends_with('}') && part.len() >= 2 => {
                    let name = &part[1..part.len() - 1];
                    if !is_capture_name(name) {
                        problem(
                            "topic",
                            format!(
                                "capture '{{{name}}}' needs a name of letters, digits and '_' (at most 64), starting with a letter or '_'"
                            ),
                        );
                        continue;
                    }
                    if names.iter().any(|n| n == name) {
                        problem("topic", format!("capture '{{{name}}}' appears twice"));
                        continue;
                    }
                    names.push(name.to_string());
                    Level::One(Some(names.len() - 1))
                }
                _ if part.contains(['+', '#', '{', '}', '\0']) => {
                    problem(
                        "topic",
                        format!(
                            "level '{part}' mixes text with '+', '#', '{{' or '}}'; a wildcard or capture must be a whole level"
                        ),
                    );
                    continue;
                }
                _ => Level::Literal(part.to_string()),
            };
            levels.push(level);
        }
    }

    let template = |field: &str, text: &str, problem: &mut dyn FnMut(&str, String)| {
        if text.len() > TEMPLATE_CHARS_MAX {
            problem(field, format!("longer than {TEMPLATE_CHARS_MAX} bytes"));
            return None;
        }
        let mut pieces = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            match rest.find('{') {
                None => {
                    if rest.contains('}') {
                        problem(field, format!("'}}' without '{{' in '{text}'"));
                        return None;
                    }
                    pieces.push(Piece::Text(rest.to_string()));
                    rest = "";
                }
                Some(open) => {
                    if rest[..open].contains('}') {
                        problem(field, format!("'}}' without '{{' in '{text}'"));
                        return None;
                    }
                    if open > 0 {
                        pieces.push(Piece::Text(rest[..open].to_string()));
                    }
                    let Some(close) = rest[open..].find('}') else {
                        problem(field, format!("'{{' without '}}' in '{text}'"));
                        return None;
                    };
                    let name = &rest[open + 1..open + close];
                    match names.iter().position(|n| n == name) {
                        Some(i) => pieces.push(Piece::Capture(i)),
                        None => {
                            problem(
                                field,
                                format!(
                                    "'{{{name}}}' is not a capture of the topic filter (captures: {})",
                                    if names.is_empty() {
                                        "none".to_string()
                                    } else {
                                        names.join(", ")
                                    }
                                ),
                            );
                            return None;
                        }
                    }
                    rest = &rest[open + close + 1..];
                }
            }
        }
        Some(Template(pieces))
    };
    let world = template("world", &rule.world, &mut problem);
    if let Some(literal) = world.as_ref().and_then(Template::literal)
        && let Err(error) = world::WorldId::parse(&literal)
    {
        problem("world", error.to_string());
    }
    let twin = template("twin", &rule.twin, &mut problem);
    if twin.as_ref().is_some_and(|t| t.0.is_empty()) {
        problem("twin", "the twin template is empty".into());
    }
    let dead_letter = match &rule.dead_letter {
        Some(text) => {
            let compiled = template("deadLetter", text, &mut problem);
            if text.is_empty() || text.contains(['+', '#', '\0']) {
                problem(
                    "deadLetter",
                    "a dead-letter topic must be non-empty and hold no '+', '#' or NUL".into(),
                );
            }
            compiled
        }
        None => None,
    };

    if rule.values.len() > VALUES_PER_MESSAGE_MAX {
        problem(
            "values",
            format!(
                "{} values, at most {VALUES_PER_MESSAGE_MAX} are allowed",
                rule.values.len()
            ),
        );
    }
    for (i, value) in rule.values.iter().enumerate() {
        if value.pointer.len() > POINTER_CHARS_MAX
            || !(value.pointer.is_empty() || value.pointer.starts_with('/'))
        {
            problem(
                &format!("values[{i}].pointer"),
                format!(
                    "'{}' is no JSON pointer: it must be empty or start with '/', at most {POINTER_CHARS_MAX} bytes",
                    value.pointer.chars().take(80).collect::<String>()
                ),
            );
        }
        if let Some(reason) = bad_name(&value.name) {
            problem(&format!("values[{i}].name"), reason);
        }
        for (field, number) in [("factor", value.factor), ("offset", value.offset)] {
            if number.is_some_and(|n| !n.is_finite()) {
                problem(
                    &format!("values[{i}].{field}"),
                    "must be a finite number".into(),
                );
            }
        }
        if rule.values[..i].iter().any(|v| v.name == value.name) {
            problem(
                &format!("values[{i}].name"),
                format!("'{}' is set twice", value.name),
            );
        }
    }
    if let Some(ts) = &rule.timestamp
        && (ts.pointer.len() > POINTER_CHARS_MAX
            || !(ts.pointer.is_empty() || ts.pointer.starts_with('/')))
    {
        problem(
            "timestamp.pointer",
            "must be a JSON pointer: empty or starting with '/'".into(),
        );
    }

    if problems.len() > before {
        return None;
    }
    Some(Compiled {
        name: rule.name.as_str().into(),
        levels,
        captures: names.len(),
        world: world?,
        twin: twin?,
        values: rule.values.clone(),
        timestamp: rule.timestamp.clone(),
        dead_letter,
    })
}

/// Why a value name cannot be used, if it cannot.
pub(crate) fn bad_name(name: &str) -> Option<String> {
    if name.is_empty() || name.chars().count() > NAME_CHARS_MAX {
        Some(format!(
            "a value name needs 1 to {NAME_CHARS_MAX} characters"
        ))
    } else if name.starts_with('$') {
        Some(format!(
            "'{name}' starts with '$', which marks fields the server keeps"
        ))
    } else if name.contains(char::is_control) {
        Some("a value name may not hold control characters".into())
    } else {
        None
    }
}
