//! Twin ids for edge nodes and devices, from a template such as `{group}.{edge}`
//! and `{group}.{edge}.{device}`. Ids are escaped reversibly: `%`, control
//! characters and every character of the template's literal text are written as
//! `%XX` (UTF-8 bytes), so the literals separate the parts unambiguously and
//! [`TwinIds::parse`] gives back the group, edge and device.

use crate::SparkplugError;

/// The default template for an edge node's twin.
pub const DEFAULT_NODE_TEMPLATE: &str = "{group}.{edge}";
/// The default template for a device's twin.
pub const DEFAULT_DEVICE_TEMPLATE: &str = "{group}.{edge}.{device}";

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Literal(String),
    Group,
    Edge,
    Device,
}

/// Compiled node and device twin-id templates.
#[derive(Debug, Clone, PartialEq)]
pub struct TwinIds {
    node: Vec<Piece>,
    device: Vec<Piece>,
    node_text: String,
    device_text: String,
    escaped: Vec<char>,
}

impl Default for TwinIds {
    fn default() -> Self {
        // The default templates are valid, as the unit tests check.
        TwinIds::new(DEFAULT_NODE_TEMPLATE, DEFAULT_DEVICE_TEMPLATE)
            .unwrap_or_else(|_| unreachable!())
    }
}

impl TwinIds {
    /// Compiles templates. The node template must hold `{group}` and `{edge}` once
    /// each, the device template also `{device}`; placeholders must be separated by
    /// literal text (so the id splits back), which must not contain `%`.
    pub fn new(node: &str, device: &str) -> Result<TwinIds, SparkplugError> {
        let node_pieces = compile(node, false)?;
        let device_pieces = compile(device, true)?;
        let mut escaped: Vec<char> = vec!['%'];
        for p in node_pieces.iter().chain(&device_pieces) {
            if let Piece::Literal(l) = p {
                escaped.extend(l.chars());
            }
        }
        escaped.sort_unstable();
        escaped.dedup();
        Ok(TwinIds {
            node: node_pieces,
            device: device_pieces,
            node_text: node.into(),
            device_text: device.into(),
            escaped,
        })
    }

    /// The twin id of an edge node (`device` `None`) or of one of its devices.
    pub fn id(&self, group: &str, edge: &str, device: Option<&str>) -> String {
        let pieces = if device.is_some() {
            &self.device
        } else {
            &self.node
        };
        let mut out = String::new();
        for p in pieces {
            match p {
                Piece::Literal(l) => out.push_str(l),
                Piece::Group => self.escape_into(group, &mut out),
                Piece::Edge => self.escape_into(edge, &mut out),
                Piece::Device => self.escape_into(device.unwrap_or_default(), &mut out),
            }
        }
        out
    }

    /// Splits a twin id back into group, edge and device (tried as a device id
    /// first, then as a node id).
    pub fn parse(&self, id: &str) -> Result<(String, String, Option<String>), SparkplugError> {
        if let Some((g, e, d)) = self.split(&self.device, id) {
            return Ok((g, e, Some(d)));
        }
        if let Some((g, e, _)) = self.split(&self.node, id) {
            return Ok((g, e, None));
        }
        Err(SparkplugError::TwinId {
            id: id.into(),
            template: format!("{} | {}", self.node_text, self.device_text),
            reason: "it matches neither template, or holds a malformed %XX escape",
        })
    }

    fn split(&self, pieces: &[Piece], id: &str) -> Option<(String, String, String)> {
        let (mut group, mut edge, mut device) = (None, None, String::new());
        let mut rest = id;
        for (i, p) in pieces.iter().enumerate() {
            let part = match p {
                Piece::Literal(l) => {
                    rest = rest.strip_prefix(l.as_str())?;
                    continue;
                }
                _ => match pieces.get(i + 1) {
                    Some(Piece::Literal(next)) => {
                        let at = rest.find(next.as_str())?;
                        let (part, tail) = rest.split_at(at);
                        rest = tail;
                        part
                    }
                    _ => std::mem::take(&mut rest),
                },
            };
            let part = unescape(part)?;
            if part.is_empty() {
                return None;
            }
            match p {
                Piece::Group => group = Some(part),
                Piece::Edge => edge = Some(part),
                _ => device = part,
            }
        }
        rest.is_empty().then_some(())?;
        Some((group?, edge?, device))
    }

    fn escape_into(&self, s: &str, out: &mut String) {
        for c in s.chars() {
            if c.is_control() || self.escaped.binary_search(&c).is_ok() {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            } else {
                out.push(c);
            }
        }
    }
}

fn unescape(s: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(s.len());
    let mut it = s.bytes();
    while let Some(b) = it.next() {
        if b == b'%' {
            let hex = [it.next()?, it.next()?];
            bytes.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            bytes.push(b);
        }
    }
    String::from_utf8(bytes).ok()
}

fn compile(template: &str, device: bool) -> Result<Vec<Piece>, SparkplugError> {
    let fail = |reason| SparkplugError::Template {
        template: template.into(),
        reason,
    };
    let mut pieces = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('{') {
            let end = after.find('}').ok_or_else(|| fail("a '{' is not closed"))?;
            pieces.push(match &after[..end] {
                "group" => Piece::Group,
                "edge" => Piece::Edge,
                "device" if device => Piece::Device,
                _ => {
                    return Err(fail(
                        "placeholders are {group}, {edge} and (device template only) {device}",
                    ));
                }
            });
            rest = &after[end + 1..];
        } else {
            let end = rest.find('{').unwrap_or(rest.len());
            if rest[..end].contains(['%', '}']) {
                return Err(fail("literal text must not contain '%' or '}'"));
            }
            pieces.push(Piece::Literal(rest[..end].to_string()));
            rest = &rest[end..];
        }
    }
    let count = |want: &Piece| pieces.iter().filter(|p| *p == want).count();
    if count(&Piece::Group) != 1
        || count(&Piece::Edge) != 1
        || count(&Piece::Device) != usize::from(device)
    {
        return Err(fail(
            "the node template needs {group} and {edge} once; the device template also {device} once",
        ));
    }
    if pieces
        .windows(2)
        .any(|w| !matches!(w[0], Piece::Literal(_)) && !matches!(w[1], Piece::Literal(_)))
    {
        return Err(fail("placeholders must be separated by literal text"));
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_escape_and_parse_back() {
        let ids = TwinIds::default();
        assert_eq!(ids.id("plant", "edge1", None), "plant.edge1");
        assert_eq!(
            ids.id("plant", "edge1", Some("press 7")),
            "plant.edge1.press 7"
        );
        let tricky = ids.id("a.b", "50%", Some("x\ny.z"));
        assert_eq!(tricky, "a%2Eb.50%25.x%0Ay%2Ez");
        assert_eq!(
            ids.parse(&tricky).unwrap(),
            ("a.b".into(), "50%".into(), Some("x\ny.z".into()))
        );
        assert_eq!(
            ids.parse("plant.edge1").unwrap(),
            ("plant".into(), "edge1".into(), None)
        );
        assert!(ids.parse("plant").is_err());
        assert!(ids.parse("a.b.%zz").is_err());
    }

    #[test]
    fn custom_templates_and_their_errors() {
        let ids = TwinIds::new("sp:{edge}@{group}", "sp:{edge}/{device}@{group}").unwrap();
        let id = ids.id("g@1", "e/2", Some("d:3"));
        assert_eq!(
            ids.parse(&id).unwrap(),
            ("g@1".into(), "e/2".into(), Some("d:3".into()))
        );
        assert!(TwinIds::new("{group}{edge}", DEFAULT_DEVICE_TEMPLATE).is_err());
        assert!(TwinIds::new("{group}.{edge}.{device}", DEFAULT_DEVICE_TEMPLATE).is_err());
        assert!(TwinIds::new("{group}.{edge}", "{group}.{edge}").is_err());
        assert!(TwinIds::new("{group}%{edge}", DEFAULT_DEVICE_TEMPLATE).is_err());
    }
}
