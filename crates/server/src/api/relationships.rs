//! `/digitaltwins/{id}/relationships[/{relId}]` and
//! `/digitaltwins/{id}/incomingrelationships`: create or replace, read, patch,
//! delete a relationship; list a twin's outgoing (optionally by name) and
//! incoming relationships, paged with `nextLink` as Azure Digital Twins does.

use axum::Json;
use axum::body::Body;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use world::{Command, Etag};

use super::twins::{patch_body, to_patch, twin_body};
use super::{
    InWorld, PathOf, body_etag, condition, etag_header, next_link, page_size, query_values,
};
use crate::auth::Role;
use crate::{ApiError, App};

#[derive(Deserialize)]
pub(crate) struct TwinPath {
    id: String,
}

#[derive(Deserialize)]
pub(crate) struct RelationshipPath {
    id: String,
    rel: String,
}

/// `GET /digitaltwins/{id}/relationships/{relId}`.
pub(crate) async fn get(
    at: InWorld,
    PathOf(path): PathOf<RelationshipPath>,
) -> Result<Response, ApiError> {
    let handle = at.open(Role::Viewer)?;
    let relationship = handle.read().relationship_json(&path.id, &path.rel)?;
    let etag = body_etag(&relationship);
    Ok((etag.map(etag_header), Json(relationship)).into_response())
}

/// `PUT /digitaltwins/{id}/relationships/{relId}`.
pub(crate) async fn put(
    State(app): State<App>,
    at: InWorld,
    PathOf(path): PathOf<RelationshipPath>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let handle = at.open(Role::Editor)?;
    let condition = condition(&headers)?;
    let body = twin_body(&app, body).await?;
    let command = Command::PutRelationship {
        source: path.id,
        id: path.rel,
        body,
        condition,
    };
    let applied = app.inner.worlds.apply(&handle, command).await?;
    Ok((etag_header(Etag(applied.seq)), Json(applied.body)).into_response())
}

/// `PATCH /digitaltwins/{id}/relationships/{relId}`: JSON Patch on its properties.
pub(crate) async fn patch(
    State(app): State<App>,
    at: InWorld,
    PathOf(path): PathOf<RelationshipPath>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let handle = at.open(Role::Operator)?;
    let condition = condition(&headers)?;
    let patch = to_patch(patch_body(&app, body).await?)?;
    let command = Command::PatchRelationship {
        source: path.id,
        id: path.rel,
        patch,
        condition,
    };
    let applied = app.inner.worlds.apply(&handle, command).await?;
    Ok((StatusCode::NO_CONTENT, etag_header(Etag(applied.seq))).into_response())
}

/// `DELETE /digitaltwins/{id}/relationships/{relId}`.
pub(crate) async fn delete(
    State(app): State<App>,
    at: InWorld,
    PathOf(path): PathOf<RelationshipPath>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let handle = at.open(Role::Editor)?;
    let condition = condition(&headers)?;
    let command = Command::DeleteRelationship {
        source: path.id,
        id: path.rel,
        condition,
    };
    app.inner.worlds.apply(&handle, command).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// One page of `items` as `{ value, nextLink? }`. The token holds the position in
/// the list and survives changes to it (see `crate::paging` for what may then
/// appear, be missed or repeat).
fn page(
    app: &App,
    uri: &OriginalUri,
    headers: &HeaderMap,
    subject: &str,
    items: Vec<Value>,
) -> Result<Response, ApiError> {
    let take = page_size(app, headers)?;
    let skip = match query_values(uri.query(), "continuationToken").next() {
        Some(token) => app.inner.paging.offset(&token, subject)?,
        None => 0,
    };
    let total = items.len();
    let value: Vec<Value> = items.into_iter().skip(skip).take(take).collect();
    let mut body = json!({ "value": value });
    if skip.saturating_add(take) < total {
        let token = app.inner.paging.token(subject, skip.saturating_add(take));
        body["nextLink"] = json!(next_link(app, uri, headers, &token));
    }
    Ok(Json(body).into_response())
}

/// `GET /digitaltwins/{id}/relationships[?relationshipName=name]`.
pub(crate) async fn list(
    State(app): State<App>,
    at: InWorld,
    PathOf(path): PathOf<TwinPath>,
    uri: OriginalUri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let handle = at.open(Role::Viewer)?;
    let name = query_values(uri.query(), "relationshipName").next();
    let items = handle
        .read()
        .outgoing_relationships(&path.id, name.as_deref())?;
    let subject = format!("out|{}|{}", path.id, name.unwrap_or_default());
    page(&app, &uri, &headers, &subject, items)
}

/// `GET /digitaltwins/{id}/incomingrelationships`.
pub(crate) async fn incoming(
    State(app): State<App>,
    at: InWorld,
    PathOf(path): PathOf<TwinPath>,
    uri: OriginalUri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let handle = at.open(Role::Viewer)?;
    let items = handle.read().incoming_relationships(&path.id)?;
    let subject = format!("in|{}", path.id);
    page(&app, &uri, &headers, &subject, items)
}
