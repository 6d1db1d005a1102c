//! Checking a JSON value against a DTDL schema, the way Azure Digital Twins
//! validates twin properties: integers are range-checked, doubles and floats
//! accept any JSON number, temporal strings are checked for form, enums
//! accept only declared values, objects only declared fields, maps check
//! their keys and values, arrays every element, geospatial values are
//! GeoJSON geometries.

use serde_json::Value;

use crate::limits::MAX_VALUE_DEPTH;
use crate::{Schema, ValueError};

pub(crate) fn check(schema: &Schema, value: &Value) -> Result<(), ValueError> {
    let mut path = String::new();
    check_at(schema, value, &mut path, 0)
}

fn fail(path: &str, message: impl Into<String>) -> Result<(), ValueError> {
    Err(ValueError {
        path: path.to_owned(),
        message: message.into(),
    })
}

fn push_pointer(path: &mut String, token: &str) {
    path.push('/');
    for c in token.chars() {
        match c {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            c => path.push(c),
        }
    }
}

fn int_in(path: &str, value: &Value, min: i128, max: i128, what: &str) -> Result<(), ValueError> {
    let n = value
        .as_i64()
        .map(i128::from)
        .or_else(|| value.as_u64().map(i128::from));
    match n {
        Some(n) if (min..=max).contains(&n) => Ok(()),
        Some(_) => fail(
            path,
            format!("{value} is outside the range of {what} ({min} to {max})"),
        ),
        None => fail(
            path,
            format!(
                "expected {what} (an integer from {min} to {max}), found {}",
                kind(value)
            ),
        ),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn string<'v>(path: &str, value: &'v Value, what: &str) -> Result<&'v str, ValueError> {
    value.as_str().ok_or_else(|| ValueError {
        path: path.to_owned(),
        message: format!("expected {what} as a string, found {}", kind(value)),
    })
}

fn check_at(
    schema: &Schema,
    value: &Value,
    path: &mut String,
    depth: usize,
) -> Result<(), ValueError> {
    if depth > MAX_VALUE_DEPTH {
        return fail(
            path,
            format!("value nested deeper than {MAX_VALUE_DEPTH} levels"),
        );
    }
    match schema {
        Schema::Boolean => match value {
            Value::Bool(_) => Ok(()),
            _ => fail(path, format!("expected a boolean, found {}", kind(value))),
        },
        Schema::Double | Schema::Float => match value {
            Value::Number(_) => Ok(()),
            _ => fail(path, format!("expected a number, found {}", kind(value))),
        },
        Schema::Decimal => match value {
            Value::Number(_) => Ok(()),
            Value::String(s) if is_decimal(s) => Ok(()),
            _ => fail(path, "expected a decimal number"),
        },
        Schema::Integer => int_in(path, value, i32::MIN.into(), i32::MAX.into(), "integer"),
        Schema::Long => int_in(path, value, i64::MIN.into(), i64::MAX.into(), "long"),
        Schema::Byte => int_in(path, value, i8::MIN.into(), i8::MAX.into(), "byte"),
        Schema::Short => int_in(path, value, i16::MIN.into(), i16::MAX.into(), "short"),
        Schema::UnsignedByte => int_in(path, value, 0, u8::MAX.into(), "unsignedByte"),
        Schema::UnsignedShort => int_in(path, value, 0, u16::MAX.into(), "unsignedShort"),
        Schema::UnsignedInteger => int_in(path, value, 0, u32::MAX.into(), "unsignedInteger"),
        Schema::UnsignedLong => int_in(path, value, 0, u64::MAX.into(), "unsignedLong"),
        Schema::String => string(path, value, "a string").map(|_| ()),
        Schema::Bytes => {
            let s = string(path, value, "base64 bytes")?;
            if is_base64(s) {
                Ok(())
            } else {
                fail(path, "expected base64-encoded bytes")
            }
        }
        Schema::Uuid => {
            let s = string(path, value, "a UUID")?;
            if is_uuid(s) {
                Ok(())
            } else {
                fail(path, format!("{s:?} is not a UUID (8-4-4-4-12 hex digits)"))
            }
        }
        Schema::Date => {
            let s = string(path, value, "a date")?;
            if is_date(s) {
                Ok(())
            } else {
                fail(path, format!("{s:?} is not an RFC 3339 date (YYYY-MM-DD)"))
            }
        }
        Schema::Time => {
            let s = string(path, value, "a time")?;
            if is_time(s, false) {
                Ok(())
            } else {
                fail(
                    path,
                    format!("{s:?} is not an RFC 3339 time (hh:mm:ss[.fff][offset])"),
                )
            }
        }
        Schema::DateTime => {
            let s = string(path, value, "a dateTime")?;
            let ok = s
                .split_once(['T', 't'])
                .is_some_and(|(d, t)| is_date(d) && is_time(t, true));
            if ok {
                Ok(())
            } else {
                fail(
                    path,
                    format!("{s:?} is not an RFC 3339 date-time (YYYY-MM-DDThh:mm:ss[.fff]Z)"),
                )
            }
        }
        Schema::Duration => {
            let s = string(path, value, "a duration")?;
            if is_duration(s) {
                Ok(())
            } else {
                fail(
                    path,
                    format!("{s:?} is not an ISO 8601 duration (like P1DT2H or PT30S)"),
                )
            }
        }
        Schema::Point
        | Schema::MultiPoint
        | Schema::LineString
        | Schema::MultiLineString
        | Schema::Polygon
        | Schema::MultiPolygon => check_geo(schema, value, path),
        Schema::Enum(e) => {
            if e.values.iter().any(|v| v.value == *value) {
                Ok(())
            } else {
                let names: Vec<String> = e.values.iter().map(|v| v.value.to_string()).collect();
                fail(
                    path,
                    format!(
                        "{value} is not one of the enum values [{}]",
                        names.join(", ")
                    ),
                )
            }
        }
        Schema::Object(o) => {
            let Value::Object(map) = value else {
                return fail(path, format!("expected an object, found {}", kind(value)));
            };
            for (key, v) in map {
                let Some(field) = o.fields.iter().find(|f| f.name == *key) else {
                    let names: Vec<&str> = o.fields.iter().map(|f| f.name.as_str()).collect();
                    let mut p = path.clone();
                    push_pointer(&mut p, key);
                    return fail(
                        &p,
                        format!(
                            "field {key:?} is not declared; allowed fields: {}",
                            names.join(", ")
                        ),
                    );
                };
                let len = path.len();
                push_pointer(path, key);
                let r = check_at(&field.schema, v, path, depth + 1);
                path.truncate(len);
                r?;
            }
            Ok(())
        }
        Schema::Map(m) => {
            let Value::Object(map) = value else {
                return fail(
                    path,
                    format!("expected a map (JSON object), found {}", kind(value)),
                );
            };
            for (key, v) in map {
                let len = path.len();
                push_pointer(path, key);
                if !map_key_ok(key) {
                    let r = fail(
                        path,
                        format!(
                            "map key {key:?} must start with a letter and contain only letters, digits and underscores"
                        ),
                    );
                    path.truncate(len);
                    return r;
                }
                let r = check_at(&m.value_schema, v, path, depth + 1);
                path.truncate(len);
                r?;
            }
            Ok(())
        }
        Schema::Array(a) => {
            let Value::Array(items) = value else {
                return fail(path, format!("expected an array, found {}", kind(value)));
            };
            for (i, v) in items.iter().enumerate() {
                let len = path.len();
                push_pointer(path, &i.to_string());
                let r = check_at(&a.element_schema, v, path, depth + 1);
                path.truncate(len);
                r?;
            }
            Ok(())
        }
    }
}

/// Map keys in ADT follow the DTDL name pattern, but longer names are allowed.
fn map_key_ok(key: &str) -> bool {
    let b = key.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphabetic()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

fn digits(s: &str, n: usize) -> Option<u32> {
    (s.len() == n && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
}

fn is_date(s: &str) -> bool {
    let mut parts = s.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Some(y), Some(m), Some(d)) = (digits(y, 4), digits(m, 2), digits(d, 2)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// `hh:mm:ss[.frac]` with an offset (`Z`, `+hh:mm`) required in date-times
/// and optional in times.
fn is_time(s: &str, offset_required: bool) -> bool {
    let (clock, offset) = match s.find(['Z', 'z', '+', '-']) {
        Some(i) => (&s[..i], Some(&s[i..])),
        None => (s, None),
    };
    let ok_offset = match offset {
        None => !offset_required,
        Some("Z" | "z") => true,
        Some(o) => {
            let o = &o[1..];
            o.split_once(':').is_some_and(|(h, m)| {
                digits(h, 2).is_some_and(|h| h < 24) && digits(m, 2).is_some_and(|m| m < 60)
            })
        }
    };
    let (hms, frac) = match clock.split_once('.') {
        Some((a, f)) => (a, Some(f)),
        None => (clock, None),
    };
    let frac_ok = frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
    let mut parts = hms.split(':');
    let (Some(h), Some(m), Some(sec), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    ok_offset
        && frac_ok
        && digits(h, 2).is_some_and(|h| h < 24)
        && digits(m, 2).is_some_and(|m| m < 60)
        && digits(sec, 2).is_some_and(|s| s <= 60)
}

/// ISO 8601 duration: `P[nY][nM][nW][nD][T[nH][nM][n[.n]S]]` with at least one part.
fn is_duration(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('P') else {
        return false;
    };
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    let mut any = false;
    let mut check_part = |text: &str, units: &[u8], allow_fraction_last: bool| -> bool {
        let mut number = String::new();
        let mut next_unit = 0;
        for c in text.chars() {
            if c.is_ascii_digit() || (c == '.' && allow_fraction_last) {
                number.push(c);
                continue;
            }
            let Some(pos) = units.iter().position(|u| *u as char == c) else {
                return false;
            };
            if pos < next_unit
                || number.is_empty()
                || number.starts_with('.')
                || number.ends_with('.')
            {
                return false;
            }
            if number.contains('.') && c != 'S' {
                return false;
            }
            next_unit = pos + 1;
            number.clear();
            any = true;
        }
        number.is_empty()
    };
    if !check_part(date, b"YMWD", false) {
        return false;
    }
    if let Some(t) = time
        && (t.is_empty() || !check_part(t, b"HMS", true))
    {
        return false;
    }
    any
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn is_base64(s: &str) -> bool {
    let trimmed = s.trim_end_matches('=');
    s.len().is_multiple_of(4)
        && s.len() - trimmed.len() <= 2
        && trimmed
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

fn is_decimal(s: &str) -> bool {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

fn check_geo(schema: &Schema, value: &Value, path: &mut String) -> Result<(), ValueError> {
    let (name, depth) = match schema {
        Schema::Point => ("Point", 0),
        Schema::MultiPoint => ("MultiPoint", 1),
        Schema::LineString => ("LineString", 1),
        Schema::MultiLineString => ("MultiLineString", 2),
        Schema::Polygon => ("Polygon", 2),
        _ => ("MultiPolygon", 3),
    };
    let Value::Object(map) = value else {
        return fail(
            path,
            format!("expected a GeoJSON {name} object, found {}", kind(value)),
        );
    };
    if map.get("type").and_then(Value::as_str) != Some(name) {
        return fail(path, format!("a GeoJSON {name} needs \"type\": \"{name}\""));
    }
    for key in map.keys() {
        if key != "type" && key != "coordinates" {
            let mut p = path.clone();
            push_pointer(&mut p, key);
            return fail(
                &p,
                format!("a GeoJSON {name} has only \"type\" and \"coordinates\""),
            );
        }
    }
    let Some(coordinates) = map.get("coordinates") else {
        return fail(path, format!("a GeoJSON {name} needs \"coordinates\""));
    };
    let len = path.len();
    push_pointer(path, "coordinates");
    let r = check_coordinates(coordinates, depth, name, path);
    path.truncate(len);
    r
}

fn check_coordinates(
    value: &Value,
    depth: usize,
    name: &str,
    path: &mut String,
) -> Result<(), ValueError> {
    let Value::Array(items) = value else {
        return fail(path, format!("{name} coordinates must be arrays"));
    };
    if depth == 0 {
        if !(2..=3).contains(&items.len()) || !items.iter().all(Value::is_number) {
            return fail(path, "a position is an array of 2 or 3 numbers");
        }
        return Ok(());
    }
    let min = match (name, depth) {
        ("LineString", 1) | ("MultiLineString", 1) => 2,
        ("Polygon", 1) | ("MultiPolygon", 1) => 4,
        _ => 0,
    };
    if items.len() < min {
        return fail(path, format!("{name} needs at least {min} positions here"));
    }
    for (i, item) in items.iter().enumerate() {
        let len = path.len();
        push_pointer(path, &i.to_string());
        let r = check_coordinates(item, depth - 1, name, path);
        path.truncate(len);
        r?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ArraySchema, Field, ObjectSchema};
    use serde_json::json;

    #[test]
    fn primitives() {
        assert!(check(&Schema::Integer, &json!(5)).is_ok());
        assert!(check(&Schema::Integer, &json!(3_000_000_000i64)).is_err());
        assert!(check(&Schema::Double, &json!(1.5)).is_ok());
        assert!(check(&Schema::DateTime, &json!("2024-02-29T10:00:00Z")).is_ok());
        assert!(check(&Schema::DateTime, &json!("2023-02-29T10:00:00Z")).is_err());
        assert!(check(&Schema::Duration, &json!("P1DT2H30M")).is_ok());
        assert!(check(&Schema::Duration, &json!("P")).is_err());
        assert!(check(&Schema::Time, &json!("10:11:12.5")).is_ok());
    }

    #[test]
    fn nested_error_path() {
        let schema = Schema::Object(Box::new(ObjectSchema {
            id: None,
            fields: vec![Field {
                name: "xs".into(),
                schema: Schema::Array(Box::new(ArraySchema {
                    id: None,
                    element_schema: Schema::Long,
                })),
                display_name: Default::default(),
            }],
        }));
        let err = check(&schema, &json!({"xs": [1, "two"]})).unwrap_err();
        assert_eq!(err.path, "/xs/1");
        let err = check(&schema, &json!({"nope": 1})).unwrap_err();
        assert_eq!(err.path, "/nope");
    }

    #[test]
    fn geojson_point() {
        assert!(
            check(
                &Schema::Point,
                &json!({"type": "Point", "coordinates": [1.0, 2.0]})
            )
            .is_ok()
        );
        assert!(
            check(
                &Schema::Point,
                &json!({"type": "Point", "coordinates": [1.0]})
            )
            .is_err()
        );
    }
}
