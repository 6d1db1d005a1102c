//! `/ingest/rules`: a world's MQTT mapping rules (topic filter with captures →
//! twin, JSON pointers, unit scaling, timestamps, dead letters; the `ingest`
//! crate's `Rule`). Viewers read them; editors create, replace and delete them.
//! A change is durable before the answer and is in force for the next message
//! the broker or a bridge maps.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{InWorld, PathOf};
use crate::auth::Role;
use crate::body::read_json;
use crate::{ApiError, App};

#[derive(Deserialize)]
pub(crate) struct RulePath {
    name: String,
}

/// `GET /ingest/rules`: `{"value": [rule, …]}` in name order.
pub(crate) async fn list(State(app): State<App>, at: InWorld) -> Result<Response, ApiError> {
    let handle = at.open(Role::Viewer)?;
    let rules = app.inner.ingest_rules.list(handle.id().as_str());
    Ok(Json(json!({ "value": rules })).into_response())
}

/// `GET /ingest/rules/{name}`.
pub(crate) async fn get(
    State(app): State<App>,
    at: InWorld,
    PathOf(path): PathOf<RulePath>,
) -> Result<Response, ApiError> {
    let handle = at.open(Role::Viewer)?;
    let rule = app
        .inner
        .ingest_rules
        .get(handle.id().as_str(), &path.name)
        .ok_or_else(|| rule_not_found(handle.id().as_str(), &path.name))?;
    Ok(Json(rule).into_response())
}

/// `PUT /ingest/rules/{name}`: creates (201) or replaces (200) the rule. The
/// body's `name`, when given, must be the path's.
pub(crate) async fn put(
    State(app): State<App>,
    at: InWorld,
    PathOf(path): PathOf<RulePath>,
    body: Body,
) -> Result<Response, ApiError> {
    let handle = at.open(Role::Editor)?;
    let limits = &app.inner.limits;
    // A rule is a few hundred bytes; a twin's body limit is ample.
    let mut value = read_json(
        body,
        limits.twin_body_bytes_max,
        "twin_body_bytes_max",
        limits.json_depth_max,
    )
    .await?;
    let Some(object) = value.as_object_mut() else {
        return Err(ApiError::bad_request(
            "InvalidArgument",
            "the body must be a JSON object: a mapping rule",
        ));
    };
    match object.get("name") {
        None => {
            object.insert("name".into(), Value::String(path.name.clone()));
        }
        Some(Value::String(name)) if *name == path.name => {}
        Some(other) => {
            return Err(ApiError::bad_request(
                "InvalidArgument",
                format!(
                    "the body names the rule {other}, but the URL names it '{}'; leave `name` out or make them equal",
                    path.name
                ),
            ));
        }
    }
    let rule: ingest::Rule = serde_json::from_value(value).map_err(|e| {
        ApiError::bad_request(
            "InvalidArgument",
            format!("the body is not a mapping rule: {e}"),
        )
    })?;
    let world = handle.id().as_str().to_owned();
    let created = {
        let rule = rule.clone();
        let app = app.clone();
        tokio::task::spawn_blocking(move || app.inner.ingest_rules.put(&world, rule))
            .await
            .map_err(|e| ApiError::Internal(format!("storing the rule: {e}")))??
    };
    let stored = app
        .inner
        .ingest_rules
        .get(handle.id().as_str(), &rule.name)
        .unwrap_or(rule);
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(stored)).into_response())
}

/// `DELETE /ingest/rules/{name}`: 204, or 404 when there is no such rule.
pub(crate) async fn delete(
    State(app): State<App>,
    at: InWorld,
    PathOf(path): PathOf<RulePath>,
) -> Result<Response, ApiError> {
    let handle = at.open(Role::Editor)?;
    let world = handle.id().as_str().to_owned();
    let name = path.name.clone();
    let deleted = {
        let app = app.clone();
        tokio::task::spawn_blocking(move || app.inner.ingest_rules.delete(&world, &name))
            .await
            .map_err(|e| ApiError::Internal(format!("deleting the rule: {e}")))??
    };
    if deleted {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(rule_not_found(handle.id().as_str(), &path.name))
    }
}

fn rule_not_found(world: &str, name: &str) -> ApiError {
    ApiError::not_found(
        "RuleNotFound",
        format!("world '{world}' has no mapping rule named '{name}'"),
    )
}
