//! Administration: worlds (`POST/GET /worlds`, `DELETE /worlds/{world}`) and
//! tokens (`POST/GET /tokens`, `DELETE /tokens/{id}`). Creating worlds and
//! managing tokens needs `admin` on every world (`*`); deleting a world needs
//! `admin` on it; listing shows the worlds the caller may view.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use world::WorldId;

use super::{Caller, PathOf};
use crate::auth::{Grant, Role};
use crate::body::read_json;
use crate::worlds::now;
use crate::{ApiError, App};

async fn admin_body(app: &App, body: Body) -> Result<Value, ApiError> {
    let limits = &app.inner.limits;
    read_json(
        body,
        limits.admin_body_bytes_max,
        "admin_body_bytes_max",
        limits.json_depth_max,
    )
    .await
}

fn world_summary(world: &world::World) -> Value {
    json!({
        "id": world.id().as_str(),
        "seq": world.seq().0,
        "models": world.models().len(),
        "twins": world.twin_count(),
        "relationships": world.relationship_count(),
    })
}

/// `POST /worlds` with `{ "id": "plant-7" }`.
pub(crate) async fn create_world(
    State(app): State<App>,
    caller: Caller,
    body: Body,
) -> Result<Response, ApiError> {
    caller.require_server(Role::Admin)?;
    let body = admin_body(&app, body).await?;
    let Some(name) = body.get("id").and_then(Value::as_str) else {
        return Err(ApiError::bad_request(
            "InvalidArgument",
            "the body must be { \"id\": \"world-name\" }",
        ));
    };
    let id = WorldId::parse(name)?;
    let handle = app.inner.worlds.create(id).await?;
    let summary = world_summary(&handle.read());
    Ok((StatusCode::CREATED, Json(summary)).into_response())
}

/// `GET /worlds`: the worlds the caller may view.
pub(crate) async fn list_worlds(
    State(app): State<App>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let value: Vec<Value> = app
        .inner
        .worlds
        .list()
        .iter()
        .filter(|h| caller.token.can(h.id().as_str(), Role::Viewer))
        .map(|h| world_summary(&h.read()))
        .collect();
    Ok(Json(json!({ "value": value })).into_response())
}

#[derive(Deserialize)]
pub(crate) struct WorldPath {
    world: String,
}

/// `DELETE /worlds/{world}`: the world and all its data.
pub(crate) async fn delete_world(
    State(app): State<App>,
    caller: Caller,
    PathOf(path): PathOf<WorldPath>,
) -> Result<Response, ApiError> {
    if !caller.token.can(&path.world, Role::Admin) {
        return Err(ApiError::Forbidden {
            needed: Role::Admin,
            world: path.world,
        });
    }
    let id = WorldId::parse(&path.world)?;
    app.inner.worlds.delete(&id).await?;
    app.inner.aas.forget(id.as_str());
    // Its mapping rules go too, so a new world of the same name starts without them.
    app.inner.ingest_rules.drop_world(id.as_str())?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    #[serde(default)]
    grants: Vec<Grant>,
    role: Option<Role>,
    world: Option<String>,
    #[serde(default)]
    label: String,
}

/// `POST /tokens` with `{ "role": "editor", "world": "default", "label": "ci" }` or
/// `{ "grants": [{ "world": "*", "role": "viewer" }], "label": "..." }`. The secret
/// is in the answer and never again.
pub(crate) async fn create_token(
    State(app): State<App>,
    caller: Caller,
    body: Body,
) -> Result<Response, ApiError> {
    caller.require_server(Role::Admin)?;
    let body = admin_body(&app, body).await?;
    let request: NewToken = serde_json::from_value(body).map_err(|e| {
        ApiError::bad_request(
            "InvalidArgument",
            format!("a token request is {{ \"role\", \"world\", \"label\" }} or {{ \"grants\": [...], \"label\" }}: {e}"),
        )
    })?;
    let mut grants = request.grants;
    if let Some(role) = request.role {
        grants.push(Grant {
            world: request.world.unwrap_or_else(|| WorldId::DEFAULT.to_owned()),
            role,
        });
    }
    let (secret, info) = app.inner.tokens.create(grants, &request.label, now())?;
    let mut answer = serde_json::to_value(&info).map_err(|e| ApiError::Internal(e.to_string()))?;
    answer["token"] = json!(secret);
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `GET /tokens`: every token's id, label, grants and creation time.
pub(crate) async fn list_tokens(
    State(app): State<App>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require_server(Role::Admin)?;
    Ok(Json(json!({ "value": app.inner.tokens.list() })).into_response())
}

#[derive(Deserialize)]
pub(crate) struct TokenPath {
    id: String,
}

/// `DELETE /tokens/{id}`.
pub(crate) async fn revoke_token(
    State(app): State<App>,
    caller: Caller,
    PathOf(path): PathOf<TokenPath>,
) -> Result<Response, ApiError> {
    caller.require_server(Role::Admin)?;
    if app.inner.tokens.revoke(&path.id)? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found(
            "TokenNotFound",
            format!("there is no token with id '{}'", path.id),
        ))
    }
}
