//! `POST /query`: the ADT query language over one world. The body is
//! `{ "query": text, "continuationToken"?: token }`, the page size comes from the
//! `max-items-per-page` header, and the answer is `{ value, continuationToken }`
//! (the token `null` on the last page), with a `query-charge` header as ADT sends.
//!
//! The query runs with [`query::execute_from`] directly on the `World` (it is a
//! `query::TwinGraph`), seen through [`Resumed`]; the continuation token carries
//! the signed [`Resume`] (the cursor where the last page stopped, and the twin or
//! relationship index the scan had reached), bound to the exact query text. Tokens stay valid while
//! the world changes: each page is consistent in itself, and between pages rows
//! of twins created, changed or deleted may appear or be missed, as with ADT. The
//! precise guarantees (when a row can repeat) are in [`crate::paging`]. A query
//! that cannot be parsed or run is a 400 whose problem body carries the offset,
//! length and text of the offending token (`ApiError::Query`).

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::borrow::Cow;
use std::cell::{Cell, RefCell};

use world::World;
use world::query::{self, Column, ColumnExpr, Cursor, Query, SelectList, TwinGraph};

use super::{InWorld, page_size};
use crate::auth::Role;
use crate::body::read_json;
use crate::paging::Resume;
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
    // Checked before any work: a tampered token or one from another query is
    // refused whatever the world holds. A token is bound to the exact text.
    let at = match token {
        Some(token) => app.inner.paging.resume(token, text)?,
        None => Resume::default(),
    };
    let parsed = query::parse(text)?;
    // A query may scan a million twins: run it on a blocking thread so the
    // async workers keep serving other requests meanwhile.
    let worker = app.clone();
    let (rows, next) = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let world = handle.read();
        page(&world, &parsed, at, take, &worker.inner.query_limits)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("the query task failed: {e}")))??;
    let next = next.map(|at| app.inner.paging.resume_token(text, at));
    let page = json!({ "value": rows, "continuationToken": next });
    let mut response = Json(page).into_response();
    response
        .headers_mut()
        .insert("query-charge", HeaderValue::from_static("1"));
    Ok(response)
}

/// One page of `query` from `at`: its rows, and where the next page resumes.
///
/// Whenever the page stopped at a known candidate of an index-ordered scan, the
/// next page resumes from that candidate's index (`floor`) rather than from its
/// position: twins created or deleted before it then cannot shift the resume
/// point, so no candidate an earlier page finished is visited again.
fn page(
    world: &World,
    parsed: &Query,
    at: Resume,
    take: usize,
    limits: &query::Limits,
) -> Result<(Vec<Value>, Option<Resume>), ApiError> {
    // Grouped answers are recomputed over the whole scan on every page and paged
    // by row position (`Cursor::returned`): they take no floor.
    let grouped = is_grouped(parsed);
    let floor = if grouped { None } else { at.floor };
    let graph = Resumed::new(world, floor);
    let page = query::execute_from(parsed, &graph, at.cursor, take, limits)?;
    let next = page.next.map(|cursor| match graph.boundary(cursor) {
        Some(index) if !grouped => Resume {
            floor: Some(index),
            cursor: Cursor { roots: 0, ..cursor },
        },
        _ => Resume { floor, cursor },
    });
    Ok((page.rows, next))
}

/// Whether the query's rows are aggregates (as `query` decides: a `GROUP BY`, or
/// an aggregate column).
fn is_grouped(parsed: &Query) -> bool {
    !parsed.group_by.is_empty()
        || matches!(&parsed.select.list, SelectList::Columns(columns)
            if columns.iter().any(|Column { expr, .. }| matches!(expr, ColumnExpr::Aggregate(..))))
}

/// Which candidate list the query engine took for its `FROM` scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// None asked for yet.
    None,
    /// Every twin, or every relationship, by index.
    Scan,
    /// A list from an index, sorted by twin index here.
    Sorted,
    /// Twins looked up by `$dtId`, in the query's order: no floor applies.
    ById,
    /// More than one of the above: the boundary is not known.
    Mixed,
}

/// The `World` as the query engine sees it while paging: the `FROM` candidates
/// (every twin, every relationship, or an index's list) start at `floor` and come
/// in ascending index order, and the candidates handed out are noted so that the
/// candidate a page stopped at can be named by its index.
struct Resumed<'w> {
    world: &'w World,
    floor: u32,
    source: Cell<Source>,
    /// Scans: candidates yielded so far, and the last one.
    yielded: Cell<u64>,
    last: Cell<Option<u32>>,
    /// Index lists: the list handed out.
    list: RefCell<Vec<u32>>,
}

impl<'w> Resumed<'w> {
    fn new(world: &'w World, floor: Option<u32>) -> Self {
        Resumed {
            world,
            floor: floor.unwrap_or(0),
            source: Cell::new(Source::None),
            yielded: Cell::new(0),
            last: Cell::new(None),
            list: RefCell::new(Vec::new()),
        }
    }

    fn took(&self, source: Source) {
        let now = match self.source.get() {
            Source::None => source,
            same if same == source => same,
            _ => Source::Mixed,
        };
        self.source.set(now);
    }

    /// The index of the candidate at `cursor.roots` (counted in this page's
    /// candidates), the one the page stopped at, when it is known.
    fn boundary(&self, cursor: Cursor) -> Option<u32> {
        match self.source.get() {
            // The scan stops while visiting the candidate it yielded last.
            Source::Scan if self.yielded.get() == cursor.roots.checked_add(1)? => self.last.get(),
            Source::Sorted => {
                let at = usize::try_from(cursor.roots).ok()?;
                self.list.borrow().get(at).copied()
            }
            _ => None,
        }
    }

    // `World` has inherent methods of the same names (by id): the trait's are
    // called by path below.

    /// A scan from `floor` that notes what it hands out.
    fn scan<'a>(
        &'a self,
        all: Box<dyn Iterator<Item = u32> + 'a>,
    ) -> Box<dyn Iterator<Item = u32> + 'a> {
        self.took(Source::Scan);
        let floor = self.floor;
        Box::new(all.filter(move |i| *i >= floor).inspect(|i| {
            self.yielded.set(self.yielded.get() + 1);
            self.last.set(Some(*i));
        }))
    }

    /// An index list from `floor`, sorted, noted.
    fn sorted(&self, list: Option<Vec<u32>>) -> Option<Vec<u32>> {
        let mut list = list?;
        list.retain(|i| *i >= self.floor);
        list.sort_unstable();
        list.dedup();
        self.took(Source::Sorted);
        self.list.replace(list.clone());
        Some(list)
    }
}

impl TwinGraph for Resumed<'_> {
    type Twin = u32;
    type Rel = u32;

    fn twins(&self) -> Box<dyn Iterator<Item = u32> + '_> {
        self.scan(TwinGraph::twins(self.world))
    }

    fn twins_of_model(&self, model: &str, exact: bool) -> Option<Vec<u32>> {
        self.sorted(TwinGraph::twins_of_model(self.world, model, exact))
    }

    fn twins_in_box(&self, min: [f64; 3], max: [f64; 3]) -> Option<Vec<u32>> {
        self.sorted(TwinGraph::twins_in_box(self.world, min, max))
    }

    fn twins_with_value(&self, path: &[&str], value: &Value) -> Option<Vec<u32>> {
        self.sorted(TwinGraph::twins_with_value(self.world, path, value))
    }

    fn twins_where(
        &self,
        conjuncts: &[query::Conjunct<'_>],
        enough: Option<usize>,
    ) -> Option<query::Matches<u32>> {
        // A graph that stops after `enough` twins counts from the first twin, so
        // a resumed page (floor above zero) asks for all of them.
        let enough = enough.filter(|_| self.floor == 0);
        let matches = TwinGraph::twins_where(self.world, conjuncts, enough)?;
        Some(query::Matches {
            twins: self.sorted(Some(matches.twins))?,
            applied: matches.applied,
        })
    }

    fn twin_by_id(&self, id: &str) -> Option<u32> {
        // Only the `$dtId` candidates are looked up by id.
        self.took(Source::ById);
        TwinGraph::twin_by_id(self.world, id)
    }

    fn twin_id(&self, twin: u32) -> &str {
        TwinGraph::twin_id(self.world, twin)
    }

    fn is_of_model(&self, twin: u32, model: &str, exact: bool) -> bool {
        TwinGraph::is_of_model(self.world, twin, model, exact)
    }

    fn twin_value(&self, twin: u32, path: &[&str]) -> Option<Cow<'_, Value>> {
        TwinGraph::twin_value(self.world, twin, path)
    }

    fn twin_json(&self, twin: u32) -> Value {
        TwinGraph::twin_json(self.world, twin)
    }

    fn outgoing(&self, twin: u32, relationship_name: &str) -> Vec<(u32, u32)> {
        TwinGraph::outgoing(self.world, twin, relationship_name)
    }

    fn relationships(&self) -> Box<dyn Iterator<Item = u32> + '_> {
        self.scan(TwinGraph::relationships(self.world))
    }

    fn relationship_value(&self, rel: u32, path: &[&str]) -> Option<Cow<'_, Value>> {
        TwinGraph::relationship_value(self.world, rel, path)
    }

    fn relationship_json(&self, rel: u32) -> Value {
        TwinGraph::relationship_json(self.world, rel)
    }

    fn world_position(&self, twin: u32) -> Option<[f64; 3]> {
        TwinGraph::world_position(self.world, twin)
    }
}
