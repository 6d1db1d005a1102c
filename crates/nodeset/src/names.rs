//! Reversible escaping of OPC UA browse names into DTDL names and DTMI segments,
//! which both allow only ASCII letters, digits and underscores, must start with a
//! letter and must not end with an underscore.
//!
//! The scheme: letters and digits stand for themselves; `_` is written `__`; any
//! other character is `_` followed by its UTF-8 bytes as two upper-case hex digits
//! each; a trailing `_` is written `_5F` so the result never ends in `_`; a name not
//! starting with an ASCII letter gets the prefix `u_Z`, which the escaper never
//! produces otherwise (`_Z` is neither `__` nor a hex escape). [`unescape`] undoes it.

use crate::limits::MAX_INTERFACE_DTMI_LEN;

/// Escapes `text` into a valid DTDL name / DTMI segment.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    if !text.starts_with(|c: char| c.is_ascii_alphabetic()) {
        out.push_str("u_Z");
    }
    let count = text.chars().count();
    for (index, character) in text.chars().enumerate() {
        if character.is_ascii_alphanumeric() {
            out.push(character);
        } else if character == '_' && index + 1 < count {
            out.push_str("__");
        } else {
            let mut buffer = [0u8; 4];
            for byte in character.encode_utf8(&mut buffer).bytes() {
                out.push('_');
                out.push_str(&format!("{byte:02X}"));
            }
        }
    }
    out
}

/// Undoes [`escape`]; `None` when `name` is not something [`escape`] produces.
pub fn unescape(name: &str) -> Option<String> {
    let body = name.strip_prefix("u_Z").unwrap_or(name);
    let bytes = body.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        if byte != b'_' {
            out.push(byte);
            index += 1;
            continue;
        }
        match bytes.get(index + 1) {
            Some(b'_') => {
                out.push(b'_');
                index += 2;
            }
            Some(_) => {
                let hex = body.get(index + 1..index + 3)?;
                if !hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
                {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                index += 3;
            }
            None => return None,
        }
    }
    String::from_utf8(out).ok()
}

/// DTMI path segments for a model URI: the host's labels in order, then the path's
/// segments, each escaped (`http://opcfoundation.org/UA/DI/` becomes
/// `opcfoundation:org:UA:DI`). A scheme other than http(s) becomes the first segment.
pub fn model_segments(uri: &str) -> Vec<String> {
    let mut segments = Vec::new();
    if let Some((scheme, rest)) = uri.split_once("://") {
        if scheme != "http" && scheme != "https" {
            segments.push(escape(scheme));
        }
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        segments.extend(host.split('.').filter(|s| !s.is_empty()).map(escape));
        segments.extend(path.split('/').filter(|s| !s.is_empty()).map(escape));
    } else {
        // `urn:vendor:model` and other URIs without an authority.
        segments.extend(uri.split([':', '/']).filter(|s| !s.is_empty()).map(escape));
    }
    if segments.is_empty() {
        segments.push("model".to_owned());
    }
    segments
}

/// The DTMI version for an OPC UA model version: `major.minor` of `1.02.0` is
/// `1.2`; a zero minor is left out; a missing or zero major becomes 1 (DTMI versions
/// start at 1).
pub fn dtmi_version(version: &str) -> String {
    let mut parts = version
        .split('.')
        .map(|part| part.trim().parse::<u64>().ok());
    let major = parts
        .next()
        .flatten()
        .filter(|m| (1..=999_999_999).contains(m))
        .unwrap_or(1);
    match parts.next().flatten().filter(|m| (1..=999_999).contains(m)) {
        Some(minor) => format!("{major}.{minor}"),
        None => major.to_string(),
    }
}

/// A DTMI from segments and a version. When it would be longer than DTDL's limit
/// for interfaces, the last segment is shortened and a hash of the full text keeps
/// it unique (that one form is not reversible; the interface's comment keeps the
/// original node id).
pub fn dtmi(segments: &[String], version: &str) -> String {
    let full = format!("dtmi:{};{version}", segments.join(":"));
    if full.len() <= MAX_INTERFACE_DTMI_LEN {
        return full;
    }
    let hash = fnv1a(&full);
    let prefix_len = segments.len().saturating_sub(1);
    let mut head: Vec<String> = segments[..prefix_len].to_vec();
    let tail = format!("h{hash:016x}");
    // Drop middle segments until the shortened form fits.
    while !head.is_empty()
        && format!("dtmi:{}:{tail};{version}", head.join(":")).len() > MAX_INTERFACE_DTMI_LEN
    {
        head.pop();
    }
    if head.is_empty() {
        format!("dtmi:{tail};{version}")
    } else {
        format!("dtmi:{}:{tail};{version}", head.join(":"))
    }
}

fn fnv1a(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn valid_name(name: &str) -> bool {
        name.starts_with(|c: char| c.is_ascii_alphabetic())
            && !name.ends_with('_')
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    }

    #[test]
    fn escapes_typical_browse_names() {
        assert_eq!(escape("MachineToolType"), "MachineToolType");
        assert_eq!(escape("<ProgramName>"), "u_Z_3CProgramName_3E");
        assert_eq!(escape("Hello World_"), "Hello_20World_5F");
        assert_eq!(escape("a_b"), "a__b");
        assert_eq!(escape("3D"), "u_Z3D");
        assert_eq!(dtmi_version("1.02.0"), "1.2");
        assert_eq!(dtmi_version("1.0.1"), "1");
        assert_eq!(dtmi_version(""), "1");
        assert_eq!(
            model_segments("http://opcfoundation.org/UA/MachineTool/"),
            ["opcfoundation", "org", "UA", "MachineTool"]
        );
        assert_eq!(model_segments("urn:x")[0], "urn");
    }

    #[test]
    fn long_dtmis_are_shortened_but_valid() {
        let segments = vec!["a".repeat(100), "b".repeat(100)];
        let id = dtmi(&segments, "1");
        assert!(id.len() <= MAX_INTERFACE_DTMI_LEN, "{id}");
        assert!(model::Dtmi::parse(&id).is_ok(), "{id}");
    }

    proptest! {
        #[test]
        fn escape_is_valid_and_reversible(text in "\\PC{0,24}") {
            let name = escape(&text);
            prop_assert!(valid_name(&name), "{name:?}");
            prop_assert_eq!(unescape(&name), Some(text));
        }
    }
}
