//! Model-based property test: random sequences of commits (puts and deletes over a
//! few tables and a small key space, directly and through `GroupCommit`), table
//! drops and reopenings of the database file, applied both to `RedbStore` and to a
//! `BTreeMap` model. After every step the full contents, point reads and a random
//! key range must agree.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use store::{Batch, CommitLimits, GroupCommit, RedbStore, Store, TableName, Write};

const TABLES: [&str; 3] = ["w/default/twins", "w/default/meta", "w/other/twins"];

/// Keys come from a small space so writes collide, including the empty key and
/// keys that are prefixes of each other.
fn keys() -> Vec<Vec<u8>> {
    vec![
        b"".to_vec(),
        b"a".to_vec(),
        b"ab".to_vec(),
        b"b".to_vec(),
        vec![0],
        vec![0xff, 0],
        b"twin-7".to_vec(),
    ]
}

type Model = BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>;

#[derive(Clone, Debug)]
enum Step {
    Commit(Vec<Batch>),
    /// Batches submitted in order through a fresh `GroupCommit`, which may split
    /// them over several transactions but must keep their order.
    GroupCommit(Vec<Batch>),
    Drop(Vec<usize>),
    Reopen,
    /// Range check with these key bounds.
    Range(usize, usize),
    /// Prefix scan with this key as the prefix.
    Prefix(usize),
}

fn value() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        2 => Just(None),
        6 => proptest::collection::vec(any::<u8>(), 0..40).prop_map(Some),
        // Large values use redb's overflow pages.
        1 => (1usize..20_000).prop_map(|n| Some(vec![(n % 251) as u8; n])),
    ]
}

fn write() -> impl Strategy<Value = Write> {
    (0..TABLES.len(), 0..keys().len(), value()).prop_map(|(t, k, value)| Write {
        table: TableName::new(TABLES[t]).expect("valid"),
        key: keys()[k].clone(),
        value,
    })
}

fn batch() -> impl Strategy<Value = Batch> {
    proptest::collection::vec(write(), 0..6).prop_map(|writes| Batch { writes })
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => proptest::collection::vec(batch(), 0..4).prop_map(Step::Commit),
        2 => proptest::collection::vec(batch(), 1..4).prop_map(Step::GroupCommit),
        1 => proptest::collection::vec(0..TABLES.len(), 0..3).prop_map(Step::Drop),
        2 => Just(Step::Reopen),
        2 => (0..keys().len(), 0..keys().len()).prop_map(|(a, b)| Step::Range(a, b)),
        1 => (0..keys().len()).prop_map(Step::Prefix),
    ]
}

fn apply(model: &mut Model, batches: &[Batch]) {
    for write in batches.iter().flat_map(|b| &b.writes) {
        let table = model.entry(write.table.as_str().to_owned()).or_default();
        match &write.value {
            Some(value) => table.insert(write.key.clone(), value.clone()),
            None => table.remove(&write.key),
        };
    }
}

fn contents(store: &RedbStore, table: &TableName) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut previous: Option<Vec<u8>> = None;
    store
        .scan(table, &mut |k, v| {
            assert!(previous.as_deref() < Some(k), "scan out of key order");
            previous = Some(k.to_vec());
            out.insert(k.to_vec(), v.to_vec());
            true
        })
        .expect("scan");
    out
}

fn check(store: &RedbStore, model: &Model) {
    let tables: Vec<String> = store
        .tables("")
        .expect("tables")
        .iter()
        .map(|t| t.as_str().to_owned())
        .collect();
    assert_eq!(
        tables,
        model.keys().cloned().collect::<Vec<_>>(),
        "table list"
    );
    for name in TABLES {
        let table = TableName::new(name).expect("valid");
        let expected = model.get(name).cloned().unwrap_or_default();
        assert_eq!(contents(store, &table), expected, "contents of {name}");
        for key in keys() {
            assert_eq!(
                store.get(&table, &key).expect("get"),
                expected.get(&key).cloned(),
                "get {name} {key:?}"
            );
        }
    }
    assert_eq!(
        store.tables("w/default/").expect("tables").len(),
        model.keys().filter(|t| t.starts_with("w/default/")).count()
    );
}

fn run(path: &Path, steps: Vec<Step>) {
    let mut store = Arc::new(RedbStore::open(path).expect("open"));
    let mut model = Model::new();
    for step in steps {
        match step {
            Step::Commit(batches) => {
                store.commit(&batches).expect("commit");
                apply(&mut model, &batches);
            }
            Step::GroupCommit(batches) => {
                let group = GroupCommit::new(store.clone(), CommitLimits::default());
                // Submitting in order from one thread fixes the commit order; the
                // committer may still split them over several transactions.
                let tickets: Vec<_> = batches.iter().cloned().map(|b| group.submit(b)).collect();
                for ticket in tickets {
                    ticket.wait().expect("durable");
                }
                drop(group);
                apply(&mut model, &batches);
            }
            Step::Drop(indexes) => {
                let names: Vec<TableName> = indexes
                    .iter()
                    .map(|&i| TableName::new(TABLES[i]).expect("valid"))
                    .collect();
                store.drop_tables(&names).expect("drop");
                for name in &names {
                    model.remove(name.as_str());
                }
            }
            Step::Reopen => {
                drop(store);
                store = Arc::new(RedbStore::open(path).expect("reopen"));
            }
            Step::Prefix(p) => {
                let prefix = &keys()[p];
                for name in TABLES {
                    let table = TableName::new(name).expect("valid");
                    let mut got = Vec::new();
                    store
                        .scan_prefix(&table, prefix, &mut |k, v| {
                            got.push((k.to_vec(), v.to_vec()));
                            true
                        })
                        .expect("scan_prefix");
                    let expected: Vec<(Vec<u8>, Vec<u8>)> = model
                        .get(name)
                        .into_iter()
                        .flatten()
                        .filter(|(k, _)| k.starts_with(prefix))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    assert_eq!(got, expected, "prefix {prefix:?} of {name}");
                }
            }
            Step::Range(a, b) => {
                let (start, end) = (&keys()[a], &keys()[b]);
                for name in TABLES {
                    let table = TableName::new(name).expect("valid");
                    let mut got = Vec::new();
                    store
                        .scan_range(&table, start, end, &mut |k, v| {
                            got.push((k.to_vec(), v.to_vec()));
                            true
                        })
                        .expect("scan_range");
                    let expected: Vec<(Vec<u8>, Vec<u8>)> = match model.get(name) {
                        Some(entries) if start < end => entries
                            .range(start.clone()..end.clone())
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                        _ => Vec::new(),
                    };
                    assert_eq!(got, expected, "range {start:?}..{end:?} of {name}");
                }
            }
        }
        check(&store, &model);
    }
}

proptest! {
    // Every commit is a real fsync; 24 sequences of up to 24 steps keep this to a
    // few seconds while still reaching reopen-after-drop-after-overwrite orders.
    // Raise with PROPTEST_CASES for a deeper run.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(24),
        ..ProptestConfig::default()
    })]

    #[test]
    fn redb_store_matches_a_btreemap_model(steps in proptest::collection::vec(step(), 1..24)) {
        let dir = tempfile::tempdir().expect("temp dir");
        run(&dir.path().join("model.redb"), steps);
    }
}
