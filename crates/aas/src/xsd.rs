//! Lexical rules: whether a string is a valid value of an XML Schema type
//! (`xs:dateTime`, `xs:decimal`, `xs:int`, …, as [`value_matches`] checks for a
//! [`DataTypeDefXsd`]) and the metamodel's own string patterns (BCP 47 language
//! tags, MIME types, RFC 2396 paths, idShorts, versions). Patterns follow the
//! XSD 1.0 lexical spaces the metamodel cites; on top of the patterns, dates are
//! checked against the calendar (February 29th only in leap years, no year 0)
//! and bounded integer and floating-point types against their ranges.

use std::sync::LazyLock;

use regex::{Regex, RegexBuilder};

use crate::DataTypeDefXsd;

/// The xs:anyURI pattern compiles to a large automaton (its IRI character
/// classes span most of Unicode); the default size limit is too tight for it.
const REGEX_SIZE_LIMIT_BYTES: usize = 64 << 20;

fn compile(pattern: &str) -> Regex {
    match RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(REGEX_SIZE_LIMIT_BYTES)
        .build()
    {
        Ok(regex) => regex,
        // The patterns are constants of this file; a test compiles every one.
        Err(err) => panic!("built-in pattern does not compile: {err}"),
    }
}

macro_rules! pattern {
    ($name:ident, $pattern:expr) => {
        static $name: LazyLock<Regex> = LazyLock::new(|| compile(&$pattern));
    };
}

const TIMEZONE: &str = r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))";
const YEAR: &str = r"-?(([1-9][0-9][0-9][0-9]+)|(0[0-9][0-9][0-9]))";
const MONTH: &str = r"((0[1-9])|(1[0-2]))";
const DAY: &str = r"((0[1-9])|([12][0-9])|(3[01]))";
const TIME: &str = r"(((([01][0-9])|(2[0-3])):[0-5][0-9]:([0-5][0-9])(\.[0-9]+)?)|24:00:00(\.0+)?)";

pattern!(
    XML_STRING,
    r"[\x{09}\x{0A}\x{0D}\x{20}-\x{D7FF}\x{E000}-\x{FFFD}\x{10000}-\x{10FFFF}]*"
);
pattern!(ID_SHORT, r"[a-zA-Z][a-zA-Z0-9_]*");
pattern!(VERSION, r"(0|[1-9][0-9]*)");
pattern!(DATE, format!("{YEAR}-{MONTH}-{DAY}{TIMEZONE}?"));
pattern!(DATE_TIME, format!("{YEAR}-{MONTH}-{DAY}T{TIME}{TIMEZONE}?"));
pattern!(
    DATE_TIME_UTC,
    format!(r"{YEAR}-{MONTH}-{DAY}T{TIME}(Z|\+00:00|-00:00)")
);
pattern!(DECIMAL, r"(\+|-)?([0-9]+(\.[0-9]*)?|\.[0-9]+)");
pattern!(
    DOUBLE,
    r"((\+|-)?([0-9]+(\.[0-9]*)?|\.[0-9]+)([Ee](\+|-)?[0-9]+)?|-?INF|NaN)"
);
pattern!(
    DURATION,
    r"-?P((([0-9]+Y([0-9]+M)?([0-9]+D)?|([0-9]+M)([0-9]+D)?|([0-9]+D))(T(([0-9]+H)([0-9]+M)?([0-9]+(\.[0-9]+)?S)?|([0-9]+M)([0-9]+(\.[0-9]+)?S)?|([0-9]+(\.[0-9]+)?S)))?)|(T(([0-9]+H)([0-9]+M)?([0-9]+(\.[0-9]+)?S)?|([0-9]+M)([0-9]+(\.[0-9]+)?S)?|([0-9]+(\.[0-9]+)?S))))"
);
pattern!(G_DAY, format!("---(0[1-9]|[12][0-9]|3[01]){TIMEZONE}?"));
pattern!(G_MONTH, format!("--(0[1-9]|1[0-2]){TIMEZONE}?"));
pattern!(
    G_MONTH_DAY,
    format!("--(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]){TIMEZONE}?")
);
pattern!(
    G_YEAR,
    format!("-?([1-9][0-9]{{3,}}|0[0-9]{{3}}){TIMEZONE}?")
);
pattern!(
    G_YEAR_MONTH,
    format!("-?([1-9][0-9]{{3,}}|0[0-9]{{3}})-(0[1-9]|1[0-2]){TIMEZONE}?")
);
pattern!(HEX_BINARY, r"([0-9a-fA-F]{2})*");
pattern!(
    TIME_OF_DAY,
    format!(r"(([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?|(24:00:00(\.0+)?)){TIMEZONE}?")
);
pattern!(INTEGER, r"[-+]?[0-9]+");
pattern!(NON_NEGATIVE_INTEGER, r"(-0|\+?[0-9]+)");
pattern!(POSITIVE_INTEGER, r"\+?0*[1-9][0-9]*");
pattern!(NON_POSITIVE_INTEGER, r"(\+0|0|-[0-9]+)");
pattern!(NEGATIVE_INTEGER, r"(-0*[1-9][0-9]*)");
pattern!(BOOLEAN, r"(true|false|1|0)");
pattern!(BASE64, {
    let b04 = r"[AQgw]\x20?";
    let b16 = r"[AEIMQUYcgkosw048]\x20?";
    let b64 = r"[A-Za-z0-9+/]\x20?";
    let quad = format!("({b64}{b64}{b64}{b64})");
    let final_quad = format!("({b64}{b64}{b64}[A-Za-z0-9+/])");
    let padded8 = format!("{b64}{b04}= ?=");
    let padded16 = format!("{b64}{b64}{b16}=");
    format!("({quad}*({final_quad}|{padded16}|{padded8}))?")
});
pattern!(BCP47, {
    let alphanum = "[a-zA-Z0-9]";
    let singleton = "[0-9A-WY-Za-wy-z]";
    let extension = format!("{singleton}(-({alphanum}){{2,8}})+");
    let extlang = "[a-zA-Z]{3}(-[a-zA-Z]{3}){0,2}";
    let irregular = "(en-GB-oed|i-ami|i-bnn|i-default|i-enochian|i-hak|i-klingon|i-lux|i-mingo|i-navajo|i-pwn|i-tao|i-tay|i-tsu|sgn-BE-FR|sgn-BE-NL|sgn-CH-DE)";
    let regular =
        "(art-lojban|cel-gaulish|no-bok|no-nyn|zh-guoyu|zh-hakka|zh-min|zh-min-nan|zh-xiang)";
    let language = format!("([a-zA-Z]{{2,3}}(-{extlang})?|[a-zA-Z]{{4}}|[a-zA-Z]{{5,8}})");
    let script = "[a-zA-Z]{4}";
    let region = "([a-zA-Z]{2}|[0-9]{3})";
    let variant = format!("(({alphanum}){{5,8}}|[0-9]({alphanum}){{3}})");
    let private_use = format!("[xX](-({alphanum}){{1,8}})+");
    let langtag =
        format!("{language}(-{script})?(-{region})?(-{variant})*(-{extension})*(-{private_use})?");
    format!("({langtag}|{private_use}|({irregular}|{regular}))")
});
pattern!(ENGLISH, "(en|EN)(-.*)?");
pattern!(MIME, {
    let tchar = r"[!#$%&'*+\-.^_`|~0-9a-zA-Z]";
    let token = format!("({tchar})+");
    let ows = r"[ \t]*";
    let obs_text = r"[\x{80}-\x{FF}]";
    let qd_text = format!(r"([\t !#-\[\]-~]|{obs_text})");
    let quoted_pair = format!(r"\\([\t !-~]|{obs_text})");
    let quoted_string = format!("\"({qd_text}|{quoted_pair})*\"");
    let parameter = format!("{token}=({token}|{quoted_string})");
    format!("{token}/{token}({ows};{ows}{parameter})*")
});
pattern!(RFC_2396, {
    let alphanum = "[a-zA-Z0-9]";
    let mark = r"[\-_.!~*'()]";
    let unreserved = format!("({alphanum}|{mark})");
    let hex = "[0-9a-fA-F]";
    let escaped = format!("%{hex}{hex}");
    let pchar = format!("({unreserved}|{escaped}|[:@&=+$,])");
    let param = format!("({pchar})*");
    let segment = format!("({pchar})*(;{param})*");
    let path_segments = format!("{segment}(/{segment})*");
    let abs_path = format!("/{path_segments}");
    let scheme = r"[a-zA-Z][a-zA-Z0-9+\-.]*";
    let userinfo = format!("({unreserved}|{escaped}|[;:&=+$,])*");
    let domainlabel = format!("({alphanum}|{alphanum}({alphanum}|-)*{alphanum})");
    let toplabel = format!("([a-zA-Z]|[a-zA-Z]({alphanum}|-)*{alphanum})");
    let hostname = format!(r"({domainlabel}\.)*{toplabel}(\.)?");
    let ipv4 = r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+";
    let host = format!("({hostname}|{ipv4})");
    let hostport = format!("{host}(:[0-9]*)?");
    let server = format!("(({userinfo}@)?{hostport})?");
    let reg_name = format!("({unreserved}|{escaped}|[$,;:@&=+])+");
    let authority = format!("({server}|{reg_name})");
    let net_path = format!("//{authority}({abs_path})?");
    let reserved = "[;/?:@&=+$,]";
    let uric = format!("({reserved}|{unreserved}|{escaped})");
    let query = format!("({uric})*");
    let hier_part = format!(r"({net_path}|{abs_path})(\?{query})?");
    let uric_no_slash = format!("({unreserved}|{escaped}|[;?:@&=+$,])");
    let opaque_part = format!("{uric_no_slash}({uric})*");
    let absolute = format!("{scheme}:({hier_part}|{opaque_part})");
    let rel_segment = format!("({unreserved}|{escaped}|[;@&=+$,])+");
    let rel_path = format!("{rel_segment}({abs_path})?");
    let relative = format!(r"({net_path}|{abs_path}|{rel_path})(\?{query})?");
    format!("({absolute}|{relative})?(#({uric})*)?")
});
pattern!(ANY_URI, {
    let scheme = r"[a-zA-Z][a-zA-Z0-9+\-.]*";
    let ucschar = r"[\x{A0}-\x{D7FF}\x{F900}-\x{FDCF}\x{FDF0}-\x{FFEF}\x{10000}-\x{1FFFD}\x{20000}-\x{2FFFD}\x{30000}-\x{3FFFD}\x{40000}-\x{4FFFD}\x{50000}-\x{5FFFD}\x{60000}-\x{6FFFD}\x{70000}-\x{7FFFD}\x{80000}-\x{8FFFD}\x{90000}-\x{9FFFD}\x{A0000}-\x{AFFFD}\x{B0000}-\x{BFFFD}\x{C0000}-\x{CFFFD}\x{D0000}-\x{DFFFD}\x{E1000}-\x{EFFFD}]";
    let iunreserved = format!(r"([a-zA-Z0-9\-._~]|{ucschar})");
    let pct = "%[0-9A-Fa-f][0-9A-Fa-f]";
    let sub_delims = "[!$&'()*+,;=]";
    let iuserinfo = format!("({iunreserved}|{pct}|{sub_delims}|:)*");
    let h16 = "[0-9A-Fa-f]{1,4}";
    let dec_octet = "([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])";
    let ipv4 = format!(r"{dec_octet}\.{dec_octet}\.{dec_octet}\.{dec_octet}");
    let ls32 = format!("({h16}:{h16}|{ipv4})");
    let ipv6 = format!(
        "(({h16}:){{6}}{ls32}|::({h16}:){{5}}{ls32}|({h16})?::({h16}:){{4}}{ls32}|(({h16}:)?{h16})?::({h16}:){{3}}{ls32}|(({h16}:){{0,2}}{h16})?::({h16}:){{2}}{ls32}|(({h16}:){{0,3}}{h16})?::{h16}:{ls32}|(({h16}:){{0,4}}{h16})?::{ls32}|(({h16}:){{0,5}}{h16})?::{h16}|(({h16}:){{0,6}}{h16})?::)"
    );
    let unreserved = r"[a-zA-Z0-9\-._~]";
    let ipvfuture = format!(r"[vV][0-9A-Fa-f]+\.({unreserved}|{sub_delims}|:)+");
    let ip_literal = format!(r"\[({ipv6}|{ipvfuture})\]");
    let ireg_name = format!("({iunreserved}|{pct}|{sub_delims})*");
    let ihost = format!("({ip_literal}|{ipv4}|{ireg_name})");
    let iauthority = format!("({iuserinfo}@)?{ihost}(:[0-9]*)?");
    let ipchar = format!("({iunreserved}|{pct}|{sub_delims}|[:@])");
    let isegment = format!("({ipchar})*");
    let ipath_abempty = format!("(/{isegment})*");
    let isegment_nz = format!("({ipchar})+");
    let ipath_absolute = format!("/({isegment_nz}(/{isegment})*)?");
    let ipath_rootless = format!("{isegment_nz}(/{isegment})*");
    let ipath_empty = "";
    let ihier_part =
        format!("(//{iauthority}{ipath_abempty}|{ipath_absolute}|{ipath_rootless}|{ipath_empty})");
    let iprivate = r"[\x{E000}-\x{F8FF}\x{F0000}-\x{FFFFD}\x{100000}-\x{10FFFD}]";
    let iquery = format!("({ipchar}|{iprivate}|[/?])*");
    let ifragment = format!("({ipchar}|[/?])*");
    let isegment_nz_nc = format!("({iunreserved}|{pct}|{sub_delims}|@)+");
    let ipath_noscheme = format!("{isegment_nz_nc}(/{isegment})*");
    let irelative_part =
        format!("(//{iauthority}{ipath_abempty}|{ipath_absolute}|{ipath_noscheme}|{ipath_empty})");
    let irelative_ref = format!(r"{irelative_part}(\?{iquery})?(#{ifragment})?");
    let iri = format!(r"{scheme}:{ihier_part}(\?{iquery})?(#{ifragment})?");
    format!("({iri}|{irelative_ref})")
});

/// AASd-130: only characters XML 1.0 can carry.
pub(crate) fn is_xml_string(text: &str) -> bool {
    // Faster than the regex for the common case and equivalent to it.
    text.chars().all(|c| {
        matches!(c, '\u{09}' | '\u{0A}' | '\u{0D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
    })
}

pub(crate) fn is_id_short(text: &str) -> bool {
    ID_SHORT.is_match(text)
}

pub(crate) fn is_version(text: &str) -> bool {
    VERSION.is_match(text)
}

pub(crate) fn is_bcp47(text: &str) -> bool {
    BCP47.is_match(text)
}

pub(crate) fn is_english(text: &str) -> bool {
    ENGLISH.is_match(text)
}

pub(crate) fn is_mime_type(text: &str) -> bool {
    MIME.is_match(text)
}

pub(crate) fn is_rfc_2396(text: &str) -> bool {
    RFC_2396.is_match(text)
}

pub(crate) fn is_duration(text: &str) -> bool {
    DURATION.is_match(text)
}

pub(crate) fn matches_date_time_utc(text: &str) -> bool {
    DATE_TIME_UTC.is_match(text)
}

/// An xs:dateTime in UTC that names a real day.
pub(crate) fn is_date_time_utc(text: &str) -> bool {
    matches_date_time_utc(text) && date_prefix_is_real(text)
}

pub(crate) fn is_non_negative_integer(text: &str) -> bool {
    NON_NEGATIVE_INTEGER.is_match(text)
}

/// Whether `year` (in XSD's numbering, where -0001 is 1 BCE) is a leap year.
/// The year is a digit string of any length, so this works on its remainders.
fn is_leap_year(negative: bool, digits: &str) -> bool {
    // Remainders modulo 400 decide; a year's value modulo 400 is computed from
    // the digits so that years beyond u64 work too.
    let mut rem: u32 = 0;
    for digit in digits.bytes() {
        rem = (rem * 10 + u32::from(digit - b'0')) % 400;
    }
    // Astronomical numbering: 1 BCE (-0001) is year 0, 5 BCE (-0005) is -4;
    // divisibility by 4, 100 and 400 ignores the sign, so |year| - 1 will do.
    let year = if negative { (rem + 399) % 400 } else { rem };
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Checks the `YYYY-MM-DD` at the start of a string that already matches a date
/// pattern: no year zero, no day past the month's end.
fn date_prefix_is_real(text: &str) -> bool {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let Some(year_end) = rest.find('-') else {
        return false;
    };
    let year = &rest[..year_end];
    let (Some(month), Some(day)) = (
        rest.get(year_end + 1..year_end + 3),
        rest.get(year_end + 4..year_end + 6),
    ) else {
        return false;
    };
    if year.bytes().all(|b| b == b'0') {
        return false;
    }
    let (Ok(month), Ok(day)) = (month.parse::<u32>(), day.parse::<u32>()) else {
        return false;
    };
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(negative, year) => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// A bounded integer type: pattern, then range (the patterns cap the digits, so
/// i128 holds every value that matches).
fn in_range(text: &str, pattern_digits_max: usize, min: i128, max: i128) -> bool {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let significant = unsigned.trim_start_matches('0');
    if significant.len() > pattern_digits_max {
        return false;
    }
    let magnitude: i128 = if significant.is_empty() {
        0
    } else {
        match significant.parse() {
            Ok(value) => value,
            Err(_) => return false,
        }
    };
    let value = if text.starts_with('-') {
        -magnitude
    } else {
        magnitude
    };
    (min..=max).contains(&value)
}

fn is_double(text: &str) -> bool {
    if !DOUBLE.is_match(text) {
        return false;
    }
    if text == "INF" || text == "-INF" || text == "NaN" {
        return true;
    }
    // A literal too large for a double is not an xs:double.
    text.parse::<f64>().is_ok_and(f64::is_finite)
}

fn is_float(text: &str) -> bool {
    if !DOUBLE.is_match(text) {
        return false;
    }
    if text == "INF" || text == "-INF" || text == "NaN" {
        return true;
    }
    #[expect(
        clippy::cast_possible_truncation,
        reason = "the narrowing is the check: a finite double that rounds to an infinite float is out of range"
    )]
    text.parse::<f64>()
        .is_ok_and(|value| value.is_finite() && (value as f32).is_finite())
}

fn is_g_month_day(text: &str) -> bool {
    if !G_MONTH_DAY.is_match(text) {
        return false;
    }
    let (Some(month), Some(day)) = (text.get(2..4), text.get(5..7)) else {
        return false;
    };
    let (Ok(month), Ok(day)) = (month.parse::<u32>(), day.parse::<u32>()) else {
        return false;
    };
    let days = match month {
        2 => 29,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    day <= days
}

/// Whether `value` is in the lexical space of `value_type` (the rule behind
/// AASd-020 and the value checks of properties, ranges and extensions).
pub fn value_matches(value: &str, value_type: DataTypeDefXsd) -> bool {
    use DataTypeDefXsd as T;
    match value_type {
        T::AnyUri => ANY_URI.is_match(value),
        T::Base64Binary => BASE64.is_match(value),
        T::Boolean => BOOLEAN.is_match(value),
        T::Byte => in_range(value, 3, -128, 127),
        T::Date => DATE.is_match(value) && date_prefix_is_real(value),
        T::DateTime => DATE_TIME.is_match(value) && date_prefix_is_real(value),
        T::Decimal => DECIMAL.is_match(value),
        T::Double => is_double(value),
        T::Duration => DURATION.is_match(value),
        T::Float => is_float(value),
        T::GDay => G_DAY.is_match(value),
        T::GMonth => G_MONTH.is_match(value),
        T::GMonthDay => is_g_month_day(value),
        T::GYear => G_YEAR.is_match(value),
        T::GYearMonth => G_YEAR_MONTH.is_match(value),
        T::HexBinary => HEX_BINARY.is_match(value),
        T::Int => in_range(value, 10, i128::from(i32::MIN), i128::from(i32::MAX)),
        T::Integer => INTEGER.is_match(value),
        T::Long => in_range(value, 20, i128::from(i64::MIN), i128::from(i64::MAX)),
        T::NegativeInteger => NEGATIVE_INTEGER.is_match(value),
        T::NonNegativeInteger => NON_NEGATIVE_INTEGER.is_match(value),
        T::NonPositiveInteger => NON_POSITIVE_INTEGER.is_match(value),
        T::PositiveInteger => POSITIVE_INTEGER.is_match(value),
        T::Short => in_range(value, 5, i128::from(i16::MIN), i128::from(i16::MAX)),
        T::String => XML_STRING.is_match(value),
        T::Time => TIME_OF_DAY.is_match(value),
        T::UnsignedByte => unsigned_in_range(value, 3, i128::from(u8::MAX)),
        T::UnsignedInt => unsigned_in_range(value, 10, i128::from(u32::MAX)),
        T::UnsignedLong => unsigned_in_range(value, 20, i128::from(u64::MAX)),
        T::UnsignedShort => unsigned_in_range(value, 5, i128::from(u16::MAX)),
    }
}

/// Unsigned types allow `-0` and a leading `+` but no other sign.
fn unsigned_in_range(text: &str, digits_max: usize, max: i128) -> bool {
    if text == "-0" {
        return true;
    }
    !text.starts_with('-') && in_range(text, digits_max, 0, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        for regex in [
            &XML_STRING,
            &ID_SHORT,
            &VERSION,
            &DATE,
            &DATE_TIME,
            &DATE_TIME_UTC,
            &DECIMAL,
            &DOUBLE,
            &DURATION,
            &G_DAY,
            &G_MONTH,
            &G_MONTH_DAY,
            &G_YEAR,
            &G_YEAR_MONTH,
            &HEX_BINARY,
            &TIME_OF_DAY,
            &INTEGER,
            &NON_NEGATIVE_INTEGER,
            &POSITIVE_INTEGER,
            &NON_POSITIVE_INTEGER,
            &NEGATIVE_INTEGER,
            &BOOLEAN,
            &BASE64,
            &BCP47,
            &ENGLISH,
            &MIME,
            &RFC_2396,
            &ANY_URI,
        ] {
            assert!(!regex.as_str().is_empty());
        }
    }

    #[test]
    fn leap_years_follow_xsd_numbering() {
        assert!(date_prefix_is_real("2024-02-29"));
        assert!(!date_prefix_is_real("2023-02-29"));
        assert!(!date_prefix_is_real("1900-02-29"));
        assert!(date_prefix_is_real("2000-02-29"));
        // -0001 is 1 BCE, astronomical year 0: a leap year; so is -0005.
        assert!(date_prefix_is_real("-0001-02-29"));
        assert!(date_prefix_is_real("-0005-02-29"));
        assert!(!date_prefix_is_real("-0002-02-29"));
        assert!(!date_prefix_is_real("0000-01-01"));
        assert!(date_prefix_is_real("123456789012345678901234567890-02-28"));
    }

    #[test]
    fn value_types() {
        use DataTypeDefXsd as T;
        let cases: &[(T, &str, bool)] = &[
            (T::Int, "2147483647", true),
            (T::Int, "2147483648", false),
            (T::Int, "-0002147483648", true),
            (T::Byte, "+127", true),
            (T::Byte, "-129", false),
            (T::UnsignedByte, "-0", true),
            (T::UnsignedByte, "-1", false),
            (T::UnsignedLong, "18446744073709551615", true),
            (T::UnsignedLong, "18446744073709551616", false),
            (T::Double, "1e400", false),
            (T::Double, "-INF", true),
            (T::Double, "inf", false),
            (T::Float, "1e39", false),
            (T::Float, "3.4e38", true),
            (T::Decimal, "-.5", true),
            (T::Decimal, "1e3", false),
            (T::DateTime, "2022-02-29T00:00:00Z", false),
            (T::DateTime, "2024-02-29T24:00:00+14:00", true),
            (T::Date, "2024-13-01", false),
            (T::GMonthDay, "--02-30", false),
            (T::GMonthDay, "--02-29", true),
            (T::Boolean, "TRUE", false),
            (T::HexBinary, "0aF", false),
            (T::Base64Binary, "QUJD", true),
            (T::Base64Binary, "QUJ", false),
            (T::AnyUri, "https://example.com/a b", false),
            (T::AnyUri, "urn:x:y", true),
            (T::Duration, "P1Y2M", true),
            (T::Duration, "P", false),
            (T::String, "\u{0}", false),
        ];
        for (value_type, value, expected) in cases {
            assert_eq!(
                value_matches(value, *value_type),
                *expected,
                "{value_type} {value:?}"
            );
        }
    }

    #[test]
    fn metamodel_patterns() {
        assert!(is_bcp47("de-CH"));
        assert!(is_bcp47("i-enochian"));
        assert!(!is_bcp47("de_CH"));
        assert!(is_mime_type("text/plain; charset=\"utf-8\""));
        assert!(!is_mime_type("text"));
        assert!(is_rfc_2396("file:/aasx/a.pdf"));
        assert!(!is_rfc_2396("a b"));
        assert!(is_date_time_utc("2024-02-29T12:00:00Z"));
        assert!(!is_date_time_utc("2023-02-29T12:00:00Z"));
        assert!(!is_date_time_utc("2024-02-28T12:00:00+01:00"));
    }
}
