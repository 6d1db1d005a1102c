//! Identifiers and stamps shared by everything that touches a world: `WorldId`,
//! `TwinId`, `Seq`, `Etag` and `Timestamp`.

use std::fmt;
use std::sync::Arc;

use crate::WorldError;

/// Longest world name; names appear in URLs, MQTT topics and store table names.
pub const WORLD_ID_LEN_MAX: usize = 63;
/// Longest twin or relationship id, as Azure Digital Twins allows.
pub const TWIN_ID_LEN_MAX: usize = 128;

/// The name of a world: `[a-z0-9][a-z0-9-]{0,62}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorldId(Arc<str>);

impl WorldId {
    /// The world that the un-prefixed routes serve.
    pub const DEFAULT: &'static str = "default";

    /// Checks a world name against the allowed alphabet and length.
    pub fn parse(name: &str) -> Result<WorldId, WorldError> {
        let valid = !name.is_empty()
            && name.len() <= WORLD_ID_LEN_MAX
            && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if valid {
            Ok(WorldId(name.into()))
        } else {
            Err(WorldError::InvalidId {
                what: "world",
                id: name.chars().take(80).collect(),
                allowed: "1 to 63 characters of a-z, 0-9 and '-', starting with a letter or digit",
            })
        }
    }

    /// The world `default`.
    pub fn default_world() -> WorldId {
        WorldId(Self::DEFAULT.into())
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorldId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The id of a twin (`$dtId`), unique in its world.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TwinId(Arc<str>);

impl TwinId {
    /// Checks a twin id: 1 to 128 characters, no control characters.
    pub fn parse(id: &str) -> Result<TwinId, WorldError> {
        check_id("twin", id)?;
        Ok(TwinId(id.into()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for TwinId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TwinId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks the shape of a twin or relationship id.
pub(crate) fn check_id(what: &'static str, id: &str) -> Result<(), WorldError> {
    let valid = !id.is_empty()
        && id.chars().count() <= TWIN_ID_LEN_MAX
        && !id.chars().any(|c| c.is_control());
    if valid {
        Ok(())
    } else {
        Err(WorldError::InvalidId {
            what,
            id: id.chars().take(TWIN_ID_LEN_MAX + 8).collect(),
            allowed: "1 to 128 characters without control characters",
        })
    }
}

/// The position of a change in its world's history. Every applied command gets
/// the next one; they never repeat and never go back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Seq(pub u64);

impl Seq {
    /// The sequence number after this one.
    pub fn next(self) -> Seq {
        Seq(self.0 + 1)
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An entity tag: the `Seq` of the last change of a twin or relationship,
/// written as the weak validator `W/"<seq>"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Etag(pub Seq);

impl Etag {
    /// Reads `W/"<seq>"` (also without the `W/` prefix); `None` when malformed.
    pub fn parse(text: &str) -> Option<Etag> {
        let text = text.trim();
        let text = text.strip_prefix("W/").unwrap_or(text);
        let inner = text.strip_prefix('"')?.strip_suffix('"')?;
        inner.parse().ok().map(|n| Etag(Seq(n)))
    }
}

impl fmt::Display for Etag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "W/\"{}\"", self.0.0)
    }
}

/// Nanoseconds since the Unix epoch, UTC. The core never reads the clock: callers
/// pass the time in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Formats as RFC 3339 with 7 fractional digits, as Azure Digital Twins does
    /// (`2024-05-01T12:00:00.1234567Z`).
    pub fn to_rfc3339(self) -> String {
        let secs = self.0.div_euclid(1_000_000_000);
        let nanos = self.0.rem_euclid(1_000_000_000);
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:07}Z",
            rem / 3600,
            rem / 60 % 60,
            rem % 60,
            nanos / 100
        )
    }

    /// Reads an RFC 3339 time (`Z` or `±hh:mm` offset, any fraction up to ns).
    pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
        let b = text.as_bytes();
        let num = |r: std::ops::Range<usize>| -> Option<i64> {
            let s = text.get(r)?;
            s.bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| s.parse().ok())?
        };
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
            return None;
        }
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if b[13] != b':' || b[16] != b':' || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
            return None;
        }
        if h > 23 || mi > 59 || s > 60 {
            return None;
        }
        let mut i = 19;
        let mut nanos = 0i64;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                if i - start < 9 {
                    nanos = nanos * 10 + i64::from(b[i] - b'0');
                }
                i += 1;
            }
            if i == start {
                return None;
            }
            for _ in (i - start)..9 {
                nanos *= 10;
            }
        }
        let offset_secs = match b.get(i)? {
            b'Z' | b'z' if i + 1 == b.len() => 0,
            sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
                let off = num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60;
                if *sign == b'+' { off } else { -off }
            }
            _ => return None,
        };
        let days = days_from_civil(y, mo, d);
        let secs = days * 86_400 + h * 3600 + mi * 60 + s - offset_secs;
        secs.checked_mul(1_000_000_000)?
            .checked_add(nanos)
            .map(Timestamp)
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// (year, month, day) to days since 1970-01-01, the inverse of `civil_from_days`.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_through_rfc3339() {
        for ns in [
            0,
            100,
            1_700_000_000_123_456_700,
            -86_400_000_000_000,
            951_782_400_000_000_000,
        ] {
            // Seven fractional digits: the text keeps 100 ns steps, as ADT shows them.
            let t = Timestamp(ns);
            assert_eq!(
                Timestamp::parse_rfc3339(&t.to_rfc3339()),
                Some(t),
                "{}",
                t.to_rfc3339()
            );
        }
        assert_eq!(Timestamp(0).to_rfc3339(), "1970-01-01T00:00:00.0000000Z");
        assert_eq!(
            Timestamp::parse_rfc3339("2000-03-01T01:00:00+01:00"),
            Timestamp::parse_rfc3339("2000-03-01T00:00:00Z")
        );
        for bad in [
            "",
            "2000-13-01T00:00:00Z",
            "2000-01-01T00:00:00",
            "2000-01-01T00:00:00.Z",
            "x000-01-01T00:00:00Z",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn ids_refuse_what_urls_and_tables_cannot_carry() {
        assert!(WorldId::parse("plant-7").is_ok());
        for bad in ["", "-x", "Plant", "a/b", &"a".repeat(64)] {
            assert!(WorldId::parse(bad).is_err(), "{bad}");
        }
        assert!(TwinId::parse("Room 1/ä").is_ok());
        assert!(TwinId::parse("a\nb").is_err());
        assert!(TwinId::parse(&"x".repeat(129)).is_err());
    }

    #[test]
    fn etags_are_weak_validators_of_the_seq() {
        let e = Etag(Seq(42));
        assert_eq!(e.to_string(), "W/\"42\"");
        assert_eq!(Etag::parse("W/\"42\""), Some(e));
        assert_eq!(Etag::parse("\"42\""), Some(e));
        assert_eq!(Etag::parse("W/\"x\""), None);
    }
}
