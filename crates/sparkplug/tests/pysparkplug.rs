//! Cross-check against an independent encoder: `pysparkplug_encode.py` encodes
//! births, data by alias, a device and a death with PyPI's `pysparkplug`; we feed
//! the bytes to our host and compare every value with what the script expects.
//! Runs when env `TWINSPACE_SPARKPLUG_VENV` names a virtualenv with `pysparkplug`,
//! else says how to make one and returns. It is a venv of its own because
//! pysparkplug pins paho-mqtt 1.x while the MQTT tests use paho-mqtt 2.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use sparkplug::{Event, Host, HostConfig};

/// Values that matched in the last full run (29 datatypes in the birth and again in
/// alias-only data, two device-birth metrics, one device datum, and the death's
/// stale marking of node and device): a drop is a regression.
const PASSES_MIN: usize = 29 + 29 + 2 + 1 + 2;

#[test]
fn pysparkplug_messages_decode_to_the_values_it_encoded() {
    let Some(venv) = std::env::var_os("TWINSPACE_SPARKPLUG_VENV").map(PathBuf::from) else {
        eprintln!(
            "skipped: set TWINSPACE_SPARKPLUG_VENV to a virtualenv with pysparkplug, e.g.\n  \
             python3 -m venv /tmp/spb-venv && /tmp/spb-venv/bin/pip install pysparkplug==0.6.1\n  \
             TWINSPACE_SPARKPLUG_VENV=/tmp/spb-venv cargo test -p sparkplug --test pysparkplug -- --nocapture"
        );
        return;
    };
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/pysparkplug_encode.py");
    let output = Command::new(venv.join("bin/python"))
        .arg(&script)
        .output()
        .expect("run python from TWINSPACE_SPARKPLUG_VENV");
    assert!(
        output.status.success(),
        "pysparkplug script failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let mut host = Host::new(HostConfig::new("twinspace"));
    let (mut passes, mut failures) = (0usize, Vec::new());
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let case: serde_json::Value = serde_json::from_str(line).expect("script prints JSON lines");
        let topic = case["topic"].as_str().unwrap_or_default();
        let bytes = hex(case["payload"].as_str().unwrap_or_default());
        let out = host.handle(topic, &bytes, 1);
        for r in &out.rejected {
            failures.push(format!("{topic}: rejected: {}", r.message));
        }
        let mut got = BTreeMap::new();
        for e in &out.events {
            match e {
                Event::Birth { metrics, .. } => {
                    got.extend(metrics.iter().map(|m| (m.name.clone(), m.value.to_json())));
                }
                Event::Data { values, .. } => {
                    got.extend(values.iter().map(|s| (s.name.clone(), s.value.to_json())))
                }
                Event::Stale { twin, .. } => {
                    passes += 1;
                    eprintln!("{topic}: {twin} marked stale");
                }
            }
        }
        for (name, want) in case["expect"].as_object().into_iter().flatten() {
            match got.get(name) {
                Some(v) if v == want => passes += 1,
                other => failures.push(format!("{topic}: {name}: expected {want}, got {other:?}")),
            }
        }
    }
    eprintln!(
        "pysparkplug cross-check: {passes} values matched, {} failures",
        failures.len()
    );
    for f in &failures {
        eprintln!("  FAIL {f}");
    }
    assert!(
        passes >= PASSES_MIN,
        "{passes} < {PASSES_MIN}: {failures:#?}"
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap_or(0))
        .collect()
}
