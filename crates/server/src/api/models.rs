//! `/models`: upload a batch of DTDL interfaces, list them (with their
//! definitions, or only what some models depend on), read, decommission and
//! delete one. Shapes follow Azure Digital Twins' `DigitalTwinModels` API.

use std::collections::{BTreeSet, VecDeque};

use axum::Json;
use axum::body::Body;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use model::{Content, Dtmi};
use serde::Deserialize;
use serde_json::{Value, json};
use world::Command;

use super::{InWorld, PathOf, next_link, page_size, query_values};
use crate::auth::Role;
use crate::body::read_json;
use crate::{ApiError, App};

#[derive(Deserialize)]
pub(crate) struct ModelPath {
    id: String,
}

fn parse_dtmi(text: &str) -> Result<Dtmi, ApiError> {
    Dtmi::parse(text).map_err(|e| ApiError::bad_request("InvalidArgument", e.to_string()))
}

fn include_definition(query: Option<&str>) -> bool {
    query_values(query, "includeModelDefinition").any(|v| v.eq_ignore_ascii_case("true"))
}

/// `POST /models`: a JSON array of interfaces, validated and added as one batch.
pub(crate) async fn create(
    State(app): State<App>,
    at: InWorld,
    body: Body,
) -> Result<Response, ApiError> {
    let handle = at.open(Role::Editor)?;
    let limits = &app.inner.limits;
    let value = read_json(
        body,
        limits.models_body_bytes_max,
        "models_body_bytes_max",
        limits.json_depth_max,
    )
    .await?;
    let Value::Array(docs) = value else {
        return Err(ApiError::bad_request(
            "InvalidArgument",
            "POST /models takes a JSON array of DTDL interfaces",
        ));
    };
    let applied = app
        .inner
        .worlds
        .apply(&handle, Command::AddModels(docs))
        .await?;
    Ok((StatusCode::CREATED, Json(applied.body)).into_response())
}

/// `GET /models[?includeModelDefinition=true][&dependenciesFor=dtmi...]`: one page.
pub(crate) async fn list(
    State(app): State<App>,
    at: InWorld,
    uri: OriginalUri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let handle = at.open(Role::Viewer)?;
    let query = uri.query();
    let definitions = include_definition(query);
    // Repeated (`?dependenciesFor=a&dependenciesFor=b`) or comma-separated, as
    // SDKs send lists; DTMIs never contain commas.
    let roots = query_values(query, "dependenciesFor")
        .flat_map(|t| t.split(',').map(str::to_owned).collect::<Vec<_>>())
        .filter(|t| !t.is_empty())
        .map(|t| parse_dtmi(&t))
        .collect::<Result<Vec<_>, _>>()?;
    let take = page_size(&app, &headers)?;
    let world = handle.read();
    let ids = if roots.is_empty() {
        world.model_ids()
    } else {
        dependencies(&world, &roots)?
    };
    let subject = format!(
        "models|{definitions}|{}",
        roots.iter().map(Dtmi::as_str).collect::<Vec<_>>().join(",")
    );
    let skip = match query_values(query, "continuationToken").next() {
        Some(token) => app.inner.paging.offset(&token, &subject)?,
        None => 0,
    };
    let value: Vec<Value> = ids
        .iter()
        .skip(skip)
        .take(take)
        .filter_map(|id| world.model_json(id, definitions))
        .collect();
    let mut page = json!({ "value": value });
    if skip.saturating_add(take) < ids.len() {
        let token = app.inner.paging.token(&subject, skip.saturating_add(take));
        page["nextLink"] = json!(next_link(&app, &uri, &headers, &token));
    }
    Ok(Json(page).into_response())
}

/// The models and everything they need (`extends`, component schemas), transitively.
fn dependencies(world: &world::World, roots: &[Dtmi]) -> Result<Vec<Dtmi>, ApiError> {
    let models = world.models();
    let mut seen = BTreeSet::new();
    let mut queue: VecDeque<Dtmi> = roots.iter().cloned().collect();
    while let Some(id) = queue.pop_front() {
        if seen.contains(&id) {
            continue;
        }
        let Some(interface) = models.get(&id) else {
            return Err(world::WorldError::ModelNotFound(id.to_string()).into());
        };
        queue.extend(interface.extends.iter().cloned());
        for content in &interface.contents {
            if let Content::Component(component) = content {
                queue.push_back(component.schema.clone());
            }
        }
        seen.insert(id);
    }
    Ok(seen.into_iter().collect())
}

/// `GET /models/{id}`.
pub(crate) async fn get(
    at: InWorld,
    PathOf(path): PathOf<ModelPath>,
    uri: OriginalUri,
) -> Result<Response, ApiError> {
    let handle = at.open(Role::Viewer)?;
    let id = parse_dtmi(&path.id)?;
    let world = handle.read();
    let model = world
        .model_json(&id, include_definition(uri.query()))
        .ok_or_else(|| world::WorldError::ModelNotFound(id.to_string()))?;
    Ok(Json(model).into_response())
}

/// `PATCH /models/{id}` with `[{"op": "replace", "path": "/decommissioned", "value": true}]`.
pub(crate) async fn decommission(
    State(app): State<App>,
    at: InWorld,
    PathOf(path): PathOf<ModelPath>,
    body: Body,
) -> Result<Response, ApiError> {
    let handle = at.open(Role::Editor)?;
    let id = parse_dtmi(&path.id)?;
    let limits = &app.inner.limits;
    let patch = read_json(
        body,
        limits.twin_body_bytes_max,
        "twin_body_bytes_max",
        limits.json_depth_max,
    )
    .await?;
    let wanted = json!([{ "op": "replace", "path": "/decommissioned", "value": true }]);
    if patch != wanted {
        return Err(ApiError::bad_request(
            "InvalidArgument",
            "a model can only be patched with [{\"op\": \"replace\", \"path\": \"/decommissioned\", \"value\": true}]",
        ));
    }
    app.inner
        .worlds
        .apply(&handle, Command::DecommissionModel(id))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /models/{id}`.
pub(crate) async fn delete(
    State(app): State<App>,
    at: InWorld,
    PathOf(path): PathOf<ModelPath>,
) -> Result<Response, ApiError> {
    let handle = at.open(Role::Editor)?;
    let id = parse_dtmi(&path.id)?;
    app.inner
        .worlds
        .apply(&handle, Command::DeleteModel(id))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
