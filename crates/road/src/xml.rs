//! A small element tree built from `quick-xml` events, so that the OpenDRIVE reader
//! can walk parents and children freely and report every problem with the byte
//! position of the element it concerns. OpenDRIVE carries its data in attributes;
//! text content is kept only as each element's concatenated `text` (used for
//! `geoReference`), comments and processing instructions are dropped.

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};

use crate::error::{Location, RoadError};

/// Deepest element nesting accepted. Real OpenDRIVE files nest about eight levels
/// (`OpenDRIVE/road/lanes/laneSection/left/lane/roadMark/type/line`); a bound keeps a
/// hostile document from exhausting memory through the element stack.
pub const MAX_DEPTH: usize = 64;

/// Most elements accepted in one document. The largest esmini network has ~20,000;
/// this leaves room for whole cities while refusing billion-laughs-sized inputs.
pub const MAX_ELEMENTS: usize = 5_000_000;

/// One XML element: its name, its attributes in document order, its children and
/// the byte offset of its start tag in the source.
#[derive(Debug, Clone)]
pub(crate) struct Element {
    pub(crate) name: String,
    pub(crate) attributes: Vec<(String, String)>,
    pub(crate) children: Vec<Element>,
    pub(crate) offset: usize,
    /// Text and CDATA directly inside the element, concatenated.
    pub(crate) text: String,
}

impl Element {
    /// The value of attribute `name`, if present.
    pub(crate) fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The first child called `name`.
    #[cfg(test)]
    pub(crate) fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|child| child.name == name)
    }
}

/// Line and column (both 1-based, column counted in characters) of a byte offset.
pub(crate) fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    // Step back to a character boundary so slicing cannot panic on a bad offset.
    let mut end = offset;
    while end > 0 && !source.is_char_boundary(end) {
        end -= 1;
    }
    let before = &source[..end];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |index| index + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

fn start_element(
    source: &str,
    start: &BytesStart<'_>,
    offset: usize,
    path: &str,
) -> Result<Element, RoadError> {
    let name = start.local_name().as_ref().to_owned();
    let mut attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|error| RoadError::Xml {
            at: Location::new(source, offset, format!("{path}/{name}")),
            message: error.to_string(),
        })?;
        let key = attribute.key.local_name().as_ref().to_owned();
        let value = attribute
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|error| RoadError::Xml {
                at: Location::new(source, offset, format!("{path}/{name}")),
                message: format!("attribute `{key}`: {error}"),
            })?
            .into_owned();
        attributes.push((key, value));
    }
    Ok(Element {
        name,
        attributes,
        children: Vec::new(),
        offset,
        text: String::new(),
    })
}

fn stack_path(stack: &[Element]) -> String {
    let mut path = String::new();
    for element in stack {
        path.push('/');
        path.push_str(&element.name);
    }
    path
}

/// Parses `source` into its root element, refusing malformed XML, more than one
/// root, nesting deeper than [`MAX_DEPTH`] and more than [`MAX_ELEMENTS`] elements.
pub(crate) fn parse_tree(source: &str) -> Result<Element, RoadError> {
    let mut reader = quick_xml::Reader::from_str(source);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let before = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = reader.read_event().map_err(|error| {
            let offset = usize::try_from(reader.error_position()).unwrap_or(usize::MAX);
            RoadError::Xml {
                at: Location::new(source, offset, stack_path(&stack)),
                message: error.to_string(),
            }
        })?;
        // The start tag begins at the first `<` after the previous event's end.
        let offset = source
            .get(before..)
            .and_then(|rest| rest.find('<'))
            .map_or(before, |index| before + index);
        match event {
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(RoadError::Xml {
                    at: Location::new(source, offset, String::new()),
                    message: "a second root element after the document's root; \
                              an XML document has exactly one"
                        .into(),
                });
            }
            Event::Start(start) => {
                count += 1;
                if stack.len() >= MAX_DEPTH || count > MAX_ELEMENTS {
                    return Err(RoadError::Limit {
                        at: Location::new(source, offset, stack_path(&stack)),
                        what: if stack.len() >= MAX_DEPTH {
                            "element nesting depth"
                        } else {
                            "number of elements"
                        },
                        limit: if stack.len() >= MAX_DEPTH {
                            MAX_DEPTH
                        } else {
                            MAX_ELEMENTS
                        },
                    });
                }
                let element = start_element(source, &start, offset, &stack_path(&stack))?;
                stack.push(element);
            }
            Event::Empty(start) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(RoadError::Limit {
                        at: Location::new(source, offset, stack_path(&stack)),
                        what: "number of elements",
                        limit: MAX_ELEMENTS,
                    });
                }
                let element = start_element(source, &start, offset, &stack_path(&stack))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::End(_) => {
                // quick-xml has checked that the end tag matches its start tag.
                let Some(element) = stack.pop() else {
                    return Err(RoadError::Xml {
                        at: Location::new(source, offset, String::new()),
                        message: "end tag without a start tag".into(),
                    });
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::Text(text) => {
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&text.xml10_content());
                }
            }
            Event::CData(data) => {
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&data.xml10_content());
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(RoadError::Xml {
            at: Location::new(source, source.len(), stack_path(&stack)),
            message: format!(
                "document ends inside <{}>, which is never closed",
                open.name
            ),
        });
    }
    root.ok_or_else(|| RoadError::Xml {
        at: Location::new(source, 0, String::new()),
        message: "no root element; expected <OpenDRIVE>".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_tree_with_offsets() {
        let source = "<?xml version=\"1.0\"?>\n<a x=\"1\">\n  <b y=\"&amp;\"/>\n</a>";
        let root = parse_tree(source).expect("valid");
        assert_eq!(root.name, "a");
        assert_eq!(root.attribute("x"), Some("1"));
        let b = root.child("b").expect("child");
        assert_eq!(b.attribute("y"), Some("&"));
        assert_eq!(line_column(source, b.offset), (3, 3));
    }

    #[test]
    fn refuses_unclosed_and_mismatched() {
        assert!(parse_tree("<a><b></a>").is_err());
        assert!(parse_tree("<a>").is_err());
        assert!(parse_tree("").is_err());
        assert!(parse_tree("<a/><b/>").is_err());
    }

    #[test]
    fn refuses_deep_nesting() {
        let source = "<a>".repeat(MAX_DEPTH + 1);
        match parse_tree(&source) {
            Err(RoadError::Limit { .. }) => {}
            other => panic!("expected a depth limit error, got {other:?}"),
        }
    }
}
