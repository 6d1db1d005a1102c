//! Reading request bodies within the `Limits`: the byte limit is enforced while
//! the body streams in (a client cannot make the server buffer more than the
//! limit), the nesting depth is checked on the raw bytes before parsing, and
//! malformed JSON is answered with where it broke.

use axum::body::Body;
use serde_json::Value;

use crate::ApiError;

/// The body as bytes, refused with 413 as soon as it passes `max` bytes.
pub(crate) async fn read_bytes(
    body: Body,
    max: usize,
    limit: &'static str,
) -> Result<Vec<u8>, ApiError> {
    let limited = http_body_util::Limited::new(body, max);
    match http_body_util::BodyExt::collect(limited).await {
        Ok(collected) => Ok(collected.to_bytes().to_vec()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(ApiError::TooLarge {
            what: "the request body",
            detail: format!("more than {max} bytes"),
            limit,
        }),
        Err(error) => Err(ApiError::bad_request(
            "BadRequest",
            format!("the request body could not be read: {error}"),
        )),
    }
}

/// The body parsed as JSON, within the byte limit and `depth_max`.
pub(crate) async fn read_json(
    body: Body,
    max: usize,
    limit: &'static str,
    depth_max: usize,
) -> Result<Value, ApiError> {
    let bytes = read_bytes(body, max, limit).await?;
    parse_json(&bytes, depth_max)
}

/// Parses JSON after checking its nesting depth.
pub(crate) fn parse_json(bytes: &[u8], depth_max: usize) -> Result<Value, ApiError> {
    // Strip a UTF-8 byte order mark: some DTDL files carry one.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let depth = json_depth(bytes);
    if depth > depth_max {
        return Err(ApiError::TooLarge {
            what: "the JSON body's nesting",
            detail: format!("{depth} levels deep or more, at most {depth_max} are allowed"),
            limit: "json_depth_max",
        });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "BadRequest",
            "the request needs a JSON body, but it is empty",
        ));
    }
    serde_json::from_slice(bytes).map_err(|error| {
        ApiError::bad_request(
            "BadRequest",
            format!("the request body is not valid JSON: {error}"),
        )
    })
}

/// The deepest nesting of `[`/`{` outside strings (the first depth past the
/// point of interest is enough, so it stops counting at a generous bound).
fn json_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_ignores_brackets_in_strings() {
        assert_eq!(json_depth(br#"{"a": "[[[{{{", "b": [1, [2]]}"#), 3);
        assert_eq!(json_depth(br#"["\"[[["]"#), 1);
        assert_eq!(json_depth(b"1"), 0);
    }

    #[test]
    fn deep_bodies_and_bad_json_are_refused_clearly() {
        let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
        let error = parse_json(deep.as_bytes(), 64).unwrap_err();
        assert_eq!(error.status(), axum::http::StatusCode::PAYLOAD_TOO_LARGE);
        assert!(error.to_string().contains("json_depth_max"), "{error}");
        let error = parse_json(b"{\"a\": }", 64).unwrap_err();
        assert!(error.to_string().contains("line 1 column 7"), "{error}");
        assert_eq!(
            parse_json(b"\xEF\xBB\xBF[1]", 64).unwrap(),
            serde_json::json!([1])
        );
        assert!(parse_json(b"  ", 64).is_err());
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_refused_while_reading() {
        let error = read_bytes(Body::from(vec![b'x'; 11]), 10, "twin_body_bytes_max")
            .await
            .unwrap_err();
        assert_eq!(error.code(), "PayloadTooLarge");
        assert!(error.to_string().contains("twin_body_bytes_max"));
        assert_eq!(
            read_bytes(Body::from("0123456789"), 10, "x")
                .await
                .unwrap()
                .len(),
            10
        );
    }
}
