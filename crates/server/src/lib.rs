//! The HTTP server of Twinspace: the Azure Digital Twins data-plane API over any
//! number of worlds, bearer-token auth with roles per world, RFC 9457
//! problem+json errors, request limits, metrics, and the wiring that makes every
//! acknowledged write durable first (see `worlds`).
//!
//! The binary builds an [`App`] with [`App::open`] over a store, serves
//! [`App::router`], and calls [`App::shutdown`] on the way out. Tests drive the
//! router without a socket (`tower::ServiceExt::oneshot`).

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};
use store::{CommitLimits, GroupCommit, Store};

mod aas;
mod api;
pub mod auth;
mod body;
mod error;
pub mod ingest_rules;
mod limits;
mod live;
mod metrics;
pub mod mqtt;
mod paging;
mod web;
pub mod worlds;

pub use aas::AasImported;
pub use auth::{Grant, Role, TokenInfo, Tokens};
pub use error::ApiError;
pub use limits::Limits;
pub use worlds::{WorldHandle, Worlds};

/// How the server is set up.
#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    /// Request limits.
    pub limits: Limits,
    /// Whether clients reach the server over TLS (for absolute `nextLink`s).
    pub tls: bool,
    /// How history is kept (retention, memory budgets).
    pub history: history::HistoryConfig,
}

/// What `App::open` found or made: the app, and the first admin token's secret
/// when the store had no token (to be shown once, then never again).
pub struct Opened {
    /// The app.
    pub app: App,
    /// `Some(secret)` on first start.
    pub first_admin_token: Option<String>,
}

/// The server's shared state; cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    worlds: Worlds,
    tokens: Tokens,
    limits: Limits,
    query_limits: query::Limits,
    paging: paging::Paging,
    metrics: metrics::Metrics,
    live: live::Registry,
    aas: aas::Registry,
    tls: bool,
    /// The embedded MQTT broker, once the binary has started one (for /metrics).
    mqtt: std::sync::OnceLock<::mqtt::Broker>,
    /// Metrics of parts the binary runs beside the app (bridges, connectors),
    /// each appending Prometheus text.
    metric_sources: parking_lot::Mutex<Vec<MetricSource>>,
    /// The MQTT mapping rules (config file and REST), for the broker and bridges.
    ingest_rules: ingest_rules::IngestRules,
}

/// Appends Prometheus text exposition lines for `/metrics`.
pub type MetricSource = Arc<dyn Fn(&mut String) + Send + Sync>;

/// Commit limits that fit the request limits: the largest batch a request can
/// produce (a model upload stores each definition once more with its metadata)
/// must fit, or a valid request would be refused after it was applied.
fn commit_limits(limits: &Limits) -> CommitLimits {
    let batch = limits
        .models_body_bytes_max
        .saturating_mul(2)
        .max(limits.twin_body_bytes_max.saturating_mul(4));
    let batch = batch
        .saturating_add(1024 * 1024)
        .max(CommitLimits::default().batch_bytes_max);
    CommitLimits {
        batch_bytes_max: batch,
        queue_bytes_max: batch.saturating_mul(2),
    }
}

impl App {
    /// Loads tokens and restores every world from `store` (creating `default` and,
    /// when there is no token at all, a first admin token with `*` rights).
    pub fn open(store: Arc<dyn Store>, options: ServerOptions) -> Result<Opened, ApiError> {
        let commit = Arc::new(GroupCommit::new(
            Arc::clone(&store),
            commit_limits(&options.limits),
        ));
        let worlds = Worlds::open_with(Arc::clone(&store), commit, options.history.clone())?;
        let aas = aas::Registry::open(store.as_ref())?;
        let live = live::Registry::new(Arc::clone(&store));
        let ingest_rules = ingest_rules::IngestRules::load(Arc::clone(&store))?;
        let tokens = Tokens::load(store)?;
        let first_admin_token = if tokens.is_empty() {
            let grants = vec![Grant {
                world: "*".into(),
                role: Role::Admin,
            }];
            let (secret, _) = tokens.create(
                grants,
                "first admin (created at first start)",
                worlds::now(),
            )?;
            Some(secret)
        } else {
            None
        };
        let app = App {
            inner: Arc::new(Inner {
                worlds,
                tokens,
                limits: options.limits,
                query_limits: query::Limits::default(),
                paging: paging::Paging::new(),
                metrics: metrics::Metrics::default(),
                live,
                aas,
                tls: options.tls,
                mqtt: std::sync::OnceLock::new(),
                metric_sources: parking_lot::Mutex::new(Vec::new()),
                ingest_rules,
            }),
        };
        Ok(Opened {
            app,
            first_admin_token,
        })
    }

    /// The worlds (for tests and the binary's shutdown).
    pub fn worlds(&self) -> &Worlds {
        &self.inner.worlds
    }

    /// The tokens.
    pub fn tokens(&self) -> &Tokens {
        &self.inner.tokens
    }

    /// Tells the app about the embedded MQTT broker, so `/metrics` reports it.
    /// Only the first broker attached counts.
    pub fn attach_mqtt(&self, broker: ::mqtt::Broker) {
        let _ = self.inner.mqtt.set(broker);
    }

    /// The MQTT mapping rules in force; the broker and the bridges follow them.
    pub fn ingest_rules(&self) -> &ingest_rules::IngestRules {
        &self.inner.ingest_rules
    }

    /// Adds a part's metrics (an MQTT bridge, a connector) to `/metrics`.
    pub fn add_metrics(&self, source: MetricSource) {
        self.inner.metric_sources.lock().push(source);
    }

    /// Makes every acknowledged-or-pending write durable and stops the committer.
    pub async fn shutdown(&self) {
        if let Err(error) = self.inner.worlds.flush().await {
            tracing::error!(%error, "flushing the store at shutdown failed");
        }
        self.inner.worlds.commit().shutdown();
    }

    /// The full router: data plane at the root (world `default`) and under
    /// `/worlds/{world}`, administration and operations routes.
    pub fn router(&self) -> Router {
        let data_plane = data_plane();
        Router::new()
            .merge(data_plane.clone())
            .nest("/worlds/{world}", data_plane)
            .route(
                "/worlds",
                post(api::admin::create_world).get(api::admin::list_worlds),
            )
            .route("/worlds/{world}", delete(api::admin::delete_world))
            .route(
                "/tokens",
                post(api::admin::create_token).get(api::admin::list_tokens),
            )
            .route("/tokens/{id}", delete(api::admin::revoke_token))
            .route("/healthz", get(api::ops::healthz))
            .route("/readyz", get(api::ops::readyz))
            .route("/metrics", get(api::ops::metrics))
            .route("/openapi.json", get(api::ops::openapi))
            .merge(aas::routes())
            .method_not_allowed_fallback(method_not_allowed)
            // A route layer runs after routing, so it sees the matched route template.
            .route_layer(axum::middleware::from_fn_with_state(
                self.clone(),
                metrics::track,
            ))
            // Paths no route matches: the web client's files, else RouteNotFound.
            .fallback_service(web::Site::locate())
            // Bodies are read by `body::read_json` against the route's own limit.
            .layer(DefaultBodyLimit::disable())
            .layer(axum::middleware::from_fn(error::with_instance))
            .with_state(self.clone())
    }
}

/// The ADT data-plane routes, relative to a world's root.
fn data_plane() -> Router<App> {
    use api::{models, query as q, relationships as rel, twins};
    Router::new()
        .route("/models", post(models::create).get(models::list))
        .route(
            "/models/{id}",
            get(models::get)
                .patch(models::decommission)
                .delete(models::delete),
        )
        .route(
            "/digitaltwins/{id}",
            get(twins::get)
                .put(twins::put)
                .patch(twins::patch)
                .delete(twins::delete),
        )
        .route(
            "/digitaltwins/{id}/components/{component}",
            get(twins::get_component).patch(twins::patch_component),
        )
        .route("/digitaltwins/{id}/relationships", get(rel::list))
        .route(
            "/digitaltwins/{id}/relationships/{rel}",
            put(rel::put)
                .get(rel::get)
                .patch(rel::patch)
                .delete(rel::delete),
        )
        .route(
            "/digitaltwins/{id}/incomingrelationships",
            get(rel::incoming),
        )
        .route("/digitaltwins/{id}/history", get(api::history::range))
        .route(
            "/digitaltwins/{id}/history/fields",
            get(api::history::fields),
        )
        .route(
            "/digitaltwins/{id}/history/latest",
            get(api::history::latest),
        )
        .route("/history/state", get(api::history::state))
        .route("/digitaltwins/{id}/telemetry", post(api::telemetry::send))
        .route(
            "/digitaltwins/{id}/components/{component}/telemetry",
            post(api::telemetry::send_component),
        )
        .route("/query", post(q::run))
        .route("/live", get(live::session::upgrade))
        .route("/ingest/rules", get(api::rules::list))
        .route(
            "/ingest/rules/{name}",
            get(api::rules::get)
                .put(api::rules::put)
                .delete(api::rules::delete),
        )
        .method_not_allowed_fallback(method_not_allowed)
}

async fn fallback(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(
        "RouteNotFound",
        format!("no route matches {}; see /openapi.json", uri.path()),
    )
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "{method} is not allowed on {}; see /openapi.json",
        uri.path()
    ))
}
