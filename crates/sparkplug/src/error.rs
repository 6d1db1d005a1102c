//! The crate's one error type: what was wrong with a topic, a payload or a command,
//! where, and what is allowed.

/// Everything that can be refused while reading Sparkplug topics and payloads or
/// building commands.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SparkplugError {
    #[error("topic '{topic}' is not a Sparkplug B topic: {reason}")]
    Topic { topic: String, reason: &'static str },
    #[error("payload of {bytes} bytes is over the limit of {limit} bytes")]
    PayloadTooLarge { bytes: usize, limit: usize },
    #[error("payload is not a Sparkplug B protobuf: {reason}")]
    Protobuf { reason: String },
    #[error("payload has {count} {what}, over the limit of {limit}")]
    TooMany {
        what: &'static str,
        count: usize,
        limit: usize,
    },
    #[error(
        "payload nests templates, data sets or property sets {depth} deep, over the limit of {limit}"
    )]
    TooDeep { depth: usize, limit: usize },
    #[error("compressed payload: {reason}")]
    Compression { reason: String },
    #[error("metric '{metric}': {reason}")]
    Metric { metric: String, reason: String },
    #[error("twin id '{id}' does not follow the template '{template}': {reason}")]
    TwinId {
        id: String,
        template: String,
        reason: &'static str,
    },
    #[error("twin id template '{template}' is invalid: {reason}")]
    Template {
        template: String,
        reason: &'static str,
    },
}
