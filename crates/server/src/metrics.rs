//! Prometheus metrics: requests by route and status (and the time they took),
//! twins, relationships and models per world, and group-commit statistics, in
//! the text exposition format at `GET /metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use parking_lot::Mutex;

use crate::App;

/// Request counters. Keys are route templates (`/digitaltwins/{id}`), never raw
/// paths, so the number of series is bounded by the number of routes.
#[derive(Default)]
pub(crate) struct Metrics {
    requests: Mutex<BTreeMap<RequestKey, RequestTotals>>,
}

/// (route template, method, status).
type RequestKey = (String, &'static str, u16);
/// (requests, seconds spent on them).
type RequestTotals = (u64, f64);

impl Metrics {
    fn record(&self, method: &'static str, route: String, status: u16, seconds: f64) {
        let mut requests = self.requests.lock();
        let entry = requests.entry((route, method, status)).or_default();
        entry.0 += 1;
        entry.1 += seconds;
    }
}

fn method_name(method: &axum::http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "PUT" => "PUT",
        "POST" => "POST",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    }
}

/// Middleware counting every request by matched route and status.
pub(crate) async fn track(State(app): State<App>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = method_name(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    app.inner.metrics.record(
        method,
        route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The metrics page.
pub(crate) fn render(app: &App) -> String {
    let mut out = String::new();
    let inner = &app.inner;
    out.push_str("# HELP twinspace_http_requests_total HTTP requests by route template, method and status.\n");
    out.push_str("# TYPE twinspace_http_requests_total counter\n");
    let requests = inner.metrics.requests.lock().clone();
    for ((route, method, status), (count, _)) in &requests {
        let _ = writeln!(
            out,
            "twinspace_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {count}",
            escape(route)
        );
    }
    out.push_str("# HELP twinspace_http_request_seconds_total Time spent answering requests.\n");
    out.push_str("# TYPE twinspace_http_request_seconds_total counter\n");
    for ((route, method, status), (_, seconds)) in &requests {
        let _ = writeln!(
            out,
            "twinspace_http_request_seconds_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {seconds}",
            escape(route)
        );
    }
    let worlds = inner.worlds.list();
    for (name, help) in [
        ("twins", "Twins per world."),
        ("relationships", "Relationships per world."),
        ("models", "Models per world."),
        ("seq", "The last applied Seq per world."),
    ] {
        let _ = writeln!(
            out,
            "# HELP twinspace_world_{name} {help}\n# TYPE twinspace_world_{name} gauge"
        );
        for handle in &worlds {
            let world = handle.read();
            let value = match name {
                "twins" => world.twin_count() as u64,
                "relationships" => world.relationship_count() as u64,
                "models" => world.models().len() as u64,
                _ => world.seq().0,
            };
            let _ = writeln!(
                out,
                "twinspace_world_{name}{{world=\"{}\"}} {value}",
                handle.id()
            );
        }
    }
    for (name, kind, help) in [
        (
            "points_total",
            "counter",
            "History points recorded per world since start.",
        ),
        ("series", "gauge", "History series per world."),
        (
            "cache_bytes",
            "gauge",
            "Memory of the history cache of recently written twins, per world.",
        ),
        (
            "head_points",
            "gauge",
            "Points in open (not yet compressed) history heads, per world.",
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP twinspace_history_{name} {help}\n# TYPE twinspace_history_{name} {kind}"
        );
        for handle in &worlds {
            let value = match name {
                "points_total" => handle.history_points(),
                _ => {
                    let history = handle.history();
                    match name {
                        "series" => history.series_count() as u64,
                        "cache_bytes" => history.cache_bytes() as u64,
                        _ => history.head_points() as u64,
                    }
                }
            };
            let _ = writeln!(
                out,
                "twinspace_history_{name}{{world=\"{}\"}} {value}",
                handle.id()
            );
        }
    }
    let stats = inner.worlds.commit().stats();
    for (name, kind, value, help) in [
        (
            "commits_total",
            "counter",
            stats.commits,
            "Store transactions committed (one fsync each).",
        ),
        (
            "batches_total",
            "counter",
            stats.batches,
            "Write batches made durable.",
        ),
        (
            "writes_total",
            "counter",
            stats.writes,
            "Key writes made durable.",
        ),
        ("bytes_total", "counter", stats.bytes, "Bytes made durable."),
        (
            "failed_total",
            "counter",
            stats.failed_commits,
            "Commits that failed.",
        ),
        (
            "group_batches_max",
            "gauge",
            stats.group_batches_max,
            "Most batches in one commit.",
        ),
        (
            "queued_bytes",
            "gauge",
            stats.queued_bytes,
            "Bytes waiting to be committed.",
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP twinspace_commit_{name} {help}\n# TYPE twinspace_commit_{name} {kind}\ntwinspace_commit_{name} {value}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP twinspace_commit_seconds_total Time spent in commits (transaction and fsync).\n# TYPE twinspace_commit_seconds_total counter\ntwinspace_commit_seconds_total {}",
        stats.commit_time_ns_total as f64 / 1e9
    );
    let _ = writeln!(
        out,
        "# HELP twinspace_commit_seconds_max The slowest commit.\n# TYPE twinspace_commit_seconds_max gauge\ntwinspace_commit_seconds_max {}",
        stats.commit_time_ns_max as f64 / 1e9
    );
    if let Some(broker) = inner.mqtt.get() {
        crate::mqtt::render_metrics(&mut out, &broker.metrics());
    }
    for source in inner.metric_sources.lock().iter() {
        source(&mut out);
    }
    out
}
