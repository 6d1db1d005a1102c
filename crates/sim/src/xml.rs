//! A small read-only element tree built with quick-xml. OpenSCENARIO carries
//! everything in element names and attributes, so text content is dropped; every
//! element keeps its line and column so later errors can point at it.

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};

use crate::error::{Error, Location, Result};

/// Largest scenario or catalog text accepted. Real scenarios are a few hundred KB;
/// 64 MiB leaves room for long trajectories while bounding memory for hostile input.
pub(crate) const MAX_INPUT_BYTES: usize = 64 << 20;
/// Deepest element nesting accepted. The OpenSCENARIO schema nests about 15 deep;
/// the bound keeps recursive walks over the tree from exhausting the stack.
pub(crate) const MAX_DEPTH: usize = 100;
/// Most elements in one file, bounding the tree's memory for hostile input.
pub(crate) const MAX_ELEMENTS: usize = 2_000_000;

/// One XML element with its attributes (entity-unescaped) and child elements.
#[derive(Debug, Clone)]
pub(crate) struct Element {
    pub(crate) name: String,
    pub(crate) attributes: Vec<(String, String)>,
    pub(crate) children: Vec<Element>,
    pub(crate) line: u32,
    pub(crate) column: u32,
}

impl Element {
    pub(crate) fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub(crate) fn children_named<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
}

/// Converts byte offsets to line/column, walking forward only (offsets arrive in
/// increasing order while reading), so the whole file is scanned once.
struct LineCounter<'a> {
    text: &'a [u8],
    offset: usize,
    line: u32,
    line_start: usize,
}

impl LineCounter<'_> {
    fn at(&mut self, offset: usize) -> (u32, u32) {
        let offset = offset.min(self.text.len());
        if offset < self.offset {
            // Out-of-order request (only for error positions): count from the start.
            self.offset = 0;
            self.line = 1;
            self.line_start = 0;
        }
        for (i, b) in self.text[self.offset..offset].iter().enumerate() {
            if *b == b'\n' {
                self.line += 1;
                self.line_start = self.offset + i + 1;
            }
        }
        self.offset = offset;
        let column = u32::try_from(offset - self.line_start + 1).unwrap_or(u32::MAX);
        (self.line, column)
    }
}

/// Parses `text` (named `file` in errors) into its root element.
pub(crate) fn parse(text: &str, file: &str) -> Result<Element> {
    let loc = |line, column| Location {
        file: file.to_string(),
        line,
        column,
    };
    if text.len() > MAX_INPUT_BYTES {
        return Err(Error::Limit {
            message: format!(
                "file is {} bytes; at most {MAX_INPUT_BYTES} are accepted",
                text.len()
            ),
            at: loc(1, 1),
        });
    }
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut lines = LineCounter {
        text: text.as_bytes(),
        offset: 0,
        line: 1,
        line_start: 0,
    };
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let event = match reader.read_event() {
            Ok(e) => e,
            Err(err) => {
                let offset = usize::try_from(reader.error_position()).unwrap_or(0);
                let (l, c) = lines.at(offset);
                return Err(Error::Xml {
                    at: loc(l, c),
                    message: err.to_string(),
                });
            }
        };
        let end = usize::try_from(reader.buffer_position()).unwrap_or(0);
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                let is_empty = matches!(event, Event::Empty(_));
                // The tag begins at the last `<` before the reader's position: `<` may
                // not appear unescaped inside attribute values, so this is exact.
                let tag_start = text.get(..end).and_then(|t| t.rfind('<')).unwrap_or(0);
                let (line, column) = lines.at(tag_start);
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(Error::Limit {
                        message: format!("more than {MAX_ELEMENTS} elements"),
                        at: loc(line, column),
                    });
                }
                let element = element_from(start, line, column, file)?;
                if is_empty {
                    attach(&mut stack, &mut root, element, &loc(line, column))?;
                } else {
                    if stack.len() >= MAX_DEPTH {
                        return Err(Error::Limit {
                            message: format!("elements nested deeper than {MAX_DEPTH}"),
                            at: loc(line, column),
                        });
                    }
                    stack.push(element);
                }
            }
            Event::End(_) => {
                let (line, column) = lines.at(end);
                let Some(done) = stack.pop() else {
                    return Err(Error::Xml {
                        at: loc(line, column),
                        message: "closing tag without an opening tag".into(),
                    });
                };
                attach(&mut stack, &mut root, done, &loc(line, column))?;
            }
            Event::Eof => break,
            // Declarations, comments, processing instructions, text and CDATA carry
            // nothing that OpenSCENARIO defines.
            _ => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(Error::Xml {
            at: loc(open.line, open.column),
            message: format!("<{}> is never closed", open.name),
        });
    }
    root.ok_or_else(|| Error::Xml {
        at: loc(1, 1),
        message: "no root element".into(),
    })
}

fn attach(
    stack: &mut [Element],
    root: &mut Option<Element>,
    element: Element,
    at: &Location,
) -> Result<()> {
    if let Some(parent) = stack.last_mut() {
        parent.children.push(element);
        Ok(())
    } else if root.is_none() {
        *root = Some(element);
        Ok(())
    } else {
        Err(Error::Xml {
            at: at.clone(),
            message: format!("second root element <{}>", element.name),
        })
    }
}

fn element_from(start: &BytesStart<'_>, line: u32, column: u32, file: &str) -> Result<Element> {
    let at = || Location {
        file: file.to_string(),
        line,
        column,
    };
    let name = start.local_name().as_ref().to_string();
    let mut attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| Error::Xml {
            at: at(),
            message: e.to_string(),
        })?;
        let key = attribute.key.local_name().as_ref().to_string();
        let value = attribute
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| Error::Xml {
                at: at(),
                message: e.to_string(),
            })?
            .into_owned();
        attributes.push((key, value));
    }
    Ok(Element {
        name,
        attributes,
        children: Vec::new(),
        line,
        column,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_and_attributes() {
        let root = parse(
            "<?xml version=\"1.0\"?>\n<A x=\"1 &amp; 2\">\n  <B/>\n  <C y='z'></C>\n</A>",
            "f.xosc",
        )
        .unwrap();
        assert_eq!(root.name, "A");
        assert_eq!(root.attribute("x"), Some("1 & 2"));
        assert_eq!((root.line, root.column), (2, 1));
        assert_eq!(root.children.len(), 2);
        assert_eq!((root.children[0].line, root.children[0].column), (3, 3));
        assert_eq!(root.children[1].attribute("y"), Some("z"));
    }

    #[test]
    fn malformed_xml_reports_position() {
        let err = parse("<A>\n <B>\n</A>", "bad.xosc").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("bad.xosc:"), "{text}");
        assert!(matches!(err, Error::Xml { .. }));
        assert!(parse("<A>", "x").is_err());
        assert!(parse("", "x").is_err());
        assert!(parse("<A/><B/>", "x").is_err());
    }

    #[test]
    fn depth_is_bounded() {
        let text = "<A>".repeat(MAX_DEPTH + 5) + &"</A>".repeat(MAX_DEPTH + 5);
        assert!(matches!(parse(&text, "deep"), Err(Error::Limit { .. })));
    }
}
