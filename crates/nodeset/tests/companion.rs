//! Imports real companion specifications from the npm package
//! `node-opcua-nodesets` (DI, Machinery, MachineTool, PackML, Robotics, with the
//! base `Opc.Ua.NodeSet2.xml` from the same package) and checks that the generated
//! DTDL loads into the team's DTDL validator. The folder comes from the environment
//! variable `TWINSPACE_NODESETS`; without it the test says how to install the
//! package and returns.

use std::path::{Path, PathBuf};
use std::time::Instant;

use nodeset::{NodeSet, dependencies, import, parse_nodeset};
use serde_json::Value;

const INSTALL: &str = "npm install node-opcua-nodesets@2.185.0 --prefix /tmp/nodesets && \
     export TWINSPACE_NODESETS=/tmp/nodesets/node_modules/node-opcua-nodesets/nodesets";

/// The folder holding `Opc.Ua.NodeSet2.xml`: the variable may name it, the package
/// folder, or the npm prefix.
fn folder() -> Option<PathBuf> {
    let Ok(root) = std::env::var("TWINSPACE_NODESETS") else {
        eprintln!("TWINSPACE_NODESETS is not set; skipping. To run: {INSTALL}");
        return None;
    };
    let root = PathBuf::from(root);
    let candidates = [
        root.clone(),
        root.join("nodesets"),
        root.join("node_modules/node-opcua-nodesets/nodesets"),
    ];
    let found = candidates
        .into_iter()
        .find(|dir| dir.join("Opc.Ua.NodeSet2.xml").is_file());
    if found.is_none() {
        eprintln!(
            "no Opc.Ua.NodeSet2.xml under {}; skipping. To run: {INSTALL}",
            root.display()
        );
    }
    found
}

fn load(dir: &Path, files: &[&str]) -> Vec<NodeSet> {
    files
        .iter()
        .map(|file| {
            let text = std::fs::read_to_string(dir.join(file))
                .unwrap_or_else(|error| panic!("reading {file}: {error}"));
            parse_nodeset(&text).unwrap_or_else(|error| panic!("parsing {file}: {error}"))
        })
        .collect()
}

const BASE: &[&str] = &["Opc.Ua.NodeSet2.xml", "Opc.Ua.Di.NodeSet2.xml"];

/// Imports `model` (all models when empty) from `files`, prints the counts and
/// returns the interfaces; `None` when the package is not installed.
fn check(files: &[&str], model: &str, minimum_interfaces: usize) -> Option<Vec<Value>> {
    let dir = folder()?;
    let sets = load(&dir, files);
    let started = Instant::now();
    let models: Vec<&str> = if model.is_empty() {
        vec![]
    } else {
        vec![model]
    };
    let result = import(&sets, &models).unwrap_or_else(|error| panic!("{model}: {error}"));
    let elapsed_ms = started.elapsed().as_millis();
    let stats = &result.stats;
    eprintln!(
        "{model}: {} interfaces ({} of them for declarations that add members to their type); {} properties, {} telemetry, {} components, \
         {} relationships, {} commands, {} enums, {} objects, {} units; {} refinements skipped; {elapsed_ms} ms including validation",
        result.interfaces.len(),
        stats.declaration_interfaces,
        stats.properties,
        stats.telemetry,
        stats.components,
        stats.relationships,
        stats.commands,
        stats.enums,
        stats.objects,
        stats.units,
        stats.refinements_skipped
    );
    assert!(
        result.interfaces.len() >= minimum_interfaces,
        "{model}: {} interfaces, fewer than the {minimum_interfaces} reached before",
        result.interfaces.len()
    );
    Some(result.interfaces)
}

/// The generated interface whose `@id` starts with `prefix`.
fn interface<'a>(interfaces: &'a [Value], prefix: &str) -> &'a Value {
    interfaces
        .iter()
        .find(|interface| {
            interface["@id"]
                .as_str()
                .is_some_and(|id| id.starts_with(prefix))
        })
        .unwrap_or_else(|| panic!("no interface {prefix}"))
}

fn content_names(interface: &Value) -> Vec<(&str, &str)> {
    interface["contents"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|content| {
            let kind = match &content["@type"] {
                Value::Array(types) => types[0].as_str().unwrap_or_default(),
                other => other.as_str().unwrap_or_default(),
            };
            (kind, content["name"].as_str().unwrap_or_default())
        })
        .collect()
}

#[test]
fn machine_tool_with_dependencies() {
    let mut files = BASE.to_vec();
    files.extend([
        "Opc.Ua.Machinery.NodeSet2.xml",
        "Opc.Ua.IA.NodeSet2.xml",
        "opc.ua.isa95-jobcontrol.nodeset2.xml",
        "Opc.Ua.Machinery.Jobs.Nodeset2.xml",
        "Opc.Ua.MachineTool.NodeSet2.xml",
    ]);
    let Some(interfaces) = check(&files, "http://opcfoundation.org/UA/MachineTool/", 102) else {
        return;
    };
    let machine_tool = interface(
        &interfaces,
        "dtmi:opcfoundation:org:UA:MachineTool:MachineToolType;1.2",
    );
    assert_eq!(
        machine_tool["extends"][0]
            .as_str()
            .map(|id| id.starts_with("dtmi:opcfoundation:org:UA:BaseObjectType;")),
        Some(true)
    );
    let names = content_names(machine_tool);
    for expected in [
        "Equipment",
        "Identification",
        "Monitoring",
        "Production",
        "Notification",
    ] {
        assert!(
            names.iter().any(|(_, name)| *name == expected),
            "MachineToolType lacks {expected}: {names:?}"
        );
    }
}

#[test]
fn robotics_with_dependencies() {
    let mut files = BASE.to_vec();
    files.extend(["Opc.Ua.IA.NodeSet2.xml", "Opc.Ua.Robotics.NodeSet2.xml"]);
    check(&files, "http://opcfoundation.org/UA/Robotics/", 1);
}

#[test]
fn machinery_and_packml() {
    let mut files = BASE.to_vec();
    files.extend([
        "Opc.Ua.IA.NodeSet2.xml",
        "Opc.Ua.Machinery.NodeSet2.xml",
        "Opc.Ua.PackML.NodeSet2.xml",
    ]);
    check(&files, "http://opcfoundation.org/UA/Machinery/", 1);
    check(&files, "http://opcfoundation.org/UA/PackML/", 1);
}

/// Every object type of the base model and DI, including the deep alarm
/// hierarchy whose extends chain DTDL's depth limit cuts.
#[test]
fn every_base_and_di_object_type() {
    check(BASE, "", 1);
}

/// Every NodeSet2 file of the package, each imported with the dependencies
/// [`dependencies`] picks from the whole folder: parses, imports and validates.
/// Prints the count and the failures; fails when fewer pass than before.
#[test]
fn every_companion_specification() {
    let Some(dir) = folder() else {
        return;
    };
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("reading the NodeSet folder")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| {
            name.to_ascii_lowercase().ends_with(".xml")
                && name.to_ascii_lowercase().contains("nodeset")
        })
        .collect();
    names.sort();
    let mut sets = Vec::new();
    let mut failures = Vec::new();
    let started = Instant::now();
    for name in &names {
        let text = std::fs::read_to_string(dir.join(name)).expect("reading a NodeSet");
        match parse_nodeset(&text) {
            Ok(set) => sets.push((name.clone(), set)),
            Err(error) => failures.push(format!("{name}: parse: {error}")),
        }
    }
    let parse_ms = started.elapsed().as_millis();
    let all: Vec<NodeSet> = sets.iter().map(|(_, set)| set.clone()).collect();
    let mut passes = 0;
    let mut interfaces = 0;
    for (index, (name, set)) in sets.iter().enumerate() {
        let Some(model) = set.models.first() else {
            failures.push(format!("{name}: defines no model"));
            continue;
        };
        // A file that repeats a model another file defines first is imported with
        // itself in that file's place.
        let chosen = match dependencies(&all, &model.uri) {
            Ok(chosen) => chosen,
            Err(error) => {
                failures.push(format!("{name}: {error}"));
                continue;
            }
        };
        let mut group: Vec<NodeSet> = vec![set.clone()];
        group.extend(
            chosen
                .iter()
                .skip(1)
                .filter(|position| **position != index)
                .map(|position| all[*position].clone()),
        );
        match import(&group, &[model.uri.as_str()]) {
            Ok(result) => {
                passes += 1;
                interfaces += result.interfaces.len();
            }
            Err(error) => failures.push(format!(
                "{name}: {}",
                error.to_string().chars().take(300).collect::<String>()
            )),
        }
    }
    eprintln!(
        "companion specifications: {passes}/{} import and validate ({interfaces} interfaces; parsing all took {parse_ms} ms, {} ms in total)",
        names.len(),
        started.elapsed().as_millis()
    );
    for failure in &failures {
        eprintln!("  FAILED {failure}");
    }
    assert!(
        passes >= PASSES_REACHED,
        "{passes} passed, fewer than the {PASSES_REACHED} reached before"
    );
}

/// Files of node-opcua-nodesets 2.185.0 that import, as reached; raise it when
/// more pass.
const PASSES_REACHED: usize = 35;

#[test]
#[ignore = "prints one generated interface for a reader; not a check"]
fn dump_machine_tool_type() {
    let Some(dir) = folder() else { return };
    let mut files = BASE.to_vec();
    files.extend([
        "Opc.Ua.Machinery.NodeSet2.xml",
        "Opc.Ua.IA.NodeSet2.xml",
        "opc.ua.isa95-jobcontrol.nodeset2.xml",
        "Opc.Ua.Machinery.Jobs.Nodeset2.xml",
        "Opc.Ua.MachineTool.NodeSet2.xml",
    ]);
    let sets = load(&dir, &files);
    let result = import(&sets, &["http://opcfoundation.org/UA/MachineTool/"]).expect("imports");
    for prefix in std::env::var("DUMP").unwrap_or_default().split(',') {
        eprintln!(
            "{}",
            serde_json::to_string_pretty(interface(&result.interfaces, prefix)).unwrap_or_default()
        );
    }
}
