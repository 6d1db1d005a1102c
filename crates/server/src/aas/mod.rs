//! The Asset Administration Shell HTTP/REST API (IDTA-01002 Part 2 v3.0) over
//! each world, next to the ADT API and sharing its state.
//!
//! # Design
//!
//! **Where.** `/aas/api/v3.0/…` and `/api/v3.0/…` serve the world `default`;
//! `/worlds/{w}/aas/api/v3.0/…` and `/worlds/{w}/api/v3.0/…` any world. Under
//! each base: the AAS Repository (`/shells…`, with the shell → submodel
//! superpaths), the Submodel Repository (`/submodels…`), the Concept
//! Description Repository (`/concept-descriptions…`), the AASX File Server
//! (`/packages…`), `/serialization` (JSON, XML, AASX by `Accept`) and
//! `/description`. The single-shell and single-submodel services of Part 2
//! are views of one repository item: `…/shells/{id}/service` serves
//! `/aas…` (and `/`) for that shell, `…/submodels/{id}/service` serves
//! `/submodel…` for that submodel, each with its own `/description`.
//! Identifiers in paths are base64url (padding optional); idShort paths use
//! `aas::parse_id_short_path`. Every route is matched here (one wildcard
//! route per base), since Part 2's `$value`/`$metadata` suffixes and idShort
//! paths do not fit a router's templates; the AAS routes are kept out of the
//! ADT `openapi.json` (the normative Part 2 OpenAPI documents them).
//!
//! **Storage.** Per world, in the server's store and through its group
//! commit (see `repo`): shells, submodels, concept descriptions and packages
//! as strict 3.0 JSON keyed by id, supplementary files by package path. Each
//! acknowledged write is durable; a restart reloads the tables.
//!
//! **One state with the twin graph** (see `twin`). An element bound by a
//! `twinspace:twinProperty` qualifier (`{twinId}#{pointer}`) reads the twin's
//! current value, and a value write to it is a JSON Patch through
//! `Worlds::apply`, validated by the twin's model and seen by ADT, history,
//! live and MQTT. The default projection shows each twin as shell
//! `twinspace:twin:{id}` with a properties submodel (properties bound,
//! components as collections) and a relationships submodel; these are
//! addressable by id but not listed.
//!
//! **Roles.** Viewer reads; operator writes values (`PATCH …/$value`);
//! editor creates, replaces and deletes; the same bearer tokens as ADT.
//!
//! **Errors.** Part 2's Result: `{"messages": [{"code", "messageType",
//! "text", "timestamp"}]}` with 400 (malformed ids, parameters, bodies, broken
//! constraints), 401, 403, 404, 405, 409 (id taken), 413.
//!
//! **Paging.** `limit` (1 to [`LIMIT_MAX`], default [`LIMIT_DEFAULT`]) and an
//! opaque `cursor` (base64url of the last id, or of the next index for element
//! lists); responses carry `paging_metadata.cursor` when more follow. Ids are
//! listed in byte order, so a page is a range scan of a sorted map.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use base64::Engine;
use serde_json::{Value, json};

use crate::api::InWorld;
use crate::auth::Role;
use crate::worlds::WorldHandle;
use crate::{ApiError, App};

mod handlers;
pub(crate) mod repo;
mod twin;
mod view;

pub(crate) use repo::Registry;

/// Largest page a list returns.
pub(crate) const LIMIT_MAX: usize = 10_000;
/// The page size when `limit` is absent.
pub(crate) const LIMIT_DEFAULT: usize = 100;
/// Largest JSON body (a submodel) a write takes.
const BODY_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Largest AASX package an upload takes (the package reader has its own
/// limits on what is inside).
const PACKAGE_BYTES_MAX: usize = 64 * 1024 * 1024;
/// Nesting a JSON body may have (the metamodel's own bound).
const BODY_DEPTH_MAX: usize = ::aas::MAX_DEPTH;

/// A Part 2 error: the status and what was wrong.
#[derive(Debug)]
pub(crate) struct AasError {
    status: StatusCode,
    text: String,
}

impl AasError {
    pub(crate) fn new(status: StatusCode, text: impl Into<String>) -> AasError {
        AasError {
            status,
            text: text.into(),
        }
    }
    pub(crate) fn bad(text: impl Into<String>) -> AasError {
        AasError::new(StatusCode::BAD_REQUEST, text)
    }
    pub(crate) fn not_found(text: impl Into<String>) -> AasError {
        AasError::new(StatusCode::NOT_FOUND, text)
    }
}

impl From<ApiError> for AasError {
    fn from(error: ApiError) -> AasError {
        AasError::new(error.status(), error.to_string())
    }
}

impl IntoResponse for AasError {
    fn into_response(self) -> Response {
        let body = json!({ "messages": [{
            "code": self.status.as_u16().to_string(),
            "messageType": "Error",
            "text": self.text,
            "timestamp": timestamp(),
        }]});
        (self.status, axum::Json(body)).into_response()
    }
}

/// Now as `xs:dateTime` in UTC (civil-from-days, so no date crate is needed).
fn timestamp() -> String {
    let ns = crate::worlds::now().0;
    let secs = ns.div_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The AAS routes, to be merged into the server's router.
pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/aas/api/v3.0/{*rest}", any(dispatch))
        .route("/api/v3.0/{*rest}", any(dispatch))
        .route("/worlds/{world}/aas/api/v3.0/{*rest}", any(dispatch))
        .route("/worlds/{world}/api/v3.0/{*rest}", any(dispatch))
}

/// Decodes a base64url identifier from a path or query (padding optional).
pub(crate) fn decode_id(text: &str) -> Result<String, AasError> {
    let trimmed = text.trim_end_matches('=');
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(trimmed)
        .ok()
        .filter(|_| text.len() - trimmed.len() <= 2)
        .ok_or_else(|| {
            AasError::bad(format!(
                "'{text}' is not a base64url-encoded identifier (RFC 4648 §5, padding optional)"
            ))
        })?;
    String::from_utf8(bytes)
        .map_err(|_| AasError::bad(format!("the identifier encoded as '{text}' is not UTF-8")))
}

/// Encodes an identifier as Part 2 paths and cursors spell it.
pub(crate) fn encode_id(id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id)
}

/// Percent-decodes one path segment or query component (`+` is a space only
/// in queries).
fn percent_decode(text: &str, plus_is_space: bool) -> String {
    let hex = |b: u8| (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok());
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match hex(bytes[i + 1]).zip(hex(bytes[i + 2])) {
                Some((h, l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                }
                None => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The decoded query parameters of a request.
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    fn parse(query: Option<&str>) -> Query {
        Query(
            query
                .unwrap_or_default()
                .split('&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    (percent_decode(k, true), percent_decode(v, true))
                })
                .collect(),
        )
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn all(&self, key: &str) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn level(&self) -> Result<view::Level, AasError> {
        match self.get("level") {
            None | Some("deep") => Ok(view::Level::Deep),
            Some("core") => Ok(view::Level::Core),
            Some(other) => Err(AasError::bad(format!(
                "level must be 'deep' or 'core', not '{other}'"
            ))),
        }
    }

    pub(crate) fn extent(&self) -> Result<view::Extent, AasError> {
        match self.get("extent") {
            None | Some("withoutBlobValue") => Ok(view::Extent::WithoutBlobValue),
            Some("withBlobValue") => Ok(view::Extent::WithBlobValue),
            Some(other) => Err(AasError::bad(format!(
                "extent must be 'withBlobValue' or 'withoutBlobValue', not '{other}'"
            ))),
        }
    }

    pub(crate) fn limit(&self) -> Result<usize, AasError> {
        match self.get("limit") {
            None => Ok(LIMIT_DEFAULT),
            Some(text) => match text.parse::<usize>() {
                Ok(n) if n >= 1 => Ok(n.min(LIMIT_MAX)),
                _ => Err(AasError::bad(format!(
                    "limit must be a whole number from 1 to {LIMIT_MAX}, not '{text}'"
                ))),
            },
        }
    }

    pub(crate) fn bool(&self, key: &str, default: bool) -> Result<bool, AasError> {
        match self.get(key) {
            None => Ok(default),
            // Python clients send `True`/`False`; the value is a boolean either way.
            Some(text) if text.eq_ignore_ascii_case("true") => Ok(true),
            Some(text) if text.eq_ignore_ascii_case("false") => Ok(false),
            Some(other) => Err(AasError::bad(format!(
                "{key} must be 'true' or 'false', not '{other}'"
            ))),
        }
    }
}

/// Everything a handler needs about one request.
pub(crate) struct Ctx {
    pub(crate) app: App,
    pub(crate) world: Arc<WorldHandle>,
    pub(crate) repo: Arc<repo::AasWorld>,
    pub(crate) method: Method,
    pub(crate) query: Query,
    pub(crate) headers: HeaderMap,
    /// Taken once; behind a lock so that `&Ctx` is `Send` (a body is not `Sync`).
    pub(crate) body: parking_lot::Mutex<Option<Body>>,
}

impl Ctx {
    /// The request body as JSON.
    pub(crate) async fn json_body(&self) -> Result<Value, AasError> {
        let body = self.body.lock().take().unwrap_or_default();
        Ok(
            crate::body::read_json(body, BODY_BYTES_MAX, "aas_body_bytes_max", BODY_DEPTH_MAX)
                .await?,
        )
    }

    /// The request body as bytes (AASX uploads).
    pub(crate) async fn bytes_body(&self) -> Result<Vec<u8>, AasError> {
        let body = self.body.lock().take().unwrap_or_default();
        Ok(crate::body::read_bytes(body, PACKAGE_BYTES_MAX, "aas_package_bytes_max").await?)
    }
}

/// The role a request needs: reads are viewer's, value writes operator's,
/// everything else editor's.
fn role_for(method: &Method, segments: &[String]) -> Role {
    if *method == Method::GET || *method == Method::HEAD {
        Role::Viewer
    } else if *method == Method::PATCH && segments.last().is_some_and(|s| s == "$value") {
        Role::Operator
    } else {
        Role::Editor
    }
}

async fn dispatch(State(app): State<App>, request: Request) -> Response {
    match dispatch_inner(app, request).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn dispatch_inner(app: App, request: Request) -> Result<Response, AasError> {
    let (mut parts, body) = request.into_parts();
    let at = InWorld::from_request_parts(&mut parts, &app).await?;
    let path = parts.uri.path().to_owned();
    let rest = path
        .split_once("/api/v3.0")
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let segments: Vec<String> = rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode(s, false))
        .collect();
    let world = at.open(role_for(&parts.method, &segments))?;
    let repo = app.inner.aas.world(world.id().as_str())?;
    let mut ctx = Ctx {
        app: app.clone(),
        world,
        repo,
        method: parts.method.clone(),
        query: Query::parse(parts.uri.query()),
        headers: parts.headers.clone(),
        body: parking_lot::Mutex::new(Some(body)),
    };
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    handlers::route(&mut ctx, &segments).await
}

/// A JSON response.
pub(crate) fn ok_json(status: StatusCode, value: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(error) => {
            AasError::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response()
        }
    }
}

/// A paged result body.
#[derive(serde::Serialize)]
pub(crate) struct Paged<T: serde::Serialize> {
    pub(crate) paging_metadata: PagingMetadata,
    pub(crate) result: Vec<T>,
}

/// Where the next page starts.
#[derive(serde::Serialize)]
pub(crate) struct PagingMetadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cursor: Option<String>,
}

/// What an import stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AasImported {
    /// Shells stored.
    pub shells: usize,
    /// Submodels stored.
    pub submodels: usize,
    /// Concept descriptions stored.
    pub concept_descriptions: usize,
}

/// Most bytes of JSON one import batch carries (below the group commit's
/// batch limit, so a large environment becomes several batches).
const IMPORT_BATCH_BYTES: usize = 4 * 1024 * 1024;

impl App {
    /// Stores an environment's shells, submodels and concept descriptions in a
    /// world's AAS repository (replacing items with the same ids), durably,
    /// in batches. For bulk loads (the `aas-api` benchmark) and tests.
    pub async fn aas_import(
        &self,
        world: &str,
        environment: &::aas::Environment,
    ) -> Result<AasImported, ApiError> {
        if self.inner.worlds.get(world).is_none() {
            return Err(ApiError::not_found(
                "WorldNotFound",
                format!("there is no world named '{world}'"),
            ));
        }
        let repo = self.inner.aas.world(world)?;
        let mut items: Vec<(repo::Kind, String, Value)> = Vec::new();
        for shell in environment.asset_administration_shells.iter().flatten() {
            items.push((
                repo::Kind::Shell,
                shell.id.clone(),
                ::aas::json::to_value(shell),
            ));
        }
        for submodel in environment.submodels.iter().flatten() {
            items.push((
                repo::Kind::Submodel,
                submodel.id.clone(),
                ::aas::json::to_value(submodel),
            ));
        }
        for concept in environment.concept_descriptions.iter().flatten() {
            items.push((
                repo::Kind::Concept,
                concept.id.clone(),
                ::aas::json::to_value(concept),
            ));
        }
        let mut imported = AasImported::default();
        let mut items = items.into_iter().peekable();
        while items.peek().is_some() {
            let mut changes = Vec::new();
            let mut bytes = 0;
            while bytes < IMPORT_BATCH_BYTES
                && let Some((kind, id, value)) = items.next()
            {
                bytes += id.len() + value.to_string().len();
                match kind {
                    repo::Kind::Shell => imported.shells += 1,
                    repo::Kind::Submodel => imported.submodels += 1,
                    _ => imported.concept_descriptions += 1,
                }
                changes.push(repo::Change::Put(kind, id, value));
            }
            repo.write(self.inner.worlds.commit(), |_| Ok((changes, ())))
                .await
                .map_err(|e| ApiError::Internal(e.text))?;
        }
        Ok(imported)
    }
}

/// The ids of the shells that reference a submodel.
pub(crate) fn shells_referencing(repo: &repo::Repo, submodel: &str) -> BTreeSet<String> {
    repo.map(repo::Kind::Shell)
        .iter()
        .filter(|(_, shell)| {
            shell
                .get("submodels")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|r| r.pointer("/keys/0/value").and_then(Value::as_str) == Some(submodel))
        })
        .map(|(id, _)| id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_decode_with_or_without_padding_and_refuse_garbage() {
        let id = "urn:example:sm:1";
        let encoded = encode_id(id);
        assert_eq!(decode_id(&encoded).unwrap(), id);
        let padded = base64::engine::general_purpose::URL_SAFE.encode(id);
        assert_eq!(decode_id(&padded).unwrap(), id);
        assert!(decode_id("invalid-base64url=====").is_err());
        assert!(decode_id("%%%").is_err());
    }

    #[test]
    fn queries_validate_their_parameters() {
        let q = Query::parse(Some("limit=-1&level=%23%23&extent=withBlobValue&x=true"));
        assert!(q.limit().is_err());
        assert!(q.level().is_err());
        assert_eq!(q.extent().unwrap(), view::Extent::WithBlobValue);
        assert!(q.bool("x", false).unwrap());
        assert!(Query::parse(Some("b=maybe")).bool("b", false).is_err());
        assert_eq!(Query::parse(None).limit().unwrap(), LIMIT_DEFAULT);
    }

    /// Submodels the scale benchmark lists (BaSyx users report 79 s for this many).
    const BENCH_SUBMODELS: usize = 300_000;
    /// The page size the benchmark asks for.
    const BENCH_PAGE: usize = 1_000;

    /// Loads `BENCH_SUBMODELS` submodels and walks `GET /aas/api/v3.0/submodels`
    /// page by page through the full router (no socket). Ignored by default (it
    /// takes a while in debug builds); run with
    /// `cargo test -p server --release --lib aas::tests::bench -- --ignored --nocapture`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "benchmark"]
    async fn bench_300k_submodels_listed_by_pages() {
        use tower::ServiceExt as _;
        let store: Arc<dyn store::Store> =
            Arc::new(store::RedbStore::open_in_memory().expect("store"));
        let opened = App::open(store, crate::ServerOptions::default()).expect("app");
        let token = opened.first_admin_token.expect("token");
        let app = opened.app;
        let submodels: Vec<::aas::Submodel> = (0..BENCH_SUBMODELS)
            .map(|n| {
                let text = format!(
                    r#"{{"modelType":"Submodel","id":"urn:bench:sm:{n:07}","idShort":"S{n}",
                       "submodelElements":[{{"modelType":"Property","idShort":"V",
                       "valueType":"xs:int","value":"{n}"}}]}}"#
                );
                ::aas::json::from_str(&text).expect("submodel")
            })
            .collect();
        let mut environment = ::aas::Environment::new();
        environment.submodels = Some(submodels);
        let started = std::time::Instant::now();
        let imported = app
            .aas_import("default", &environment)
            .await
            .expect("import");
        assert_eq!(imported.submodels, BENCH_SUBMODELS);
        eprintln!(
            "aas bench: stored {BENCH_SUBMODELS} submodels in {:?}",
            started.elapsed()
        );
        let router = app.router();
        let started = std::time::Instant::now();
        let mut cursor: Option<String> = None;
        let mut listed = 0;
        let mut first_page = None;
        for _ in 0..=BENCH_SUBMODELS / BENCH_PAGE {
            let mut uri = format!("/aas/api/v3.0/submodels?limit={BENCH_PAGE}");
            if let Some(c) = &cursor {
                uri.push_str(&format!("&cursor={c}"));
            }
            let request = axum::http::Request::get(uri)
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .expect("request");
            let response = router.clone().oneshot(request).await.expect("response");
            assert_eq!(response.status(), StatusCode::OK);
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("body");
            let page: Value = serde_json::from_slice(&bytes).expect("json");
            listed += page["result"].as_array().map_or(0, Vec::len);
            first_page.get_or_insert(started.elapsed());
            cursor = page["paging_metadata"]["cursor"]
                .as_str()
                .map(str::to_owned);
            if cursor.is_none() {
                break;
            }
        }
        let walk = started.elapsed();
        eprintln!(
            "aas bench: first page of {BENCH_PAGE} in {:?}; all {listed} submodels in {walk:?}",
            first_page.unwrap_or_default()
        );
        assert_eq!(listed, BENCH_SUBMODELS);
    }

    #[test]
    fn timestamps_are_xsd_date_times() {
        let now = timestamp();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.starts_with("20") && now.ends_with('Z'), "{now}");
    }
}
