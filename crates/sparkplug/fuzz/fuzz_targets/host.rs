//! Feeds arbitrary messages to one Sparkplug host: the input is a sequence of
//! records `[topic selector][payload length: 2 bytes][payload]`, the selector
//! choosing among the message types of one edge node and device (so births, data
//! and deaths meet each other's state) or a raw topic. Never panics; memory stays
//! bounded by the host's limits.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sparkplug::{Host, HostConfig};

const TOPICS: [&str; 9] = [
    "spBv1.0/g/NBIRTH/e",
    "spBv1.0/g/NDATA/e",
    "spBv1.0/g/NDEATH/e",
    "spBv1.0/g/DBIRTH/e/d",
    "spBv1.0/g/DDATA/e/d",
    "spBv1.0/g/DDEATH/e/d",
    "spBv1.0/g/NCMD/e",
    "spBv1.0/STATE/h",
    "spBv1.0/g/NDATA/e/extra",
];

fuzz_target!(|data: &[u8]| {
    let mut config = HostConfig::new("fuzz");
    config.reorder_timeout_ms = 5;
    let mut host = Host::new(config);
    let mut rest = data;
    let mut now = 0u64;
    while let [selector, hi, lo, tail @ ..] = rest {
        let len = (usize::from(*hi) << 8 | usize::from(*lo)).min(tail.len());
        let (payload, next) = tail.split_at(len);
        now += u64::from(*selector >> 4);
        let _ = host.handle(TOPICS[usize::from(*selector) % TOPICS.len()], payload, now);
        if selector & 1 == 1 {
            let _ = host.tick(now);
        }
        rest = next;
    }
    // The whole input as one payload on a birth topic, the decoder's worst case.
    let _ = host.handle(TOPICS[0], data, now);
    let _ = sparkplug::Topic::parse(&String::from_utf8_lossy(data));
});
