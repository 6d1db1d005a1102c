//! Feeds arbitrary bytes to the chunk decoder: it must return points or an
//! error, never panic or allocate without bound. Whatever decodes must encode
//! again and decode to the same points (bit for bit).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(points) = history::chunk::decode(data) {
        let again = history::chunk::encode(&points);
        let decoded = history::chunk::decode(&again).expect("a re-encoded chunk decodes");
        assert_eq!(decoded, points, "re-encoding changes nothing");
    }
});
