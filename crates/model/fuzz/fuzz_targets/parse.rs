//! Fuzz target: arbitrary bytes as one or two model documents. The parser
//! must answer with models or problems, never panic, overflow the stack or
//! hang; a rejected batch must leave the set unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use model::{ModelSet, ModelSource, ParseOptions};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // A 0xFF byte splits the input into two documents, so cross-document
    // references and duplicate ids get exercised too.
    let sources: Vec<ModelSource> = text
        .split('\u{fffd}')
        .take(2)
        .enumerate()
        .map(|(i, part)| ModelSource { name: format!("doc{i}.json"), text: part.to_owned() })
        .collect();
    for allow in [false, true] {
        let mut set = ModelSet::with_options(ParseOptions { allow_undefined_extensions: allow });
        if set.add(&sources).is_err() {
            assert!(set.is_empty());
        }
    }
});
