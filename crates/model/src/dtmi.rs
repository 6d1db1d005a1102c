//! The Digital Twin Model Identifier (DTMI): `dtmi:<segment>(:<segment>)*;<version>`.
//!
//! The grammar follows the DTDL specification: segments start with a letter,
//! contain letters, digits and underscores, and do not end with an
//! underscore; the version is 1 to 999,999,999 without leading zeros,
//! optionally followed (DTDL v3) by `.minor` with 1 to 6 digits.

use std::fmt;
use std::str::FromStr;

use crate::ModelError;

/// Longest DTMI accepted anywhere. The DTDL parser limits identifiers to
/// 2048 characters (interfaces to 128 in DTDL v2 and v3, checked separately).
pub(crate) const MAX_DTMI_LEN: usize = 2048;

/// A validated DTMI.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dtmi(String);

impl Dtmi {
    /// Parses and validates a DTMI.
    pub fn parse(s: &str) -> Result<Dtmi, ModelError> {
        match check(s, true) {
            Ok(()) => Ok(Dtmi(s.to_owned())),
            Err(reason) => Err(ModelError::InvalidDtmi {
                text: s.to_owned(),
                reason,
            }),
        }
    }

    /// The DTMI as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The major version after `;`, if present.
    pub fn version(&self) -> Option<u32> {
        let (_, version) = self.0.rsplit_once(';')?;
        let major = version.split('.').next()?;
        major.parse().ok()
    }

    /// The DTMI without its version: `dtmi:com:example:Room`.
    pub fn unversioned(&self) -> &str {
        self.0.rsplit_once(';').map_or(&self.0, |(path, _)| path)
    }

    pub(crate) fn from_checked(s: String) -> Dtmi {
        Dtmi(s)
    }
}

/// Checks the DTMI grammar; `allow_minor` admits the v3 forms (`major.minor`, or no version).
pub(crate) fn check(s: &str, allow_minor: bool) -> Result<(), &'static str> {
    if s.len() > MAX_DTMI_LEN {
        return Err("longer than 2048 characters");
    }
    let Some(rest) = s.strip_prefix("dtmi:") else {
        return Err("must start with \"dtmi:\"");
    };
    let Some((path, version)) = rest.rsplit_once(';') else {
        // DTDL v3 makes the version optional.
        if !allow_minor {
            return Err("must end with \";<version>\"");
        }
        for segment in rest.split(':') {
            check_segment(segment)?;
        }
        return Ok(());
    };
    if path.is_empty() {
        return Err("has no path segments");
    }
    for segment in path.split(':') {
        check_segment(segment)?;
    }
    let (major, minor) = match version.split_once('.') {
        Some((major, minor)) => (major, Some(minor)),
        None => (version, None),
    };
    check_number(major, 9).map_err(|_| "version must be 1 to 999999999 without leading zeros")?;
    if let Some(minor) = minor {
        if !allow_minor {
            return Err("version must be a single integer");
        }
        check_number(minor, 6)
            .map_err(|_| "minor version must be 1 to 999999 without leading zeros")?;
    }
    Ok(())
}

fn check_segment(segment: &str) -> Result<(), &'static str> {
    let bytes = segment.as_bytes();
    let Some(first) = bytes.first() else {
        return Err("has an empty path segment");
    };
    if !first.is_ascii_alphabetic() {
        return Err("path segments must start with a letter");
    }
    if !bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
    {
        return Err("path segments may contain only letters, digits and underscores");
    }
    if bytes.last() == Some(&b'_') {
        return Err("path segments must not end with an underscore");
    }
    Ok(())
}

fn check_number(digits: &str, max_digits: usize) -> Result<(), ()> {
    let bytes = digits.as_bytes();
    if bytes.is_empty() || bytes.len() > max_digits || bytes[0] == b'0' {
        return Err(());
    }
    if bytes.iter().all(u8::is_ascii_digit) {
        Ok(())
    } else {
        Err(())
    }
}

impl FromStr for Dtmi {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Dtmi::parse(s)
    }
}

impl fmt::Display for Dtmi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Dtmi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Dtmi({})", self.0)
    }
}

impl serde::Serialize for Dtmi {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Dtmi {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Dtmi::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_spec_examples() {
        for ok in [
            "dtmi:foo:bar;7",
            "dtmi:foo;1",
            "dtmi:foo:bar;999999999",
            "dtmi:a_b:c1;2.3",
        ] {
            assert!(Dtmi::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(Dtmi::parse("dtmi:a:b;12").unwrap().version(), Some(12));
    }

    #[test]
    fn rejects_spec_counterexamples() {
        for bad in [
            "dtmi:foo:bar;0",
            "dtmi:foo:bar;1234567890",
            "dtmi:foo:bar;1a",
            "dtmi:foo:bar;01",
            "dtmi:foo:bar;",
            "dtmi:test:invalidId_;1",
            "dtmi:test:_x;1",
            "dtmi:test:1seg;1",
            "dtmi:foo:bar.baz;1",
            "dtmi:foo::bar;1",
            "urn:foo:bar:1",
            "dtmi:;1",
            "dtmi:foo:bar;3.0",
            "dtmi:foo:bar;6.02",
        ] {
            assert!(Dtmi::parse(bad).is_err(), "{bad}");
        }
    }
}
