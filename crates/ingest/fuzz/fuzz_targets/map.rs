//! Feeds arbitrary bytes to the mapping engine as a rule set, a topic and a
//! payload. The input is split at the first two NUL bytes: rules (JSON), topic,
//! payload; inputs without them go to the default rule alone. Whatever arrives,
//! compiling and mapping must answer, never panic, and an update must name a
//! valid world and twin with names that patch cleanly.

#![no_main]

use libfuzzer_sys::fuzz_target;
use world::Timestamp;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == 0);
    let (rules, topic, payload) = match (parts.next(), parts.next(), parts.next()) {
        (Some(rules), Some(topic), Some(payload)) => (rules, topic, payload),
        _ => (&b"[]"[..], &b"twinspace/w/t"[..], data),
    };
    let Ok(topic) = std::str::from_utf8(topic) else { return };
    let rules: Vec<ingest::Rule> = serde_json::from_slice(rules).unwrap_or_default();
    let Ok(mapper) = ingest::Mapper::new(rules, true) else { return };
    let _ = mapper.world_of(topic);
    let _ = mapper.dead_letter_of(topic);
    match mapper.map(topic, payload, Timestamp(1_700_000_000_000_000_000)) {
        ingest::MapOutcome::Mapped(update) => {
            assert!(world::WorldId::parse(update.world.as_str()).is_ok());
            assert!(world::TwinId::parse(update.twin.as_str()).is_ok());
            assert!(update.values.len() <= ingest::VALUES_PER_MESSAGE_MAX);
            let patch = serde_json::to_value(update.property_patch()).expect("a patch serializes");
            assert!(patch.is_array());
        }
        ingest::MapOutcome::Rejected(rejection) => assert!(!rejection.detail.is_empty()),
        ingest::MapOutcome::Unmatched => {}
    }
});
