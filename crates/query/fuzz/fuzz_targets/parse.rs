//! Feeds arbitrary bytes to the query parser: it must never panic, its error spans
//! must lie inside the input, and whatever parses must re-print to text that parses
//! back to the same query.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match query::parse(text) {
        Err(err) => {
            assert!(err.offset + err.len <= text.len());
            assert!(
                text.is_char_boundary(err.offset) && text.is_char_boundary(err.offset + err.len)
            );
        }
        Ok(parsed) => {
            let printed = parsed.to_string();
            let again = query::parse(&printed).expect("the re-print of a valid query parses");
            assert_eq!(again.to_string(), printed);
        }
    }
});
