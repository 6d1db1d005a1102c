//! Operations routes, open without a token: `/healthz` (the process answers),
//! `/readyz` (it can take writes: the store has not failed), `/metrics`
//! (Prometheus text) and `/openapi.json` (the API's OpenAPI 3 document).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::{ApiError, App};

/// The OpenAPI document, hand-written beside the code and checked by a test to
/// list every route the router serves.
pub(crate) const OPENAPI: &str = include_str!("../openapi.json");

/// `GET /healthz`.
pub(crate) async fn healthz() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

/// `GET /readyz`: 503 once the store has failed a commit.
pub(crate) async fn readyz(State(app): State<App>) -> Result<Response, ApiError> {
    if app.inner.worlds.healthy() {
        Ok(Json(json!({ "status": "ready" })).into_response())
    } else {
        Err(ApiError::Unavailable(
            "the store failed a commit; the server takes no writes until restarted".into(),
        ))
    }
}

/// `GET /metrics`.
pub(crate) async fn metrics(State(app): State<App>) -> Response {
    let mut response = crate::metrics::render(&app).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// `GET /openapi.json`.
pub(crate) async fn openapi() -> Response {
    let mut response = (StatusCode::OK, OPENAPI).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
