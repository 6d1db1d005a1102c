//! `POST /digitaltwins/{id}/telemetry` and
//! `POST /digitaltwins/{id}/components/{component}/telemetry`, as Azure Digital
//! Twins has them: a JSON object of telemetry values, a required `Message-Id`
//! header and an optional `Telemetry-Source-Time` (RFC 3339) that becomes the
//! points' time (else the arrival). Each value must be a Telemetry of the twin's
//! model (or of the component's); the points go through the same path as MQTT
//! (`Worlds::ingest`) into history and to live subscribers, and the answer (204)
//! comes once they are durable. Roles: `ingest`, or `operator` and up.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use world::{Timestamp, TwinId};

use super::InWorld;
use super::PathOf;
use crate::auth::Role;
use crate::body::read_json;
use crate::{ApiError, App};

/// Longest `Message-Id` kept (ADT leaves it to the sender; it is only echoed in logs).
const MESSAGE_ID_CHARS_MAX: usize = 256;

#[derive(Deserialize)]
pub(crate) struct TwinPath {
    id: String,
}

#[derive(Deserialize)]
pub(crate) struct ComponentPath {
    id: String,
    component: String,
}

/// `POST /digitaltwins/{id}/telemetry`.
pub(crate) async fn send(
    State(app): State<App>,
    at: InWorld,
    PathOf(path): PathOf<TwinPath>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    ingest(app, at, path.id, None, headers, body).await
}

/// `POST /digitaltwins/{id}/components/{component}/telemetry`.
pub(crate) async fn send_component(
    State(app): State<App>,
    at: InWorld,
    PathOf(path): PathOf<ComponentPath>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    ingest(app, at, path.id, Some(path.component), headers, body).await
}

async fn ingest(
    app: App,
    at: InWorld,
    id: String,
    component: Option<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let handle = at.open(Role::Ingest).or_else(|_| at.open(Role::Operator))?;
    let message_id = header(&headers, "message-id")?.ok_or_else(|| {
        ApiError::bad_request(
            "InvalidArgument",
            "the 'Message-Id' header is required: an id of the sender's choosing for this message",
        )
    })?;
    if message_id.chars().count() > MESSAGE_ID_CHARS_MAX {
        return Err(ApiError::bad_request(
            "InvalidArgument",
            format!("the 'Message-Id' header is longer than {MESSAGE_ID_CHARS_MAX} characters"),
        ));
    }
    let arrival = crate::worlds::now();
    let source_time = match header(&headers, "telemetry-source-time")? {
        Some(text) => Timestamp::parse_rfc3339(&text).ok_or_else(|| {
            ApiError::bad_request(
                "InvalidArgument",
                format!(
                    "the 'Telemetry-Source-Time' header '{text}' is not an RFC 3339 time (2026-05-01T12:00:00Z)"
                ),
            )
        })?,
        None => arrival,
    };
    let limits = &app.inner.limits;
    let body = read_json(
        body,
        limits.twin_body_bytes_max,
        "twin_body_bytes_max",
        limits.json_depth_max,
    )
    .await?;
    let Value::Object(members) = body else {
        return Err(ApiError::bad_request(
            "InvalidArgument",
            "the body must be a JSON object of telemetry names and values",
        ));
    };
    if members.is_empty() {
        return Err(ApiError::bad_request(
            "InvalidArgument",
            "the body names no telemetry; send at least one name and value",
        ));
    }
    if members.len() > ingest::VALUES_PER_MESSAGE_MAX {
        return Err(ApiError::bad_request(
            "InvalidArgument",
            format!(
                "the body has {} values; one message may carry at most {}",
                members.len(),
                ingest::VALUES_PER_MESSAGE_MAX
            ),
        ));
    }
    let twin = TwinId::parse(&id).map_err(|_| world::WorldError::TwinNotFound(id.clone()))?;
    let values = members
        .into_iter()
        .map(|(name, value)| ingest::MappedValue {
            name: match &component {
                Some(component) => format!("{component}/{name}"),
                None => name,
            },
            value,
            kind: ingest::ValueKind::Telemetry,
        })
        .collect();
    let update = ingest::TwinUpdate {
        rule: "http".into(),
        world: handle.id().clone(),
        twin,
        values,
        source_time,
    };
    let ingested = app.inner.worlds.ingest(vec![update]);
    if let Some((_, error)) = ingested.refused.into_iter().next() {
        tracing::debug!(%message_id, twin = %id, %error, "telemetry refused");
        return Err(error);
    }
    if let Some(durable) = ingested.durable {
        durable.await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A header's value as text, if present.
fn header(headers: &HeaderMap, name: &str) -> Result<Option<String>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(|v| Some(v.trim().to_owned()))
            .map_err(|_| {
                ApiError::bad_request(
                    "InvalidArgument",
                    format!("the '{name}' header is not visible ASCII text"),
                )
            }),
    }
}
