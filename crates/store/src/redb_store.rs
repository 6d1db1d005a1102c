//! The embedded backend: one redb database file. Every `commit` is one redb write
//! transaction with `Durability::Immediate`, so it is applied completely and
//! fsynced, or not at all: redb writes copy-on-write pages and flips a checksummed
//! commit slot, and after a crash it opens at the last committed transaction.

use std::path::Path;

use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, TableDefinition, TableError, TableHandle,
};

use crate::{Batch, Store, StoreError, TableName};

/// Settings of the redb backend.
#[derive(Clone, Debug)]
pub struct RedbOptions {
    /// Memory redb may use to cache pages, in bytes. Default 256 MiB: enough to
    /// keep the hot part of a million-twin world cached without dominating RSS.
    pub cache_bytes: usize,
    /// redb's quick-repair: every commit also saves the allocator state and uses a
    /// two-phase commit (two fsyncs), so that reopening after a crash does not walk
    /// the whole file. Default false: commits are cheaper and, at our sizes, the
    /// repair walk after a crash is short (measured by `examples/bench_store.rs`:
    /// ~1.5 s for 1,000,000 rows in a 570 MB file, against ~0.01 s after a clean
    /// close). Turn it on for much larger databases.
    pub quick_repair: bool,
}

impl Default for RedbOptions {
    fn default() -> Self {
        RedbOptions {
            cache_bytes: 256 * 1024 * 1024,
            quick_repair: false,
        }
    }
}

/// Bytes copied per transaction while writing a backup: bounds the memory a
/// backup's dirty pages take, whatever the database size.
const BACKUP_CHUNK_BYTES: usize = 32 * 1024 * 1024;

/// What [`RedbStore::backup_to`] copied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackupStats {
    /// Tables copied.
    pub tables: u64,
    /// Entries copied.
    pub rows: u64,
    /// Key and value bytes copied.
    pub bytes: u64,
}

/// The [`Store`] backed by one redb database file.
pub struct RedbStore {
    database: Database,
    quick_repair: bool,
}

type Definition<'name> = TableDefinition<'name, &'static [u8], &'static [u8]>;
type WriteTable<'txn> = redb::Table<'txn, &'static [u8], &'static [u8]>;
type ReadTable = redb::ReadOnlyTable<&'static [u8], &'static [u8]>;
type Entry<'a> = (
    redb::AccessGuard<'a, &'static [u8]>,
    redb::AccessGuard<'a, &'static [u8]>,
);

fn definition(table: &TableName) -> Definition<'_> {
    TableDefinition::new(table.as_str())
}

impl RedbStore {
    /// Opens the database at `path`, creating it when missing, with default options.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        RedbStore::open_with(path, &RedbOptions::default())
    }

    /// Opens the database at `path`, creating it when missing.
    pub fn open_with(path: &Path, options: &RedbOptions) -> Result<Self, StoreError> {
        let database = Database::builder()
            .set_cache_size(options.cache_bytes)
            .create(path)
            .map_err(|error| StoreError::Open {
                path: path.display().to_string(),
                message: error.to_string(),
            })?;
        Ok(RedbStore {
            database,
            quick_repair: options.quick_repair,
        })
    }

    /// A database held in memory (redb's `InMemoryBackend`): the same code paths
    /// as a file, nothing survives the process. For tests and scratch worlds.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        RedbStore::open_with_backend(
            redb::backends::InMemoryBackend::new(),
            &RedbOptions::default(),
        )
    }

    /// A database on a caller-supplied redb storage backend (for instance one that
    /// injects I/O failures in tests).
    pub fn open_with_backend(
        backend: impl redb::StorageBackend,
        options: &RedbOptions,
    ) -> Result<Self, StoreError> {
        let description = format!("{backend:?}");
        let database = Database::builder()
            .set_cache_size(options.cache_bytes)
            .create_with_backend(backend)
            .map_err(|error| StoreError::Open {
                path: description,
                message: error.to_string(),
            })?;
        Ok(RedbStore {
            database,
            quick_repair: options.quick_repair,
        })
    }

    fn begin_write(&self) -> Result<redb::WriteTransaction, StoreError> {
        let mut transaction = self
            .database
            .begin_write()
            .map_err(|error| StoreError::backend("begin a write transaction", None, error))?;
        transaction
            .set_durability(Durability::Immediate)
            .map_err(|error| StoreError::backend("set durability", None, error))?;
        transaction.set_quick_repair(self.quick_repair);
        Ok(transaction)
    }

    /// Writes a consistent copy of the whole database (every table, as of one
    /// instant) to a new file at `destination`, while writers carry on: the copy
    /// reads one redb snapshot, and readers never block the writer. The copy is
    /// durable when this returns; on error the partial file is removed. Restore by
    /// opening the copy in place of the original.
    pub fn backup_to(&self, destination: &Path) -> Result<BackupStats, StoreError> {
        let refuse = |message: String| StoreError::Backup {
            path: destination.display().to_string(),
            message,
        };
        if destination.exists() {
            return Err(refuse(
                "the file already exists; a backup never overwrites".to_owned(),
            ));
        }
        let result = self.copy_snapshot(destination, &refuse);
        if result.is_err() {
            // Best effort: a half-written copy must not be mistaken for a backup.
            let _ = std::fs::remove_file(destination);
        }
        result
    }

    fn copy_snapshot(
        &self,
        destination: &Path,
        refuse: &dyn Fn(String) -> StoreError,
    ) -> Result<BackupStats, StoreError> {
        let snapshot = self
            .database
            .begin_read()
            .map_err(|error| refuse(format!("cannot begin a read transaction: {error}")))?;
        let target = Database::builder()
            .create(destination)
            .map_err(|error| refuse(format!("cannot create the copy: {error}")))?;
        let mut stats = BackupStats::default();
        let handles = snapshot
            .list_tables()
            .map_err(|error| refuse(format!("cannot list tables: {error}")))?;
        for handle in handles {
            let name = handle.name().to_owned();
            let definition: Definition<'_> = TableDefinition::new(&name);
            let source = snapshot
                .open_table(definition)
                .map_err(|error| refuse(format!("cannot open table {name:?}: {error}")))?;
            let mut entries = source
                .iter()
                .map_err(|error| refuse(format!("cannot scan table {name:?}: {error}")))?
                .peekable();
            stats.tables += 1;
            // Copy in transactions of about BACKUP_CHUNK_BYTES, without fsync: the
            // final commit below makes all of them durable at once.
            loop {
                let mut transaction = target
                    .begin_write()
                    .map_err(|error| refuse(format!("cannot write the copy: {error}")))?;
                transaction
                    .set_durability(Durability::None)
                    .map_err(|error| refuse(format!("cannot write the copy: {error}")))?;
                {
                    let mut table = transaction.open_table(definition).map_err(|error| {
                        refuse(format!("cannot create table {name:?}: {error}"))
                    })?;
                    let mut chunk_bytes = 0usize;
                    while chunk_bytes < BACKUP_CHUNK_BYTES {
                        let Some(entry) = entries.next() else { break };
                        let (key, value) = entry.map_err(|error| {
                            refuse(format!("cannot read table {name:?}: {error}"))
                        })?;
                        table.insert(key.value(), value.value()).map_err(|error| {
                            refuse(format!("cannot write table {name:?}: {error}"))
                        })?;
                        chunk_bytes += key.value().len() + value.value().len();
                        stats.rows += 1;
                        stats.bytes += (key.value().len() + value.value().len()) as u64;
                    }
                }
                transaction
                    .commit()
                    .map_err(|error| refuse(format!("cannot commit the copy: {error}")))?;
                if entries.peek().is_none() {
                    break;
                }
            }
        }
        let mut flush = target
            .begin_write()
            .map_err(|error| refuse(format!("cannot write the copy: {error}")))?;
        flush
            .set_durability(Durability::Immediate)
            .map_err(|error| refuse(format!("cannot write the copy: {error}")))?;
        flush
            .commit()
            .map_err(|error| refuse(format!("cannot make the copy durable: {error}")))?;
        Ok(stats)
    }

    fn read_table(&self, table: &TableName) -> Result<Option<ReadTable>, StoreError> {
        let transaction = self
            .database
            .begin_read()
            .map_err(|error| StoreError::backend("begin a read transaction", None, error))?;
        match transaction.open_table(definition(table)) {
            Ok(handle) => Ok(Some(handle)),
            Err(TableError::TableDoesNotExist(_)) => Ok(None),
            Err(error) => Err(StoreError::backend(
                "open a table for reading",
                Some(table.as_str()),
                error,
            )),
        }
    }
}

impl Store for RedbStore {
    fn commit(&self, batches: &[Batch]) -> Result<(), StoreError> {
        // Validate everything before touching the database, so a bad write never
        // leaves an aborted transaction behind a good one.
        batches.iter().try_for_each(Batch::validate)?;
        if batches.iter().all(Batch::is_empty) {
            return Ok(());
        }
        let transaction = self.begin_write()?;
        {
            // Apply in (table, key) order and only the last write of each key: the
            // outcome is the same as applying in submission order (a key's final
            // value is its last write), each table is opened once (redb allows one
            // handle per table and transaction), B-tree inserts walk neighbouring
            // pages, and a key updated many times in one group costs one insert.
            let mut writes: Vec<&crate::Write> =
                batches.iter().flat_map(|batch| &batch.writes).collect();
            // Stable, so writes to the same key keep their submission order.
            writes.sort_by(|a, b| (&a.table, &a.key).cmp(&(&b.table, &b.key)));
            let mut current: Option<(&TableName, WriteTable<'_>)> = None;
            for (index, write) in writes.iter().enumerate() {
                let superseded = writes
                    .get(index + 1)
                    .is_some_and(|next| next.table == write.table && next.key == write.key);
                if superseded {
                    continue;
                }
                let name = write.table.as_str();
                if current
                    .as_ref()
                    .is_none_or(|(open, _)| *open != &write.table)
                {
                    let table =
                        transaction
                            .open_table(definition(&write.table))
                            .map_err(|error| {
                                StoreError::backend("open a table for writing", Some(name), error)
                            })?;
                    current = Some((&write.table, table));
                }
                let Some((_, table)) = current.as_mut() else {
                    unreachable!("a table was opened just above");
                };
                match &write.value {
                    Some(value) => table
                        .insert(write.key.as_slice(), value.as_slice())
                        .map(drop),
                    None => table.remove(write.key.as_slice()).map(drop),
                }
                .map_err(|error| StoreError::backend("apply a write", Some(name), error))?;
            }
        }
        // Dropping the transaction without commit (on any error above) aborts it.
        transaction
            .commit()
            .map_err(|error| StoreError::backend("commit a write transaction", None, error))
    }

    fn get(&self, table: &TableName, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(handle) = self.read_table(table)? else {
            return Ok(None);
        };
        let value = handle
            .get(key)
            .map_err(|error| StoreError::backend("read a key", Some(table.as_str()), error))?;
        Ok(value.map(|guard| guard.value().to_vec()))
    }

    fn scan(
        &self,
        table: &TableName,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        let Some(handle) = self.read_table(table)? else {
            return Ok(());
        };
        let entries = handle
            .iter()
            .map_err(|error| StoreError::backend("scan a table", Some(table.as_str()), error))?;
        visit_entries(table, entries, visit)
    }

    fn scan_range(
        &self,
        table: &TableName,
        start: &[u8],
        end: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        // redb panics on a reversed range; an empty or reversed range has no keys.
        if start >= end {
            return Ok(());
        }
        let Some(handle) = self.read_table(table)? else {
            return Ok(());
        };
        let entries = handle.range::<&[u8]>(start..end).map_err(|error| {
            StoreError::backend("scan a key range", Some(table.as_str()), error)
        })?;
        visit_entries(table, entries, visit)
    }

    fn tables(&self, prefix: &str) -> Result<Vec<TableName>, StoreError> {
        let transaction = self
            .database
            .begin_read()
            .map_err(|error| StoreError::backend("begin a read transaction", None, error))?;
        let handles = transaction
            .list_tables()
            .map_err(|error| StoreError::backend("list tables", None, error))?;
        let mut names: Vec<TableName> = handles
            .filter(|handle| handle.name().starts_with(prefix))
            // Tables this crate did not create (other names) are not ours to show.
            .filter_map(|handle| TableName::new(handle.name()).ok())
            .collect();
        names.sort();
        Ok(names)
    }

    fn drop_tables(&self, tables: &[TableName]) -> Result<(), StoreError> {
        if tables.is_empty() {
            return Ok(());
        }
        let transaction = self.begin_write()?;
        for table in tables {
            transaction
                .delete_table(definition(table))
                .map_err(|error| {
                    StoreError::backend("drop a table", Some(table.as_str()), error)
                })?;
        }
        transaction
            .commit()
            .map_err(|error| StoreError::backend("commit a table drop", None, error))
    }
}

fn visit_entries<'a>(
    table: &TableName,
    entries: impl Iterator<Item = Result<Entry<'a>, redb::StorageError>>,
    visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
) -> Result<(), StoreError> {
    for entry in entries {
        let (key, value) = entry.map_err(|error| {
            StoreError::backend("read a table entry", Some(table.as_str()), error)
        })?;
        if !visit(key.value(), value.value()) {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use redb::StorageBackend;
    use redb::backends::InMemoryBackend;

    use super::*;

    fn name(name: &str) -> TableName {
        TableName::new(name).unwrap()
    }

    fn entries(store: &dyn Store, table: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        store
            .scan(&name(table), &mut |k, v| {
                out.push((
                    String::from_utf8(k.to_vec()).unwrap(),
                    String::from_utf8(v.to_vec()).unwrap(),
                ));
                true
            })
            .unwrap();
        out
    }

    #[test]
    fn batches_apply_in_order_and_later_writes_win() {
        let store = RedbStore::open_in_memory().unwrap();
        let (a, b) = (name("w/default/twins"), name("w/default/meta"));
        let mut first = Batch::new();
        first.put(&a, "k1", "one");
        first.put(&a, "k2", "two");
        first.put(&a, "k1", "uno");
        first.put(&b, "seq", "1");
        let mut second = Batch::new();
        second.delete(&a, "k2");
        second.put(&a, "k3", "three");
        second.delete(&a, "absent");
        store.commit(&[first, second]).unwrap();
        assert_eq!(
            entries(&store, "w/default/twins"),
            [("k1".into(), "uno".into()), ("k3".into(), "three".into())]
        );
        assert_eq!(store.get(&b, b"seq").unwrap(), Some(b"1".to_vec()));
        assert_eq!(store.get(&b, b"nope").unwrap(), None);
        assert_eq!(store.get(&name("never/written"), b"k").unwrap(), None);
        assert_eq!(entries(&store, "never/written"), []);
        // Empty commits touch nothing.
        store.commit(&[]).unwrap();
        store.commit(&[Batch::new()]).unwrap();
    }

    #[test]
    fn scans_respect_ranges_and_stop_when_told() {
        let store = RedbStore::open_in_memory().unwrap();
        let t = name("t");
        let mut batch = Batch::new();
        for key in ["a", "b", "ba", "bb", "c", "d"] {
            batch.put(&t, key, key.to_uppercase());
        }
        store.commit(&[batch]).unwrap();
        let collect = |start: &[u8], end: &[u8], stop_after: usize| {
            let mut keys = Vec::new();
            store
                .scan_range(&t, start, end, &mut |k, _| {
                    keys.push(String::from_utf8(k.to_vec()).unwrap());
                    keys.len() < stop_after
                })
                .unwrap();
            keys
        };
        assert_eq!(collect(b"b", b"c", 99), ["b", "ba", "bb"]);
        assert_eq!(collect(b"b", b"c", 2), ["b", "ba"]);
        assert_eq!(collect(b"", b"\xff", 99).len(), 6);
        assert!(
            collect(b"c", b"b", 99).is_empty(),
            "a reversed range is empty"
        );
        assert!(
            collect(b"c", b"c", 99).is_empty(),
            "an empty range is empty"
        );
        let mut seen = 0;
        store
            .scan(&t, &mut |_, _| {
                seen += 1;
                seen < 3
            })
            .unwrap();
        assert_eq!(seen, 3);
    }

    #[test]
    fn tables_are_listed_by_prefix_and_dropped_atomically() {
        let store = RedbStore::open_in_memory().unwrap();
        let names = ["w/a/twins", "w/a/models", "w/b/twins", "x"].map(name);
        let mut batch = Batch::new();
        for table in &names {
            batch.put(table, "k", "v");
        }
        store.commit(&[batch]).unwrap();
        assert_eq!(
            store.tables("w/a/").unwrap(),
            [name("w/a/models"), name("w/a/twins")]
        );
        assert_eq!(store.tables("").unwrap().len(), 4);
        store
            .drop_tables(&[name("w/a/models"), name("w/a/twins"), name("not/there")])
            .unwrap();
        assert_eq!(store.tables("w/").unwrap(), [name("w/b/twins")]);
        assert_eq!(store.get(&name("w/a/twins"), b"k").unwrap(), None);
        store.drop_tables(&[]).unwrap();
    }

    #[test]
    fn commit_refuses_oversized_writes_before_writing_anything() {
        let store = RedbStore::open_in_memory().unwrap();
        let t = name("t");
        let mut good = Batch::new();
        good.put(&t, "fine", "v");
        let mut bad = Batch::new();
        bad.put(&t, vec![7u8; crate::KEY_BYTES_MAX + 1], "v");
        assert!(matches!(
            store.commit(&[good, bad]),
            Err(StoreError::KeyTooLarge { .. })
        ));
        assert_eq!(store.get(&t, b"fine").unwrap(), None);
    }

    #[test]
    fn data_survives_reopening_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        let t = name("t");
        {
            let store = RedbStore::open(&path).unwrap();
            let mut batch = Batch::new();
            batch.put(&t, "k", "v");
            store.commit(&[batch]).unwrap();
        }
        let store = RedbStore::open(&path).unwrap();
        assert_eq!(store.get(&t, b"k").unwrap(), Some(b"v".to_vec()));
        // A second handle on the same file (another server on the same data
        // directory) is refused rather than allowed to corrupt it.
        let error = RedbStore::open(&path).err().unwrap();
        assert_eq!(
            error.to_string(),
            format!(
                "cannot open the store at {}: Database already open. Cannot acquire lock.",
                path.display()
            )
        );
        let error = RedbStore::open(&dir.path().join("missing/dir/x.redb"))
            .err()
            .unwrap();
        assert!(
            error.to_string().starts_with("cannot open the store at "),
            "{error}"
        );
    }

    #[test]
    fn quick_repair_stores_commit_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("quick.redb");
        let options = RedbOptions {
            quick_repair: true,
            cache_bytes: 1024 * 1024,
        };
        let t = name("t");
        for round in 0..3u8 {
            let store = RedbStore::open_with(&path, &options).unwrap();
            let mut batch = Batch::new();
            batch.put(&t, [round], [round; 3]);
            store.commit(&[batch]).unwrap();
            for earlier in 0..=round {
                assert_eq!(store.get(&t, &[earlier]).unwrap(), Some(vec![earlier; 3]));
            }
        }
    }

    #[test]
    fn a_backup_is_a_consistent_snapshot_taken_while_writers_continue() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(RedbStore::open(&dir.path().join("live.redb")).unwrap());
        let (a, b, log) = (name("w/x/a"), name("w/x/b"), name("w/y/log"));
        // Enough data that the copy spans several chunks of one table.
        let mut bulk = Batch::new();
        for i in 0..180u32 {
            bulk.put(&log, format!("bulk/{i:04}"), vec![b'x'; 200_000]);
        }
        store.commit(&[bulk]).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (store, stop) = (Arc::clone(&store), Arc::clone(&stop));
            let (a, b, log) = (a.clone(), b.clone(), log.clone());
            std::thread::spawn(move || {
                let mut i = 0u32;
                while !stop.load(Ordering::SeqCst) && i < 10_000 {
                    i += 1;
                    // Each batch keeps a == b and logs the step, atomically.
                    let mut batch = Batch::new();
                    batch.put(&a, "counter", i.to_be_bytes());
                    batch.put(&b, "counter", i.to_be_bytes());
                    batch.put(&log, format!("step/{i:05}"), "");
                    store.commit(&[batch]).unwrap();
                }
                i
            })
        };
        std::thread::sleep(Duration::from_millis(30));
        let backup = dir.path().join("backup.redb");
        let stats = store.backup_to(&backup).unwrap();
        stop.store(true, Ordering::SeqCst);
        let written = writer.join().unwrap();

        let copy = RedbStore::open(&backup).unwrap();
        let counter = |table: &TableName| {
            copy.get(table, b"counter")
                .unwrap()
                .map_or(0, |v| u32::from_be_bytes(v.try_into().unwrap()))
        };
        let at = counter(&a);
        assert_eq!(counter(&b), at, "tables copied from different instants");
        let mut steps = 0u32;
        copy.scan_prefix(&log, b"step/", &mut |_, _| {
            steps += 1;
            true
        })
        .unwrap();
        assert_eq!(steps, at, "the log and the counters disagree");
        assert!(at <= written);
        assert_eq!(stats.tables, 3);
        assert_eq!(stats.rows, 180 + 2 * u64::from(at > 0) + u64::from(at));
        assert_eq!(copy.tables("").unwrap(), [a, b, log]);
        // A backup never overwrites.
        let error = store.backup_to(&backup).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "cannot back up the store to {}: the file already exists; a backup never overwrites",
                backup.display()
            )
        );
        let error = store
            .backup_to(&dir.path().join("no/such/dir/backup.redb"))
            .unwrap_err();
        assert!(
            error.to_string().contains("cannot create the copy"),
            "{error}"
        );
    }

    /// Shares its bytes between "process lifetimes" and fails writes on demand.
    #[derive(Debug)]
    struct FlakyBackend {
        bytes: Arc<InMemoryBackend>,
        fail_writes: Arc<AtomicBool>,
    }

    impl StorageBackend for FlakyBackend {
        fn len(&self) -> Result<u64, std::io::Error> {
            self.bytes.len()
        }
        fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
            self.bytes.read(offset, out)
        }
        fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
            self.bytes.set_len(len)
        }
        fn sync_data(&self) -> Result<(), std::io::Error> {
            self.bytes.sync_data()
        }
        fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
            if self.fail_writes.load(Ordering::SeqCst) {
                return Err(std::io::Error::other("injected write failure"));
            }
            self.bytes.write(offset, data)
        }
    }

    #[test]
    fn a_failed_commit_applies_nothing_and_later_use_is_refused_clearly() {
        let bytes = Arc::new(InMemoryBackend::new());
        let fail_writes = Arc::new(AtomicBool::new(false));
        let open = || {
            RedbStore::open_with_backend(
                FlakyBackend {
                    bytes: Arc::clone(&bytes),
                    fail_writes: Arc::clone(&fail_writes),
                },
                &RedbOptions::default(),
            )
            .unwrap()
        };
        let t = name("t");
        let store = open();
        let mut before = Batch::new();
        before.put(&t, "before", "kept");
        store.commit(&[before]).unwrap();

        fail_writes.store(true, Ordering::SeqCst);
        let mut doomed = Batch::new();
        for i in 0..2_000 {
            doomed.put(&t, format!("doomed/{i:04}"), vec![b'x'; 100]);
        }
        let error = store.commit(&[doomed]).unwrap_err();
        assert!(
            error.to_string().contains("injected write failure"),
            "{error}"
        );
        fail_writes.store(false, Ordering::SeqCst);
        // Nothing of the failed batch is visible, in this process or after reopening.
        assert_eq!(store.get(&t, b"doomed/0000").ok().flatten(), None);
        let mut retry = Batch::new();
        retry.put(&t, "after", "x");
        // redb refuses further writes after an I/O error; the error says so.
        // redb refuses every later write after an I/O error until reopened; the
        // error says so, which is why GroupCommit halts rather than retrying.
        let error = store.commit(&[retry]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "store backend failed to begin a write transaction: Previous I/O error occurred. Please close and re-open the database."
        );
        drop(store);
        let store = open();
        assert_eq!(store.get(&t, b"before").unwrap(), Some(b"kept".to_vec()));
        let mut doomed_seen = 0;
        store
            .scan_range(&t, b"doomed/", b"doomed0", &mut |_, _| {
                doomed_seen += 1;
                true
            })
            .unwrap();
        assert_eq!(doomed_seen, 0);
    }
}
