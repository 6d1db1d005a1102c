//! The Open Packaging Conventions pieces an AASX package uses: part names
//! (percent-encoded, compared without case), relationship targets resolved
//! against their source part, the relationships XML and `[Content_Types].xml`,
//! read and written.

use std::collections::HashMap;

use quick_xml::escape::escape;
use quick_xml::events::{BytesStart, Event};

use crate::error::AasxError;

/// The namespace of relationships parts.
pub(crate) const RELATIONSHIPS_NAMESPACE: &str =
    "http://schemas.openxmlformats.org/package/2006/relationships";
/// The namespace of `[Content_Types].xml`.
pub(crate) const CONTENT_TYPES_NAMESPACE: &str =
    "http://schemas.openxmlformats.org/package/2006/content-types";
/// The content type of relationships parts.
pub(crate) const RELATIONSHIPS_CONTENT_TYPE: &str =
    "application/vnd.openxmlformats-package.relationships+xml";
/// The package thumbnail relationship (OPC core).
pub(crate) const THUMBNAIL_RELATIONSHIP: &str =
    "http://schemas.openxmlformats.org/package/2006/relationships/metadata/thumbnail";

/// The key under which a part is found: percent-decoded and lower-cased, with
/// `/` separators (some Windows tools write `\` in zip names) and one leading
/// `/`. OPC compares part names case-insensitively, and real packages
/// percent-encode a name in one place and not in another.
pub(crate) fn part_key(name: &str) -> String {
    let decoded = percent_decode(name).replace('\\', "/");
    let trimmed = decoded.trim_start_matches('/');
    format!("/{}", trimmed.to_lowercase())
}

/// Decodes `%XX` escapes (invalid ones are kept as written); bytes that do not
/// form UTF-8 become U+FFFD.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%'
            && let (Some(high), Some(low)) = (
                bytes.get(index + 1).and_then(|b| (*b as char).to_digit(16)),
                bytes.get(index + 2).and_then(|b| (*b as char).to_digit(16)),
            )
        {
            // Two hex digits make a value below 256.
            out.push(u8::try_from(high * 16 + low).unwrap_or(b'%'));
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes what a URI may not hold (spaces, non-ASCII, quotes, …),
/// leaving `%` alone so that an already encoded name stays as it is.
pub(crate) fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let keep = byte.is_ascii_alphanumeric() || b"-._~/%!$&'()*+,;=:@".contains(&byte);
        if keep {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Refuses zip entry names that would leave a directory if someone unpacked
/// the package naively, and over-long ones. Checked on the name as written and
/// percent-decoded, so `%2e%2e/` is refused like `../`.
pub(crate) fn check_entry_name(name: &str, len_max: usize) -> Result<(), AasxError> {
    if name.len() > len_max {
        return Err(AasxError::PartNameTooLong {
            start: name.chars().take(40).collect(),
            found: name.len(),
            limit: len_max,
        });
    }
    for form in [name.to_owned(), percent_decode(name)] {
        let unsafe_name = |reason| AasxError::UnsafePartName {
            name: name.to_owned(),
            reason,
        };
        if form.contains('\0') {
            return Err(unsafe_name("holds a NUL"));
        }
        if form.starts_with('/') || form.starts_with('\\') {
            return Err(unsafe_name("absolute"));
        }
        let bytes = form.as_bytes();
        if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
            return Err(unsafe_name("names a drive"));
        }
        for segment in form.split(['/', '\\']) {
            if segment == ".." {
                return Err(unsafe_name("a '..' segment"));
            }
            if segment == "." {
                return Err(unsafe_name("a '.' segment"));
            }
        }
    }
    Ok(())
}

/// Whether a reference starts with a URI scheme (`https:`, `file:`, `urn:`):
/// such a target is outside the package. A single letter followed by `:` is a
/// drive, not a scheme.
pub(crate) fn has_scheme(reference: &str) -> bool {
    let Some(colon) = reference.find(':') else {
        return false;
    };
    let scheme = &reference[..colon];
    scheme.len() > 1
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Resolves a relationship target (or a `File` value) against the folder of
/// its source (`/` for the package root, `/aasx/` for the origin), giving an
/// absolute part name such as `/aasx/files/manual.pdf`. `None` for targets
/// outside the package (with a URI scheme); an error for names that climb
/// above the root, name a drive or are too long.
pub(crate) fn resolve(
    base_folder: &str,
    target: &str,
    len_max: usize,
) -> Result<Option<String>, AasxError> {
    if target.len() > len_max {
        return Err(AasxError::PartNameTooLong {
            start: target.chars().take(40).collect(),
            found: target.len(),
            limit: len_max,
        });
    }
    let unsafe_name = |reason| AasxError::UnsafePartName {
        name: target.to_owned(),
        reason,
    };
    if target.contains('\0') {
        return Err(unsafe_name("holds a NUL"));
    }
    let bytes = target.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return Err(unsafe_name("names a drive"));
    }
    if has_scheme(target) {
        return Ok(None);
    }
    // A fragment or query names a piece of a part, not another part.
    let path = target.split(['#', '?']).next().unwrap_or_default();
    let joined = if path.starts_with('/') || path.starts_with('\\') {
        path.to_owned()
    } else {
        format!("{base_folder}{path}")
    };
    let mut segments: Vec<&str> = Vec::new();
    for segment in joined.split(['/', '\\']) {
        match segment {
            "" | "." => {}
            ".." => {
                if segments.pop().is_none() {
                    return Err(unsafe_name("climbs above the package root"));
                }
            }
            _ => segments.push(segment),
        }
    }
    if segments.is_empty() {
        return Err(unsafe_name("names the package root, not a part"));
    }
    Ok(Some(format!("/{}", segments.join("/"))))
}

/// The folder of a part name, with its trailing `/` (`/aasx/` for
/// `/aasx/aasx-origin`).
pub(crate) fn folder_of(part: &str) -> &str {
    match part.rfind('/') {
        Some(slash) => &part[..=slash],
        None => "/",
    }
}

/// The relationships part of a part: `/aasx/_rels/aasx-origin.rels` for
/// `/aasx/aasx-origin`.
pub(crate) fn relationships_of(part: &str) -> String {
    let folder = folder_of(part);
    let file = &part[folder.len()..];
    format!("{folder}_rels/{file}.rels")
}

/// One `<Relationship>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Relationship {
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) target: String,
    /// `TargetMode="External"`: the target is not a part.
    pub(crate) external: bool,
}

/// The attributes of an element, by local name, unescaped.
fn attributes(start: &BytesStart<'_>, part: &str) -> Result<HashMap<String, String>, AasxError> {
    let mut out = HashMap::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|err| AasxError::PackageXml {
            part: part.to_owned(),
            message: format!("not well-formed XML: {err}"),
        })?;
        let name = attribute.key.local_name().into_inner().to_owned();
        let value = attribute
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|err| AasxError::PackageXml {
                part: part.to_owned(),
                message: format!("not well-formed XML: {err}"),
            })?;
        out.insert(name, value.into_owned());
    }
    Ok(out)
}

/// Calls `visit` with the local name and attributes of every element of a
/// small OPC XML part (relationships or content types), whose root must be
/// `root`.
fn walk_elements(
    bytes: &[u8],
    part: &str,
    root: &str,
    mut visit: impl FnMut(&str, HashMap<String, String>) -> Result<(), AasxError>,
) -> Result<(), AasxError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut reader = quick_xml::Reader::from_reader(bytes);
    reader.config_mut().check_end_names = true;
    let mut depth = 0usize;
    let mut seen_root = false;
    let syntax = |message: String| AasxError::PackageXml {
        part: part.to_owned(),
        message,
    };
    loop {
        let event = reader
            .read_event()
            .map_err(|err| syntax(format!("not well-formed XML: {err}")))?;
        let (start, empty) = match &event {
            Event::Start(start) => (start, false),
            Event::Empty(start) => (start, true),
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                continue;
            }
            Event::DocType(_) => {
                // Entity declarations could expand without bound; OPC parts have
                // no DTD.
                return Err(syntax(
                    "a DOCTYPE declaration; OPC parts have none".to_owned(),
                ));
            }
            Event::Eof => break,
            _ => continue,
        };
        let name = start.local_name().into_inner().to_owned();
        if depth == 0 {
            if seen_root {
                return Err(syntax("a second root element".to_owned()));
            }
            seen_root = true;
            if name != root {
                return Err(syntax(format!(
                    "the root element is <{name}>; allowed: <{root}>"
                )));
            }
        } else {
            visit(&name, attributes(start, part)?)?;
        }
        if !empty {
            depth += 1;
        }
    }
    if !seen_root {
        return Err(syntax(format!("no <{root}> element")));
    }
    Ok(())
}

/// Reads a relationships part.
pub(crate) fn read_relationships(bytes: &[u8], part: &str) -> Result<Vec<Relationship>, AasxError> {
    let mut out = Vec::new();
    walk_elements(bytes, part, "Relationships", |name, mut attributes| {
        if name != "Relationship" {
            return Ok(());
        }
        let mut take = |key: &str| attributes.remove(key);
        let (Some(kind), Some(target)) = (take("Type"), take("Target")) else {
            return Err(AasxError::PackageXml {
                part: part.to_owned(),
                message: "a <Relationship> without Type or Target; both are required".to_owned(),
            });
        };
        out.push(Relationship {
            id: take("Id").unwrap_or_default(),
            kind,
            target,
            external: take("TargetMode").is_some_and(|mode| mode == "External"),
        });
        Ok(())
    })?;
    Ok(out)
}

/// `[Content_Types].xml`: content types by extension and by part.
#[derive(Debug, Default)]
pub(crate) struct ContentTypes {
    /// By lower-cased extension.
    defaults: HashMap<String, String>,
    /// By [`part_key`].
    overrides: HashMap<String, String>,
}

impl ContentTypes {
    pub(crate) fn read(bytes: &[u8], part: &str) -> Result<ContentTypes, AasxError> {
        let mut types = ContentTypes::default();
        walk_elements(bytes, part, "Types", |name, mut attributes| {
            let content_type = attributes.remove("ContentType").unwrap_or_default();
            match name {
                "Default" => {
                    if let Some(extension) = attributes.remove("Extension") {
                        types
                            .defaults
                            .insert(extension.to_lowercase(), content_type);
                    }
                }
                "Override" => {
                    if let Some(name) = attributes.remove("PartName") {
                        types.overrides.insert(part_key(&name), content_type);
                    }
                }
                _ => {}
            }
            Ok(())
        })?;
        Ok(types)
    }

    /// The content type of a part, by override, then by extension.
    pub(crate) fn of(&self, part: &str) -> Option<&str> {
        if let Some(found) = self.overrides.get(&part_key(part)) {
            return Some(found);
        }
        let file = &part[folder_of(part).len()..];
        let extension = file.rsplit_once('.')?.1.to_lowercase();
        self.defaults.get(&extension).map(String::as_str)
    }
}

/// A relationships part holding `relationships` (type, target), with ids
/// `R1`, `R2`, … in the given order.
pub(crate) fn write_relationships(relationships: &[(&str, &str)]) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Relationships xmlns=\"{RELATIONSHIPS_NAMESPACE}\">\n"
    );
    for (index, (kind, target)) in relationships.iter().enumerate() {
        out.push_str(&format!(
            "  <Relationship Type=\"{}\" Target=\"{}\" Id=\"R{}\" />\n",
            escape(*kind),
            escape(percent_encode(target)),
            index + 1
        ));
    }
    out.push_str("</Relationships>\n");
    out
}

/// `[Content_Types].xml` with a default for relationships parts and an
/// override for every other part (name, content type), in the given order.
pub(crate) fn write_content_types(parts: &[(&str, &str)]) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Types xmlns=\"{CONTENT_TYPES_NAMESPACE}\">\n  <Default Extension=\"rels\" ContentType=\"{RELATIONSHIPS_CONTENT_TYPE}\" />\n"
    );
    for (name, content_type) in parts {
        out.push_str(&format!(
            "  <Override PartName=\"{}\" ContentType=\"{}\" />\n",
            escape(percent_encode(name)),
            escape(*content_type)
        ));
    }
    out.push_str("</Types>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_keys_ignore_case_and_percent_encoding() {
        assert_eq!(part_key("aasx/My%20File.PDF"), "/aasx/my file.pdf");
        assert_eq!(part_key("/AASX/my file.pdf"), "/aasx/my file.pdf");
        assert_eq!(part_key("aasx\\Files\\a.pdf"), "/aasx/files/a.pdf");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_encode("/a b/ü.pdf"), "/a%20b/%C3%BC.pdf");
        assert_eq!(
            percent_decode(&percent_encode("/a b/ü%20.pdf")),
            "/a b/ü .pdf"
        );
    }

    #[test]
    fn resolves_relative_and_absolute_targets() {
        let resolve = |base, target| resolve(base, target, 1024);
        assert_eq!(
            resolve("/aasx/", "data/a.xml").unwrap().as_deref(),
            Some("/aasx/data/a.xml")
        );
        assert_eq!(
            resolve("/aasx/", "/aasx/a.xml").unwrap().as_deref(),
            Some("/aasx/a.xml")
        );
        assert_eq!(
            resolve("/aasx/x/", "../files/./a.pdf#page=2")
                .unwrap()
                .as_deref(),
            Some("/aasx/files/a.pdf")
        );
        assert_eq!(resolve("/", "https://example.com/a.pdf").unwrap(), None);
        assert!(matches!(
            resolve("/aasx/", "../../etc/passwd"),
            Err(AasxError::UnsafePartName { .. })
        ));
        assert!(matches!(
            resolve("/", "C:/Windows/win.ini"),
            Err(AasxError::UnsafePartName { .. })
        ));
        assert_eq!(
            relationships_of("/aasx/aasx-origin"),
            "/aasx/_rels/aasx-origin.rels"
        );
        assert_eq!(relationships_of("/x.json"), "/_rels/x.json.rels");
    }

    #[test]
    fn refuses_unsafe_entry_names() {
        for name in [
            "../evil",
            "a/../../evil",
            "/etc/passwd",
            "\\evil",
            "C:/evil",
            "a/%2e%2e/%2e%2e/evil",
            "a\\..\\evil",
            "a\0b",
        ] {
            assert!(
                matches!(
                    check_entry_name(name, 1024),
                    Err(AasxError::UnsafePartName { .. })
                ),
                "{name}"
            );
        }
        assert!(check_entry_name("aasx/files/a b.pdf", 1024).is_ok());
        assert!(matches!(
            check_entry_name(&"a".repeat(20), 10),
            Err(AasxError::PartNameTooLong { found: 20, .. })
        ));
    }

    #[test]
    fn reads_what_it_writes() {
        let text = write_relationships(&[("urn:t", "/a b/c&d.xml")]);
        let read = read_relationships(text.as_bytes(), "/_rels/.rels").unwrap();
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].target, "/a%20b/c&d.xml");
        assert_eq!(read[0].id, "R1");
        let text = write_content_types(&[("/a b.json", "application/json")]);
        let types = ContentTypes::read(text.as_bytes(), "/[Content_Types].xml").unwrap();
        assert_eq!(types.of("/A B.JSON"), Some("application/json"));
        assert_eq!(
            types.of("/x/_rels/y.rels"),
            Some(RELATIONSHIPS_CONTENT_TYPE)
        );
        assert_eq!(types.of("/x.bin"), None);
    }
}
