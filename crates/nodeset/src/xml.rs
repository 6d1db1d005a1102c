//! A small XML element tree over `quick-xml` events. NodeSet2 files are read by
//! walking parents and children (a node's `<References>`, a value's nested
//! `<ExtensionObject>`), and every problem names the byte offset of the element it
//! concerns. Element and attribute names keep only their local part, since NodeSet2
//! mixes the UANodeSet and the `uax:` Types namespaces freely.

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};

use crate::error::NodesetError;
use crate::limits::{MAX_BYTES, MAX_DEPTH, MAX_ELEMENTS};

/// One XML element with its attributes, children, direct text and the byte offset
/// of its start tag.
#[derive(Debug, Clone, Default)]
pub(crate) struct Element {
    pub(crate) name: String,
    pub(crate) attributes: Vec<(String, String)>,
    pub(crate) children: Vec<Element>,
    pub(crate) text: String,
    pub(crate) offset: usize,
}

impl Element {
    /// The value of attribute `name`.
    pub(crate) fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The first child called `name`.
    pub(crate) fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|child| child.name == name)
    }

    /// Every child called `name`.
    pub(crate) fn children_named<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |child| child.name == name)
    }

    /// The trimmed text of the first child called `name`, if any.
    pub(crate) fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|child| child.text.trim())
    }
}

fn open(start: &BytesStart<'_>, offset: usize) -> Result<Element, NodesetError> {
    let name = start.local_name().as_ref().to_owned();
    let mut attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|error| NodesetError::Xml {
            offset,
            message: format!("in <{name}>: {error}"),
        })?;
        let key = attribute.key.local_name().as_ref().to_owned();
        let value = attribute
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|error| NodesetError::Xml {
                offset,
                message: format!("attribute `{key}` of <{name}>: {error}"),
            })?
            .into_owned();
        attributes.push((key, value));
    }
    Ok(Element {
        name,
        attributes,
        children: Vec::new(),
        text: String::new(),
        offset,
    })
}

/// Parses `source` into its root element. Refuses malformed XML, documents over
/// [`MAX_BYTES`], nesting over [`MAX_DEPTH`] and more than [`MAX_ELEMENTS`] elements.
pub(crate) fn parse_tree(source: &str) -> Result<Element, NodesetError> {
    if source.len() > MAX_BYTES {
        return Err(NodesetError::Limit {
            what: "document size in bytes",
            limit: MAX_BYTES,
            offset: 0,
        });
    }
    let mut reader = quick_xml::Reader::from_str(source);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let offset = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = reader.read_event().map_err(|error| NodesetError::Xml {
            offset: usize::try_from(reader.error_position()).unwrap_or(usize::MAX),
            message: error.to_string(),
        })?;
        let is_start = matches!(event, Event::Start(_) | Event::Empty(_));
        if is_start {
            if root.is_some() {
                return Err(NodesetError::Xml {
                    offset,
                    message: "a second root element; a NodeSet2 document has exactly one".into(),
                });
            }
            count += 1;
            if count > MAX_ELEMENTS {
                return Err(NodesetError::Limit {
                    what: "number of elements",
                    limit: MAX_ELEMENTS,
                    offset,
                });
            }
            if stack.len() >= MAX_DEPTH {
                return Err(NodesetError::Limit {
                    what: "element nesting depth",
                    limit: MAX_DEPTH,
                    offset,
                });
            }
        }
        match event {
            Event::Start(start) => stack.push(open(&start, offset)?),
            Event::Empty(start) => {
                let element = open(&start, offset)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::End(_) => {
                let Some(element) = stack.pop() else {
                    return Err(NodesetError::Xml {
                        offset,
                        message: "end tag without a start tag".into(),
                    });
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::Text(text) => {
                if let Some(parent) = stack.last_mut() {
                    parent.text.push_str(&text.xml10_content());
                }
            }
            Event::GeneralRef(reference) => {
                // quick-xml reports entity references apart from text; resolve the
                // five predefined ones and character references, refuse the rest.
                if let Some(parent) = stack.last_mut() {
                    let name = reference.as_ref().to_owned();
                    let resolved = match name.as_str() {
                        "amp" => Some('&'),
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "quot" => Some('"'),
                        "apos" => Some('\''),
                        _ => reference.resolve_char_ref().ok().flatten(),
                    };
                    match resolved {
                        Some(character) => parent.text.push(character),
                        None => {
                            return Err(NodesetError::Xml {
                                offset,
                                message: format!(
                                    "unknown entity `&{name};`; only the predefined XML entities and character references are allowed"
                                ),
                            });
                        }
                    }
                }
            }
            Event::CData(data) => {
                if let Some(parent) = stack.last_mut() {
                    parent.text.push_str(data.as_ref());
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(NodesetError::Xml {
            offset: source.len(),
            message: format!(
                "document ends inside <{}>, which is never closed",
                open.name
            ),
        });
    }
    root.ok_or(NodesetError::Xml {
        offset: 0,
        message: "no root element; expected <UANodeSet>".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_tree_with_local_names_and_entities() {
        let root =
            parse_tree("<a xmlns:u=\"x\"><u:b k=\"&amp;\">x &lt; y</u:b></a>").expect("valid");
        let b = root.child("b").expect("child b");
        assert_eq!(b.attribute("k"), Some("&"));
        assert_eq!(b.text, "x < y");
    }

    #[test]
    fn refuses_broken_documents() {
        for source in ["<a><b></a>", "<a>", "", "<a/><b/>", "<a>&bogus;</a>"] {
            assert!(parse_tree(source).is_err(), "{source:?} should be refused");
        }
        let deep = "<a>".repeat(MAX_DEPTH + 1);
        assert!(matches!(parse_tree(&deep), Err(NodesetError::Limit { .. })));
    }
}
