//! `ApiError`, the server crate's one error type, and its single `IntoResponse`:
//! every failure becomes an RFC 9457 `application/problem+json` body with an
//! extra `error: { code, message }` member in the shape Azure Digital Twins uses,
//! so that ADT SDKs read the code. Internal failures are logged with their
//! details and answered with a generic message.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use store::StoreError;
use world::WorldError;
use world::query::{QueryError, QueryErrorKind};

use crate::auth::Role;

/// Everything a request (or the server's start) can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The world refused the command or read (not found, invalid, precondition, ...).
    #[error(transparent)]
    World(#[from] WorldError),
    /// A query could not be parsed or run: always a 400 `BadRequest` whose problem
    /// body adds `query: { kind, offset, length, token }` (byte span of the
    /// offending token in the query text, and that token).
    #[error("query: {0}")]
    Query(#[from] QueryError),
    /// The store failed to read or to make a write durable.
    #[error("the store failed: {0}")]
    Store(#[from] StoreError),
    /// No bearer token, or one the server does not know.
    #[error("{0}")]
    Unauthenticated(String),
    /// The token is valid but its roles do not cover the request.
    #[error("this token has no '{needed}' role (or higher) on world '{world}'")]
    Forbidden {
        /// The role the route needs.
        needed: Role,
        /// The world asked for (`*` for server-wide routes).
        world: String,
    },
    /// A request broke one of the `Limits`.
    #[error(
        "{what} is larger than allowed: {detail} (limit `{limit}` in the server's [limits] configuration)"
    )]
    TooLarge {
        /// What was too large ("the request body", "the query text", ...).
        what: &'static str,
        /// The size found and the size allowed.
        detail: String,
        /// The name of the `Limits` field.
        limit: &'static str,
    },
    /// The request is malformed: bad JSON, a bad header, a bad token.
    #[error("{message}")]
    BadRequest {
        /// The ADT-style error code.
        code: &'static str,
        /// What was wrong and what is allowed.
        message: String,
    },
    /// Something named in the URL does not exist (world, route, token, component).
    #[error("{message}")]
    NotFound {
        /// The ADT-style error code.
        code: &'static str,
        /// What was not found.
        message: String,
    },
    /// The request conflicts with the server's state (a world that exists).
    #[error("{message}")]
    Conflict {
        /// The ADT-style error code.
        code: &'static str,
        /// What conflicts.
        message: String,
    },
    /// The route exists but not with this method.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The server cannot take writes right now (store halted, world recovering).
    #[error("{0}")]
    Unavailable(String),
    /// A failure that is the server's fault; logged, not shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A 400 with a code and a message.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// A 404 with a code and a message.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::NotFound {
            code,
            message: message.into(),
        }
    }

    /// A model batch refused only because its models exist already: ADT answers
    /// that with 409 `ModelIdAlreadyExists`, which SDKs map to "resource exists".
    fn models_exist(&self) -> bool {
        matches!(self, ApiError::World(WorldError::Models(problems))
            if !problems.0.is_empty() && problems.0.iter().all(|p| p.rule == "id-exists"))
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            _ if self.models_exist() => StatusCode::CONFLICT,
            ApiError::World(error) => {
                StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST)
            }
            ApiError::Query(_) => StatusCode::BAD_REQUEST,
            ApiError::Store(StoreError::BatchTooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Store(_) | ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable code (the ADT error code where ADT defines one).
    pub fn code(&self) -> &'static str {
        match self {
            _ if self.models_exist() => "ModelIdAlreadyExists",
            ApiError::World(error) => error.code(),
            ApiError::Query(_) => "BadRequest",
            ApiError::Store(StoreError::BatchTooLarge { .. }) => "PayloadTooLarge",
            ApiError::Store(_) | ApiError::Unavailable(_) => "ServiceUnavailable",
            ApiError::Unauthenticated(_) => "Unauthorized",
            ApiError::Forbidden { .. } => "Forbidden",
            ApiError::TooLarge { .. } => "PayloadTooLarge",
            ApiError::BadRequest { code, .. }
            | ApiError::NotFound { code, .. }
            | ApiError::Conflict { code, .. } => code,
            ApiError::MethodNotAllowed(_) => "MethodNotAllowed",
            ApiError::Internal(_) => "InternalServerError",
        }
    }

    /// The query error behind this one, from the query route or from the world.
    fn query_error(&self) -> Option<&QueryError> {
        match self {
            ApiError::Query(error) | ApiError::World(WorldError::Query(error)) => Some(error),
            _ => None,
        }
    }

    /// The text shown to the client. Internal and store details stay in the log.
    fn public_message(&self) -> String {
        match self {
            ApiError::World(WorldError::Restore { .. }) | ApiError::Internal(_) => {
                "the server failed to handle the request; the details are in its log".to_owned()
            }
            ApiError::Store(StoreError::BatchTooLarge { bytes, max, .. }) => format!(
                "the change needs {bytes} bytes of storage in one batch, more than the {max} allowed"
            ),
            ApiError::Store(_) => {
                "the store could not make the change durable; the server is not taking writes \
                 until it is restarted (details in its log)"
                    .to_owned()
            }
            other => other.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(code = self.code(), error = %self, "request failed on the server side");
        } else {
            tracing::debug!(code = self.code(), error = %self, "request refused");
        }
        let message = self.public_message();
        let code = self.code();
        let mut body = json!({
            "type": format!("urn:twinspace:problem:{code}"),
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": message,
            "error": { "code": code, "message": message },
        });
        if let Some(error) = self.query_error() {
            let kind = match error.kind {
                QueryErrorKind::Syntax => "syntax",
                QueryErrorKind::Invalid => "invalid",
                QueryErrorKind::LimitExceeded => "limitExceeded",
            };
            // An RFC 9457 extension member: where in the query text to look.
            body["query"] = json!({
                "kind": kind,
                "offset": error.offset,
                "length": error.len,
                "token": error.token,
            });
        }
        let mut response = (status, body.to_string()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Largest problem body `with_instance` rewrites; ours are a few hundred bytes
/// (model batch errors list every problem, so allow generously).
const PROBLEM_BYTES_MAX: usize = 4 * 1024 * 1024;

/// Middleware adding RFC 9457's `instance` (the request path) to problem bodies:
/// `IntoResponse` does not know the request, so the member is filled in here.
pub(crate) async fn with_instance(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/problem+json");
    if !is_problem {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, PROBLEM_BYTES_MAX).await else {
        return ApiError::Internal("a problem body could not be read back".into()).into_response();
    };
    let body = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(mut problem) => {
            problem["instance"] = serde_json::Value::String(path);
            problem.to_string().into_bytes()
        }
        Err(_) => bytes.to_vec(),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(error: ApiError) -> (StatusCode, String, serde_json::Value) {
        let response = error.into_response();
        let status = response.status();
        let content_type = response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            content_type,
            serde_json::from_slice(&bytes).unwrap(),
        )
    }

    #[tokio::test]
    async fn problems_carry_rfc9457_members_and_the_adt_error() {
        let (status, content_type, body) =
            body_of(ApiError::World(WorldError::TwinNotFound("pump-1".into()))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(body["status"], 404);
        assert_eq!(body["title"], "Not Found");
        assert_eq!(body["type"], "urn:twinspace:problem:DigitalTwinNotFound");
        assert_eq!(body["error"]["code"], "DigitalTwinNotFound");
        assert_eq!(body["detail"], "there is no twin with id 'pump-1'");
    }

    #[tokio::test]
    async fn query_errors_are_400_with_the_offending_token() {
        let error = world::query::parse("SELECT * FROM DIGITALTWINS T WHERE T.x >> 1").unwrap_err();
        let (offset, len, token) = (error.offset, error.len, error.token.clone());
        assert!(len > 0 && !token.is_empty(), "{error:?}");
        for error in [
            ApiError::Query(error.clone()),
            ApiError::World(WorldError::Query(error)),
        ] {
            let (status, content_type, body) = body_of(error).await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert_eq!(content_type, "application/problem+json");
            assert_eq!(body["error"]["code"], "BadRequest");
            assert_eq!(body["query"]["kind"], "syntax");
            assert_eq!(body["query"]["offset"], offset);
            assert_eq!(body["query"]["length"], len);
            assert_eq!(body["query"]["token"], token.as_str());
            assert!(
                body["detail"].as_str().unwrap().contains("offset"),
                "{body}"
            );
        }
    }

    #[tokio::test]
    async fn internal_details_are_not_shown() {
        let (status, _, body) = body_of(ApiError::Internal("secret path /var/x".into())).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!body.to_string().contains("secret"), "{body}");
        let (status, _, body) = body_of(ApiError::Store(StoreError::ShutDown)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(!body.to_string().contains("shut down"), "{body}");
    }
}
