//! A twin's recorded past and the world at an instant, from the world's
//! `History` (the `history` crate):
//! - `GET /digitaltwins/{id}/history?field=F[&from=T][&to=T][&limit=N][&continuationToken=C]`:
//!   the points of one field, oldest first, a page at a time;
//!   with `&buckets=N`, `N` equal buckets of `[from, to)` with count, min, max,
//!   avg and last (min/max/avg are null where the values are not numbers);
//! - `GET /digitaltwins/{id}/history/fields`: the fields that have history;
//! - `GET /digitaltwins/{id}/history/latest?field=F[&at=T]`: the latest point at or
//!   before an instant;
//! - `GET /history/state?at=T[&limit=N][&continuationToken=C]`: every twin as it
//!   was at an instant, in id order, a page at a time.
//!
//! Times are RFC 3339 or integer milliseconds since the Unix epoch; `to` defaults
//! to now and `from` to an hour before `to`. Needs the `viewer` role. Reads run on
//! a blocking thread: they may decode chunks from the store.

use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use world::{Timestamp, TwinId};

use super::{InWorld, PathOf, query_values};
use crate::auth::Role;
use crate::worlds::WorldHandle;
use crate::{ApiError, App};

/// Points per page when `limit` is not given.
const RANGE_LIMIT_DEFAULT: usize = 1_000;
/// Twins per page of `/history/state` when `limit` is not given.
const STATE_LIMIT_DEFAULT: usize = 1_000;
/// The span read when `from` is not given.
const DEFAULT_SPAN_NS: i64 = 3_600 * 1_000_000_000;

#[derive(Deserialize)]
pub(crate) struct TwinPath {
    id: String,
}

/// The one value of a query parameter, if given (a repeated one is refused).
fn param(query: Option<&str>, name: &str) -> Result<Option<String>, ApiError> {
    let mut values = query_values(query, name);
    let first = values.next();
    if values.next().is_some() {
        return Err(invalid(format!("'{name}' is given twice; give it once")));
    }
    Ok(first)
}

fn invalid(message: String) -> ApiError {
    ApiError::bad_request("InvalidArgument", message)
}

/// An instant: RFC 3339, or integer milliseconds since the Unix epoch.
fn parse_time(name: &str, text: &str) -> Result<Timestamp, ApiError> {
    if let Ok(ms) = text.parse::<i64>() {
        return ms.checked_mul(1_000_000).map(Timestamp).ok_or_else(|| {
            invalid(format!(
                "'{name}' = {text} milliseconds is out of range (years 1677 to 2262)"
            ))
        });
    }
    Timestamp::parse_rfc3339(text).ok_or_else(|| {
        invalid(format!(
            "'{name}' = '{text}' is not a time: give RFC 3339 (2026-05-01T12:00:00Z) or milliseconds since 1970"
        ))
    })
}

fn time_param(query: Option<&str>, name: &str) -> Result<Option<Timestamp>, ApiError> {
    param(query, name)?
        .map(|text| parse_time(name, &text))
        .transpose()
}

fn count_param(query: Option<&str>, name: &str, max: usize) -> Result<Option<usize>, ApiError> {
    let Some(text) = param(query, name)? else {
        return Ok(None);
    };
    match text.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(Some(n)),
        _ => Err(invalid(format!(
            "'{name}' = '{text}' is not allowed: give a whole number from 1 to {max}"
        ))),
    }
}

fn field_param(query: Option<&str>) -> Result<String, ApiError> {
    param(query, "field")?
        .filter(|f| !f.is_empty())
        .ok_or_else(|| {
            invalid(
            "the 'field' parameter is required: a property (temperature), a component property \
             (motor/rpm), a telemetry name or a placement coordinate ($placement/position/0); \
             GET …/history/fields lists them"
                .into(),
        )
        })
}

/// A history read failed: the caller's arguments (400) or stored data (500).
fn history_error(error: history::HistoryError) -> ApiError {
    match error {
        history::HistoryError::InvalidRequest { .. }
        | history::HistoryError::InvalidField { .. } => invalid(error.to_string()),
        other => ApiError::Internal(format!("reading history: {other}")),
    }
}

/// Runs a history read of `handle` on a blocking thread.
async fn read<T: Send + 'static>(
    app: &App,
    handle: Arc<WorldHandle>,
    read: impl FnOnce(&history::History, &dyn store::Store) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = Arc::clone(app.inner.worlds.store());
    tokio::task::spawn_blocking(move || read(&handle.history(), store.as_ref()))
        .await
        .map_err(|e| ApiError::Internal(format!("a history read panicked: {e}")))?
}

/// A history value as JSON (JSON text back to its structure).
pub(crate) fn json_value(value: &history::Value) -> Value {
    match value {
        history::Value::Null => Value::Null,
        history::Value::Bool(b) => Value::Bool(*b),
        history::Value::I64(i) => json!(i),
        history::Value::F64(f) => {
            serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
        }
        history::Value::Str(text) => Value::String(text.to_string()),
        history::Value::Json(text) => {
            serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
        }
    }
}

fn number(value: Option<f64>) -> Value {
    value
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

/// 404 unless the twin exists now or has a recorded past.
fn known_twin(handle: &WorldHandle, has_history: bool, id: &str) -> Result<(), ApiError> {
    if has_history || handle.read().twin_json(id).is_some() {
        Ok(())
    } else {
        Err(world::WorldError::TwinNotFound(id.into()).into())
    }
}

/// `GET /digitaltwins/{id}/history`.
pub(crate) async fn range(
    State(app): State<App>,
    at: InWorld,
    PathOf(path): PathOf<TwinPath>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let handle = at.open(Role::Viewer)?;
    let q = query.as_deref();
    let field = field_param(q)?;
    let to = time_param(q, "to")?.unwrap_or_else(crate::worlds::now);
    let mut from =
        time_param(q, "from")?.unwrap_or(Timestamp(to.0.saturating_sub(DEFAULT_SPAN_NS)));
    if from >= to {
        return Err(invalid(format!(
            "'from' ({}) must be before 'to' ({})",
            from.to_rfc3339(),
            to.to_rfc3339()
        )));
    }
    let buckets = count_param(q, "buckets", history::BUCKETS_MAX)?;
    let limit = count_param(q, "limit", history::RANGE_LIMIT_MAX)?.unwrap_or(RANGE_LIMIT_DEFAULT);
    if let Some(token) = param(q, "continuationToken")? {
        let resume = token
            .parse::<i64>()
            .ok()
            .filter(|ns| *ns >= from.0 && *ns < to.0)
            .ok_or_else(|| {
                ApiError::bad_request(
                    "InvalidContinuationToken",
                    "the continuationToken is not one this range returned; send back the token of \
                     the previous page with the same field, from and to",
                )
            })?;
        from = Timestamp(resume);
    }
    let id = path.id;
    let twin = id.clone();
    let answer = read(&app, Arc::clone(&handle), move |history, store| {
        let known = !history
            .fields(store, &twin)
            .map_err(history_error)?
            .is_empty();
        Ok((
            known,
            match buckets {
                Some(n) => {
                    let buckets = history
                        .downsample(store, &twin, &field, from, to, n)
                        .map_err(history_error)?;
                    let buckets: Vec<Value> = buckets
                    .iter()
                    .map(|b| {
                        json!({
                            "start": b.start.to_rfc3339(),
                            "end": b.end.to_rfc3339(),
                            "count": b.count,
                            "min": number(b.min),
                            "max": number(b.max),
                            "avg": number(b.avg()),
                            "last": b.last.as_ref().map_or(Value::Null, |p| json_value(&p.value)),
                        })
                    })
                    .collect();
                    json!({ "field": field, "buckets": buckets })
                }
                None => {
                    let page = history
                        .range(store, &twin, &field, from, to, limit)
                        .map_err(history_error)?;
                    let points: Vec<Value> = page
                    .points
                    .iter()
                    .map(|p| json!({ "time": p.time.to_rfc3339(), "value": json_value(&p.value) }))
                    .collect();
                    json!({
                        "field": field,
                        "points": points,
                        "continuationToken": page.next.map(|t| t.0.to_string()),
                    })
                }
            },
        ))
    })
    .await?;
    known_twin(&handle, answer.0, &id)?;
    Ok(Json(answer.1).into_response())
}

/// `GET /digitaltwins/{id}/history/fields`.
pub(crate) async fn fields(
    State(app): State<App>,
    at: InWorld,
    PathOf(path): PathOf<TwinPath>,
) -> Result<Response, ApiError> {
    let handle = at.open(Role::Viewer)?;
    let twin = path.id.clone();
    let fields = read(&app, Arc::clone(&handle), move |history, store| {
        history.fields(store, &twin).map_err(history_error)
    })
    .await?;
    known_twin(&handle, !fields.is_empty(), &path.id)?;
    let fields: Vec<&str> = fields
        .iter()
        .map(|f| &**f)
        .filter(|f| *f != history::EXISTS_FIELD)
        .collect();
    Ok(Json(json!({ "fields": fields })).into_response())
}

/// `GET /digitaltwins/{id}/history/latest`.
pub(crate) async fn latest(
    State(app): State<App>,
    at: InWorld,
    PathOf(path): PathOf<TwinPath>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let handle = at.open(Role::Viewer)?;
    let q = query.as_deref();
    let field = field_param(q)?;
    let instant = time_param(q, "at")?.unwrap_or_else(crate::worlds::now);
    let twin = path.id.clone();
    let asked = field.clone();
    let point = read(&app, Arc::clone(&handle), move |history, store| {
        history
            .latest_at(store, &twin, &asked, instant)
            .map_err(history_error)
    })
    .await?;
    match point {
        Some(point) => Ok(Json(json!({
            "field": field,
            "time": point.time.to_rfc3339(),
            "value": json_value(&point.value),
        }))
        .into_response()),
        None => Err(ApiError::not_found(
            "HistoryNotFound",
            format!(
                "twin '{}' has no recorded '{field}' at or before {}",
                path.id,
                instant.to_rfc3339()
            ),
        )),
    }
}

/// `GET /history/state`: the world at an instant, a page of twins at a time, each
/// shaped as `GET /digitaltwins/{id}` shapes a twin (without `$etag`), with
/// `$metadata.$lastUpdateTime` per field from the recorded point.
pub(crate) async fn state(
    State(app): State<App>,
    at: InWorld,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let handle = at.open(Role::Viewer)?;
    let q = query.as_deref();
    let instant = time_param(q, "at")?.ok_or_else(|| {
        invalid("the 'at' parameter is required: the instant, RFC 3339 or milliseconds".into())
    })?;
    let limit =
        count_param(q, "limit", history::WORLD_PAGE_LIMIT_MAX)?.unwrap_or(STATE_LIMIT_DEFAULT);
    let after = match param(q, "continuationToken")? {
        Some(token) => Some(TwinId::parse(&token).map_err(|_| {
            ApiError::bad_request(
                "InvalidContinuationToken",
                "the continuationToken is not one this read returned",
            )
        })?),
        None => None,
    };
    let page = read(&app, Arc::clone(&handle), move |history, store| {
        history
            .world_at_page(store, instant, after.as_ref(), limit)
            .map_err(history_error)
    })
    .await?;
    // The model is not recorded: it is the twin's current one, when it still exists.
    let world = handle.read();
    let twins: Vec<Value> = page
        .twins
        .iter()
        .map(|state| {
            let model = world.twin_json(state.twin.as_str()).and_then(|t| {
                t.pointer("/$metadata/$model")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
            twin_at(state, model.as_ref())
        })
        .collect();
    drop(world);
    Ok(Json(json!({
        "at": instant.to_rfc3339(),
        "twins": twins,
        "continuationToken": page.next.map(|t| t.to_string()),
    }))
    .into_response())
}

/// A recorded twin state as twin JSON: `component/property` back into the
/// component, placement coordinates back into arrays.
fn twin_at(state: &history::TwinState, model: Option<&String>) -> Value {
    let mut twin = Map::new();
    let mut metadata = Map::new();
    twin.insert("$dtId".into(), Value::String(state.twin.to_string()));
    if let Some(model) = model {
        metadata.insert("$model".into(), Value::String(model.clone()));
    }
    for (field, point) in &state.fields {
        if &**field == history::EXISTS_FIELD {
            continue;
        }
        let value = json_value(&point.value);
        let updated = json!({ "lastUpdateTime": point.time.to_rfc3339() });
        let parts: Vec<&str> = field.split('/').collect();
        match parts.as_slice() {
            [name] => {
                twin.insert((*name).to_owned(), value);
                metadata.insert((*name).to_owned(), updated);
            }
            ["$placement", key, rest @ ..] => {
                let placement = twin
                    .entry("$placement")
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Some(placement) = placement.as_object_mut() {
                    match rest {
                        [] => {
                            placement.insert((*key).to_owned(), value);
                        }
                        [index] => {
                            if let Ok(i) = index.parse::<usize>() {
                                let slot = placement
                                    .entry(*key)
                                    .or_insert_with(|| Value::Array(Vec::new()));
                                if let Some(items) = slot.as_array_mut() {
                                    if items.len() <= i {
                                        items.resize(i + 1, Value::Null);
                                    }
                                    items[i] = value;
                                }
                            }
                        }
                        _ => {}
                    }
                }
                metadata.insert("$placement".into(), updated);
            }
            [component, property] => {
                let entry = twin
                    .entry(*component)
                    .or_insert_with(|| json!({ "$metadata": {} }));
                if let Some(object) = entry.as_object_mut() {
                    object.insert((*property).to_owned(), value);
                    if let Some(meta) = object.get_mut("$metadata").and_then(Value::as_object_mut) {
                        meta.insert((*property).to_owned(), updated);
                    }
                }
            }
            _ => {}
        }
    }
    twin.insert("$metadata".into(), Value::Object(metadata));
    Value::Object(twin)
}
