//! A connection's replay (`Replay` on the live protocol) fed from the world's
//! history: the pure engine `live::replay::Replay` decides what each tick
//! carries; this adapter reads what it needs from `History` — the state at the
//! start instant (`world_at_page`) and, per tick, every series' points in the
//! window the engine asks for — and turns history's per-coordinate placement
//! series (`$placement/position/0`, …) back into whole arrays, as live sends them.
//!
//! Bounded: a replay covers worlds whose history holds at most
//! `REPLAY_TWINS_MAX` twins (each tick reads every series once; larger worlds
//! read the past through `GET /history/state`), and one tick reads at most
//! `POINTS_PER_SERIES_MAX` points of a series (a reader far behind sees the
//! newest values, not a backlog).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use live::replay::{Recorded, RecordedTwin, Replay};
use serde_json::Value;
use world::{Timestamp, TwinId};

use crate::ApiError;
use crate::api::history_json_value as json_value;
use crate::worlds::WorldHandle;

/// Most twins a replayed world's history may hold.
pub(crate) const REPLAY_TWINS_MAX: usize = 2_000;
/// Most points of one series read for one tick.
const POINTS_PER_SERIES_MAX: usize = 1_000;
/// How often the list of recorded twins and fields is read again, so twins
/// created during the replay show up.
const CATALOG_REFRESH: Duration = Duration::from_secs(1);

/// Twins with history and their field paths.
type Catalog = Arc<Vec<(TwinId, Vec<Arc<str>>)>>;

/// One connection's replay.
pub(crate) struct ReplaySession {
    pub(crate) engine: Replay,
    catalog: Catalog,
    catalog_read: Instant,
    /// The latest coordinates of each twin's placement arrays, so that one
    /// recorded coordinate becomes the whole array.
    coordinates: HashMap<(String, String), Vec<Value>>,
    /// Whether a tick has said the replay reached the present.
    caught_up_told: bool,
}

/// Reads the catalog: every twin with history and its fields (bounded).
fn read_catalog(handle: &WorldHandle, store: &dyn store::Store) -> Result<Catalog, ApiError> {
    let history = handle.history();
    let twins = history.twins(store).map_err(internal)?;
    if twins.len() > REPLAY_TWINS_MAX {
        return Err(ApiError::Conflict {
            code: "LimitExceeded",
            message: format!(
                "this world's history holds {} twins; replay covers worlds of at most {REPLAY_TWINS_MAX} (read the past with GET /history/state)",
                twins.len()
            ),
        });
    }
    let mut catalog = Vec::with_capacity(twins.len());
    for twin in twins {
        let fields = history.fields(store, twin.as_str()).map_err(internal)?;
        catalog.push((twin, fields));
    }
    Ok(Arc::new(catalog))
}

fn internal(error: history::HistoryError) -> ApiError {
    ApiError::Internal(format!("reading history for a replay: {error}"))
}

/// `$placement/position/1` → (`$placement/position`, 1).
fn coordinate(path: &str) -> Option<(&str, usize)> {
    let (array, index) = path.rsplit_once('/')?;
    if !array.starts_with("$placement/") {
        return None;
    }
    Some((array, index.parse().ok()?))
}

impl ReplaySession {
    /// Starts a replay; checks the world is small enough to replay.
    pub(crate) async fn start(
        handle: Arc<WorldHandle>,
        store: Arc<dyn store::Store>,
        engine: Replay,
    ) -> Result<ReplaySession, ApiError> {
        let catalog = tokio::task::spawn_blocking(move || read_catalog(&handle, store.as_ref()))
            .await
            .map_err(|e| ApiError::Internal(format!("a replay read panicked: {e}")))??;
        Ok(ReplaySession {
            engine,
            catalog,
            catalog_read: Instant::now(),
            coordinates: HashMap::new(),
            caught_up_told: false,
        })
    }

    /// The tick to send now, if any: the snapshot first, then what the window
    /// the engine asks for recorded.
    pub(crate) async fn tick(
        &mut self,
        handle: &Arc<WorldHandle>,
        store: &Arc<dyn store::Store>,
        wall: i64,
    ) -> Result<Option<proto::Tick>, ApiError> {
        if self.engine.needs_snapshot() {
            let at = self.engine.start();
            let state = {
                let (handle, store) = (Arc::clone(handle), Arc::clone(store));
                tokio::task::spawn_blocking(move || snapshot(&handle, store.as_ref(), at))
                    .await
                    .map_err(|e| ApiError::Internal(format!("a replay read panicked: {e}")))??
            };
            self.coordinates.clear();
            let state = state
                .into_iter()
                .map(|(twin, model, fields)| RecordedTwin {
                    fields: self.combine(&twin, fields),
                    twin,
                    model,
                })
                .collect();
            let tick = self
                .engine
                .snapshot(state, wall)
                .map_err(|e| ApiError::bad_request("LimitExceeded", e.to_string()))?;
            return Ok(Some(tick));
        }
        let present = crate::worlds::now().0;
        let Some((after, until)) = self.engine.window(wall, present) else {
            return Ok(None);
        };
        if self.catalog_read.elapsed() >= CATALOG_REFRESH {
            let (handle, store) = (Arc::clone(handle), Arc::clone(store));
            self.catalog =
                tokio::task::spawn_blocking(move || read_catalog(&handle, store.as_ref()))
                    .await
                    .map_err(|e| ApiError::Internal(format!("a replay read panicked: {e}")))??;
            self.catalog_read = Instant::now();
        }
        let points = {
            let (handle, store, catalog) = (
                Arc::clone(handle),
                Arc::clone(store),
                Arc::clone(&self.catalog),
            );
            tokio::task::spawn_blocking(move || {
                window(&handle, store.as_ref(), &catalog, after, until)
            })
            .await
            .map_err(|e| ApiError::Internal(format!("a replay read panicked: {e}")))??
        };
        let mut changes = Vec::with_capacity(points.len());
        for (time, twin, field, value) in points {
            match coordinate(&field) {
                Some((array, index)) => {
                    let slot = self
                        .coordinates
                        .entry((twin.clone(), array.to_owned()))
                        .or_default();
                    if slot.len() <= index {
                        slot.resize(index + 1, Value::Null);
                    }
                    slot[index] = value.unwrap_or(Value::Null);
                    changes.push(Recorded {
                        time,
                        twin,
                        field: Arc::from(array),
                        value: Some(Value::Array(slot.clone())),
                    });
                }
                None => changes.push(Recorded {
                    time,
                    twin,
                    field,
                    value,
                }),
            }
        }
        let tick = self
            .engine
            .advance(changes, until, wall)
            .map_err(|e| ApiError::bad_request("LimitExceeded", e.to_string()))?;
        let caught_up = tick
            .as_ref()
            .and_then(|t| t.replay.as_ref())
            .is_some_and(|p| p.caught_up);
        if caught_up {
            self.caught_up_told = true;
            return Ok(tick);
        }
        if tick.is_none() && !self.caught_up_told {
            // Reaching the present with nothing new recorded is news too.
            let position = self.engine.position_tick(wall);
            if position.replay.as_ref().is_some_and(|p| p.caught_up) {
                self.caught_up_told = true;
                return Ok(Some(position));
            }
        }
        Ok(tick)
    }

    /// A twin's recorded fields with placement coordinates joined into arrays
    /// (and remembered for later coordinate changes).
    fn combine(&mut self, twin: &str, fields: Vec<(Arc<str>, Value)>) -> Vec<(Arc<str>, Value)> {
        let mut out = Vec::with_capacity(fields.len());
        let mut arrays: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for (path, value) in fields {
            match coordinate(&path) {
                Some((array, index)) => {
                    let slot = arrays.entry(array.to_owned()).or_default();
                    if slot.len() <= index {
                        slot.resize(index + 1, Value::Null);
                    }
                    slot[index] = value;
                }
                None => out.push((path, value)),
            }
        }
        for (array, values) in arrays {
            self.coordinates
                .insert((twin.to_owned(), array.clone()), values.clone());
            out.push((Arc::from(array.as_str()), Value::Array(values)));
        }
        out
    }
}

/// Every twin at `at`: id, current model (when it still exists), recorded fields.
#[allow(clippy::type_complexity, reason = "a private row shape")]
fn snapshot(
    handle: &WorldHandle,
    store: &dyn store::Store,
    at: i64,
) -> Result<Vec<(String, String, Vec<(Arc<str>, Value)>)>, ApiError> {
    let mut twins = Vec::new();
    let mut after: Option<TwinId> = None;
    loop {
        let page = handle
            .history()
            .world_at_page(store, Timestamp(at), after.as_ref(), 1_000)
            .map_err(internal)?;
        for state in page.twins {
            if twins.len() >= REPLAY_TWINS_MAX {
                return Err(ApiError::Conflict {
                    code: "LimitExceeded",
                    message: format!(
                        "more than {REPLAY_TWINS_MAX} twins existed at that instant; replay covers smaller worlds"
                    ),
                });
            }
            let model = handle
                .read()
                .twin_json(state.twin.as_str())
                .and_then(|t| {
                    t.pointer("/$metadata/$model")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .unwrap_or_default();
            let fields = state
                .fields
                .iter()
                .map(|(path, point)| (Arc::clone(path), json_value(&point.value)))
                .collect();
            twins.push((state.twin.to_string(), model, fields));
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(twins),
        }
    }
}

/// Every recorded point in `(after, until]`: (time, twin, field, value; `None`
/// when the field was removed).
#[allow(clippy::type_complexity, reason = "a private row shape")]
fn window(
    handle: &WorldHandle,
    store: &dyn store::Store,
    catalog: &[(TwinId, Vec<Arc<str>>)],
    after: i64,
    until: i64,
) -> Result<Vec<(i64, String, Arc<str>, Option<Value>)>, ApiError> {
    let history = handle.history();
    let mut points = Vec::new();
    let (from, to) = (
        Timestamp(after.saturating_add(1)),
        Timestamp(until.saturating_add(1)),
    );
    for (twin, fields) in catalog {
        for field in fields {
            let mut page = history
                .range(store, twin.as_str(), field, from, to, POINTS_PER_SERIES_MAX)
                .map_err(internal)?;
            // A series with more points in the window than one tick reads keeps
            // its newest ones.
            while let Some(next) = page.next {
                page = history
                    .range(store, twin.as_str(), field, next, to, POINTS_PER_SERIES_MAX)
                    .map_err(internal)?;
            }
            for point in page.points {
                let value = match point.value {
                    history::Value::Null => None,
                    ref other => Some(json_value(other)),
                };
                points.push((point.time.0, twin.to_string(), Arc::clone(field), value));
            }
        }
    }
    Ok(points)
}
