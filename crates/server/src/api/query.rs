//! `POST /query`: the ADT query language over one world. The body is
//! `{ "query": text, "continuationToken"?: token }`, the page size comes from the
//! `max-items-per-page` header, and the answer is `{ value, continuationToken }`
//! (the token `null` on the last page), with a `query-charge` header as ADT sends.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{InWorld, page_size};
use crate::auth::Role;
use crate::body::read_json;
use crate::{ApiError, App};

/// `POST /query`.
pub(crate) async fn run(
    State(app): State<App>,
    at: InWorld,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let handle = at.open(Role::Viewer)?;
    let limits = &app.inner.limits;
    let request = read_json(
        body,
        limits.query_body_bytes_max,
        "query_body_bytes_max",
        limits.json_depth_max,
    )
    .await?;
    let Some(text) = request.get("query").and_then(Value::as_str) else {
        return Err(ApiError::bad_request(
            "InvalidArgument",
            "the body must be { \"query\": \"SELECT ...\" } with the query as a string",
        ));
    };
    let chars = text.chars().count();
    if chars > limits.query_chars_max {
        return Err(ApiError::TooLarge {
            what: "the query text",
            detail: format!(
                "{chars} characters, at most {} are allowed",
                limits.query_chars_max
            ),
            limit: "query_chars_max",
        });
    }
    let token = match request.get("continuationToken") {
        None | Some(Value::Null) => None,
        Some(Value::String(token)) => Some(token.as_str()),
        Some(_) => {
            return Err(ApiError::bad_request(
                "InvalidArgument",
                "continuationToken must be a string or null",
            ));
        }
    };
    let take = page_size(&app, &headers)?;
    // A query may scan a million twins: run it on a blocking thread so the
    // async workers keep serving other requests meanwhile.
    let (text, token) = (text.to_owned(), token.map(str::to_owned));
    let worker = app.clone();
    let (page, skip, seq, text) = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let world = handle.read();
        let seq = world.seq().0;
        let skip = match &token {
            Some(token) => worker.inner.paging.offset(token, &text, seq)?,
            None => 0,
        };
        let page = world.query(&text, skip, take, &worker.inner.query_limits)?;
        Ok((page, skip, seq, text))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("the query task failed: {e}")))??;
    let next = page
        .more
        .then(|| app.inner.paging.token(&text, skip + page.rows.len(), seq));
    let mut response =
        Json(json!({ "value": page.rows, "continuationToken": next })).into_response();
    response
        .headers_mut()
        .insert("query-charge", HeaderValue::from_static("1"));
    Ok(response)
}
