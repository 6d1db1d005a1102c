//! Durable storage for Twinspace: the [`Store`] trait that every backend gives
//! (atomic, durable batches of writes to named tables of opaque byte keys and
//! values, ordered scans), the embedded [`RedbStore`] backend, and [`GroupCommit`],
//! which turns many writers' batches into one transaction and one fsync. The store
//! knows nothing about twins; the server maps world changes to writes.
//!
//! ```
//! use std::sync::Arc;
//! use store::{Batch, CommitLimits, GroupCommit, RedbStore, Store, TableName};
//!
//! # fn main() -> Result<(), store::StoreError> {
//! # let dir = tempfile::tempdir().expect("temp dir");
//! let store = Arc::new(RedbStore::open(&dir.path().join("twinspace.redb"))?);
//! let group = GroupCommit::new(store.clone(), CommitLimits::default());
//! let twins = TableName::new("w/default/twins")?;
//! let mut batch = Batch::new();
//! batch.put(&twins, "pump-1", r#"{"rpm":1200}"#);
//! batch.delete(&twins, "pump-0");
//! group.submit(batch).wait()?; // durable once this returns Ok
//! assert_eq!(store.get(&twins, b"pump-1")?, Some(br#"{"rpm":1200}"#.to_vec()));
//! # Ok(())
//! # }
//! ```
//!
//! Invariants: a batch is applied completely or not at all; a ticket resolves
//! `Ok` only after the fsync that made its batch durable; batches are committed in
//! submission order; every queue and size is bounded (`CommitLimits`,
//! [`KEY_BYTES_MAX`], [`VALUE_BYTES_MAX`], [`TABLE_NAME_CHARS_MAX`]); after a failed
//! commit the [`GroupCommit`] refuses everything (see there for why). Async code
//! queues with [`GroupCommit::submit_async`] and awaits the [`Ticket`];
//! [`RedbStore::backup_to`] copies a consistent snapshot while writers continue.

mod batch;
mod error;
mod group_commit;
mod redb_store;

pub use batch::{
    Batch, KEY_BYTES_MAX, TABLE_NAME_CHARS_MAX, TableName, VALUE_BYTES_MAX, WRITE_OVERHEAD_BYTES,
    Write,
};
pub use error::StoreError;
pub use group_commit::{CommitLimits, CommitStats, GroupCommit, Submit, Ticket};
pub use redb_store::{BackupStats, RedbOptions, RedbStore};

/// What a storage backend must give. Implementations are shared between threads;
/// reads may run while a commit is in progress and see the state before it.
pub trait Store: Send + Sync + 'static {
    /// Applies the batches in order, atomically as one unit, durably (fsync) before
    /// returning. On error nothing of any batch is applied.
    fn commit(&self, batches: &[Batch]) -> Result<(), StoreError>;

    /// The value of `key` in `table`, or `None` when the key or the table is absent.
    fn get(&self, table: &TableName, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Visits every (key, value) of a table in key order; the visitor returns false
    /// to stop. A missing table has no entries.
    fn scan(
        &self,
        table: &TableName,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError>;

    /// Visits keys in `[start, end)` in order; the visitor returns false to stop.
    fn scan_range(
        &self,
        table: &TableName,
        start: &[u8],
        end: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError>;

    /// Visits the keys that start with `prefix`, in order; the visitor returns
    /// false to stop. Built on `scan_range`, so backends need not implement it.
    fn scan_prefix(
        &self,
        table: &TableName,
        prefix: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        match prefix_end(prefix) {
            Some(end) => self.scan_range(table, prefix, &end, visit),
            // The prefix is empty or all 0xff bytes: nothing bounds it above, so
            // scan the whole table and skip what sorts before the prefix.
            None => self.scan(table, &mut |key, value| {
                !key.starts_with(prefix) || visit(key, value)
            }),
        }
    }

    /// Names of existing tables that start with `prefix`, sorted.
    fn tables(&self, prefix: &str) -> Result<Vec<TableName>, StoreError>;

    /// Deletes the tables (missing ones are ignored), atomically and durably.
    fn drop_tables(&self, tables: &[TableName]) -> Result<(), StoreError>;
}

/// The smallest key greater than every key that starts with `prefix`, or `None`
/// when there is none (the prefix is empty or all 0xff bytes).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let last = prefix.iter().rposition(|&byte| byte != 0xff)?;
    let mut end = prefix[..=last].to_vec();
    end[last] += 1;
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_is_the_next_key_after_all_extensions() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[1, 0xff, 0xff]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
        assert_eq!(prefix_end(b""), None);
    }

    #[test]
    fn scan_prefix_visits_exactly_the_keys_with_the_prefix() {
        let store = RedbStore::open_in_memory().unwrap();
        let table = TableName::new("t").unwrap();
        let keys: [&[u8]; 8] = [
            b"",
            b"a",
            b"a/1",
            b"a/2",
            b"a0",
            b"b",
            &[0xff],
            &[0xff, 0xff, 1],
        ];
        let mut batch = Batch::new();
        for key in keys {
            batch.put(&table, key, "v");
        }
        store.commit(&[batch]).unwrap();
        let scan = |prefix: &[u8]| {
            let mut seen = Vec::new();
            store
                .scan_prefix(&table, prefix, &mut |key, _| {
                    seen.push(key.to_vec());
                    true
                })
                .unwrap();
            seen
        };
        for prefix in [&b""[..], b"a", b"a/", b"b", b"c", &[0xff], &[0xff, 0xff]] {
            let expected: Vec<Vec<u8>> = keys
                .iter()
                .filter(|key| key.starts_with(prefix))
                .map(|key| key.to_vec())
                .collect();
            assert_eq!(scan(prefix), expected, "prefix {prefix:?}");
        }
        let mut first = None;
        store
            .scan_prefix(&table, b"a", &mut |key, _| {
                first = Some(key.to_vec());
                false
            })
            .unwrap();
        assert_eq!(first, Some(b"a".to_vec()));
    }
}
