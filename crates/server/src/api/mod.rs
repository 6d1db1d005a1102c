//! The HTTP routes: the ADT data plane (models, twins, relationships, query),
//! served for the world `default` at the root and for any world under
//! `/worlds/{world}`, plus world and token administration and operations
//! (health, readiness, metrics, the OpenAPI document). This module holds what
//! the handlers share: the authenticated caller, the world a route addresses,
//! precondition headers, ETags and paging links.

use std::sync::Arc;

use axum::extract::{FromRequestParts, OriginalUri, RawPathParams};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use world::{Condition, Etag, WorldId};

use crate::auth::{Role, TokenInfo};
use crate::worlds::WorldHandle;
use crate::{ApiError, App};

pub(crate) mod admin;
pub(crate) mod history;
pub(crate) mod models;
pub(crate) mod ops;
pub(crate) mod query;
pub(crate) mod relationships;
pub(crate) mod rules;
pub(crate) mod telemetry;
pub(crate) mod twins;

pub(crate) use history::json_value as history_json_value;

/// `axum::extract::Path` whose rejection (a segment that is not UTF-8, a missing
/// parameter) is a problem+json `ApiError` like every other failure.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub(crate) struct PathOf<T>(pub(crate) T);

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::PathRejection) -> ApiError {
        ApiError::bad_request(
            "InvalidArgument",
            format!("the URL path is not valid: {}", rejection.body_text()),
        )
    }
}

/// The caller, authenticated by its bearer token.
pub(crate) struct Caller {
    pub(crate) token: Arc<TokenInfo>,
}

impl Caller {
    /// Refuses with 403 unless the token has `needed` on every world (`*`).
    pub(crate) fn require_server(&self, needed: Role) -> Result<(), ApiError> {
        if self.token.can("*", needed) {
            Ok(())
        } else {
            Err(ApiError::Forbidden {
                needed,
                world: "*".into(),
            })
        }
    }
}

impl FromRequestParts<App> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Caller, ApiError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::Unauthenticated(
                "this route needs a bearer token: send 'Authorization: Bearer tsk_...'".into(),
            ));
        };
        let text = value.to_str().unwrap_or_default();
        let secret = match text.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            _ => {
                return Err(ApiError::Unauthenticated(
                    "the Authorization header must be 'Bearer <token>'".into(),
                ));
            }
        };
        match app.inner.tokens.authenticate(secret) {
            Some(token) => Ok(Caller { token }),
            None => Err(ApiError::Unauthenticated(
                "the bearer token is not known to this server (revoked, or from another server)"
                    .into(),
            )),
        }
    }
}

/// The caller and the world the route addresses (`default` for un-prefixed routes).
pub(crate) struct InWorld {
    caller: Caller,
    name: String,
    app: App,
}

impl InWorld {
    /// The world, after checking that the caller holds `needed` on it.
    pub(crate) fn open(&self, needed: Role) -> Result<Arc<WorldHandle>, ApiError> {
        if !self.caller.token.can(&self.name, needed) {
            return Err(ApiError::Forbidden {
                needed,
                world: self.name.clone(),
            });
        }
        self.app.inner.worlds.get(&self.name).ok_or_else(|| {
            ApiError::not_found(
                "WorldNotFound",
                format!("there is no world named '{}'", self.name),
            )
        })
    }
}

impl FromRequestParts<App> for InWorld {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<InWorld, ApiError> {
        let caller = Caller::from_request_parts(parts, app).await?;
        let params = RawPathParams::from_request_parts(parts, app)
            .await
            .map_err(|e| ApiError::bad_request("BadRequest", e.body_text()))?;
        let name = params
            .iter()
            .find(|(key, _)| *key == "world")
            .map_or(WorldId::DEFAULT, |(_, value)| value)
            .to_owned();
        Ok(InWorld {
            caller,
            name,
            app: app.clone(),
        })
    }
}

/// The precondition in `If-Match` / `If-None-Match`.
pub(crate) fn condition(headers: &HeaderMap) -> Result<Condition, ApiError> {
    let text = |name: HeaderName| -> Result<Option<String>, ApiError> {
        headers
            .get(&name)
            .map(|v| {
                v.to_str().map(|s| s.trim().to_owned()).map_err(|_| {
                    ApiError::bad_request(
                        "InvalidArgument",
                        format!("the {name} header is not text"),
                    )
                })
            })
            .transpose()
    };
    if let Some(value) = text(header::IF_NONE_MATCH)? {
        return if value == "*" {
            Ok(Condition::IfNotExists)
        } else {
            Err(ApiError::bad_request(
                "InvalidArgument",
                format!("If-None-Match only takes '*' (create only if absent), not '{value}'"),
            ))
        };
    }
    match text(header::IF_MATCH)? {
        None => Ok(Condition::None),
        Some(value) if value == "*" => Ok(Condition::IfExists),
        Some(value) => Etag::parse(&value).map(Condition::IfMatch).ok_or_else(|| {
            ApiError::bad_request(
                "InvalidArgument",
                format!("If-Match takes '*' or an ETag like W/\"42\", not '{value}'"),
            )
        }),
    }
}

/// The `ETag` response header for an entity tag.
pub(crate) fn etag_header(etag: Etag) -> [(HeaderName, HeaderValue); 1] {
    let value = HeaderValue::from_str(&etag.to_string()).unwrap_or(HeaderValue::from_static("*"));
    [(header::ETAG, value)]
}

/// The ETag a twin or relationship body carries in `$etag`.
pub(crate) fn body_etag(body: &serde_json::Value) -> Option<Etag> {
    body.get("$etag")
        .and_then(|v| v.as_str())
        .and_then(Etag::parse)
}

/// The page size a request asks for with `max-items-per-page`.
pub(crate) fn page_size(app: &App, headers: &HeaderMap) -> Result<usize, ApiError> {
    let requested = match headers.get("max-items-per-page") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|s| s.trim().parse::<usize>().ok())
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "InvalidArgument",
                        "max-items-per-page must be a whole number",
                    )
                })?,
        ),
    };
    Ok(app.inner.limits.page_size(requested))
}

/// The absolute `nextLink` for the next page of a GET list: the same URL with
/// `continuationToken` set (ADT's lists give absolute links).
pub(crate) fn next_link(app: &App, uri: &OriginalUri, headers: &HeaderMap, token: &str) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = if app.inner.tls { "https" } else { "http" };
    let mut query: Vec<String> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.starts_with("continuationToken="))
        .map(str::to_owned)
        .collect();
    query.push(format!("continuationToken={token}"));
    format!("{scheme}://{host}{}?{}", uri.path(), query.join("&"))
}

/// Decodes one `key=value` of a query string, percent-decoding the value.
pub(crate) fn query_values<'a>(
    query: Option<&'a str>,
    key: &'a str,
) -> impl Iterator<Item = String> + 'a {
    query
        .unwrap_or_default()
        .split('&')
        .filter_map(move |pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k) == key).then(|| percent_decode(v))
        })
}

fn percent_decode(text: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok());
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = match bytes[i] {
            b'%' if i + 2 < bytes.len() => hex(bytes[i + 1])
                .zip(hex(bytes[i + 2]))
                .map(|(h, l)| h * 16 + l),
            _ => None,
        };
        match (decoded, bytes[i]) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, b) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_decode_repeated_keys() {
        let q = Some(
            "dependenciesFor=dtmi%3Aa%3Ab%3B1&x=1&dependenciesFor=dtmi:c;2&api-version=2023-10-31",
        );
        let values: Vec<String> = query_values(q, "dependenciesFor").collect();
        assert_eq!(values, ["dtmi:a:b;1", "dtmi:c;2"]);
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("%41"), "A");
    }

    #[test]
    fn preconditions_come_from_headers() {
        let mut headers = HeaderMap::new();
        assert_eq!(condition(&headers).unwrap(), Condition::None);
        headers.insert(header::IF_MATCH, HeaderValue::from_static("W/\"5\""));
        assert_eq!(
            condition(&headers).unwrap(),
            Condition::IfMatch(Etag(world::Seq(5)))
        );
        headers.insert(header::IF_MATCH, HeaderValue::from_static("*"));
        assert_eq!(condition(&headers).unwrap(), Condition::IfExists);
        headers.insert(header::IF_MATCH, HeaderValue::from_static("bogus"));
        assert!(condition(&headers).is_err());
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert_eq!(condition(&headers).unwrap(), Condition::IfNotExists);
    }
}
