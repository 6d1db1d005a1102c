//! The XML form (the `https://admin-shell.io/aas/3/0` namespace, schema
//! `AAS.xsd`): a small element tree built with quick-xml, which the per-class
//! readers walk, and a writer that emits strict 3.0 XML.
//!
//! Reading accepts the 3.0 namespace; lenient reading also accepts 3.1 and 3.2
//! documents (with a warning) so that newer templates can be imported. Text is
//! kept exactly as written (entities resolved, line ends normalised as XML
//! requires); property order is not enforced on reading (the official readers do
//! not either) but is always the schema's on writing.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

use crate::Class;
use crate::ReadOptions;
use crate::codec::{MAX_DEPTH, Reader};
use crate::error::{ReadError, Warning};

/// The metamodel 3.0 namespace, the only one Twinspace writes.
pub const NAMESPACE_3_0: &str = "https://admin-shell.io/aas/3/0";
/// The 3.1 namespace, read leniently.
pub const NAMESPACE_3_1: &str = "https://admin-shell.io/aas/3/1";
/// The 3.2 namespace, read leniently.
pub const NAMESPACE_3_2: &str = "https://admin-shell.io/aas/3/2";

/// One element: its local name, its text and its child elements. Internal to
/// the readers; public only because the sealed [`Class`] trait names it.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct XmlElement {
    pub(crate) name: String,
    pub(crate) text: String,
    pub(crate) children: Vec<XmlElement>,
    /// The first attribute other than a namespace declaration, if any; the
    /// schema defines no attributes.
    pub(crate) attribute: Option<String>,
}

impl XmlElement {
    /// The text of an element that must hold only text.
    pub(crate) fn text_only(&self, reader: &Reader) -> Result<String, ReadError> {
        match self.children.first() {
            None => Ok(self.text.clone()),
            Some(child) => Err(reader.wrong_type("text", format!("the element '{}'", child.name))),
        }
    }

    /// Refuses text (other than whitespace between elements) in an element that
    /// holds elements.
    pub(crate) fn no_text(&self, reader: &Reader, allowed: &'static str) -> Result<(), ReadError> {
        let text = self.text.trim();
        if text.is_empty() {
            Ok(())
        } else {
            Err(reader.wrong_type(
                allowed,
                format!("the text {:?}", crate::codec::truncate(text)),
            ))
        }
    }

    pub(crate) fn no_attributes(&self, reader: &mut Reader) -> Result<(), ReadError> {
        match &self.attribute {
            None => Ok(()),
            Some(name) if reader.lenient() => {
                reader.warn(format!(
                    "ignored the attribute '{name}'; the metamodel defines none"
                ));
                Ok(())
            }
            Some(name) => Err(ReadError::Shape {
                path: reader.path(),
                message: format!(
                    "has the attribute '{name}'; the metamodel's XML has no attributes"
                ),
            }),
        }
    }
}

/// Reads one metamodel value (an [`Environment`](crate::Environment), an
/// [`EventPayload`](crate::EventPayload), a [`Submodel`](crate::Submodel), …)
/// from an XML document whose root element is that class.
pub fn from_str<T: Class>(text: &str) -> Result<T, ReadError> {
    from_str_with(text, ReadOptions::STRICT).map(|(value, _)| value)
}

/// Like [`from_str`], with the given strictness; returns what lenient reading
/// skipped or tolerated.
pub fn from_str_with<T: Class>(
    text: &str,
    options: ReadOptions,
) -> Result<(T, Vec<Warning>), ReadError> {
    let mut reader = Reader::new(options);
    let root = parse_tree(text, &mut reader)?;
    let value = T::read_xml_item(&root, &mut reader)?;
    let warnings = reader.finish(root.children.len(), &root.name)?;
    Ok((value, warnings))
}

/// Like [`from_str_with`], for bytes (a request body, a package part), which
/// must be UTF-8.
pub fn from_slice_with<T: Class>(
    bytes: &[u8],
    options: ReadOptions,
) -> Result<(T, Vec<Warning>), ReadError> {
    let text = std::str::from_utf8(bytes).map_err(|err| ReadError::Encoding {
        position: err.valid_up_to(),
    })?;
    from_str_with(text, options)
}

/// Writes a metamodel value as a strict 3.0 XML document (UTF-8, tab-indented,
/// properties in the schema's order).
pub fn to_string<T: Class>(value: &T) -> String {
    let mut writer = XmlWriter::new();
    writer.root_namespace = true;
    value.write_xml_item(&mut writer);
    writer.out
}

fn resolve_entity(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => None,
    }
}

fn syntax(reader: &quick_xml::NsReader<&[u8]>, message: String) -> ReadError {
    ReadError::XmlSyntax {
        position: reader.error_position(),
        message,
    }
}

/// Builds the element tree, checking namespaces and the nesting limit.
fn parse_tree(text: &str, reader: &mut Reader) -> Result<XmlElement, ReadError> {
    let mut xml = quick_xml::NsReader::from_reader(text.as_bytes());
    xml.config_mut().check_end_names = true;
    let mut stack: Vec<XmlElement> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut root: Option<XmlElement> = None;
    // The namespace the root declares; every element must share it.
    let mut namespace: Option<String> = None;
    loop {
        let (resolved, event) = match xml.read_resolved_event() {
            Ok(pair) => pair,
            Err(err) => {
                let message = err.to_string();
                return Err(syntax(&xml, message));
            }
        };
        let element_namespace = match &resolved {
            ResolveResult::Bound(ns) => Some(ns.0.to_owned()),
            ResolveResult::Unbound => None,
            ResolveResult::Unknown(prefix) => {
                return Err(syntax(
                    &xml,
                    format!("the namespace prefix '{prefix}' is not declared"),
                ));
            }
        };
        match event {
            Event::Start(start) => {
                let element = open_element(
                    &start,
                    &xml,
                    element_namespace.as_deref(),
                    &mut namespace,
                    &names,
                    reader,
                )?;
                if root.is_some() {
                    return Err(syntax(
                        &xml,
                        "a second root element; a document has exactly one".to_owned(),
                    ));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(ReadError::TooDeep {
                        path: names.join("."),
                        limit: MAX_DEPTH,
                    });
                }
                names.push(element.name.clone());
                stack.push(element);
            }
            Event::Empty(start) => {
                let element = open_element(
                    &start,
                    &xml,
                    element_namespace.as_deref(),
                    &mut namespace,
                    &names,
                    reader,
                )?;
                if root.is_some() {
                    return Err(syntax(
                        &xml,
                        "a second root element; a document has exactly one".to_owned(),
                    ));
                }
                attach(element, &mut stack, &mut root);
            }
            Event::End(_) => {
                names.pop();
                let Some(element) = stack.pop() else {
                    return Err(syntax(&xml, "an end tag without a start tag".to_owned()));
                };
                attach(element, &mut stack, &mut root);
            }
            Event::Text(content) => {
                let content = content.xml10_content();
                match stack.last_mut() {
                    Some(open) => open.text.push_str(&content),
                    None if content.trim().is_empty() => {}
                    None => return Err(syntax(&xml, "text outside the root element".to_owned())),
                }
            }
            Event::CData(data) => {
                let content = data.xml10_content();
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&content);
                }
            }
            Event::GeneralRef(reference) => {
                let ch = match reference.resolve_char_ref() {
                    Ok(Some(ch)) => ch,
                    Ok(None) => match resolve_entity(&reference) {
                        Some(ch) => ch,
                        None => {
                            return Err(syntax(
                                &xml,
                                format!("the entity '&{};' is not defined", &*reference),
                            ));
                        }
                    },
                    Err(err) => return Err(syntax(&xml, err.to_string())),
                };
                if let Some(open) = stack.last_mut() {
                    open.text.push(ch);
                }
            }
            Event::DocType(_) => {
                // Entity declarations would let a small document expand without
                // bound; the AAS schema never needs a DTD.
                return Err(syntax(
                    &xml,
                    "a DOCTYPE declaration; AAS XML has none".to_owned(),
                ));
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(syntax(
            &xml,
            format!("the document ends inside <{}>", open.name),
        ));
    }
    root.ok_or_else(|| syntax(&xml, "no root element".to_owned()))
}

/// Makes the element for a start tag: its local name, namespace checked, and the
/// first non-namespace attribute noted.
fn open_element(
    start: &quick_xml::events::BytesStart<'_>,
    xml: &quick_xml::NsReader<&[u8]>,
    element_namespace: Option<&str>,
    namespace: &mut Option<String>,
    names: &[String],
    reader: &mut Reader,
) -> Result<XmlElement, ReadError> {
    let name = start.local_name().as_ref().to_owned();
    check_namespace(element_namespace, namespace, &name, names, reader)?;
    let mut attribute = None;
    for attr in start.attributes() {
        let attr = attr.map_err(|err| syntax(xml, err.to_string()))?;
        if attr.key.as_namespace_binding().is_none() && attribute.is_none() {
            attribute = Some(attr.key.as_ref().to_owned());
        }
    }
    Ok(XmlElement {
        name,
        text: String::new(),
        children: Vec::new(),
        attribute,
    })
}

fn attach(element: XmlElement, stack: &mut [XmlElement], root: &mut Option<XmlElement>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

fn check_namespace(
    found: Option<&str>,
    document: &mut Option<String>,
    element: &str,
    names: &[String],
    reader: &mut Reader,
) -> Result<(), ReadError> {
    // The common case, an element in the document's namespace, allocates nothing.
    if let (Some(found), Some(expected)) = (found, document.as_deref())
        && found == expected
    {
        return Ok(());
    }
    let refuse = |found: &str, reader: &Reader| ReadError::Namespace {
        path: names.join("."),
        element: element.to_owned(),
        found: found.to_owned(),
        allowed: if reader.lenient() {
            format!("{NAMESPACE_3_0}, {NAMESPACE_3_1} or {NAMESPACE_3_2}")
        } else {
            NAMESPACE_3_0.to_owned()
        },
    };
    let Some(found) = found else {
        return Err(refuse("no namespace", reader));
    };
    if document.is_some() {
        return Err(refuse(found, reader));
    }
    if found == NAMESPACE_3_0 {
    } else if reader.lenient() && (found == NAMESPACE_3_1 || found == NAMESPACE_3_2) {
        reader.warn(format!(
            "read a document in the namespace {found} as metamodel 3.0"
        ));
    } else {
        return Err(refuse(found, reader));
    }
    *document = Some(found.to_owned());
    Ok(())
}

/// Writes XML text: tab-indented elements, text escaped so that it reads back
/// unchanged (including carriage returns, which XML would otherwise fold).
/// Internal; public only because the sealed [`Class`] trait names it.
#[doc(hidden)]
pub struct XmlWriter {
    pub(crate) out: String,
    depth: usize,
    /// Whether the next element opened is the root and carries the namespace.
    root_namespace: bool,
}

impl XmlWriter {
    pub(crate) fn new() -> XmlWriter {
        XmlWriter {
            out: String::new(),
            depth: 0,
            root_namespace: false,
        }
    }

    fn indent(&mut self) {
        if !self.out.is_empty() {
            self.out.push('\n');
        }
        for _ in 0..self.depth {
            self.out.push('\t');
        }
    }

    fn start_tag(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        if std::mem::take(&mut self.root_namespace) {
            self.out.push_str(" xmlns=\"");
            self.out.push_str(NAMESPACE_3_0);
            self.out.push('"');
        }
        self.out.push('>');
    }

    pub(crate) fn open(&mut self, name: &str) {
        self.indent();
        self.start_tag(name);
        self.depth += 1;
    }

    pub(crate) fn close(&mut self, name: &str) {
        self.depth = self.depth.saturating_sub(1);
        self.indent();
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    pub(crate) fn text_element(&mut self, name: &str, text: &str) {
        self.indent();
        self.start_tag(name);
        escape_into(&mut self.out, text);
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }
}

fn escape_into(out: &mut String, text: &str) {
    for ch in text.chars() {
        match ch {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\r' => out.push_str("&#xD;"),
            _ => out.push(ch),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Environment;

    fn tree(text: &str) -> Result<XmlElement, ReadError> {
        parse_tree(text, &mut Reader::new(ReadOptions::STRICT))
    }

    #[test]
    fn keeps_text_exactly_and_resolves_references() {
        let root =
            tree("<a xmlns=\"https://admin-shell.io/aas/3/0\"><b> x &amp; &#x41;\r\n</b><c/></a>")
                .unwrap();
        assert_eq!(root.children[0].text, " x & A\n");
        assert_eq!(root.children[1].name, "c");
        assert!(root.children[1].children.is_empty());
    }

    #[test]
    fn refuses_foreign_namespaces_unless_lenient() {
        let doc = "<environment xmlns=\"https://admin-shell.io/aas/3/1\"/>";
        assert!(matches!(tree(doc), Err(ReadError::Namespace { .. })));
        let mut lenient = Reader::new(ReadOptions::LENIENT);
        assert!(parse_tree(doc, &mut lenient).is_ok());
        assert_eq!(lenient.into_warnings().len(), 1);
        assert!(matches!(
            tree("<environment/>"),
            Err(ReadError::Namespace { .. })
        ));
    }

    #[test]
    fn reads_a_newer_document_leniently() {
        let doc = r#"<aas:environment xmlns:aas="https://admin-shell.io/aas/3/1"><aas:submodels>
            <aas:submodel><aas:id>urn:s</aas:id><aas:futureProperty>x</aas:futureProperty>
            <aas:submodelElements><aas:file><aas:idShort>Manual</aas:idShort></aas:file></aas:submodelElements>
            </aas:submodel></aas:submodels></aas:environment>"#;
        assert!(matches!(
            from_str::<Environment>(doc),
            Err(ReadError::Namespace { .. })
        ));
        let (environment, warnings) =
            from_str_with::<Environment>(doc, ReadOptions::LENIENT).unwrap();
        let messages: Vec<String> = warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "(document root): read a document in the namespace https://admin-shell.io/aas/3/1 as metamodel 3.0",
                "submodels[0]: skipped the property 'futureProperty', which metamodel 3.0 does not define here",
                "submodels[0].submodelElements[0]: the required property 'contentType' is missing (metamodel 3.1 made it optional); assumed a default",
            ]
        );
        // What lenient reading produced is strict 3.0 and reads back strictly.
        let written = to_string(&environment);
        assert!(written.starts_with("<environment xmlns=\"https://admin-shell.io/aas/3/0\">"));
        assert_eq!(from_str::<Environment>(&written).unwrap(), environment);
    }

    #[test]
    fn refuses_doctype_and_deep_nesting() {
        assert!(
            tree("<!DOCTYPE a [<!ENTITY x \"y\">]><a xmlns=\"https://admin-shell.io/aas/3/0\"/>")
                .is_err()
        );
        let deep = format!(
            "<a xmlns=\"https://admin-shell.io/aas/3/0\">{}{}</a>",
            "<b>".repeat(MAX_DEPTH + 1),
            "</b>".repeat(MAX_DEPTH + 1)
        );
        assert!(matches!(tree(&deep), Err(ReadError::TooDeep { .. })));
    }

    #[test]
    fn escapes_what_would_not_read_back() {
        let mut out = String::new();
        escape_into(&mut out, "a<b>&c\rd");
        assert_eq!(out, "a&lt;b&gt;&amp;c&#xD;d");
    }
}
