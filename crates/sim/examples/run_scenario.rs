//! Runs one scenario file and prints the report as JSON (and, with `--record`,
//! the trajectory CSV to stdout instead):
//! `cargo run -p sim --example run_scenario -- FILE.xosc [STEP_S] [MAX_TIME_S] [--record] [--log]`.
//! Catalogs and roads are read relative to the scenario's folder.

use std::path::{Path, PathBuf};

struct Folder(PathBuf);

impl sim::Resolver for Folder {
    fn read(&self, path: &str) -> Result<String, String> {
        std::fs::read_to_string(self.0.join(path))
            .map_err(|e| format!("{}: {e}", self.0.join(path).display()))
    }
    fn list(&self, directory: &str) -> Result<Vec<String>, String> {
        let dir = self.0.join(directory);
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let file = args
        .first()
        .ok_or("usage: run_scenario FILE.xosc [STEP_S] [MAX_TIME_S] [--record] [--log]")?;
    let numbers: Vec<f64> = args.iter().skip(1).filter_map(|a| a.parse().ok()).collect();
    let step = numbers.first().copied().unwrap_or(0.01);
    let max_time = numbers.get(1).copied().unwrap_or(120.0);
    let resolver = Folder(
        Path::new(file)
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf(),
    );
    let text = std::fs::read_to_string(file)?;
    let scenario = sim::Scenario::parse(&text, file, &resolver)?;
    let network = sim::load_network(&scenario, &resolver)?;
    let mut runner = sim::Runner::new(scenario, network, step)?;
    let record = args.iter().any(|a| a == "--record");
    runner.set_recording(record);
    let report = runner.run_to_end(max_time)?;
    if record {
        print!("{}", sim::record_csv(runner.record().unwrap_or_default()));
    } else if args.iter().any(|a| a == "--log") {
        for entry in &report.log {
            println!("{:8.3} {:?}", entry.time, entry.kind);
        }
    } else {
        println!("{}", sim::report_json(std::slice::from_ref(&report)));
    }
    Ok(())
}
