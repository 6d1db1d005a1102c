//! The Sparkplug B topic namespace (3.0, chapter 4): `spBv1.0/{group}/{type}/{edge}[/{device}]`
//! for edge-node and device messages and `spBv1.0/STATE/{host_id}` for host
//! applications. Parsing refuses every other shape with the reason.

use crate::SparkplugError;

/// The namespace element every Sparkplug B topic starts with.
pub const NAMESPACE: &str = "spBv1.0";

/// The longest topic we parse. MQTT allows 65,535 bytes, but Sparkplug ids are short
/// names; a bound keeps every id we store small.
pub const TOPIC_BYTES_MAX: usize = 1024;

/// The kind of message a topic carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    NBirth,
    NDeath,
    DBirth,
    DDeath,
    NData,
    DData,
    NCmd,
    DCmd,
}

impl MessageType {
    /// The topic element for this kind (`NBIRTH`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::NBirth => "NBIRTH",
            MessageType::NDeath => "NDEATH",
            MessageType::DBirth => "DBIRTH",
            MessageType::DDeath => "DDEATH",
            MessageType::NData => "NDATA",
            MessageType::DData => "DDATA",
            MessageType::NCmd => "NCMD",
            MessageType::DCmd => "DCMD",
        }
    }

    fn parse(s: &str) -> Option<MessageType> {
        Some(match s {
            "NBIRTH" => MessageType::NBirth,
            "NDEATH" => MessageType::NDeath,
            "DBIRTH" => MessageType::DBirth,
            "DDEATH" => MessageType::DDeath,
            "NDATA" => MessageType::NData,
            "DDATA" => MessageType::DData,
            "NCMD" => MessageType::NCmd,
            "DCMD" => MessageType::DCmd,
            _ => return None,
        })
    }

    /// Whether this kind is about a device (and so has a device id in its topic).
    pub fn is_device(self) -> bool {
        matches!(
            self,
            MessageType::DBirth | MessageType::DDeath | MessageType::DData | MessageType::DCmd
        )
    }
}

/// A parsed Sparkplug B topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topic {
    /// A message from or to an edge node or one of its devices.
    Node {
        group: String,
        kind: MessageType,
        edge: String,
        device: Option<String>,
    },
    /// A host application's STATE message (3.0).
    State { host_id: String },
}

impl Topic {
    /// Parses a topic, refusing anything outside the Sparkplug B namespace.
    pub fn parse(topic: &str) -> Result<Topic, SparkplugError> {
        let fail = |reason| SparkplugError::Topic {
            topic: topic.chars().take(TOPIC_BYTES_MAX).collect(),
            reason,
        };
        if topic.len() > TOPIC_BYTES_MAX {
            return Err(fail("longer than 1024 bytes"));
        }
        let mut parts = topic.split('/');
        if parts.next() != Some(NAMESPACE) {
            return Err(fail("it must start with 'spBv1.0/'"));
        }
        let parts: Vec<&str> = parts.collect();
        if parts.iter().any(|p| p.contains(['+', '#'])) {
            return Err(fail("ids must not contain the wildcards '+' or '#'"));
        }
        if parts.first() == Some(&"STATE") {
            return match parts.as_slice() {
                [_, host] if valid_id(host) => Ok(Topic::State {
                    host_id: (*host).to_string(),
                }),
                _ => Err(fail(
                    "a STATE topic is 'spBv1.0/STATE/{host_id}' with a non-empty host id",
                )),
            };
        }
        let (group, kind, edge, device) = match parts.as_slice() {
            [group, kind, edge] => (*group, *kind, *edge, None),
            [group, kind, edge, device] => (*group, *kind, *edge, Some(*device)),
            _ => {
                return Err(fail(
                    "it must be 'spBv1.0/{group}/{type}/{edge}' or 'spBv1.0/{group}/{type}/{edge}/{device}'",
                ));
            }
        };
        let kind = MessageType::parse(kind).ok_or_else(|| {
            fail("the message type must be NBIRTH, NDEATH, DBIRTH, DDEATH, NDATA, DDATA, NCMD or DCMD")
        })?;
        if !valid_id(group) || !valid_id(edge) || device.is_some_and(|d| !valid_id(d)) {
            return Err(fail("group, edge node and device ids must not be empty"));
        }
        if kind.is_device() != device.is_some() {
            return Err(fail(
                "device messages (D…) need a device id and node messages (N…) must not have one",
            ));
        }
        Ok(Topic::Node {
            group: group.to_string(),
            kind,
            edge: edge.to_string(),
            device: device.map(str::to_string),
        })
    }

    /// The topic as text.
    pub fn to_topic_string(&self) -> String {
        match self {
            Topic::State { host_id } => format!("{NAMESPACE}/STATE/{host_id}"),
            Topic::Node {
                group,
                kind,
                edge,
                device: None,
            } => {
                format!("{NAMESPACE}/{group}/{}/{edge}", kind.as_str())
            }
            Topic::Node {
                group,
                kind,
                edge,
                device: Some(d),
            } => {
                format!("{NAMESPACE}/{group}/{}/{edge}/{d}", kind.as_str())
            }
        }
    }
}

fn valid_id(s: &str) -> bool {
    !s.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_node_device_and_state_topics() {
        let t = Topic::parse("spBv1.0/plant/DDATA/edge1/press7").unwrap();
        assert_eq!(
            t,
            Topic::Node {
                group: "plant".into(),
                kind: MessageType::DData,
                edge: "edge1".into(),
                device: Some("press7".into())
            }
        );
        assert_eq!(t.to_topic_string(), "spBv1.0/plant/DDATA/edge1/press7");
        let t = Topic::parse("spBv1.0/plant/NBIRTH/edge1").unwrap();
        assert_eq!(t.to_topic_string(), "spBv1.0/plant/NBIRTH/edge1");
        assert_eq!(
            Topic::parse("spBv1.0/STATE/scada").unwrap(),
            Topic::State {
                host_id: "scada".into()
            }
        );
    }

    #[test]
    fn refuses_invalid_topics_with_reasons() {
        for (topic, words) in [
            ("spAv1.0/g/NDATA/e", "start with"),
            ("spBv1.0/g/NDATA", "must be"),
            ("spBv1.0/g/NDATA/e/d/x", "must be"),
            ("spBv1.0/g/XDATA/e", "message type"),
            ("spBv1.0/g/DDATA/e", "device id"),
            ("spBv1.0/g/NDATA/e/d", "device id"),
            ("spBv1.0//NDATA/e", "must not be empty"),
            ("spBv1.0/g/NDATA/+", "wildcards"),
            ("spBv1.0/STATE", "STATE topic"),
            ("spBv1.0/STATE/a/b", "STATE topic"),
        ] {
            let err = Topic::parse(topic).unwrap_err().to_string();
            assert!(err.contains(words), "{topic}: {err}");
        }
        assert!(Topic::parse(&"spBv1.0/g/NDATA/".repeat(200)).is_err());
    }
}
