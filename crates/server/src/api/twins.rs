//! `/digitaltwins/{id}` and its components: create or replace (with `If-Match` /
//! `If-None-Match: *`), read, JSON Patch, delete. Writes answer with the new
//! `ETag`; `PATCH` answers 204 as Azure Digital Twins does.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use world::{Command, Etag, WorldError};

use super::{InWorld, PathOf, body_etag, condition, etag_header};
use crate::auth::Role;
use crate::body::read_json;
use crate::{ApiError, App};

#[derive(Deserialize)]
pub(crate) struct TwinPath {
    id: String,
}

#[derive(Deserialize)]
pub(crate) struct ComponentPath {
    id: String,
    component: String,
}

/// Reads a twin-sized JSON body.
pub(crate) async fn twin_body(app: &App, body: Body) -> Result<Value, ApiError> {
    let limits = &app.inner.limits;
    read_json(
        body,
        limits.twin_body_bytes_max,
        "twin_body_bytes_max",
        limits.json_depth_max,
    )
    .await
}

/// Reads an RFC 6902 JSON Patch document.
pub(crate) async fn patch_body(app: &App, body: Body) -> Result<Value, ApiError> {
    let value = twin_body(app, body).await?;
    if !value.is_array() {
        return Err(ApiError::bad_request(
            "JsonPatchInvalid",
            "the body must be a JSON Patch document: an array of operations",
        ));
    }
    Ok(value)
}

pub(crate) fn to_patch(value: Value) -> Result<json_patch::Patch, ApiError> {
    serde_json::from_value(value).map_err(|e| {
        ApiError::bad_request(
            "JsonPatchInvalid",
            format!("the JSON Patch document is malformed: {e}"),
        )
    })
}

/// `GET /digitaltwins/{id}`.
pub(crate) async fn get(at: InWorld, PathOf(path): PathOf<TwinPath>) -> Result<Response, ApiError> {
    let handle = at.open(Role::Viewer)?;
    let twin = handle
        .read()
        .twin_json(&path.id)
        .ok_or(WorldError::TwinNotFound(path.id))?;
    let etag = body_etag(&twin);
    Ok((etag.map(etag_header), Json(twin)).into_response())
}

/// `PUT /digitaltwins/{id}`: create or replace.
pub(crate) async fn put(
    State(app): State<App>,
    at: InWorld,
    PathOf(path): PathOf<TwinPath>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let handle = at.open(Role::Editor)?;
    let condition = condition(&headers)?;
    let body = twin_body(&app, body).await?;
    let command = Command::PutTwin {
        id: path.id,
        body,
        condition,
    };
    let applied = app.inner.worlds.apply(&handle, command).await?;
    Ok((etag_header(Etag(applied.seq)), Json(applied.body)).into_response())
}

/// `PATCH /digitaltwins/{id}`: JSON Patch on properties, components and `$placement`.
pub(crate) async fn patch(
    State(app): State<App>,
    at: InWorld,
    PathOf(path): PathOf<TwinPath>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let handle = at.open(Role::Operator)?;
    let condition = condition(&headers)?;
    let patch = to_patch(patch_body(&app, body).await?)?;
    let command = Command::PatchTwin {
        id: path.id,
        patch,
        condition,
    };
    let applied = app.inner.worlds.apply(&handle, command).await?;
    Ok((StatusCode::NO_CONTENT, etag_header(Etag(applied.seq))).into_response())
}

/// `DELETE /digitaltwins/{id}`: refused while relationships remain.
pub(crate) async fn delete(
    State(app): State<App>,
    at: InWorld,
    PathOf(path): PathOf<TwinPath>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let handle = at.open(Role::Editor)?;
    let condition = condition(&headers)?;
    app.inner
        .worlds
        .apply(
            &handle,
            Command::DeleteTwin {
                id: path.id,
                condition,
            },
        )
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn component_not_found(twin: &str, component: &str) -> ApiError {
    ApiError::not_found(
        "ComponentNotFound",
        format!("twin '{twin}' has no component named '{component}'"),
    )
}

/// `GET /digitaltwins/{id}/components/{component}`.
pub(crate) async fn get_component(
    at: InWorld,
    PathOf(path): PathOf<ComponentPath>,
) -> Result<Response, ApiError> {
    let handle = at.open(Role::Viewer)?;
    let twin = handle
        .read()
        .twin_json(&path.id)
        .ok_or_else(|| WorldError::TwinNotFound(path.id.clone()))?;
    let etag = body_etag(&twin);
    // Components are the object members that carry their own `$metadata`.
    let component = twin
        .get(&path.component)
        .filter(|c| !path.component.starts_with('$') && c.get("$metadata").is_some())
        .cloned()
        .ok_or_else(|| component_not_found(&path.id, &path.component))?;
    Ok((etag.map(etag_header), Json(component)).into_response())
}

/// `PATCH /digitaltwins/{id}/components/{component}`: a JSON Patch whose paths are
/// relative to the component.
pub(crate) async fn patch_component(
    State(app): State<App>,
    at: InWorld,
    PathOf(path): PathOf<ComponentPath>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let handle = at.open(Role::Operator)?;
    let condition = condition(&headers)?;
    let mut operations = patch_body(&app, body).await?;
    {
        let world = handle.read();
        let twin = world
            .twin_json(&path.id)
            .ok_or_else(|| WorldError::TwinNotFound(path.id.clone()))?;
        if path.component.starts_with('$')
            || twin
                .get(&path.component)
                .and_then(|c| c.get("$metadata"))
                .is_none()
        {
            return Err(component_not_found(&path.id, &path.component));
        }
    }
    // Escape per RFC 6901 so a component name with '/' or '~' stays one segment.
    let prefix = format!("/{}", path.component.replace('~', "~0").replace('/', "~1"));
    for operation in operations.as_array_mut().into_iter().flatten() {
        for key in ["path", "from"] {
            if let Some(Value::String(p)) = operation.get_mut(key) {
                *p = format!("{prefix}{p}");
            }
        }
    }
    let command = Command::PatchTwin {
        id: path.id,
        patch: to_patch(operations)?,
        condition,
    };
    let applied = app.inner.worlds.apply(&handle, command).await?;
    Ok((StatusCode::NO_CONTENT, etag_header(Etag(applied.seq))).into_response())
}
