//! Conformance against the aas-core3.0-testgen corpus
//! (`$TWINSPACE_CORPORA/aas/testgen`): every `Expected` file (JSON and XML)
//! reads strictly, verifies clean and round-trips through its own format and the
//! other one; every `Unexpected/Invalid/<cause>` file reads but is flagged by
//! verification; every `Unexpected/Unserializable/<cause>` file is refused by
//! the reader. Counts are printed per folder and cause, failures by name, and the
//! totals reached are asserted so that a regression fails the test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aas::{Class, Environment, EventPayload, ReadError, verify};

fn corpora() -> PathBuf {
    match std::env::var_os("TWINSPACE_CORPORA") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora"),
    }
}

/// Every file under `dir`, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Format {
    Json,
    Xml,
}

fn read<T: Class>(format: Format, text: &str) -> Result<T, ReadError> {
    match format {
        Format::Json => aas::json::from_str(text),
        Format::Xml => aas::xml::from_str(text),
    }
}

fn write<T: Class>(format: Format, value: &T) -> String {
    match format {
        Format::Json => aas::json::to_string(value),
        Format::Xml => aas::xml::to_string(value),
    }
}

/// What happened to one expected file, or `Ok` when it passed.
fn check_expected<T: Class + PartialEq + std::fmt::Debug>(
    format: Format,
    text: &str,
) -> Result<(), String> {
    let value: T = read(format, text).map_err(|err| format!("refused: {err}"))?;
    let problems = verify(&value);
    if let Some(problem) = problems.first() {
        return Err(format!(
            "flagged ({} problems), first: {problem}",
            problems.len()
        ));
    }
    for target in [Format::Json, Format::Xml] {
        let written = write(target, &value);
        let back: T = read(target, &written)
            .map_err(|err| format!("{target:?} round trip refused: {err}"))?;
        if back != value {
            return Err(format!("{target:?} round trip changed the value"));
        }
    }
    Ok(())
}

/// The constraints a file of an `Invalid` cause may be flagged with; the
/// constraint-violation files name the constraint in their file name.
fn expected_constraints(cause: &str, stem: &str) -> &'static [&'static str] {
    match cause {
        "ConstraintViolation" => match stem {
            "first_key_not_in_globally_identifiables" => &["AASd-121"],
            "for_an_external_reference_first_key_not_in_generic_globally_identifiables" => {
                &["AASd-122"]
            }
            "for_a_model_reference_first_key_not_in_aas_identifiables" => &["AASd-123"],
            "for_an_external_reference_invalid_last_key" => &["AASd-124"],
            "for_a_model_reference_second_key_not_in_fragment_keys" => &["AASd-125"],
            "for_a_model_reference_fragment_reference_in_the_middle" => &["AASd-126"],
            "for_a_model_reference_fragment_reference_not_after_file_or_blob" => &["AASd-127"],
            "for_a_model_reference_invalid_key_value_after_submodel_element_list" => &["AASd-128"],
            "against_semantic_id_list_element" => &["AASd-107"],
            "against_type_value_list_element" => &["AASd-108"],
            "against_value_type_list_element" => &["AASd-109"],
            "no_semantic_id_list_element_but_semantic_id_mismatch_in_value" => &["AASd-114"],
            "id_short_in_a_value" => &["AASd-120"],
            _ => &[],
        },
        "SetViolation" => &["AASd-090"],
        "MaxLengthViolation" => &["maxLength"],
        "MinLengthViolation" => &["minLength", "minItems"],
        "PatternViolation" => &[
            "AASd-002",
            "AASd-130",
            "pattern",
            "BCP47",
            "MIME",
            "RFC2396",
            "xs:dateTime",
            "xs:duration",
        ],
        "InvalidValueExample" => &["valueType", "AASd-020"],
        "InvalidMinMaxExample" => &["valueType"],
        "DateTimeUtcViolationOnFebruary29th" => &["xs:dateTime"],
        _ => &[],
    }
}

fn check_invalid<T: Class>(
    format: Format,
    text: &str,
    cause: &str,
    stem: &str,
) -> Result<(), String> {
    let value: T =
        read(format, text).map_err(|err| format!("refused instead of flagged: {err}"))?;
    let problems = verify(&value);
    let expected = expected_constraints(cause, stem);
    if problems.is_empty() {
        Err("verified clean".to_owned())
    } else if !problems.iter().any(|p| expected.contains(&p.constraint)) {
        Err(format!(
            "flagged, but not for {expected:?}: {}",
            problems[0]
        ))
    } else {
        Ok(())
    }
}

/// Whether the reader refused for the reason the folder names.
fn refused_for(cause: &str, error: &ReadError) -> bool {
    match cause {
        "EnumViolation" => matches!(error, ReadError::UnknownLiteral { .. }),
        "InvalidModelType" | "MissingModelType" => matches!(error, ReadError::WrongClass { .. }),
        "NullViolation" => matches!(error, ReadError::WrongType { found, .. } if found == "null"),
        "RequiredViolation" => matches!(error, ReadError::MissingProperty { .. }),
        "TypeViolation" => matches!(error, ReadError::WrongType { .. }),
        "UnexpectedAdditionalProperty" => matches!(error, ReadError::UnknownProperty { .. }),
        _ => false,
    }
}

fn check_unserializable<T: Class>(format: Format, text: &str, cause: &str) -> Result<(), String> {
    match read::<T>(format, text) {
        Err(err) if refused_for(cause, &err) => Ok(()),
        Err(err) => Err(format!("refused, but not for {cause}: {err}")),
        Ok(_) => Err("read without error".to_owned()),
    }
}

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: Vec<String>,
}

#[test]
fn testgen_corpus() {
    let root = corpora().join("aas/testgen");
    if !root.join("Json").is_dir() {
        eprintln!(
            "testgen corpus not found at {}; set TWINSPACE_CORPORA to the folder holding aas/testgen",
            root.display()
        );
        return;
    }
    // (format, kind, cause) -> tally; kind is Expected / Invalid / Unserializable.
    let mut tallies: BTreeMap<(Format, String, String), Tally> = BTreeMap::new();
    for (format, folder) in [(Format::Json, "Json"), (Format::Xml, "Xml")] {
        for path in files(&root.join(folder)) {
            let relative = path.strip_prefix(root.join(folder)).unwrap_or(&path);
            let parts: Vec<String> = relative
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            // ContainedInEnvironment|SelfContained / Expected / Class / ...
            // ContainedInEnvironment|SelfContained / Unexpected / Invalid|Unserializable / Cause / Class / ...
            let (kind, cause, class) = match parts.get(1).map(String::as_str) {
                Some("Expected") => ("Expected".to_owned(), parts[2].clone(), parts[2].clone()),
                Some("Unexpected") if parts.len() > 4 => {
                    (parts[2].clone(), parts[3].clone(), parts[4].clone())
                }
                _ => continue,
            };
            let self_contained = parts[0] == "SelfContained";
            let Ok(text) = std::fs::read_to_string(&path) else {
                panic!("cannot read {}", path.display());
            };
            let event_payload = self_contained && class.eq_ignore_ascii_case("eventPayload");
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let outcome = match (kind.as_str(), event_payload) {
                ("Expected", false) => check_expected::<Environment>(format, &text),
                ("Expected", true) => check_expected::<EventPayload>(format, &text),
                ("Invalid", false) => check_invalid::<Environment>(format, &text, &cause, &stem),
                ("Invalid", true) => check_invalid::<EventPayload>(format, &text, &cause, &stem),
                (_, false) => check_unserializable::<Environment>(format, &text, &cause),
                (_, true) => check_unserializable::<EventPayload>(format, &text, &cause),
            };
            // Expected files are tallied per folder class; the others per cause.
            let tally = tallies.entry((format, kind.clone(), cause)).or_default();
            match outcome {
                Ok(()) => tally.passed += 1,
                Err(why) => tally.failed.push(format!("{}: {why}", relative.display())),
            }
        }
    }
    let mut totals: BTreeMap<(Format, String), (usize, usize)> = BTreeMap::new();
    for ((format, kind, cause), tally) in &tallies {
        let total = tally.passed + tally.failed.len();
        println!("{format:?} {kind} {cause}: {}/{total}", tally.passed);
        for failure in tally.failed.iter().take(20) {
            println!("    FAIL {failure}");
        }
        if tally.failed.len() > 20 {
            println!("    … and {} more", tally.failed.len() - 20);
        }
        let entry = totals.entry((*format, kind.clone())).or_default();
        entry.0 += tally.passed;
        entry.1 += total;
    }
    for ((format, kind), (passed, total)) in &totals {
        println!("TOTAL {format:?} {kind}: {passed}/{total}");
    }
    // The levels reached (every file of the corpus at commit a8c4155); a drop is
    // a regression.
    let reached: &[(Format, &str, usize)] = &[
        (Format::Json, "Expected", 2574),
        (Format::Json, "Invalid", 1573),
        (Format::Json, "Unserializable", 464),
        (Format::Xml, "Expected", 2574),
        (Format::Xml, "Invalid", 1407),
        (Format::Xml, "Unserializable", 376),
    ];
    for (format, kind, minimum) in reached {
        let passed = totals
            .get(&(*format, (*kind).to_owned()))
            .map_or(0, |t| t.0);
        assert!(
            passed >= *minimum,
            "{format:?} {kind}: {passed} passed, fewer than the {minimum} reached before"
        );
    }
}
