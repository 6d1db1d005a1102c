//! Feeds arbitrary bytes to the JSON and XML readers, strict and lenient: each
//! must answer with a value or an error, never panic or overflow the stack. A
//! value that reads must verify without panicking and come back equal from its
//! own format; one that verifies clean must also come back equal from the other.

#![no_main]

use aas::{Environment, ReadOptions};
use libfuzzer_sys::fuzz_target;

fn check(environment: &Environment) {
    let problems = aas::verify(environment);
    let json = aas::json::to_string(environment);
    let back: Environment = aas::json::from_str(&json).expect("written JSON reads back");
    assert_eq!(&back, environment, "JSON round trip");
    if problems.is_empty() {
        let xml = aas::xml::to_string(environment);
        let back: Environment = aas::xml::from_str(&xml).expect("written XML reads back");
        assert_eq!(&back, environment, "XML round trip");
    }
}

fuzz_target!(|data: &[u8]| {
    for options in [ReadOptions::STRICT, ReadOptions::LENIENT] {
        if let Ok((environment, _)) = aas::json::from_slice_with::<Environment>(data, options) {
            check(&environment);
        }
        if let Ok((environment, _)) = aas::xml::from_slice_with::<Environment>(data, options) {
            check(&environment);
        }
    }
});
