//! The AAS repository of each world: shells, submodels, concept descriptions,
//! packages and supplementary files, in memory (sorted by id, so cursor paging
//! is a range scan) and in the store, one table per kind:
//! `a/{world}/shells`, `a/{world}/submodels`, `a/{world}/concepts`,
//! `a/{world}/packages` (key = id, value = strict 3.0 JSON text; a package's
//! value is the list of what it brought) and `a/{world}/files` (key = package
//! part path, value = content type, a NUL byte, the bytes).
//!
//! A write checks and changes memory under the world's lock and submits its
//! batch to the server's group commit before releasing it, so commit order is
//! change order; the caller is answered once the batch is durable. A batch the
//! committer refuses on submission (too large) changes nothing in memory; one
//! that fails later halts the store, and the server refuses every write until it
//! restarts from what is durable.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::RwLock;
use serde_json::Value;
use store::{Batch, GroupCommit, Store, TableName};

use crate::ApiError;

/// The kinds of identifiable the repository keeps as JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Shell,
    Submodel,
    Concept,
    Package,
}

impl Kind {
    const ALL: [Kind; 4] = [Kind::Shell, Kind::Submodel, Kind::Concept, Kind::Package];

    fn table_suffix(self) -> &'static str {
        match self {
            Kind::Shell => "shells",
            Kind::Submodel => "submodels",
            Kind::Concept => "concepts",
            Kind::Package => "packages",
        }
    }
}

/// A supplementary file: content type and bytes.
#[derive(Debug, Clone)]
pub(crate) struct StoredFile {
    pub(crate) content_type: String,
    pub(crate) bytes: Vec<u8>,
}

/// One world's AAS content in memory.
#[derive(Default)]
pub(crate) struct Repo {
    maps: HashMap<Kind, BTreeMap<String, Arc<Value>>>,
    pub(crate) files: BTreeMap<String, Arc<StoredFile>>,
}

impl Repo {
    /// The identifiables of one kind, by id.
    pub(crate) fn map(&self, kind: Kind) -> &BTreeMap<String, Arc<Value>> {
        static EMPTY: BTreeMap<String, Arc<Value>> = BTreeMap::new();
        self.maps.get(&kind).unwrap_or(&EMPTY)
    }

    /// One identifiable.
    pub(crate) fn get(&self, kind: Kind, id: &str) -> Option<&Arc<Value>> {
        self.map(kind).get(id)
    }
}

/// One change a write makes.
pub(crate) enum Change {
    Put(Kind, String, Value),
    Delete(Kind, String),
    PutFile(String, StoredFile),
}

/// The store tables of one world's AAS content.
struct Tables {
    kinds: HashMap<Kind, TableName>,
    files: TableName,
}

impl Tables {
    fn new(world: &str) -> Result<Tables, ApiError> {
        let mut kinds = HashMap::new();
        for kind in Kind::ALL {
            kinds.insert(
                kind,
                TableName::new(&format!("a/{world}/{}", kind.table_suffix()))?,
            );
        }
        Ok(Tables {
            kinds,
            files: TableName::new(&format!("a/{world}/files"))?,
        })
    }

    fn of(&self, kind: Kind) -> &TableName {
        &self.kinds[&kind]
    }
}

/// One world's repository.
pub(crate) struct AasWorld {
    tables: Tables,
    repo: RwLock<Repo>,
}

impl AasWorld {
    /// A read view.
    pub(crate) fn read(&self) -> parking_lot::RwLockReadGuard<'_, Repo> {
        self.repo.read()
    }

    /// Checks and applies the changes `plan` computes from the current content,
    /// then waits until they are durable.
    pub(crate) async fn write<T>(
        &self,
        commit: &GroupCommit,
        plan: impl FnOnce(&Repo) -> Result<(Vec<Change>, T), super::AasError>,
    ) -> Result<T, super::AasError> {
        let (ticket, out) = {
            let mut repo = self.repo.write();
            let (changes, out) = plan(&repo)?;
            let mut batch = Batch::new();
            for change in &changes {
                match change {
                    Change::Put(kind, id, value) => {
                        batch.put(self.tables.of(*kind), id.as_bytes(), value.to_string());
                    }
                    Change::Delete(kind, id) => batch.delete(self.tables.of(*kind), id.as_bytes()),
                    Change::PutFile(path, file) => {
                        let mut bytes =
                            Vec::with_capacity(file.content_type.len() + 1 + file.bytes.len());
                        bytes.extend_from_slice(file.content_type.as_bytes());
                        bytes.push(0);
                        bytes.extend_from_slice(&file.bytes);
                        batch.put(&self.tables.files, path.as_bytes(), bytes);
                    }
                }
            }
            // A batch the committer refuses at once (too large, a halted store)
            // leaves memory as it was: nothing is shown that was never stored.
            let ticket = submit(commit, batch);
            if let Some(Err(error)) = ticket.try_result() {
                tracing::warn!(%error, "an AAS change was refused by the store");
                return Err(super::AasError::from(ApiError::from(error)));
            }
            for change in changes {
                match change {
                    Change::Put(kind, id, value) => {
                        repo.maps
                            .entry(kind)
                            .or_default()
                            .insert(id, Arc::new(value));
                    }
                    Change::Delete(kind, id) => {
                        repo.maps.entry(kind).or_default().remove(&id);
                    }
                    Change::PutFile(path, file) => {
                        repo.files.insert(path, Arc::new(file));
                    }
                }
            }
            (ticket, out)
        };
        ticket.await.map_err(|error| {
            tracing::error!(%error, "an AAS change could not be made durable");
            super::AasError::from(ApiError::from(error))
        })?;
        Ok(out)
    }
}

/// Queues a batch; like the twin write path, blocks only when the queue is full.
fn submit(commit: &GroupCommit, batch: Batch) -> store::Ticket {
    match commit.try_submit(batch) {
        Ok(ticket) => ticket,
        Err(batch) => {
            let multi_thread = tokio::runtime::Handle::try_current()
                .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
            if multi_thread {
                tokio::task::block_in_place(|| commit.submit(batch))
            } else {
                commit.submit(batch)
            }
        }
    }
}

/// Every world's repository.
pub(crate) struct Registry {
    worlds: RwLock<BTreeMap<String, Arc<AasWorld>>>,
}

impl Registry {
    /// Loads every world's AAS tables from the store.
    pub(crate) fn open(store: &dyn Store) -> Result<Registry, ApiError> {
        let mut worlds: BTreeMap<String, Repo> = BTreeMap::new();
        for table in store.tables("a/")? {
            let Some((world, suffix)) = table
                .as_str()
                .strip_prefix("a/")
                .and_then(|rest| rest.rsplit_once('/'))
            else {
                continue;
            };
            let repo = worlds.entry(world.to_owned()).or_default();
            let mut failure = None;
            if suffix == "files" {
                store.scan(&table, &mut |key, value| {
                    let path = String::from_utf8_lossy(key).into_owned();
                    let split = value.iter().position(|b| *b == 0).unwrap_or(0);
                    let content_type = String::from_utf8_lossy(&value[..split]).into_owned();
                    let bytes = value.get(split + 1..).unwrap_or_default().to_vec();
                    repo.files.insert(
                        path,
                        Arc::new(StoredFile {
                            content_type,
                            bytes,
                        }),
                    );
                    true
                })?;
                continue;
            }
            let Some(kind) = Kind::ALL.into_iter().find(|k| k.table_suffix() == suffix) else {
                continue;
            };
            let map = repo.maps.entry(kind).or_default();
            store.scan(
                &table,
                &mut |key, value| match serde_json::from_slice(value) {
                    Ok(json) => {
                        map.insert(String::from_utf8_lossy(key).into_owned(), Arc::new(json));
                        true
                    }
                    Err(error) => {
                        failure = Some(ApiError::Internal(format!(
                            "the stored AAS {suffix} entry '{}' is not JSON: {error}",
                            String::from_utf8_lossy(key)
                        )));
                        false
                    }
                },
            )?;
            if let Some(error) = failure {
                return Err(error);
            }
        }
        let mut map = BTreeMap::new();
        for (world, repo) in worlds {
            map.insert(
                world.clone(),
                Arc::new(AasWorld {
                    tables: Tables::new(&world)?,
                    repo: RwLock::new(repo),
                }),
            );
        }
        Ok(Registry {
            worlds: RwLock::new(map),
        })
    }

    /// Forgets a deleted world's repository (its tables are dropped with the
    /// world), so a new world of the same name starts empty.
    pub(crate) fn forget(&self, name: &str) {
        self.worlds.write().remove(name);
    }

    /// The repository of a world, created empty on first use.
    pub(crate) fn world(&self, name: &str) -> Result<Arc<AasWorld>, ApiError> {
        if let Some(found) = self.worlds.read().get(name) {
            return Ok(Arc::clone(found));
        }
        let mut worlds = self.worlds.write();
        if let Some(found) = worlds.get(name) {
            return Ok(Arc::clone(found));
        }
        let fresh = Arc::new(AasWorld {
            tables: Tables::new(name)?,
            repo: RwLock::new(Repo::default()),
        });
        worlds.insert(name.to_owned(), Arc::clone(&fresh));
        Ok(fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::CommitLimits;

    #[tokio::test]
    async fn a_refused_batch_leaves_memory_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(store::RedbStore::open(&dir.path().join("s.redb")).unwrap());
        let commit = GroupCommit::new(
            Arc::clone(&store),
            CommitLimits {
                batch_bytes_max: 4096,
                ..CommitLimits::default()
            },
        );
        let registry = Registry::open(store.as_ref()).unwrap();
        let world = registry.world("plant").unwrap();
        let small = serde_json::json!({ "id": "sm1", "modelType": "Submodel" });
        world
            .write(&commit, |_| {
                Ok((vec![Change::Put(Kind::Submodel, "sm1".into(), small)], ()))
            })
            .await
            .unwrap();
        let large = serde_json::json!({ "id": "sm2", "idShort": "x".repeat(8192) });
        let refused = world
            .write(&commit, |_| {
                Ok((
                    vec![
                        Change::Delete(Kind::Submodel, "sm1".into()),
                        Change::Put(Kind::Submodel, "sm2".into(), large),
                    ],
                    (),
                ))
            })
            .await;
        assert!(
            refused.is_err(),
            "the batch is larger than the committer takes"
        );
        let repo = world.read();
        assert!(
            repo.get(Kind::Submodel, "sm1").is_some(),
            "the delete was not applied"
        );
        assert!(
            repo.get(Kind::Submodel, "sm2").is_none(),
            "the put was not applied"
        );
        drop(repo);
        // The store agrees with memory.
        let stored = Registry::open(store.as_ref()).unwrap();
        let stored = stored.world("plant").unwrap();
        assert!(stored.read().get(Kind::Submodel, "sm1").is_some());
        assert!(stored.read().get(Kind::Submodel, "sm2").is_none());
    }
}
