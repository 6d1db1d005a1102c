//! The road mesh: lane strips cover exactly the lanes' area, markings sit on the
//! lane borders, the GLB container is well formed, and (when npm
//! `gltf-validator` is installed, see `tests/gltf/setup.sh`) Khronos' validator
//! reports no errors for the test network and esmini networks.

use std::path::PathBuf;
use std::process::Command;

use road::{MeshOptions, Network, RoadMesh, Surface};
use serde_json::Value;

fn network(text: &str) -> Network {
    Network::parse(text).expect("parses")
}

fn area(mesh: &RoadMesh, surface: Surface) -> f64 {
    let Some(part) = mesh.parts.iter().find(|part| part.surface == surface) else {
        return 0.0;
    };
    part.indices
        .chunks(3)
        .map(|triangle| {
            let [a, b, c] =
                [0, 1, 2].map(|corner| part.positions[triangle[corner] as usize].map(f64::from));
            let u = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
            let v = [c[0] - a[0], c[1] - a[1], c[2] - a[2]];
            let n = [
                u[1] * v[2] - u[2] * v[1],
                u[2] * v[0] - u[0] * v[2],
                u[0] * v[1] - u[1] * v[0],
            ];
            0.5 * (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt()
        })
        .sum()
}

#[test]
fn lane_strips_cover_the_lane_area() {
    let network = network(include_str!("data/junction_chain.xodr"));
    let mesh = network.mesh(&MeshOptions {
        step_m: 0.5,
        ..MeshOptions::default()
    });
    assert!(!mesh.truncated);
    // Driving area: straight roads w·L; on the arc (κ = 0.025) a lane whose
    // centre is at t has area w·L·(1 − κ·t).
    let k = 0.025;
    let arc_tail = 62.831_853_071_795_86 - 30.0;
    let expected = 2.0 * 3.5 * 100.0
        + 2.0 * 3.5 * 20.0
        + 2.0 * 3.5 * 30.0
        + arc_tail * (3.5 * (1.0 - k * 1.75) + 3.0 * (1.0 + k * 1.5) + 3.5 * (1.0 + k * 4.75))
        + 2.0 * 3.5 * 50.0;
    let driving = area(&mesh, Surface::Driving);
    assert!(
        (driving - expected).abs() < 1e-3 * expected,
        "driving area {driving} vs {expected}"
    );
    // The sidewalk widens from 2 m to 3 m over 100 m: 250 m².
    let sidewalk = area(&mesh, Surface::Sidewalk);
    assert!((sidewalk - 250.0).abs() < 0.1, "sidewalk area {sidewalk}");
    // Road 1's solid line on lane −1 (0.12 m × 100 m) and its broken centre line
    // (3 m dashes every 9 m: 12 dashes, the last cut at 100 m → 34 m × 0.12).
    let white = area(&mesh, Surface::MarkingWhite);
    assert!(
        (white - (12.0 + 34.0 * 0.12)).abs() < 0.01,
        "white marking area {white}"
    );
    for part in &mesh.parts {
        assert_eq!(part.positions.len(), part.normals.len());
        assert!(
            part.indices
                .iter()
                .all(|&index| (index as usize) < part.positions.len())
        );
        // Every face points up.
        assert!(
            part.normals.iter().all(|normal| normal[1] > 0.9),
            "{:?}",
            part.surface
        );
    }
}

#[test]
fn glb_container_is_well_formed() {
    let mesh = network(include_str!("data/junction_chain.xodr")).mesh(&MeshOptions::default());
    let glb = mesh.to_glb();
    assert_eq!(&glb[0..4], b"glTF");
    assert_eq!(u32::from_le_bytes([glb[4], glb[5], glb[6], glb[7]]), 2);
    assert_eq!(
        u32::from_le_bytes([glb[8], glb[9], glb[10], glb[11]]) as usize,
        glb.len()
    );
    let json_length = u32::from_le_bytes([glb[12], glb[13], glb[14], glb[15]]) as usize;
    assert_eq!(&glb[16..20], b"JSON");
    assert_eq!(json_length % 4, 0);
    let document: Value = serde_json::from_slice(&glb[20..20 + json_length]).expect("JSON chunk");
    let binary_start = 20 + json_length;
    let binary_length = u32::from_le_bytes(
        glb[binary_start..binary_start + 4]
            .try_into()
            .expect("4 bytes"),
    ) as usize;
    assert_eq!(&glb[binary_start + 4..binary_start + 8], b"BIN\0");
    assert_eq!(
        document["buffers"][0]["byteLength"].as_u64(),
        Some(binary_length as u64)
    );
    assert_eq!(
        document["meshes"][0]["primitives"].as_array().map(Vec::len),
        Some(mesh.parts.len())
    );
}

#[test]
fn vertex_limit_truncates_instead_of_growing() {
    let network = network(include_str!("data/junction_chain.xodr"));
    let mesh = network.mesh(&MeshOptions {
        max_vertices: 100,
        ..MeshOptions::default()
    });
    assert!(mesh.truncated);
    assert!(
        mesh.parts
            .iter()
            .map(|part| part.positions.len())
            .sum::<usize>()
            <= 100
    );
}

fn validator_dir() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::var_os("ROAD_GLTF_DIR") {
        candidates.push(PathBuf::from(dir));
    }
    if let Some(tmp) = std::env::var_os("TMPDIR") {
        candidates.push(PathBuf::from(tmp).join("road-gltf"));
    }
    candidates.push(PathBuf::from("/tmp/road-gltf"));
    candidates.into_iter().find(|dir| {
        dir.join("node_modules/gltf-validator/package.json")
            .is_file()
    })
}

#[test]
fn khronos_validator_reports_no_errors() {
    let Some(dir) = validator_dir() else {
        eprintln!(
            "gltf-validator not found: run crates/road/tests/gltf/setup.sh or set ROAD_GLTF_DIR; skipping"
        );
        return;
    };
    let mut inputs = vec![(
        "junction_chain".to_owned(),
        include_str!("data/junction_chain.xodr").to_owned(),
    )];
    let corpora = std::env::var_os("TWINSPACE_CORPORA").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora"),
        PathBuf::from,
    );
    for name in [
        "fabriksgatan.xodr",
        "straight_500m_roadmarks.xodr",
        "curves_elevation.xodr",
    ] {
        if let Ok(text) = std::fs::read_to_string(corpora.join("esmini/resources/xodr").join(name))
        {
            inputs.push((name.to_owned(), text));
        }
    }
    let out_dir = std::env::temp_dir().join(format!("road-mesh-test-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).expect("temp dir");
    let mut files = Vec::new();
    for (name, text) in &inputs {
        let glb = network(text).mesh(&MeshOptions::default()).to_glb();
        let path = out_dir.join(format!("{name}.glb"));
        std::fs::write(&path, glb).expect("write GLB");
        files.push(path);
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/gltf/validate.mjs");
    let output = Command::new("node")
        .arg(script)
        .args(&files)
        .env("ROAD_GLTF_DIR", &dir)
        .output();
    let _ = std::fs::remove_dir_all(&out_dir);
    let output = match output {
        Ok(output) => output,
        Err(error) => {
            eprintln!("node could not be started ({error}); skipping");
            return;
        }
    };
    assert!(
        output.status.success(),
        "validator failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let reports: Vec<Value> = stdout
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    assert_eq!(reports.len(), files.len(), "one report per file: {stdout}");
    for report in &reports {
        eprintln!(
            "gltf-validator {}: {} errors, {} warnings",
            report["file"], report["errors"], report["warnings"]
        );
        assert_eq!(report["errors"].as_u64(), Some(0), "{report}");
    }
}
