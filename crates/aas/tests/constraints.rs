//! Keeps `CONSTRAINTS.md` true: the ids it lists as checked are exactly the
//! constraint ids `src/verify.rs` reports.

use std::collections::BTreeSet;

/// Every `AASd-…`/`AASc-3a-…` id in a text.
fn ids(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for prefix in ["AASd-", "AASc-3a-"] {
        let mut rest = text;
        while let Some(at) = rest.find(prefix) {
            let tail = &rest[at + prefix.len()..];
            let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
            if !digits.is_empty() {
                found.insert(format!("{prefix}{digits}"));
            }
            rest = &rest[at + prefix.len()..];
        }
    }
    found
}

#[test]
fn constraints_md_lists_what_verify_checks() {
    let root = env!("CARGO_MANIFEST_DIR");
    let doc = std::fs::read_to_string(format!("{root}/CONSTRAINTS.md")).unwrap();
    let source = std::fs::read_to_string(format!("{root}/src/verify.rs")).unwrap();
    let checked_section = doc.split("## Not checked").next().unwrap();
    // Ids the verifier reports: string literals passed as a constraint.
    let reported: BTreeSet<String> = source
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|literal| {
            ids(literal).len() == 1 && ids(literal).iter().next().is_some_and(|id| id == literal)
        })
        .map(str::to_owned)
        .collect();
    assert_eq!(
        ids(checked_section),
        reported,
        "CONSTRAINTS.md's checked table and verify.rs disagree"
    );
}
