//! History as the server uses it: appends whose writes are committed to a real
//! `RedbStore`, reads checked against a plain model (every point ever written,
//! last write wins), restarts that must rebuild the same reads, retention, and
//! the documented rules for out-of-order and duplicate timestamps.

use std::collections::BTreeMap;

use history::{EXISTS_FIELD, History, HistoryConfig, Point, Sample, Value};
use proptest::prelude::*;
use store::{Batch, RedbStore, Store, Write};
use world::{Timestamp, TwinId, WorldId};

fn commit(store: &dyn Store, writes: Vec<Write>) {
    store.commit(&[Batch { writes }]).unwrap();
}

fn twin(id: &str) -> TwinId {
    TwinId::parse(id).unwrap()
}

fn small_config() -> HistoryConfig {
    HistoryConfig {
        chunk_points_max: 8,
        chunk_span_max_ns: 1_000,
        retention_ns: None,
        head_points_max: 64,
        cache_bytes_max: 1500,
        log_bytes_max: 400,
    }
}

/// A field's path, time and value as `world_at` reports it.
type FieldAt = (String, i64, Value);

/// The model: per (twin, field), time → value, the last write winning.
type Model = BTreeMap<(String, String), BTreeMap<i64, Value>>;

fn append(
    history: &mut History,
    store: &dyn Store,
    model: &mut Model,
    samples: &[(&str, &str, i64, Value)],
) {
    let twins: Vec<TwinId> = samples.iter().map(|s| twin(s.0)).collect();
    let writes = history
        .append(
            store,
            samples.iter().zip(&twins).map(|(s, t)| Sample {
                twin: t,
                field: s.1,
                time: Timestamp(s.2),
                value: s.3.clone(),
            }),
        )
        .unwrap();
    commit(store, writes);
    for (t, f, time, value) in samples {
        model
            .entry((t.to_string(), f.to_string()))
            .or_default()
            .insert(*time, value.clone());
    }
}

fn all_points(history: &History, store: &dyn Store, twin: &str, field: &str) -> Vec<Point> {
    let mut points = Vec::new();
    let mut from = Timestamp(i64::MIN);
    for _ in 0..10_000 {
        let page = history
            .range(store, twin, field, from, Timestamp(i64::MAX), 7)
            .unwrap();
        assert!(page.points.len() <= 7);
        points.extend(page.points);
        match page.next {
            Some(next) => {
                assert!(next > from, "continuation must move forward");
                from = next;
            }
            None => return points,
        }
    }
    panic!("range pages did not end");
}

fn model_points(model: &Model, twin: &str, field: &str) -> Vec<Point> {
    model
        .get(&(twin.to_owned(), field.to_owned()))
        .map(|series| {
            series
                .iter()
                .map(|(t, v)| Point {
                    time: Timestamp(*t),
                    value: v.clone(),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn check_against_model(history: &History, store: &dyn Store, model: &Model) {
    for (twin, field) in model.keys() {
        let expected = model_points(model, twin, field);
        assert_eq!(
            all_points(history, store, twin, field),
            expected,
            "{twin}/{field}"
        );
        // Latest at a few instants.
        for probe in expected
            .iter()
            .map(|p| p.time.0)
            .chain([i64::MIN, i64::MAX])
        {
            for at in [probe.saturating_sub(1), probe, probe.saturating_add(1)] {
                let want = expected.iter().rev().find(|p| p.time.0 <= at).cloned();
                let got = history
                    .latest_at(store, twin, field, Timestamp(at))
                    .unwrap();
                assert_eq!(got, want, "{twin}/{field} at {at}");
            }
        }
    }
}

#[test]
fn out_of_order_and_duplicate_points_follow_the_documented_rules() {
    let store = RedbStore::open_in_memory().unwrap();
    let world = WorldId::default_world();
    let mut history = History::new(world, small_config()).unwrap();
    let mut model = Model::new();
    // Within the open head: inserted in order, a duplicate time keeps the last.
    append(
        &mut history,
        &store,
        &mut model,
        &[
            ("pump", "rpm", 30, Value::I64(3)),
            ("pump", "rpm", 10, Value::I64(1)),
            ("pump", "rpm", 20, Value::I64(2)),
            ("pump", "rpm", 20, Value::I64(22)),
        ],
    );
    let times: Vec<(i64, Value)> = all_points(&history, &store, "pump", "rpm")
        .into_iter()
        .map(|p| (p.time.0, p.value))
        .collect();
    assert_eq!(
        times,
        vec![
            (10, Value::I64(1)),
            (20, Value::I64(22)),
            (30, Value::I64(3))
        ]
    );
    // Fill and seal the head, then write late points before the sealed horizon,
    // including a duplicate of a sealed time: the later write wins.
    let more: Vec<(&str, &str, i64, Value)> = (4..12)
        .map(|i| ("pump", "rpm", i * 10, Value::I64(i)))
        .collect();
    append(&mut history, &store, &mut model, &more);
    append(
        &mut history,
        &store,
        &mut model,
        &[
            ("pump", "rpm", 20, Value::I64(-20)),
            ("pump", "rpm", 15, Value::I64(-15)),
            ("pump", "rpm", 115, Value::I64(115)),
        ],
    );
    check_against_model(&history, &store, &model);
    let reopened = History::open(&store, WorldId::default_world(), small_config()).unwrap();
    check_against_model(&reopened, &store, &model);
}

#[test]
fn world_state_at_an_instant_follows_lifecycle_and_removals() {
    let store = RedbStore::open_in_memory().unwrap();
    let mut history = History::new(WorldId::default_world(), HistoryConfig::default()).unwrap();
    let mut model = Model::new();
    append(
        &mut history,
        &store,
        &mut model,
        &[
            ("a", EXISTS_FIELD, 0, Value::Bool(true)),
            ("a", "temperature", 0, Value::F64(20.5)),
            ("a", "mode", 0, Value::str("idle")),
            ("b", "temperature", 5, Value::F64(1.0)),
            ("a", "temperature", 10, Value::F64(21.5)),
            ("a", "mode", 20, Value::Null),
            ("a", EXISTS_FIELD, 30, Value::Bool(false)),
        ],
    );
    let state = |at: i64| -> Vec<(String, Vec<FieldAt>)> {
        history
            .world_at(&store, Timestamp(at))
            .unwrap()
            .into_iter()
            .map(|t| {
                (
                    t.twin.to_string(),
                    t.fields
                        .into_iter()
                        .map(|(f, p)| (f.to_string(), p.time.0, p.value))
                        .collect(),
                )
            })
            .collect()
    };
    assert_eq!(state(-1), vec![]);
    assert_eq!(
        state(4),
        vec![(
            "a".to_owned(),
            vec![
                ("mode".to_owned(), 0, Value::str("idle")),
                ("temperature".to_owned(), 0, Value::F64(20.5))
            ]
        )]
    );
    assert_eq!(
        state(25),
        vec![
            (
                "a".to_owned(),
                vec![("temperature".to_owned(), 10, Value::F64(21.5))]
            ),
            (
                "b".to_owned(),
                vec![("temperature".to_owned(), 5, Value::F64(1.0))]
            )
        ]
    );
    assert_eq!(
        state(30),
        vec![(
            "b".to_owned(),
            vec![("temperature".to_owned(), 5, Value::F64(1.0))]
        )]
    );
}

#[test]
fn refused_samples_change_nothing() {
    let mut history = History::new(WorldId::default_world(), HistoryConfig::default()).unwrap();
    let t = twin("a");
    let store = RedbStore::open_in_memory().unwrap();
    let result = history.append(
        &store,
        [
            Sample {
                twin: &t,
                field: "ok",
                time: Timestamp(1),
                value: Value::I64(1),
            },
            Sample {
                twin: &t,
                field: "bad//path",
                time: Timestamp(1),
                value: Value::I64(1),
            },
        ],
    );
    let error = result.unwrap_err().to_string();
    assert!(error.contains("bad//path"), "{error}");
    assert_eq!(history.series_count(), 0);
    let big = Value::Str("x".repeat(history::VALUE_BYTES_MAX + 1).into());
    assert!(
        history
            .append(
                &store,
                [Sample {
                    twin: &t,
                    field: "ok",
                    time: Timestamp(1),
                    value: big
                }]
            )
            .is_err()
    );
    assert_eq!(history.head_points(), 0);
}

#[test]
fn retention_drops_expired_chunks_and_keeps_the_rest() {
    let store = RedbStore::open_in_memory().unwrap();
    let config = HistoryConfig {
        retention_ns: Some(100),
        ..small_config()
    };
    let mut history = History::new(WorldId::default_world(), config).unwrap();
    let mut model = Model::new();
    let samples: Vec<(&str, &str, i64, Value)> = (0..40)
        .map(|i| ("s", "v", i * 10, Value::F64(i as f64)))
        .collect();
    append(&mut history, &store, &mut model, &samples);
    commit(&store, history.retain(&store, Timestamp(300)).unwrap());
    let left = all_points(&history, &store, "s", "v");
    // Chunks of 8 points: [0..70], [80..150], [160..230], [240..310], [320..390].
    // The cutoff is 200: only the chunks ending before it go.
    assert_eq!(left.first().map(|p| p.time.0), Some(160));
    assert_eq!(left.len(), 40 - 16);
}

#[test]
fn many_slow_series_stay_within_the_head_budget() {
    let store = RedbStore::open_in_memory().unwrap();
    let mut history = History::new(WorldId::default_world(), small_config()).unwrap();
    let mut model = Model::new();
    let names: Vec<String> = (0..50).map(|i| format!("t{i}")).collect();
    for round in 0..5 {
        let samples: Vec<(&str, &str, i64, Value)> = names
            .iter()
            .map(|n| (n.as_str(), "v", round, Value::I64(round)))
            .collect();
        append(&mut history, &store, &mut model, &samples);
        assert!(history.head_points() <= 64, "{}", history.head_points());
    }
    check_against_model(&history, &store, &model);
    let reopened = History::open(&store, WorldId::default_world(), small_config()).unwrap();
    // Only twins with points in the head log come back into memory.
    assert!(reopened.head_points() <= history.head_points());
    check_against_model(&reopened, &store, &model);
}

fn value_strategy() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-500i64..500).prop_map(|c| Value::F64(c as f64 / 10.0)),
        any::<u64>().prop_map(|b| Value::F64(f64::from_bits(b))),
        prop::sample::select(vec![f64::NAN, -0.0, f64::INFINITY, 5e-324]).prop_map(Value::F64),
        (-5i64..5).prop_map(Value::I64),
        any::<bool>().prop_map(Value::Bool),
        prop::sample::select(vec!["idle", "run", "fault"]).prop_map(Value::str),
        Just(Value::Null),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random appends in random order, with restarts in between and batches
    /// lost to a crash before their commit: every read agrees with the model of
    /// what was committed, before and after each restart.
    #[test]
    fn reads_agree_with_the_model_across_restarts(
        calls in prop::collection::vec(
            prop::collection::vec((0usize..3, 0usize..2, -50i64..400, value_strategy()), 1..12),
            1..14,
        ),
        restart_after in prop::collection::vec(any::<bool>(), 14),
        lost in prop::collection::vec(prop::bool::weighted(0.15), 14),
        float_only in any::<bool>(),
        tiny_cache in any::<bool>(),
    ) {
        // A one-byte cache writes every twin back after each append, so every
        // read and append goes through records and the not-yet-committed limbo.
        let small_config = || HistoryConfig {
            cache_bytes_max: if tiny_cache { 1 } else { 1500 },
            log_bytes_max: if tiny_cache { 1 } else { 400 },
            ..small_config()
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.redb");
        let mut store = RedbStore::open(&path).unwrap();
        let world = WorldId::parse("plant-1").unwrap();
        let mut history = History::open(&store, world.clone(), small_config()).unwrap();
        let mut model = Model::new();
        let twins = ["a", "b", "c"];
        let fields = ["x", "y"];
        for (index, call) in calls.iter().enumerate() {
            let samples: Vec<(&str, &str, i64, Value)> = call
                .iter()
                .map(|(t, f, time, v)| {
                    let value = if float_only { Value::F64(*time as f64 / 100.0) } else { v.clone() };
                    (twins[*t], fields[*f], time * 7, value)
                })
                .collect();
            if lost[index] {
                // A crash before the batch was committed: its writes never reach
                // the store, so after the restart none of its points exist.
                let twins_of: Vec<TwinId> = samples.iter().map(|s| twin(s.0)).collect();
                let _lost_writes = history
                    .append(&store, samples.iter().zip(&twins_of).map(|(s, t)| Sample {
                        twin: t,
                        field: s.1,
                        time: Timestamp(s.2),
                        value: s.3.clone(),
                    }))
                    .unwrap();
                drop(history);
                drop(store);
                store = RedbStore::open(&path).unwrap();
                history = History::open(&store, world.clone(), small_config()).unwrap();
                continue;
            }
            append(&mut history, &store, &mut model, &samples);
            if restart_after[index] {
                drop(history);
                drop(store);
                store = RedbStore::open(&path).unwrap();
                history = History::open(&store, world.clone(), small_config()).unwrap();
            }
        }
        check_against_model(&history, &store, &model);
        // Downsampling equals a naive computation over the model's points.
        for (twin, field) in model.keys() {
            let points = model_points(&model, twin, field);
            for buckets in [1usize, 3, 17] {
                let (from, to) = (-400i64, 2900i64);
                let got = history
                    .downsample(&store, twin, field, Timestamp(from), Timestamp(to), buckets)
                    .unwrap();
                prop_assert_eq!(got.len(), buckets);
                for bucket in &got {
                    let inside: Vec<&Point> = points
                        .iter()
                        .filter(|p| p.time >= bucket.start && p.time < bucket.end)
                        .collect();
                    let numbers: Vec<f64> = inside.iter().filter_map(|p| p.value.numeric()).collect();
                    prop_assert_eq!(bucket.count, inside.len() as u64);
                    prop_assert_eq!(bucket.numeric_count, numbers.len() as u64);
                    prop_assert_eq!(bucket.last.as_ref(), inside.last().copied());
                    let min = numbers.iter().copied().reduce(f64::min);
                    let max = numbers.iter().copied().reduce(f64::max);
                    prop_assert_eq!(bucket.min, min);
                    prop_assert_eq!(bucket.max, max);
                    // Chunk summaries add in a different grouping than the naive
                    // sum, so compare within rounding of the terms' magnitude (and
                    // only where that magnitude is finite).
                    let sum: f64 = numbers.iter().sum();
                    let magnitude: f64 = numbers.iter().map(|n| n.abs()).sum();
                    if magnitude.is_finite() {
                        let close = (bucket.sum - sum).abs() <= 1e-12 * magnitude.max(1.0);
                        prop_assert!(close, "sum {} vs {}", bucket.sum, sum);
                    }
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Commits that lag behind appends (as group commit makes them) with a cache
    /// so small that twins are evicted and read back while their records are not
    /// yet committed: once everything is committed, reads and a reopened history
    /// agree with the model.
    #[test]
    fn lagging_commits_with_evictions_lose_nothing(
        calls in prop::collection::vec(
            prop::collection::vec((0usize..6, 0usize..3, 0i64..300, value_strategy()), 1..10),
            1..24,
        ),
        lag in 0usize..5,
        cache_bytes_max in prop::sample::select(vec![1usize, 700, 3000]),
    ) {
        let store = RedbStore::open_in_memory().unwrap();
        let config = HistoryConfig {
            cache_bytes_max,
            log_bytes_max: 300,
            ..small_config()
        };
        let mut history = History::new(WorldId::parse("lag").unwrap(), config.clone()).unwrap();
        let mut model = Model::new();
        let twins: Vec<TwinId> = (0..6).map(|i| twin(&format!("t{i}"))).collect();
        let fields = ["x", "y", "motor/rpm"];
        let mut in_flight: std::collections::VecDeque<Vec<Write>> = Default::default();
        for call in &calls {
            let writes = history
                .append(&store, call.iter().map(|(t, f, time, v)| Sample {
                    twin: &twins[*t],
                    field: fields[*f],
                    time: Timestamp(*time),
                    value: v.clone(),
                }))
                .unwrap();
            for (t, f, time, v) in call {
                model
                    .entry((twins[*t].to_string(), fields[*f].to_owned()))
                    .or_default()
                    .insert(*time, v.clone());
            }
            in_flight.push_back(writes);
            while in_flight.len() > lag {
                let Some(writes) = in_flight.pop_front() else { break };
                commit(&store, writes);
            }
        }
        for writes in in_flight {
            commit(&store, writes);
        }
        check_against_model(&history, &store, &model);
        // The world at an instant, whole and in pages of two, agree.
        for at in [0i64, 150, 299] {
            let whole = history.world_at(&store, Timestamp(at)).unwrap();
            let mut paged = Vec::new();
            let mut after: Option<TwinId> = None;
            for _ in 0..10 {
                let page = history.world_at_page(&store, Timestamp(at), after.as_ref(), 2).unwrap();
                prop_assert!(page.twins.len() <= 2);
                paged.extend(page.twins);
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            prop_assert_eq!(paged, whole);
        }
        let reopened = History::open(&store, WorldId::parse("lag").unwrap(), config).unwrap();
        check_against_model(&reopened, &store, &model);
        let fields_of_t0 = reopened.fields(&store, "t0").unwrap();
        let expected: Vec<String> = model.keys().filter(|(t, _)| t == "t0").map(|(_, f)| f.clone()).collect();
        let got: Vec<String> = fields_of_t0.iter().map(|f| f.to_string()).collect();
        prop_assert_eq!(got, expected);
    }
}

/// Memory and restart follow the recently written twins: after 3,000 twins
/// are created and a few stay hot, a reopened history holds only twins with
/// points in the head log, and everything still reads back.
#[test]
fn reopening_loads_the_hot_twins_only() {
    let store = RedbStore::open_in_memory().unwrap();
    let config = HistoryConfig {
        cache_bytes_max: 256 * 1024,
        ..HistoryConfig::default()
    };
    let world = WorldId::parse("big").unwrap();
    let mut history = History::new(world.clone(), config.clone()).unwrap();
    let twins: Vec<TwinId> = (0..3000).map(|i| twin(&format!("m-{i:05}"))).collect();
    for (batch, chunk) in twins.chunks(100).enumerate() {
        let samples: Vec<Sample<'_>> = chunk
            .iter()
            .flat_map(|t| {
                [EXISTS_FIELD, "a", "b"]
                    .into_iter()
                    .map(move |field| Sample {
                        twin: t,
                        field,
                        time: Timestamp(batch as i64),
                        value: if field == EXISTS_FIELD {
                            Value::Bool(true)
                        } else {
                            Value::I64(batch as i64)
                        },
                    })
            })
            .collect();
        commit(&store, history.append(&store, samples).unwrap());
    }
    assert_eq!(history.series_count(), 9000);
    assert!(
        history.cache_bytes() <= 256 * 1024,
        "{}",
        history.cache_bytes()
    );
    // Five hot twins get ten more points each.
    for round in 0..10 {
        let samples: Vec<Sample<'_>> = twins[..5]
            .iter()
            .map(|t| Sample {
                twin: t,
                field: "a",
                time: Timestamp(100 + round),
                value: Value::F64(round as f64),
            })
            .collect();
        commit(&store, history.append(&store, samples).unwrap());
    }
    let reopened = History::open(&store, world, config).unwrap();
    assert_eq!(reopened.cached_twins(), 5, "only the hot twins come back");
    // $exists and b hold one point each, a its first and ten more.
    assert_eq!(reopened.head_points(), 5 * 13);
    assert_eq!(reopened.series_count(), 9000);
    let last = reopened
        .latest_at(&store, "m-00000", "a", Timestamp(i64::MAX))
        .unwrap()
        .unwrap();
    assert_eq!(last.value, Value::F64(9.0));
    let cold = reopened
        .latest_at(&store, "m-02999", "b", Timestamp(i64::MAX))
        .unwrap()
        .unwrap();
    assert_eq!(cold.value, Value::I64(29));
    assert_eq!(reopened.twins(&store).unwrap().len(), 3000);
    let page = reopened
        .world_at_page(&store, Timestamp(5), None, 1000)
        .unwrap();
    assert_eq!(page.twins.len(), 600, "twins created in batches 0 to 5");
    assert!(page.next.is_none());
    assert!(
        reopened
            .world_at_page(&store, Timestamp(5), None, 0)
            .is_err()
    );
}

/// A twin whose heads hold more points together than a record may decode
/// (`RECORD_HEAD_POINTS_MAX`, 262,144) gets its largest heads sealed when its
/// record is written, so the record reads back after a restart.
#[test]
fn a_twin_with_many_long_heads_writes_a_record_that_reads_back() {
    let store = RedbStore::open_in_memory().unwrap();
    let config = HistoryConfig {
        chunk_points_max: history::CHUNK_POINTS_MAX,
        head_points_max: 1 << 22,
        // Every append writes the twin back.
        cache_bytes_max: 1,
        ..HistoryConfig::default()
    };
    let world = WorldId::default_world();
    let mut history = History::new(world.clone(), config.clone()).unwrap();
    let machine = twin("machine");
    let fields: Vec<String> = (0..17).map(|i| format!("f{i}")).collect();
    // 17 heads one point short of sealing: 278,511 points together.
    let per_field = history::CHUNK_POINTS_MAX as i64 - 1;
    let samples = fields.iter().flat_map(|field| {
        let machine = &machine;
        (0..per_field).map(move |t| Sample {
            twin: machine,
            field,
            time: Timestamp(t),
            value: Value::I64(t),
        })
    });
    commit(&store, history.append(&store, samples).unwrap());
    let reopened = History::open(&store, world, config).unwrap();
    for field in &fields {
        let last = reopened
            .latest_at(&store, "machine", field, Timestamp(i64::MAX))
            .unwrap()
            .unwrap();
        assert_eq!(last.value, Value::I64(per_field - 1), "{field}");
    }
}
