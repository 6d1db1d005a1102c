//! The registry of worlds and the durable write path. Each world is a
//! `WorldHandle`: its `World` behind a read-write lock. A write takes the lock,
//! lets `World::apply` validate and change the world (reading the clock once,
//! here), turns the `Applied::records` into store writes, submits them to the
//! shared `GroupCommit` *while still holding the lock* (so commit order is `Seq`
//! order), releases the lock and waits for durability before answering.
//!
//! Store layout per world (keys are ids; values are `world::Record::encode`:
//! twins in the world's binary record form, models and relationships JSON text;
//! deletes remove the key):
//! `w/{world}/models` (key = DTMI), `w/{world}/twins` (key = twin id),
//! `w/{world}/relationships` (key = `source \0 relId`), and `w/{world}/meta`
//! with key `seq` = the last durable `Seq` as decimal text. A world exists in the
//! store exactly when its `meta` table does.
//!
//! Each world's `History` (`h/{world}/…`, the `history` crate) records every
//! property change, placement change, lifecycle and telemetry point: its writes
//! ride in the same batch as the change they record, appended under the world's
//! write lock, so history is exactly as durable as the world and in `Seq` order.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use history::{EXISTS_FIELD, History, HistoryConfig, Sample};
use parking_lot::RwLock;
use serde_json::Value;
use store::{Batch, GroupCommit, Store, StoreError, TableName};
use world::{Applied, Command, Record, Seq, StoredRecord, Timestamp, World, WorldError, WorldId};

use crate::ApiError;

/// Most worlds one server holds; each costs a lock, tables and memory.
pub const WORLDS_MAX: usize = 1_000;

/// The key in `w/{world}/meta` holding the last durable `Seq`.
const SEQ_KEY: &[u8] = b"seq";

/// The store tables of one world.
#[derive(Clone, Debug)]
struct WorldTables {
    models: TableName,
    twins: TableName,
    relationships: TableName,
    meta: TableName,
    /// Annotations of the live sessions (`live::annotations`), dropped with the world.
    annotations: TableName,
}

impl WorldTables {
    fn new(id: &WorldId) -> Result<WorldTables, StoreError> {
        Ok(WorldTables {
            models: TableName::new(&format!("w/{id}/models"))?,
            twins: TableName::new(&format!("w/{id}/twins"))?,
            relationships: TableName::new(&format!("w/{id}/relationships"))?,
            meta: TableName::new(&format!("w/{id}/meta"))?,
            annotations: TableName::new(&format!("w/{id}/annotations"))?,
        })
    }

    fn all(&self) -> [TableName; 5] {
        [
            self.models.clone(),
            self.twins.clone(),
            self.relationships.clone(),
            self.meta.clone(),
            self.annotations.clone(),
        ]
    }
}

/// One world and what it takes to make its changes durable.
pub struct WorldHandle {
    id: WorldId,
    world: RwLock<World>,
    tables: WorldTables,
    /// Set once the world is deleted, so writes racing the deletion are refused.
    deleted: AtomicBool,
    /// Set when a change was applied in memory but could not be made durable; the
    /// world refuses writes until it has been reloaded from the store.
    broken: AtomicBool,
    /// Hands durable changes to live subscribers (`crate::live`).
    pub(crate) live: crate::live::Feed,
    /// The world's recorded past. Appended to only under the world's write lock
    /// (so in `Seq` order, in the same batch as the change); read without it.
    history: RwLock<History>,
    /// Points recorded since start (for `/metrics`).
    history_points: std::sync::atomic::AtomicU64,
}

impl WorldHandle {
    /// The world's name.
    pub fn id(&self) -> &WorldId {
        &self.id
    }

    /// A read view of the world. Reads may see a write up to one group commit
    /// before it is acknowledged; never one that was refused.
    pub fn read(&self) -> parking_lot::RwLockReadGuard<'_, World> {
        self.world.read()
    }

    /// A read view of the world's history (its reads also need the store).
    pub fn history(&self) -> parking_lot::RwLockReadGuard<'_, History> {
        self.history.read()
    }

    /// History points recorded since the server started.
    pub fn history_points(&self) -> u64 {
        self.history_points.load(Ordering::Relaxed)
    }

    /// Appends `samples` to the history and adds the writes to `batch`. A
    /// sample history cannot take (a value over `history::VALUE_BYTES_MAX`)
    /// leaves the change unrecorded rather than refusing it: it is logged.
    fn record(
        &self,
        store: &dyn Store,
        samples: Vec<(TwinIdRef, String, Timestamp, history::Value)>,
        batch: &mut Batch,
    ) {
        if samples.is_empty() {
            return;
        }
        let mut history = self.history.write();
        let appended = history.append(
            store,
            samples.iter().map(|(twin, field, time, value)| Sample {
                twin,
                field,
                time: *time,
                value: value.clone(),
            }),
        );
        match appended {
            Ok(writes) => {
                batch.writes.extend(writes);
                self.history_points
                    .fetch_add(samples.len() as u64, Ordering::Relaxed);
            }
            Err(error) => {
                tracing::warn!(world = %self.id, %error, "a change was applied but not recorded in history");
            }
        }
    }

    /// Why a write to a deleted or reloading world is refused.
    fn unwritable(&self) -> ApiError {
        if self.deleted.load(Ordering::SeqCst) {
            world_not_found(self.id.as_str())
        } else {
            ApiError::Unavailable(format!(
                "world '{}' is reloading after a failed write; try again shortly",
                self.id
            ))
        }
    }

    /// The store writes for an applied command: its records and the new `Seq`.
    fn batch_for(&self, applied: &Applied) -> Result<Batch, ApiError> {
        let mut batch = Batch::new();
        for record in &applied.records {
            let (table, key) = match record {
                Record::Model { id, .. } | Record::ModelDeleted(id) => {
                    (&self.tables.models, id.as_str().as_bytes().to_vec())
                }
                Record::Twin { id, .. } | Record::TwinDeleted(id) => {
                    (&self.tables.twins, id.as_str().as_bytes().to_vec())
                }
                Record::Relationship { source, id, .. }
                | Record::RelationshipDeleted { source, id } => (
                    &self.tables.relationships,
                    relationship_key(source.as_str(), id),
                ),
            };
            match record.encode() {
                Some(bytes) => batch.put(table, key, bytes),
                None => batch.delete(table, key),
            }
        }
        batch.put(&self.tables.meta, SEQ_KEY, applied.seq.0.to_string());
        Ok(batch)
    }
}

/// `source \0 relId`: relationship ids are unique per source twin, and ids never
/// contain control characters, so the separator cannot be forged.
fn relationship_key(source: &str, id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(source.len() + 1 + id.len());
    key.extend_from_slice(source.as_bytes());
    key.push(0);
    key.extend_from_slice(id.as_bytes());
    key
}

/// Now, as the world counts time.
pub fn now() -> Timestamp {
    let ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    Timestamp(i64::try_from(ns).unwrap_or(i64::MAX))
}

/// Every world of the server, the store they live in and the shared committer.
pub struct Worlds {
    store: Arc<dyn Store>,
    commit: Arc<GroupCommit>,
    map: RwLock<BTreeMap<WorldId, Arc<WorldHandle>>>,
    /// Serialises world creation and deletion (rare, and they touch the store
    /// outside the group commit).
    admin: tokio::sync::Mutex<()>,
    /// What a write still needs after the call that made it returned (the
    /// durability futures of `ingest` outlive the borrow of `Worlds`).
    core: Arc<Core>,
    /// How every world's history is kept (retention, memory budgets).
    history_config: HistoryConfig,
}

/// The store, the committer and the halt flag, shared with pending writes.
struct Core {
    store: Arc<dyn Store>,
    commit: Arc<GroupCommit>,
    /// Set when the store refused a commit: writes are no longer accepted.
    halted: AtomicBool,
    /// History settings, for reloading a world.
    history_config: HistoryConfig,
}

/// What `Worlds::ingest` did with a batch of mapped updates.
pub struct Ingested {
    /// Refused updates by index in `updates` (in index order), with why (unknown
    /// world/twin, bad value…).
    pub refused: Vec<(usize, ApiError)>,
    /// Resolves once every accepted update is durable; None when nothing was accepted.
    pub durable: Option<Durable>,
}

/// Resolves once a batch's accepted updates are durable.
pub type Durable = Pin<Box<dyn Future<Output = Result<(), ApiError>> + Send>>;

impl std::fmt::Debug for Ingested {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingested")
            .field("refused", &self.refused)
            .field("durable", &self.durable.is_some())
            .finish()
    }
}

impl Worlds {
    /// Restores every world found in the store, creating `default` if absent,
    /// with the default history settings.
    pub fn open(store: Arc<dyn Store>, commit: Arc<GroupCommit>) -> Result<Worlds, ApiError> {
        Worlds::open_with(store, commit, HistoryConfig::default())
    }

    /// `open` with the history settings of the server's configuration.
    pub fn open_with(
        store: Arc<dyn Store>,
        commit: Arc<GroupCommit>,
        history_config: HistoryConfig,
    ) -> Result<Worlds, ApiError> {
        let mut map = BTreeMap::new();
        for table in store.tables("w/")? {
            let Some(name) = table
                .as_str()
                .strip_prefix("w/")
                .and_then(|t| t.strip_suffix("/meta"))
            else {
                continue;
            };
            let id = WorldId::parse(name)?;
            let handle = load_world(store.as_ref(), id.clone(), &history_config)?;
            map.insert(id, Arc::new(handle));
        }
        let worlds = Worlds {
            core: Arc::new(Core {
                store: Arc::clone(&store),
                commit: Arc::clone(&commit),
                halted: AtomicBool::new(false),
                history_config: history_config.clone(),
            }),
            store,
            commit,
            map: RwLock::new(map),
            admin: tokio::sync::Mutex::new(()),
            history_config,
        };
        let default = WorldId::default_world();
        if worlds.get(default.as_str()).is_none() {
            let handle = new_world(default.clone(), &worlds.history_config)?;
            let mut batch = Batch::new();
            batch.put(&handle.tables.meta, SEQ_KEY, "0");
            worlds.store.commit(&[batch])?;
            worlds.map.write().insert(default, Arc::new(handle));
        }
        Ok(worlds)
    }

    /// The world with this name.
    pub fn get(&self, name: &str) -> Option<Arc<WorldHandle>> {
        let id = WorldId::parse(name).ok()?;
        self.map.read().get(&id).cloned()
    }

    /// Every world, by name.
    pub fn list(&self) -> Vec<Arc<WorldHandle>> {
        self.map.read().values().cloned().collect()
    }

    /// The store every world lives in (history reads go to it).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The shared group committer (for stats and shutdown).
    pub fn commit(&self) -> &Arc<GroupCommit> {
        &self.commit
    }

    /// False once a commit failed: the server then refuses writes until restarted.
    pub fn healthy(&self) -> bool {
        !self.core.halted.load(Ordering::Relaxed)
    }

    /// Creates an empty world, durably.
    pub async fn create(&self, id: WorldId) -> Result<Arc<WorldHandle>, ApiError> {
        let _admin = self.admin.lock().await;
        if self.map.read().contains_key(&id) {
            return Err(ApiError::Conflict {
                code: "WorldAlreadyExists",
                message: format!("world '{id}' already exists"),
            });
        }
        if self.map.read().len() >= WORLDS_MAX {
            return Err(ApiError::Conflict {
                code: "TooManyWorlds",
                message: format!("the server holds {WORLDS_MAX} worlds, the most allowed"),
            });
        }
        let handle = Arc::new(new_world(id.clone(), &self.history_config)?);
        let mut batch = Batch::new();
        batch.put(&handle.tables.meta, SEQ_KEY, "0");
        self.commit.submit(batch).await?;
        self.map.write().insert(id, Arc::clone(&handle));
        Ok(handle)
    }

    /// Deletes a world and all its data, durably. `default` cannot be deleted.
    pub async fn delete(&self, id: &WorldId) -> Result<(), ApiError> {
        let _admin = self.admin.lock().await;
        if id.as_str() == WorldId::DEFAULT {
            return Err(ApiError::Conflict {
                code: "OperationNotAllowed",
                message: "the world 'default' serves the un-prefixed routes and cannot be deleted"
                    .into(),
            });
        }
        let handle = self
            .map
            .write()
            .remove(id)
            .ok_or_else(|| world_not_found(id.as_str()))?;
        // Under the write lock no write is between apply and submit; after it,
        // every later write sees `deleted` and is refused.
        handle.deleted.store(true, Ordering::SeqCst);
        drop(handle.world.write());
        // Commit order is submit order: once this empty batch is durable, every
        // batch of the world is too, so none can recreate a table after the drop.
        self.commit.submit(Batch::new()).await?;
        let store = Arc::clone(&self.store);
        let tables = handle.tables.all();
        let history = history::Tables::of(id).all();
        // The world's AAS content (`crates/server/src/aas`) goes with it.
        let aas_prefix = format!("a/{id}/");
        tokio::task::spawn_blocking(move || {
            let mut tables = tables.to_vec();
            tables.extend(history);
            tables.extend(store.tables(&aas_prefix)?);
            store.drop_tables(&tables)
        })
        .await
        .map_err(|e| ApiError::Internal(format!("dropping world tables: {e}")))??;
        Ok(())
    }

    /// Applies a command to a world and returns once the change is durable.
    pub async fn apply(
        &self,
        handle: &Arc<WorldHandle>,
        command: Command,
    ) -> Result<Applied, ApiError> {
        if !self.healthy() {
            return Err(ApiError::Unavailable(
                "the store failed to commit earlier; the server takes no writes until restarted"
                    .into(),
            ));
        }
        let outcome = {
            let mut world = handle.world.write();
            if handle.deleted.load(Ordering::SeqCst) {
                return Err(world_not_found(handle.id.as_str()));
            }
            if handle.broken.load(Ordering::SeqCst) {
                return Err(ApiError::Unavailable(format!(
                    "world '{}' is reloading after a failed write; try again shortly",
                    handle.id
                )));
            }
            let at = now();
            let applied = world.apply(command, at)?;
            match handle.batch_for(&applied) {
                Ok(mut batch) => {
                    let samples = change_samples(&world, &applied.changes, at);
                    handle.record(self.store.as_ref(), samples, &mut batch);
                    // Captured under the lock, so in `Seq` order; sent only once durable.
                    handle.live.capture(&applied);
                    Ok((applied, self.submit(batch)))
                }
                Err(error) => {
                    handle.broken.store(true, Ordering::SeqCst);
                    Err(error)
                }
            }
        };
        let (applied, ticket) = match outcome {
            Ok(submitted) => submitted,
            Err(error) => {
                self.core.recover(handle).await;
                return Err(error);
            }
        };
        if let Err(error) = ticket.await {
            self.core.on_commit_failure(handle, &error).await;
            return Err(error.into());
        }
        handle.live.durable(applied.seq);
        Ok(applied)
    }

    /// Applies mapped updates (any worlds, any twins) without waiting for
    /// durability: per world, one lock, one `World::set_values` (each update
    /// checked and refused on its own), one live capture and one store batch
    /// queued in `Seq` order. Never waits for the commit, so it may be called
    /// from an async task; it blocks only when the commit queue is full (and
    /// then off the runtime's worker, see `submit`).
    pub fn ingest(&self, updates: Vec<ingest::TwinUpdate>) -> Ingested {
        let mut refused = Vec::new();
        if !self.healthy() {
            refused.extend((0..updates.len()).map(|i| (i, halted_error())));
            return Ingested {
                refused,
                durable: None,
            };
        }
        // Updates per world, worlds in order of first appearance.
        let mut groups: Vec<(WorldId, Vec<(usize, world::ValueUpdate)>)> = Vec::new();
        for (index, update) in updates.into_iter().enumerate() {
            let value = to_value_update(update.twin, update.values, update.source_time);
            match groups.iter_mut().find(|(w, _)| *w == update.world) {
                Some((_, members)) => members.push((index, value)),
                None => groups.push((update.world, vec![(index, value)])),
            }
        }
        // Per world: its handle, the `Seq` the batch made (none for history only)
        // and the commit ticket.
        let mut pending: Vec<(Arc<WorldHandle>, Option<Seq>, store::Ticket)> = Vec::new();
        for (world_id, members) in groups {
            let Some(handle) = self.map.read().get(&world_id).cloned() else {
                refused.extend(
                    members
                        .iter()
                        .map(|(i, _)| (*i, world_not_found(world_id.as_str()))),
                );
                continue;
            };
            let (indices, values): (Vec<usize>, Vec<world::ValueUpdate>) =
                members.into_iter().unzip();
            let mut world = handle.world.write();
            if handle.deleted.load(Ordering::SeqCst) || handle.broken.load(Ordering::SeqCst) {
                refused.extend(indices.iter().map(|&i| (i, handle.unwritable())));
                continue;
            }
            let out = world.set_values(values, now());
            refused.extend(
                out.refused
                    .into_iter()
                    .map(|(i, error)| (indices[i], ApiError::World(error))),
            );
            let samples = distinct_times(
                out.accepted
                    .into_iter()
                    .map(|a| (a.twin, a.field, a.time, history_value(&a.value)))
                    .collect(),
            );
            let Some(applied) = out.applied else {
                // Telemetry, or values equal to what the twins hold: no change of
                // state, but every point is recorded.
                if !samples.is_empty() {
                    let mut batch = Batch::new();
                    handle.record(self.store.as_ref(), samples, &mut batch);
                    if !batch.is_empty() {
                        pending.push((Arc::clone(&handle), None, self.submit(batch)));
                    }
                }
                continue;
            };
            match handle.batch_for(&applied) {
                Ok(mut batch) => {
                    handle.record(self.store.as_ref(), samples, &mut batch);
                    handle.live.capture(&applied);
                    pending.push((Arc::clone(&handle), Some(applied.seq), self.submit(batch)));
                }
                Err(error) => {
                    // Memory moved ahead of the store: reload before the next write.
                    handle.broken.store(true, Ordering::SeqCst);
                    drop(world);
                    tracing::error!(world = %handle.id, %error, "an ingested change has no store batch");
                    let core = Arc::clone(&self.core);
                    let handle = Arc::clone(&handle);
                    spawn_detached(async move { core.recover(&handle).await });
                    refused.extend(indices.iter().map(|&i| (i, halted_error())));
                }
            }
        }
        let durable: Option<Durable> = if pending.is_empty() {
            None
        } else {
            let core = Arc::clone(&self.core);
            Some(Box::pin(async move {
                let mut failure = None;
                for (handle, seq, ticket) in pending {
                    match ticket.await {
                        Ok(()) => {
                            if let Some(seq) = seq {
                                handle.live.durable(seq);
                            }
                        }
                        Err(error) => {
                            core.on_commit_failure(&handle, &error).await;
                            failure.get_or_insert(ApiError::from(error));
                        }
                    }
                }
                failure.map_or(Ok(()), Err)
            }))
        };
        refused.sort_by_key(|(index, _)| *index);
        Ingested { refused, durable }
    }

    /// Queues a batch without blocking the async runtime when the queue is full.
    fn submit(&self, batch: Batch) -> store::Ticket {
        self.core.submit(batch)
    }

    /// Drops every world's history chunks older than the configured retention,
    /// durably; the number of chunks dropped. Nothing when no retention is set.
    pub async fn retain(&self) -> Result<usize, ApiError> {
        if self.history_config.retention_ns.is_none() {
            return Ok(0);
        }
        let mut dropped = 0;
        for handle in self.list() {
            let store = Arc::clone(&self.store);
            let scanned = Arc::clone(&handle);
            // Only sealed chunks wholly before the cutoff go; appends write newer
            // data, so this needs no world lock.
            let writes = tokio::task::spawn_blocking(move || {
                scanned.history().retain(store.as_ref(), now())
            })
            .await
            .map_err(|e| ApiError::Internal(format!("history retention panicked: {e}")))?
            .map_err(|e| {
                ApiError::Internal(format!("history retention of '{}': {e}", handle.id))
            })?;
            if writes.is_empty() {
                continue;
            }
            dropped += writes.len() / 2;
            let mut batch = Batch::new();
            batch.writes = writes;
            self.submit(batch).await?;
        }
        Ok(dropped)
    }
}

impl Core {
    /// Queues a batch without blocking the async runtime when the queue is full.
    fn submit(&self, batch: Batch) -> store::Ticket {
        match self.commit.try_submit(batch) {
            Ok(ticket) => ticket,
            Err(batch) => {
                let multi_thread = tokio::runtime::Handle::try_current().is_ok_and(|h| {
                    h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
                });
                if multi_thread {
                    tokio::task::block_in_place(|| self.commit.submit(batch))
                } else {
                    self.commit.submit(batch)
                }
            }
        }
    }

    /// A change is in memory but not durable. A batch refused on its own (too
    /// large) leaves the store healthy: reload the world so memory matches the
    /// store again. A failed commit halts the committer: refuse all writes.
    async fn on_commit_failure(&self, handle: &Arc<WorldHandle>, error: &StoreError) {
        tracing::error!(world = %handle.id, %error, "a change could not be made durable");
        match error {
            StoreError::BatchTooLarge { .. }
            | StoreError::KeyTooLarge { .. }
            | StoreError::ValueTooLarge { .. }
            | StoreError::InvalidTableName { .. } => {
                handle.broken.store(true, Ordering::SeqCst);
                self.recover(handle).await;
            }
            _ => self.halted.store(true, Ordering::SeqCst),
        }
    }

    /// Reloads a broken world from the store once everything queued before is durable.
    async fn recover(&self, handle: &Arc<WorldHandle>) {
        if let Err(error) = self.commit.submit(Batch::new()).await {
            tracing::error!(world = %handle.id, %error, "cannot flush before reloading the world");
            self.halted.store(true, Ordering::SeqCst);
            return;
        }
        let store = Arc::clone(&self.store);
        let id = handle.id.clone();
        let config = self.history_config.clone();
        let loaded =
            tokio::task::spawn_blocking(move || load_world(store.as_ref(), id, &config)).await;
        match loaded {
            Ok(Ok(fresh)) => {
                let mut world = handle.world.write();
                *world = fresh.world.into_inner();
                // History may hold appends whose batch failed: it is reread too.
                *handle.history.write() = fresh.history.into_inner();
                handle.live.rewind(world.seq());
                handle.broken.store(false, Ordering::SeqCst);
                tracing::warn!(world = %handle.id, seq = %world.seq(), "world reloaded from the store");
            }
            Ok(Err(error)) => {
                tracing::error!(world = %handle.id, %error, "cannot reload the world");
                self.halted.store(true, Ordering::SeqCst);
            }
            Err(error) => {
                tracing::error!(world = %handle.id, %error, "reloading the world panicked");
                self.halted.store(true, Ordering::SeqCst);
            }
        }
    }
}

impl Worlds {
    /// Waits until every change submitted so far is durable.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.commit.submit(Batch::new()).await
    }
}

fn halted_error() -> ApiError {
    ApiError::Unavailable(
        "the store failed to commit earlier; the server takes no writes until restarted".into(),
    )
}

/// Runs `future` on the current Tokio runtime, if there is one (recovery of a
/// broken world; without a runtime the world stays refusing until restarted).
fn spawn_detached(future: impl Future<Output = ()> + Send + 'static) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(future);
    }
}

/// A mapped update as the world's batched value path takes it.
fn to_value_update(
    twin: world::TwinId,
    values: Vec<ingest::MappedValue>,
    source_time: Timestamp,
) -> world::ValueUpdate {
    world::ValueUpdate {
        twin,
        values: values
            .into_iter()
            .map(|v| world::FieldValue {
                name: v.name,
                value: v.value,
                kind: match v.kind {
                    ingest::ValueKind::Auto => world::ValueKind::Auto,
                    ingest::ValueKind::Property => world::ValueKind::Property,
                    ingest::ValueKind::Telemetry => world::ValueKind::Telemetry,
                },
            })
            .collect(),
        source_time,
    }
}

/// A twin id owned by a sample list.
type TwinIdRef = world::TwinId;

/// Messages stamped with one arrival time (a broker read, a bridge batch) are
/// still distinct points: a later sample of the same series at the same instant
/// moves 1 ns past the one before it, so history keeps every acknowledged value
/// in arrival order instead of only the last.
fn distinct_times(
    mut samples: Vec<(TwinIdRef, String, Timestamp, history::Value)>,
) -> Vec<(TwinIdRef, String, Timestamp, history::Value)> {
    if samples.len() < 2 {
        return samples;
    }
    // Per series: the last original time and the time it was given. Keys
    // borrow the samples; the new times are written after.
    let mut times = Vec::with_capacity(samples.len());
    {
        let mut last: foldhash::HashMap<(&str, &str), (i64, i64)> = foldhash::HashMap::default();
        for (twin, field, time, _) in &samples {
            let time = time.0;
            let given = match last.entry((twin.as_str(), field.as_str())) {
                std::collections::hash_map::Entry::Occupied(mut seen) => {
                    let (original, given) = seen.get_mut();
                    if *original == time {
                        *given = given.saturating_add(1);
                    } else {
                        *original = time;
                        *given = time;
                    }
                    *given
                }
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert((time, time));
                    time
                }
            };
            times.push(given);
        }
    }
    for (sample, given) in samples.iter_mut().zip(times) {
        sample.2 = Timestamp(given);
    }
    samples
}

/// A JSON value as history keeps it: integers stay integers, objects and arrays
/// are JSON text.
pub(crate) fn history_value(value: &Value) -> history::Value {
    match value {
        Value::Null => history::Value::Null,
        Value::Bool(b) => history::Value::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => history::Value::I64(i),
            None => history::Value::F64(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(text) => history::Value::str(text),
        Value::Array(_) | Value::Object(_) => history::Value::Json(value.to_string().into()),
    }
}

/// The history samples of an applied command: every property, component
/// property and placement coordinate of created twins (and `$exists` true),
/// the changed ones of updated twins (`Null` for removed ones), and `$exists`
/// false for deleted twins. Read from the world right after the change.
fn change_samples(
    world: &World,
    changes: &[world::Change],
    at: Timestamp,
) -> Vec<(TwinIdRef, String, Timestamp, history::Value)> {
    let mut samples = Vec::new();
    for change in changes {
        match change {
            world::Change::TwinCreated(id) => {
                samples.push((
                    id.clone(),
                    EXISTS_FIELD.to_owned(),
                    at,
                    history::Value::Bool(true),
                ));
                if let Some(twin) = world.twin_json(id.as_str()) {
                    flatten_twin(&twin, None, &mut |field, value| {
                        samples.push((id.clone(), field, at, value));
                    });
                }
            }
            world::Change::TwinUpdated { id, fields } => {
                if let Some(twin) = world.twin_json(id.as_str()) {
                    flatten_twin(&twin, Some(fields), &mut |field, value| {
                        samples.push((id.clone(), field, at, value));
                    });
                }
            }
            world::Change::TwinDeleted(id) => {
                samples.push((
                    id.clone(),
                    EXISTS_FIELD.to_owned(),
                    at,
                    history::Value::Bool(false),
                ));
            }
            _ => {}
        }
    }
    samples
}

/// Calls `emit` with (field path, value) for the twin's top-level fields, or
/// only those named in `only` (a named field the twin no longer has is `Null`).
/// Components become `component/property`, the placement one series per
/// coordinate (`$placement/position/0`, …) plus `parent` and `asset`.
fn flatten_twin(
    twin: &Value,
    only: Option<&[String]>,
    emit: &mut dyn FnMut(String, history::Value),
) {
    let Some(object) = twin.as_object() else {
        return;
    };
    let names: Vec<&str> = match only {
        Some(fields) => fields.iter().map(String::as_str).collect(),
        None => object.keys().map(String::as_str).collect(),
    };
    for name in names {
        if matches!(name, "$dtId" | "$etag" | "$metadata") {
            continue;
        }
        match object.get(name) {
            None => emit(name.to_owned(), history::Value::Null),
            Some(Value::Object(placement)) if name == "$placement" => {
                for (key, value) in placement {
                    match value {
                        Value::Array(items) => {
                            for (i, item) in items.iter().enumerate() {
                                emit(format!("$placement/{key}/{i}"), history_value(item));
                            }
                        }
                        other => emit(format!("$placement/{key}"), history_value(other)),
                    }
                }
            }
            // A component carries its own `$metadata`; an object property does not.
            Some(Value::Object(component)) if component.contains_key("$metadata") => {
                for (key, value) in component {
                    if key != "$metadata" {
                        emit(format!("{name}/{key}"), history_value(value));
                    }
                }
            }
            Some(value) => emit(name.to_owned(), history_value(value)),
        }
    }
}

fn world_not_found(name: &str) -> ApiError {
    ApiError::not_found("WorldNotFound", format!("there is no world named '{name}'"))
}

fn new_world(id: WorldId, config: &HistoryConfig) -> Result<WorldHandle, ApiError> {
    let history = History::new(id.clone(), config.clone())
        .map_err(|e| ApiError::Internal(format!("world '{id}': history: {e}")))?;
    Ok(WorldHandle {
        tables: WorldTables::new(&id)?,
        world: RwLock::new(World::new(id.clone())),
        id,
        deleted: AtomicBool::new(false),
        broken: AtomicBool::new(false),
        live: crate::live::Feed::new(Seq(0)),
        history: RwLock::new(history),
        history_points: std::sync::atomic::AtomicU64::new(0),
    })
}

/// Reads one world's tables and rebuilds it with `World::restore`.
fn load_world(
    store: &dyn Store,
    id: WorldId,
    config: &HistoryConfig,
) -> Result<WorldHandle, ApiError> {
    let tables = WorldTables::new(&id)?;
    let seq_text = store
        .get(&tables.meta, SEQ_KEY)?
        .unwrap_or_else(|| b"0".to_vec());
    let seq = std::str::from_utf8(&seq_text)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| restore_error("meta", "seq", "not a decimal number"))?;
    let read_all = |table: &TableName, what: &'static str| -> Result<Vec<Value>, ApiError> {
        let mut values = Vec::new();
        let mut failure = None;
        store.scan(
            table,
            &mut |key, value| match serde_json::from_slice(value) {
                Ok(v) => {
                    values.push(v);
                    true
                }
                Err(error) => {
                    failure = Some(restore_error(
                        what,
                        &String::from_utf8_lossy(key),
                        &error.to_string(),
                    ));
                    false
                }
            },
        )?;
        match failure {
            Some(error) => Err(error),
            None => Ok(values),
        }
    };
    let models = read_all(&tables.models, "model")?;
    // Twins and relationships are read while the world is being rebuilt rather
    // than all at once, and decoded by the world straight from their bytes.
    let world = stream_table(store, &tables.twins, |twins| {
        stream_table(store, &tables.relationships, |relationships| {
            World::restore_encoded(id.clone(), Seq(seq), models, twins, relationships)
        })
    })???;
    let history = History::open(store, id.clone(), config.clone())
        .map_err(|e| restore_error("history", id.as_str(), &e.to_string()))?;
    Ok(WorldHandle {
        id,
        live: crate::live::Feed::new(world.seq()),
        world: RwLock::new(world),
        tables,
        deleted: AtomicBool::new(false),
        broken: AtomicBool::new(false),
        history: RwLock::new(history),
        history_points: std::sync::atomic::AtomicU64::new(0),
    })
}

/// Records read ahead of the rebuild: enough to keep the reader busy, few
/// enough that memory stays flat however large the table. They travel in chunks
/// of `RESTORE_CHUNK`, since a channel hand-off per record cost more than reading.
const RESTORE_READ_AHEAD: usize = 4_096;
const RESTORE_CHUNK: usize = 512;

/// Scans `table` on a reader thread and hands its records (key and stored
/// bytes) to `consume` as an iterator, at most `RESTORE_READ_AHEAD` ahead. A
/// failed scan is an error even when `consume` succeeded, since it then saw
/// only part of the table.
fn stream_table<R>(
    store: &dyn Store,
    table: &TableName,
    consume: impl FnOnce(&mut dyn Iterator<Item = StoredRecord>) -> R,
) -> Result<R, ApiError> {
    let (sender, receiver) =
        std::sync::mpsc::sync_channel::<Vec<StoredRecord>>(RESTORE_READ_AHEAD / RESTORE_CHUNK);
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || -> Result<(), ApiError> {
            let mut chunk = Vec::with_capacity(RESTORE_CHUNK);
            let mut open = true;
            store.scan(table, &mut |key, value| {
                chunk.push(StoredRecord {
                    key: key.to_vec(),
                    value: value.to_vec(),
                });
                if chunk.len() == RESTORE_CHUNK {
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(RESTORE_CHUNK));
                    // A closed channel means the consumer stopped early: stop too.
                    open = sender.send(full).is_ok();
                }
                open
            })?;
            if open && !chunk.is_empty() {
                let _ = sender.send(chunk);
            }
            Ok(())
        });
        let result = {
            // Dropped at the end of this block, which unblocks a waiting reader.
            let mut records = receiver.into_iter().flatten();
            consume(&mut records)
        };
        let read = reader
            .join()
            .map_err(|_| ApiError::Internal(format!("the reader of {table} panicked")))?;
        read.map(|()| result)
    })
}

fn restore_error(what: &'static str, id: &str, reason: &str) -> ApiError {
    ApiError::World(WorldError::Restore {
        what,
        id: id.into(),
        reason: reason.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(store: &dyn Store, table: &str, key: &[u8], value: &[u8]) {
        let mut batch = Batch::new();
        batch.put(&TableName::new(table).unwrap(), key, value);
        store.commit(&[batch]).unwrap();
    }

    fn update(world: &str, twin: &str, name: &str, value: Value) -> ingest::TwinUpdate {
        ingest::TwinUpdate {
            rule: "test".into(),
            world: WorldId::parse(world).unwrap(),
            twin: world::TwinId::parse(twin).unwrap(),
            values: vec![ingest::MappedValue {
                name: name.into(),
                value,
                kind: ingest::ValueKind::Auto,
            }],
            source_time: Timestamp(1_700_000_000_000_000_000),
        }
    }

    #[tokio::test]
    async fn retention_drops_old_chunks_and_keeps_recent_points() {
        let store: Arc<dyn Store> = Arc::new(store::RedbStore::open_in_memory().unwrap());
        let commit = Arc::new(GroupCommit::new(
            Arc::clone(&store),
            store::CommitLimits::default(),
        ));
        let config = HistoryConfig {
            chunk_points_max: 4,
            head_points_max: 64,
            retention_ns: Some(3_600 * 1_000_000_000),
            ..HistoryConfig::default()
        };
        let worlds = Worlds::open_with(Arc::clone(&store), commit, config).unwrap();
        let handle = worlds.get("default").unwrap();
        let model = serde_json::json!({
            "@id": "dtmi:test:Pump;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
            "contents": [{ "@type": "Telemetry", "name": "pressure", "schema": "double" }]
        });
        worlds
            .apply(&handle, Command::AddModels(vec![model]))
            .await
            .unwrap();
        let body = serde_json::json!({"$metadata": {"$model": "dtmi:test:Pump;1"}});
        let put = Command::PutTwin {
            id: "p1".into(),
            body,
            condition: world::Condition::None,
        };
        worlds.apply(&handle, put).await.unwrap();
        // Twelve points two days ago (three sealed chunks), four from now on.
        let old = now().0 - 2 * 86_400 * 1_000_000_000;
        for i in 0..16i64 {
            let mut point = update("default", "p1", "pressure", serde_json::json!(i));
            point.source_time = Timestamp(if i < 12 { old + i } else { now().0 + i });
            let ingested = worlds.ingest(vec![point]);
            ingested.durable.expect("recorded").await.unwrap();
        }
        let read = |store: &Arc<dyn Store>| {
            handle
                .history()
                .range(
                    store.as_ref(),
                    "p1",
                    "pressure",
                    Timestamp(0),
                    Timestamp(i64::MAX),
                    100,
                )
                .unwrap()
                .points
                .len()
        };
        assert_eq!(read(&store), 16);
        let dropped = worlds.retain().await.unwrap();
        assert_eq!(dropped, 3, "the three old chunks");
        assert_eq!(read(&store), 4, "the recent points stay");
        assert_eq!(worlds.retain().await.unwrap(), 0, "nothing more is old");
    }

    #[tokio::test]
    async fn ingest_applies_what_fits_refuses_the_rest_and_becomes_durable() {
        let store: Arc<dyn Store> = Arc::new(store::RedbStore::open_in_memory().unwrap());
        let commit = Arc::new(GroupCommit::new(
            Arc::clone(&store),
            store::CommitLimits::default(),
        ));
        let worlds = Worlds::open(Arc::clone(&store), Arc::clone(&commit)).unwrap();
        let handle = worlds.get("default").unwrap();
        let model = serde_json::json!({
            "@id": "dtmi:test:Pump;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
            "contents": [
                { "@type": "Property", "name": "rpm", "schema": "double" },
                { "@type": "Telemetry", "name": "pressure", "schema": "double" }
            ]
        });
        worlds
            .apply(&handle, Command::AddModels(vec![model]))
            .await
            .unwrap();
        let body = serde_json::json!({"$metadata": {"$model": "dtmi:test:Pump;1"}});
        worlds
            .apply(
                &handle,
                Command::PutTwin {
                    id: "p1".into(),
                    body,
                    condition: world::Condition::None,
                },
            )
            .await
            .unwrap();
        let seq = handle.read().seq();
        let ingested = worlds.ingest(vec![
            update("default", "p1", "rpm", serde_json::json!(1200.0)),
            update("nowhere", "p1", "rpm", serde_json::json!(1.0)),
            update("default", "p2", "rpm", serde_json::json!(1.0)),
            update("default", "p1", "rpm", serde_json::json!("fast")),
            update("default", "p1", "pressure", serde_json::json!(2.5)),
        ]);
        let refused: Vec<usize> = ingested.refused.iter().map(|(i, _)| *i).collect();
        assert_eq!(refused, [1, 2, 3], "{ingested:?}");
        assert!(
            ingested.refused[0]
                .1
                .to_string()
                .contains("no world named 'nowhere'")
        );
        ingested
            .durable
            .expect("a change was accepted")
            .await
            .unwrap();
        assert_eq!(handle.read().seq(), Seq(seq.0 + 1));
        // The change is in the store: a restart sees it.
        let reopened = Worlds::open(Arc::clone(&store), commit).unwrap();
        let twin = reopened
            .get("default")
            .unwrap()
            .read()
            .twin_json("p1")
            .unwrap();
        assert_eq!(twin["rpm"], serde_json::json!(1200.0));
        assert!(twin.get("pressure").is_none());
        // Telemetry alone changes no twin and moves no `Seq`, but its point is
        // recorded in history, durably like any change.
        let seq = handle.read().seq();
        let mut later = update("default", "p1", "pressure", serde_json::json!(1.0));
        // A point at the same instant would replace the earlier one.
        later.source_time.0 += 1_000_000_000;
        let telemetry = worlds.ingest(vec![later]);
        assert!(telemetry.refused.is_empty());
        telemetry
            .durable
            .expect("the point is committed")
            .await
            .unwrap();
        assert_eq!(handle.read().seq(), seq);
        let reopened = Worlds::open(Arc::clone(&store), Arc::clone(worlds.commit())).unwrap();
        let handle = reopened.get("default").unwrap();
        let pressure = handle
            .history()
            .range(
                store.as_ref(),
                "p1",
                "pressure",
                Timestamp(0),
                Timestamp(i64::MAX),
                10,
            )
            .unwrap();
        let values: Vec<f64> = pressure
            .points
            .iter()
            .filter_map(|p| p.value.numeric())
            .collect();
        assert_eq!(values, [2.5, 1.0]);
    }

    #[test]
    fn an_undecodable_record_stops_the_start_with_its_key() {
        let store: Arc<dyn Store> = Arc::new(store::RedbStore::open_in_memory().unwrap());
        put(store.as_ref(), "w/bad/meta", SEQ_KEY, b"3");
        put(store.as_ref(), "w/bad/twins", b"pump-1", b"{not json");
        let commit = Arc::new(GroupCommit::new(
            Arc::clone(&store),
            store::CommitLimits::default(),
        ));
        let error = Worlds::open(Arc::clone(&store), commit)
            .err()
            .expect("refused");
        assert!(error.to_string().contains("twin 'pump-1'"), "{error}");
    }

    #[test]
    fn streamed_tables_deliver_every_value_and_stop_early_without_hanging() {
        let store: Arc<dyn Store> = Arc::new(store::RedbStore::open_in_memory().unwrap());
        let table = TableName::new("t").unwrap();
        let mut batch = Batch::new();
        for n in 0..5_000u32 {
            batch.put(&table, format!("{n:05}"), n.to_string());
        }
        store.commit(&[batch]).unwrap();
        let total = stream_table(store.as_ref(), &table, |records| records.count()).unwrap();
        assert_eq!(total, 5_000);
        // The consumer stops after 3 records; the reader must notice and end.
        let first = stream_table(store.as_ref(), &table, |records| {
            records.take(3).map(|r| r.value).collect::<Vec<_>>()
        })
        .unwrap();
        assert_eq!(first, [b"0".to_vec(), b"1".to_vec(), b"2".to_vec()]);
    }
}
