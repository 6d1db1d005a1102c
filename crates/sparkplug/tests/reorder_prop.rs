//! Property: a stream of births and data, shuffled within the reorder window and
//! delivered before the reorder timeout, yields the same final values as the same
//! stream in order, with no rejection and no rebirth request.

mod common;

use std::collections::BTreeMap;

use common::*;
use proptest::prelude::*;
use sparkplug::{Event, HELD_PER_NODE_MAX, Host, Value};

/// Messages of one edge node after its NBIRTH: (topic, payload).
fn stream(values: &[(bool, u64, f64)]) -> Vec<(String, Vec<u8>)> {
    // seq 1 is the device birth, then data for the node (aliases 1, 2) or the
    // device (alias 10), each message one more seq, wrapping at 256.
    let mut out = vec![("spBv1.0/g/DBIRTH/e/d".to_string(), dbirth(1))];
    for (i, (device, alias, v)) in values.iter().enumerate() {
        let seq = (i as u64 + 2) % 256;
        let (topic, alias) = if *device {
            ("spBv1.0/g/DDATA/e/d", 10)
        } else {
            ("spBv1.0/g/NDATA/e", 1 + alias % 2)
        };
        out.push((
            topic.to_string(),
            payload(Some(seq), 0, vec![by_alias(alias, *v)]),
        ));
    }
    out
}

fn final_values(
    host: &mut Host,
    messages: &[(String, Vec<u8>)],
) -> (BTreeMap<(String, String), Value>, usize, usize) {
    let mut state = BTreeMap::new();
    let (mut rejected, mut actions) = (0, 0);
    let mut apply = |events: Vec<Event>| {
        for e in events {
            match e {
                Event::Birth { twin, metrics, .. } => {
                    for m in metrics {
                        state.insert((twin.clone(), m.name), m.value);
                    }
                }
                Event::Data { twin, values, .. } => {
                    for s in values {
                        state.insert((twin.clone(), s.name), s.value);
                    }
                }
                Event::Stale { .. } => {}
            }
        }
    };
    let out = host.handle("spBv1.0/g/NBIRTH/e", &nbirth(0), 0);
    apply(out.events);
    for (i, (topic, bytes)) in messages.iter().enumerate() {
        // Arrivals are 1 ms apart: all well inside the 1 s reorder timeout.
        let out = host.handle(topic, bytes, 1 + i as u64);
        rejected += out.rejected.len();
        actions += out.actions.len();
        apply(out.events);
    }
    (state, rejected, actions)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn shuffled_within_the_window_gives_the_in_order_result(
        values in proptest::collection::vec((any::<bool>(), 0u64..2, -1e6f64..1e6), 0..300),
        jitter in proptest::collection::vec(0usize..HELD_PER_NODE_MAX, 301),
    ) {
        let in_order = stream(&values);
        // Each message moves ahead by at most the window: sort by index + jitter.
        let mut keyed: Vec<(usize, usize)> = (0..in_order.len()).map(|i| (i + jitter[i] / 2, i)).collect();
        keyed.sort();
        let shuffled: Vec<(String, Vec<u8>)> = keyed.iter().map(|(_, i)| in_order[*i].clone()).collect();

        let (expected, r1, a1) = final_values(&mut host(), &in_order);
        let (got, r2, a2) = final_values(&mut host(), &shuffled);
        prop_assert_eq!((r1, a1, r2, a2), (0, 0, 0, 0));
        prop_assert_eq!(got, expected);
    }
}
